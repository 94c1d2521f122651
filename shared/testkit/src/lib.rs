//! What every capability's tests need, once: an in-memory portal on a manual
//! clock with its own key folder ([`Harness`]), sessions and logins
//! ([`Login`]), in-process calls through the real router ([`call`] and the
//! request builders, [`multipart`] uploads and [`queue_delivery`] as the
//! Functions host sends it), the queues, blobs and access log a capability
//! writes ([`drain`], [`Harness::blob`], [`Harness::access_entries`]), and the
//! outside services and checkers ([`outside_setting`], [`test_python`],
//! [`pdf_text`], [`cosmos_emulator`]), passing faults ([`faults`]), crash
//! tests that kill a child process at a chosen point ([`crash`]), and, with
//! the feature `tls`, a router served over mutual TLS (`tls`).
//!
//! A test builds its capability from the harness's parts and serves it with
//! [`Harness::router`], so it meets the same runtime, extractors and problem
//! layer as in production.

pub mod crash;
pub mod faults;
mod logs;
#[cfg(feature = "tls")]
pub mod tls;

pub use logs::{Capture, LogBuffer, capture};

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use axum::{Extension, Router};
use futures::TryStreamExt as _;
use http_body_util::BodyExt as _;
use portal_crypto::{CitizenKeys, LocalKeyFile, Sealer};
use portal_host::Function;
use portal_host::envelope::host_side::{QueueMessageProperties, queue_invocation};
use portal_host::runtime::LogFailures;
use portal_security::{
    AccessEntry, AccessFilter, AccessLog, Authenticator, Loa, RateLimiter, SessionTimes, Sessions, SubjectId,
};
use portal_store::azure::{AzureCredential, AzureSettings, CosmosDocumentStore};
use portal_store::embedded::EmbeddedStore;
use portal_store::{BlobInfo, BlobPath, BlobStore, DocumentStore, ManualClock, QueueName, QueueStore};
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
    /// Blobs and queues, and documents unless [`Harness::with_documents`]
    /// put them elsewhere.
    pub store: Arc<EmbeddedStore>,
    /// Where the keys, sessions and access log keep their documents, and
    /// where a capability under test should keep its own: `store`, or what
    /// [`Harness::with_documents`] was given.
    pub documents: Arc<dyn DocumentStore>,
    pub clock: Arc<ManualClock>,
    /// The key-encryption key (rotate it to test rewrapping).
    pub key_file: Arc<LocalKeyFile>,
    pub keys: Arc<CitizenKeys>,
    pub sealer: Sealer,
    pub access_log: AccessLog,
    pub sessions: Sessions,
    pub authenticator: Arc<Authenticator>,
    /// The key-encryption key's folder.
    pub keys_dir: PathBuf,
    /// The temporary key folder, removed when the harness is dropped.
    _temporary: Option<tempfile::TempDir>,
}

impl Harness {
    pub fn new() -> Self {
        Self::at(START)
    }

    pub fn at(start: OffsetDateTime) -> Self {
        let clock = Arc::new(ManualClock::new(start));
        let store = Arc::new(EmbeddedStore::in_memory(clock.clone()).expect("in-memory store"));
        let temporary = tempfile::tempdir().expect("temporary folder");
        let keys_dir = temporary.path().to_owned();
        Self::assemble(clock, store, keys_dir, Some(temporary))
    }

    /// A harness on a store kept in `data` and a key file in `keys`, so that
    /// a second harness (or a child process) on the same folders meets what
    /// the first left behind: for tests of a crash and the run after it.
    pub fn on_disk(data: &Path, keys: &Path, start: OffsetDateTime) -> Self {
        let clock = Arc::new(ManualClock::new(start));
        let store = Arc::new(EmbeddedStore::open(data, clock.clone()).expect("store on disk"));
        Self::assemble(clock, store, keys.to_owned(), None)
    }

    fn assemble(
        clock: Arc<ManualClock>,
        store: Arc<EmbeddedStore>,
        keys_dir: PathBuf,
        temporary: Option<tempfile::TempDir>,
    ) -> Self {
        let key_file = Arc::new(LocalKeyFile::open(&keys_dir).expect("local key file"));
        let documents: Arc<dyn DocumentStore> = store.clone();
        let keys = Arc::new(CitizenKeys::new(documents.clone(), key_file.clone(), clock.clone()));
        let sessions = Sessions::new(documents.clone(), clock.clone(), SessionTimes::default());
        let authenticator = Arc::new(Authenticator {
            sessions: sessions.clone(),
            writes: Arc::new(RateLimiter::new(1000, 1000, clock.clone())),
        });
        Self {
            access_log: AccessLog::new(documents.clone(), clock.clone()),
            sealer: Sealer::new(keys.clone()),
            store,
            documents,
            clock,
            key_file,
            keys,
            sessions,
            authenticator,
            keys_dir,
            _temporary: temporary,
        }
    }

