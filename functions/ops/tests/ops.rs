use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use portal_host::envelope::TimerInfo;
use portal_host::runtime::LogFailures;
use portal_host::{Runtime, TimerInvocation};
use portal_ops::timer::housekeeping::run_housekeeping;
use portal_ops::{Ops, functions};
use portal_store::embedded::EmbeddedStore;
use portal_store::{
    BlobStore, DocumentStore, ManualClock, NewDocument, QueueName, QueueStore, StoreError, StoreResult,
};
use serde_json::{Value, json};
use time::macros::datetime;
use tower::ServiceExt as _;

fn ops(store: EmbeddedStore) -> Ops {
    let store = Arc::new(store);
    Ops {
        documents: store.clone(),
        blobs: store.clone(),
        queues: store,
        store_kind: "embedded",
        version: "0.1.0",
        environment: "local",
    }
}

async fn get(router: &axum::Router, path: &str) -> (StatusCode, Value) {
    let response =
        router.clone().oneshot(Request::get(path).body(Body::empty()).expect("request")).await.expect("infallible");
    let status = response.status();
    let body = response.into_body().collect().await.expect("body").to_bytes();
    (status, serde_json::from_slice(&body).expect("JSON body"))
}

#[tokio::test]
async fn health_ready_and_version_answer() {
    let store = EmbeddedStore::in_memory(Arc::new(ManualClock::new(datetime!(2026-11-23 08:00 UTC)))).expect("store");
    let router = Runtime::new(functions(ops(store)), Arc::new(LogFailures)).expect("declarations").router();
    assert_eq!(get(&router, "/api/health").await, (StatusCode::OK, json!({"status": "ok"})));
    let (status, body) = get(&router, "/api/ready").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["checks"], json!({"documents": "ok", "blobs": "ok", "queues": "ok"}));
    let (status, body) = get(&router, "/api/version").await;
    assert_eq!((status, body["store"].as_str()), (StatusCode::OK, Some("embedded")));
}

/// A blob store whose backend is down.
#[derive(Debug)]
struct DownBlobs;

#[async_trait::async_trait]
impl BlobStore for DownBlobs {
    async fn put(
        &self,
        _: &portal_store::BlobPath,
        _: bytes::Bytes,
        _: &str,
        _: std::collections::BTreeMap<String, String>,
        _: portal_store::PutMode,
    ) -> StoreResult<portal_store::BlobInfo> {
        Err(down())
    }
    async fn get(&self, _: &portal_store::BlobPath) -> StoreResult<(portal_store::BlobInfo, portal_store::BlobStream)> {
        Err(down())
    }
    async fn delete(&self, _: &portal_store::BlobPath) -> StoreResult<()> {
        Err(down())
    }
    async fn list(&self, _: &str) -> StoreResult<Vec<portal_store::BlobInfo>> {
        Err(down())
    }
    async fn ping(&self) -> StoreResult<()> {
        Err(down())
    }
}

fn down() -> StoreError {
    StoreError::Unavailable(Box::new(std::io::Error::new(
        std::io::ErrorKind::ConnectionRefused,
        "secret internal host 10.1.2.3",
    )))
}

#[tokio::test]
async fn ready_names_the_failed_dependency_and_hides_the_cause() {
    let store = EmbeddedStore::in_memory(Arc::new(ManualClock::new(datetime!(2026-11-23 08:00 UTC)))).expect("store");
    let mut ops = ops(store);
    ops.blobs = Arc::new(DownBlobs);
    let router = Runtime::new(functions(ops), Arc::new(LogFailures)).expect("declarations").router();
    let (status, body) = get(&router, "/api/ready").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["detail"], "not ready: blobs");
    assert!(!body.to_string().contains("10.1.2.3"), "no internal detail: {body}");
}

#[tokio::test]
async fn housekeeping_purges_expired_records_and_is_idempotent() {
    let clock = Arc::new(ManualClock::new(datetime!(2026-11-23 08:00 UTC)));
    let store = EmbeddedStore::in_memory(clock.clone()).expect("store");
    let doc = NewDocument::new("sessions", "s1", json!({"v": 1})).with_ttl(Duration::from_secs(900));
    DocumentStore::create(&store, "sessions", doc).await.expect("create");
    DocumentStore::create(&store, "sessions", NewDocument::new("sessions", "keep", json!({}))).await.expect("create");
    let ops = ops(store.clone());
    let invocation = || TimerInvocation {
        info: TimerInfo { schedule: None, schedule_status: None, is_past_due: false },
        invocation_id: "i".into(),
    };
    let first = run_housekeeping(&ops, invocation()).await.expect("run");
    assert_eq!(first.return_value, json!({"purged": 0, "poison": {}}), "nothing has expired yet");
    clock.advance(Duration::from_secs(901));
    let second = run_housekeeping(&ops, invocation()).await.expect("run");
    assert_eq!(second.return_value, json!({"purged": 1, "poison": {}}));
    let third = run_housekeeping(&ops, invocation()).await.expect("run twice");
    assert_eq!(third.return_value, json!({"purged": 0, "poison": {}}), "a second run changes nothing");
    assert!(DocumentStore::get(&store, "sessions", "sessions", "keep").await.expect("get").is_some());
}

#[tokio::test]
async fn housekeeping_reports_the_depth_of_every_poison_queue() {
    let clock = Arc::new(ManualClock::new(datetime!(2026-11-23 08:00 UTC)));
    let store = EmbeddedStore::in_memory(clock).expect("store");
    let queue = |name: &str| QueueName::parse(name).expect("queue name");
    for name in ["file-document", "file-document-poison", "send-notification-poison"] {
        QueueStore::ensure(&store, &queue(name)).await.expect("ensure");
    }
    QueueStore::send(&store, &queue("file-document"), "not poison", None).await.expect("send");
    for text in ["a", "b"] {
        QueueStore::send(&store, &queue("file-document-poison"), text, None).await.expect("send");
    }
    let invocation = TimerInvocation {
        info: TimerInfo { schedule: None, schedule_status: None, is_past_due: false },
        invocation_id: "i".into(),
    };
    let outcome = run_housekeeping(&ops(store), invocation).await.expect("run");
    assert_eq!(
        outcome.return_value["poison"],
        json!({"file-document-poison": 2, "send-notification-poison": 0}),
        "only poison queues, each with its depth"
    );
    assert!(outcome.logs.iter().any(|line| line == "file-document-poison: 2 poison messages"), "{:?}", outcome.logs);
}
