//! Helpers shared by the registers tests: the capability in process on the
//! embedded store, logins, calls, queues, and the independent PDF checks.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::{Extension, Router};
use base64::Engine as _;
use http_body_util::BodyExt as _;
use portal_crypto::{CitizenKeys, LocalKeyFile, Sealer};
use portal_events::{Event, FiledDocument, SealedContent};
use portal_host::runtime::LogFailures;
use portal_registers::{Registers, RegistersGateway, RegistersSettings, functions, simulated_gateway};
use portal_security::{AccessLog, Authenticator, Loa, RateLimiter, SessionTimes, Sessions, SubjectId};
use portal_store::embedded::EmbeddedStore;
use portal_store::{BlobPath, BlobStore, ManualClock, QueueName, QueueStore};
use serde_json::Value;
use time::macros::datetime;
use tower::ServiceExt as _;

pub const JANA: &str = "DEMO%2Fjana-novakova";
pub const JIRI: &str = "DEMO%2Fjiri-dvorak";
pub const LUDMILA: &str = "DEMO%2Fludmila-stastna-zdarska";

pub struct Portal {
    pub router: Router,
    pub registers: Registers,
    pub store: Arc<EmbeddedStore>,
    pub clock: Arc<ManualClock>,
    pub sessions: Sessions,
    _keys: tempfile::TempDir,
}

pub fn portal_with(
    settings: RegistersSettings,
    gateway: Option<Arc<dyn RegistersGateway>>,
    store_dir: Option<&std::path::Path>,
    keys_dir: Option<&std::path::Path>,
) -> Portal {
    let clock = Arc::new(ManualClock::new(datetime!(2026-11-23 08:00 UTC)));
    let store = Arc::new(match store_dir {
        Some(dir) => EmbeddedStore::open(dir, clock.clone()).expect("store"),
        None => EmbeddedStore::in_memory(clock.clone()).expect("store"),
    });
    let temp = tempfile::tempdir().expect("tempdir");
    let keys = Arc::new(LocalKeyFile::open(keys_dir.unwrap_or(temp.path())).expect("keys"));
    let sealer = Sealer::new(Arc::new(CitizenKeys::new(store.clone(), keys, clock.clone())));
    let payments = Arc::new(portal_registers::payments::simulated_gateway(clock.clone()));
    let registers = Registers {
        gateway: gateway.unwrap_or_else(|| simulated_gateway(clock.clone())),
        documents: store.clone(),
        blobs: store.clone(),
        queues: store.clone(),
        sealer,
        access_log: AccessLog::new(store.clone(), clock.clone()),
        clock: clock.clone(),
        settings,
        payments: payments.clone(),
        simulated_payments: Some(payments),
    };
    let sessions = Sessions::new(store.clone(), clock.clone(), SessionTimes::default());
    let authenticator = Arc::new(Authenticator {
        sessions: sessions.clone(),
        writes: Arc::new(RateLimiter::new(10_000, 10_000, clock.clone())),
    });
    let router = portal_host::Runtime::new(functions(registers.clone()), Arc::new(LogFailures))
        .expect("declarations")
        .router()
        .layer(Extension(authenticator));
    Portal { router, registers, store, clock, sessions, _keys: temp }
}

pub fn portal() -> Portal {
    portal_with(RegistersSettings::default(), None, None, None)
}

pub struct Login {
    pub cookie: String,
    pub csrf: String,
}

pub async fn login(portal: &Portal, subject: &str) -> Login {
    let new = portal
        .sessions
        .create(SubjectId::parse(subject).expect("subject"), Loa::Substantial, "development")
        .await
        .expect("session");
    Login { cookie: format!("__Host-portal_session={}", new.secret), csrf: new.session.csrf_token }
}

pub async fn call(router: &Router, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let response = router.clone().oneshot(request).await.expect("infallible");
    let (parts, body) = response.into_parts();
    (parts.status, parts.headers, body.collect().await.expect("body").to_bytes().to_vec())
}

pub fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap_or(Value::Null)
}

pub fn get(path: &str, login: &Login) -> Request<Body> {
    Request::get(path).header(header::COOKIE, &login.cookie).body(Body::empty()).expect("request")
}

pub fn post_json(path: &str, login: &Login, body: &str) -> Request<Body> {
    Request::post(path)
        .header(header::COOKIE, &login.cookie)
        .header("x-csrf-token", &login.csrf)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_owned()))
        .expect("request")
}

/// Takes every visible message off `queue` (deleting them).
pub async fn drain(store: &EmbeddedStore, queue: &str) -> Vec<String> {
    let queue = QueueName::parse(queue).expect("queue");
    let mut texts = Vec::new();
    loop {
        let batch = match store.receive(&queue, 32, Duration::from_secs(600)).await {
            Ok(batch) => batch,
            Err(portal_store::StoreError::NotFound) => return texts,
            Err(error) => panic!("receive: {error}"),
        };
        if batch.is_empty() {
            return texts;
        }
        for message in batch {
            QueueStore::delete(store, &queue, &message.id, &message.pop_receipt).await.expect("delete");
            texts.push(message.text);
        }
    }
}

pub async fn drain_events(store: &EmbeddedStore, queue: &str) -> Vec<Event> {
    drain(store, queue).await.iter().map(|t| serde_json::from_str(t).expect("an event")).collect()
}

/// The plain content of a filed document (inline or blob).
pub async fn open_filed(portal: &Portal, subject: &str, filed: &FiledDocument) -> Vec<u8> {
    let sealed = match &filed.content {
        SealedContent::Inline { sealed } => base64::engine::general_purpose::STANDARD.decode(sealed).expect("base64"),
        SealedContent::Blob { path } => {
            use futures::TryStreamExt as _;
            let (_, stream) = BlobStore::get(portal.store.as_ref(), &BlobPath::parse(path.clone()).expect("path"))
                .await
                .expect("blob");
            let chunks: Vec<bytes::Bytes> = stream.try_collect().await.expect("content");
            chunks.concat()
        }
    };
    portal.registers.sealer.decrypt(subject, &filed.document_id, "content", &sealed).await.expect("decrypts")
}

/// The test Python (a venv with openapi-spec-validator, PyYAML and pypdf),
/// or `None` with a note; with `PORTAL_REQUIRE_EMULATORS=1` its absence fails.
pub fn test_python() -> Option<String> {
    match std::env::var("PORTAL_TEST_PYTHON") {
        Ok(value) if !value.trim().is_empty() => Some(value),
        _ if std::env::var("PORTAL_REQUIRE_EMULATORS").as_deref() == Ok("1") => {
            panic!("PORTAL_REQUIRE_EMULATORS=1 but PORTAL_TEST_PYTHON is not set (a venv with pypdf)")
        }
        _ => {
            println!("PORTAL_TEST_PYTHON is not set: skipping the independent checks");
            None
        }
    }
}

/// The text of a PDF as pypdf extracts it, after opening it in strict mode.
pub fn pdf_text(python: &str, pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("extract.pdf");
    std::fs::write(&path, pdf).expect("write");
    let output = std::process::Command::new(python)
        .args([
            "-c",
            "import pypdf,sys\nr=pypdf.PdfReader(sys.argv[1], strict=True)\n\
             sys.stdout.buffer.write('\\n'.join(p.extract_text() for p in r.pages).encode('utf-8'))",
        ])
        .arg(&path)
        .output()
        .expect("python runs");
    assert!(output.status.success(), "pypdf opens the PDF in strict mode: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("UTF-8")
}
