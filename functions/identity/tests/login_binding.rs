//! Login CSRF: a pending login is bound to the browser that started it. Runs
//! against a stand-in provider that only publishes discovery and refuses every
//! code, since the binding is checked before the code is exchanged (the whole
//! flow against a real provider is in `login.rs`).

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use portal_identity::oidc::{OidcSettings, Provider};
use portal_identity::{Identity, LoginProvider, functions};
use portal_security::{ClientAddressRule, RateLimiter};
use portal_testkit::{Harness, call, json_of};
use serde_json::json;
use time::OffsetDateTime;

/// A provider that publishes discovery and answers every code `invalid_grant`.
async fn stand_in_provider() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let discovery = {
        let base = base.clone();
        move || async move {
            axum::Json(json!({
                "issuer": base,
                "authorization_endpoint": format!("{base}/authorize"),
                "token_endpoint": format!("{base}/token"),
                "jwks_uri": format!("{base}/jwks"),
            }))
        }
    };
    let app = Router::new().route("/.well-known/openid-configuration", axum::routing::get(discovery)).route(
        "/token",
        axum::routing::post(|| async { (StatusCode::BAD_REQUEST, axum::Json(json!({"error": "invalid_grant"}))) }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

async fn portal() -> (Router, Harness) {
    let base = stand_in_provider().await;
    let harness = Harness::at(OffsetDateTime::now_utc());
    let settings = OidcSettings {
        discovery_url: format!("{base}/.well-known/openid-configuration"),
        client_id: "portal".into(),
        client_secret: "secret".into(),
        redirect_url: "https://portal.test/api/auth/callback".into(),
        post_logout_redirect_url: None,
        issuer: None,
        decryption_key: None,
    };
    let identity = Identity {
        provider: LoginProvider::Oidc(Arc::new(Provider::new(settings, harness.clock.clone()))),
        documents: harness.documents.clone(),
        queues: harness.store.clone(),
        sessions: harness.sessions.clone(),
        access_log: harness.access_log.clone(),
        sealer: harness.sealer.clone(),
        clock: harness.clock.clone(),
        logins: Arc::new(RateLimiter::new(1000, 1000, harness.clock.clone())),
        client_addresses: ClientAddressRule::default(),
        exports: Arc::new(portal_identity::exports::Exports::new(
            harness.documents.clone(),
            harness.store.clone(),
            harness.store.clone(),
            harness.sealer.clone(),
            harness.clock.clone(),
            harness.access_log.clone(),
        )),
    };
    (harness.router(functions(identity)), harness)
}

/// Starts a login as a browser would: the `state` the provider will send
/// back, and the browser's login-binding cookie.
async fn start(router: &Router) -> (String, String) {
    let (status, headers, _) =
        call(router, Request::get("/api/auth/login").body(Body::empty()).expect("request")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let set = headers.get(header::SET_COOKIE).and_then(|v| v.to_str().ok()).expect("a login-binding cookie");
    assert!(set.starts_with("__Host-portal_login="), "{set}");
    for attribute in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/", "Max-Age=600"] {
        assert!(set.contains(attribute), "the binding cookie is {attribute}: {set}");
    }
    let location = headers.get(header::LOCATION).and_then(|v| v.to_str().ok()).expect("location");
    let url = url::Url::parse(location).expect("url");
    let state = url.query_pairs().find(|(k, _)| k == "state").map(|(_, v)| v.into_owned()).expect("state");
    (state, set.split(';').next().expect("pair").to_owned())
}

async fn callback(router: &Router, state: &str, cookie: Option<&str>) -> (StatusCode, HeaderMap, serde_json::Value) {
    let mut request = Request::get(format!("/api/auth/callback?code=c0de&state={state}"));
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    let (status, headers, body) = call(router, request.body(Body::empty()).expect("request")).await;
    (status, headers, json_of(&body))
}

#[tokio::test]
async fn a_callback_started_in_one_browser_and_opened_in_another_is_refused() {
    let (router, _harness) = portal().await;
    let (victims_state, _victims_cookie) = start(&router).await;
    let (_, attackers_cookie) = start(&router).await;

    // The attacker's browser (its own binding) and a browser with none.
    for cookie in [Some(attackers_cookie.as_str()), None] {
        let (status, _, problem) = callback(&router, &victims_state, cookie).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
        assert_eq!(problem["detail"], "this login was started in another browser");
    }
}

#[tokio::test]
async fn the_browser_that_started_the_login_gets_past_the_binding() {
    let (router, _harness) = portal().await;
    let (state, cookie) = start(&router).await;
    // A refused callback from elsewhere does not use the login up.
    assert_eq!(callback(&router, &state, None).await.0, StatusCode::BAD_REQUEST);
    // The right browser reaches the code exchange, which this provider refuses.
    let (status, _, problem) = callback(&router, &state, Some(&cookie)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{problem}");
    assert!(problem["detail"].as_str().unwrap_or_default().contains("invalid_grant"), "{problem}");
}
