//! The registers capability in process, on the SIMULATOR gateway (through
//! the HTTP adapter's in-process path): extracts for every demo citizen
//! and kind, checked with an independent PDF reader; replays; outages;
//! another citizen's job; the odometer check; my data with its cache, access
//! log and calendar entries.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use common::*;
use portal_events::{CalendarEntry, FiledDocument, SealedContent, kinds};
use portal_registers::extracts::{self, FetchMessage};
use portal_registers::gateway::*;
use portal_registers::queue::fetch_extract::fetch_extract;
use portal_registers::{RegistersSettings, simulated_gateway};
use portal_security::SubjectId;
use portal_store::Clock as _;
use portal_testkit::{JANA, JIRI, Login, anonymous, call, get, json_of, pdf_text_strict, write, write_raw};
use serde_json::{Value, json};

/// Requests an extract over HTTP and runs `FetchExtract` on its queued message.
async fn request_and_fetch(portal: &Portal, login: &Login, kind: &str) -> (String, FetchMessage) {
    let (status, headers, body) =
        call(&portal.router, write(Method::POST, "/api/registers/extracts", login, Some(json!({"kind": kind})))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{kind}: {}", String::from_utf8_lossy(&body));
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    let job = json_of(&body);
    assert_eq!(job["status"], "queued");
    assert_eq!(job["kind"], kind);
    assert!(job["createdAt"].is_string());
    let id = job["id"].as_str().expect("id").to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok_and(|u| u.get_version_num() == 4), "{id}");
    let messages = portal.drain(extracts::QUEUE).await;
    assert_eq!(messages.len(), 1, "one message per job");
    let message: FetchMessage = serde_json::from_value(messages[0].clone()).expect("message");
    assert_eq!(message.job_id, id);
    fetch_extract(&portal.registers, &message).await.expect("FetchExtract");
    (id, message)
}

/// What each demo citizen's extract of each kind must say.
fn expected(subject: &str, kind: &str) -> Vec<&'static str> {
    let name = match subject {
        JANA => "Nováková",
        JIRI => "Dvořák",
        _ => "Šťastná Žďárská",
    };
    let mut words = match (subject, kind) {
        (_, "person") => vec![name, "Doklady", "Řidičský průkaz", "Adresa místa pobytu"],
        (LUDMILA, "criminal-record") => {
            vec![name, "Okresní soud ve Žďáru nad Sázavou", "§ 274", "řízení motorových vozidel"]
        }
        (_, "criminal-record") => vec![name, "Bez záznamu"],
        (JIRI, "trade-register") => vec!["Truhlářství, podlahářství", "27145638", "Kuřim", "zaniklo"],
        (_, "trade-register") => vec!["není k vaší osobě zapsáno žádné podnikání"],
        (JANA, "driver-points") => vec!["10 z 12", "Překročení nejvyšší dovolené rychlosti", "odečítají 4 body"],
        (_, "driver-points") => vec!["Celkem bodů"],
        (JIRI, "vehicles") => vec!["Octavia Combi", "Transit Custom", "provozovatel", "WF0XXXTTGXKA12345"],
        (JANA, "vehicles") => vec!["Fabia", "TMBEG6NJ5LZ012345"],
        (_, "vehicles") => vec!["nejste veden(a) jako vlastník ani provozovatel"],
        (JIRI, "properties") => vec!["Kuřim (678431)", "450 m²", "č. p. 812"],
        (LUDMILA, "properties") => vec!["Světnov", "1/2"],
        (_, "properties") => vec!["nejste zapsán(a) jako vlastník"],
        _ => vec![],
    };
    words.push("SIMULÁTOR — nejde o skutečný výpis");
    words
}

