//! Telemetry export against a local ingestion endpoint: what reaches
//! Application Insights for an HTTP request and for a queue invocation that
//! each make a store call.
//!
//! Each test installs its own subscriber for its own thread only
//! (`portal_testkit::capture`), and runs on a multi-thread runtime: the exporter's uploads
//! run on the runtime's workers while the test thread waits for the flush.

use std::io::Read as _;
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::routing::post;
use http_body_util::BodyExt as _;
use portal_host::envelope::host_side::{QueueMessageProperties, queue_invocation};
use portal_host::runtime::LogFailures;
use portal_host::{Function, InvocationError, Outcome, QueueInvocation, Runtime, op};
use portal_store::embedded::EmbeddedStore;
use portal_store::{DocumentStore as _, ManualClock, NewDocument};
use portal_telemetry::{Export, LogFormat, Telemetry};
use serde_json::{Value, json};
use tower::ServiceExt as _;

/// A pseudonymous subject id: it must never reach Application Insights.
const SUBJECT: &str = "subject-7f3a9c";

/// What the ingestion endpoint received, one JSON envelope per item.
#[derive(Debug, Clone, Default)]
struct Received(Arc<Mutex<Vec<Value>>>, Arc<Mutex<Vec<String>>>);

impl Received {
    fn envelopes(&self) -> Vec<Value> {
        self.0.lock().expect("lock").clone()
    }

    fn raw(&self) -> String {
        self.1.lock().expect("lock").join("\n")
    }
}

async fn track(State(received): State<Received>, headers: HeaderMap, body: Bytes) -> (StatusCode, String) {
    let gzip = headers.get("content-encoding").is_some_and(|v| v.as_bytes() == b"gzip");
    let text = if gzip {
        let mut text = String::new();
        if flate2::read::GzDecoder::new(body.as_ref()).read_to_string(&mut text).is_err() {
            return (StatusCode::BAD_REQUEST, "bad gzip".into());
        }
        text
    } else {
        String::from_utf8_lossy(&body).into_owned()
    };
    // A JSON array, or newline-delimited envelopes.
    let items: Vec<Value> = match serde_json::from_str::<Value>(&text) {
        Ok(Value::Array(items)) => items,
        _ => text.lines().filter_map(|line| serde_json::from_str(line).ok()).collect(),
    };
    let count = items.len();
    received.0.lock().expect("lock").extend(items);
    received.1.lock().expect("lock").push(text);
    (StatusCode::OK, json!({"itemsReceived": count, "itemsAccepted": count, "errors": []}).to_string())
}

/// Starts the receiver on a free loopback port; returns what it records and
/// the connection string pointing at it.
async fn ingestion_endpoint() -> (Received, Export) {
    let received = Received::default();
    let app = axum::Router::new()
        .route("/v2/track", post(track))
        .route("/v2.1/track", post(track))
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let export = Export {
        connection_string: format!(
            "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:{port}/"
        )
        .into(),
        service_name: "portal".into(),
        service_version: "0.0.0-test".into(),
        credential: None,
    };
    (received, export)
}

fn store() -> Arc<EmbeddedStore> {
    let clock = Arc::new(ManualClock::new(time::macros::datetime!(2026-11-23 08:00 UTC)));
    Arc::new(EmbeddedStore::in_memory(clock).expect("store"))
}

/// `GET /api/notes/{id}`: a store read inside a request.
mod read_note {
    use std::sync::Arc;

    use axum::extract::{Path, State};
    use axum::http::StatusCode;
    use portal_store::DocumentStore as _;
    use portal_store::embedded::EmbeddedStore;

    /// The operation id: this function's name and its `operationId`.
    pub const OPERATION: &str = "ReadNote";

