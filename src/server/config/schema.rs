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

/// What `parse_target_url` accepts: an `http` or `https` scheme (any case); a host (the characters the URI
/// parser allows in a name or an address, or a bracketed IPv6 address with an optional zone);
/// an optional port; an optional path; no credentials, query or fragment. The port must be
/// digits: stricter than the gateway, whose URI parser lets `http://h:8a` through.
const TARGET_URL_PATTERN: &str = concat!(
    r"^[Hh][Tt][Tt][Pp][Ss]?://",
    r"(\[[0-9A-Fa-f:.]+(%25[-.0-9A-Z_a-z~]+)?\]|[-!$&'()*+,.0-9;=A-Z_a-z~]+)",
    r"(:[0-9]{0,5})?(/[^?#\s]*)?$"
);

/// Absolute http:// or https:// URL of an upstream: http(s)://host[:port][/base]. Port 80 (http)
/// or 443 (https) if left out; the base path is prepended to forwarded paths. No query, fragment
/// or credentials. An https target's certificate is verified for its host (see upstream_tls).
#[derive(JsonSchema)]
#[schemars(
    rename = "targetUrl",
    extend("examples" = ["http://127.0.0.1:9001", "http://10.0.0.6:9000/v2", "https://api.internal/v1"])
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::config::{Strategy, parse};
    use serde_json::json;

    fn validator() -> jsonschema::Validator {
        jsonschema::validator_for(&config_schema()).expect("the generated schema compiles")
    }

    /// The schema's complaints about `config`, one line each (none: it validates).
    fn schema_errors(config: &Value) -> Vec<String> {
        validator()
            .iter_errors(config)
            .map(|error| format!("{}: {error}", error.instance_path()))
            .collect()
    }

    fn route_with_target(target: &str) -> Value {
        json!({"routes": [{"name": "r", "path": "*", "targets": [target]}]})
    }

    #[test]
    fn the_schema_is_a_draft_2020_12_schema_with_its_header() {
        let schema = config_schema();
        jsonschema::meta::validate(&schema).expect("a valid JSON Schema");
        assert_eq!(
            schema["$schema"],
            "https://json-schema.org/draft/2020-12/schema"
        );
        assert_eq!(schema["$id"], SCHEMA_ID);
        assert_eq!(schema["title"], "Gatewatch configuration");
        let keys: Vec<_> = schema.as_object().unwrap().keys().take(4).collect();
        assert_eq!(keys, ["$schema", "$id", "title", "description"]);
        assert_eq!(
            schema["properties"]["$schema"]["type"],
            json!(["string", "null"])
        );
        assert!(config_schema_text().ends_with("}\n"));
    }

    #[test]
    fn descriptions_are_flowing_text() {
        let schema = config_schema();
        let mut pending = vec![&schema];
        let mut count = 0;
        while let Some(value) = pending.pop() {
            match value {
                Value::Object(map) => {
                    if let Some(Value::String(description)) = map.get("description") {
                        count += 1;
                        assert!(!description.contains('\n'), "{description:?}");
                    }
                    pending.extend(map.values());
                }
                Value::Array(items) => pending.extend(items),
                _ => {}
            }
        }
        assert!(count > 50, "only {count} descriptions");
    }

    #[test]
    fn the_forms_strategies_are_the_servers() {
        let schema = config_schema();
        let names: Vec<&str> = schema
            .pointer("/$defs/route/properties/strategy/enum")
            .and_then(Value::as_array)
            .expect("routes[].strategy lists its values")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(names, crate::config_form::STRATEGIES);
        for name in crate::config_form::STRATEGIES {
            let strategy: Strategy = serde_json::from_value(json!(name)).unwrap();
            assert_eq!(strategy.as_str(), name);
        }
    }

    #[test]
    fn the_shipped_configs_validate() {
        for text in [
            include_str!("../../../config.json"),
            include_str!("../../../tests/fixtures/config.full.json"),
        ] {
            let config: Value = serde_json::from_str(text).unwrap();
            assert_eq!(schema_errors(&config), Vec::<String>::new());
        }
    }

    #[test]
    fn what_the_gateway_refuses_the_schema_refuses() {
        for (config, at) in [
            (json!({"lisen": "0.0.0.0:8080"}), ""),
            (json!({"dashboard": {"port": 3000}}), "/dashboard"),
            (
                route_with_target("gopher://127.0.0.1:9001"),
                "/routes/0/targets/0",
            ),
            (
                json!({"routes": [{"name": "r", "path": "*", "targets": ["http://127.0.0.1:9001"],
                        "compression": {"algorithms": ["gzip", "lz4"]}}]}),
                "/routes/0/compression/algorithms/1",
            ),
            (
                json!({"routes": [{"name": "r", "path": "/a/*", "retries": 11,
                        "targets": ["http://127.0.0.1:9001"]}]}),
                "/routes/0/retries",
            ),
            (
                json!({"routes": [{"name": "r", "path": "*", "strip_prefix": true,
                        "targets": ["http://127.0.0.1:9001"]}]}),
                "/routes/0/strip_prefix",
            ),
            (
                json!({"routes": [{"name": "r", "path": "*",
                        "targets": [{"url": "http://127.0.0.1:9001", "weight": null}]}]}),
                "/routes/0/targets/0",
            ),
            (
                json!({"routes": [{"name": "r", "path": "*", "strategy": "fastest",
                        "targets": ["http://127.0.0.1:9001"]}]}),
                "/routes/0/strategy",
            ),
            (
                json!({"history": {"retention_days": 0}}),
                "/history/retention_days",
            ),
            (
                json!({"demo": {"traffic": {"requests_per_second": 0}}}),
                "/demo/traffic/requests_per_second",
            ),
            (
                json!({"routes": [{"name": "r", "path": "*", "targets": ["http://127.0.0.1:9001"],
                        "circuit_breaker": {"failure_threshold": 4_294_967_296_u64}}]}),
                "/routes/0/circuit_breaker/failure_threshold",
            ),
        ] {
            let text = config.to_string();
            assert!(parse(&text).is_err(), "the gateway takes {text}");
            let errors = schema_errors(&config);
            assert!(
                errors
                    .iter()
                    .any(|error| error.starts_with(&format!("{at}: "))),
                "{text}: {errors:?}"
            );
        }
    }

    #[test]
    fn null_leaves_an_optional_setting_out_for_both() {
        let config = json!({"listen": null, "routes": [{"name": "r", "path": "*", "host": null,
            "targets": ["http://127.0.0.1:9001"], "health_check": null, "retries": null}]});
        assert!(parse(&config.to_string()).is_ok());
        assert_eq!(schema_errors(&config), Vec::<String>::new());
    }

    #[test]
    fn target_urls_are_judged_as_the_gateway_judges_them() {
        for url in [
            "http://127.0.0.1:9001",
            "http://backend",
            "http://backend/v1/",
            "HTTP://Backend:80/x",
            "http://[::1]:9001/base",
            "http://10.0.0.6:9000/v2",
            "https://127.0.0.1:9001",
            "HTTPS://backend:8443/v1",
            "https://[::1]/x",
            "ftp://h",
            "127.0.0.1:9001",
            "http://",
            "http://:80",
            "http://user@host",
            "http://host/?a=1",
            "http://host/#top",
            "http://host?a",
            "http://a b",
            "http://a_b.c-d~e:8080",
            "http://h%20x",
            "http://[::1",
            "http://h]",
            "http://[fe80::1%25eth0]:80",
        ] {
            let config = route_with_target(url);
            let gateway = parse(&config.to_string()).is_ok();
            let schema = schema_errors(&config).is_empty();
            assert_eq!(schema, gateway, "{url}: schema {schema}, gateway {gateway}");
        }
    }

    #[test]
    fn path_patterns_are_judged_as_the_gateway_judges_them() {
        for path in [
            "*", "/*", "/", "/health", "/api/*", "/a/b/*", "api", "", "/a*", "/a/*/b", "/a?x",
            "/a#x", "**",
        ] {
            let config = json!({"routes": [{"name": "r", "path": path,
                "targets": ["http://127.0.0.1:9001"]}]});
            let gateway = parse(&config.to_string()).is_ok();
            let schema = schema_errors(&config).is_empty();
            assert_eq!(
                schema, gateway,
                "{path:?}: schema {schema}, gateway {gateway}"
            );
        }
    }

    #[test]
    fn headers_are_judged_as_the_gateway_judges_them() {
        for (name, value) in [
            ("x-env", "prod"),
            ("X-Env", "tab\there"),
            ("x-utf8", "caf\u{e9}"),
            ("bad name", "v"),
            ("x-ctl", "a\u{1}b"),
            ("x-del", "a\u{7f}"),
            ("x-newline", "a\nb"),
        ] {
            let config = json!({"routes": [{"name": "r", "path": "*",
                "targets": ["http://127.0.0.1:9001"],
                "request_headers": {"set": {name: value}, "remove": [name]}}]});
            let gateway = parse(&config.to_string()).is_ok();
            let schema = schema_errors(&config).is_empty();
            assert_eq!(
                schema, gateway,
                "{name:?}: {value:?}: schema {schema}, gateway {gateway}"
            );
        }
    }

    #[test]
    fn history_paths_are_judged_as_the_gateway_judges_them() {
        for path in [
            "gatewatch.db",
            "data/history.db",
            "/var/db",
            "a ",
            "",
            "  ",
            "data/",
            "/",
        ] {
            let config = json!({"history": {"path": path}});
            let gateway = parse(&config.to_string()).is_ok();
            let schema = schema_errors(&config).is_empty();
            assert_eq!(
                schema, gateway,
                "{path:?}: schema {schema}, gateway {gateway}"
            );
        }
    }
}
