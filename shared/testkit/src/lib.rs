//! What every capability's tests need, once: an in-memory portal on a manual
//! clock with its own key folder ([`Harness`]), sessions and logins
//! ([`Login`]), in-process calls through the real router ([`call`] and the
//! request builders), the queues a capability writes ([`drain`]), and the
//! outside checkers' Python ([`test_python`]).
//!
//! A test builds its capability from the harness's parts and serves it with
//! [`Harness::router`], so it meets the same runtime, extractors and problem
//! layer as in production.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use axum::{Extension, Router};
use http_body_util::BodyExt as _;
use portal_crypto::{CitizenKeys, LocalKeyFile, Sealer};
use portal_host::Function;
use portal_host::runtime::LogFailures;
use portal_security::{AccessLog, Authenticator, Loa, RateLimiter, SessionTimes, Sessions, SubjectId};
use portal_store::embedded::EmbeddedStore;
use portal_store::{ManualClock, QueueName, QueueStore};
use serde_json::Value;
use time::OffsetDateTime;
use time::macros::datetime;
use tower::ServiceExt as _;

/// Demo subjects as the development identity provider makes them.
pub const JANA: &str = "DEMO%2Fjana-novakova";
pub const JIRI: &str = "DEMO%2Fjiri-dvorak";
pub const PETR: &str = "DEMO%2Fpetr-svoboda";

/// The instant tests start at unless they say otherwise.
pub const START: OffsetDateTime = datetime!(2026-11-23 08:00 UTC);

/// An in-memory store, keys in a temporary folder, sessions and an access
/// log, all on one manual clock.
#[derive(Debug)]
pub struct Harness {
    pub store: Arc<EmbeddedStore>,
    pub clock: Arc<ManualClock>,
    pub sealer: Sealer,
    pub keys: Arc<CitizenKeys>,
    pub access_log: AccessLog,
    pub sessions: Sessions,
    pub authenticator: Arc<Authenticator>,
    /// The key-encryption key's folder; removed when the harness is dropped.
    pub keys_dir: tempfile::TempDir,
}

impl Harness {
    pub fn new() -> Self {
        Self::at(START)
    }

    pub fn at(start: OffsetDateTime) -> Self {
        let clock = Arc::new(ManualClock::new(start));
        let store = Arc::new(EmbeddedStore::in_memory(clock.clone()).expect("in-memory store"));
        let keys_dir = tempfile::tempdir().expect("temporary folder");
        let wrapper = Arc::new(LocalKeyFile::open(keys_dir.path()).expect("local key file"));
        let keys = Arc::new(CitizenKeys::new(store.clone(), wrapper, clock.clone()));
        let sealer = Sealer::new(keys.clone());
        let sessions = Sessions::new(store.clone(), clock.clone(), SessionTimes::default());
        let authenticator = Arc::new(Authenticator {
            sessions: sessions.clone(),
            writes: Arc::new(RateLimiter::new(1000, 1000, clock.clone())),
        });
        let access_log = AccessLog::new(store.clone(), clock.clone());
        Self { store, clock, sealer, keys, access_log, sessions, authenticator, keys_dir }
    }

    /// The runtime's router over `functions`, with the authenticator the app
    /// puts in every request.
    pub fn router(&self, functions: Vec<Function>) -> Router {
        portal_host::Runtime::new(functions, Arc::new(LogFailures))
            .expect("declarations")
            .router()
            .layer(Extension(self.authenticator.clone()))
    }

    /// A browser session of `subject` at a substantial level of assurance.
    pub async fn login(&self, subject: &str) -> Login {
        self.login_with(subject, Loa::Substantial).await
    }

    pub async fn login_with(&self, subject: &str, loa: Loa) -> Login {
        let new = self
            .sessions
            .create(SubjectId::parse(subject).expect("subject id"), loa, "development")
            .await
            .expect("session");
        Login { cookie: format!("__Host-portal_session={}", new.secret), csrf: new.session.csrf_token }
    }

    /// Every message on a queue, removed from it.
    pub async fn drain(&self, queue: &str) -> Vec<Value> {
        drain(&self.store, queue).await
    }
}

impl Default for Harness {
    fn default() -> Self {
        Self::new()
    }
}

/// A logged-in browser: the session cookie and its CSRF token.
#[derive(Debug, Clone)]
pub struct Login {
    pub cookie: String,
    pub csrf: String,
}

/// Sends `request` through `router` and returns the status, headers and body.
pub async fn call(router: &Router, request: Request<Body>) -> (StatusCode, HeaderMap, Vec<u8>) {
    let response = router.clone().oneshot(request).await.expect("the router is infallible");
    let (parts, body) = response.into_parts();
    (parts.status, parts.headers, body.collect().await.expect("body").to_bytes().to_vec())
}

/// The body as JSON, or `Null` when it is not JSON.
pub fn json_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap_or(Value::Null)
}

/// The fields a problem's `errors` name.
pub fn problem_fields(body: &[u8]) -> Vec<String> {
    json_of(body)["errors"]
        .as_array()
        .map(|errors| errors.iter().filter_map(|e| e["field"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// A GET with the session cookie.
pub fn get(path: &str, login: &Login) -> Request<Body> {
    Request::get(path).header(header::COOKIE, &login.cookie).body(Body::empty()).expect("request")
}

/// A state-changing request with the session cookie and the CSRF header, and
/// a JSON body if given.
pub fn write(method: Method, path: &str, login: &Login, body: Option<Value>) -> Request<Body> {
    let builder = Request::builder()
        .method(method)
        .uri(path)
        .header(header::COOKIE, &login.cookie)
        .header("x-csrf-token", &login.csrf);
    match body {
        Some(body) => builder
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .expect("request"),
        None => builder.body(Body::empty()).expect("request"),
    }
}

/// A GET without any credential.
pub fn anonymous(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).expect("request")
}

/// Every message on a queue of `store`, removed from it.
pub async fn drain(store: &EmbeddedStore, name: &str) -> Vec<Value> {
    let queue = QueueName::parse(name).expect("queue name");
    let mut out = Vec::new();
    loop {
        let batch = match store.receive(&queue, 32, Duration::from_secs(60)).await {
            Ok(batch) => batch,
            Err(_) => return out,
        };
        if batch.is_empty() {
            return out;
        }
        for message in batch {
            out.push(serde_json::from_str(&message.text).unwrap_or(Value::Null));
            QueueStore::delete(store, &queue, &message.id, &message.pop_receipt).await.expect("delete");
        }
    }
}

/// The Python with the outside checkers (`PORTAL_TEST_PYTHON`, a venv the test
/// command makes), or `None` to skip those checks, unless
/// `PORTAL_REQUIRE_EMULATORS=1` says every outside check must run.
pub fn test_python() -> Option<String> {
    match std::env::var("PORTAL_TEST_PYTHON") {
        Ok(value) if !value.trim().is_empty() => Some(value),
        _ if std::env::var("PORTAL_REQUIRE_EMULATORS").as_deref() == Ok("1") => {
            panic!("PORTAL_REQUIRE_EMULATORS=1 but PORTAL_TEST_PYTHON is not set (the test command's venv)")
        }
        _ => {
            println!("PORTAL_TEST_PYTHON is not set: skipping the independent checks");
            None
        }
    }
}
