//! The development identity provider and "my data": profile, access log,
//! export, erasure by crypto-shredding (on the embedded store and on the Cosmos
//! DB emulator), CSRF, bearer tokens, rate limits and key rotation.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use base64::Engine as _;
use portal_crypto::CryptoError;
use portal_identity::timer::rewrap_data_keys::rewrap_data_keys;
use portal_identity::{Identity, LoginProvider, functions};
use portal_security::{ClientAddressRule, RateLimiter};
use portal_testkit::{Harness, Login, cosmos_emulator, get, text};
use serde_json::Value;
use time::OffsetDateTime;

struct Portal {
    router: Router,
    identity: Identity,
    harness: Harness,
}

impl std::ops::Deref for Portal {
    type Target = Harness;

    fn deref(&self) -> &Harness {
        &self.harness
    }
}

/// The development login and "my data" on the harness's stores, keys and
/// sessions, allowing `logins_per_minute` logins from one address.
fn portal_on(harness: Harness, logins_per_minute: u32) -> Portal {
    let identity = Identity {
        provider: LoginProvider::Development,
        documents: harness.documents.clone(),
        // Events stay on the in-memory queues (no consumer here), also when documents are on Cosmos DB.
        queues: harness.store.clone(),
        sessions: harness.sessions.clone(),
        access_log: harness.access_log.clone(),
        sealer: harness.sealer.clone(),
        clock: harness.clock.clone(),
        logins: Arc::new(RateLimiter::new(logins_per_minute, logins_per_minute, harness.clock.clone())),
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
    let router = harness.router(functions(identity.clone()));
    Portal { router, identity, harness }
}

fn portal() -> Portal {
    portal_on(Harness::at(OffsetDateTime::now_utc()), 100)
}

/// The status, headers and body: JSON, or the text as a JSON string.
async fn call(router: &Router, request: Request<Body>) -> (StatusCode, HeaderMap, Value) {
    let (status, headers, body) = portal_testkit::call(router, request).await;
    (status, headers, serde_json::from_slice(&body).unwrap_or_else(|_| Value::String(text(&body))))
}

async fn dev_login(router: &Router, citizen: &str, loa: &str) -> (StatusCode, Option<Login>) {
    let form = format!("citizen={citizen}&loa={loa}&returnTo=%2Fapi%2Fme");
    let request = Request::post("/api/auth/dev/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form))
        .expect("request");
    let (status, headers, _) = call(router, request).await;
    let Some(set) = headers.get(header::SET_COOKIE).and_then(|v| v.to_str().ok()) else { return (status, None) };
    assert_eq!(headers.get(header::LOCATION).and_then(|v| v.to_str().ok()), Some("/api/me"));
    let cookie = set.split(';').next().expect("pair").to_owned();
    let session =
        Request::get("/api/auth/session").header(header::COOKIE, &cookie).body(Body::empty()).expect("request");
    let (_, _, body) = call(router, session).await;
    (status, Some(Login { cookie, csrf: body["csrfToken"].as_str().expect("csrf").to_owned() }))
}

#[tokio::test]
async fn the_development_provider_lists_demo_citizens_and_logs_them_in() {
    let portal = portal();
    let (status, _, page) =
        call(&portal.router, Request::get("/api/auth/dev").body(Body::empty()).expect("request")).await;
    assert_eq!(status, StatusCode::OK);
    let page = page.as_str().expect("html").to_owned();
    assert!(page.contains("SIMULATOR") && page.contains("Nováková") && page.contains("Šťastná Žďárská"), "{page}");

    let (status, login) = dev_login(&portal.router, "jana", "high").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let login = login.expect("a session");
    let (status, _, me) = call(&portal.router, get("/api/me", &login)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((me["loa"].as_str(), me["profile"]["givenName"].as_str()), (Some("high"), Some("Jana")));
    assert_eq!(me["subject"], "DEMO%2Fjana-novakova");

    let (status, login) = dev_login(&portal.router, "jiri", "low").await;
    assert_eq!((status, login.is_none()), (StatusCode::FORBIDDEN, true), "low is refused, as by the real portal");
    let (status, _, problem) =
        call(&portal.router, Request::get("/api/me").body(Body::empty()).expect("request")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(problem["type"], "/problems/unauthorized");
}

#[tokio::test]
async fn the_access_log_lists_every_touch_in_order() {
    let portal = portal();
    let (_, login) = dev_login(&portal.router, "jana", "substantial").await;
    let login = login.expect("session");
    for _ in 0..2 {
        assert_eq!(call(&portal.router, get("/api/me", &login)).await.0, StatusCode::OK);
    }
    let (status, _, log) = call(&portal.router, get("/api/me/access-log", &login)).await;
    assert_eq!(status, StatusCode::OK);
    let actions: Vec<(&str, &str)> = log["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| (e["action"].as_str().unwrap_or(""), e["resourceType"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(actions, [("login", "session"), ("read", "profile"), ("read", "profile")]);
    let (_, _, profiles) =
        call(&portal.router, get("/api/me/access-log?resourceType=profile&newestFirst=true&pageSize=1", &login)).await;
    assert_eq!(profiles["items"].as_array().map(Vec::len), Some(1));
    assert!(profiles["continuation"].is_string(), "more pages follow");
    let (status, _, problem) = call(&portal.router, get("/api/me/access-log?pageSize=0", &login)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["errors"][0]["field"], "pageSize");

    let (_, other) = dev_login(&portal.router, "jiri", "substantial").await;
    let (_, _, theirs) = call(&portal.router, get("/api/me/access-log", &other.expect("session"))).await;
    assert_eq!(theirs["items"].as_array().map(Vec::len), Some(1), "Jiří sees only his own login");
}

#[tokio::test]
async fn a_reference_sealed_for_the_citizen_shows_opened_in_their_log_and_export() {
    let portal = portal();
    let (_, login) = dev_login(&portal.router, "jana", "substantial").await;
    let login = login.expect("session");
    let (_, _, me) = call(&portal.router, get("/api/me", &login)).await;
    let subject = portal_security::SubjectId::parse(me["subject"].as_str().expect("subject")).expect("subject id");
    // What petitions write when Jana signs: the petition's id sealed under her key.
    let sealed = portal.sealer.seal_reference(subject.as_str(), "petition-signature", "pet-42").await.expect("seal");
    let entry = portal_security::AccessEntry::new(
        portal_security::Actor::Citizen,
        portal_security::Action::Create,
        "petition-signature",
        &sealed,
        "podpis petice",
    );
    portal.access_log.record(&subject, entry).await.expect("log");
    let (_, _, log) = call(&portal.router, get("/api/me/access-log?resourceType=petition-signature", &login)).await;
    assert_eq!(log["items"][0]["resourceId"], "pet-42", "{log}");
    let (_, _, export) = call(&portal.router, get("/api/me/export", &login)).await;
    let text = export.to_string();
    assert!(text.contains("pet-42") && !text.contains("sealed:"), "{text}");
}

#[tokio::test]
async fn export_holds_everything_and_is_logged() {
    let portal = portal();
    let (_, login) = dev_login(&portal.router, "ludmila", "high").await;
    let login = login.expect("session");
    let (status, headers, export) = call(&portal.router, get("/api/me/export", &login)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers[header::CONTENT_DISPOSITION].to_str().unwrap_or("").contains("attachment"));
    assert_eq!(export["profile"]["familyName"], "Šťastná Žďárská");
    assert!(export["profile"]["email"].is_null(), "she has no e-mail");
    assert_eq!(export["accessLog"][0]["action"], "login");
    let (_, _, log) = call(&portal.router, get("/api/me/access-log?newestFirst=true", &login)).await;
    assert_eq!(log["items"][0]["action"], "export", "the export itself is in the log");
}

async fn erasure_makes_records_undecryptable(portal: Portal) {
    let (_, login) = dev_login(&portal.router, "jana", "substantial").await;
    let login = login.expect("session");
    let subject = "DEMO%2Fjana-novakova";
    let stored = portal.documents.get("profiles", subject, "profile").await.expect("get").expect("profile stored");
    let sealed =
        base64::engine::general_purpose::STANDARD.decode(stored.body["sealed"].as_str().expect("sealed")).expect("b64");
    assert!(portal.sealer.decrypt(subject, "profile", "claims", &sealed).await.is_ok(), "readable before erasure");
    let another = portal.sealer.encrypt(subject, "doc-1", "content", b"a document of hers").await.expect("seal");

    let delete = |body: &'static str, csrf: Option<&str>| {
        let mut request = Request::delete("/api/me")
            .header(header::COOKIE, &login.cookie)
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(csrf) = csrf {
            request = request.header("x-csrf-token", csrf);
        }
        request.body(Body::from(body)).expect("request")
    };
    assert_eq!(call(&portal.router, delete("{}", None)).await.0, StatusCode::FORBIDDEN, "CSRF token required");
    let (status, _, problem) = call(&portal.router, delete("{}", Some(&login.csrf))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "confirmation required");
    assert_eq!(problem["errors"][0]["field"], "confirm");
    let (status, _, _) = call(&portal.router, delete(r#"{"confirm":"DELETE MY DATA"}"#, Some(&login.csrf))).await;
    assert_eq!(status, StatusCode::OK);

    for ciphertext in [&sealed, &another] {
        let result = portal.sealer.decrypt(subject, "doc-1", "content", ciphertext).await;
        assert!(matches!(result, Err(CryptoError::Shredded)), "no record of hers decrypts any more: {result:?}");
    }
    assert!(portal.documents.get("profiles", subject, "profile").await.expect("get").is_none());
    assert_eq!(call(&portal.router, get("/api/me", &login)).await.0, StatusCode::UNAUTHORIZED, "the session ended");
    let log = portal
        .identity
        .access_log
        .list(&portal_security::SubjectId::parse(subject).expect("id"), &Default::default(), 50, None)
        .await;
    let entries = log.expect("the access log survives erasure").items;
    assert_eq!(entries.last().map(|e| e.action), Some(portal_security::Action::Delete));

    // One `account.erased` event on every capability's erasure queue.
    for queue in portal_events::ERASURE_QUEUES {
        let name = portal_store::QueueName::parse(*queue).expect("queue name");
        let messages =
            portal.identity.queues.receive(&name, 10, std::time::Duration::from_secs(30)).await.expect("receive");
        assert_eq!(messages.len(), 1, "one event on {queue}");
        let event: portal_events::Event = serde_json::from_str(&messages[0].text).expect("event");
        assert_eq!(event.kind, "account.erased");
        assert_eq!(event.subject, subject);
        assert!(event.id.starts_with("account.erased:DEMO%2Fjana-novakova:"), "{}", event.id);
    }
}

#[tokio::test]
async fn erasure_shreds_every_record_on_the_embedded_store() {
    erasure_makes_records_undecryptable(portal()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasure_shreds_every_record_on_the_cosmos_emulator() {
    let harness = Harness::at(OffsetDateTime::now_utc());
    let collections = ["sessions", "profiles", "keys", "access-log", "logins"];
    let Some(store) = cosmos_emulator(harness.clock.clone(), &collections).await else { return };
    erasure_makes_records_undecryptable(portal_on(harness.with_documents(Arc::new(store)), 100)).await;
}

#[tokio::test]
async fn bearer_tokens_need_a_session_and_csrf_to_be_issued() {
    let portal = portal();
    let (_, login) = dev_login(&portal.router, "jiri", "substantial").await;
    let login = login.expect("session");
    let no_csrf =
        Request::post("/api/auth/token").header(header::COOKIE, &login.cookie).body(Body::empty()).expect("request");
    assert_eq!(call(&portal.router, no_csrf).await.0, StatusCode::FORBIDDEN);
    let issue = Request::post("/api/auth/token")
        .header(header::COOKIE, &login.cookie)
        .header("x-csrf-token", &login.csrf)
        .body(Body::empty())
        .expect("request");
    let (status, _, token) = call(&portal.router, issue).await;
    assert_eq!(status, StatusCode::CREATED);
    let bearer = format!("Bearer {}", token["token"].as_str().expect("token"));
    let me = Request::get("/api/me").header(header::AUTHORIZATION, &bearer).body(Body::empty()).expect("request");
    let (status, _, me) = call(&portal.router, me).await;
    assert_eq!((status, me["profile"]["givenName"].as_str()), (StatusCode::OK, Some("Jiří")));
    let forged =
        Request::get("/api/me").header(header::AUTHORIZATION, "Bearer forged").body(Body::empty()).expect("request");
    assert_eq!(call(&portal.router, forged).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn logins_are_rate_limited_per_client_address() {
    let portal = portal_on(Harness::at(OffsetDateTime::now_utc()), 2);
    for _ in 0..2 {
        assert_eq!(dev_login(&portal.router, "jana", "high").await.0, StatusCode::SEE_OTHER);
    }
    let request = Request::post("/api/auth/dev/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("citizen=jana&loa=high"))
        .expect("request");
    let (status, headers, problem) = call(&portal.router, request).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{problem}");
    assert!(headers.get(header::RETRY_AFTER).is_some());
    let elsewhere = Request::post("/api/auth/dev/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("x-forwarded-for", "198.51.100.7")
        .body(Body::from("citizen=jana&loa=high"))
        .expect("request");
    assert_eq!(call(&portal.router, elsewhere).await.0, StatusCode::SEE_OTHER, "another address has its own budget");
}

#[tokio::test]
async fn the_development_login_refuses_a_form_posted_from_another_site() {
    let portal = portal();
    let post = |headers: &[(&'static str, &'static str)]| {
        let mut request = Request::post("/api/auth/dev/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::HOST, "localhost:7071");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(Body::from("citizen=jana&loa=high")).expect("request")
    };
    for cross_site in [
        &[("origin", "https://evil.example")][..],
        &[("origin", "null")],
        &[("origin", "http://localhost:7072")],
        &[("sec-fetch-site", "cross-site"), ("origin", "http://localhost:7071")],
        &[("sec-fetch-site", "same-site")],
    ] {
        let (status, headers, problem) = call(&portal.router, post(cross_site)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{cross_site:?}: {problem}");
        assert!(headers.get(header::SET_COOKIE).is_none());
    }
    for same_site in [&[("origin", "http://localhost:7071")][..], &[("sec-fetch-site", "same-origin")], &[]] {
        assert_eq!(call(&portal.router, post(same_site)).await.0, StatusCode::SEE_OTHER, "{same_site:?}");
    }
}

#[tokio::test]
async fn erasure_needs_a_login_no_older_than_ten_minutes() {
    let portal = portal();
    let (_, login) = dev_login(&portal.router, "jana", "substantial").await;
    let login = login.expect("session");
    let erase = || {
        Request::delete("/api/me")
            .header(header::COOKIE, &login.cookie)
            .header("x-csrf-token", &login.csrf)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(r#"{"confirm":"DELETE MY DATA"}"#))
            .expect("request")
    };
    // Still within the idle timeout, but the login is 11 minutes old.
    portal.clock.advance(std::time::Duration::from_secs(11 * 60));
    let (status, _, problem) = call(&portal.router, erase()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{problem}");
    assert_eq!(problem["type"], "/problems/reauthentication-required");
    assert!(problem["detail"].as_str().unwrap_or_default().contains("maxAge=600"), "{problem}");
    assert_eq!(call(&portal.router, get("/api/me", &login)).await.0, StatusCode::OK, "nothing was erased");

    let (_, fresh) = dev_login(&portal.router, "jana", "substantial").await;
    let fresh = fresh.expect("session");
    let request = Request::delete("/api/me")
        .header(header::COOKIE, &fresh.cookie)
        .header("x-csrf-token", &fresh.csrf)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(r#"{"confirm":"DELETE MY DATA"}"#))
        .expect("request");
    assert_eq!(call(&portal.router, request).await.0, StatusCode::OK, "a fresh login may erase");
}

#[tokio::test]
async fn a_rotating_client_written_forwarded_for_entry_does_not_escape_the_login_limit() {
    let portal = portal_on(Harness::at(OffsetDateTime::now_utc()), 2);
    let mut statuses = Vec::new();
    for i in 0..5 {
        // The client writes a new leftmost entry each time; the platform's
        // front end (one trusted hop) appends the address it really saw.
        let request = Request::post("/api/auth/dev/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header("x-forwarded-for", format!("10.0.0.{i}, 198.51.100.1"))
            .body(Body::from("citizen=jana&loa=high"))
            .expect("request");
        statuses.push(call(&portal.router, request).await.0);
    }
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count(), 3, "{statuses:?}");
}

#[tokio::test]
async fn rotating_the_key_encryption_key_rewraps_data_keys_once() {
    let portal = portal();
    let (_, login) = dev_login(&portal.router, "jana", "substantial").await;
    let login = login.expect("session");
    portal.key_file.rotate().expect("rotate");
    let first = rewrap_data_keys(&portal.identity).await.expect("rewrap");
    assert_eq!(first.return_value["rewrapped"], 1);
    let second = rewrap_data_keys(&portal.identity).await.expect("rewrap again");
    assert_eq!(
        (second.return_value["rewrapped"].as_u64(), second.return_value["alreadyCurrent"].as_u64()),
        (Some(0), Some(1))
    );
    let (status, _, me) = call(&portal.router, get("/api/me", &login)).await;
    assert_eq!((status, me["profile"]["givenName"].as_str()), (StatusCode::OK, Some("Jana")), "old data still opens");
}

/// A queue store that is down: every call fails as unavailable.
#[derive(Debug)]
struct DownQueues;

#[async_trait::async_trait]
impl portal_store::QueueStore for DownQueues {
    async fn ensure(&self, _: &portal_store::QueueName) -> portal_store::StoreResult<()> {
        Err(down())
    }
    async fn send(
        &self,
        _: &portal_store::QueueName,
        _: &str,
        _: Option<std::time::Duration>,
    ) -> portal_store::StoreResult<String> {
        Err(down())
    }
    async fn receive(
        &self,
        _: &portal_store::QueueName,
        _: u32,
        _: std::time::Duration,
    ) -> portal_store::StoreResult<Vec<portal_store::ReceivedMessage>> {
        Err(down())
    }
    async fn release(
        &self,
        _: &portal_store::QueueName,
        _: &str,
        _: &str,
        _: std::time::Duration,
    ) -> portal_store::StoreResult<String> {
        Err(down())
    }
    async fn delete(&self, _: &portal_store::QueueName, _: &str, _: &str) -> portal_store::StoreResult<()> {
        Err(down())
    }
    async fn approximate_count(&self, _: &portal_store::QueueName) -> portal_store::StoreResult<u64> {
        Err(down())
    }
    async fn list_queues(&self) -> portal_store::StoreResult<Vec<portal_store::QueueName>> {
        Err(down())
    }
    async fn ping(&self) -> portal_store::StoreResult<()> {
        Err(down())
    }
}

fn down() -> portal_store::StoreError {
    portal_store::StoreError::Unavailable("SIMULATOR: queues down".into())
}

#[tokio::test]
async fn erasure_answers_503_when_its_events_cannot_be_published_and_a_retry_finishes_it() {
    let portal = portal();
    let (_, login) = dev_login(&portal.router, "jana", "substantial").await;
    let login = login.expect("session");
    let subject = "DEMO%2Fjana-novakova";
    let sealed = portal.sealer.encrypt(subject, "doc-1", "content", b"hers").await.expect("seal");
    let broken = Identity { queues: Arc::new(DownQueues), ..portal.identity.clone() };
    let broken_router = portal.harness.router(functions(broken));
    let delete = || {
        Request::delete("/api/me")
            .header(header::COOKIE, &login.cookie)
            .header(header::CONTENT_TYPE, "application/json")
            .header("x-csrf-token", &login.csrf)
            .body(Body::from(r#"{"confirm":"DELETE MY DATA"}"#))
            .expect("request")
    };
    let (status, _, problem) = call(&broken_router, delete()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(problem["detail"], "erasure started; try again");
    let result = portal.sealer.decrypt(subject, "doc-1", "content", &sealed).await;
    assert!(matches!(result, Err(CryptoError::Shredded)), "the shred happened before the 503: {result:?}");

    // The retry (the session still works) shreds again and publishes.
    let (status, _, _) = call(&portal.router, delete()).await;
    assert_eq!(status, StatusCode::OK);
    let name = portal_store::QueueName::parse("erase-documents").expect("queue name");
    let first = portal.identity.queues.receive(&name, 10, std::time::Duration::from_secs(30)).await.expect("receive");
    assert_eq!(first.len(), 1);
    let first: portal_events::Event = serde_json::from_str(&first[0].text).expect("event");
    assert_eq!(first.subject, subject);
}
