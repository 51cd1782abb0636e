//! Numbers with units, the way the dashboard shows them.

use chrono::{DateTime, Datelike, Timelike, Utc};

/// A latency in microseconds: `840 µs`, `12.3 ms`, `1.25 s`.
pub fn latency(us: u64) -> String {
    match us {
        0..1_000 => format!("{us} µs"),
        1_000..100_000 => format!("{:.1} ms", us as f64 / 1_000.0),
        100_000..1_000_000 => format!("{:.0} ms", us as f64 / 1_000.0),
        _ => format!("{:.2} s", us as f64 / 1_000_000.0),
    }
}

/// A byte count: `512 B`, `1.5 KiB`, `20.0 MiB`, `3.10 GiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    let digits = if value < 10.0 { 2 } else { 1 };
    format!("{value:.digits$} {}", UNITS[unit])
}

/// A count with thousands separated: `1 234 567`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{202f}');
        }
        out.push(c);
    }
    out
}

/// A rate per second: `0.25/s`, `12.4/s`, `1 234/s`.
pub fn rate(per_sec: f64) -> String {
    if per_sec < 10.0 {
        format!("{per_sec:.2}/s")
    } else if per_sec < 100.0 {
        format!("{per_sec:.1}/s")
    } else {
        format!("{}/s", count(per_sec.round() as u64))
    }
}

/// A share (0–1) as a percentage: `0%`, `0.35%`, `12.5%`.
pub fn percent(share: f64) -> String {
    let p = share * 100.0;
    if p == 0.0 {
        "0%".to_string()
    } else if p < 1.0 {
        format!("{p:.2}%")
    } else {
        format!("{p:.1}%")
    }
}

// Dates are written with plain `format!` rather than chrono's strftime-style `format`, whose
// pattern parser would otherwise be compiled into the WASM client.

/// A time of day in UTC with seconds: `14:03:27`.
pub fn clock(at: DateTime<Utc>) -> String {
    format!("{:02}:{:02}:{:02}", at.hour(), at.minute(), at.second())
}

/// A time of day in UTC with milliseconds: `14:03:27.042 UTC`.
pub fn clock_millis(at: DateTime<Utc>) -> String {
    format!(
        "{}.{:03} UTC",
        clock(at),
        at.timestamp_subsec_millis().min(999)
    )
}

/// A date and time in UTC: `2026-11-25 14:03:27 UTC`.
pub fn date_time(at: DateTime<Utc>) -> String {
    format!("{} {} UTC", date(at), clock(at))
}

/// A date and time in UTC with milliseconds: `2026-11-25 14:03:27.042 UTC`.
pub fn date_time_millis(at: DateTime<Utc>) -> String {
    format!("{} {}", date(at), clock_millis(at))
}

fn date(at: DateTime<Utc>) -> String {
    format!("{:04}-{:02}-{:02}", at.year(), at.month(), at.day())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_are_readable() {
        assert_eq!(latency(840), "840 µs");
        assert_eq!(latency(12_345), "12.3 ms");
        assert_eq!(latency(250_000), "250 ms");
        assert_eq!(latency(1_250_000), "1.25 s");
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.50 KiB");
        assert_eq!(bytes(20 * 1024 * 1024), "20.0 MiB");
        assert_eq!(count(1_234_567), "1\u{202f}234\u{202f}567");
        assert_eq!(count(999), "999");
        assert_eq!(rate(0.25), "0.25/s");
        assert_eq!(rate(1234.4), "1\u{202f}234/s");
        assert_eq!(percent(0.0), "0%");
        assert_eq!(percent(0.0035), "0.35%");
        assert_eq!(percent(0.125), "12.5%");
    }

    #[test]
    fn dates_are_utc_and_zero_padded() {
        let at = DateTime::parse_from_rfc3339("2026-03-04T05:06:07.042+01:00")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(clock(at), "04:06:07");
        assert_eq!(clock_millis(at), "04:06:07.042 UTC");
        assert_eq!(date_time(at), "2026-03-04 04:06:07 UTC");
        assert_eq!(date_time_millis(at), "2026-03-04 04:06:07.042 UTC");
        // The same as chrono's own formatting.
        assert_eq!(
            date_time(at),
            at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
        );
    }
}
