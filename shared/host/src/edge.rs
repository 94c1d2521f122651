//! The one layer around every route: the app's prelude (HTTP routes), the
//! request's span, a panicking handler answered with a problem, any other
//! error response made a problem, `Cache-Control: no-store` unless the
//! handler chose caching and the request timeout (HTTP routes), and the
//! request's log line.
//!
//! It does in one service what `tower_http`'s `TraceLayer`, `CatchPanicLayer`
//! and a response map did as three (issue 18: health's span and line were a
//! sixth of its CPU). Those boxed the response body twice and entered the span
//! on every poll of the body, also for the answers whose body is already whole
//! (nearly all of them). Here the span is entered while the handler runs, ends
//! after the line, and follows the body only when the body is a stream, so
//! that what a streamed download reads from the store still counts as the
//! request's dependencies.

use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use tokio::time::{Instant, Sleep};
use tracing::Span;

use crate::problem::Problem;
use crate::runtime::{INVOCATION_ID_HEADER, Prelude, SpanParent};

/// What the edge knows of the route it stands before, made once when the
/// router is built.
pub(crate) struct RouteEdge {
    /// The route's path template (`unmatched` for the fallback).
    route: Box<str>,
    /// The names of the functions answering it, joined with `|`.
    function: Box<str>,
    /// The span's and the telemetry request's name.
    name: Box<str>,
    kind: RouteKind,
    /// Whether an exporter reads the spans (see [`crate::Runtime::with_export`]).
    exported: bool,
    span_parent: Option<SpanParent>,
}

#[derive(Debug, Clone)]
pub(crate) enum RouteKind {
    /// A citizen's or operator's request: the app's prelude first, answered
    /// `503` after `timeout`, and `Cache-Control: no-store` unless the handler
    /// chose its own caching.
    Http { timeout: Duration, prelude: Option<Prelude> },
    /// A queue or timer invocation from the Functions host.
    Invocation { trigger: &'static str },
}

impl RouteEdge {
    /// `span_parent` joins the caller's trace; it is used only when the spans
    /// are `exported`.
    pub(crate) fn new(
        route: &str,
        function: &str,
        kind: RouteKind,
        exported: bool,
        span_parent: Option<SpanParent>,
    ) -> Self {
        let name = if function.is_empty() { "unmatched" } else { function };
        let span_parent = span_parent.filter(|_| exported);
        Self { route: route.into(), function: function.into(), name: name.into(), kind, exported, span_parent }
    }

    /// The span of one HTTP request or one queue/timer invocation, whatever
    /// the handler does inside it. Telemetry export makes it an Application
    /// Insights request (`otel.kind = "server"`) named by the function, with
    /// the status answered; the store and outside-system calls made inside are
    /// its dependencies. An invocation is one span, not a request span around
    /// an invocation span, so that each run counts once.
    fn span(&self, request: &Request) -> Span {
        let invocation_id = request.headers().get(&INVOCATION_ID_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
        let empty = tracing::field::Empty;
        let span = match self.kind {
            RouteKind::Invocation { trigger } => tracing::info_span!(
                "invocation",
                function = &*self.function,
                invocation_id,
                trigger,
                message_id = empty,
                dequeue_count = empty,
                past_due = empty,
                otel.name = &*self.name,
                otel.kind = "server",
                otel.status_code = empty,
                http.response.status_code = empty,
            ),
            RouteKind::Http { .. } => {
                let method = request.method().as_str();
                let (route, function) = (&*self.route, &*self.function);
                // Without an exporter, none of its fields: each is a value
                // recorded on every request that no log line writes.
                let span = if self.exported {
                    tracing::info_span!(
                        "request",
                        method,
                        route,
                        function,
                        invocation_id = empty,
                        otel.name = &*self.name,
                        otel.kind = "server",
                        otel.status_code = empty,
                        http.response.status_code = empty,
                    )
                } else {
                    tracing::info_span!("request", method, route, function, invocation_id = empty)
                };
                // Only the host's requests carry one; an empty field is not
                // formatted into every other request's line.
                if !invocation_id.is_empty() {
                    span.record("invocation_id", invocation_id);
                }
                span
            }
        };
        if let Some(join) = self.span_parent {
            join(request.headers(), &span);
        }
        span
    }

    /// The answer as the client gets it.
    fn finish(&self, response: Response) -> Response {
        let response = errors_as_problems(response);
        match self.kind {
            RouteKind::Http { .. } => no_store_unless_set(response),
            RouteKind::Invocation { .. } => response,
        }
    }
}

/// The layer; see the module.
#[derive(Clone)]
pub(crate) struct EdgeLayer {
    route: Arc<RouteEdge>,
}

impl EdgeLayer {
    pub(crate) fn new(route: RouteEdge) -> Self {
        Self { route: Arc::new(route) }
    }
}

impl<S> tower::Layer<S> for EdgeLayer {
    type Service = Edge<S>;

