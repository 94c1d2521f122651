//! Filings (Podání), in process on the embedded store with a fixed clock:
//! register writes (each kind, each broken rule named), the driving licence
//! application (the photo checked from its bytes, the fee through the
//! simulated payment gateway, `SettleFilingPayment` replayed), deadlines in
//! the calendar, the deadline timer and the reminder (urgence), filings from
//! other capabilities (`RecordFiling` replayed and out of order), and another
//! citizen's filing answering 404.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use base64::Engine as _;
use common::*;
use portal_events::{
    CalendarEntry, Event, FILING_RECORDED, FilingAgency, FilingRecord, OutgoingDataMessage, SealedContent,
};
use portal_host::InvocationError;
use portal_registers::filings::DEADLINE_PASSED;
use portal_registers::filings::deadlines::check_filing_deadlines;
use portal_registers::filings::licence::{self, SettleMessage};
use portal_registers::gateway::*;
use portal_registers::queue::record_filing::record_filing;
use portal_registers::{PaymentsNotConnected, RegistersSettings};
use portal_security::SubjectId;
use portal_store::{BlobPath, BlobStore};
use portal_testkit::{JANA, JIRI, Login, Part, call, get, json_of, pdf_text_strict, write};
use serde_json::{Value, json};
use time::macros::datetime;

// ---------------------------------------------------------------- helpers

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    match content.len() {
        n if n < 0x80 => out.push(n as u8),
        n if n < 0x100 => out.extend_from_slice(&[0x81, n as u8]),
        n => {
            out.push(0x82);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
    }
    out.extend_from_slice(content);
    out
}

/// An X.509 structure with the given validity (UTCTime `YYMMDDHHMMSSZ`); the
/// signature is not a real one (the agency checks it, not the portal).
fn certificate_pem(not_before: &str, not_after: &str) -> String {
    let name = tlv(
        0x30,
        &tlv(0x31, &tlv(0x30, &[tlv(0x06, &[0x55, 0x04, 0x03]), tlv(0x0C, "Jana Nováková".as_bytes())].concat())),
    );
    let algorithm = tlv(0x30, &tlv(0x06, &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02]));
    let tbs = tlv(
        0x30,
        &[
            tlv(0xA0, &tlv(0x02, &[2])),
            tlv(0x02, &[0x3A, 0x5F, 0x01]),
            algorithm.clone(),
            name.clone(),
            tlv(0x30, &[tlv(0x17, not_before.as_bytes()), tlv(0x17, not_after.as_bytes())].concat()),
            name,
            tlv(0x30, &[algorithm.clone(), tlv(0x03, &[0; 66])].concat()),
        ]
        .concat(),
    );
    let der = tlv(0x30, &[tbs, algorithm, tlv(0x03, &[0; 72])].concat());
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).expect("ascii")).collect();
    format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n", lines.join("\n"))
}

/// A real (if tiny) JPEG: SOI, APP0/JFIF, a comment to reach `padding`
/// bytes, SOF0 with the given size, EOI.
fn jpeg(width: u16, height: u16, padding: usize) -> Vec<u8> {
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 16, b'J', b'F', b'I', b'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0];
    let mut left = padding;
    while left > 0 {
        let chunk = left.min(60_000);
        out.extend_from_slice(&[0xFF, 0xFE]);
        out.extend_from_slice(&((chunk + 2) as u16).to_be_bytes());
        out.extend(std::iter::repeat_n(b'x', chunk));
        left -= chunk;
    }
    out.extend_from_slice(&[0xFF, 0xC0, 0, 17, 8]);
    out.extend_from_slice(&height.to_be_bytes());
    out.extend_from_slice(&width.to_be_bytes());
    out.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1, 0xFF, 0xD9]);
    out
}

fn good_photo() -> Vec<u8> {
    jpeg(827, 1063, 40_000)
}

/// The driving-licence form as a browser sends it: a part with a declared
/// type is the photo file (`foto.jpg`), the others are plain fields.
fn multipart(login: &Login, parts: &[(&str, Option<&str>, &[u8])]) -> Request<Body> {
    let parts: Vec<Part<'_>> = parts
        .iter()
        .map(|&(name, content_type, content)| match content_type {
            Some(content_type) => Part::file(name, "foto.jpg", content_type, content),
            None => Part { name, file_name: None, content_type: None, content },
        })
        .collect();
    portal_testkit::multipart("/api/filings/driving-licence", login, &parts)
}

