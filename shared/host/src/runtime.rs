//! The custom-handler runtime: one axum router for everything the Functions
//! host sends. `GET /` answers the readiness probe; HTTP functions answer under
//! `/api/...` (forwarded as they came); queue and timer functions answer the
//! invocation envelope at `POST /{FunctionName}`.

use std::collections::{BTreeSet, HashMap};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderMap, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde_json::Value;
use time::OffsetDateTime;

use crate::edge::{EdgeLayer, RouteEdge, RouteKind};
use crate::envelope::{EnvelopeError, InvocationRequest, InvocationResponse};
use crate::function::{
    Function, FunctionHandler, InvocationError, Outcome, QUEUE_BINDING, QueueHandlerFn, QueueInvocation, TIMER_BINDING,
    TimerHandlerFn, TimerInvocation, Trigger,
};
use crate::problem::Problem;

/// The header naming the host's invocation, looked up as a `HeaderName`
/// (a `&str` key is parsed and lower-cased on every look-up).
pub static INVOCATION_ID_HEADER: HeaderName = HeaderName::from_static("x-azure-functions-invocationid");
/// The header carrying the per-process invocation secret (local mode).
pub const INVOCATION_SECRET_HEADER: &str = "x-portal-invocation-secret";

/// Envelopes may carry large base64 payloads (axum's default is 2 MiB).
pub const INVOKE_BODY_LIMIT: usize = 100 * 1024 * 1024;

/// HTTP functions: the largest body a handler may read unless it sets its own
/// limit (uploads do): axum's default, which applies without a layer (a test
/// fails if axum's default ever differs); and how long a request may take
/// before it is answered 503 (Front Door cuts at 240 s; a citizen should not
/// wait that long).
pub const HTTP_BODY_LIMIT: usize = 2 * 1024 * 1024;
pub const HTTP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// A permanent invocation failure, for operators to find and act on.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct InvocationFailure {
    pub function: String,
    pub invocation_id: String,
    pub message_id: Option<String>,
    pub reason: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The trigger queue, for a queue function.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    /// The delivery that failed (1 = the first).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dequeue_count: Option<u32>,
    /// The whole message text, so it can be replayed ([`crate::PoisonRecord`]).
    /// Not serialized: it goes to the poison queue only, never into a log or
    /// the failure index.
    #[serde(skip)]
    pub message: Option<String>,
}

impl InvocationFailure {
    /// The poison record of a failed queue message, if this is one.
    pub fn poison_record(&self) -> Option<crate::PoisonRecord> {
        let (queue, message) = (self.queue.clone()?, self.message.clone()?);
        Some(crate::PoisonRecord {
            shape: crate::PoisonRecord::SHAPE.into(),
            queue,
            function: self.function.clone(),
            message_id: self.message_id.clone(),
            reason: self.reason.clone(),
            dequeue_count: self.dequeue_count.unwrap_or(1),
            at: self.at,
            message,
        })
    }
}

/// Where permanent failures are recorded before they are acknowledged. An
/// `Err` means the record could not be kept: the queue message is then not
/// acknowledged (the host delivers it again, and moves it to its poison queue
/// itself after the last try), so a failure is never both unrecorded and lost.
#[async_trait]
pub trait FailureSink: Send + Sync + std::fmt::Debug {
    async fn record(&self, failure: InvocationFailure) -> Result<(), String>;
}

/// Records failures in the log only (tests, tools).
#[derive(Debug, Default)]
pub struct LogFailures;

