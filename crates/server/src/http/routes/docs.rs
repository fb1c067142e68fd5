//! `/api/docs`: an API reference rendered on the server from the OpenAPI document, with no
//! script and no external asset, so it works offline and under a strict CSP.

use std::fmt::Write as _;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// The reference page.
#[utoipa::path(get, path = "/api/docs", tag = "ops", responses((status = 200, description = "HTML API reference", content_type = "text/html")))]
pub async fn docs() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
            ),
        ],
        crate::http::DOCS_HTML.as_str(),
    )
        .into_response()
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn schema_name(v: &Value) -> String {
    if let Some(r) = v.get("$ref").and_then(Value::as_str) {
        return r.rsplit('/').next().unwrap_or(r).to_owned();
    }
    if let Some(items) = v.get("items") {
        return format!("[{}]", schema_name(items));
    }
    v.get("type").map_or_else(|| "object".into(), |t| t.to_string().trim_matches('"').to_owned())
}

/// Renders the OpenAPI document as one HTML page.
pub fn render(doc: &Value) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let title = doc.pointer("/info/title").and_then(Value::as_str).unwrap_or("API");
    let version = doc.pointer("/info/version").and_then(Value::as_str).unwrap_or("");
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t} reference</title>\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><style>\
body{{font:16px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b}}\
h2{{border-bottom:1px solid #ccc;margin-top:2.5rem}}.op{{border:1px solid #ddd;border-radius:6px;padding:.5rem 1rem;margin:1rem 0}}\
.m{{font-weight:700;text-transform:uppercase;display:inline-block;min-width:4.5rem}}code{{background:#f3f3f3;padding:0 .25rem}}\
table{{border-collapse:collapse}}td,th{{border:1px solid #ddd;padding:.2rem .5rem;text-align:left;vertical-align:top}}\
</style></head><body><h1>{t} <small>{v}</small></h1>",
        t = esc(title),
        v = esc(version)
    );
    if let Some(d) = doc.pointer("/info/description").and_then(Value::as_str) {
        for para in d.split("\n\n") {
            let _ = write!(out, "<p>{}</p>", esc(para));
        }
    }
    let mut by_tag: std::collections::BTreeMap<String, Vec<(String, String, &Value)>> = Default::default();
    if let Some(paths) = doc.get("paths").and_then(Value::as_object) {
        for (path, item) in paths {
            for (method, op) in item.as_object().into_iter().flatten() {
                let tag = op.pointer("/tags/0").and_then(Value::as_str).unwrap_or("other").to_owned();
                by_tag.entry(tag).or_default().push((path.clone(), method.clone(), op));
            }
        }
    }
    for (tag, ops) in &by_tag {
        let _ = write!(out, "<h2 id=\"{0}\">{0}</h2>", esc(tag));
        for (path, method, op) in ops {
            let _ = write!(
                out,
                "<div class=\"op\"><p><span class=\"m\">{}</span> <code>{}</code></p>",
                esc(method),
                esc(path)
            );
            if let Some(s) = op.get("summary").and_then(Value::as_str) {
                let _ = write!(out, "<p><strong>{}</strong></p>", esc(s));
            }
            if let Some(s) = op.get("description").and_then(Value::as_str) {
                let _ = write!(out, "<p>{}</p>", esc(s));
            }
            if let Some(sec) = op.get("security").and_then(Value::as_array) {
                let names: Vec<String> =
                    sec.iter().filter_map(Value::as_object).flat_map(|o| o.keys().cloned()).collect();
                let _ = write!(out, "<p>Auth: {}</p>", esc(&names.join(" or ")));
            }
            if let Some(params) = op.get("parameters").and_then(Value::as_array) {
                out.push_str("<table><tr><th>parameter</th><th>in</th><th>description</th></tr>");
                for p in params {
                    let _ = write!(
                        out,
                        "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                        esc(p.get("name").and_then(Value::as_str).unwrap_or("")),
                        esc(p.get("in").and_then(Value::as_str).unwrap_or("")),
                        esc(p.get("description").and_then(Value::as_str).unwrap_or(""))
                    );
                }
                out.push_str("</table>");
            }
            if let Some(body) = op.pointer("/requestBody/content/application~1json/schema") {
                let _ = write!(out, "<p>Body: <code>{}</code></p>", esc(&schema_name(body)));
            }
            if let Some(responses) = op.get("responses").and_then(Value::as_object) {
                out.push_str("<ul>");
                for (code, r) in responses {
                    let schema = r
                        .pointer("/content/application~1json/schema")
                        .map(|s| format!(" <code>{}</code>", esc(&schema_name(s))))
                        .unwrap_or_default();
                    let _ = write!(
                        out,
                        "<li>{}{} {}</li>",
                        esc(code),
                        schema,
                        esc(r.get("description").and_then(Value::as_str).unwrap_or(""))
                    );
                }
                out.push_str("</ul>");
            }
            out.push_str("</div>");
        }
    }
    out.push_str("<p>The machine-readable document is at <a href=\"/api/openapi.json\">/api/openapi.json</a>.</p></body></html>");
    out
}
