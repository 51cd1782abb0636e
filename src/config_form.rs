//! The config page's form model: the routes of a `config.json` text as editable fields (name,
//! path, strategy, targets with weights), turned back into the text with everything the form
//! does not show — other route settings, other top-level sections, key order — kept as it was.

use serde_json::{Map, Value};

/// The load-balancing strategies a route may name (`""`: not set, round robin).
pub const STRATEGIES: [&str; 4] = [
    "round_robin",
    "weighted_round_robin",
    "least_connections",
    "random",
];

/// One target of a route, as typed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FormTarget {
    /// Stable identity while the form is edited (list keys).
    pub key: u64,
    pub url: String,
    /// Empty: no weight given.
    pub weight: String,
}

/// One route, as typed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FormRoute {
    pub key: u64,
    pub name: String,
    pub path: String,
    /// Empty: not set (round robin).
    pub strategy: String,
    pub targets: Vec<FormTarget>,
    /// The route's object as read, for the settings the form does not show.
    original: Map<String, Value>,
}

/// The routes of a config, editable; see the module docs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConfigForm {
    pub routes: Vec<FormRoute>,
    /// The whole document as read.
    document: Map<String, Value>,
    next_key: u64,
}

/// Which field of the form a change is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteField {
    Name,
    Path,
    Strategy,
}

/// Which field of a target a change is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetField {
    Url,
    Weight,
}

impl ConfigForm {
    /// The form for a config text; an error (for the user) when the text is not a JSON object
    /// or its routes are not a list of objects.
    pub fn parse(text: &str) -> Result<Self, String> {
        let value: Value = serde_json::from_slice(text.as_bytes())
            .map_err(|error| format!("not valid JSON: {error}"))?;
        let Value::Object(document) = value else {
            return Err("the config is not a JSON object".into());
        };
        let mut form = Self {
            document,
            ..Self::default()
        };
        let routes = match form.document.get("routes") {
            None => Vec::new(),
            Some(Value::Array(routes)) => routes.clone(),
            Some(_) => return Err("routes: not a list".into()),
        };
        for (index, route) in routes.into_iter().enumerate() {
            let Value::Object(original) = route else {
                return Err(format!("routes[{index}]: not an object"));
            };
            let text = |name: &str| match original.get(name) {
                Some(Value::String(text)) => text.clone(),
                Some(other) if !other.is_null() => other.to_string(),
                _ => String::new(),
            };
            let (name, path, strategy) = (text("name"), text("path"), text("strategy"));
            let targets = match original.get("targets") {
                Some(Value::Array(targets)) => targets.iter().map(target_fields).collect(),
                _ => Vec::new(),
            };
            let key = form.new_key();
            let targets = targets
                .into_iter()
                .map(|(url, weight)| FormTarget {
                    key: form.new_key(),
                    url,
                    weight,
                })
                .collect();
            form.routes.push(FormRoute {
                key,
                name,
                path,
                strategy,
                targets,
                original,
            });
        }
        Ok(form)
    }

    /// The config text: the document as read with the routes as edited, pretty-printed.
    pub fn to_text(&self) -> String {
        let mut document = self.document.clone();
        let routes = self.routes.iter().map(FormRoute::to_value).collect();
        document.insert("routes".into(), Value::Array(routes));
        let mut text = serde_json::to_string_pretty(&Value::Object(document)).unwrap_or_default();
        text.push('\n');
        text
    }

    fn new_key(&mut self) -> u64 {
        self.next_key += 1;
        self.next_key
    }

    /// Adds an empty route with one empty target at the end.
    pub fn add_route(&mut self) {
        let key = self.new_key();
        let target = FormTarget {
            key: self.new_key(),
            ..FormTarget::default()
        };
        self.routes.push(FormRoute {
            key,
            targets: vec![target],
            ..FormRoute::default()
        });
    }

    pub fn remove_route(&mut self, route: u64) {
        self.routes.retain(|r| r.key != route);
    }

    /// Adds an empty target to `route`.
    pub fn add_target(&mut self, route: u64) {
        let key = self.new_key();
        if let Some(route) = self.route_mut(route) {
            route.targets.push(FormTarget {
                key,
                ..FormTarget::default()
            });
        }
    }

    pub fn remove_target(&mut self, route: u64, target: u64) {
        if let Some(route) = self.route_mut(route) {
            route.targets.retain(|t| t.key != target);
        }
    }

    /// The text of `field` of `route` (empty if there is no such route).
    pub fn route_field(&self, route: u64, field: RouteField) -> &str {
        self.route(route).map_or("", |r| r.field(field))
    }

    /// The text of `field` of `target` in `route` (empty if there is no such target).
    pub fn target_field(&self, route: u64, target: u64, field: TargetField) -> &str {
        self.route(route)
            .and_then(|r| r.targets.iter().find(|t| t.key == target))
            .map_or("", |t| t.field(field))
    }