    /// The same harness with the keys, sessions and access log over
    /// `documents` (the Cosmos DB emulator, or a store that fails or races on
    /// purpose around the in-memory one); blobs and queues stay in memory.
    pub fn with_documents(self, documents: Arc<dyn DocumentStore>) -> Self {
        let keys = Arc::new(CitizenKeys::new(documents.clone(), self.key_file.clone(), self.clock.clone()));
        let sessions = Sessions::new(documents.clone(), self.clock.clone(), SessionTimes::default());
        let authenticator = Arc::new(Authenticator {
            sessions: sessions.clone(),
            writes: Arc::new(RateLimiter::new(1000, 1000, self.clock.clone())),
        });
        Self {
            access_log: AccessLog::new(documents.clone(), self.clock.clone()),
            sealer: Sealer::new(keys.clone()),
            documents,
            keys,
            sessions,
            authenticator,
            ..self
        }
    }

    /// The runtime's router over `functions`, with the authenticator the app
    /// puts in every request.
    pub fn router(&self, functions: Vec<Function>) -> Router {
        self.unwired_router(functions).layer(Extension(portal_security::RequestWiring::new(self.authenticator.clone())))
    }

    /// The runtime's router over `functions`, for a test that gives requests
    /// a [`RequestWiring`](portal_security::RequestWiring) of its own.
    pub fn unwired_router(&self, functions: Vec<Function>) -> Router {
        portal_host::Runtime::new(functions, Arc::new(LogFailures)).expect("declarations").router()
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

    /// A blob's properties and whole content, as stored (sealed or not).
    pub async fn blob(&self, path: &str) -> (BlobInfo, Vec<u8>) {
        let path = BlobPath::parse(path).expect("blob path");
        let (info, stream) = BlobStore::get(self.store.as_ref(), &path).await.expect("blob");
        let chunks: Vec<bytes::Bytes> = stream.try_collect().await.expect("blob content");
        (info, chunks.concat())
    }

    /// Every entry of `subject`'s access log, oldest first.
    pub async fn access_entries(&self, subject: &str) -> Vec<AccessEntry> {
        let subject = SubjectId::parse(subject).expect("subject id");
        let mut entries = Vec::new();
        let mut continuation = None;
        loop {
            let page =
                self.access_log.list(&subject, &AccessFilter::default(), 1000, continuation).await.expect("access log");
            entries.extend(page.items);
            match page.continuation {
                Some(next) => continuation = Some(next),
                None => return entries,
            }
        }
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

/// [`call`], with the body as JSON (`Null` when it is not JSON), for tests
/// of an API that answers JSON everywhere.
pub async fn call_json(router: &Router, request: Request<Body>) -> (StatusCode, HeaderMap, Value) {
    let (status, headers, body) = call(router, request).await;
    (status, headers, json_of(&body))
}

/// The body as JSON, or `Null` when it is not JSON.
pub fn json_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap_or(Value::Null)
}

/// The body as text, for assertion messages.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The `items` of a page, or none when the body is not a page.
pub fn items(body: &[u8]) -> Vec<Value> {
    json_of(body)["items"].as_array().cloned().unwrap_or_default()
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
    match body {
        Some(body) => write_raw(method, path, login, Some("application/json"), body.to_string()),
        None => write_raw(method, path, login, None, Body::empty()),
    }
}

/// [`write`] with `body` sent as it is, under `content_type` if given: for
/// bodies that are not JSON, or not the JSON a handler expects.
pub fn write_raw(
    method: Method,
    path: &str,
    login: &Login,
    content_type: Option<&str>,
    body: impl Into<Body>,
) -> Request<Body> {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header(header::COOKIE, &login.cookie)
        .header("x-csrf-token", &login.csrf);
    if let Some(content_type) = content_type {
        builder = builder.header(header::CONTENT_TYPE, content_type);
    }
    builder.body(body.into()).expect("request")
}

/// A GET without any credential.
pub fn anonymous(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).expect("request")
}

/// One part of a `multipart/form-data` body: a form field or a file.
#[derive(Debug, Clone, Copy)]
pub struct Part<'a> {
    pub name: &'a str,
    pub file_name: Option<&'a str>,
    /// The part's own `Content-Type`, if it declares one.
    pub content_type: Option<&'a str>,
    pub content: &'a [u8],
}

impl<'a> Part<'a> {
    /// A plain form field.
    pub fn field(name: &'a str, value: &'a str) -> Self {
        Self { name, file_name: None, content_type: None, content: value.as_bytes() }
    }

    /// A file as a browser sends it: its name and declared type.
    pub fn file(name: &'a str, file_name: &'a str, content_type: &'a str, content: &'a [u8]) -> Self {
        Self { name, file_name: Some(file_name), content_type: Some(content_type), content }
    }

    /// The same part without a declared type.
    pub fn untyped(self) -> Self {
        Self { content_type: None, ..self }
    }
}

