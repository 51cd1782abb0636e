//! The running config, readably: listeners and other settings as facts, every route with all its
//! settings, and the static directories — read from the text the gateway loaded, so it shows
//! what is in force even when the file on disk holds a rejected edit.

use leptos::prelude::*;
use serde_json::Value;

/// Route keys shown in their own columns; every other key is listed under "Settings".
const ROUTE_COLUMNS: [&str; 4] = ["name", "path", "targets", "strategy"];

#[component]
pub fn RunningConfig(text: String) -> impl IntoView {
    let Ok(Value::Object(config)) = serde_json::from_slice::<Value>(text.as_bytes()) else {
        return view! { <p class="muted">"The running config could not be read."</p> }.into_any();
    };
    let empty = Vec::new();
    let routes = config
        .get("routes")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    let statics = config
        .get("static")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    let settings = config
        .iter()
        .filter(|(key, _)| !matches!(key.as_str(), "routes" | "static" | "$schema"))
        .map(|(key, value)| view! { <div><dt class="mono">{key.clone()}</dt><dd class="mono small">{compact(value)}</dd></div> })
        .collect_view();
    view! {
        <dl class="facts" data-testid="config-settings">{settings}</dl>
        <RouteTable routes=routes.clone() />
        {(!statics.is_empty()).then(|| {
            let rows = statics
                .iter()
                .map(|s| view! { <li class="mono small">{compact(s)}</li> })
                .collect_view();
            view! { <h3>"Static directories"</h3><ul data-testid="config-static">{rows}</ul> }
        })}
    }
    .into_any()
}

#[component]
fn RouteTable(routes: Vec<Value>) -> impl IntoView {
    if routes.is_empty() {
        return view! { <p class="muted">"No routes: add one below (" <code>"name"</code> ", " <code>"path"</code> ", " <code>"targets"</code> ")."</p> }.into_any();
    }
    let rows = routes
        .iter()
        .map(|route| {
            let text = |name: &str| route.get(name).and_then(Value::as_str).unwrap_or("").to_string();
            let targets = route
                .get("targets")
                .and_then(Value::as_array)
                .map(|targets| targets.iter().map(target).collect::<Vec<_>>().join(", "))
                .unwrap_or_default();
            let strategy = route
                .get("strategy")
                .and_then(Value::as_str)
                .unwrap_or("round_robin")
                .replace('_', " ");
            let settings = route
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(key, _)| !ROUTE_COLUMNS.contains(&key.as_str()))
                .map(|(key, value)| view! { <li><span class="muted">{key.clone()}</span> " " {compact(value)}</li> })
                .collect_view();
            view! {
                <tr>
                    <th scope="row" class="mono">{text("name")}</th>
                    <td class="mono">{text("path")}</td>
                    <td class="mono small config-targets">{targets}</td>
                    <td>{strategy}</td>
                    <td class="config-settings"><ul class="settings mono small">{settings}</ul></td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap" tabindex="0" role="region" aria-label="Routes in force">
            <table data-testid="config-routes">
                <thead>
                    <tr>
                        <th scope="col">"Name"</th>
                        <th scope="col">"Path"</th>
                        <th scope="col">"Targets"</th>
                        <th scope="col">"Strategy"</th>
                        <th scope="col">"Settings"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}

/// A target as `url` or `url ×weight`.
fn target(value: &Value) -> String {
    match (value.as_str(), value.get("url").and_then(Value::as_str)) {
        (Some(url), _) => url.to_string(),
        (None, Some(url)) => match value.get("weight").and_then(Value::as_u64) {
            Some(weight) if weight != 1 => format!("{url} ×{weight}"),
            _ => url.to_string(),
        },
        _ => compact(value),
    }
}

/// A JSON value on one line, for reading: strings unquoted, objects as `key value · key value`.
pub fn compact(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Array(items) => items.iter().map(compact).collect::<Vec<_>>().join(", "),
        Value::Object(fields) => fields
            .iter()
            .map(|(key, value)| match value {
                Value::Object(_) => format!("{key} {{ {} }}", compact(value)),
                Value::Array(_) => format!("{key} [{}]", compact(value)),
                _ => format!("{key} {}", compact(value)),
            })
            .collect::<Vec<_>>()
            .join(" · "),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_on_one_line() {
        let value: Value = serde_json::from_str(
            r#"{"path":"/health","interval_ms":2000,"tags":["a","b"],"inner":{"on":true}}"#,
        )
        .unwrap();
        assert_eq!(
            compact(&value),
            "path /health · interval_ms 2000 · tags [a, b] · inner { on true }"
        );
        let weighted: Value = serde_json::from_str(r#"{"url":"http://a","weight":3}"#).unwrap();
        assert_eq!(target(&weighted), "http://a ×3");
        assert_eq!(target(&Value::String("http://b".into())), "http://b");
    }
}
