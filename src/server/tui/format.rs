//! Figures as the terminal dashboard prints them: short and with their unit (tables keep them
//! whole: [`screens::table`](super::screens::table)).

/// A count: `987`, `12345`, `1.23M`, `4.56G` (exact below ten million).
pub fn count(value: u64) -> String {
    match value {
        0..10_000_000 => value.to_string(),
        10_000_000..10_000_000_000 => format!("{:.2}M", value as f64 / 1e6),
        _ => format!("{:.2}G", value as f64 / 1e9),
    }
}

/// A rate per second: `0`, `0.25`, `12.5`, `1234`.
pub fn rate(value: f64) -> String {
    if !value.is_finite() || value <= 0.0 {
        "0".to_string()
    } else if value < 10.0 {
        format!("{value:.2}")
    } else if value < 100.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.0}")
    }
}

/// A share (0–1) as a percentage: `0%`, `0.12%`, `5.0%`, `100%`.
pub fn percent(share: f64) -> String {
    let value = share * 100.0;
    if !value.is_finite() || value <= 0.0 {
        "0%".to_string()
    } else if value < 1.0 {
        format!("{value:.2}%")
    } else if value < 100.0 {
        format!("{value:.1}%")
    } else {
        "100%".to_string()
    }
}

/// A latency in microseconds: `850µs`, `1.25ms`, `12.3ms`, `1.25s`, `-` for none.
pub fn latency(us: u64) -> String {
    match us {
        0 => "-".to_string(),
        1..1_000 => format!("{us}µs"),
        1_000..10_000 => format!("{:.2}ms", us as f64 / 1e3),
        10_000..1_000_000 => format!("{:.1}ms", us as f64 / 1e3),
        _ => format!("{:.2}s", us as f64 / 1e6),
    }
}

/// Bytes: `512B`, `1.5KiB`, `12.0MiB`, `1.50GiB`.
pub fn bytes(value: u64) -> String {
    const KIB: f64 = 1024.0;
    let v = value as f64;
    if v < KIB {
        format!("{value}B")
    } else if v < KIB * KIB {
        format!("{:.1}KiB", v / KIB)
    } else if v < KIB * KIB * KIB {
        format!("{:.1}MiB", v / (KIB * KIB))
    } else {
        format!("{:.2}GiB", v / (KIB * KIB * KIB))
    }
}

/// A duration in whole seconds: `42s`, `3m07s`, `2h05m`, `3d04h`.
pub fn duration(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3_600 => format!("{}m{:02}s", secs / 60, secs % 60),
        3_600..86_400 => format!("{}h{:02}m", secs / 3_600, secs % 3_600 / 60),
        _ => format!("{}d{:02}h", secs / 86_400, secs % 86_400 / 3_600),
    }
}

/// How long ago `at` was, from `now`: `3s ago`, `-` for never.
pub fn ago(
    at: Option<chrono::DateTime<chrono::Utc>>,
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    match at {
        None => "-".to_string(),
        Some(at) => {
            let secs = (now - at).num_seconds().max(0) as u64;
            format!("{} ago", duration(secs))
        }
    }
}

/// Cuts `text` to `width` columns, ending in `…` when cut (for names, never for figures).
pub fn clip(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut clipped: String = text.chars().take(width - 1).collect();
    clipped.push('…');
    clipped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_are_short_and_keep_their_unit() {
        assert_eq!(count(987), "987");
        assert_eq!(count(12_345), "12345");
        assert_eq!(count(12_345_678), "12.35M");
        assert_eq!(rate(0.0), "0");
        assert_eq!(rate(0.25), "0.25");
        assert_eq!(rate(12.54), "12.5");
        assert_eq!(rate(1234.4), "1234");
        assert_eq!(percent(0.0), "0%");
        assert_eq!(percent(0.0012), "0.12%");
        assert_eq!(percent(0.05), "5.0%");
        assert_eq!(percent(1.0), "100%");
        assert_eq!(latency(0), "-");
        assert_eq!(latency(850), "850µs");
        assert_eq!(latency(1_250), "1.25ms");
        assert_eq!(latency(12_345), "12.3ms");
        assert_eq!(latency(1_250_000), "1.25s");
        assert_eq!(bytes(512), "512B");
        assert_eq!(bytes(1536), "1.5KiB");
        assert_eq!(duration(42), "42s");
        assert_eq!(duration(187), "3m07s");
        assert_eq!(duration(7_500), "2h05m");
        assert_eq!(duration(273_600), "3d04h");
        assert_eq!(clip("checkout", 5), "chec…");
        assert_eq!(clip("api", 5), "api");
    }
}