#[async_trait]
impl FailureSink for LogFailures {
    async fn record(&self, failure: InvocationFailure) -> Result<(), String> {
        tracing::error!(function = %failure.function, invocation_id = %failure.invocation_id, reason = %failure.reason, "permanent failure");
        Ok(())
    }
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum DeclarationError {
    #[error("function name '{0}' must be 1-127 letters, digits, '-' or '_', starting with a letter")]
    BadName(String),
    #[error("function '{0}' is declared twice")]
    DuplicateName(String),
    #[error("functions '{0}' and '{1}' both answer {2} {3}")]
    DuplicateRoute(String, String, String, String),
    #[error("two types are both named '{0}' in the API document: rename one (#[schema(as = ...)] or the type)")]
    SchemaConflict(String),
    #[error("function '{0}' is documented with operationId '{1}': use its OPERATION in the attribute")]
    OperationIdMismatch(String, String),
}

/// The declared functions of the capabilities this process serves.
#[derive(Debug, Clone)]
pub struct Runtime {
    functions: Vec<Function>,
    /// The OpenAPI document of the HTTP functions as served at
    /// `/api/openapi.json` (pretty JSON), built on its first request.
    document: Arc<ApiDocument>,
    failures: Arc<dyn FailureSink>,
    timers_enabled: bool,
    /// Whether a telemetry exporter reads the spans ([`Runtime::with_export`]).
    exported: bool,
    /// Joins a request's span to the caller's trace (W3C `traceparent`), when
    /// telemetry export is on.
    span_parent: Option<SpanParent>,
    /// When set, queue and timer invocation routes answer only requests that
    /// carry it in [`INVOCATION_SECRET_HEADER`] (local mode: the local host
    /// is the only caller); others get 404 as if the route did not exist.
    invocation_secret: Option<Arc<str>>,
}

/// Gives a request's span the parent the caller's headers name.
pub type SpanParent = fn(&HeaderMap, &tracing::Span);

/// Runs first on every request to an HTTP route (and to no route), before
/// its span: puts what the app's extractors read into the request's
/// extensions, or answers the request itself (`Some`), unlogged, as the
/// app's static files are. In the one layer each route has, so the app adds
/// no layer of its own (each is a boxed service a request, issue 18).
#[derive(Clone)]
pub struct Prelude(Arc<PreludeFn>);

type PreludeFn = dyn Fn(&mut Request) -> Option<Response> + Send + Sync;

impl Prelude {
    pub fn new(prelude: impl Fn(&mut Request) -> Option<Response> + Send + Sync + 'static) -> Self {
        Self(Arc::new(prelude))
    }

    pub(crate) fn run(&self, request: &mut Request) -> Option<Response> {
        (self.0)(request)
    }
}

impl std::fmt::Debug for Prelude {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Prelude")
    }
}