    fn layer(&self, inner: S) -> Edge<S> {
        Edge { inner, route: Arc::clone(&self.route) }
    }
}

#[derive(Clone)]
pub(crate) struct Edge<S> {
    inner: S,
    route: Arc<RouteEdge>,
}

impl<S> tower::Service<Request> for Edge<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = EdgeFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        if let RouteKind::Http { prelude: Some(prelude), .. } = &self.route.kind
            && let Some(answer) = prelude.run(&mut request)
        {
            return EdgeFuture::answered(answer, Arc::clone(&self.route));
        }
        let span = self.route.span(&request);
        let started = Instant::now();
        let inner = {
            let _entered = span.enter();
            std::panic::catch_unwind(AssertUnwindSafe(|| self.inner.call(request))).ok()
        };
        EdgeFuture { inner, answered: None, timeout: None, span, started, route: Arc::clone(&self.route) }
    }
}

pin_project_lite::pin_project! {
    pub(crate) struct EdgeFuture<F> {
        // None when the call itself panicked, or the prelude answered.
        #[pin]
        inner: Option<F>,
        // The prelude's answer.
        answered: Option<Response>,
        // Set when the handler first waits: most answers need no timer.
        #[pin]
        timeout: Option<Sleep>,
        span: Span,
        started: Instant,
        route: Arc<RouteEdge>,
    }
}

impl<F> EdgeFuture<F> {
    fn answered(answer: Response, route: Arc<RouteEdge>) -> Self {
        let (span, started) = (Span::none(), Instant::now());
        Self { inner: None, answered: Some(answer), timeout: None, span, started, route }
    }
}

impl<F> Future for EdgeFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if let Some(answer) = this.answered.take() {
            return Poll::Ready(Ok(answer));
        }
        let span = this.span;
        let response = {
            let _entered = span.enter();
            let polled = match this.inner.as_mut().as_pin_mut() {
                Some(inner) => std::panic::catch_unwind(AssertUnwindSafe(|| inner.poll(cx))).ok(),
                None => None,
            };
            match polled {
                Some(Poll::Ready(Ok(response))) => response,
                Some(Poll::Ready(Err(never))) => match never {},
                Some(Poll::Pending) => {
                    let RouteKind::Http { timeout, .. } = this.route.kind else {
                        return Poll::Pending;
                    };
                    if this.timeout.is_none() {
                        this.timeout.set(Some(tokio::time::sleep_until(*this.started + timeout)));
                    }
                    match this.timeout.as_pin_mut().map(|sleep| sleep.poll(cx)) {
                        Some(Poll::Ready(())) => {
                            this.inner.set(None);
                            StatusCode::SERVICE_UNAVAILABLE.into_response()
                        }
                        _ => return Poll::Pending,
                    }
                }
                None => {
                    tracing::error!("a handler panicked");
                    Problem::internal().into_response()
                }
            }
        };
        let response = this.route.finish(response);
        let status = response.status();
        if this.route.exported {
            span.record("http.response.status_code", status.as_u16());
            if status.is_server_error() {
                span.record("otel.status_code", "ERROR");
            }
        }
        let duration_ms = u64::try_from(this.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        // The message as a `str`, which the text log writes as it is.
        tracing::info!(parent: &*span, message = "request finished", status = status.as_u16(), duration_ms);
        let span = std::mem::replace(span, Span::none());
        Poll::Ready(Ok(follow_body(response, span)))
    }
}

/// A whole body ends the span here; a stream carries it until it ends.
fn follow_body(response: Response, span: Span) -> Response {
    if response.body().size_hint().exact().is_some() || span.is_none() {
        return response;
    }
    response.map(|body| Body::new(SpannedBody { body, span }))
}

pin_project_lite::pin_project! {
    struct SpannedBody {
        #[pin]
        body: Body,
        span: Span,
    }
}

impl HttpBody for SpannedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        let this = self.project();
        let _entered = this.span.enter();
        this.body.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// Every answer of an HTTP function is `Cache-Control: no-store` unless the
/// handler chose its own caching: most carry a citizen's data, and no browser
/// cache, shared proxy or CDN may keep them. Here, so no handler can forget
/// it; a public answer that may be cached says so itself.
fn no_store_unless_set(mut response: Response) -> Response {
    response.headers_mut().entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    response
}

/// Error responses that did not come from a handler's problem (axum's own
/// rejections of a path it cannot decode, a body over the limit, a timeout)
/// become problems too, so every error a client sees has the one shape.
fn errors_as_problems(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let content_type = response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    if content_type.is_some_and(|ct| ct.starts_with(crate::problem::CONTENT_TYPE)) {
        return response;
    }
    let problem = match status {
        StatusCode::PAYLOAD_TOO_LARGE => Problem::new(status, "payload-too-large", "The request body is too large"),
        StatusCode::SERVICE_UNAVAILABLE => Problem::unavailable("the request took too long"),
        StatusCode::METHOD_NOT_ALLOWED => Problem::method_not_allowed(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            Problem::new(status, "unsupported-media-type", "The request body has a type this operation does not take")
        }
        status if status.is_server_error() => Problem::internal(),
        status => Problem::new(status, "bad-request", status.canonical_reason().unwrap_or("The request is malformed")),
    };
    let mut converted = problem.into_response();
    for (name, value) in response.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            converted.headers_mut().insert(name.clone(), value.clone());
        }
    }
    converted
}
