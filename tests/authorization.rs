//! Authorization walks over every declared route, so new routes join
//! automatically: anonymous requests to anything not explicitly public get
//! 401, and every route that takes a resource id must prove that one citizen's
//! session on another citizen's resource gets 404 (broken object level
//! authorization) before the walk passes.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use portal::app::{self, Services, Stores};
use portal_host::Trigger;
use portal_store::embedded::EmbeddedStore;
use portal_store::{NewDocument, SystemClock};
use serde_json::{Value, json};
use tower::ServiceExt as _;

/// Routes anyone may call (method, route), with why.
const PUBLIC: &[(&str, &str, &str)] = &[
    ("GET", "health", "liveness probe"),
    ("GET", "ready", "readiness probe"),
    ("GET", "version", "what is running"),
    ("GET", "openapi.json", "the API contract the front end builds against"),
    ("GET", "auth/login", "starts a login"),
    ("GET", "auth/callback", "the provider's redirect back"),
    ("GET", "auth/dev", "the development provider's page (404 outside local mode)"),
    ("POST", "auth/dev/login", "the development provider's login (404 outside local mode)"),
    ("GET", "databox/jobs/archive", "operators' job status: authLevel function, the host demands a function key"),
    (
        "GET",
        "calendar/feed/{token}",
        "the iCalendar feed: the secret token is the credential; a rotated one answers 404",
    ),
    (
        "GET",
        "shared/{token}",
        "a share link: the secret token is the credential; unknown, expired and revoked answer 404",
    ),
    ("GET", "petitions", "ePetice: published petitions are public (§6a: the petition and its count are public)"),
    ("GET", "petitions/{id}", "ePetice: a published petition and its exact count; never who signed"),
    (
        "GET",
        "petitions/{id}/attachments/{n}",
        "ePetice: a published petition's attachments are public with it (§6a); a draft's are 404 to all but its creator",
    ),
];

fn is_public(method: &str, route: &str) -> bool {
    PUBLIC.iter().any(|(m, r, _)| *m == method && *r == route)
}

async fn app() -> (app::App, Services) {
    let clock = Arc::new(SystemClock);
    let stores = Stores::embedded(EmbeddedStore::in_memory(clock.clone()).expect("store"), clock);
    let mut settings = portal_config::Settings::from_lookup(|_| None).expect("defaults");
    settings.store = portal_config::StoreSettings::Embedded { data_dir: ".portal".into(), in_memory: true };
    let services = Services::with_stores(stores, &settings).await.expect("services");
    (app::app(&services, &settings, None).expect("app"), services)
}

#[tokio::test]
async fn every_non_public_route_refuses_anonymous_requests() {
    let (app, _) = app().await;
    let router = app.router();
    let mut checked = 0;
    for function in app.runtime.functions() {
        let Trigger::Http { methods, route, .. } = &function.trigger else { continue };
        for method in methods.iter().filter(|method| !is_public(method.as_str(), route)) {
            let path = format!("/api/{}", route.replace("{folder}", "received").replace('{', "x").replace('}', ""));
            let request = Request::builder().method(method.clone()).uri(&path).body(Body::empty()).expect("request");
            let status = router.clone().oneshot(request).await.expect("infallible").status();
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path} ({}) answered anonymously", function.name);
            checked += 1;
        }
    }
    assert!(checked >= 20, "the walk covered the citizen routes ({checked})");
}

struct Session {
    cookie: String,
    csrf: String,
}

