//! `routes[].compression`: which encodings the proxy may compress a route's responses with, and
//! from what size, as written and validated.

use super::FieldErrors;
use schemars::JsonSchema;
use serde::Deserialize;

/// Default smallest response compressed, in bytes.
pub const DEFAULT_MIN_BYTES: u64 = 1024;

/// `compression` as written.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(inline)]
pub struct FileCompression {
    /// Encodings offered, in the gateway's order of preference (the client's q-values decide
    /// first): "zstd", "br", "gzip". Default all three, in that order.
    #[schemars(
        with = "Option<Vec<Encoding>>",
        length(min = 1),
        extend("uniqueItems" = true, "default" = ["zstd", "br", "gzip"])
    )]
    pub algorithms: Option<Vec<String>>,
    /// Smallest response compressed, in bytes (by its Content-Length when the upstream sends
    /// one; a response of unknown length is compressed). Default 1024.
    #[schemars(extend("default" = DEFAULT_MIN_BYTES))]
    pub min_bytes: Option<u64>,
}

/// A content coding the proxy can produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[schemars(inline)]
pub enum Encoding {
    #[serde(rename = "zstd")]
    Zstd,
    #[serde(rename = "br")]
    Brotli,
    #[serde(rename = "gzip")]
    Gzip,
}

impl Encoding {
    /// Every encoding, in the default order of preference.
    pub const ALL: [Self; 3] = [Self::Zstd, Self::Brotli, Self::Gzip];

    /// The token in `Accept-Encoding` / `Content-Encoding` and in `config.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Zstd => "zstd",
            Self::Brotli => "br",
            Self::Gzip => "gzip",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|encoding| encoding.as_str() == name)
    }
}

/// A route's response compression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompressionConfig {
    /// Offered encodings, most preferred first (never empty).
    pub algorithms: Vec<Encoding>,
    /// Responses whose Content-Length is below this are sent as they are.
    pub min_bytes: u64,
}

/// Validates `compression` at `at`.
pub fn validate_compression(
    file: FileCompression,
    at: &str,
    errors: &mut FieldErrors,
) -> CompressionConfig {
    let algorithms = match file.algorithms {
        None => Encoding::ALL.to_vec(),
        Some(names) => {
            if names.is_empty() {
                errors.push(
                    format!("{at}.algorithms"),
                    "must list at least one of \"zstd\", \"br\", \"gzip\" (or leave out \
                     compression)",
                );
            }
            let mut algorithms = Vec::with_capacity(names.len());
            for (i, name) in names.iter().enumerate() {
                match Encoding::parse(name) {
                    Some(encoding) if algorithms.contains(&encoding) => errors.push(
                        format!("{at}.algorithms[{i}]"),
                        format!("{name:?} is listed twice"),
                    ),
                    Some(encoding) => algorithms.push(encoding),
                    None => errors.push(
                        format!("{at}.algorithms[{i}]"),
                        format!(
                            "unknown compression algorithm {name:?}, expected \"zstd\", \"br\" \
                             or \"gzip\""
                        ),
                    ),
                }
            }
            algorithms
        }
    };
    CompressionConfig {
        algorithms,
        min_bytes: file.min_bytes.unwrap_or(DEFAULT_MIN_BYTES),
    }
}
