//! The login flow against a real OpenID Connect provider (`oidc-provider`,
//! configured like NIA by `scripts/oidc-provider.sh`): the happy path and every
//! refusal the relying party owes the citizen. Tokens the provider would never
//! issue (expired, another audience, `alg: none`, HMAC keyed with the public key,
//! an unknown key) are forged with the provider's own signing key and swapped
//! into the real token response by a proxy in front of the token endpoint.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portal_identity::jose::{DecryptionKey, forge};
use portal_identity::oidc::{OidcSettings, Provider};
use portal_identity::{Identity, LoginProvider, functions};
use portal_security::{ClientAddressRule, RateLimiter};
use portal_testkit::{Harness, call, outside_setting};
use serde_json::Value;
use time::OffsetDateTime;

struct Env {
    issuer: String,
    client_id: String,
    client_secret: String,
    redirect: String,
    enc_key_pem: String,
    signing_key_pem: String,
    signing_kid: String,
}

fn env() -> Option<Env> {
    // Set by scripts/oidc-provider.sh (start DIR; source DIR/env).
    let read = |path: String| std::fs::read_to_string(path).expect("readable test key");
    Some(Env {
        issuer: outside_setting("PORTAL_TEST_OIDC_ISSUER")?,
        client_id: outside_setting("PORTAL_TEST_OIDC_CLIENT_ID")?,
        client_secret: outside_setting("PORTAL_TEST_OIDC_CLIENT_SECRET")?,
        redirect: outside_setting("PORTAL_TEST_OIDC_REDIRECT")?,
        enc_key_pem: read(outside_setting("PORTAL_TEST_OIDC_ENC_KEY")?),
        signing_key_pem: read(outside_setting("PORTAL_TEST_OIDC_SIGNING_KEY")?),
        signing_kid: read(outside_setting("PORTAL_TEST_OIDC_SIGNING_KID")?).trim().to_owned(),
    })
}

/// What the proxy does to the next token response's ID token.
type Tamper = Box<dyn Fn(&Value) -> String + Send + Sync>;

/// A proxy in front of the provider: it rewrites discovery so the token and
/// JWKS endpoints go through it, counts JWKS fetches, and can swap the ID token.
struct Proxy {
    base: String,
    tamper: Arc<Mutex<Option<Tamper>>>,
    jwks_fetches: Arc<AtomicUsize>,
    /// The last genuine ID token's claims (decrypted, not verified).
    last_claims: Arc<Mutex<Option<Value>>>,
    /// The last genuine ID token as the provider sent it.
    last_token: Arc<Mutex<Option<String>>>,
}

