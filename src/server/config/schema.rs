//! `config.schema.json`: the JSON Schema of `config.json`, generated from the types the file is
//! read into ([`FileConfig`] and everything it holds), so editors are told exactly what the
//! gateway reads. `gatewatch schema` prints it; the checked-in file is its output.
//!
//! The field docs of the file types are the schema's descriptions. The few values the gateway
//! checks by hand for precise errors (targets, path patterns, header names and values, methods)
//! are described here by schema-only types that the file types name with
//! `#[schemars(with = …)]`.

use super::FileConfig;
use schemars::generate::SchemaSettings;
use schemars::transform::transform_subschemas;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde_json::{Map, Value};

/// Where the schema is published: its `$id`.
pub const SCHEMA_ID: &str = "https://gatewatch.dev/config.schema.json";

/// The JSON Schema (draft 2020-12) of `config.json`.
pub fn config_schema() -> Value {
    let mut schema = SchemaSettings::draft2020_12()
        .with_transform(unwrap_descriptions)
        .into_generator()
        .into_root_schema_for::<FileConfig>();
    let mut body = std::mem::take(schema.ensure_object());
    // What the document is comes first, then what it says.
    let mut root = Map::new();
    for key in ["$schema", "$id", "title", "description"] {
        let value = match key {
            "$id" => Some(Value::from(SCHEMA_ID)),
            _ => body.remove(key),
        };
        if let Some(value) = value {
            root.insert(key.to_string(), value);
        }
    }
    root.extend(body);
    Value::Object(root)
}

/// The schema as `gatewatch schema` prints it (and as `config.schema.json` holds it): pretty JSON
/// ending with a newline.
pub fn config_schema_text() -> String {
    format!("{:#}\n", config_schema())
}

/// Doc comments arrive with their source line breaks: rejoin each paragraph into one line, as an
/// editor shows descriptions as flowing text.
fn unwrap_descriptions(schema: &mut Schema) {
    if let Some(Value::String(description)) = schema.get_mut("description") {
        *description = description
            .split("\n\n")
            .map(|paragraph| paragraph.split('\n').collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
            .join("\n\n");
    }
    transform_subschemas(&mut unwrap_descriptions, schema);
}

/// An upstream of a route: a URL string (weight 1) or {"url": …, "weight": n}.
#[derive(JsonSchema)]
#[serde(untagged, deny_unknown_fields)]
#[schemars(rename = "target")]
#[allow(dead_code, reason = "only its schema is used")]
pub(super) enum Target {
    Url(TargetUrl),
    Weighted {
        url: TargetUrl,
        /// Relative share of requests under weighted_round_robin, 1 to 1000. Default 1.
        #[serde(default = "default_weight")]
        #[schemars(range(min = 1, max = 1000))]
        weight: u32,
    },
}

fn default_weight() -> u32 {
    1
}

/// What `parse_target_url` accepts: an `http` scheme (any case); a host (the characters the URI
/// parser allows in a name or an address, or a bracketed IPv6 address with an optional zone);
/// an optional port; an optional path; no credentials, query or fragment. The port must be
/// digits: stricter than the gateway, whose URI parser lets `http://h:8a` through.
const TARGET_URL_PATTERN: &str = concat!(
    r"^[Hh][Tt][Tt][Pp]://",
    r"(\[[0-9A-Fa-f:.]+(%25[-.0-9A-Z_a-z~]+)?\]|[-!$&'()*+,.0-9;=A-Z_a-z~]+)",
    r"(:[0-9]{0,5})?(/[^?#\s]*)?$"
);

/// Absolute http:// URL of an upstream: http://host[:port][/base]. Port 80 if left out; the base
/// path is prepended to forwarded paths. No query, fragment or credentials. https upstreams are
/// not supported yet.
#[derive(JsonSchema)]
#[schemars(
    rename = "targetUrl",
    extend("examples" = ["http://127.0.0.1:9001", "http://10.0.0.6:9000/v2"])
)]
#[allow(dead_code, reason = "only its schema is used")]
pub(super) struct TargetUrl(#[schemars(regex(pattern = TARGET_URL_PATTERN))] String);

/// "/exact" (this path only), "/prefix/*" (the prefix and everything below it, at segment
/// boundaries) or "*" (every path; "/*" is the same). No query or fragment; a wildcard may only
/// end the path as "/*".
#[derive(JsonSchema)]
#[schemars(
    rename = "pathPattern",
    extend("examples" = ["/api/*", "/health", "*"])
)]
#[allow(dead_code, reason = "only its schema is used")]
pub(super) struct PathPattern(
    #[schemars(regex(pattern = r"^(\*|/[^*?#]*|/([^*?#]*/)?\*)$"))] String,
);

/// The characters of an HTTP token (header names, methods).
const TOKEN_PATTERN: &str = r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$";

/// An HTTP header name (case-insensitive).
#[derive(JsonSchema)]
#[schemars(rename = "headerName")]
#[allow(dead_code, reason = "only its schema is used")]
pub(super) struct HeaderName(#[schemars(regex(pattern = TOKEN_PATTERN))] String);

/// A header value: no control characters except tab.
#[derive(JsonSchema)]
#[schemars(inline)]
#[allow(dead_code, reason = "only its schema is used")]
pub(super) struct HeaderValue(
    #[schemars(regex(pattern = r"^[^\u0000-\u0008\u000A-\u001F\u007F]*$"))] String,
);

/// An HTTP method (case-insensitive).
#[derive(JsonSchema)]
#[schemars(
    inline,
    extend("examples" = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
)]
#[allow(dead_code, reason = "only its schema is used")]
pub(super) struct HttpMethod(#[schemars(regex(pattern = TOKEN_PATTERN))] String);

/// `request_headers.set` / `response_headers.set`: header names to values.
pub(super) fn header_set(generator: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "propertyNames": generator.subschema_for::<HeaderName>(),
        "additionalProperties": generator.subschema_for::<HeaderValue>(),
    })
}
