//! Issue 17's acceptance for the pension calculator and the notice boards,
//! tried as a citizen would, against the whole app in local mode: the local
//! host delivers the queues and invokes the timer with the envelopes the
//! Functions host sends, and the notice boards are the simulator's feeds over
//! real HTTP.
//!
//! - Without logging in, an estimate for someone born in 1970 with 40 years of
//!   insurance: the breakdown and the retirement date.
//! - Logged in as Ludmila: the estimate prefilled from the (simulated) ČSSZ record.
//! - Jana watches "uzavírka"; the harvester runs twice; exactly one
//!   notification reaches her inbox.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use portal::app::{self, Services, Stores};
use portal::local_host::LocalHost;
use portal_store::embedded::EmbeddedStore;
use portal_store::{Clock, ManualClock};
use serde_json::{Value, json};
use time::macros::datetime;
use tower::ServiceExt as _;

struct Portal {
    router: axum::Router,
    secret: String,
    host: LocalHost,
    clock: Arc<ManualClock>,
}

struct Session {
    cookie: String,
    csrf: String,
}

fn json_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap_or(Value::Null)
}

async fn portal() -> Portal {
    let clock = Arc::new(ManualClock::new(datetime!(2026-11-23 08:00 UTC)));
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
    let secret = app.runtime.invocation_secret().unwrap_or_default().to_owned();
    Portal { router, secret, host, clock }
}

impl Portal {
    async fn call(&self, request: Request<Body>) -> (StatusCode, Value) {
        let response = self.router.clone().oneshot(request).await.expect("infallible");
        let status = response.status();
        (status, json_of(&axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body")))
    }

    async fn login(&self, citizen: &str) -> Session {
        let request = Request::post("/api/auth/dev/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!("citizen={citizen}&loa=substantial")))
            .expect("request");
        let response = self.router.clone().oneshot(request).await.expect("infallible");
        let cookie = response.headers()[header::SET_COOKIE].to_str().expect("cookie").split(';').next().expect("pair");
        let cookie = cookie.to_owned();
        let request = Request::get("/api/auth/session").header(header::COOKIE, &cookie).body(Body::empty());
        let (_, session) = self.call(request.expect("request")).await;
        Session { cookie, csrf: session["csrfToken"].as_str().expect("csrf").to_owned() }
    }

    async fn as_citizen(&self, method: &str, path: &str, who: &Session, body: Option<Value>) -> (StatusCode, Value) {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::COOKIE, &who.cookie)
            .header("x-csrf-token", &who.csrf)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
            .expect("request");
        self.call(request).await
    }

    /// Runs a timer function now, as the host does when its schedule comes.
    async fn run_timer(&self, name: &str) -> Value {
        use portal_host::envelope::host_side;
        let info = portal_host::envelope::TimerInfo { schedule: None, schedule_status: None, is_past_due: false };
        let envelope = host_side::timer_invocation(name, "timer", &info, self.clock.now());
        let request = Request::post(format!("/{name}"))
            .header(portal_host::runtime::INVOCATION_SECRET_HEADER, &self.secret)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(serde_json::to_vec(&envelope).expect("envelope")))
            .expect("request");
        let (status, body) = self.call(request).await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        body
    }

    /// Delivers queue messages until every queue is empty.
    async fn settle(&self) {
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
}

#[tokio::test]
async fn a_new_user_estimates_a_pension_and_ludmila_sees_hers_prefilled() {
    let portal = portal().await;
    let request = Request::post("/api/pension/estimate")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            json!({"birthDate": "1970-05-14", "sex": "male", "insuranceYears": 40, "averageMonthlyEarnings": 40000})
                .to_string(),
        ))
        .expect("request");
    let (status, estimate) = portal.call(request).await;
    assert_eq!(status, StatusCode::OK, "{estimate}");
    assert_eq!(estimate["retirementDate"], "2035-10-14");
    assert_eq!(estimate["parametersYear"], 2026);
    assert_eq!(estimate["breakdown"]["basicAmount"], 4900);
    assert_eq!(estimate["breakdown"]["total"], 20_526);
    assert!(estimate["breakdown"]["lines"].as_array().is_some_and(|l| l.len() >= 5));

    let ludmila = portal.login("ludmila").await;
    let (status, mine) = portal.as_citizen("GET", "/api/me/pension/estimate", &ludmila, None).await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    assert_eq!(mine["simulated"], true, "the ČSSZ record is the simulator's");
    assert!(mine["provenance"].as_array().expect("provenance").iter().any(|p| p["source"] == "cssz"));
}

#[tokio::test]
async fn a_watch_of_uzavirka_brings_exactly_one_notification_over_two_harvests() {
    let portal = portal().await;
    let jana = portal.login("jana").await;
    let (status, watch) =
        portal.as_citizen("POST", "/api/me/notice-board-watches", &jana, Some(json!({"keywords": ["uzavírka"]}))).await;
    assert_eq!(status, StatusCode::CREATED, "{watch}");
    portal.settle().await;
    let (_, before) = portal.as_citizen("GET", "/api/notifications", &jana, None).await;
    let count = |inbox: &Value| {
        inbox["items"].as_array().map_or(0, |items| {
            items.iter().filter(|n| n["title"].as_str().is_some_and(|t| t.starts_with("Nové na úřední desce"))).count()
        })
    };
    assert_eq!(count(&before), 0);

    for _ in 0..2 {
        portal.run_timer("HarvestNoticeBoards").await;
        portal.clock.advance(Duration::from_secs(3600));
        portal.settle().await;
    }
    // Two hours later her session has lapsed: she logs in again.
    let jana = portal.login("jana").await;
    let (_, inbox) = portal.as_citizen("GET", "/api/notifications", &jana, None).await;
    assert_eq!(count(&inbox), 1, "exactly one notification: {inbox}");
    let (status, boards) = portal.call(Request::get("/api/notice-boards").body(Body::empty()).expect("r")).await;
    assert_eq!(status, StatusCode::OK);
    let failed: Vec<&str> = boards["items"]
        .as_array()
        .expect("boards")
        .iter()
        .filter(|b| b["lastStatus"] == "failed")
        .filter_map(|b| b["id"].as_str())
        .collect();
    assert_eq!(failed, ["sim-broken", "sim-slow"], "the bad feeds are reported, the others harvested");
}
