//! Request bodies against the OpenAPI document: every JSON body the suite sends through
//! `TestApp::call_from` and the server accepts (2xx) must match the request schema the
//! document publishes for that operation, so the schemas cannot drift from what the server
//! takes (#30: the study body once lacked `tasks`). The published docs' request examples are
//! replayed through the same helper (`published_docs.rs`), so they are checked too.
//!
//! A small validator for the JSON Schema subset utoipa emits (`$ref`, `type`, `enum`,
//! `properties`/`required`/`additionalProperties`, `items`, `oneOf`/`anyOf`/`allOf`, lengths,
//! item counts, numeric bounds) rather than a JSON-Schema crate: a few dozen lines against a
//! large dev-dependency on a slow build. `pattern` and `format` are not checked; `oneOf` is
//! read as "at least one" (utoipa writes `oneOf: [T, null]` for options).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::LazyLock;

use serde_json::Value;

static DOC: LazyLock<Value> = LazyLock::new(|| {
    serde_json::to_value(openscouter_server::http::openapi()).expect("the document as JSON")
});

/// The document's path template for a concrete path (`/api/jobs/job_1` → `/api/jobs/{id}`),
/// preferring templates with more literal segments.
fn template(path: &str) -> Option<&'static str> {
    let parts: Vec<&str> = path.split('/').collect();
    DOC["paths"]
        .as_object()?
        .keys()
        .filter(|t| {
            let tp: Vec<&str> = t.split('/').collect();
            tp.len() == parts.len()
                && tp.iter().zip(&parts).all(|(t, p)| (t.starts_with('{') && !p.is_empty()) || t == p)
        })
        .max_by_key(|t| t.split('/').filter(|s| !s.starts_with('{')).count())
        .map(String::as_str)
}

/// The JSON request schema of `method path`, if the document has one.
fn request_schema(method: &str, path: &str) -> Option<&'static Value> {
    let path = path.split('?').next().unwrap_or(path);
    let t = template(path)?;
    DOC["paths"][t][method.to_ascii_lowercase()]["requestBody"]["content"]["application/json"].get("schema")
}

/// Checks `body` against the request schema of `method path`; `Err` names where it differs.
/// Operations without a JSON request schema pass.
pub fn check(method: &str, path: &str, body: &Value) -> Result<(), String> {
    match request_schema(method, path) {
        Some(schema) => validate(schema, body, "body"),
        None => Ok(()),
    }
}

fn resolve(schema: &Value) -> &Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r.trim_start_matches("#/components/schemas/");
            resolve(&DOC["components"]["schemas"][name])
        }
        None => schema,
    }
}

fn type_matches(ty: &str, v: &Value) -> bool {
    match ty {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        "number" => v.is_number(),
        "integer" => v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
        _ => true,
    }
}

fn number(schema: &Value, key: &str) -> Option<f64> {
    schema.get(key).and_then(Value::as_f64)
}

fn count(schema: &Value, key: &str) -> Option<usize> {
    schema.get(key).and_then(Value::as_u64).and_then(|n| usize::try_from(n).ok())
}

/// Validates `v` against `schema`; `at` is the JSON path so far.
pub fn validate(schema: &Value, v: &Value, at: &str) -> Result<(), String> {
    let schema = resolve(schema);
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for s in all {
            validate(s, v, at)?;
        }
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(any) = schema.get(key).and_then(Value::as_array) {
            let errors: Vec<String> = any.iter().filter_map(|s| validate(s, v, at).err()).collect();
            if errors.len() == any.len() {
                return Err(format!("{at}: matches none of {key}: {}", errors.join("; ")));
            }
        }
    }
    match schema.get("type") {
        Some(Value::String(t)) if !type_matches(t, v) => return Err(format!("{at}: expected {t}, got {v}")),
        Some(Value::Array(ts)) if !ts.iter().filter_map(Value::as_str).any(|t| type_matches(t, v)) => {
            return Err(format!("{at}: expected one of {ts:?}, got {v}"));
        }
        _ => {}
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array)
        && !values.contains(v)
    {
        return Err(format!("{at}: {v} is not one of {values:?}"));
    }
    match v {
        Value::Object(map) => {
            for r in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
                let r = r.as_str().unwrap_or("");
                if !map.contains_key(r) {
                    return Err(format!("{at}: required property {r} missing"));
                }
            }
            let props = schema.get("properties").and_then(Value::as_object);
            for (k, value) in map {
                match props.and_then(|p| p.get(k)) {
                    Some(s) => validate(s, value, &format!("{at}.{k}"))?,
                    None => match schema.get("additionalProperties") {
                        Some(Value::Bool(false)) => return Err(format!("{at}: unknown property {k}")),
                        Some(s @ Value::Object(_)) => validate(s, value, &format!("{at}.{k}"))?,
                        _ => {}
                    },
                }
            }
        }
        Value::Array(items) => {
            if let Some(min) = count(schema, "minItems")
                && items.len() < min
            {
                return Err(format!("{at}: {} items, at least {min}", items.len()));
            }
            if let Some(max) = count(schema, "maxItems")
                && items.len() > max
            {
                return Err(format!("{at}: {} items, at most {max}", items.len()));
            }
            if let Some(s) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    validate(s, item, &format!("{at}[{i}]"))?;
                }
            }
        }
        Value::String(s) => {
            let n = s.chars().count();
            if count(schema, "minLength").is_some_and(|min| n < min)
                || count(schema, "maxLength").is_some_and(|max| n > max)
            {
                return Err(format!("{at}: length {n} outside the schema's bounds"));
            }
        }
        Value::Number(n) => {
            let x = n.as_f64().unwrap_or(f64::NAN);
            let out = number(schema, "minimum").is_some_and(|m| x < m)
                || number(schema, "maximum").is_some_and(|m| x > m)
                || number(schema, "exclusiveMinimum").is_some_and(|m| x <= m)
                || number(schema, "exclusiveMaximum").is_some_and(|m| x >= m);
            if out {
                return Err(format!("{at}: {x} outside the schema's bounds"));
            }
        }
        _ => {}
    }
    Ok(())
}

/// The validator itself: the study body the issue found without `tasks` passes now, and what
/// the schema bounds refuse is refused.
#[test]
fn study_body_matches_its_schema() {
    let body = crate::helpers::study_body();
    check("POST", "/api/jobs", &body).unwrap();
    for (change, needle) in [
        (serde_json::json!({"tasks": []}), "at least 1"),
        (serde_json::json!({"title": "ab"}), "title"),
        (serde_json::json!({"prototypeType": "sketch"}), "prototypeType"),
        (serde_json::json!({"ndCategories": ["unknown"]}), "ndCategories[0]"),
        (serde_json::json!({"compensation": {"currency": "GBP", "amount": 0, "type": "flat"}}), "amount"),
    ] {
        let mut bad = body.clone();
        for (k, v) in change.as_object().unwrap() {
            bad[k] = v.clone();
        }
        let e = check("POST", "/api/jobs", &bad).unwrap_err();
        assert!(e.contains(needle), "{e}");
    }
    let mut no_tasks = body.clone();
    no_tasks.as_object_mut().unwrap().remove("tasks");
    assert!(check("POST", "/api/jobs", &no_tasks).unwrap_err().contains("tasks"));
}