#[tokio::test]
async fn every_demo_citizen_gets_every_extract_as_a_pdf_with_a_notification() {
    let portal = portal();
    for subject in [JANA, JIRI, LUDMILA] {
        let login = portal.login(subject).await;
        for kind in ["criminal-record", "trade-register", "driver-points", "vehicles", "person", "properties"] {
            let (id, _) = request_and_fetch(&portal, &login, kind).await;
            let (status, _, body) = call(&portal.router, get(&format!("/api/registers/extracts/{id}"), &login)).await;
            assert_eq!(status, StatusCode::OK);
            let job = json_of(&body);
            assert_eq!(job["status"], "done", "{subject} {kind}: {job}");
            assert_eq!(job["documentId"], format!("extract-{id}"));
            assert_eq!(job["simulated"], true);

            let filed = drain_events(&portal, portal_events::DOCUMENTS_QUEUE).await;
            assert_eq!(filed.len(), 1, "one document event");
            assert_eq!(filed[0].subject, subject);
            let document: FiledDocument = filed[0].data_as().expect("a FiledDocument");
            assert_eq!(document.document_id, format!("extract-{id}"));
            assert_eq!((document.media_type.as_str(), document.kind.as_str()), ("application/pdf", "extract"));
            assert!(document.simulated);
            assert!(matches!(document.content, SealedContent::Inline { .. }), "a small PDF travels inline");
            let pdf = open_filed(&portal, subject, &document).await;
            assert!(pdf.starts_with(b"%PDF-") && pdf.ends_with(b"%%EOF"), "a PDF file");
            assert_eq!(document.size, pdf.len() as u64);
            if let Some(text) = pdf_text_strict(&pdf) {
                for word in expected(subject, kind) {
                    assert!(text.contains(word), "{subject} {kind}: {word:?} in:\n{text}");
                }
            }

            let notes = drain_events(&portal, portal_events::NOTIFICATIONS_QUEUE).await;
            assert_eq!(notes.len(), 1);
            assert_eq!(notes[0].kind, extracts::EXTRACT_READY);
            assert_eq!(notes[0].id, format!("{}:{id}", extracts::EXTRACT_READY));
            assert_eq!(notes[0].data["documentId"], format!("extract-{id}"));
        }
        let (_, _, list) = call(&portal.router, get("/api/registers/extracts", &login)).await;
        assert_eq!(json_of(&list)["items"].as_array().map(Vec::len), Some(6), "each citizen sees their own six");
        let log = portal.access_entries(subject).await;
        let kinds: Vec<&str> = log.iter().map(|e| e.resource_type.as_str()).collect();
        for kind in ["register-extract-job", "register-criminal-record", "register-person", "register-vehicles"] {
            assert!(kinds.contains(&kind), "{kind} in the access log: {kinds:?}");
        }
    }
}