fn licence_form<'a>(photo: &'a [u8], reason: &'a str) -> Vec<(&'static str, Option<&'static str>, &'a [u8])> {
    vec![
        ("photo", Some("image/jpeg"), photo),
        ("reason", None, reason.as_bytes()),
        ("delivery", None, b"pickup"),
        ("officeCode", None, b"6101"),
    ]
}

/// The fields named by a 400 problem.
fn fields(status: StatusCode, body: &[u8]) -> Vec<String> {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{}", String::from_utf8_lossy(body));
    let problem = json_of(body);
    problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["field"].as_str().expect("field").to_owned())
        .collect()
}

fn rule_of(body: &[u8], field: &str) -> String {
    json_of(body)["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["field"] == field)
        .and_then(|e| e["rule"].as_str())
        .unwrap_or_default()
        .to_owned()
}

async fn register_write(portal: &Portal, login: &Login, body: Value) -> (StatusCode, Vec<u8>) {
    let (status, _, bytes) =
        call(&portal.router, write(Method::POST, "/api/filings/register-writes", login, Some(body))).await;
    (status, bytes)
}

async fn detail(portal: &Portal, login: &Login, id: &str) -> (StatusCode, Value) {
    let (status, _, body) = call(&portal.router, get(&format!("/api/filings/{id}"), login)).await;
    (status, json_of(&body))
}

async fn count(portal: &Portal, login: &Login) -> usize {
    let (status, _, body) = call(&portal.router, get("/api/filings", login)).await;
    assert_eq!(status, StatusCode::OK);
    json_of(&body)["items"].as_array().map_or(0, Vec::len)
}

fn record_event(subject: &str, filing_id: &str, status: &str, at: time::OffsetDateTime, box_id: Option<&str>) -> Event {
    let record = FilingRecord {
        filing_id: filing_id.into(),
        kind: "petition-hand-over".into(),
        title: "Petice za zachování knihovny".into(),
        agency: FilingAgency {
            name: "Městský úřad Horní Lhota (simulace)".into(), box_id: box_id.map(str::to_owned)
        },
        status: status.into(),
        status_note: None,
        at,
        legal_deadline: None,
        source: "petitions".into(),
        source_ref: "p-1".into(),
        simulated: true,
    };
    Event::new(
        FILING_RECORDED,
        &format!("{filing_id}:{status}"),
        subject,
        at,
        serde_json::to_value(record).expect("JSON"),
    )
}

fn statuses(detail: &Value) -> Vec<String> {
    detail["statusHistory"]
        .as_array()
        .expect("history")
        .iter()
        .map(|e| e["status"].as_str().expect("status").to_owned())
        .collect()
}

// ------------------------------------------------------ register writes

#[tokio::test]
async fn each_register_write_is_filed_through_the_gateway_with_its_deadline_in_the_calendar() {
    let Some(openssl) = common::certs::Openssl::new() else { return };
    let portal = portal();
    let jana = portal.login(JANA).await;
    let writes = [
        json!({"kind": "delivery-address", "street": "Horní", "houseNumber": "15", "orientationNumber": "3a",
               "municipality": "Žďár nad Sázavou", "postcode": "591 01"}),
        json!({"kind": "delivery-address", "poBox": "42", "municipality": "Brno", "postcode": "60200"}),
        json!({"kind": "contact", "email": "jana@example.cz", "phone": "+420 601 123 456"}),
        json!({"kind": "contact", "phone": "+421901123456"}),
        json!({"kind": "qualified-certificate", "certificate": common::certs::janas_certificate(&openssl).pem}),
    ];
    let mut ids = Vec::new();
    for body in writes {
        let (status, bytes) = register_write(&portal, &jana, body.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{body}: {}", String::from_utf8_lossy(&bytes));
        let filing = json_of(&bytes);
        assert_eq!(filing["kind"], body["kind"]);
        assert_eq!(filing["status"], "accepted", "the simulated agency accepts on receipt");
        assert_eq!(filing["legalDeadline"], "2026-12-23", "30 days (správní řád § 71/3)");
        assert_eq!(filing["agency"]["boxId"], "simmuhl");
        assert!(filing["reference"].as_str().is_some_and(|r| r.starts_with("SIM-")));
        ids.push(filing["id"].as_str().expect("id").to_owned());
    }
    let (_, first) = detail(&portal, &jana, &ids[0]).await;
    assert_eq!(statuses(&first), ["submitted", "accepted"]);
    assert_eq!(first["data"]["formatted"], "Horní 15/3a, 591 01 Žďár nad Sázavou");
    let (_, certificate) = detail(&portal, &jana, &ids[4]).await;
    assert_eq!(certificate["data"]["serialNumber"], "3A5F01");
    assert_eq!(certificate["data"]["subjectName"], "Jana Nováková");
    assert!(certificate["data"].get("certificate").is_none(), "the bytes are not shown again");

    let calendar: Vec<CalendarEntry> = drain_events(&portal, portal_events::CALENDAR_QUEUE)
        .await
        .iter()
        .map(|e| e.data_as().expect("a calendar entry"))
        // Checking the certificate's name read the register, which also feeds the documents' expiries.
        .filter(|e: &CalendarEntry| e.kind != "document-expiry")
        .collect();
    assert_eq!(calendar.len(), 5, "one deadline entry per filing");
    assert!(calendar.iter().all(|e| e.kind == "filing-deadline" && e.date.to_string() == "2026-12-23" && !e.cancelled));

    // Four days on, the simulated agency decided the contact write: the
    // calendar entry is cancelled when the citizen looks.
    portal.clock.advance(Duration::from_secs(4 * 24 * 3600));
    let jana = portal.login(JANA).await; // the session expired meanwhile
    let (_, contact) = detail(&portal, &jana, &ids[2]).await;
    assert_eq!(contact["status"], "decided");
    assert_eq!(statuses(&contact), ["submitted", "accepted", "in-progress", "decided"]);
    let calendar = drain_events(&portal, portal_events::CALENDAR_QUEUE).await;
    let cancelled: Vec<CalendarEntry> = calendar.iter().map(|e| e.data_as().expect("entry")).collect();
    assert_eq!(cancelled.len(), 1);
    assert!(cancelled[0].cancelled && cancelled[0].entry_id == format!("filing-{}-deadline", ids[2]));
    assert_eq!(count(&portal, &jana).await, 5);
}

#[tokio::test]
async fn every_broken_rule_of_a_register_write_names_its_field() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    let cases: Vec<(Value, &[&str])> = vec![
        (json!({}), &["kind"]),
        (json!({"kind": "address"}), &["kind"]),
        (
            json!({"kind": "delivery-address", "houseNumber": "15", "municipality": "Brno", "postcode": "1234"}),
            &["postcode"],
        ),
        (json!({"kind": "delivery-address", "municipality": "Brno", "postcode": "60200"}), &["houseNumber"]),
        (
            json!({"kind": "delivery-address", "houseNumber": "0", "municipality": "Brno", "postcode": "60200"}),
            &["houseNumber"],
        ),
        (
            json!({"kind": "delivery-address", "houseNumber": "15", "orientationNumber": "12AB", "municipality": "Brno", "postcode": "60200"}),
            &["orientationNumber"],
        ),
        (json!({"kind": "delivery-address", "houseNumber": "15", "postcode": "60200"}), &["municipality"]),
        (
            json!({"kind": "delivery-address", "poBox": "42", "street": "Horní", "municipality": "Brno", "postcode": "60200"}),
            &["street"],
        ),
        (json!({"kind": "delivery-address", "poBox": "x1", "municipality": "Brno", "postcode": "60200"}), &["poBox"]),
        (json!({"kind": "contact"}), &["email"]),
        (json!({"kind": "contact", "email": "jana@example"}), &["email"]),
        (json!({"kind": "contact", "email": format!("{}@example.cz", "a".repeat(250))}), &["email"]),
        (json!({"kind": "contact", "phone": "+42060112345"}), &["phone"]),
        (json!({"kind": "contact", "phone": "+12025550123"}), &["phone"]),
        (json!({"kind": "contact", "email": "x", "phone": "601123456"}), &["email", "phone"]),
        (json!({"kind": "qualified-certificate"}), &["certificate"]),
        (json!({"kind": "qualified-certificate", "certificate": "not base64 !"}), &["certificate"]),
        (json!({"kind": "qualified-certificate", "certificate": "AAECAwQ="}), &["certificate"]),
    ];
    for (body, expected) in cases {
        let (status, bytes) = register_write(&portal, &jana, body.clone()).await;
        assert_eq!(fields(status, &bytes), expected.to_vec(), "{body}");
    }
    let (status, bytes) = register_write(
        &portal,
        &jana,
        json!({"kind": "qualified-certificate", "certificate": certificate_pem("200101000000Z", "211231235959Z")}),
    )
    .await;
    assert_eq!(fields(status, &bytes), ["certificate"]);
    assert!(rule_of(&bytes, "certificate").contains("expired on 2021-12-31"), "{}", rule_of(&bytes, "certificate"));
    let (status, bytes) = register_write(
        &portal,
        &jana,
        json!({"kind": "qualified-certificate", "certificate": certificate_pem("270101000000Z", "291231235959Z")}),
    )
    .await;
    assert_eq!(fields(status, &bytes), ["certificate"]);
    assert!(rule_of(&bytes, "certificate").contains("not valid before 2027-01-01"));
    assert_eq!(count(&portal, &jana).await, 0, "nothing half-written");
}

// ------------------------------------------------------ driving licence

#[tokio::test]
async fn the_licence_photo_is_checked_from_its_own_bytes() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    let small = jpeg(400, 500, 40_000);
    let light = jpeg(827, 1063, 0);
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    png.resize(40_000, 0);
    let cases: [(&[u8], Option<&str>, &str); 4] = [
        (&small, Some("image/jpeg"), "413 × 531 pixels (35 × 45 mm at 300 dpi); this photo is 400 × 500"),
        (&light, Some("image/jpeg"), "at least 20 kB"),
        (&png, Some("image/jpeg"), "SOI marker"),
        (&good_photo(), Some("image/png"), "JPEG"),
    ];
    for (photo, declared, rule) in cases {
        let mut form = licence_form(photo, "lost");
        form[0].1 = declared;
        let (status, _, body) = call(&portal.router, multipart(&jana, &form)).await;
        assert_eq!(fields(status, &body), ["photo"]);
        assert!(rule_of(&body, "photo").contains(rule), "{} / {rule}", rule_of(&body, "photo"));
    }
    let big = jpeg(827, 1063, 5 * 1024 * 1024 + 10);
    let (status, _, body) = call(&portal.router, multipart(&jana, &licence_form(&big, "lost"))).await;
    assert_eq!(fields(status, &body), ["photo"], "over 5 MB");

    let photo = good_photo();
    let form = vec![
        ("photo", Some("image/jpeg"), photo.as_slice()),
        ("reason", None, b"bored".as_slice()),
        ("delivery", None, b"post".as_slice()),
        ("officeCode", None, b"61".as_slice()),
    ];
    let (status, _, body) = call(&portal.router, multipart(&jana, &form)).await;
    assert_eq!(fields(status, &body), ["reason", "delivery", "officeCode"]);
    assert!(rule_of(&body, "delivery").contains("collected in person"));
    let (status, _, body) = call(&portal.router, multipart(&jana, &[("reason", None, b"lost")])).await;
    assert_eq!(fields(status, &body), ["photo", "officeCode"]);
    assert_eq!(count(&portal, &jana).await, 0);
}