async fn start_proxy(env: &Env) -> Proxy {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let tamper: Arc<Mutex<Option<Tamper>>> = Arc::new(Mutex::new(None));
    let jwks_fetches = Arc::new(AtomicUsize::new(0));
    let last_claims = Arc::new(Mutex::new(None));
    let last_token = Arc::new(Mutex::new(None));
    let http = reqwest::Client::new();
    let issuer = env.issuer.clone();
    let key = Arc::new(DecryptionKey::from_pem(&env.enc_key_pem).expect("portal key"));
    let discovery = {
        let (http, issuer, base) = (http.clone(), issuer.clone(), base.clone());
        move || async move {
            let mut doc: Value = http
                .get(format!("{issuer}/.well-known/openid-configuration"))
                .send()
                .await
                .expect("discovery")
                .json()
                .await
                .expect("json");
            doc["token_endpoint"] = Value::from(format!("{base}/token"));
            doc["jwks_uri"] = Value::from(format!("{base}/jwks"));
            axum::Json(doc)
        }
    };
    let jwks = {
        let (http, issuer, count) = (http.clone(), issuer.clone(), jwks_fetches.clone());
        move || async move {
            count.fetch_add(1, Ordering::SeqCst);
            let keys: Value =
                http.get(format!("{issuer}/jwks")).send().await.expect("jwks").json().await.expect("json");
            axum::Json(keys)
        }
    };
    let token = {
        let (http, issuer, tamper, last_claims, last_token) =
            (http, issuer, tamper.clone(), last_claims.clone(), last_token.clone());
        move |form: axum::Form<BTreeMap<String, String>>| async move {
            let response = http.post(format!("{issuer}/token")).form(&form.0).send().await.expect("token");
            let status = response.status();
            let mut body: Value = response.json().await.expect("json");
            if let Some(id_token) = body.get("id_token").and_then(Value::as_str).map(str::to_owned) {
                let jws = String::from_utf8(key.decrypt(&id_token).expect("decrypt")).expect("utf-8");
                let payload = jws.split('.').nth(1).expect("payload");
                let claims: Value =
                    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("b64")).expect("json");
                *last_token.lock().expect("lock") = Some(id_token);
                if let Some(tamper) = tamper.lock().expect("lock").take() {
                    body["id_token"] = Value::from(tamper(&claims));
                }
                *last_claims.lock().expect("lock") = Some(claims);
            }
            (axum::http::StatusCode::from_u16(status.as_u16()).expect("status"), axum::Json(body))
        }
    };
    let app = Router::new()
        .route("/.well-known/openid-configuration", axum::routing::get(discovery))
        .route("/jwks", axum::routing::get(jwks))
        .route("/token", axum::routing::post(token));
    tokio::spawn(async move { axum::serve(listener, app).await });
    Proxy { base, tamper, jwks_fetches, last_claims, last_token }
}

struct Portal {
    router: Router,
    _harness: Harness,
    /// The login-binding cookie of the last login this browser started.
    binding: Mutex<Option<String>>,
}

