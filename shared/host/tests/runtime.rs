//! The runtime, in process: every request kind the Functions host sends.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt as _;
use portal_host::envelope::host_side::{QueueMessageProperties, queue_invocation, timer_invocation};
use portal_host::envelope::{InvocationResponse, TimerInfo};
use portal_host::runtime::DeclarationError;
use portal_host::{FailureSink, Function, InvocationError, InvocationFailure, Outcome, Runtime, op};
use serde_json::{Value, json};
use time::macros::datetime;
use tower::ServiceExt as _;

#[derive(Debug, Default)]
struct Recorded(Mutex<Vec<InvocationFailure>>);

#[async_trait::async_trait]
impl FailureSink for Recorded {
    async fn record(&self, failure: InvocationFailure) -> Result<(), String> {
        self.0.lock().expect("lock").push(failure);
        Ok(())
    }
}

/// The HTTP functions the tests declare, each as its documented operation.
mod echo {
    /// The operation id: this function's name and its `operationId`.
    pub const OPERATION: &str = "Echo";

    #[utoipa::path(get, path = "/api/echo/{name}", operation_id = OPERATION,
        params(("name" = String, Path, description = "Who to greet.")),
        responses((status = 200, description = "A greeting.", body = String)))]
    pub async fn handler(axum::extract::Path(name): axum::extract::Path<String>) -> String {
        format!("hello {name}")
    }
}

mod boom {
    /// The operation id: this function's name and its `operationId`.
    pub const OPERATION: &str = "Boom";

    #[utoipa::path(get, path = "/api/boom", operation_id = OPERATION, responses((status = 500, description = "Always panics.")))]
    pub async fn handler() -> &'static str {
        if std::hint::black_box(true) {
            panic!("boom");
        }
        "unreachable"
    }
}

mod route_a {
    /// The operation id: this function's name and its `operationId`.
    pub const OPERATION: &str = "A";

    #[utoipa::path(get, path = "/api/x", operation_id = OPERATION, responses((status = 200, description = "a")))]
    pub async fn handler() -> &'static str {
        "a"
    }
}

mod route_b {
    /// The operation id: this function's name and its `operationId`.
    pub const OPERATION: &str = "B";

    #[utoipa::path(get, path = "/api/x", operation_id = OPERATION, responses((status = 200, description = "b")))]
    pub async fn handler() -> &'static str {
        "b"
    }
}

mod slow {
    /// The operation id: this function's name and its `operationId`.
    pub const OPERATION: &str = "Slow";

    #[utoipa::path(get, path = "/api/slow", operation_id = OPERATION, responses((status = 200, description = "Too late.")))]
    pub async fn handler() -> &'static str {
        tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
        "late"
    }
}

/// An operation whose attribute names no operation id (utoipa then documents
/// `handler`) is not the function's: the document refuses it.
mod unnamed {
    /// The function's name, which the attribute below does not carry.
    pub const OPERATION: &str = "Unnamed";

    #[utoipa::path(get, path = "/api/unnamed", responses((status = 200, description = "x")))]
    pub async fn handler() -> &'static str {
        "x"
    }
}

mod echo_body {
    /// The operation id: this function's name and its `operationId`.
    pub const OPERATION: &str = "EchoBody";

    #[utoipa::path(post, path = "/api/echo", operation_id = OPERATION, responses((status = 200, description = "The body's length.")))]
    pub async fn handler(body: axum::body::Bytes) -> String {
        body.len().to_string()
    }
}

#[derive(Debug, serde::Deserialize)]
struct Credit {
    #[serde(rename = "amountCzk")]
    amount_czk: u32,
}

fn functions() -> Vec<Function> {
    vec![
        Function::api(op!(echo)).build(),
        Function::api(op!(boom)).build(),
        Function::queue(
            "PurchaseCredit",
            "purchase-credit",
            |invocation: portal_host::QueueInvocation<Credit>| async move {
                match invocation.message.amount_czk {
                    0 => Err(InvocationError::permanent("amount must be positive")),
                    500 => Err(InvocationError::retryable("payment gateway timed out")),
                    amount => {
                        Ok(Outcome::done().log(format!("bought {amount} CZK, try {}", invocation.meta.dequeue_count)))
                    }
                }
            },
        ),
        Function::timer("Tick", "0 */5 * * * *", |invocation| async move {
            Ok(Outcome::done().returning(json!({"pastDue": invocation.info.is_past_due})))
        }),
    ]
}

fn app() -> (axum::Router, Arc<Recorded>) {
    let failures = Arc::new(Recorded::default());
    let runtime = Runtime::new(functions(), failures.clone()).expect("valid declarations");
    (runtime.router(), failures)
}