    /// The keys of `route`'s targets, in order.
    pub fn target_keys(&self, route: u64) -> Vec<u64> {
        self.route(route)
            .map(|r| r.targets.iter().map(|t| t.key).collect())
            .unwrap_or_default()
    }

    pub fn set_route_field(&mut self, route: u64, field: RouteField, value: String) {
        if let Some(route) = self.route_mut(route) {
            *route.field_mut(field) = value;
        }
    }

    pub fn set_target_field(&mut self, route: u64, target: u64, field: TargetField, value: String) {
        if let Some(target) = self
            .route_mut(route)
            .and_then(|r| r.targets.iter_mut().find(|t| t.key == target))
        {
            *target.field_mut(field) = value;
        }
    }

    fn route(&self, route: u64) -> Option<&FormRoute> {
        self.routes.iter().find(|r| r.key == route)
    }

    fn route_mut(&mut self, route: u64) -> Option<&mut FormRoute> {
        self.routes.iter_mut().find(|r| r.key == route)
    }

    /// The position of `route` (its index in `routes[…]` error paths).
    pub fn route_index(&self, route: u64) -> Option<usize> {
        self.routes.iter().position(|r| r.key == route)
    }

    /// The position of `target` within `route`.
    pub fn target_index(&self, route: u64, target: u64) -> Option<(usize, usize)> {
        let index = self.route_index(route)?;
        let target = self.routes[index]
            .targets
            .iter()
            .position(|t| t.key == target)?;
        Some((index, target))
    }
}

impl FormTarget {
    fn field(&self, field: TargetField) -> &str {
        match field {
            TargetField::Url => &self.url,
            TargetField::Weight => &self.weight,
        }
    }

    fn field_mut(&mut self, field: TargetField) -> &mut String {
        match field {
            TargetField::Url => &mut self.url,
            TargetField::Weight => &mut self.weight,
        }
    }
}

impl FormRoute {
    fn field(&self, field: RouteField) -> &str {
        match field {
            RouteField::Name => &self.name,
            RouteField::Path => &self.path,
            RouteField::Strategy => &self.strategy,
        }
    }

    fn field_mut(&mut self, field: RouteField) -> &mut String {
        match field {
            RouteField::Name => &mut self.name,
            RouteField::Path => &mut self.path,
            RouteField::Strategy => &mut self.strategy,
        }
    }

    /// The route's object: as read, with the form's fields put in (in their places).
    fn to_value(&self) -> Value {
        let mut route = self.original.clone();
        route.insert("name".into(), Value::String(self.name.clone()));
        route.insert("path".into(), Value::String(self.path.clone()));
        if self.strategy.is_empty() {
            route.remove("strategy");
        } else {
            route.insert("strategy".into(), Value::String(self.strategy.clone()));
        }
        let weighted = self.targets.iter().any(|t| !t.weight.trim().is_empty());
        let targets = self
            .targets
            .iter()
            .map(|target| {
                if !weighted {
                    return Value::String(target.url.clone());
                }
                let mut object = Map::new();
                object.insert("url".into(), Value::String(target.url.clone()));
                let weight = target.weight.trim();
                if !weight.is_empty() {
                    // A weight that is not a number goes in as typed, for validation to name.
                    let number = weight.parse::<u64>().map(Value::from);
                    object.insert(
                        "weight".into(),
                        number.unwrap_or_else(|_| Value::String(weight.to_string())),
                    );
                }
                Value::Object(object)
            })
            .collect();
        route.insert("targets".into(), Value::Array(targets));
        Value::Object(route)
    }
}

/// A target's URL and weight, from `"http://…"` or `{"url": …, "weight": n}`.
fn target_fields(target: &Value) -> (String, String) {
    match target {
        Value::String(url) => (url.clone(), String::new()),
        Value::Object(object) => {
            let url = object
                .get("url")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let weight = object.get("weight").map_or(String::new(), Value::to_string);
            (url, weight)
        }
        other => (other.to_string(), String::new()),
    }
}

/// The JSON path of a route field, as validation errors name it.
pub fn route_field_path(route: usize, field: RouteField) -> String {
    let name = match field {
        RouteField::Name => "name",
        RouteField::Path => "path",
        RouteField::Strategy => "strategy",
    };
    format!("routes[{route}].{name}")
}