async fn login(router: &axum::Router, citizen: &str) -> Session {
    let request = Request::post("/api/auth/dev/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!("citizen={citizen}&loa=high")))
        .expect("request");
    let response = router.clone().oneshot(request).await.expect("infallible");
    let cookie =
        response.headers()[header::SET_COOKIE].to_str().expect("cookie").split(';').next().expect("pair").to_owned();
    let session =
        Request::get("/api/auth/session").header(header::COOKIE, &cookie).body(Body::empty()).expect("request");
    let body = axum::body::to_bytes(router.clone().oneshot(session).await.expect("infallible").into_body(), usize::MAX)
        .await
        .expect("body");
    let csrf = serde_json::from_slice::<Value>(&body).expect("json")["csrfToken"].as_str().expect("csrf").to_owned();
    Session { cookie, csrf }
}

async fn call(
    router: &axum::Router,
    method: &str,
    path: &str,
    who: &Session,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::COOKIE, &who.cookie)
        .header("x-csrf-token", &who.csrf);
    let body = match body {
        Some(json) => {
            request = request.header(header::CONTENT_TYPE, "application/json");
            Body::from(json.to_string())
        }
        None => Body::empty(),
    };
    let response = router.clone().oneshot(request.body(body).expect("request")).await.expect("infallible");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// Delivers a queue message the way the Functions host does: the envelope, POSTed to `/{function}`.
async fn deliver(router: &axum::Router, secret: Option<&str>, function: &str, text: &str) {
    use portal_host::envelope::host_side::{self, QueueMessageProperties};
    let now = time::OffsetDateTime::now_utc();
    let properties = QueueMessageProperties {
        id: "probe".into(),
        pop_receipt: "receipt".into(),
        dequeue_count: 1,
        insertion_time: now,
        expiration_time: now + time::Duration::days(7),
        next_visible_time: now + time::Duration::minutes(10),
    };
    let envelope = host_side::queue_invocation(function, "message", text, &properties, now);
    let request = Request::post(format!("/{function}"))
        .header(portal_host::runtime::INVOCATION_SECRET_HEADER, secret.unwrap_or_default())
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(serde_json::to_vec(&envelope).expect("envelope")))
        .expect("request");
    let status = router.clone().oneshot(request).await.expect("infallible").status();
    assert_eq!(status, StatusCode::OK, "{function} accepted the message");
}

/// Uploads a file as `who` (multipart, as a browser sends it); returns the document id.
async fn upload(router: &axum::Router, who: &Session, name: &str, media_type: &str, content: &[u8]) -> String {
    let json = upload_to(router, who, "/api/documents", name, media_type, content).await;
    json["id"].as_str().expect("document id").to_owned()
}

/// Posts a file as the multipart part `file` to `path` as `who`; the created resource.
async fn upload_to(
    router: &axum::Router,
    who: &Session,
    path: &str,
    name: &str,
    media_type: &str,
    content: &[u8],
) -> Value {
    let boundary = "portal-test-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
         Content-Type: {media_type}\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let request = Request::post(path)
        .header(header::COOKIE, &who.cookie)
        .header("x-csrf-token", &who.csrf)
        .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
        .body(Body::from(body))
        .expect("request");
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
    let json: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    assert_eq!(status, StatusCode::CREATED, "upload to {path}: {json}");
    json
}