async fn send(router: &axum::Router, request: Request<Body>) -> (StatusCode, Option<String>, Vec<u8>) {
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let content_type = response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body = response.into_body().collect().await.expect("body").to_bytes().to_vec();
    (status, content_type, body)
}

fn post(path: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(path)
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        .header("X-Azure-Functions-InvocationId", "fa4fcd1a-a965-431e-8f10-a15c07b4fe2a")
        .body(body.into())
        .expect("request")
}

fn queue_body(text: &str, dequeue_count: u32) -> Vec<u8> {
    let properties = QueueMessageProperties {
        id: "m-1".into(),
        pop_receipt: "r-1".into(),
        dequeue_count,
        insertion_time: datetime!(2026-11-23 08:00 UTC),
        expiration_time: datetime!(2026-11-30 08:00 UTC),
        next_visible_time: datetime!(2026-11-23 08:00:10 UTC),
    };
    serde_json::to_vec(&queue_invocation(
        "PurchaseCredit",
        "message",
        text,
        &properties,
        datetime!(2026-11-23 08:00 UTC),
    ))
    .expect("serialise")
}

#[tokio::test]
async fn readiness_probe_answers_at_once() {
    let (router, _) = app();
    let (status, _, body) = send(&router, Request::get("/").body(Body::empty()).expect("request")).await;
    assert_eq!((status, body.as_slice()), (StatusCode::OK, b"ready".as_slice()));
}

#[tokio::test]
async fn http_functions_answer_under_api() {
    let (router, _) = app();
    let (status, _, body) = send(&router, Request::get("/api/echo/Jana").body(Body::empty()).expect("request")).await;
    assert_eq!((status, String::from_utf8_lossy(&body).as_ref()), (StatusCode::OK, "hello Jana"));
    let (status, content_type, _) = send(&router, post("/api/echo/Jana", "")).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(content_type.as_deref(), Some("application/problem+json"));
}

#[tokio::test]
async fn unknown_functions_get_a_404_problem() {
    let (router, _) = app();
    for request in [post("/NoSuchFunction", "{}"), Request::get("/api/nothing").body(Body::empty()).expect("request")] {
        let (status, content_type, body) = send(&router, request).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(content_type.as_deref(), Some("application/problem+json"));
        let problem: Value = serde_json::from_slice(&body).expect("problem JSON");
        assert_eq!((problem["status"].as_u64(), problem["type"].as_str()), (Some(404), Some("/problems/not-found")));
    }
}

#[tokio::test]
async fn a_timer_envelope_gets_a_valid_response_envelope() {
    let (router, _) = app();
    let info = TimerInfo { schedule: None, schedule_status: None, is_past_due: true };
    let body = serde_json::to_vec(&timer_invocation("Tick", "timer", &info, datetime!(2026-11-23 08:00 UTC)))
        .expect("serialise");
    let (status, content_type, body) = send(&router, post("/Tick", body)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type.as_deref(), Some("application/json"));
    let response: InvocationResponse = serde_json::from_slice(&body).expect("response envelope");
    assert_eq!(response.return_value, json!({"pastDue": true}));
    let raw: Value = serde_json::from_slice(&body).expect("json");
    assert!(raw.get("Outputs").is_some() && raw.get("Logs").is_some() && raw.get("ReturnValue").is_some(), "{raw}");
}

