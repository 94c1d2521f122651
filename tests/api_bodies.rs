//! The bodies of the main flows as the front end receives them, snapshotted
//! (insta) with ids, times and secrets redacted: a reviewer sees every change
//! to what the API answers, beside the contract in `api_contract.rs`. The
//! whole app answers in process, with a browser session from the development
//! login, as a citizen meets it.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt as _;
use portal::app::{self, Services, Stores};
use portal_config::Settings;
use portal_store::SystemClock;
use portal_store::embedded::EmbeddedStore;
use serde_json::{Value, json};
use tower::ServiceExt as _;

async fn router() -> Router {
    let clock = Arc::new(SystemClock);
    let stores = Stores::embedded(EmbeddedStore::in_memory(clock.clone()).expect("store"), clock);
    let mut settings = Settings::from_lookup(|_| None).expect("defaults");
    settings.store = portal_config::StoreSettings::Embedded { data_dir: ".portal".into(), in_memory: true };
    let services = Services::with_stores(stores, &settings).await.expect("services");
    app::app(&services, &settings, None).expect("app").router()
}

async fn send(router: &Router, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Value) {
    let response = router.clone().oneshot(request).await.expect("infallible");
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.expect("body").to_bytes();
    (parts.status, parts.headers, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// Strings that change from run to run (ids, times, tokens, URLs with them)
/// become placeholders; everything else stays as the API wrote it.
fn redacted(value: Value) -> Value {
    fn is_time(text: &str) -> bool {
        let rfc3339 = &time::format_description::well_known::Rfc3339;
        time::OffsetDateTime::parse(text, rfc3339).is_ok()
            || (text.len() == 10 && text.as_bytes().get(4) == Some(&b'-') && text.as_bytes().get(7) == Some(&b'-'))
    }
    fn walk(key: &str, value: Value) -> Value {
        match value {
            Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k.clone(), walk(&k, v))).collect()),
            Value::Array(items) => Value::Array(items.into_iter().map(|v| walk(key, v)).collect()),
            Value::String(text) => {
                let lower = key.to_ascii_lowercase();
                if lower == "id" || lower.ends_with("id") || lower.contains("token") || lower.ends_with("url") {
                    Value::from(format!("[{key}]"))
                } else if is_time(&text) {
                    Value::from("[time]")
                } else {
                    Value::String(text)
                }
            }
            other => other,
        }
    }
    walk("", value)
}

struct Browser {
    cookie: String,
    csrf: String,
}

async fn log_in(router: &Router, citizen: &str) -> Browser {
    let form = format!("citizen={citizen}&loa=substantial&returnTo=%2F");
    let request = Request::post("/api/auth/dev/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form))
        .expect("request");
    let (status, headers, _) = send(router, request).await;
    assert!(status.is_redirection(), "the development login redirects: {status}");
    let cookie = headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("__Host-portal_session="))
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_owned();
    let request = Request::get("/api/auth/session").header(header::COOKIE, &cookie).body(Body::empty()).expect("req");
    let (status, _, session) = send(router, request).await;
    assert_eq!(status, StatusCode::OK);
    Browser { cookie, csrf: session["csrfToken"].as_str().expect("csrf token").to_owned() }
}

impl Browser {
    fn get(&self, path: &str) -> Request<Body> {
        Request::get(path).header(header::COOKIE, &self.cookie).body(Body::empty()).expect("request")
    }

    fn write(&self, method: Method, path: &str, body: Value) -> Request<Body> {
        Request::builder()
            .method(method)
            .uri(path)
            .header(header::COOKIE, &self.cookie)
            .header("x-csrf-token", &self.csrf)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .expect("request")
    }
}

#[tokio::test]
async fn main_flow_bodies() {
    let router = router().await;
    let mut bodies = serde_json::Map::new();
    let mut record = |name: &str, status: StatusCode, body: Value| {
        bodies.insert(name.to_owned(), json!({"status": status.as_u16(), "body": redacted(body)}));
    };

    let (status, _, body) = send(&router, Request::get("/api/health").body(Body::empty()).expect("req")).await;
    record("GET /api/health", status, body);
    let (status, _, body) = send(&router, Request::get("/api/petitions").body(Body::empty()).expect("req")).await;
    record("GET /api/petitions (anonymous)", status, body);
    let (status, _, body) = send(&router, Request::get("/api/me").body(Body::empty()).expect("req")).await;
    record("GET /api/me (anonymous)", status, body);

    let jana = log_in(&router, "jana").await;
    for path in [
        "/api/me",
        "/api/databox/messages",
        "/api/databox/box",
        "/api/documents",
        "/api/notifications",
        "/api/me/notification-preferences",
        "/api/me/registers",
        "/api/registers/extracts",
        "/api/filings",
        "/api/me/petitions",
        "/api/calendar/feed",
    ] {
        let (status, _, body) = send(&router, jana.get(path)).await;
        assert!(status.is_success(), "GET {path}: {status} {body}");
        record(&format!("GET {path}"), status, body);
    }

    let event = json!({"title": "Návštěva úřadu", "date": "2026-12-23", "remindDaysBefore": 1});
    let (status, _, created) = send(&router, jana.write(Method::POST, "/api/calendar/events", event)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    record("POST /api/calendar/events", status, created.clone());
    let path = format!("/api/calendar/events/{}", created["id"].as_str().expect("id"));
    let (status, _, body) = send(&router, jana.get(&path)).await;
    record("GET /api/calendar/events/{id}", status, body);
    let (status, _, body) =
        send(&router, jana.write(Method::POST, "/api/calendar/events", json!({"title": "", "date": "2026-02-30"})))
            .await;
    record("POST /api/calendar/events (invalid)", status, body);

    let (status, _, body) = send(&router, jana.get("/api/databox/messages/received/does-not-exist")).await;
    record("GET /api/databox/messages/received/{id} (unknown)", status, body);

    insta::assert_json_snapshot!("main_flow_bodies", Value::Object(bodies));
}
