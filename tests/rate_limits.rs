//! State-changing requests count per session and per client address: one
//! address cannot spread its writes over many sessions.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use portal::app::{self, Services, Stores};
use portal_store::SystemClock;
use portal_store::embedded::EmbeddedStore;
use serde_json::{Value, json};
use tower::ServiceExt as _;

async fn send(router: &axum::Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// A session logged in from `address`: (cookie, csrf token).
async fn login(router: &axum::Router, address: &str) -> (String, String) {
    let request = Request::post("/api/auth/dev/login")
        .header("x-forwarded-for", address)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("citizen=jana&loa=high"))
        .expect("request");
    let response = router.clone().oneshot(request).await.expect("infallible");
    let cookie =
        response.headers()[header::SET_COOKIE].to_str().expect("cookie").split(';').next().expect("pair").to_owned();
    let request = Request::get("/api/auth/session").header(header::COOKIE, &cookie).body(Body::empty());
    let (_, session) = send(router, request.expect("request")).await;
    (cookie, session["csrfToken"].as_str().expect("csrf").to_owned())
}

async fn write(router: &axum::Router, address: &str, (cookie, csrf): &(String, String)) -> StatusCode {
    let request = Request::post("/api/calendar/events")
        .header("x-forwarded-for", address)
        .header(header::COOKIE, cookie)
        .header("x-csrf-token", csrf)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(json!({"title": "Lékař", "date": "2026-12-01"}).to_string()))
        .expect("request");
    send(router, request).await.0
}

#[tokio::test]
async fn writes_count_per_session_and_per_client_address() {
    let clock = Arc::new(SystemClock);
    let stores = Stores::embedded(EmbeddedStore::in_memory(clock.clone()).expect("store"), clock);
    let mut settings = portal_config::Settings::from_lookup(|_| None).expect("defaults");
    settings.store = portal_config::StoreSettings::Embedded { data_dir: ".portal".into(), in_memory: true };
    settings.writes_per_minute = 2;
    settings.trusted_proxy_hops = 1;
    let services = Services::with_stores(stores, &settings).await.expect("services");
    let router = app::app(&services, &settings, None).expect("app").router();
    let office = "198.51.100.7";

    let first = login(&router, office).await;
    assert_eq!(write(&router, office, &first).await, StatusCode::CREATED);
    assert_eq!(write(&router, office, &first).await, StatusCode::CREATED);
    assert_eq!(write(&router, office, &first).await, StatusCode::TOO_MANY_REQUESTS, "per session");

    // Nine more sessions from the same address: each under its own limit, but
    // the address's (ten sessions' worth) runs out.
    let mut statuses = Vec::new();
    for _ in 0..10 {
        let session = login(&router, office).await;
        for _ in 0..2 {
            statuses.push(write(&router, office, &session).await);
        }
    }
    let refused = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!(refused, 2, "the address's 20 writes were spent: {statuses:?}");

    let elsewhere = login(&router, "203.0.113.9").await;
    assert_eq!(write(&router, "203.0.113.9", &elsewhere).await, StatusCode::CREATED, "another address is not limited");
}