fn portal(env: &Env, proxy: &Proxy) -> Portal {
    let harness = Harness::at(OffsetDateTime::now_utc());
    let settings = OidcSettings {
        discovery_url: format!("{}/.well-known/openid-configuration", proxy.base),
        client_id: env.client_id.clone(),
        client_secret: env.client_secret.clone(),
        redirect_url: env.redirect.clone(),
        post_logout_redirect_url: Some("https://portal.test/".into()),
        issuer: Some(env.issuer.clone()),
        decryption_key: Some(Arc::new(DecryptionKey::from_pem(&env.enc_key_pem).expect("portal key"))),
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
    let router = harness.router(functions(identity));
    Portal { router, _harness: harness, binding: Mutex::new(None) }
}

fn location(headers: &axum::http::HeaderMap) -> String {
    headers.get(header::LOCATION).and_then(|v| v.to_str().ok()).expect("a redirect").to_owned()
}

/// Walks the provider's login for `login` at level `acr`, as a browser
/// would, and returns the callback URL's query (code, state).
async fn provider_login(authorize: &str, login: &str, acr: &str) -> String {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let mut url = url::Url::parse(authorize).expect("url");
    let pairs: Vec<(String, String)> =
        url.query_pairs().filter(|(k, _)| k != "acr_values").map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    url.query_pairs_mut().clear().extend_pairs(pairs).append_pair("acr_values", acr).append_pair("login_hint", login);
    let mut next = url.to_string();
    let mut cookies: BTreeMap<String, String> = BTreeMap::new();
    for _ in 0..10 {
        if next.starts_with("https://portal.test/") {
            return url::Url::parse(&next).expect("callback").query().unwrap_or_default().to_owned();
        }
        let cookie = cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
        let response = http.get(&next).header(header::COOKIE, cookie).send().await.expect("provider");
        for set in response.headers().get_all(header::SET_COOKIE) {
            if let Some((pair, _)) = set.to_str().unwrap_or_default().split_once(';')
                && let Some((k, v)) = pair.split_once('=')
            {
                cookies.insert(k.trim().to_owned(), v.to_owned());
            }
        }
        assert!(response.status().is_redirection(), "the provider answered {} at {next}", response.status());
        let target =
            response.headers().get(header::LOCATION).and_then(|v| v.to_str().ok()).expect("location").to_owned();
        next = url::Url::parse(&next).expect("base").join(&target).expect("join").to_string();
    }
    panic!("the provider login did not reach the callback");
}

/// Starts a login at the portal and walks it at the provider; returns the
/// callback query.
async fn start_login(portal: &Portal, login: &str, acr: &str) -> String {
    let (status, headers, _) =
        call(&portal.router, Request::get("/api/auth/login").body(Body::empty()).expect("request")).await;
    assert!(status.is_redirection(), "login redirects to the provider: {status}");
    let binding = headers.get(header::SET_COOKIE).and_then(|v| v.to_str().ok()).expect("the login binding cookie");
    *portal.binding.lock().expect("lock") = binding.split(';').next().map(str::to_owned);
    provider_login(&location(&headers), login, acr).await
}

async fn callback(portal: &Portal, query: &str) -> (StatusCode, axum::http::HeaderMap, Value) {
    let mut request = Request::get(format!("/api/auth/callback?{query}"));
    if let Some(binding) = portal.binding.lock().expect("lock").clone() {
        request = request.header(header::COOKIE, binding);
    }
    let (status, headers, body) = call(&portal.router, request.body(Body::empty()).expect("request")).await;
    (status, headers, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

fn session_cookie(headers: &axum::http::HeaderMap) -> String {
    let set = headers.get(header::SET_COOKIE).and_then(|v| v.to_str().ok()).expect("Set-Cookie").to_owned();
    assert!(set.starts_with("__Host-portal_session="), "{set}");
    for attribute in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
        assert!(set.contains(attribute), "the cookie is {attribute}: {set}");
    }
    set.split(';').next().expect("pair").to_owned()
}

const SUBSTANTIAL: &str = "http://eidas.europa.eu/LoA/substantial";

#[tokio::test(flavor = "current_thread")]
async fn a_citizen_logs_in_through_the_provider_and_nothing_secret_is_logged() {
    let Some(env) = env() else { return };
    let proxy = start_proxy(&env).await;
    let portal = portal(&env, &proxy);

    let logs = portal_testkit::LogBuffer::default();
    let subscriber = tracing_subscriber::fmt().with_writer(logs.clone()).with_max_level(tracing::Level::TRACE).finish();
    let guard = portal_testkit::capture(subscriber);

    let query = start_login(&portal, "jana", "http://eidas.europa.eu/LoA/high").await;
    let (status, headers, _) = callback(&portal, &query).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "a successful login redirects back");
    let cookie = session_cookie(&headers);

    let me = Request::get("/api/me").header(header::COOKIE, &cookie).body(Body::empty()).expect("request");
    let (status, _, body) = call(&portal.router, me).await;
    assert_eq!(status, StatusCode::OK);
    let me: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(me["loa"], "high");
    assert_eq!(me["subject"], "CZ%2FCZ%2F7f3e2a9c-41d8-4b6e-9a1f-0c5d83e27b64", "keyed on PersonIdentifier, not sub");
    assert_eq!(me["profile"]["familyName"], "Nováková", "claims requested through the claims parameter");
    let claims = proxy.last_claims.lock().expect("lock").clone().expect("claims");
    assert!(claims.get("sub").is_none(), "the provider issued no sub, like NIA");
    drop(guard);

    let text = logs.text();
    assert!(text.contains("login succeeded"), "the login is logged");
    let secret = cookie.split_once('=').expect("pair").1;
    let code = url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "code").expect("code").1.into_owned();
    let id_token = proxy.last_token.lock().expect("lock").clone().expect("token");
    for (what, needle) in [
        ("session secret", secret),
        ("authorization code", code.as_str()),
        ("ID token", &id_token[..40]),
        ("client secret", env.client_secret.as_str()),
        ("pseudonym", "7f3e2a9c"),
        ("family name", "Nováková"),
        ("e-mail", "jana@example.test"),
    ] {
        assert!(!text.contains(needle), "the logs contain the {what}");
    }
}

