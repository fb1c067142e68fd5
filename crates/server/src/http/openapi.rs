//! Completes the OpenAPI document with every error status an operation can return, each with
//! the error envelope's schema, derived from what the operation is (secured, has a body, a
//! path parameter, query parameters, lives under `/api`) rather than written by hand per route,
//! so a new route is documented as honestly as the old ones. `tests/openapi_statuses.rs`
//! checks the result against the statuses the test suite observes.

use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder};

/// Name of the error envelope schema in `components`.
const ERROR_SCHEMA: &str = "ErrorEnvelope";

/// `{success: false, data: null, error: "<message>", metadata: null}`.
fn error_envelope() -> Schema {
    ObjectBuilder::new()
        .description(Some("Every error: `success` false and a message in `error`."))
        .property("success", ObjectBuilder::new().schema_type(Type::Boolean))
        .required("success")
        .property("data", ObjectBuilder::new().schema_type(Type::Null))
        .required("data")
        .property("error", ObjectBuilder::new().schema_type(Type::String))
        .required("error")
        .property("metadata", ObjectBuilder::new().schema_type(Type::Null))
        .required("metadata")
        .into()
}

/// Paths that speak another protocol (spec §1.1 exceptions): they document their own client
/// errors; only what the middleware adds (timeout, body limit, rate limit, 500, 503) is derived.
fn own_protocol(path: &str) -> bool {
    path.starts_with("/api/oauth/") || path == "/api/mcp" || path.starts_with("/.well-known/")
}

/// The statuses `op` at `path` can answer with besides its own, and why.
fn error_statuses(path: &str, method: &str, op: &Operation) -> Vec<(&'static str, &'static str)> {
    let api = path.starts_with("/api/");
    if own_protocol(path) {
        let mut out = vec![("408", "The request took longer than the request timeout")];
        if op.request_body.is_some() {
            out.push(("413", "Body over the limit"));
        }
        if api {
            out.push(("429", "Rate limited; see Retry-After"));
        }
        out.push(("500", "Unexpected failure; the message is generic and x-request-id identifies it"));
        if api {
            out.push(("503", "The store is unavailable"));
        }
        return out;
    }
    let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
    let body = op.request_body.is_some();
    let query = op.parameters.iter().flatten().any(|p| match p {
        RefOr::T(p) => p.parameter_in == ParameterIn::Query,
        RefOr::Ref(_) => false,
    });
    let mut out = Vec::new();
    if body || query {
        out.push(("400", "Malformed JSON, wrong types or a bad query parameter"));
    }
    if secured {
        out.push(("401", "Missing, malformed, expired or revoked credentials"));
        out.push(("403", "Valid credentials without the role, scope or tenancy this needs"));
    }
    if path.contains('{') || (api && body) {
        out.push(("404", "Absent, or another tenant's (in the path, or a resource the body names)"));
    }
    out.push(("408", "The request took longer than the request timeout"));
    if body {
        out.push(("413", "Body over the limit"));
    }
    if api && (body || method != "get") {
        out.push(("422", "Validation failed or the resource is in the wrong state"));
    }
    if api {
        out.push(("429", "Rate limited; see Retry-After"));
    }
    out.push(("500", "Unexpected failure; the message is generic and x-request-id identifies it"));
    if api || path == "/readyz" {
        out.push(("503", "The store or an optional integration is unavailable"));
    }
    out
}

/// Adds the error statuses (and the envelope schema) to every operation of `doc`; statuses an
/// operation documents itself keep their own description.
pub fn document_errors(doc: &mut OpenApi) {
    doc.components
        .get_or_insert_with(Default::default)
        .schemas
        .insert(ERROR_SCHEMA.into(), error_envelope().into());
    for (path, item) in doc.paths.paths.iter_mut() {
        let ops = [
            ("get", &mut item.get),
            ("put", &mut item.put),
            ("post", &mut item.post),
            ("delete", &mut item.delete),
            ("patch", &mut item.patch),
        ];
        for (method, op) in ops {
            let Some(op) = op else { continue };
            for (code, why) in error_statuses(path, method, op) {
                let content = ContentBuilder::new().schema(Some(Ref::from_schema_name(ERROR_SCHEMA))).build();
                let response = op
                    .responses
                    .responses
                    .entry(code.to_owned())
                    .or_insert_with(|| ResponseBuilder::new().description(why).into());
                // Statuses a route documented by hand get the envelope schema too (not on the
                // paths of another protocol, whose bodies are their own).
                if let RefOr::T(r) = response
                    && !r.content.contains_key("application/json")
                    && !(own_protocol(path) && r.content.contains_key("text/html"))
                {
                    r.content.insert("application/json".into(), RefOr::T(content));
                }
            }
        }
    }
}
