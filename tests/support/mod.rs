//! What the root crate's integration tests share: the whole app in local
//! mode on one in-memory store and a manual clock, its queues and timers
//! driven by the local host ([`Portal`]); browser sessions through the
//! development login ([`login`]); calls through the app's router ([`call`]);
//! upload bodies ([`multipart_file`]) and a minimal valid PDF ([`pdf`]).
#![allow(dead_code)] // each test binary uses part of it

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use portal::app::{self, Services, Stores};
use portal::local_host::LocalHost;
use portal_store::embedded::EmbeddedStore;
use portal_store::{Clock as _, ManualClock};
use serde_json::Value;
use time::OffsetDateTime;
use tower::ServiceExt as _;

/// A browser logged in through the development provider: its session cookie
/// and CSRF token.
pub struct Session {
    pub cookie: String,
    pub csrf: String,
}

/// The body as JSON, or `Null` when it is not JSON.
pub fn json_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap_or(Value::Null)
}

/// Sends `request` through `router`: the status, headers and whole body.
pub async fn call(router: &axum::Router, request: Request<Body>) -> (StatusCode, HeaderMap, Vec<u8>) {
    let response = router.clone().oneshot(request).await.expect("infallible");
    let (parts, body) = response.into_parts();
    (parts.status, parts.headers, axum::body::to_bytes(body, usize::MAX).await.expect("body").to_vec())
}

/// Logs `citizen` in through the development provider at `loa`
/// (`substantial`, `high`) and reads the session's CSRF token.
pub async fn login(router: &axum::Router, citizen: &str, loa: &str) -> Session {
    let request = Request::post("/api/auth/dev/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!("citizen={citizen}&loa={loa}")))
        .expect("request");
    let (_, headers, _) = call(router, request).await;
    let cookie = headers[header::SET_COOKIE].to_str().expect("cookie").split(';').next().expect("pair").to_owned();
    let request = Request::get("/api/auth/session").header(header::COOKIE, &cookie).body(Body::empty());
    let (_, _, body) = call(router, request.expect("request")).await;
    let csrf = json_of(&body)["csrfToken"].as_str().expect("csrf").to_owned();
    Session { cookie, csrf }
}

/// A `multipart/form-data` body with one file as the part `file`, as a
/// browser's upload form sends it: its content type and the body.
pub fn multipart_file(name: &str, media_type: &str, content: &[u8]) -> (String, Vec<u8>) {
    let boundary = "portal-test-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
         Content-Type: {media_type}\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// An upload of `name` to `path` as `who`.
pub fn upload_request(who: &Session, path: &str, name: &str, media_type: &str, content: &[u8]) -> Request<Body> {
    let (content_type, body) = multipart_file(name, media_type, content);
    Request::post(path)
        .header(header::COOKIE, &who.cookie)
        .header("x-csrf-token", &who.csrf)
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .expect("request")
}

/// A minimal but valid one-page PDF (uploads are checked by their structure).
pub fn pdf() -> Vec<u8> {
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    ];
    let mut offsets = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{object}\nendobj\n", i + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for offset in offsets {
        pdf.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1).as_bytes(),
    );
    pdf
}

/// The whole app in local mode: served on a port of its own on 127.0.0.1
/// for the local host, called in-process through `router`.
pub struct Portal {
    pub router: axum::Router,
    /// The invocation secret the runtime's queue and timer routes require.
    pub secret: String,
    pub host: LocalHost,
    pub clock: Arc<ManualClock>,
    pub services: Services,
    pub settings: portal_config::Settings,
}

impl Portal {
    /// The app at `start` with the default settings of local mode on an
    /// in-memory store, as `configure` changes them; its queues made.
    pub async fn start(start: OffsetDateTime, configure: impl FnOnce(&mut portal_config::Settings)) -> Self {
        let clock = Arc::new(ManualClock::new(start));
        let stores = Stores::embedded(EmbeddedStore::in_memory(clock.clone()).expect("store"), clock.clone());
        let mut settings = portal_config::Settings::from_lookup(|_| None).expect("defaults");
        settings.store = portal_config::StoreSettings::Embedded { data_dir: ".portal".into(), in_memory: true };
        configure(&mut settings);
        let services = Services::with_stores(stores.clone(), &settings).await.expect("services");
        let app = app::app(&services, &settings, None).expect("app");
        let router = app.router();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let served = router.clone();
        tokio::spawn(async move { axum::serve(listener, served).await });
        let host = LocalHost::new(&base, &app.runtime, stores.queues.clone(), stores.documents.clone(), clock.clone())
            .expect("local host");
        host.prepare().await.expect("queues");
        let secret = app.runtime.invocation_secret().unwrap_or_default().to_owned();
        Self { router, secret, host, clock, services, settings }
    }

    /// Delivers queue messages until every queue is empty (a consumer may
    /// publish to another queue), retrying what is retried after its
    /// visibility timeout.
    pub async fn settle(&self) {
        for _ in 0..20 {
            let mut received = 0;
            for function in self.host.queue_functions().to_vec() {
                let delivery = self.host.deliver(&function).await.expect("deliver");
                assert_eq!(delivery.poisoned, 0, "{}: nothing goes to poison", function.name);
                received += delivery.received;
            }
            if received == 0 {
                return;
            }
            self.clock.advance(Duration::from_secs(11));
        }
        panic!("the queues did not settle");
    }

    /// Runs a timer function now, as the host does when its schedule comes;
    /// its answer.
    pub async fn run_timer(&self, name: &str) -> Value {
        use portal_host::envelope::host_side;
        let info = portal_host::envelope::TimerInfo { schedule: None, schedule_status: None, is_past_due: false };
        let envelope = host_side::timer_invocation(name, "timer", &info, self.clock.now());
        let request = Request::post(format!("/{name}"))
            .header(portal_host::runtime::INVOCATION_SECRET_HEADER, &self.secret)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(serde_json::to_vec(&envelope).expect("envelope")))
            .expect("request");
        let (status, _, body) = self.call(request).await;
        assert_eq!(status, StatusCode::OK, "{name}: {}", String::from_utf8_lossy(&body));
        json_of(&body)
    }

    /// [`call`] through this app's router.
    pub async fn call(&self, request: Request<Body>) -> (StatusCode, HeaderMap, Vec<u8>) {
        call(&self.router, request).await
    }

    /// [`Portal::call`] with the body as JSON (`Null` when it is not JSON).
    pub async fn call_json(&self, request: Request<Body>) -> (StatusCode, Value) {
        let (status, _, body) = self.call(request).await;
        (status, json_of(&body))
    }

    /// A citizen's browser session at a substantial level of assurance.
    pub async fn login(&self, citizen: &str) -> Session {
        login(&self.router, citizen, "substantial").await
    }

    /// `method` on `path` as `who` (cookie and CSRF token), with `body` as
    /// JSON if given: the status and the body.
    pub async fn raw(&self, method: &str, path: &str, who: &Session, body: Option<Value>) -> (StatusCode, Vec<u8>) {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::COOKIE, &who.cookie)
            .header("x-csrf-token", &who.csrf)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
            .expect("request");
        let (status, _, body) = self.call(request).await;
        (status, body)
    }

    /// [`Portal::raw`] with the body as JSON (`Null` when it is not JSON).
    pub async fn json_call(&self, method: &str, path: &str, who: &Session, body: Option<Value>) -> (StatusCode, Value) {
        let (status, body) = self.raw(method, path, who, body).await;
        (status, json_of(&body))
    }
}