#[tokio::test]
async fn wrong_state_and_a_second_use_of_a_callback_are_refused() {
    let Some(env) = env() else { return };
    let proxy = start_proxy(&env).await;
    let portal = portal(&env, &proxy);
    let query = start_login(&portal, "jana", SUBSTANTIAL).await;
    let wrong =
        query.split('&').map(|p| if p.starts_with("state=") { "state=forged".to_owned() } else { p.to_owned() });
    let (status, _, problem) = callback(&portal, &wrong.collect::<Vec<_>>().join("&")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(problem["detail"], "unknown or expired state");

    let (status, _, _) = callback(&portal, &query).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "the genuine callback still works");
    let (status, _, problem) = callback(&portal, &query).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a login attempt is single use: {problem}");
}

#[tokio::test]
async fn a_level_below_substantial_is_refused() {
    let Some(env) = env() else { return };
    let proxy = start_proxy(&env).await;
    let portal = portal(&env, &proxy);
    let query = start_login(&portal, "jiri", "http://eidas.europa.eu/LoA/low").await;
    let (status, headers, problem) = callback(&portal, &query).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    assert!(problem["detail"].as_str().unwrap_or_default().contains("below substantial"), "{problem}");
    assert!(headers.get(header::SET_COOKIE).is_none(), "no session");
}

/// A forged ID token swapped into the next token response must be refused
/// with `detail` containing `why`.
async fn refused_with(env: &Env, proxy: &Proxy, portal: &Portal, forge_token: Tamper, why: &str) {
    *proxy.tamper.lock().expect("lock") = Some(forge_token);
    let query = start_login(portal, "jana", SUBSTANTIAL).await;
    let (status, headers, problem) = callback(portal, &query).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{why}: {problem}");
    assert!(problem["detail"].as_str().unwrap_or_default().contains(why), "expected '{why}', got {problem}");
    assert!(headers.get(header::SET_COOKIE).is_none(), "no session for a refused token");
    let _ = env;
}

#[tokio::test]
async fn forged_and_tampered_tokens_are_refused() {
    let Some(env) = env() else { return };
    let proxy = start_proxy(&env).await;
    let portal = portal(&env, &proxy);
    let (enc, signer, kid) = (env.enc_key_pem.clone(), env.signing_key_pem.clone(), env.signing_kid.clone());
    let now = OffsetDateTime::now_utc().unix_timestamp();

    let (e, s, k) = (enc.clone(), signer.clone(), kid.clone());
    let expired = Box::new(move |claims: &Value| {
        let mut claims = claims.clone();
        claims["iat"] = Value::from(now - 7200);
        claims["exp"] = Value::from(now - 3600);
        forge::encrypt(&e, forge::sign_rs256(&s, Some(&k), &claims).as_bytes())
    });
    refused_with(&env, &proxy, &portal, expired, "expired").await;

    let (e, s, k) = (enc.clone(), signer.clone(), kid.clone());
    let other_audience = Box::new(move |claims: &Value| {
        let mut claims = claims.clone();
        claims["aud"] = Value::from("another-service");
        forge::encrypt(&e, forge::sign_rs256(&s, Some(&k), &claims).as_bytes())
    });
    refused_with(&env, &proxy, &portal, other_audience, "another audience").await;

    let e = enc.clone();
    let none = Box::new(move |claims: &Value| forge::encrypt(&e, forge::unsigned(claims).as_bytes()));
    refused_with(&env, &proxy, &portal, none, "'none' is not allowed").await;

    // The key-confusion attack: HS256 keyed with the provider's public key.
    let jwks: Value = reqwest::get(format!("{}/jwks", env.issuer)).await.expect("jwks").json().await.expect("json");
    let public_key = jwks["keys"][0].to_string();
    let (e, k) = (enc.clone(), kid.clone());
    let hmac = Box::new(move |claims: &Value| {
        forge::encrypt(&e, forge::sign_hs256(public_key.as_bytes(), Some(&k), claims).as_bytes())
    });
    refused_with(&env, &proxy, &portal, hmac, "'HS256' is not allowed").await;

    // A token signed by a key the provider never published: the JWKS is
    // refetched once, not on every such token.
    let stranger = forge::new_rsa_pem();
    let before = proxy.jwks_fetches.load(Ordering::SeqCst);
    for _ in 0..2 {
        let (e, s) = (enc.clone(), stranger.clone());
        let unknown = Box::new(move |claims: &Value| {
            forge::encrypt(&e, forge::sign_rs256(&s, Some("not-published"), claims).as_bytes())
        });
        refused_with(&env, &proxy, &portal, unknown, "no key with id 'not-published'").await;
    }
    assert!(proxy.jwks_fetches.load(Ordering::SeqCst) - before <= 1, "an unknown kid refetches at most once a minute");

    // An unencrypted token, although the portal has an encryption key.
    let (s, k) = (signer.clone(), kid.clone());
    let plain = Box::new(move |claims: &Value| forge::sign_rs256(&s, Some(&k), claims));
    refused_with(&env, &proxy, &portal, plain, "must be encrypted").await;

    // A genuine token encrypted to someone else.
    let (s, k) = (signer, kid);
    let foreign = Box::new(move |claims: &Value| {
        forge::encrypt(&forge::new_rsa_pem(), forge::sign_rs256(&s, Some(&k), claims).as_bytes())
    });
    refused_with(&env, &proxy, &portal, foreign, "cannot be decrypted").await;
}

