//! Erasure is final, across every capability: `DELETE /api/me` from one
//! window ends every session and bearer token of the citizen, and no event
//! that arrives afterwards (already queued, or published late by another
//! capability) writes anything for them again: each consumer acknowledges it
//! and records the drop.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use portal::app::{self, Services, Stores};
use portal::local_host::LocalHost;
use portal_events::Event;
use portal_store::embedded::EmbeddedStore;
use portal_store::{DocumentStore, Query, SystemClock};
use serde_json::{Value, json};
use tower::ServiceExt as _;

const JANA: &str = "DEMO%2Fjana-novakova";
/// Every collection a capability writes a citizen's records to (partition = the subject).
const COLLECTIONS: &[&str] =
    &["profiles", "databox", "documents", "calendar", "notifications", "registers", "petitions", "keys"];

struct Window {
    cookie: String,
    csrf: String,
}

async fn call(
    router: &axum::Router,
    method: &str,
    path: &str,
    auth: (&str, &str),
    csrf: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = Request::builder().method(method).uri(path).header(auth.0, auth.1).header("x-csrf-token", csrf);
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

impl Window {
    async fn call(&self, router: &axum::Router, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        call(router, method, path, (header::COOKIE.as_str(), &self.cookie), &self.csrf, body).await
    }
}

async fn login(router: &axum::Router, citizen: &str) -> Window {
    let request = Request::post("/api/auth/dev/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!("citizen={citizen}&loa=high")))
        .expect("request");
    let response = router.clone().oneshot(request).await.expect("infallible");
    let cookie =
        response.headers()[header::SET_COOKIE].to_str().expect("cookie").split(';').next().expect("pair").to_owned();
    let window = Window { cookie, csrf: String::new() };
    let (status, session) = window.call(router, "GET", "/api/auth/session", None).await;
    assert_eq!(status, StatusCode::OK, "{session}");
    Window { csrf: session["csrfToken"].as_str().expect("csrf").to_owned(), ..window }
}

/// Every record of `owner` in every capability, with its version.
async fn records(store: &dyn DocumentStore, owner: &str) -> BTreeMap<String, String> {
    let mut all = BTreeMap::new();
    for collection in COLLECTIONS {
        let mut continuation = None;
        loop {
            let page = store.query(collection, owner, Query::default().after(continuation)).await.expect("query");
            for doc in page.items {
                all.insert(format!("{collection}/{}", doc.id), doc.etag.as_str().to_owned());
            }
            continuation = page.continuation;
            if continuation.is_none() {
                break;
            }
        }
    }
    all
}

fn event(kind: &str, key: &str, data: Value) -> Event {
    Event::new(kind, key, JANA, time::OffsetDateTime::now_utc(), data)
}

/// The app served on port 0, and the local host that delivers its queues.
async fn portal() -> (axum::Router, LocalHost, Stores) {
    let clock = Arc::new(SystemClock);
    let stores = Stores::embedded(EmbeddedStore::in_memory(clock.clone()).expect("store"), clock.clone());
    let mut settings = portal_config::Settings::from_lookup(|_| None).expect("defaults");
    settings.store = portal_config::StoreSettings::Embedded { data_dir: ".portal".into(), in_memory: true };
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
    (router, host, stores)
}

#[tokio::test]
async fn erasure_ends_every_session_and_token_and_no_late_event_writes_for_the_citizen() {
    let (router, host, stores) = portal().await;

    // Two windows and the mobile app's bearer token.
    let (first, second) = (login(&router, "jana").await, login(&router, "jana").await);
    let (status, bearer) = second.call(&router, "POST", "/api/auth/token", None).await;
    assert_eq!(status, StatusCode::CREATED, "{bearer}");
    let bearer = format!("Bearer {}", bearer["token"].as_str().expect("token"));
    let (status, _) = call(&router, "GET", "/api/me", (header::AUTHORIZATION.as_str(), &bearer), "", None).await;
    assert_eq!(status, StatusCode::OK, "the token works before the erasure");
    // Work still queued when she erases: an extract job and a credit purchase
    // (the logins queued their sign-in events too).
    let (status, job) =
        first.call(&router, "POST", "/api/registers/extracts", Some(json!({"kind": "criminal-record"}))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    let (status, purchase) =
        first.call(&router, "POST", "/api/databox/credit/purchases", Some(json!({"amountCzk": 100}))).await;
    assert!(status.is_success(), "{purchase}");
    // And an export she asked for, not built yet.
    let (status, export) = first.call(&router, "POST", "/api/me/exports", None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{export}");

    let (status, erased) = first.call(&router, "DELETE", "/api/me", Some(json!({"confirm": "DELETE MY DATA"}))).await;
    assert_eq!(status, StatusCode::OK, "{erased}");

    let (status, _) = second.call(&router, "GET", "/api/me", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the other window is logged out");
    let (status, _) = call(&router, "GET", "/api/me", (header::AUTHORIZATION.as_str(), &bearer), "", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the bearer token ended");
    let (status, _) = second
        .call(&router, "POST", "/api/calendar/events", Some(json!({"title": "Lékař", "date": "2026-12-01"})))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "nothing is created through a dead session");

    // Events other capabilities publish late, to every consumer that writes for a subject.
    let date = (time::OffsetDateTime::now_utc() + time::Duration::days(40)).date().to_string();
    let late = [
        (
            portal_events::NOTIFICATIONS_QUEUE,
            event("databox.new-message", "late-1", json!({"messageId": "1", "sender": "Úřad", "subject": "Věc"})),
        ),
        (
            portal_events::CALENDAR_QUEUE,
            event(
                "calendar.entry",
                "late-2",
                json!({"entryId": "late", "kind": "deemed-delivery", "title": "Fikce doručení", "date": date,
                   "source": "databox", "sourceRef": "1"}),
            ),
        ),
        (
            portal_events::DOCUMENTS_QUEUE,
            event(
                "document.filed",
                "late-3",
                json!({"documentId": "late-doc", "title": "Výpis", "kind": "extract", "source": "registers",
                   "sourceRef": "", "mediaType": "application/pdf", "fileName": "vypis.pdf", "size": 3,
                   "blob": "late/blob"}),
            ),
        ),
        (
            portal_events::FILINGS_QUEUE,
            event(
                "filing.recorded",
                "late-4",
                json!({"filingId": "late-filing", "kind": "licence", "title": "Živnost", "agency": {"name": "Úřad"},
                   "status": "submitted", "at": "2026-11-23T08:00:00Z", "source": "registers"}),
            ),
        ),
        (
            portal_events::DATA_MESSAGES_QUEUE,
            event(
                "databox.send-on-behalf",
                "late-5",
                json!({"requestId": "late-request", "recipientBoxId": "abc2def", "subject": "Podání",
                   "source": "registers", "attachments": []}),
            ),
        ),
    ];
    let before = records(stores.documents.as_ref(), JANA).await;
    // The payment gateway settles her purchase late.
    let payment = purchase["paymentId"].as_str().or(purchase["id"].as_str()).expect("payment id");
    let settle = json!({"paymentId": payment, "subject": JANA}).to_string();
    let queue = portal_store::QueueName::parse("purchase-credit").expect("queue");
    stores.queues.send(&queue, &settle, None).await.expect("send");
    for (queue, event) in &late {
        portal_events::publish(stores.queues.as_ref(), queue, event).await.expect("publish");
    }
    // Deliver everything queued except the erasure itself (whose consumers
    // delete, which is not what this test looks at).
    let mut dropped = 0;
    for function in host.queue_functions().to_vec() {
        if function.name.starts_with("Erase") {
            continue;
        }
        let delivery = host.deliver(&function).await.expect("deliver");
        assert_eq!(delivery.received, delivery.succeeded, "{}: acknowledged, never retried", function.name);
        dropped += delivery.received;
    }
    assert!(dropped >= late.len() + 3, "the late events and the queued work were delivered ({dropped})");
    assert_eq!(records(stores.documents.as_ref(), JANA).await, before, "nothing was written for the erased citizen");
    assert!(stores.blobs.list("exports/").await.expect("list").is_empty(), "no export was built for her");

    let failures = stores
        .documents
        .query(app::FAILURES_COLLECTION, "invocation-failures", Query::default().page_size(100))
        .await
        .expect("failures");
    let recorded: Vec<String> = failures.items.iter().map(|doc| doc.body["function"].to_string()).collect();
    for function in [
        "SendNotification",
        "FileCalendarEntry",
        "FileDocument",
        "RecordFiling",
        "SendDataMessageOnBehalf",
        "FetchExtract",
        "RefreshOnSignIn",
        "PurchaseCredit",
        "BuildExport",
    ] {
        assert!(recorded.iter().any(|name| name.contains(function)), "{function}'s drop is recorded: {recorded:?}");
    }
}

#[tokio::test]
async fn a_forged_erasure_event_for_a_living_citizen_deletes_nothing_and_is_recorded() {
    let (router, host, stores) = portal().await;
    let jiri = login(&router, "jiri").await;
    let (status, created) =
        jiri.call(&router, "POST", "/api/calendar/events", Some(json!({"title": "Lékař", "date": "2026-12-01"}))).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (status, me) = jiri.call(&router, "GET", "/api/me", None).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    let owner = "DEMO%2Fjiri-dvorak";
    let before = records(stores.documents.as_ref(), owner).await;
    assert!(before.len() >= 2, "jiří has records: {before:?}");

    let forged = Event::new(
        portal_events::kinds::ERASED,
        &format!("{owner}:1"),
        owner,
        time::OffsetDateTime::now_utc(),
        json!({}),
    );
    for queue in portal_events::ERASURE_QUEUES {
        portal_events::publish(stores.queues.as_ref(), queue, &forged).await.expect("publish");
    }
    for function in host.queue_functions().to_vec() {
        if function.name.starts_with("Erase") {
            let delivery = host.deliver(&function).await.expect("deliver");
            assert_eq!((delivery.received, delivery.succeeded), (1, 1), "{}: acknowledged", function.name);
        }
    }
    assert_eq!(records(stores.documents.as_ref(), owner).await, before, "nothing of his was deleted");
    let (status, _) = jiri.call(&router, "GET", "/api/calendar/events", None).await;
    assert_eq!(status, StatusCode::OK);

    let failures = stores
        .documents
        .query(app::FAILURES_COLLECTION, "invocation-failures", Query::default().page_size(100))
        .await
        .expect("failures");
    let recorded: Vec<String> = failures.items.iter().map(|doc| doc.body["function"].to_string()).collect();
    assert_eq!(recorded.len(), portal_events::ERASURE_QUEUES.len(), "every refusal is recorded: {recorded:?}");
}

#[tokio::test]
async fn invocation_routes_are_not_reachable_from_outside_in_local_mode() {
    let (router, _host, stores) = portal().await;
    let jiri = login(&router, "jiri").await;
    let (status, created) =
        jiri.call(&router, "POST", "/api/calendar/events", Some(json!({"title": "Lékař", "date": "2026-12-01"}))).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let owner = "DEMO%2Fjiri-dvorak";
    let before = records(stores.documents.as_ref(), owner).await;

    let forged = Event::new(portal_events::kinds::ERASED, "x:1", owner, time::OffsetDateTime::now_utc(), json!({}));
    let text = serde_json::to_string(&forged).expect("event");
    let now = time::OffsetDateTime::now_utc();
    let properties = portal_host::envelope::host_side::QueueMessageProperties {
        id: "probe".into(),
        pop_receipt: "receipt".into(),
        dequeue_count: 1,
        insertion_time: now,
        expiration_time: now + time::Duration::days(7),
        next_visible_time: now + time::Duration::minutes(10),
    };
    for (function, secret) in
        [("EraseDocumentsData", None), ("EraseCalendarData", Some("guessed")), ("RewrapDataKeys", None)]
    {
        let envelope = portal_host::envelope::host_side::queue_invocation(function, "message", &text, &properties, now);
        let mut request = Request::post(format!("/{function}")).header(header::CONTENT_TYPE, "application/json");
        if let Some(secret) = secret {
            request = request.header(portal_host::runtime::INVOCATION_SECRET_HEADER, secret);
        }
        let request = request.body(Body::from(serde_json::to_vec(&envelope).expect("envelope"))).expect("request");
        let status = router.clone().oneshot(request).await.expect("infallible").status();
        assert_eq!(status, StatusCode::NOT_FOUND, "POST /{function} from outside");
    }
    assert_eq!(records(stores.documents.as_ref(), owner).await, before, "nothing was deleted");
}