#[tokio::test]
async fn the_fee_is_paid_through_the_gateway_and_a_replayed_settlement_submits_once() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    let photo = good_photo();
    let (status, _, body) = call(&portal.router, multipart(&jana, &licence_form(&photo, "lost"))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{}", String::from_utf8_lossy(&body));
    let filing = json_of(&body);
    let id = filing["id"].as_str().expect("id").to_owned();
    assert_eq!(filing["status"], "awaiting-payment");
    assert_eq!(filing["payment"]["amountCzk"], 200);
    assert_eq!(filing["payUrl"], format!("/api/filings/{id}/simulated-payment"));
    assert!(filing["legalDeadline"].is_null(), "no deadline runs before the office has it");

    // The photo is sealed at rest.
    let path = format!("registers/{}/filings/{id}/photo", portal_registers::citizen_folder(JANA));
    let (_, stored) = portal.blob(&path).await;
    assert!(!stored.starts_with(&[0xFF, 0xD8]), "not the plain JPEG");

    let message = SettleMessage { filing_id: id.clone(), subject: JANA.into() };
    let early = licence::settle_filing_payment(&portal.registers, &message).await.expect_err("not paid yet");
    assert!(matches!(early, InvocationError::Retryable(_)), "{early:?}");

    let (status, _, _) = call(
        &portal.router,
        write(Method::POST, &format!("/api/filings/{id}/simulated-payment"), &jana, Some(json!({"paid": true}))),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let queued = portal.drain(licence::SETTLE_QUEUE).await;
    assert_eq!(queued.len(), 1);
    let queued: SettleMessage = serde_json::from_value(queued[0].clone()).expect("message");
    assert_eq!(queued, message);
    for _ in 0..5 {
        licence::settle_filing_payment(&portal.registers, &queued).await.expect("settled");
    }
    let (_, shown) = detail(&portal, &jana, &id).await;
    assert_eq!(statuses(&shown), ["awaiting-payment", "submitted", "accepted"], "submitted once");
    assert_eq!(shown["legalDeadline"], "2026-12-14", "20 days (zákon č. 361/2000 Sb.), a Monday");
    assert_eq!(shown["data"]["photoWidth"], 827);
    assert_eq!(shown["data"]["delivery"], "pickup");
    assert!(shown["data"].get("photo").is_none());
    let calendar = drain_events(&portal, portal_events::CALENDAR_QUEUE).await;
    assert_eq!(calendar.len(), 1, "one deadline entry, however often settled");

    // The simulated office decides after 15 days.
    portal.clock.advance(Duration::from_secs(16 * 24 * 3600));
    let jana = portal.login(JANA).await; // the session expired meanwhile
    let (_, shown) = detail(&portal, &jana, &id).await;
    assert_eq!(shown["status"], "decided");

    // A declined payment ends the application without sending it.
    let (_, _, body) = call(&portal.router, multipart(&jana, &licence_form(&photo, "damaged"))).await;
    let declined = json_of(&body)["id"].as_str().expect("id").to_owned();
    call(
        &portal.router,
        write(Method::POST, &format!("/api/filings/{declined}/simulated-payment"), &jana, Some(json!({"paid": false}))),
    )
    .await;
    let message = SettleMessage { filing_id: declined.clone(), subject: JANA.into() };
    licence::settle_filing_payment(&portal.registers, &message).await.expect("settled");
    let (_, shown) = detail(&portal, &jana, &declined).await;
    assert_eq!(shown["status"], "payment-failed");
    assert!(shown.get("reference").is_none(), "nothing went to the office");
}

#[tokio::test]
async fn a_licence_without_a_fee_is_filed_at_once_and_without_payments_nothing_is_pretended() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    let photo = good_photo();
    let (status, _, body) = call(&portal.router, multipart(&jana, &licence_form(&photo, "expired"))).await;
    assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&body));
    assert_eq!(json_of(&body)["status"], "accepted", "the exchange of an expired licence is free");

    let mut production = portal_with(RegistersSettings::default(), None);
    production.registers.payments = Arc::new(PaymentsNotConnected);
    production.registers.simulated_payments = None;
    production.router = production.harness.router(portal_registers::functions(production.registers.clone()));
    let jana = production.login(JANA).await;
    let (status, _, body) = call(&production.router, multipart(&jana, &licence_form(&photo, "lost"))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(json_of(&body)["detail"], "payments are not connected yet");
    assert_eq!(count(&production, &jana).await, 0);
    let (status, _, _) = call(
        &production.router,
        write(Method::POST, "/api/filings/x/simulated-payment", &jana, Some(json!({"paid": true}))),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no simulator in production");
}

// ------------------------------------------------- deadlines and urgence

#[tokio::test]
async fn a_passed_deadline_is_told_once_and_the_reminder_is_sent_once() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    let now = datetime!(2026-11-23 08:00 UTC);
    record_filing(&portal.registers, &record_event(JANA, "petition-p-1", "submitted", now, Some("simmuhl")))
        .await
        .expect("recorded");
    record_filing(&portal.registers, &record_event(JANA, "petition-p-2", "submitted", now, None))
        .await
        .expect("recorded");
    portal.drain(portal_events::CALENDAR_QUEUE).await;

    // Before the deadline: no reminder.
    let (status, _, body) =
        call(&portal.router, write(Method::POST, "/api/filings/petition-p-1/urge", &jana, None)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(json_of(&body)["type"], "/problems/deadline-not-passed");
    assert!(json_of(&body)["detail"].as_str().is_some_and(|d| d.contains("23. 12. 2026") || d.contains("23.12.2026")));
    check_filing_deadlines(&portal.registers).await.expect("timer");
    assert!(drain_events(&portal, portal_events::NOTIFICATIONS_QUEUE).await.is_empty());

    // The deadline (23 Dec 2026) passes without a decision.
    portal.clock.set(datetime!(2026-12-24 07:30 UTC));
    let jana = portal.login(JANA).await; // the session expired meanwhile
    let first = check_filing_deadlines(&portal.registers).await.expect("timer");
    let second = check_filing_deadlines(&portal.registers).await.expect("timer again");
    assert_eq!((first.overdue, second.overdue), (2, 0));
    let told = drain_events(&portal, portal_events::NOTIFICATIONS_QUEUE).await;
    assert_eq!(told.len(), 2, "once per filing, even when run twice");
    assert!(told.iter().all(|e| e.kind == DEADLINE_PASSED));
    assert!(told.iter().any(|e| e.id == "filings.deadline-passed:petition-p-1"));
    let (_, shown) = detail(&portal, &jana, "petition-p-1").await;
    assert_eq!((shown["overdue"].as_bool(), shown["canUrge"].as_bool()), (Some(true), Some(true)));

    // Without the agency's data box, no reminder from the portal.
    let (status, _, body) =
        call(&portal.router, write(Method::POST, "/api/filings/petition-p-2/urge", &jana, None)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(json_of(&body)["type"], "/problems/agency-without-data-box");

    // A double click sends one data message.
    for _ in 0..2 {
        let (status, _, body) =
            call(&portal.router, write(Method::POST, "/api/filings/petition-p-1/urge", &jana, None)).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{}", String::from_utf8_lossy(&body));
        assert_eq!(json_of(&body)["urgeRequestId"], "filing-petition-p-1-urge-1");
    }
    let sent = drain_events(&portal, portal_events::DATA_MESSAGES_QUEUE).await;
    assert_eq!(sent.len(), 1, "exactly one reminder");
    assert_eq!(sent[0].kind, portal_events::kinds::SEND_DATA_MESSAGE);
    let message: OutgoingDataMessage = sent[0].data_as().expect("an outgoing message");
    assert_eq!(
        (message.request_id.as_str(), message.recipient_box_id.as_str()),
        ("filing-petition-p-1-urge-1", "simmuhl")
    );
    let attachment = &message.attachments[0];
    let sealed = match &attachment.content {
        SealedContent::Inline { sealed } => base64::engine::general_purpose::STANDARD.decode(sealed).expect("base64"),
        SealedContent::Blob { path } => portal.blob(path).await.1,
    };
    let pdf = portal
        .registers
        .sealer
        .decrypt(JANA, &attachment.sealed_document, &attachment.sealed_field, &sealed)
        .await
        .expect("sealed with the citizen's key");
    assert!(pdf.starts_with(b"%PDF-"));
    if let Some(text) = pdf_text_strict(&pdf) {
        assert!(text.contains("Urgence") && text.contains("Petice za zachování knihovny"), "{text}");
    }
    let (_, shown) = detail(&portal, &jana, "petition-p-1").await;
    assert_eq!(shown["canUrge"], false);
    assert!(shown["urgedAt"].is_string());
}

// ------------------------------------------------- from other capabilities

#[tokio::test]
async fn recorded_filings_survive_replays_and_reordering() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    let t = datetime!(2026-11-23 08:00 UTC);
    let decided = record_event(JANA, "petition-p-9", "decided", t + time::Duration::days(5), Some("simmuhl"));
    let submitted = record_event(JANA, "petition-p-9", "submitted", t, Some("simmuhl"));
    let accepted = record_event(JANA, "petition-p-9", "accepted", t + time::Duration::days(1), Some("simmuhl"));
    for event in [&decided, &submitted, &decided, &accepted, &submitted, &accepted, &decided] {
        record_filing(&portal.registers, event).await.expect("recorded");
    }
    let (status, shown) = detail(&portal, &jana, "petition-p-9").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(statuses(&shown), ["submitted", "accepted", "decided"]);
    assert_eq!(shown["status"], "decided", "a late older status does not overwrite the decision");
    assert_eq!(shown["legalDeadline"], "2026-12-23", "30 days for a petition from its submission");
    assert_eq!(count(&portal, &jana).await, 1);

    let mut bad = record_event(JANA, "petition-p-9", "lost", t, None);
    let error = record_filing(&portal.registers, &bad).await.expect_err("unknown status");
    assert!(matches!(error, InvocationError::Permanent(_)), "{error:?}");
    bad = record_event(JANA, "../p", "submitted", t, None);
    assert!(matches!(record_filing(&portal.registers, &bad).await, Err(InvocationError::Permanent(_))));
}

#[tokio::test]
async fn another_citizens_filing_answers_404() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    let jiri = portal.login(JIRI).await;
    let (_, bytes) = register_write(&portal, &jana, json!({"kind": "contact", "email": "jana@example.cz"})).await;
    let id = json_of(&bytes)["id"].as_str().expect("id").to_owned();
    let photo = good_photo();
    let (_, _, body) = call(&portal.router, multipart(&jana, &licence_form(&photo, "lost"))).await;
    let licence = json_of(&body)["id"].as_str().expect("id").to_owned();
    assert_eq!(detail(&portal, &jana, &id).await.0, StatusCode::OK);
    assert_eq!(detail(&portal, &jiri, &id).await.0, StatusCode::NOT_FOUND);
    let (status, _, _) =
        call(&portal.router, write(Method::POST, &format!("/api/filings/{id}/urge"), &jiri, None)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = call(
        &portal.router,
        write(Method::POST, &format!("/api/filings/{licence}/simulated-payment"), &jiri, Some(json!({"paid": true}))),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(count(&portal, &jiri).await, 0);
    let (status, _, _) = call(&portal.router, get("/api/filings/..%2Fx", &jiri)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_list_pages_newest_first() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    for n in 0..3 {
        portal.clock.advance(Duration::from_secs(60));
        let (status, _) =
            register_write(&portal, &jana, json!({"kind": "contact", "phone": format!("+42060112345{n}")})).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let (_, _, body) = call(&portal.router, get("/api/filings?pageSize=2", &jana)).await;
    let page = json_of(&body);
    assert_eq!(page["items"].as_array().map(Vec::len), Some(2));
    let first = page["items"][0]["createdAt"].as_str().expect("date").to_owned();
    let second = page["items"][1]["createdAt"].as_str().expect("date").to_owned();
    assert!(first > second, "newest first");
    let token = page["continuation"].as_str().expect("more");
    let (_, _, body) = call(&portal.router, get(&format!("/api/filings?pageSize=2&continuation={token}"), &jana)).await;
    assert_eq!(json_of(&body)["items"].as_array().map(Vec::len), Some(1));
    let (status, _, body) = call(&portal.router, get("/api/filings?pageSize=0", &jana)).await;
    assert_eq!(fields(status, &body), ["pageSize"]);
}

/// The simulator, with writes down.
#[derive(Debug)]
struct WritesDown(Arc<dyn portal_registers::RegistersGateway>);

#[async_trait::async_trait]
impl portal_registers::RegistersGateway for WritesDown {
    async fn person(&self, r: &RequestId, s: &SubjectId) -> GatewayResult<PersonRecord> {
        self.0.person(r, s).await
    }
    async fn entrepreneur(&self, r: &RequestId, s: &SubjectId) -> GatewayResult<EntrepreneurRecord> {
        self.0.entrepreneur(r, s).await
    }
    async fn criminal_record(&self, r: &RequestId, s: &SubjectId) -> GatewayResult<CriminalRecordExtract> {
        self.0.criminal_record(r, s).await
    }
    async fn trade_register(&self, r: &RequestId, s: &SubjectId) -> GatewayResult<TradeRegisterExtract> {
        self.0.trade_register(r, s).await
    }
    async fn driver_points(&self, r: &RequestId, s: &SubjectId) -> GatewayResult<DriverPoints> {
        self.0.driver_points(r, s).await
    }
    async fn vehicles(&self, r: &RequestId, s: &SubjectId) -> GatewayResult<Vehicles> {
        self.0.vehicles(r, s).await
    }
    async fn odometer(&self, r: &RequestId, v: &Vin, p: &ProtocolNumber) -> GatewayResult<OdometerHistory> {
        self.0.odometer(r, v, p).await
    }
    async fn properties(&self, r: &RequestId, s: &SubjectId) -> GatewayResult<Properties> {
        self.0.properties(r, s).await
    }
    async fn sealed_extract(
        &self,
        r: &RequestId,
        s: &SubjectId,
        kind: &str,
    ) -> GatewayResult<portal_registers::gateway::SealedExtract> {
        self.0.sealed_extract(r, s, kind).await
    }
    async fn submit_filing(
        &self,
        _: &RequestId,
        _: &SubjectId,
        _: &RequestId,
        _: &FilingSubmission,
    ) -> GatewayResult<FilingReceipt> {
        Err(GatewayError::Unavailable("the gateway is down (test)".into()))
    }
    async fn filing_status(&self, r: &RequestId, s: &SubjectId, reference: &str) -> GatewayResult<FilingProgress> {
        self.0.filing_status(r, s, reference).await
    }
}

#[tokio::test]
async fn a_gateway_outage_leaves_no_filing_behind() {
    let clock = Arc::new(portal_store::ManualClock::new(datetime!(2026-11-23 08:00 UTC)));
    let gateway = Arc::new(WritesDown(portal_registers::simulated_gateway(clock)));
    let portal = portal_with(RegistersSettings::default(), Some(gateway));
    let jana = portal.login(JANA).await;
    let (status, body) = register_write(&portal, &jana, json!({"kind": "contact", "email": "jana@example.cz"})).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(json_of(&body)["detail"], "the registers", "5xx bodies name the component, nothing internal");
    assert_eq!(count(&portal, &jana).await, 0, "the citizen simply tries again");
    assert!(portal.drain(portal_events::CALENDAR_QUEUE).await.is_empty());
}

// ------------------------------------------------------------- erasure

#[tokio::test]
async fn erasure_deletes_a_citizens_filings_index_entries_and_blobs_and_a_replay_succeeds() {
    use portal_store::{Clock, DocumentStore, PutMode, Query};
    let portal = portal();
    let jana = portal.login(JANA).await;
    let jiri = portal.login(JIRI).await;
    let contact = json!({"kind": "contact", "phone": "+421901123456"});
    for login in [&jana, &jiri] {
        let (status, bytes) = register_write(&portal, login, contact.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&bytes));
        assert_eq!(json_of(&bytes)["legalDeadline"], "2026-12-23");
    }
    let folder = |subject: &str| format!("registers/{}/", portal_registers::citizen_folder(subject));
    for subject in [JANA, JIRI] {
        let path = BlobPath::parse(format!("{}job-1.pdf", folder(subject))).expect("path");
        BlobStore::put(
            portal.store.as_ref(),
            &path,
            "sealed".into(),
            "application/pdf",
            Default::default(),
            PutMode::Overwrite,
        )
        .await
        .expect("blob");
    }
    let index = || async {
        portal.store.query("registers", "filing-deadlines-2026-12-23", Query::default()).await.expect("index").items
    };
    assert_eq!(index().await.len(), 2);

    let at = portal.clock.now();
    portal.registers.sealer.keys().shred(JANA).await.expect("the erasure shreds her key first");
    let event = Event::new("account.erased", &format!("{JANA}:{}", at.unix_timestamp()), JANA, at, json!({}));
    for _ in 0..2 {
        portal_registers::queue::erase_registers_data::erase(&portal.registers, &event).await.expect("erased");
    }
    let left = portal.store.query("registers", JANA, Query::default()).await.expect("query");
    assert!(left.items.is_empty(), "nothing of hers is left: {:?}", left.items);
    assert!(BlobStore::list(portal.store.as_ref(), &folder(JANA)).await.expect("list").is_empty());
    let index = index().await;
    assert_eq!(index.len(), 1, "only Jiří's deadline is left in the index");
    assert_eq!(index[0].body["subject"], JIRI);
    assert_eq!(BlobStore::list(portal.store.as_ref(), &folder(JIRI)).await.expect("list").len(), 1);
    assert_eq!(count(&portal, &jiri).await, 1, "Jiří's filing is untouched");
}