fn valid_name(name: &str) -> bool {
    (1..=127).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl Runtime {
    pub fn new(mut functions: Vec<Function>, failures: Arc<dyn FailureSink>) -> Result<Self, DeclarationError> {
        let document = Arc::new(ApiDocument::default());
        functions.push(Function::api(crate::op!(openapi_document)).with_state(Arc::clone(&document)).build());
        let mut names = BTreeSet::new();
        let mut routes: HashMap<(String, String), String> = HashMap::new();
        for function in &functions {
            if !valid_name(&function.name) {
                return Err(DeclarationError::BadName(function.name.clone()));
            }
            if !names.insert(function.name.to_ascii_lowercase()) {
                return Err(DeclarationError::DuplicateName(function.name.clone()));
            }
            if let Trigger::Http { methods, route, .. } = &function.trigger {
                for method in methods {
                    let key = (method.to_string(), route.clone());
                    if let Some(other) = routes.insert(key, function.name.clone()) {
                        return Err(DeclarationError::DuplicateRoute(
                            other,
                            function.name.clone(),
                            method.to_string(),
                            route.clone(),
                        ));
                    }
                }
            }
        }
        let _ = document.operations.set(crate::api::http_operations(&functions));
        Ok(Self {
            functions,
            document,
            failures,
            timers_enabled: true,
            exported: true,
            span_parent: None,
            invocation_secret: None,
        })
    }

    /// In a secondary region timers must not run (their lock is per storage
    /// account, so both regions would run them): invocations are acknowledged
    /// and skipped, in case the host's own `AzureWebJobs.<Name>.Disabled`
    /// setting is missing.
    #[must_use]
    pub fn with_timers_enabled(mut self, enabled: bool) -> Self {
        self.timers_enabled = enabled;
        self
    }

    /// Whether the spans are exported (Application Insights); on unless
    /// turned off. Without an exporter, an HTTP request's span leaves out the
    /// fields only an exporter reads (its name and kind), the edge records no
    /// status into a request's or invocation's span for the exporter, and no
    /// span joins a caller's trace: each was work on every request that no
    /// log line shows (issue 18). The "request finished" line, which has the
    /// status, is the same either way.
    #[must_use]
    pub fn with_export(mut self, exported: bool) -> Self {
        self.exported = exported;
        self
    }

    /// Nests each request's and invocation's span under the caller's (the
    /// Functions host's) trace, read from the request headers by `join`;
    /// only while the spans are exported ([`Runtime::with_export`]), since
    /// a trace is joined for the exporter alone.
    #[must_use]
    pub fn with_span_parent(mut self, join: SpanParent) -> Self {
        self.span_parent = Some(join);
        self
    }

    /// Queue and timer invocation routes require `secret` in
    /// [`INVOCATION_SECRET_HEADER`]; without it they answer 404. For local
    /// mode, where the handler's listener is also the public one.
    #[must_use]
    pub fn with_invocation_secret(mut self, secret: impl Into<Arc<str>>) -> Self {
        self.invocation_secret = Some(secret.into());
        self
    }

    /// The secret invocation routes require, if any (the local host sends it).
    pub fn invocation_secret(&self) -> Option<&str> {
        self.invocation_secret.as_deref()
    }

    pub fn functions(&self) -> &[Function] {
        &self.functions
    }

    /// The OpenAPI 3.1 document of every HTTP function, or the conflict that
    /// keeps it from being made: two types that give one schema name
    /// different schemas. `portal package` writes it, so a build with a
    /// conflict cannot be packaged; the API contract tests read it too.
    pub fn openapi(&self) -> Result<Value, DeclarationError> {
        let served = self.document.served()?;
        Ok(serde_json::from_slice(&served).unwrap_or(Value::Null))
    }

    /// The router serving every declared function, each route behind the one
    /// layer of `edge` (its span, log line, panics and problems).
    pub fn router(&self) -> Router {
        self.router_with(None)
    }

    /// [`Runtime::router`] with `prelude` run first on every HTTP request.
    pub fn router_with(&self, prelude: Option<Prelude>) -> Router {
        // Routes that share a path (different methods, different functions)
        // are merged into one method router.
        let mut http: Vec<(String, axum::routing::MethodRouter)> = Vec::new();
        let mut invocations: Vec<(String, axum::routing::MethodRouter)> = Vec::new();
        let mut function_names: HashMap<String, RouteFunctions> = HashMap::new();
        for function in &self.functions {
            let path = function.path();
            let entry = function_names.entry(path.clone()).or_default();
            entry.names.push(function.name.clone());
            entry.trigger = match &function.trigger {
                Trigger::Http { .. } => None,
                Trigger::Queue { .. } => Some("queue"),
                Trigger::Timer { .. } => Some("timer"),
            };
            let secret = || {
                tower::ServiceBuilder::new().layer(axum::middleware::from_fn_with_state(
                    self.invocation_secret.clone(),
                    require_invocation_secret,
                ))
            };
            match &function.handler {
                FunctionHandler::Http(method_router) => match http.iter_mut().find(|(p, _)| *p == path) {
                    Some((_, existing)) => *existing = std::mem::take(existing).merge((**method_router).clone()),
                    None => http.push((path, (**method_router).clone())),
                },
                FunctionHandler::Queue(handler) => {
                    let (name, handler, failures) =
                        (function.name.clone(), Arc::clone(handler), Arc::clone(&self.failures));
                    let queue = match &function.trigger {
                        Trigger::Queue { queue, .. } => queue.clone(),
                        _ => String::new(),
                    };
                    let invoke = post(move |headers: HeaderMap, body: Bytes| {
                        invoke_queue(name, queue, handler, failures, headers, body)
                    });
                    invocations.push((
                        path,
                        invoke.layer::<_, Infallible>(secret().layer(DefaultBodyLimit::max(INVOKE_BODY_LIMIT))),
                    ));
                }
                FunctionHandler::Timer(handler) if !self.timers_enabled => {
                    let _ = handler;
                    let name = function.name.clone();
                    let skip = post(move || async move {
                        tracing::info!(function = %name, "timers are disabled in this region; invocation skipped");
                        let response = InvocationResponse {
                            logs: vec![
                                "skipped: timers are disabled in this region (PORTAL_TIMERS_ENABLED=false)".into(),
                            ],
                            ..InvocationResponse::default()
                        };
                        axum::Json(response)
                    });
                    invocations.push((path, skip.layer::<_, Infallible>(secret())));
                }
                FunctionHandler::Timer(handler) => {
                    let (name, handler, failures) =
                        (function.name.clone(), Arc::clone(handler), Arc::clone(&self.failures));
                    let invoke = post(move |headers: HeaderMap, body: Bytes| {
                        invoke_timer(name, handler, failures, headers, body)
                    });
                    invocations.push((
                        path,
                        invoke.layer::<_, Infallible>(secret().layer(DefaultBodyLimit::max(INVOKE_BODY_LIMIT))),
                    ));
                }
            }
        }
        let (exported, span_parent) = (self.exported, self.span_parent);
        let edge = |path: &str, functions: Option<&RouteFunctions>| {
            let kind = match functions.and_then(|f| f.trigger) {
                Some(trigger) => RouteKind::Invocation { trigger },
                None => RouteKind::Http { timeout: HTTP_TIMEOUT, prelude: prelude.clone() },
            };
            let function = functions.map(|f| f.names.join("|")).unwrap_or_default();
            EdgeLayer::new(RouteEdge::new(path, &function, kind, exported, span_parent))
        };
        let mut router = Router::new().route("/", get(|| async { "ready" }).layer(edge("/", None))).fallback_service(
            any(|| async { Problem::not_found("no function answers this path") }).layer(edge("unmatched", None)),
        );
        for (path, method_router) in http {
            // One layer: each layer on a route is a boxed service cloned and
            // a boxed future on every request. No body-limit layer:
            // `HTTP_BODY_LIMIT` is axum's own default, which holds without one
            // (a layer is an extension inserted into every request), and the
            // runtime tests check both sides of it.
            let method_router = method_router.fallback(|| async { Problem::method_not_allowed() });
            router = router.route(&path, method_router.layer(edge(&path, function_names.get(&path))));
        }
        for (path, method_router) in invocations {
            router = router.route(&path, method_router.layer(edge(&path, function_names.get(&path))));
        }
        router
    }
}

/// The OpenAPI document, built when first asked for, not at start: the
/// operations' descriptions and their schemas were nearly all of the start-up
/// heap (22 MB of anonymous memory idle, 3.7 MB without) and their code a part
/// of the binary's pages touched (issue 18), and most instances never serve
/// the document. A conflict between two schemas of one name (the one
/// declaration error only the document can show) is therefore found by
/// `portal package`, which writes the document, and by the API contract
/// tests, not at start; the document route answers 500 if it ever had one.
#[derive(Debug, Default)]
pub struct ApiDocument {
    operations: std::sync::OnceLock<Vec<crate::api::OperationDoc>>,
    served: std::sync::OnceLock<Result<Bytes, DeclarationError>>,
}

impl ApiDocument {
    /// The document as served (pretty JSON), built on the first call, or the
    /// declaration error only the document shows.
    fn served(&self) -> Result<Bytes, DeclarationError> {
        self.served
            .get_or_init(|| {
                let operations = self.operations.get().map_or(&[][..], Vec::as_slice);
                let document = crate::api::document(operations, env!("CARGO_PKG_VERSION"))?;
                Ok(Bytes::from(serde_json::to_vec_pretty(&document).unwrap_or_default()))
            })
            .clone()
    }
}

/// The API document, anonymous: the contract the front end builds against.
mod openapi_document {
    use std::sync::Arc;

    use axum::extract::State;
    use axum::http::header;
    use axum::response::IntoResponse;

    use super::ApiDocument;

    /// The operation id: this function's name and its `operationId`.
    pub const OPERATION: &str = "OpenApiDocument";

    /// The OpenAPI 3.1 document of every HTTP function of this app.
    #[utoipa::path(
        get,
        path = "/api/openapi.json",
        operation_id = OPERATION,
        tag = "ops",
        responses((status = 200, description = "Dokument OpenAPI 3.1 se všemi operacemi portálu.", content_type = "application/json", body = Object))
    )]
    pub async fn handler(State(document): State<Arc<ApiDocument>>) -> impl IntoResponse {
        // Built once, off the async workers (tens of milliseconds); served
        // from memory afterwards.
        let served = match document.served.get() {
            Some(built) => Ok(built.clone()),
            None => tokio::task::spawn_blocking(move || document.served()).await,
        };
        match served {
            Ok(Ok(served)) => ([(header::CONTENT_TYPE, "application/json")], served).into_response(),
            Ok(Err(error)) => {
                tracing::error!(%error, "no API document");
                crate::problem::Problem::internal().into_response()
            }
            Err(_) => crate::problem::Problem::internal().into_response(),
        }
    }
}