#[tokio::test]
async fn a_replayed_id_token_with_an_old_nonce_is_refused() {
    let Some(env) = env() else { return };
    let proxy = start_proxy(&env).await;
    let portal = portal(&env, &proxy);
    let first = start_login(&portal, "jana", SUBSTANTIAL).await;
    let (status, _, _) = callback(&portal, &first).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let captured = proxy.last_token.lock().expect("lock").clone().expect("token");

    // An attacker replays the captured (genuine, still valid) token into a new login.
    let replay = Box::new(move |_: &Value| captured.clone());
    refused_with(&env, &proxy, &portal, replay, "nonce").await;
}

#[tokio::test]
async fn logout_ends_the_session_and_points_to_the_provider() {
    let Some(env) = env() else { return };
    let proxy = start_proxy(&env).await;
    let portal = portal(&env, &proxy);
    let query = start_login(&portal, "jana", SUBSTANTIAL).await;
    let (_, headers, _) = callback(&portal, &query).await;
    let cookie = session_cookie(&headers);

    let request =
        Request::get("/api/auth/session").header(header::COOKIE, &cookie).body(Body::empty()).expect("request");
    let (status, _, body) = call(&portal.router, request).await;
    assert_eq!(status, StatusCode::OK);
    let csrf = serde_json::from_slice::<Value>(&body).expect("json")["csrfToken"].as_str().expect("csrf").to_owned();

    let no_csrf =
        Request::post("/api/auth/logout").header(header::COOKIE, &cookie).body(Body::empty()).expect("request");
    assert_eq!(call(&portal.router, no_csrf).await.0, StatusCode::FORBIDDEN, "state changes need the CSRF token");

    let logout = Request::post("/api/auth/logout")
        .header(header::COOKIE, &cookie)
        .header("x-csrf-token", &csrf)
        .body(Body::empty())
        .expect("request");
    let (status, _, body) = call(&portal.router, logout).await;
    assert_eq!(status, StatusCode::OK);
    let body: Value = serde_json::from_slice(&body).expect("json");
    let end = body["endSessionUrl"].as_str().expect("end-session URL");
    assert!(end.starts_with(&env.issuer) && end.contains(&format!("client_id={}", env.client_id)), "{end}");

    let me = Request::get("/api/me").header(header::COOKIE, &cookie).body(Body::empty()).expect("request");
    assert_eq!(call(&portal.router, me).await.0, StatusCode::UNAUTHORIZED, "the session is gone");
}
