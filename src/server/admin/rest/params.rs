//! Query-string parameters of the admin API: every parameter is known by name, parsed strictly,
//! and a problem is reported as a 400 naming it.

use super::ApiError;
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// A request's query parameters, checked against the names an endpoint accepts.
pub struct Params(HashMap<String, String>);

impl Params {
    /// The pairs of a query string; unknown names and repeated names are errors.
    pub fn new(pairs: Vec<(String, String)>, known: &[&str]) -> Result<Self, ApiError> {
        let mut params = HashMap::new();
        for (name, value) in pairs {
            if !known.contains(&name.as_str()) {
                return Err(ApiError::bad_parameter(
                    &name,
                    format!("unknown parameter (expected one of: {})", known.join(", ")),
                ));
            }
            if params.insert(name.clone(), value).is_some() {
                return Err(ApiError::bad_parameter(&name, "given more than once"));
            }
        }
        Ok(Self(params))
    }

    /// The raw value, if given and not empty.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// An owned value, if given and not empty.
    pub fn string(&self, name: &str) -> Option<String> {
        self.text(name).map(str::to_string)
    }

    /// A whole number in `min..=max`, if given.
    pub fn number(&self, name: &str, min: u64, max: u64) -> Result<Option<u64>, ApiError> {
        let Some(text) = self.text(name) else {
            return Ok(None);
        };
        match text.parse::<u64>() {
            Ok(value) if (min..=max).contains(&value) => Ok(Some(value)),
            _ => Err(ApiError::bad_parameter(
                name,
                format!("expected a whole number from {min} to {max}, got {text:?}"),
            )),
        }
    }

    /// A time: RFC 3339 (`2026-11-25T10:00:00Z`) or Unix seconds, if given.
    pub fn time(&self, name: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
        let Some(text) = self.text(name) else {
            return Ok(None);
        };
        if let Ok(time) = DateTime::parse_from_rfc3339(text) {
            return Ok(Some(time.with_timezone(&Utc)));
        }
        text.parse::<i64>()
            .ok()
            .and_then(|secs| DateTime::from_timestamp(secs, 0))
            .map(Some)
            .ok_or_else(|| {
                ApiError::bad_parameter(
                    name,
                    format!("expected an RFC 3339 time or Unix seconds, got {text:?}"),
                )
            })
    }

    /// One of `choices`, if given.
    pub fn choice<'a>(&self, name: &str, choices: &[&'a str]) -> Result<Option<&'a str>, ApiError> {
        let Some(text) = self.text(name) else {
            return Ok(None);
        };
        choices
            .iter()
            .find(|choice| **choice == text)
            .map(|choice| Some(*choice))
            .ok_or_else(|| {
                ApiError::bad_parameter(
                    name,
                    format!("expected one of {}, got {text:?}", choices.join(", ")),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)], known: &[&str]) -> Result<Params, ApiError> {
        Params::new(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            known,
        )
    }

    #[test]
    fn unknown_and_repeated_parameters_are_named() {
        let error = params(&[("limt", "5")], &["limit"]).err().unwrap();
        assert_eq!(error.parameter.as_deref(), Some("limt"));
        assert!(error.message.contains("unknown parameter"));
        let error = params(&[("limit", "5"), ("limit", "6")], &["limit"])
            .err()
            .unwrap();
        assert_eq!(error.parameter.as_deref(), Some("limit"));
    }

    #[test]
    fn values_are_parsed_strictly() {
        let p = params(
            &[
                ("limit", "0"),
                ("since", "yesterday"),
                ("until", "1764000000"),
                ("format", "xml"),
            ],
            &["limit", "since", "until", "format"],
        )
        .unwrap();
        assert_eq!(
            p.number("limit", 1, 10).err().unwrap().parameter.as_deref(),
            Some("limit")
        );
        assert_eq!(
            p.time("since").err().unwrap().parameter.as_deref(),
            Some("since")
        );
        assert_eq!(p.time("until").unwrap().unwrap().timestamp(), 1_764_000_000);
        assert!(p.choice("format", &["csv", "json"]).is_err());
        assert_eq!(p.number("missing", 1, 10).unwrap(), None);
    }
}