/// The functions answering one path, and the trigger when the path is a
/// queue or timer function's invoke path.
#[derive(Debug, Default)]
struct RouteFunctions {
    names: Vec<String>,
    trigger: Option<&'static str>,
}

/// Answers 404, as for a path no function answers, to an invocation request
/// without the runtime's invocation secret (when it has one).
async fn require_invocation_secret(
    axum::extract::State(secret): axum::extract::State<Option<Arc<str>>>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    if let Some(secret) = secret {
        let given = request.headers().get(INVOCATION_SECRET_HEADER).map(|v| v.as_bytes());
        if given != Some(secret.as_bytes()) {
            return Problem::not_found("no function answers this path").into_response();
        }
    }
    next.run(request).await
}

fn invocation_id(headers: &HeaderMap) -> String {
    headers
        .get(&INVOCATION_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned)
}

fn envelope_problem(error: &EnvelopeError) -> Response {
    tracing::warn!(error = %error, "malformed invocation envelope");
    Problem::bad_request(error.to_string()).into_response()
}

async fn invoke_queue(
    name: String,
    queue: String,
    handler: QueueHandlerFn,
    failures: Arc<dyn FailureSink>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let invocation_id = invocation_id(&headers);
    let parsed = InvocationRequest::parse(&body).and_then(|request| {
        Ok((request.queue_message_text(QUEUE_BINDING)?, request.queue_metadata()?, request.retry_context()))
    });
    let (text, meta, retry) = match parsed {
        Ok(parts) => parts,
        Err(error) => return envelope_problem(&error),
    };
    let message_id = meta.id.clone();
    // The invocation's span is the one the router opened for this request.
    let span = tracing::Span::current();
    span.record("message_id", meta.id.as_str());
    span.record("dequeue_count", meta.dequeue_count);
    let started = Instant::now();
    let dequeue_count = meta.dequeue_count;
    let delivery = QueueDelivery { queue, message: text.clone(), message_id, dequeue_count };
    let mut result =
        handler(QueueInvocation { message: text, meta, invocation_id: invocation_id.clone(), retry }).await;
    // The last try of a passing fault: recorded whole with its reason (the
    // poison record) instead of left to the host's reasonless poison copy.
    if dequeue_count >= crate::manifest::QUEUE_SETTINGS.max_dequeue_count
        && let Err(InvocationError::Retryable(error)) = result
    {
        result = Err(InvocationError::Permanent(
            format!("failed on its last try ({dequeue_count}): {}", error_chain(error.as_ref())).into(),
        ));
    }
    finish(&name, &invocation_id, Some(delivery), result, failures.as_ref(), started).await
}

