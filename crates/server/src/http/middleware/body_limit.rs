//! Request body limits: a declared `Content-Length` over the limit is refused at once (413,
//! before a byte of the body is read), and the limit rides along with the request so that a
//! chunked body caught later is refused with the same message.

use std::convert::Infallible;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures_util::future::BoxFuture;

use crate::error::AppError;

/// The body limit of the route group that serves a request, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimit(pub usize);

/// 413 when the declared `Content-Length` is over the limit.
fn refuse_declared(req: &Request, limit: BodyLimit) -> Option<Response> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    declared.is_some_and(|n| n > limit.0 as u64).then(|| AppError::body_too_large(limit.0).into_response())
}

/// A framework-made 413 (not JSON) gets the envelope and the limit's message.
fn relabel(res: Response, limit: BodyLimit) -> Response {
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if res.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE && !is_json {
        return AppError::body_too_large(limit.0).into_response();
    }
    res
}

/// Refuses a declared body over the limit without waiting for it; puts the limit in the
/// request's extensions for the JSON extractors; gives a framework-made 413 the same message.
/// A layer rather than `from_fn`: it awaits nothing before the inner service, so it calls it at
/// once, without `from_fn`'s per-request clone of the inner service and its boxed `Next` (the
/// hot path of every `/api` request).
#[derive(Debug, Clone, Copy)]
pub struct EnforceLayer(pub BodyLimit);

impl<S> tower::Layer<S> for EnforceLayer {
    type Service = Enforce<S>;
    fn layer(&self, inner: S) -> Enforce<S> {
        Enforce { inner, limit: self.0 }
    }
}

/// The service of `EnforceLayer`.
#[derive(Debug, Clone)]
pub struct Enforce<S> {
    inner: S,
    limit: BodyLimit,
}

impl<S> tower::Service<Request> for Enforce<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        let limit = self.limit;
        if let Some(refused) = refuse_declared(&req, limit) {
            return Box::pin(std::future::ready(Ok(refused)));
        }
        req.extensions_mut().insert(limit);
        let answer = self.inner.call(req);
        Box::pin(async move {
            match answer.await {
                Ok(res) => Ok(relabel(res, limit)),
                Err(never) => match never {},
            }
        })
    }
}
