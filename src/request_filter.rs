//! A filter over recorded requests (`/api/requests`), applied the same way to the in-memory ring
//! of recent requests, to the history database, and in the browser to live requests.

use crate::views::RequestRecord;
use chrono::{DateTime, Utc};

/// Most rows one query returns.
pub const MAX_LIMIT: usize = 1_000;
/// Rows returned when no limit is given.
pub const DEFAULT_LIMIT: usize = 100;

/// Which status codes to keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusFilter {
    /// Exactly this code.
    Code(u16),
    /// A class: `Class(5)` is 500–599.
    Class(u16),
}

impl StatusFilter {
    /// `"503"` → exact code, `"5xx"` → class; `None` for anything else.
    pub fn parse(value: &str) -> Option<Self> {
        let value = value.trim();
        if let Some(class) = value
            .strip_suffix("xx")
            .or_else(|| value.strip_suffix("XX"))
        {
            return match class.parse::<u16>() {
                Ok(class @ 1..=5) => Some(Self::Class(class)),
                _ => None,
            };
        }
        match value.parse::<u16>() {
            Ok(code @ 100..=599) => Some(Self::Code(code)),
            _ => None,
        }
    }

    /// Whether `status` passes.
    pub fn matches(self, status: u16) -> bool {
        match self {
            Self::Code(code) => status == code,
            Self::Class(class) => status / 100 == class,
        }
    }

    /// The inclusive range of codes that pass.
    pub fn range(self) -> (u16, u16) {
        match self {
            Self::Code(code) => (code, code),
            Self::Class(class) => (class * 100, class * 100 + 99),
        }
    }
}

/// Which requests to return, newest first. Every field narrows the result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestQuery {
    /// At most this many rows (1 ..= [`MAX_LIMIT`]).
    pub limit: usize,
    /// Paging cursor: only requests with `seq` below this (the `seq` of the last row of the
    /// previous page).
    pub before: Option<u64>,
    /// Arrived at or after.
    pub since: Option<DateTime<Utc>>,
    /// Arrived before.
    pub until: Option<DateTime<Utc>>,
    pub status: Option<StatusFilter>,
    /// Exact method (upper case).
    pub method: Option<String>,
    /// Exact route name.
    pub route: Option<String>,
    /// Exact target URL.
    pub target: Option<String>,
    /// Exact client IP.
    pub client: Option<String>,
    /// Substring of the path (case-sensitive).
    pub path: Option<String>,
    /// Exact model name.
    pub model: Option<String>,
}

impl Default for RequestQuery {
    fn default() -> Self {
        Self {
            limit: DEFAULT_LIMIT,
            before: None,
            since: None,
            until: None,
            status: None,
            method: None,
            route: None,
            target: None,
            client: None,
            path: None,
            model: None,
        }
    }
}

impl RequestQuery {
    /// Whether `record` passes every filter (the limit aside).
    pub fn matches(&self, record: &RequestRecord) -> bool {
        fn same(wanted: &Option<String>, actual: Option<&str>) -> bool {
            wanted.as_deref().is_none_or(|w| actual == Some(w))
        }
        self.matches_head(record.seq, record.at, record.status)
            && same(&self.method, Some(&record.method))
            && same(&self.route, record.route.as_deref())
            && same(&self.target, record.target.as_deref())
            && same(&self.client, Some(&record.client))
            && self.path.as_deref().is_none_or(|p| record.path.contains(p))
            && same(&self.model, record.llm.as_ref().map(|l| l.model.as_str()))
    }
}

impl RequestQuery {
    /// The filters on a request's `seq`, time and status: the part of [`Self::matches`] that
    /// needs none of its text (the history checks it before copying a stored record's strings).
    pub fn matches_head(&self, seq: u64, at: DateTime<Utc>, status: u16) -> bool {
        self.before.is_none_or(|before| seq < before)
            && self.since.is_none_or(|since| at >= since)
            && self.until.is_none_or(|until| at < until)
            && self.status.is_none_or(|s| s.matches(status))
    }

    /// The filters named in a page's query string, read leniently: a value that does not parse
    /// is ignored here (the server reports it). Used by the dashboard to pick live requests.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let time = |value: &str| {
            DateTime::parse_from_rfc3339(value)
                .map(|t| t.with_timezone(&Utc))
                .ok()
                .or_else(|| DateTime::from_timestamp(value.parse().ok()?, 0))
        };
        let mut query = Self::default();
        for (name, value) in pairs {
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            let text = Some(value.to_string());
            match name {
                "since" => query.since = time(value),
                "until" => query.until = time(value),
                "status" => query.status = StatusFilter::parse(value),
                "method" => query.method = Some(value.to_ascii_uppercase()),
                "route" => query.route = text,
                "target" => query.target = text,
                "client" => query.client = text,
                "path" => query.path = text,
                "model" => query.model = text,
                "cursor" => query.before = value.parse().ok(),
                _ => {}
            }
        }
        query
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_filters_parse_codes_and_classes() {
        assert_eq!(StatusFilter::parse("503"), Some(StatusFilter::Code(503)));
        assert_eq!(StatusFilter::parse("5xx"), Some(StatusFilter::Class(5)));
        assert_eq!(StatusFilter::parse("2XX"), Some(StatusFilter::Class(2)));
        for bad in ["", "6xx", "0xx", "99", "600", "abc", "5x"] {
            assert_eq!(StatusFilter::parse(bad), None, "{bad:?}");
        }
        assert!(StatusFilter::Class(4).matches(404));
        assert!(!StatusFilter::Class(4).matches(500));
        assert_eq!(StatusFilter::Class(4).range(), (400, 499));
    }

    #[test]
    fn filters_from_a_query_string_ignore_what_does_not_parse() {
        let query = RequestQuery::from_pairs([
            ("status", "5xx"),
            ("method", "post"),
            ("route", "api"),
            ("since", "2026-11-25T10:00:00Z"),
            ("until", "nonsense"),
            ("path", ""),
            ("cursor", "42"),
        ]);
        assert_eq!(query.status, Some(StatusFilter::Class(5)));
        assert_eq!(query.method.as_deref(), Some("POST"));
        assert_eq!(query.route.as_deref(), Some("api"));
        assert_eq!(query.since, DateTime::from_timestamp(1_795_600_800, 0));
        assert_eq!(query.until, None);
        assert_eq!(query.path, None);
        assert_eq!(query.before, Some(42));
    }
}