/// The queue message an invocation carried, for its failure record.
struct QueueDelivery {
    queue: String,
    message: String,
    message_id: String,
    dequeue_count: u32,
}

async fn invoke_timer(
    name: String,
    handler: TimerHandlerFn,
    failures: Arc<dyn FailureSink>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let invocation_id = invocation_id(&headers);
    let info = match InvocationRequest::parse(&body).and_then(|request| request.timer_info(TIMER_BINDING)) {
        Ok(info) => info,
        Err(error) => return envelope_problem(&error),
    };
    // The invocation's span is the one the router opened for this request.
    tracing::Span::current().record("past_due", info.is_past_due);
    let started = Instant::now();
    let result = handler(TimerInvocation { info, invocation_id: invocation_id.clone() }).await;
    finish(&name, &invocation_id, None, result, failures.as_ref(), started).await
}

/// Maps a handler's result to what the host understands: 200 with the
/// response envelope (done, or permanently failed and recorded) or 500 (retry).
async fn finish(
    name: &str,
    invocation_id: &str,
    delivery: Option<QueueDelivery>,
    result: Result<Outcome, InvocationError>,
    failures: &dyn FailureSink,
    started: Instant,
) -> Response {
    let duration_ms = started.elapsed().as_millis() as u64;
    match result {
        Ok(outcome) => {
            tracing::info!(duration_ms, "invocation succeeded");
            let response =
                InvocationResponse { outputs: outcome.outputs, logs: outcome.logs, return_value: outcome.return_value };
            (StatusCode::OK, axum::Json(response)).into_response()
        }
        Err(InvocationError::Retryable(error)) => {
            tracing::warn!(duration_ms, error = %error_chain(error.as_ref()), "invocation failed; the host will retry");
            Problem::internal().into_response()
        }
        Err(InvocationError::Permanent(error)) => {
            // Acknowledged to the host (200) but a failed run all the same.
            tracing::Span::current().record("otel.status_code", "ERROR");
            let reason = error_chain(error.as_ref());
            tracing::error!(duration_ms, error = %reason, "invocation failed permanently; recorded and acknowledged");
            let (message_id, queue, dequeue_count, message) = match delivery {
                Some(d) => (Some(d.message_id), Some(d.queue), Some(d.dequeue_count), Some(d.message)),
                None => (None, None, None, None),
            };
            let recorded = failures
                .record(InvocationFailure {
                    function: name.to_owned(),
                    invocation_id: invocation_id.to_owned(),
                    message_id,
                    reason: reason.clone(),
                    at: OffsetDateTime::now_utc(),
                    queue,
                    dequeue_count,
                    message,
                })
                .await;
            if let Err(why) = recorded {
                // Not acknowledged: the host delivers it again rather than lose it.
                tracing::error!(error = %why, "the failure could not be recorded; the message is not acknowledged");
                return Problem::internal().into_response();
            }
            let response = InvocationResponse {
                outputs: serde_json::Map::new(),
                logs: vec![format!("permanent failure, not retried: {reason}")],
                return_value: Value::Null,
            };
            (StatusCode::OK, axum::Json(response)).into_response()
        }
    }
}

