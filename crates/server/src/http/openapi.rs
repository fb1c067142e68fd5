//! Completes the OpenAPI document with every error status an operation can return, each with
//! the error envelope's schema, derived from what the operation is (secured, has a body, a
//! path parameter, query parameters, lives under `/api`) rather than written by hand per route,
//! so a new route is documented as honestly as the old ones. `tests/openapi_statuses.rs`
//! checks the result against the statuses the test suite observes. It also declares the
//! OpenAPI links of the main chains (a created study to its reads and launch, a created session
//! to ingestion, completion, analysis, confirmation and reports), which clients and the
//! stateful fuzz run (`bench/schemathesis.sh`) follow.

use utoipa::openapi::link::LinkBuilder;
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

/// `(from path, from method, status, link name, to path, to method, id expression)`.
type PathLink =
    (&'static str, &'static str, &'static str, &'static str, &'static str, &'static str, &'static str);
/// [`PathLink`] with the body field the expression fills instead of the path's `id`.
type BodyLink = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

/// The links of the main chains: `(from path, from method, status, link name, to path, to
/// method, path parameter `id` as a runtime expression)`.
const LINKS: &[PathLink] = {
    const JOB: &str = "$response.body#/data/jobId";
    const SESSION: &str = "$response.body#/data/sessionId";
    const SAME: &str = "$request.path.id";
    &[
        ("/api/jobs", "post", "200", "GetStudy", "/api/jobs/{id}", "get", JOB),
        ("/api/jobs", "post", "200", "PatchStudy", "/api/jobs/{id}", "patch", JOB),
        ("/api/jobs", "post", "200", "LaunchStudy", "/api/jobs/{id}/launch", "post", JOB),
        ("/api/jobs", "post", "200", "ListStudySessions", "/api/jobs/{id}/sessions", "get", JOB),
        ("/api/jobs", "post", "200", "StudyFindings", "/api/jobs/{id}/findings", "get", JOB),
        ("/api/jobs", "post", "200", "CloseStudy", "/api/jobs/{id}/close", "post", JOB),
        ("/api/jobs/{id}/launch", "post", "200", "GetLaunchedStudy", "/api/jobs/{id}", "get", SAME),
        (
            "/api/jobs/{id}/launch",
            "post",
            "200",
            "ListLaunchedSessions",
            "/api/jobs/{id}/sessions",
            "get",
            SAME,
        ),
        ("/api/jobs/{id}/launch", "post", "200", "AcceptStudy", "/api/jobs/{id}/accept", "post", SAME),
        ("/api/jobs/{id}/launch", "post", "200", "StudyReport", "/api/reports/job/{id}", "post", SAME),
        ("/api/jobs/{id}/launch", "post", "200", "DeclineStudy", "/api/jobs/{id}/decline", "post", SAME),
        ("/api/sessions", "post", "200", "GetSession", "/api/sessions/{id}", "get", SESSION),
        ("/api/sessions", "post", "200", "Consent", "/api/sessions/{id}/consent", "post", SESSION),
        ("/api/sessions", "post", "200", "Pause", "/api/sessions/{id}/pause", "post", SESSION),
        ("/api/sessions", "post", "200", "Note", "/api/sessions/{id}/notes", "post", SESSION),
        ("/api/sessions", "post", "200", "Complete", "/api/sessions/{id}/complete", "post", SESSION),
        ("/api/sessions", "post", "200", "Events", "/api/sessions/{id}/events", "get", SESSION),
        ("/api/sessions/{id}/pause", "post", "200", "Resume", "/api/sessions/{id}/resume", "post", SAME),
        ("/api/sessions/{id}/pause", "post", "200", "Abandon", "/api/sessions/{id}/abandon", "post", SAME),
        ("/api/sessions/{id}/complete", "post", "200", "Analyze", "/api/sessions/{id}/analyze", "post", SAME),
        (
            "/api/sessions/{id}/complete",
            "post",
            "200",
            "Feedback",
            "/api/sessions/{id}/feedback",
            "post",
            SAME,
        ),
        (
            "/api/sessions/{id}/analyze",
            "post",
            "200",
            "AnalysisJob",
            "/api/analysis-jobs/{id}",
            "get",
            "$response.body#/data/analysisJobId",
        ),
        ("/api/sessions/{id}/analyze", "post", "200", "Findings", "/api/sessions/{id}/findings", "get", SAME),
        ("/api/sessions/{id}/analyze", "post", "200", "Confirm", "/api/sessions/{id}/confirm", "post", SAME),
        (
            "/api/sessions/{id}/analyze",
            "post",
            "200",
            "Analytics",
            "/api/sessions/{id}/analytics",
            "get",
            SAME,
        ),
        ("/api/sessions/{id}/confirm", "post", "200", "Report", "/api/sessions/{id}/report", "get", SAME),
        ("/api/sessions/{id}/confirm", "post", "200", "Export", "/api/sessions/{id}/export", "get", SAME),
        (
            "/api/reports/job/{id}",
            "post",
            "200",
            "ReportJob",
            "/api/analysis-jobs/{id}",
            "get",
            "$response.body#/data/analysisJobId",
        ),
        (
            "/api/tokens",
            "post",
            "200",
            "RevokeToken",
            "/api/tokens/{id}",
            "delete",
            "$response.body#/data/tokenId",
        ),
        (
            "/api/webhook-endpoints",
            "post",
            "200",
            "Deliveries",
            "/api/webhook-endpoints/{id}/deliveries",
            "get",
            "$response.body#/data/webhookEndpointId",
        ),
        (
            "/api/webhook-endpoints",
            "post",
            "200",
            "DeleteEndpoint",
            "/api/webhook-endpoints/{id}",
            "delete",
            "$response.body#/data/webhookEndpointId",
        ),
    ]
};

/// Links that name the resource in the request body instead: `(from path, from method, status,
/// link name, to path, to method, body field, runtime expression)`; the rest of the body is
/// the client's.
const BODY_LINKS: &[BodyLink] = {
    const SESSION: &str = "$response.body#/data/sessionId";
    &[
        ("/api/sessions", "post", "200", "IngestEvents", "/api/data/events", "post", "sessionId", SESSION),
        ("/api/sessions", "post", "200", "IngestFacial", "/api/data/facial", "post", "sessionId", SESSION),
        ("/api/sessions", "post", "200", "IngestVoice", "/api/data/voice", "post", "sessionId", SESSION),
        (
            "/api/sessions/{id}/confirm",
            "post",
            "200",
            "SessionReport",
            "/api/reports",
            "post",
            "sessionId",
            "$request.path.id",
        ),
    ]
};

/// `#/paths/<escaped path>/<method>` (JSON pointer, RFC 6901).
fn operation_ref(path: &str, method: &str) -> String {
    format!("#/paths/{}/{method}", path.replace('~', "~0").replace('/', "~1"))
}

/// Adds [`LINKS`] and [`BODY_LINKS`] to the responses they start from; a link whose operation
/// or response is missing is left out (the unit test below fails if any is).
pub fn document_links(doc: &mut OpenApi) {
    let by_path = LINKS.iter().map(|&(from, method, status, name, to, to_method, id)| {
        (
            from,
            method,
            status,
            name,
            LinkBuilder::new().operation_ref(operation_ref(to, to_method)).parameter("id", id),
        )
    });
    let by_body = BODY_LINKS.iter().map(|&(from, method, status, name, to, to_method, field, value)| {
        let body = serde_json::json!({ field: value });
        (
            from,
            method,
            status,
            name,
            LinkBuilder::new().operation_ref(operation_ref(to, to_method)).request_body(Some(body)),
        )
    });
    for (from, method, status, name, link) in by_path.chain(by_body) {
        let Some(item) = doc.paths.paths.get_mut(from) else { continue };
        let op = match method {
            "get" => &mut item.get,
            "post" => &mut item.post,
            "patch" => &mut item.patch,
            "put" => &mut item.put,
            "delete" => &mut item.delete,
            _ => continue,
        };
        let Some(RefOr::T(response)) = op.as_mut().and_then(|op| op.responses.responses.get_mut(status))
        else {
            continue;
        };
        response.links.insert(name.to_owned(), RefOr::T(link.build()));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_link_starts_and_ends_at_a_documented_operation() {
        let doc: serde_json::Value = match serde_json::from_str(&crate::http::openapi_json()) {
            Ok(doc) => doc,
            Err(e) => panic!("{e}"),
        };
        let mut declared = 0;
        for &(from, method, status, name, to, to_method, _) in super::LINKS {
            let link = &doc["paths"][from][method]["responses"][status]["links"][name];
            assert!(link.is_object(), "link {name} missing on {method} {from} {status}");
            assert!(doc["paths"][to][to_method].is_object(), "link {name}: no {to_method} {to}");
            declared += 1;
        }
        for &(from, method, status, name, to, to_method, field, _) in super::BODY_LINKS {
            let link = &doc["paths"][from][method]["responses"][status]["links"][name];
            assert!(
                link["requestBody"][field].is_string(),
                "link {name} missing on {method} {from} {status}"
            );
            assert!(doc["paths"][to][to_method].is_object(), "link {name}: no {to_method} {to}");
            declared += 1;
        }
        assert_eq!(declared, super::LINKS.len() + super::BODY_LINKS.len());
    }
}