    #[utoipa::path(
        get,
        path = "/api/notes/{id}",
        operation_id = OPERATION,
        params(("id" = String, Path, description = "The note.")),
        responses((status = 200, description = "The note exists."), (status = 404, description = "It does not."))
    )]
    pub async fn handler(State(store): State<Arc<EmbeddedStore>>, Path(id): Path<String>) -> StatusCode {
        tracing::info!(citizen = super::SUBJECT, "reading a note");
        match store.get("notes", super::SUBJECT, &id).await {
            Ok(Some(_)) => StatusCode::OK,
            Ok(None) => StatusCode::NOT_FOUND,
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// `GET /api/broken`: always fails.
mod broken {
    use axum::http::StatusCode;

    /// The operation id: this function's name and its `operationId`.
    pub const OPERATION: &str = "Broken";

    #[utoipa::path(get, path = "/api/broken", operation_id = OPERATION, responses((status = 500, description = "Always.")))]
    pub async fn handler() -> StatusCode {
        StatusCode::INTERNAL_SERVER_ERROR
    }
}

fn functions(store: Arc<EmbeddedStore>) -> Vec<Function> {
    let queue_store = Arc::clone(&store);
    vec![
        Function::api(op!(read_note)).with_state(store).build(),
        Function::api(op!(broken)).build(),
        Function::queue("FileNote", "file-note", move |invocation: QueueInvocation<Value>| {
            let store = Arc::clone(&queue_store);
            async move {
                let Some(id) = invocation.message["id"].as_str() else {
                    return Err(InvocationError::permanent("the message names no note"));
                };
                store
                    .create("notes", NewDocument::new(SUBJECT, id, json!({"text": "hello"})))
                    .await
                    .map_err(InvocationError::retryable)?;
                Ok(Outcome::done())
            }
        }),
    ]
}

async fn call(router: &axum::Router, request: Request<Body>) -> StatusCode {
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    // The request span closes when the body is done.
    let _ = response.into_body().collect().await.expect("body");
    status
}

fn queue_request(text: &str) -> Request<Body> {
    queue_request_with(text, None)
}

fn queue_request_with(text: &str, traceparent: Option<&str>) -> Request<Body> {
    let properties = QueueMessageProperties {
        id: "m-1".into(),
        pop_receipt: "r-1".into(),
        dequeue_count: 1,
        insertion_time: time::macros::datetime!(2026-11-23 08:00 UTC),
        expiration_time: time::macros::datetime!(2026-11-30 08:00 UTC),
        next_visible_time: time::macros::datetime!(2026-11-23 08:00:10 UTC),
    };
    let body = serde_json::to_vec(&queue_invocation(
        "FileNote",
        "message",
        text,
        &properties,
        time::macros::datetime!(2026-11-23 08:00 UTC),
    ))
    .expect("serialise");
    let mut request = Request::post("/FileNote")
        .header("content-type", "application/json")
        .header("x-azure-functions-invocationid", "fa4fcd1a-a965-431e-8f10-a15c07b4fe2a");
    if let Some(traceparent) = traceparent {
        request = request.header("traceparent", traceparent);
    }
    request.body(Body::from(body)).expect("request")
}

async fn flush(telemetry: &Telemetry) {
    let telemetry = telemetry.clone();
    tokio::task::spawn_blocking(move || telemetry.flush_blocking()).await.expect("flush");
}

fn of_type<'a>(envelopes: &'a [Value], base_type: &str) -> Vec<&'a Value> {
    envelopes.iter().filter(|e| e["data"]["baseType"] == base_type).collect()
}

fn request<'a>(envelopes: &'a [Value], name: &str) -> &'a Value {
    let found: Vec<_> =
        of_type(envelopes, "RequestData").into_iter().filter(|e| e["data"]["baseData"]["name"] == name).collect();
    assert_eq!(found.len(), 1, "one request named {name} in {envelopes:#?}");
    found[0]
}