/// The JSON paths validation may name for a target field.
pub fn target_field_paths(route: usize, target: usize, field: TargetField) -> Vec<String> {
    let base = format!("routes[{route}].targets[{target}]");
    match field {
        TargetField::Url => vec![format!("{base}.url"), base],
        TargetField::Weight => vec![format!("{base}.weight")],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"{
  "listen": "127.0.0.1:8080",
  "routes": [
    {
      "name": "api",
      "path": "/api/*",
      "strip_prefix": true,
      "targets": ["http://127.0.0.1:9001", "http://127.0.0.1:9002"],
      "health_check": {"path": "/health"}
    },
    {
      "name": "llm",
      "path": "/v1/*",
      "strategy": "weighted_round_robin",
      "targets": [{"url": "http://127.0.0.1:9003", "weight": 3}]
    }
  ],
  "history": {"retention_days": 3}
}
"#;

    fn reparsed(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn an_untouched_form_gives_back_the_same_config() {
        let form = ConfigForm::parse(CONFIG).unwrap();
        assert_eq!(form.routes.len(), 2);
        assert_eq!(form.routes[1].strategy, "weighted_round_robin");
        assert_eq!(form.routes[1].targets[0].weight, "3");
        assert_eq!(reparsed(&form.to_text()), reparsed(CONFIG));
        // Key order is kept: the routes stay where they were, between listen and history.
        let text = form.to_text();
        let position = |key: &str| text.find(key).unwrap();
        assert!(position("\"listen\"") < position("\"routes\""));
        assert!(position("\"routes\"") < position("\"history\""));
        assert!(position("\"strip_prefix\"") < position("\"health_check\""));
    }

    #[test]
    fn edits_change_only_what_was_edited() {
        let mut form = ConfigForm::parse(CONFIG).unwrap();
        let api = form.routes[0].key;
        let first = form.routes[0].targets[0].key;
        form.set_route_field(api, RouteField::Path, "/v2/*".into());
        form.set_target_field(api, first, TargetField::Url, "http://127.0.0.1:9100".into());
        form.add_target(api);
        let added = form.routes[0].targets[2].key;
        form.set_target_field(api, added, TargetField::Url, "http://127.0.0.1:9101".into());
        assert_eq!(form.route_field(api, RouteField::Path), "/v2/*");
        assert_eq!(
            form.target_field(api, added, TargetField::Url),
            "http://127.0.0.1:9101"
        );
        assert_eq!(form.target_keys(api)[2], added);
        form.remove_route(form.routes[1].key);

        let mut expected = reparsed(CONFIG);
        expected["routes"] = serde_json::json!([{
            "name": "api",
            "path": "/v2/*",
            "strip_prefix": true,
            "targets": ["http://127.0.0.1:9100", "http://127.0.0.1:9002", "http://127.0.0.1:9101"],
            "health_check": {"path": "/health"}
        }]);
        assert_eq!(reparsed(&form.to_text()), expected);
    }

    #[test]
    fn weights_turn_targets_into_objects_and_bad_ones_are_kept_for_validation() {
        let mut form = ConfigForm::parse(CONFIG).unwrap();
        let api = form.routes[0].key;
        let (one, two) = (form.routes[0].targets[0].key, form.routes[0].targets[1].key);
        form.set_target_field(api, one, TargetField::Weight, "5".into());
        form.set_target_field(api, two, TargetField::Weight, "heavy".into());
        let targets = &reparsed(&form.to_text())["routes"][0]["targets"];
        assert_eq!(
            targets,
            &serde_json::json!([
                {"url": "http://127.0.0.1:9001", "weight": 5},
                {"url": "http://127.0.0.1:9002", "weight": "heavy"}
            ])
        );
    }

    #[test]
    fn a_new_route_and_unset_strategy() {
        let mut form = ConfigForm::parse(r#"{"routes": []}"#).unwrap();
        form.add_route();
        let route = form.routes[0].key;
        form.set_route_field(route, RouteField::Name, "new".into());
        form.set_route_field(route, RouteField::Path, "*".into());
        let target = form.routes[0].targets[0].key;
        form.set_target_field(route, target, TargetField::Url, "http://127.0.0.1:1".into());
        assert_eq!(
            reparsed(&form.to_text()),
            serde_json::json!({"routes": [{"name": "new", "path": "*", "targets": ["http://127.0.0.1:1"]}]})
        );
        assert_eq!(form.target_index(route, target), Some((0, 0)));
        assert_eq!(
            target_field_paths(0, 0, TargetField::Url),
            ["routes[0].targets[0].url", "routes[0].targets[0]"]
        );
    }

    #[test]
    fn text_that_is_not_a_config_object_is_refused() {
        assert!(
            ConfigForm::parse("{")
                .unwrap_err()
                .starts_with("not valid JSON")
        );
        assert!(ConfigForm::parse("[]").is_err());
        assert_eq!(
            ConfigForm::parse(r#"{"routes": {}}"#).unwrap_err(),
            "routes: not a list"
        );
        assert_eq!(
            ConfigForm::parse(r#"{"routes": [1]}"#).unwrap_err(),
            "routes[0]: not an object"
        );
    }
}