#[tokio::test]
async fn malformed_envelopes_get_400_and_the_server_keeps_serving() {
    let (router, _) = app();
    for (path, body) in [
        ("/Tick", "{not json"),
        ("/Tick", r#"{"Data":{},"Metadata":{}}"#),
        ("/PurchaseCredit", r#"{"Data":{"message":"\"x\""},"Metadata":{"Id":"\"m\"","DequeueCount":"lots"}}"#),
    ] {
        let (status, content_type, body) = send(&router, post(path, body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {}", String::from_utf8_lossy(&body));
        assert_eq!(content_type.as_deref(), Some("application/problem+json"));
    }
    let (status, _, _) = send(&router, Request::get("/").body(Body::empty()).expect("request")).await;
    assert_eq!(status, StatusCode::OK, "still serving");
}

#[tokio::test]
async fn queue_messages_arrive_typed() {
    let (router, failures) = app();
    let (status, _, body) = send(&router, post("/PurchaseCredit", queue_body(r#"{"amountCzk":200}"#, 2))).await;
    assert_eq!(status, StatusCode::OK);
    let response: InvocationResponse = serde_json::from_slice(&body).expect("response envelope");
    assert_eq!(response.logs, ["bought 200 CZK, try 2"]);
    assert!(failures.0.lock().expect("lock").is_empty());
}

#[tokio::test]
async fn retryable_failures_answer_500_without_internal_text() {
    let (router, failures) = app();
    let (status, content_type, body) =
        send(&router, post("/PurchaseCredit", queue_body(r#"{"amountCzk":500}"#, 1))).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "non-2xx makes the host retry");
    assert_eq!(content_type.as_deref(), Some("application/problem+json"));
    assert!(!String::from_utf8_lossy(&body).contains("gateway"), "no internal text in a 5xx body");
    assert!(failures.0.lock().expect("lock").is_empty(), "a retryable failure is not recorded as final");
}

#[tokio::test]
async fn permanent_failures_are_recorded_and_acknowledged() {
    let (router, failures) = app();
    for text in [r#"{"amountCzk":0}"#, r#"{"amount":"lots"}"#, "not json at all"] {
        let (status, _, body) = send(&router, post("/PurchaseCredit", queue_body(text, 1))).await;
        assert_eq!(status, StatusCode::OK, "acknowledged so the host does not retry: {text}");
        let response: InvocationResponse = serde_json::from_slice(&body).expect("response envelope");
        assert!(response.logs[0].starts_with("permanent failure"), "{:?}", response.logs);
    }
    let recorded = failures.0.lock().expect("lock").clone();
    assert_eq!(recorded.len(), 3);
    assert_eq!(recorded[0].function, "PurchaseCredit");
    assert_eq!(recorded[0].message_id.as_deref(), Some("m-1"));
    assert_eq!(recorded[0].invocation_id, "fa4fcd1a-a965-431e-8f10-a15c07b4fe2a");
    assert!(recorded[1].reason.contains("expected schema"), "{}", recorded[1].reason);
}

#[tokio::test]
async fn a_failed_message_is_recorded_whole_and_the_last_try_of_a_passing_fault_too() {
    let (router, failures) = app();
    let text = r#"{"amountCzk":0}"#;
    let (status, _, _) = send(&router, post("/PurchaseCredit", queue_body(text, 1))).await;
    assert_eq!(status, StatusCode::OK);
    let retry = r#"{"amountCzk":500}"#;
    let (status, _, _) = send(&router, post("/PurchaseCredit", queue_body(retry, 4))).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "the fourth try is still retried");
    let (status, _, _) = send(&router, post("/PurchaseCredit", queue_body(retry, 5))).await;
    assert_eq!(status, StatusCode::OK, "the fifth (last) try is recorded instead of left to the host");
    let recorded = failures.0.lock().expect("lock").clone();
    assert_eq!(recorded.len(), 2);
    let first = recorded[0].poison_record().expect("a queue failure has a poison record");
    assert_eq!((first.queue.as_str(), first.message.as_str(), first.dequeue_count), ("purchase-credit", text, 1));
    let last = recorded[1].poison_record().expect("record");
    assert_eq!((last.message.as_str(), last.dequeue_count), (retry, 5));
    assert!(last.reason.contains("last try") && last.reason.contains("timed out"), "{}", last.reason);
    let stored = serde_json::to_value(&recorded[1]).expect("json");
    assert!(stored.get("message").is_none(), "the failure index never holds the message text: {stored}");
}

/// A sink that cannot keep anything (its store is down).
#[derive(Debug)]
struct Unrecordable;

#[async_trait::async_trait]
impl FailureSink for Unrecordable {
    async fn record(&self, _: InvocationFailure) -> Result<(), String> {
        Err("the store is down".into())
    }
}

#[tokio::test]
async fn a_failure_that_cannot_be_recorded_is_not_acknowledged() {
    let router = Runtime::new(functions(), Arc::new(Unrecordable)).expect("valid").router();
    let (status, _, _) = send(&router, post("/PurchaseCredit", queue_body(r#"{"amountCzk":0}"#, 1))).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "the host keeps the message and delivers it again");
}

#[tokio::test]
async fn a_panicking_handler_gets_a_500_problem_and_the_server_survives() {
    let (router, _) = app();
    let (status, content_type, body) =
        send(&router, Request::get("/api/boom").body(Body::empty()).expect("request")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(content_type.as_deref(), Some("application/problem+json"));
    assert!(!String::from_utf8_lossy(&body).contains("boom"));
    let (status, _, _) = send(&router, Request::get("/api/echo/x").body(Body::empty()).expect("request")).await;
    assert_eq!(status, StatusCode::OK);
}

#[test]
fn bad_declarations_are_refused() {
    let sink = Arc::new(Recorded::default());
    let twice = vec![
        Function::timer("Tick", "0 0 * * * *", |_| async { Ok(Outcome::done()) }),
        Function::timer("tick", "0 0 * * * *", |_| async { Ok(Outcome::done()) }),
    ];
    assert_eq!(Runtime::new(twice, sink.clone()).err(), Some(DeclarationError::DuplicateName("tick".into())));
    let same_route = vec![Function::api(op!(route_a)).build(), Function::api(op!(route_b)).build()];
    assert!(matches!(Runtime::new(same_route, sink.clone()), Err(DeclarationError::DuplicateRoute(..))));
    let bad_name = vec![Function::timer("has space", "0 0 * * * *", |_| async { Ok(Outcome::done()) })];
    assert!(matches!(Runtime::new(bad_name, sink.clone()), Err(DeclarationError::BadName(_))));
    let unnamed = Runtime::new(vec![Function::api(op!(unnamed)).build()], sink).expect("declared");
    assert_eq!(
        unnamed.openapi().err(),
        Some(DeclarationError::OperationIdMismatch("Unnamed".into(), "handler".into()))
    );
}

#[tokio::test]
async fn timers_can_be_switched_off_for_a_secondary_region() {
    let runtime = Runtime::new(functions(), Arc::new(Recorded::default())).expect("valid").with_timers_enabled(false);
    let info = TimerInfo { schedule: None, schedule_status: None, is_past_due: false };
    let body = serde_json::to_vec(&timer_invocation("Tick", "timer", &info, datetime!(2026-11-23 08:00 UTC)))
        .expect("serialise");
    let (status, _, body) = send(&runtime.router(), post("/Tick", body)).await;
    assert_eq!(status, StatusCode::OK, "acknowledged, so the host does not report a failure");
    let response: InvocationResponse = serde_json::from_slice(&body).expect("response envelope");
    assert_eq!(response.return_value, Value::Null, "the handler did not run");
    assert!(response.logs[0].starts_with("skipped"), "{:?}", response.logs);
}

#[tokio::test(start_paused = true)]
async fn slow_http_handlers_are_cut_off() {
    let functions = vec![Function::api(op!(slow)).build()];
    let router = Runtime::new(functions, Arc::new(Recorded::default())).expect("valid").router();
    let started = tokio::time::Instant::now();
    let (status, content_type, _) =
        send(&router, Request::get("/api/slow").body(Body::empty()).expect("request")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "the request timeout answers for the handler");
    assert_eq!(content_type.as_deref(), Some("application/problem+json"));
    assert_eq!(started.elapsed(), portal_host::runtime::HTTP_TIMEOUT, "at the timeout, not before");
}

mod streamed {
    /// The operation id: this function's name and its `operationId`.
    pub const OPERATION: &str = "Streamed";

    #[utoipa::path(get, path = "/api/streamed", operation_id = OPERATION, responses((status = 200, description = "Two pieces.")))]
    pub async fn handler() -> axum::body::Body {
        use futures::StreamExt as _;
        axum::body::Body::from_stream(futures::stream::iter(["one ", "two"]).map(|piece| {
            tracing::info!(piece, "piece read");
            Ok::<_, std::convert::Infallible>(axum::body::Bytes::from(piece))
        }))
    }
}

#[tokio::test]
async fn a_streamed_body_is_read_inside_its_requests_span_and_a_whole_one_ends_it() {
    let logs = portal_testkit::LogBuffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_ansi(false)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .finish();
    let _capture = portal_testkit::capture(subscriber);
    let functions = vec![Function::api(op!(streamed)).build(), Function::api(op!(echo)).build()];
    let router = Runtime::new(functions, Arc::new(Recorded::default())).expect("valid").router();
    let (status, _, body) = send(&router, Request::get("/api/streamed").body(Body::empty()).expect("request")).await;
    assert_eq!((status, body.as_slice()), (StatusCode::OK, b"one two".as_slice()));
    let (status, _, _) = send(&router, Request::get("/api/echo/x").body(Body::empty()).expect("request")).await;
    assert_eq!(status, StatusCode::OK);

    let text = logs.text();
    let lines: Vec<&str> = text.lines().collect();
    let at = |what: &str| lines.iter().position(|line| line.contains(what)).unwrap_or_else(|| panic!("{what}: {text}"));
    for piece in ["piece=\"one \"", "piece=\"two\""] {
        assert!(
            lines[at(piece)].contains("request{method=\"GET\" route=\"/api/streamed\""),
            "{piece} outside the span: {text}"
        );
    }
    // The streamed request's span closes after its last piece; the whole
    // answer's right after its line.
    assert!(at("piece=\"two\"") < at("close"), "{text}");
    let echo_closed =
        lines.iter().rposition(|line| line.contains("route=\"/api/echo/{name}\"") && line.contains("close"));
    let echo_line =
        lines.iter().position(|line| line.contains("route=\"/api/echo/{name}\"") && line.contains("request finished"));
    assert!(echo_line.is_some() && echo_closed > echo_line, "{text}");
}

/// The request's line through tracing's own format, which writes every field
/// of the span: the exporter's fields are there only when spans are exported.
#[tokio::test]
async fn a_request_span_carries_the_exporters_fields_only_when_exported() {
    for exported in [true, false] {
        let logs = portal_testkit::LogBuffer::default();
        let subscriber = tracing_subscriber::fmt().with_writer(logs.clone()).with_ansi(false).finish();
        let _capture = portal_testkit::capture(subscriber);
        let functions = vec![Function::api(op!(echo)).build()];
        let router =
            Runtime::new(functions, Arc::new(Recorded::default())).expect("valid").with_export(exported).router();
        let (status, _, _) = send(&router, Request::get("/api/echo/x").body(Body::empty()).expect("request")).await;
        assert_eq!(status, StatusCode::OK);

        let text = logs.text();
        let line = text.lines().find(|line| line.contains("request finished")).unwrap_or_else(|| panic!("{text}"));
        for written in ["status=200", "method=\"GET\"", "route=\"/api/echo/{name}\"", "function=\"Echo\""] {
            assert!(line.contains(written), "{written} in {line}");
        }
        for field in ["otel.name=\"Echo\"", "otel.kind=\"server\"", "http.response.status_code=200"] {
            assert_eq!(line.contains(field), exported, "{field} when exported is {exported}: {line}");
        }
    }
}

#[tokio::test]
async fn http_bodies_up_to_the_limit_are_read_and_larger_ones_refused() {
    let functions = vec![Function::api(op!(echo_body)).build()];
    let router = Runtime::new(functions, Arc::new(Recorded::default())).expect("valid").router();
    let limit = portal_host::runtime::HTTP_BODY_LIMIT;
    let (status, _, body) =
        send(&router, Request::post("/api/echo").body(Body::from(vec![b'x'; limit])).expect("request")).await;
    assert_eq!((status, body), (StatusCode::OK, limit.to_string().into_bytes()), "the limit itself is read");
    let big = vec![b'x'; limit + 1];
    let (status, content_type, _) =
        send(&router, Request::post("/api/echo").body(Body::from(big)).expect("request")).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(content_type.as_deref(), Some("application/problem+json"));
}

mod wired {
    /// The operation id: this function's name and its `operationId`.
    pub const OPERATION: &str = "Wired";

    #[utoipa::path(get, path = "/api/wired", operation_id = OPERATION, responses((status = 200, description = "What the prelude put.")))]
    pub async fn handler(axum::Extension(put): axum::Extension<&'static str>) -> &'static str {
        put
    }
}

#[tokio::test]
async fn the_prelude_runs_before_every_http_request_and_may_answer_it() {
    let runs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = Arc::clone(&runs);
    let prelude = portal_host::runtime::Prelude::new(move |request: &mut Request<Body>| {
        counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if request.uri().path() == "/app.js" {
            return Some(axum::response::IntoResponse::into_response("the prelude's file"));
        }
        request.extensions_mut().insert("put by the prelude");
        None
    });
    let mut functions = functions();
    functions.push(Function::api(op!(wired)).build());
    let router = Runtime::new(functions, Arc::new(Recorded::default())).expect("valid").router_with(Some(prelude));

    let (status, _, body) = send(&router, Request::get("/api/wired").body(Body::empty()).expect("request")).await;
    assert_eq!((status, body.as_slice()), (StatusCode::OK, b"put by the prelude".as_slice()));
    let (status, _, body) = send(&router, Request::get("/app.js").body(Body::empty()).expect("request")).await;
    assert_eq!((status, body.as_slice()), (StatusCode::OK, b"the prelude's file".as_slice()), "no route, answered");
    assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 2);

    let info = TimerInfo { schedule: None, schedule_status: None, is_past_due: false };
    let timer = timer_invocation("Tick", "timer", &info, datetime!(2026-11-23 08:00 UTC));
    let (status, _, _) = send(&router, post("/Tick", serde_json::to_vec(&timer).expect("json"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 2, "not before the host's invocations");
}