#[tokio::test]
async fn one_citizen_never_reaches_another_citizens_resources() {
    let (app, services) = app().await;
    let router = app.router();
    let (owner, intruder) = (login(&router, "jana").await, login(&router, "jiri").await);

    // The owner's resources, created through the API (or the store, where the
    // API cannot make one for a demo citizen).
    let (_, received) = call(&router, "GET", "/api/databox/messages?folder=received&pageSize=100", &owner, None).await;
    let message = received["items"]
        .as_array()
        .and_then(|items| items.iter().find(|m| m["status"].as_u64().is_some_and(|s| (4..=7).contains(&s))))
        .and_then(|m| m["id"].as_str())
        .expect("the owner has a readable message")
        .to_owned();
    let (status, purchase) =
        call(&router, "POST", "/api/databox/credit/purchases", &owner, Some(json!({"amountCzk": 100}))).await;
    assert_eq!(status, StatusCode::CREATED);
    let purchase = purchase["paymentId"].as_str().expect("id").to_owned();
    services
        .stores
        .documents
        .create(
            "databox",
            NewDocument::new("DEMO%2Fjana-novakova", "box-request-r1", json!({"type": "box-request", "id": "r1"})),
        )
        .await
        .expect("a box request of the owner");
    let document = upload(&router, &owner, "smlouva.pdf", "application/pdf", b"%PDF-1.4\n%%EOF\n").await;
    let (status, share) =
        call(&router, "POST", &format!("/api/documents/{document}/shares"), &owner, Some(json!({}))).await;
    assert_eq!(status, StatusCode::CREATED, "{share}");
    let share = share["id"].as_str().expect("share id").to_owned();
    let (status, event) =
        call(&router, "POST", "/api/calendar/events", &owner, Some(json!({"title": "Lékař", "date": "2026-12-01"})))
            .await;
    assert_eq!(status, StatusCode::CREATED, "{event}");
    let event = event["id"].as_str().expect("event id").to_owned();
    deliver(
        &router,
        app.runtime.invocation_secret(),
        "SendNotification",
        &json!({"id": "databox.new-message:probe", "type": "databox.new-message", "subject": "DEMO%2Fjana-novakova",
                "occurredAt": "2026-11-23T08:00:00Z", "data": {"messageId": "1", "sender": "Úřad", "subject": "Věc"}})
        .to_string(),
    )
    .await;
    let (status, job) =
        call(&router, "POST", "/api/registers/extracts", &owner, Some(json!({"kind": "criminal-record"}))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    let job = job["id"].as_str().expect("job id").to_owned();
    let ends_on = (time::OffsetDateTime::now_utc() + time::Duration::days(30)).date().to_string();
    let (status, petition) = call(
        &router,
        "POST",
        "/api/petitions",
        &owner,
        Some(json!({"title": "Za lavičky v parku", "summary": "Žádáme lavičky.", "text": "Žádáme o lavičky.",
                    "addressee": {"name": "Městský úřad", "boxId": "simmuhl"}, "endsOn": ends_on})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{petition}");
    let petition = petition["id"].as_str().expect("petition id").to_owned();
    let attachment = upload_to(
        &router,
        &owner,
        &format!("/api/petitions/{petition}/attachments"),
        "příloha.pdf",
        "application/pdf",
        b"%PDF-1.4\n%%EOF\n",
    )
    .await;
    let attachment = attachment["index"].as_u64().expect("attachment index");
    let (status, filing) = call(
        &router,
        "POST",
        "/api/filings/register-writes",
        &owner,
        Some(json!({"kind": "delivery-address", "poBox": "42", "municipality": "Brno", "postcode": "60200"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{filing}");
    let filing = filing["id"].as_str().expect("filing id").to_owned();
    let (_, inbox) = call(&router, "GET", "/api/notifications", &owner, None).await;
    let notification = inbox["items"][0]["id"].as_str().unwrap_or_else(|| panic!("a notification: {inbox}")).to_owned();

    let (status, contact) =
        call(&router, "PUT", "/api/me/contacts/email", &owner, Some(json!({"address": "jana@example.cz"}))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{contact}");

    let dog_fee = "p10-pes-2027-0042";
    let (status, fee_payment) = call(&router, "POST", &format!("/api/fees/{dog_fee}/payments"), &owner, None).await;
    assert_eq!(status, StatusCode::CREATED, "{fee_payment}");
    let fee_payment = fee_payment["id"].as_str().expect("fee payment id").to_owned();
    let (status, watch) =
        call(&router, "POST", "/api/me/notice-board-watches", &owner, Some(json!({"keywords": ["uzavírka"]}))).await;
    assert_eq!(status, StatusCode::CREATED, "{watch}");
    let watch = watch["id"].as_str().expect("watch id").to_owned();

    // Route → how the intruder asks for the owner's resource.
    let probes: Vec<(&str, &str, String, Option<Value>)> = vec![
        ("databox/messages/{folder}/{id}", "GET", format!("/api/databox/messages/received/{message}"), None),
        (
            "databox/messages/{folder}/{id}/attachments/{index}",
            "GET",
            format!("/api/databox/messages/received/{message}/attachments/0"),
            None,
        ),
        ("databox/messages/{folder}/{id}/zfo", "GET", format!("/api/databox/messages/received/{message}/zfo"), None),
        ("databox/messages/received/{id}/read", "POST", format!("/api/databox/messages/received/{message}/read"), None),
        ("databox/box-requests/{id}", "GET", "/api/databox/box-requests/r1".to_owned(), None),
        ("databox/credit/purchases/{id}", "GET", format!("/api/databox/credit/purchases/{purchase}"), None),
        (
            "databox/credit/purchases/{id}/simulated-payment",
            "POST",
            format!("/api/databox/credit/purchases/{purchase}/simulated-payment"),
            Some(json!({"paid": true})),
        ),
        ("documents/{id}", "GET", format!("/api/documents/{document}"), None),
        ("calendar/events/{id}", "GET", format!("/api/calendar/events/{event}"), None),
        ("notifications/{id}", "GET", format!("/api/notifications/{notification}"), None),
        ("registers/extracts/{id}", "GET", format!("/api/registers/extracts/{job}"), None),
        ("me/petitions/{id}", "GET", format!("/api/me/petitions/{petition}"), None),
        ("filings/{id}", "GET", format!("/api/filings/{filing}"), None),
        ("filings/{id}/urge", "POST", format!("/api/filings/{filing}/urge"), None),
        (
            "filings/{id}/simulated-payment",
            "POST",
            format!("/api/filings/{filing}/simulated-payment"),
            Some(json!({"paid": true})),
        ),
        ("petitions/{id}", "PUT", format!("/api/petitions/{petition}"), Some(json!({"title": "cizí"}))),
        ("petitions/{id}/publish", "POST", format!("/api/petitions/{petition}/publish"), None),
        ("petitions/{id}/close", "POST", format!("/api/petitions/{petition}/close"), None),
        ("petitions/{id}/hand-over", "POST", format!("/api/petitions/{petition}/hand-over"), None),
        ("petitions/{id}/signatures", "POST", format!("/api/petitions/{petition}/signatures"), None),
        ("petitions/{id}/signatures/mine", "DELETE", format!("/api/petitions/{petition}/signatures/mine"), None),
        ("petitions/{id}/signatures/mine", "GET", format!("/api/petitions/{petition}/signatures/mine"), None),
        ("petitions/{id}/extract.csv", "GET", format!("/api/petitions/{petition}/extract.csv"), None),
        ("petitions/{id}/extract.pdf", "GET", format!("/api/petitions/{petition}/extract.pdf"), None),
        ("petitions/{id}/attachments", "POST", format!("/api/petitions/{petition}/attachments"), None),
        // PUBLIC once published, but the owner's petition here is a draft: 404 to the intruder.
        ("petitions/{id}/attachments/{n}", "GET", format!("/api/petitions/{petition}/attachments/{attachment}"), None),
        (
            "petitions/{id}/attachments/{n}",
            "DELETE",
            format!("/api/petitions/{petition}/attachments/{attachment}"),
            None,
        ),
        // Not a citizen's resource: officials only, so a citizen gets 403 (checked below).
        ("officials/petitions/{id}/block", "POST", format!("/api/officials/petitions/{petition}/block"), None),
        ("officials/petitions/{id}/unblock", "POST", format!("/api/officials/petitions/{petition}/unblock"), None),
        ("notifications/{id}/read", "POST", format!("/api/notifications/{notification}/read"), None),
        // The owner's real contact (set above); the intruder has none of that kind.
        ("me/contacts/{contact}", "DELETE", "/api/me/contacts/email".to_owned(), None),
        (
            "me/contacts/{contact}/verify",
            "POST",
            "/api/me/contacts/email/verify".to_owned(),
            Some(json!({"code": "000000"})),
        ),
        ("documents/{id}/content", "GET", format!("/api/documents/{document}/content"), None),
        ("documents/{id}/shares", "GET", format!("/api/documents/{document}/shares"), None),
        ("documents/{id}/shares/{shareId}", "DELETE", format!("/api/documents/{document}/shares/{share}"), None),
    ];
    let mut probes = probes;
    probes.extend([
        ("documents/{id}", "PATCH", format!("/api/documents/{document}"), Some(json!({"title": "cizí"}))),
        ("documents/{id}", "DELETE", format!("/api/documents/{document}"), None),
        ("documents/{id}/shares", "POST", format!("/api/documents/{document}/shares"), Some(json!({}))),
        (
            "calendar/events/{id}",
            "PUT",
            format!("/api/calendar/events/{event}"),
            Some(json!({"title": "cizí", "date": "2026-12-02"})),
        ),
        ("calendar/events/{id}", "DELETE", format!("/api/calendar/events/{event}"), None),
        ("me/notice-board-watches/{id}", "DELETE", format!("/api/me/notice-board-watches/{watch}"), None),
        // The owner's fee (of her municipality) and her payment of it.
        ("fees/{fee}/payments", "POST", format!("/api/fees/{dog_fee}/payments"), None),
        ("fees/{fee}/qr", "GET", format!("/api/fees/{dog_fee}/qr"), None),
        ("fees/{fee}/qr/png", "GET", format!("/api/fees/{dog_fee}/qr/png"), None),
        ("fees/{fee}/qr/svg", "GET", format!("/api/fees/{dog_fee}/qr/svg"), None),
        ("fees/payments/{payment}", "GET", format!("/api/fees/payments/{fee_payment}"), None),
        (
            "fees/payments/{payment}/simulated-checkout",
            "POST",
            format!("/api/fees/payments/{fee_payment}/simulated-checkout"),
            Some(json!({"card": "4242424242424242"})),
        ),
    ]);
    // The tile modeller: officials only (a real tile id), so a citizen gets 403.
    let version = Some(json!({"version": 1}));
    probes.extend([
        ("admin/tiles/{id}", "GET", "/api/admin/tiles/cssz".to_owned(), None),
        ("admin/tiles/{id}", "PUT", "/api/admin/tiles/cssz".to_owned(), Some(json!({"id": "cssz"}))),
        ("admin/tiles/{id}/validate", "POST", "/api/admin/tiles/cssz/validate".to_owned(), None),
        ("admin/tiles/{id}/preview", "POST", "/api/admin/tiles/cssz/preview".to_owned(), Some(json!({"citizen": "jana"}))),
        ("admin/tiles/{id}/publication", "POST", "/api/admin/tiles/cssz/publication".to_owned(), version.clone()),
        ("admin/tiles/{id}/approval", "POST", "/api/admin/tiles/cssz/approval".to_owned(), version.clone()),
        ("admin/tiles/{id}/unpublish", "POST", "/api/admin/tiles/cssz/unpublish".to_owned(), None),
        ("admin/tiles/{id}/rollback", "POST", "/api/admin/tiles/cssz/rollback".to_owned(), version),
    ]);
    // Every method of every route that takes an id is probed, or names only
    // the caller's own thing (said here, with why).
    const OWN_ONLY: &[(&str, &str, &str)] = &[(
        "me/contacts/{contact}",
        "PUT",
        "sets the caller's own contact: {contact} is a kind (email, phone), never another citizen's",
    )];
    for function in app.runtime.functions() {
        let Trigger::Http { route, methods, .. } = &function.trigger else { continue };
        if !route.contains('{') {
            continue;
        }
        for method in methods.iter().map(|m| m.as_str()).filter(|m| !is_public(m, route)) {
            assert!(
                probes.iter().any(|(probed, probed_method, ..)| probed == route && *probed_method == method)
                    || OWN_ONLY.iter().any(|(own, own_method, _)| own == route && *own_method == method),
                "{method} {route} ({}) takes a resource id but has no BOLA probe in tests/authorization.rs",
                function.name
            );
        }
    }
    for (route, method, path, body) in &probes {
        let (status, problem) = call(&router, method, path, &intruder, body.clone()).await;
        if route.starts_with("officials/") || route.starts_with("admin/") {
            assert_eq!(status, StatusCode::FORBIDDEN, "{route}: only officials: {problem}");
        } else if route.starts_with("me/contacts/") {
            // The path names a kind in the caller's own namespace: the intruder
            // meets only their own state (none set: 404, no code waiting: 409);
            // that the owner's contact is untouched is checked below.
            assert!(
                [StatusCode::NOT_FOUND, StatusCode::CONFLICT].contains(&status),
                "{route}: the intruder reaches only their own contacts: {problem}"
            );
        } else {
            assert_eq!(
                status,
                StatusCode::NOT_FOUND,
                "{route}: another citizen's resource must look absent: {problem}"
            );
        }
    }
    let (_, contacts) = call(&router, "GET", "/api/me/contacts", &owner, None).await;
    assert!(contacts.to_string().contains("jana@"), "the owner's contact survived the intruder's probes: {contacts}");
    let (status, _) = call(&router, "GET", &format!("/api/petitions/{petition}"), &intruder, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a draft is private to its creator, even on the public route");
    // The owner still reaches each (the probes name real resources).
    // (An open draft has no extract yet: those probes name a real petition, but the owner gets 409 there.)
    for (route, method, path, body) in probes.iter().filter(|(route, method, ..)| {
        *method == "GET" && !route.contains("extract.") && !route.ends_with("signatures/mine")
    }) {
        let (status, _) = call(&router, method, path, &owner, body.clone()).await;
        assert_eq!(status, StatusCode::OK, "{route}: the owner reaches it");
    }
}