/// A `multipart/form-data` POST of `parts` to `path` with the session
/// cookie and the CSRF header, as a browser's upload form sends it.
pub fn multipart(path: &str, login: &Login, parts: &[Part<'_>]) -> Request<Body> {
    const BOUNDARY: &str = "portal-testkit-boundary-7d1f";
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{}\"", part.name).as_bytes(),
        );
        if let Some(file_name) = part.file_name {
            body.extend_from_slice(format!("; filename=\"{file_name}\"").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        if let Some(content_type) = part.content_type {
            body.extend_from_slice(format!("Content-Type: {content_type}\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(part.content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    Request::post(path)
        .header(header::COOKIE, &login.cookie)
        .header("x-csrf-token", &login.csrf)
        .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(Body::from(body))
        .expect("request")
}

/// A queue message delivered the way the Functions host delivers it: the
/// invocation envelope of `function`'s queue trigger, POSTed to
/// `/{function}`, dequeued for the first time at `now`.
pub fn queue_delivery(function: &str, message: &str, now: OffsetDateTime) -> Request<Body> {
    let properties = QueueMessageProperties {
        id: uuid::Uuid::new_v4().to_string(),
        pop_receipt: "receipt".into(),
        dequeue_count: 1,
        insertion_time: now,
        expiration_time: now + time::Duration::days(7),
        next_visible_time: now + time::Duration::minutes(10),
    };
    let envelope = queue_invocation(function, portal_host::function::QUEUE_BINDING, message, &properties, now);
    Request::post(format!("/{function}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(serde_json::to_vec(&envelope).expect("envelope")))
        .expect("request")
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

/// The setting `name` of an outside service a test needs (an emulator's
/// endpoint, the test Python), or `None` to skip what needs it, unless
/// `PORTAL_REQUIRE_EMULATORS=1` says every outside check must run.
pub fn outside_setting(name: &str) -> Option<String> {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => Some(value),
        _ if std::env::var("PORTAL_REQUIRE_EMULATORS").as_deref() == Ok("1") => {
            panic!("PORTAL_REQUIRE_EMULATORS=1 but {name} is not set (the test command sets it)")
        }
        _ => {
            println!("{name} is not set: skipping what needs it");
            None
        }
    }
}

/// The Python with the outside checkers (`PORTAL_TEST_PYTHON`, a venv the test
/// command makes), or `None` to skip those checks, unless
/// `PORTAL_REQUIRE_EMULATORS=1` says every outside check must run.
pub fn test_python() -> Option<String> {
    outside_setting("PORTAL_TEST_PYTHON")
}

/// A PDF's text as pypdf, an independent reader, extracts it (pages joined
/// by newlines), or `None` when the test Python is not configured.
pub fn pdf_text(pdf: &[u8]) -> Option<String> {
    pypdf_text(pdf, false)
}

/// [`pdf_text`] after pypdf opened the PDF in strict mode, so that a broken
/// cross-reference table or object fails the test instead of being repaired.
pub fn pdf_text_strict(pdf: &[u8]) -> Option<String> {
    pypdf_text(pdf, true)
}

fn pypdf_text(pdf: &[u8], strict: bool) -> Option<String> {
    let python = test_python()?;
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("extract.pdf");
    std::fs::write(&path, pdf).expect("write the PDF");
    let output = std::process::Command::new(python)
        .arg("-c")
        .arg(
            "import sys, pypdf\nr = pypdf.PdfReader(sys.argv[1], strict=sys.argv[2] == 'strict')\n\
             sys.stdout.buffer.write('\\n'.join(p.extract_text() for p in r.pages).encode('utf-8'))",
        )
        .arg(&path)
        .arg(if strict { "strict" } else { "lenient" })
        .output()
        .expect("run python");
    let mode = if strict { " in strict mode" } else { "" };
    assert!(output.status.success(), "pypdf opens the PDF{mode}: {}", String::from_utf8_lossy(&output.stderr));
    Some(String::from_utf8(output.stdout).expect("UTF-8"))
}

/// The Cosmos DB emulator (`PORTAL_TEST_COSMOS_ENDPOINT`, trusting
/// `PORTAL_TEST_CA_CERT` if set) as a document store on `clock`, in a
/// database of this run's own with `collections` created; `None` skips the
/// test as [`outside_setting`] says.
pub async fn cosmos_emulator(clock: Arc<ManualClock>, collections: &[&str]) -> Option<CosmosDocumentStore> {
    /// The emulators' well-known account key.
    const EMULATOR_KEY: &str =
        "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==";
    let endpoint = outside_setting("PORTAL_TEST_COSMOS_ENDPOINT")?;
    let run = &uuid::Uuid::new_v4().simple().to_string()[..12];
    let settings = AzureSettings {
        cosmos_endpoint: endpoint,
        cosmos_database: format!("portal-test-{run}"),
        cosmos_key: Some(EMULATOR_KEY.into()),
        cosmos_region: None,
        blob_container_url: String::new(),
        queue_service_url: String::new(),
        credential: AzureCredential::EmulatorToken,
        extra_ca_certificate: std::env::var("PORTAL_TEST_CA_CERT").ok().filter(|v| !v.is_empty()).map(Into::into),
        emulator: true,
    };
    let store = CosmosDocumentStore::connect(&settings, clock).await.expect("connect to the Cosmos DB emulator");
    store.ensure_collections(collections).await.expect("the emulator's containers");
    Some(store)
}
