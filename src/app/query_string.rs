//! The page's query string: where filters and time ranges live, so every view is bookmarkable.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use leptos_router::params::ParamsMap;

/// The current query string without its `?` (reactive).
pub fn use_query_string() -> Memo<String> {
    let query = use_query_map();
    Memo::new(move |_| query.with(to_string))
}

/// One query parameter's value, if given and not empty (reactive).
pub fn use_query_value(name: &'static str) -> Memo<Option<String>> {
    let query = use_query_map();
    Memo::new(move |_| query.with(|q| q.get(name).filter(|v| !v.is_empty())))
}

/// `map` as a query string without its `?`.
pub fn to_string(map: &ParamsMap) -> String {
    map.to_query_string().trim_start_matches('?').to_string()
}

/// `path` with the current query, `changes` applied (`None` removes a parameter).
pub fn href(path: &str, current: &ParamsMap, changes: &[(&'static str, Option<String>)]) -> String {
    let mut map = current.clone();
    for (name, value) in changes {
        match value {
            Some(value) => map.replace(*name, value.clone()),
            None => {
                map.remove(name);
            }
        }
    }
    let query = to_string(&map);
    if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    }
}

/// Percent-encodes a value for a query string.
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_percent_encoded() {
        assert_eq!(encode("a b/c?d=1&e"), "a%20b%2Fc%3Fd%3D1%26e");
        assert_eq!(encode("2026-11-25T10:00:00Z"), "2026-11-25T10%3A00%3A00Z");
    }
}