/// The dependencies whose parent is `request`, checking they share its operation.
fn children<'a>(envelopes: &'a [Value], request: &Value) -> Vec<&'a Value> {
    let request_id = &request["data"]["baseData"]["id"];
    let operation = &request["tags"]["ai.operation.id"];
    of_type(envelopes, "RemoteDependencyData")
        .into_iter()
        .filter(|d| d["tags"]["ai.operation.id"] == *operation && d["tags"]["ai.operation.parentId"] == *request_id)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_request_is_a_request_with_its_store_call_as_a_child_dependency() {
    let (received, export) = ingestion_endpoint().await;
    let (subscriber, telemetry) =
        portal_telemetry::subscriber(LogFormat::Text, "info", Some(&export)).expect("telemetry");
    let _scope = portal_testkit::capture(subscriber);
    let router = Runtime::new(functions(store()), Arc::new(LogFailures)).expect("functions").router();

    let get = |path: &str| Request::get(path).body(Body::empty()).expect("request");
    assert_eq!(call(&router, get("/api/notes/n-1")).await, StatusCode::NOT_FOUND);
    assert_eq!(call(&router, get("/api/broken")).await, StatusCode::INTERNAL_SERVER_ERROR);
    flush(&telemetry).await;

    let envelopes = received.envelopes();
    let read = request(&envelopes, "ReadNote");
    let data = &read["data"]["baseData"];
    assert_eq!(data["responseCode"], "404", "{read:#}");
    assert_eq!(data["success"], true, "a 404 is an answer, not a failure: {read:#}");
    assert!(data["duration"].as_str().is_some_and(|d| d.starts_with("0.00:00:")), "{read:#}");
    assert_eq!(read["tags"]["ai.operation.name"], "ReadNote");
    assert_eq!(read["tags"]["ai.cloud.role"], "portal");
    let operation = read["tags"]["ai.operation.id"].as_str().expect("operation id");
    assert_eq!(operation.len(), 32, "the trace id is the operation id");

    let dependencies = children(&envelopes, read);
    assert_eq!(dependencies.len(), 1, "the store read is the request's child: {envelopes:#?}");
    let dependency = &dependencies[0]["data"]["baseData"];
    assert_eq!(dependency["name"], "store.get");
    assert_eq!(dependency["type"], "SQLite");
    assert_eq!(dependency["target"], "embedded");
    assert_eq!(dependency["success"], true);
    assert_eq!(dependency["resultCode"], "OK");
    assert_eq!(dependency["properties"]["collection"], "notes");

    let broken = &request(&envelopes, "Broken")["data"]["baseData"];
    assert_eq!((&broken["responseCode"], &broken["success"]), (&json!("500"), &json!(false)));

    // The log line inside the request arrives as a trace of the same
    // operation, without the subject it named.
    let traces = of_type(&envelopes, "MessageData");
    assert!(
        traces
            .iter()
            .any(|t| t["data"]["baseData"]["message"] == "reading a note" && t["tags"]["ai.operation.id"] == operation),
        "{traces:#?}"
    );
    assert!(!received.raw().contains(SUBJECT), "a subject id reached Application Insights");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_invocation_is_a_request_named_by_the_function() {
    let (received, export) = ingestion_endpoint().await;
    let (subscriber, telemetry) =
        portal_telemetry::subscriber(LogFormat::Json, "warn", Some(&export)).expect("telemetry");
    let _scope = portal_testkit::capture(subscriber);
    let router = Runtime::new(functions(store()), Arc::new(LogFailures)).expect("functions").router();

    assert_eq!(call(&router, queue_request(r#"{"id":"n-2"}"#)).await, StatusCode::OK);
    flush(&telemetry).await;
    let envelopes = received.envelopes();
    let filed = request(&envelopes, "FileNote");
    let data = &filed["data"]["baseData"];
    assert_eq!((&data["responseCode"], &data["success"]), (&json!("200"), &json!(true)), "{filed:#}");
    assert_eq!(data["properties"]["trigger"], "queue");
    assert_eq!(data["properties"]["message_id"], "m-1");
    assert_eq!(data["properties"]["invocation_id"], "fa4fcd1a-a965-431e-8f10-a15c07b4fe2a");
    let dependencies = children(&envelopes, filed);
    assert_eq!(dependencies.len(), 1, "the store write is the invocation's child: {envelopes:#?}");
    assert_eq!(dependencies[0]["data"]["baseData"]["name"], "store.create");

    // A permanent failure is acknowledged to the host (200) but is a failed run.
    received.0.lock().expect("lock").clear();
    assert_eq!(call(&router, queue_request(r#"{"other":1}"#)).await, StatusCode::OK);
    flush(&telemetry).await;
    let envelopes = received.envelopes();
    let failed = &request(&envelopes, "FileNote")["data"]["baseData"];
    assert_eq!((&failed["responseCode"], &failed["success"]), (&json!("200"), &json!(false)), "{failed:#}");
}

/// The host's own request for an invocation carries its W3C trace context; our
/// invocation span joins that trace, so Application Insights shows it under
/// the host's request (same operation id, the host's span as parent). Without
/// the join it would be a root with an operation id of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invocation_nests_under_the_hosts_trace() {
    let (received, export) = ingestion_endpoint().await;
    let (subscriber, telemetry) =
        portal_telemetry::subscriber(LogFormat::Text, "info", Some(&export)).expect("telemetry");
    let _scope = portal_testkit::capture(subscriber);
    let router = Runtime::new(functions(store()), Arc::new(LogFailures))
        .expect("functions")
        .with_span_parent(portal_telemetry::join_traceparent)
        .router();
    let (trace, parent) = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
    let traceparent = format!("00-{trace}-{parent}-01");
    let invocation = queue_request_with(r#"{"id":"n-9"}"#, Some(&traceparent));
    assert_eq!(call(&router, invocation).await, StatusCode::OK);
    flush(&telemetry).await;

    let envelopes = received.envelopes();
    let invocation = request(&envelopes, "FileNote");
    assert_eq!(invocation["tags"]["ai.operation.id"], trace, "{invocation:#}");
    assert_eq!(invocation["tags"]["ai.operation.parentId"], parent, "{invocation:#}");
    assert_eq!(children(&envelopes, invocation).len(), 1, "the store write is still its child");
}