/// An error and all its sources, for the log.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod cache_control_tests {
    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::{Request, header};
    use tower::ServiceExt as _;

    use super::Runtime;
    use crate::{Function, op};

    mod personal {
        /// The operation id: this function's name and its `operationId`.
        pub const OPERATION: &str = "Personal";

        #[utoipa::path(get, path = "/api/me/thing", operation_id = OPERATION,
            responses((status = 200, description = "A citizen's data.", body = Object)))]
        pub async fn handler() -> axum::Json<serde_json::Value> {
            axum::Json(serde_json::json!({"name": "Jana"}))
        }
    }

    mod public {
        /// The operation id: this function's name and its `operationId`.
        pub const OPERATION: &str = "Public";

        #[utoipa::path(get, path = "/api/public", operation_id = OPERATION,
            responses((status = 200, description = "Cacheable.", body = String)))]
        pub async fn handler() -> ([(axum::http::HeaderName, &'static str); 1], &'static str) {
            ([(axum::http::header::CACHE_CONTROL, "public, max-age=60")], "hi")
        }
    }

    #[derive(Debug)]
    struct Nothing;

    #[async_trait::async_trait]
    impl crate::FailureSink for Nothing {
        async fn record(&self, _: crate::InvocationFailure) -> Result<(), String> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn every_personal_json_answer_and_error_is_no_store_unless_the_handler_chose_caching() {
        let functions = vec![Function::api(op!(personal)).build(), Function::api(op!(public)).build()];
        let router = Runtime::new(functions, Arc::new(Nothing)).expect("valid").router();
        let cache = |path: &'static str, method: &'static str| {
            let router = router.clone();
            async move {
                let request = Request::builder().method(method).uri(path).body(Body::empty()).expect("request");
                let response = router.oneshot(request).await.expect("infallible");
                response.headers().get(header::CACHE_CONTROL).and_then(|v| v.to_str().ok()).map(str::to_owned)
            }
        };
        assert_eq!(cache("/api/me/thing", "GET").await.as_deref(), Some("no-store"));
        assert_eq!(cache("/api/me/thing", "DELETE").await.as_deref(), Some("no-store"), "a 405 problem too");
        assert_eq!(cache("/api/public", "GET").await.as_deref(), Some("public, max-age=60"));
    }
}