#[tokio::test]
async fn a_bad_kind_is_a_problem_naming_kind() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    for body in
        [r#"{"kind":"passport"}"#, r#"{"kind":""}"#, r#"{}"#, r#"{"kind":3}"#, "not json", r#"{"kind":"Person"}"#]
    {
        let (status, headers, response) = call(
            &portal.router,
            write_raw(Method::POST, "/api/registers/extracts", &jana, Some("application/json"), body),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
        let problem = json_of(&response);
        assert_eq!(problem["errors"][0]["field"], "kind", "{problem}");
        assert!(problem["errors"][0]["rule"].as_str().is_some_and(|r| r.contains("criminal-record")));
    }
    assert!(portal.drain(extracts::QUEUE).await.is_empty(), "nothing was queued");
    let without_csrf = Request::post("/api/registers/extracts")
        .header(header::COOKIE, &jana.cookie)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(r#"{"kind":"person"}"#))
        .expect("request");
    assert_eq!(call(&portal.router, without_csrf).await.0, StatusCode::FORBIDDEN, "writes need the CSRF token");
}

#[tokio::test]
async fn another_citizens_job_is_not_found() {
    let portal = portal();
    let (jana, jiri) = (portal.login(JANA).await, portal.login(JIRI).await);
    let (id, _) = request_and_fetch(&portal, &jana, "person").await;
    let (status, _, _) = call(&portal.router, get(&format!("/api/registers/extracts/{id}"), &jana)).await;
    assert_eq!(status, StatusCode::OK);
    for path in [format!("/api/registers/extracts/{id}"), "/api/registers/extracts/not-a-uuid".into()] {
        let (status, headers, _) = call(&portal.router, get(&path, &jiri)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
    }
    let (_, _, list) = call(&portal.router, get("/api/registers/extracts", &jiri)).await;
    assert_eq!(json_of(&list)["items"], Value::Array(vec![]), "Jiří sees none of Jana's jobs");
    // A message naming Jana's job under Jiří's subject does nothing.
    let forged = FetchMessage { job_id: id, subject: JIRI.into() };
    assert!(fetch_extract(&portal.registers, &forged).await.is_err());
    assert!(portal.drain(portal_events::DOCUMENTS_QUEUE).await.len() == 1, "only the real filing");
}

#[tokio::test]
async fn every_route_needs_a_session() {
    let portal = portal();
    for path in [
        "/api/registers/extracts",
        "/api/registers/extracts/2f1c6a52-6d0b-4f3e-9d55-0d6f2b9b8e11",
        "/api/registers/odometer?vin=TMBEG6NJ5LZ012345&protocol=CZ-3204-24-05-0123",
        "/api/registers/driver-points",
        "/api/registers/vehicles",
        "/api/registers/properties",
        "/api/me/registers",
    ] {
        assert_eq!(call(&portal.router, anonymous(path)).await.0, StatusCode::UNAUTHORIZED, "{path}");
    }
    let request = Request::post("/api/registers/extracts").body(Body::from(r#"{"kind":"person"}"#)).expect("request");
    assert_eq!(call(&portal.router, request).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn replaying_fetch_extract_ten_times_files_one_document() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    let (id, message) = request_and_fetch(&portal, &jana, "driver-points").await;
    for _ in 0..10 {
        fetch_extract(&portal.registers, &message).await.expect("a replay succeeds");
    }
    let filed = drain_events(&portal, portal_events::DOCUMENTS_QUEUE).await;
    assert_eq!(filed.len(), 11, "each delivery publishes again");
    let ids: std::collections::BTreeSet<&str> = filed.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids.len(), 1, "with one event id: {ids:?}");
    let documents: std::collections::BTreeSet<String> =
        filed.iter().map(|e| e.data_as::<FiledDocument>().expect("filed").document_id).collect();
    assert_eq!(documents, [format!("extract-{id}")].into_iter().collect(), "one document id");
    assert!(filed.windows(2).all(|w| w[0].data == w[1].data), "the very same content every time");
    let notes = drain_events(&portal, portal_events::NOTIFICATIONS_QUEUE).await;
    assert!(notes.iter().all(|n| n.id == notes[0].id), "one notification id");
    let (job, _) = extracts::load(&portal.registers, JANA, &id).await.expect("load").expect("job");
    assert_eq!(job.attempts, 1, "a done job is not fetched again");
}

#[tokio::test]
async fn a_large_pdf_goes_through_one_blob() {
    let portal = portal_with(RegistersSettings { inline_limit: 0, ..RegistersSettings::default() }, None);
    let jiri = portal.login(JIRI).await;
    let (id, message) = request_and_fetch(&portal, &jiri, "vehicles").await;
    fetch_extract(&portal.registers, &message).await.expect("replay");
    let filed = drain_events(&portal, portal_events::DOCUMENTS_QUEUE).await;
    let document: FiledDocument = filed[0].data_as().expect("filed");
    let expected_path = extracts::blob_path(JIRI, &id);
    assert_eq!(document.content, SealedContent::Blob { path: expected_path.clone() });
    assert!(expected_path.starts_with("registers/") && !expected_path.contains("jiri"), "the folder names no one");
    let blobs = portal_store::BlobStore::list(portal.store.as_ref(), "registers/").await.expect("list");
    assert_eq!(blobs.len(), 1);
    let pdf = open_filed(&portal, JIRI, &document).await;
    assert!(pdf.starts_with(b"%PDF-"));
}

/// A gateway that is down for its first `failures` calls, then the simulator.
#[derive(Debug)]
struct Flaky {
    failures: u32,
    calls: AtomicU32,
    inner: Arc<dyn RegistersGateway>,
    /// A register's own document to answer for every extract instead of
    /// the simulator's (not simulated).
    document: Option<Vec<u8>>,
}

impl Flaky {
    fn down(&self) -> GatewayResult<()> {
        if self.calls.fetch_add(1, Ordering::SeqCst) < self.failures {
            Err(GatewayError::Unavailable("the gateway is down (test)".into()))
        } else {
            Ok(())
        }
    }
}

#[async_trait::async_trait]
impl RegistersGateway for Flaky {
    async fn person(&self, r: &RequestId, s: &SubjectId) -> GatewayResult<PersonRecord> {
        self.down()?;
        self.inner.person(r, s).await
    }
    async fn entrepreneur(&self, r: &RequestId, s: &SubjectId) -> GatewayResult<EntrepreneurRecord> {
        self.down()?;
        self.inner.entrepreneur(r, s).await
    }
    async fn criminal_record(&self, r: &RequestId, s: &SubjectId) -> GatewayResult<CriminalRecordExtract> {
        self.down()?;
        self.inner.criminal_record(r, s).await
    }
    async fn trade_register(&self, r: &RequestId, s: &SubjectId) -> GatewayResult<TradeRegisterExtract> {
        self.down()?;
        self.inner.trade_register(r, s).await
    }
    async fn driver_points(&self, r: &RequestId, s: &SubjectId) -> GatewayResult<DriverPoints> {
        self.down()?;
        self.inner.driver_points(r, s).await
    }
    async fn vehicles(&self, r: &RequestId, s: &SubjectId) -> GatewayResult<Vehicles> {
        self.down()?;
        self.inner.vehicles(r, s).await
    }
    async fn odometer(&self, r: &RequestId, v: &Vin, p: &ProtocolNumber) -> GatewayResult<OdometerHistory> {
        self.down()?;
        self.inner.odometer(r, v, p).await
    }
    async fn properties(&self, r: &RequestId, s: &SubjectId) -> GatewayResult<Properties> {
        self.down()?;
        self.inner.properties(r, s).await
    }
    async fn sealed_extract(
        &self,
        r: &RequestId,
        s: &SubjectId,
        kind: &str,
    ) -> GatewayResult<portal_registers::gateway::SealedExtract> {
        self.down()?;
        let Some(document) = &self.document else { return self.inner.sealed_extract(r, s, kind).await };
        use base64::Engine as _;
        Ok(portal_registers::gateway::SealedExtract {
            kind: kind.to_owned(),
            issuer: "Rejstřík trestů".into(),
            issued_at: time::macros::datetime!(2026-11-23 08:00 UTC),
            media_type: "application/pdf".into(),
            file_name: "vypis.pdf".into(),
            content: base64::engine::general_purpose::STANDARD.encode(document),
            simulated: false,
        })
    }
    async fn submit_filing(
        &self,
        r: &RequestId,
        s: &SubjectId,
        key: &RequestId,
        submission: &FilingSubmission,
    ) -> GatewayResult<FilingReceipt> {
        self.down()?;
        self.inner.submit_filing(r, s, key, submission).await
    }
    async fn filing_status(&self, r: &RequestId, s: &SubjectId, reference: &str) -> GatewayResult<FilingProgress> {
        self.down()?;
        self.inner.filing_status(r, s, reference).await
    }
}

fn flaky_portal(failures: u32) -> Portal {
    let clock = Arc::new(portal_store::ManualClock::new(time::macros::datetime!(2026-11-23 08:00 UTC)));
    let gateway =
        Arc::new(Flaky { failures, calls: AtomicU32::new(0), inner: simulated_gateway(clock), document: None });
    portal_with(RegistersSettings::default(), Some(gateway))
}

/// The portal against a register that answers `document` as its sealed extract.
fn register_answering(document: &[u8]) -> Portal {
    let clock = Arc::new(portal_store::ManualClock::new(time::macros::datetime!(2026-11-23 08:00 UTC)));
    let inner = simulated_gateway(clock);
    let gateway = Arc::new(Flaky { failures: 0, calls: AtomicU32::new(0), inner, document: Some(document.to_vec()) });
    portal_with(RegistersSettings { simulated: false, ..RegistersSettings::default() }, Some(gateway))
}

#[tokio::test]
async fn the_registers_sealed_document_is_filed_byte_for_byte_and_nothing_else_is() {
    // Whatever the register sealed, the portal files exactly those bytes: it typesets nothing.
    let sealed = b"%PDF-1.7\n% the register's own extract, with the authority's electronic seal\n%%EOF\n";
    let portal = register_answering(sealed);
    let jana = portal.login(JANA).await;
    let (status, _, body) = call(
        &portal.router,
        write(Method::POST, "/api/registers/extracts", &jana, Some(json!({"kind": "criminal-record"}))),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let id = json_of(&body)["id"].as_str().expect("id").to_owned();
    fetch_extract(&portal.registers, &FetchMessage { job_id: id, subject: JANA.into() }).await.expect("filed");
    let filed = drain_events(&portal, portal_events::DOCUMENTS_QUEUE).await;
    let document: FiledDocument = filed[0].data_as().expect("filed");
    assert!(!document.simulated);
    assert_eq!(open_filed(&portal, JANA, &document).await, sealed.to_vec(), "stored as received");

    // A document that is no PDF fails the job at once.
    let portal = register_answering(b"<html>not a PDF</html>");
    let jana = portal.login(JANA).await;
    let (_, _, body) =
        call(&portal.router, write(Method::POST, "/api/registers/extracts", &jana, Some(json!({"kind": "person"}))))
            .await;
    let id = json_of(&body)["id"].as_str().expect("id").to_owned();
    fetch_extract(&portal.registers, &FetchMessage { job_id: id.clone(), subject: JANA.into() }).await.expect("done");
    let (_, _, job) = call(&portal.router, get(&format!("/api/registers/extracts/{id}"), &jana)).await;
    assert_eq!(json_of(&job)["status"], "failed", "{}", json_of(&job));
    assert!(portal.drain(portal_events::DOCUMENTS_QUEUE).await.is_empty());
}

#[tokio::test]
async fn an_outage_is_retried_and_a_long_one_fails_the_job_with_a_reason() {
    // Down twice: two retryable failures, then done.
    let portal = flaky_portal(2);
    let jana = portal.login(JANA).await;
    let (status, _, body) = call(
        &portal.router,
        write(Method::POST, "/api/registers/extracts", &jana, Some(json!({"kind": "criminal-record"}))),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let id = json_of(&body)["id"].as_str().expect("id").to_owned();
    let message = FetchMessage { job_id: id.clone(), subject: JANA.into() };
    for _ in 0..2 {
        let error = fetch_extract(&portal.registers, &message).await.expect_err("down");
        assert!(matches!(error, portal_host::InvocationError::Retryable(_)), "{error:?}");
    }
    fetch_extract(&portal.registers, &message).await.expect("the gateway is back");
    let (_, _, job) = call(&portal.router, get(&format!("/api/registers/extracts/{id}"), &jana)).await;
    assert_eq!(json_of(&job)["status"], "done");
    assert_eq!(portal.drain(portal_events::DOCUMENTS_QUEUE).await.len(), 1);

    // Down for good: retryable until the last attempt, then failed and told.
    let portal = flaky_portal(u32::MAX);
    let jana = portal.login(JANA).await;
    let (_, _, body) =
        call(&portal.router, write(Method::POST, "/api/registers/extracts", &jana, Some(json!({"kind": "person"}))))
            .await;
    let id = json_of(&body)["id"].as_str().expect("id").to_owned();
    let message = FetchMessage { job_id: id.clone(), subject: JANA.into() };
    for attempt in 1..5 {
        let error = fetch_extract(&portal.registers, &message).await.expect_err("down");
        assert!(matches!(error, portal_host::InvocationError::Retryable(_)), "attempt {attempt}: {error:?}");
    }
    fetch_extract(&portal.registers, &message).await.expect("the fifth attempt gives up cleanly");
    let (_, _, job) = call(&portal.router, get(&format!("/api/registers/extracts/{id}"), &jana)).await;
    let job = json_of(&job);
    assert_eq!(job["status"], "failed");
    assert!(job["reason"].as_str().is_some_and(|r| r.contains("nedostupný")), "{job}");
    assert!(portal.drain(portal_events::DOCUMENTS_QUEUE).await.is_empty(), "no document");
    let notes = drain_events(&portal, portal_events::NOTIFICATIONS_QUEUE).await;
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].kind, extracts::EXTRACT_FAILED);
    fetch_extract(&portal.registers, &message).await.expect("a replay of a failed job");
    let again = drain_events(&portal, portal_events::NOTIFICATIONS_QUEUE).await;
    assert_eq!(again.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), [notes[0].id.as_str()]);
}

#[tokio::test]
async fn a_job_left_queued_is_queued_again_when_looked_at() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    let (_, _, body) =
        call(&portal.router, write(Method::POST, "/api/registers/extracts", &jana, Some(json!({"kind": "person"}))))
            .await;
    let id = json_of(&body)["id"].as_str().expect("id").to_owned();
    // The message is lost (as if the process died before sending it).
    assert_eq!(portal.drain(extracts::QUEUE).await.len(), 1);
    let _ = call(&portal.router, get(&format!("/api/registers/extracts/{id}"), &jana)).await;
    assert!(portal.drain(extracts::QUEUE).await.is_empty(), "not yet: it may still be in the queue");
    portal.clock.advance(Duration::from_secs(11 * 60));
    let (_, _, job) = call(&portal.router, get(&format!("/api/registers/extracts/{id}"), &jana)).await;
    assert_eq!(json_of(&job)["status"], "queued");
    let messages = portal.drain(extracts::QUEUE).await;
    assert_eq!(messages.len(), 1, "queued again");
    let message: FetchMessage = serde_json::from_value(messages[0].clone()).expect("message");
    fetch_extract(&portal.registers, &message).await.expect("fetch");
    let (_, _, job) = call(&portal.router, get(&format!("/api/registers/extracts/{id}"), &jana)).await;
    assert_eq!(json_of(&job)["status"], "done");
}

#[tokio::test]
async fn the_odometer_check_validates_and_flags_a_reading_that_went_backwards() {
    let portal = portal();
    let jiri = portal.login(JIRI).await;
    let cases = [
        ("vin=WF0XXXTTGXKA1234&protocol=CZ-6215-24-11-0789", vec!["vin"], "17 characters"),
        ("vin=WF0XXXTTGXKA1234O&protocol=CZ-6215-24-11-0789", vec!["vin"], "I, O or Q"),
        ("vin=WF0XXXTTGXKA1234%C5%A0&protocol=CZ-6215-24-11-0789", vec!["vin"], "A-Z"),
        ("vin=WF0XXXTTGXKA12345&protocol=6215-24-11-0789", vec!["protocol"], "CZ-"),
        ("vin=WF0XXXTTGXKA12345&protocol=CZ-6215-24-13-0789", vec!["protocol"], "01-12"),
        ("vin=WF0XXXTTGXKA12345", vec!["protocol"], "required"),
        ("vin=Q&protocol=x", vec!["vin", "protocol"], ""),
        ("", vec!["vin", "protocol"], "required"),
    ];
    for (query, fields, rule) in cases {
        let (status, headers, body) =
            call(&portal.router, get(&format!("/api/registers/odometer?{query}"), &jiri)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
        let problem = json_of(&body);
        let named: Vec<&str> =
            problem["errors"].as_array().expect("errors").iter().filter_map(|e| e["field"].as_str()).collect();
        assert_eq!(named, fields, "{query}: {problem}");
        assert!(problem["errors"][0]["rule"].as_str().is_some_and(|r| r.contains(rule)), "{query}: {problem}");
    }
    let (status, _, body) =
        call(&portal.router, get("/api/registers/odometer?vin=wf0xxxttgxka12345&protocol=cz-6215-24-11-0789", &jiri))
            .await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let answer = json_of(&body);
    let readings = answer["readings"].as_array().expect("readings");
    let dates: Vec<&str> = readings.iter().filter_map(|r| r["date"].as_str()).collect();
    let mut sorted = dates.clone();
    sorted.sort_unstable();
    assert_eq!(dates, sorted, "in date order");
    let backwards: Vec<&str> =
        readings.iter().filter(|r| r["wentBackwards"] == true).filter_map(|r| r["date"].as_str()).collect();
    assert_eq!(backwards, ["2023-11-20"], "the reading lower than the one before");
    assert_eq!(answer["wentBackwards"], true);
    assert_eq!(answer["simulated"], true);
    let (status, _, _) =
        call(&portal.router, get("/api/registers/odometer?vin=WF0XXXTTGXKA12345&protocol=CZ-6215-24-11-0780", &jiri))
            .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the protocol must be the vehicle's last");
    let log = portal.access_entries(JIRI).await;
    assert_eq!(log.iter().filter(|e| e.resource_type == "odometer-check").count(), 2, "lookups are logged");
}

#[tokio::test]
async fn my_data_is_cached_briefly_logged_every_time_and_feeds_the_calendar() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    let (status, _, body) = call(&portal.router, get("/api/me/registers", &jana)).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let first = json_of(&body);
    assert_eq!(first["cached"], false);
    assert_eq!(first["simulated"], true);
    assert_eq!(first["person"]["familyName"], "Nováková");
    assert_eq!(first["person"]["dataBoxId"], "sim4jan");
    assert!(first.get("entrepreneur").is_none(), "Jana is no entrepreneur");
    let entries = drain_events(&portal, portal_events::CALENDAR_QUEUE).await;
    assert_eq!(entries.len(), 3, "id card, driving licence, passport");
    let licence: CalendarEntry = entries
        .iter()
        .map(|e| e.data_as::<CalendarEntry>().expect("entry"))
        .find(|e| e.document.as_deref() == Some("driving-licence"))
        .expect("the driving licence");
    assert_eq!(licence.kind, "document-expiry");
    assert!(licence.entry_id.starts_with("document-expiry-driving-licence-"), "{}", licence.entry_id);
    let text = serde_json::to_string(&entries).expect("json");
    assert!(!text.contains("EL482915"), "the calendar is never told the document's number: {text}");
    assert_eq!(licence.date, portal.clock.now().date() + time::Duration::days(30));

    let (_, _, body) = call(&portal.router, get("/api/me/registers", &jana)).await;
    let second = json_of(&body);
    assert_eq!(second["cached"], true);
    assert_eq!(second["person"], first["person"]);
    assert!(portal.drain(portal_events::CALENDAR_QUEUE).await.is_empty(), "no calendar events on a cache hit");
    let cache =
        portal.registers.documents.get("registers", JANA, "cache-registers").await.expect("get").expect("cache");
    assert!(!cache.body.to_string().contains("Nováková"), "the cache is sealed");

    portal.clock.advance(Duration::from_secs(6 * 60));
    let (_, _, body) = call(&portal.router, get("/api/me/registers", &jana)).await;
    assert_eq!(json_of(&body)["cached"], false, "after five minutes the registers are asked again");
    let again = drain_events(&portal, portal_events::CALENDAR_QUEUE).await;
    let ids = |events: &[portal_events::Event]| {
        events.iter().map(|e| e.data_as::<CalendarEntry>().expect("entry").entry_id).collect::<Vec<_>>()
    };
    assert_eq!(ids(&again), ids(&entries), "the same entries, replaced not added");

    let log = portal.access_entries(JANA).await;
    assert_eq!(log.iter().filter(|e| e.resource_type == "register-data").count(), 3, "cache hits too");

    let jiri = portal.login(JIRI).await;
    let (_, _, body) = call(&portal.router, get("/api/me/registers", &jiri)).await;
    assert_eq!(json_of(&body)["entrepreneur"]["ico"], "27145638", "ROS for the entrepreneur");
    // Each fresh fetch tells the tiles' rules whether the citizen is an
    // entrepreneur and has a data box, nothing more.
    let facts: Vec<(String, String, bool)> = drain_events(&portal, portal_events::CITIZEN_FACTS_QUEUE)
        .await
        .iter()
        .map(|e| (e.subject.clone(), e.kind.clone(), e.data_as::<portal_events::CitizenFact>().expect("fact").holds))
        .collect();
    let told = |subject: &str, kind: &str| {
        facts.iter().filter(|(s, k, _)| s == subject && k == kind).map(|(_, _, holds)| *holds).collect::<Vec<_>>()
    };
    assert_eq!(told(JANA, kinds::ENTREPRENEUR), [false, false], "two fresh fetches of Jana's: {facts:?}");
    assert_eq!(told(JANA, kinds::DATA_BOX), [true, true], "{facts:?}");
    assert_eq!(told(JIRI, kinds::ENTREPRENEUR), [true], "{facts:?}");
    assert_eq!(facts.len(), 6, "two facts a fetch, none on a cache hit: {facts:?}");

    let count = portal_registers::refresh_calendar(&portal.registers, &SubjectId::parse(LUDMILA).expect("id"))
        .await
        .expect("refresh");
    assert_eq!(count, 2);
    let unknown = portal.login("someone-else").await;
    assert_eq!(call(&portal.router, get("/api/me/registers", &unknown)).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn driver_points_vehicles_and_properties_are_direct_lookups() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    let (status, _, body) = call(&portal.router, get("/api/registers/driver-points", &jana)).await;
    assert_eq!(status, StatusCode::OK);
    let points = json_of(&body);
    assert_eq!(
        (points["total"].as_u64(), points["limit"].as_u64(), points["remaining"].as_u64()),
        (Some(10), Some(12), Some(2))
    );
    assert_eq!(points["reduction"]["points"], 4);
    let jiri = portal.login(JIRI).await;
    let (_, _, body) = call(&portal.router, get("/api/registers/vehicles", &jiri)).await;
    let vehicles = json_of(&body);
    assert_eq!(vehicles["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(vehicles["simulated"], true);
    let (_, _, body) = call(&portal.router, get("/api/registers/properties", &jiri)).await;
    assert_eq!(json_of(&body)["items"].as_array().map(Vec::len), Some(2));
    let log = portal.access_entries(JIRI).await;
    let kinds: Vec<&str> = log.iter().map(|e| e.resource_type.as_str()).collect();
    assert_eq!(kinds, ["register-vehicles", "register-properties"]);
}
