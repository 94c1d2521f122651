//! The fees capability end to end on the simulators: Jana pays her dog fee
//! and gets the receipt; notifications that repeat, come late, come before
//! the return or are forged; declined cards and expired sessions; erasure.

mod common;

use axum::http::{Method, StatusCode};
use common::*;
use portal_events::{Event, FiledDocument, Notice};
use portal_fees::FeeSystem as _;
use portal_fees::payment::{self, PaymentState, SettleMessage};
use portal_fees::queue::settle_fee_payment::settle_fee_payment;
use portal_payments::notification::SIGNATURE_HEADER;
use portal_payments::test_cards;
use portal_store::{Clock as _, DocumentStore as _, Query};
use portal_testkit::{JANA, JIRI, Login, call, call_json, get, write};
use serde_json::{Value, json};

const DOG: &str = "p10-pes-2027-0042";

async fn pay(portal: &Portal, login: &Login, fee: &str) -> (StatusCode, Value) {
    let (status, _, body) =
        call_json(&portal.router, write(Method::POST, &format!("/api/fees/{fee}/payments"), login, None)).await;
    (status, body)
}

/// Delivers the settlements queued so far (each twice: a redelivery).
async fn run_settlements(portal: &Portal) -> usize {
    let messages = portal.drain(payment::SETTLE_QUEUE).await;
    for message in &messages {
        let message: SettleMessage = serde_json::from_value(message.clone()).expect("a settle message");
        for _ in 0..2 {
            settle_fee_payment(&portal.fees, &message).await.expect("settled");
        }
    }
    messages.len()
}

async fn notify(portal: &Portal, signature: &str, body: &str) -> (StatusCode, Value) {
    let request = axum::http::Request::post("/api/fees/payment-notifications")
        .header("content-type", "application/json")
        .header(SIGNATURE_HEADER, signature)
        .body(axum::body::Body::from(body.to_owned()))
        .expect("request");
    let (status, _, body) = call_json(&portal.router, request).await;
    (status, body)
}

fn receipts(events: &[Event]) -> Vec<FiledDocument> {
    events.iter().map(|e| e.data_as().expect("a FiledDocument")).collect()
}

#[tokio::test]
async fn jana_sees_her_dog_fee_pays_it_and_finds_the_receipt() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    let (status, _, overview) = call_json(&portal.router, get("/api/fees", &jana)).await;
    assert_eq!(status, StatusCode::OK, "{overview}");
    assert_eq!(overview["municipality"]["code"], "554782");
    assert_eq!(overview["simulated"], true);
    let kinds: Vec<&str> =
        overview["catalogue"].as_array().expect("fees").iter().filter_map(|f| f["kind"].as_str()).collect();
    assert!(kinds.contains(&"dog") && kinds.contains(&"accommodation"), "{kinds:?}");
    let dog = &overview["obligations"][0];
    assert_eq!((dog["id"].as_str(), dog["amount"].as_str()), (Some(DOG), Some("1500.00")));
    assert_eq!(dog["status"], "open");

    let (status, started) = pay(&portal, &jana, DOG).await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    let id = started["id"].as_str().expect("id").to_owned();
    assert_eq!(started["redirectUrl"], format!("/api/fees/payments/{id}/simulated-checkout"));
    assert_eq!(started["returnUrl"], format!("http://localhost:7071/api/fees/payments/{id}"));
    assert_eq!(started["state"], "pending");

    let checkout = write(
        Method::POST,
        &format!("/api/fees/payments/{id}/simulated-checkout"),
        &jana,
        Some(json!({"card": test_cards::PAID})),
    );
    let (status, _, paid) = call_json(&portal.router, checkout).await;
    assert_eq!((status, paid["status"].as_str()), (StatusCode::OK, Some("paid")), "{paid}");
    assert_eq!(run_settlements(&portal).await, 1, "the gateway's notification queued one settlement");

    let filed = receipts(&drain_events(&portal, portal_events::DOCUMENTS_QUEUE).await);
    assert_eq!(filed.len(), 1, "one receipt for two deliveries");
    assert_eq!(filed[0].document_id, format!("fee-receipt-{id}"));
    assert_eq!((filed[0].kind.as_str(), filed[0].source.as_str()), ("receipt", "fees"));
    let pdf = open_filed(&portal, JANA, &filed[0]).await;
    assert!(pdf.starts_with(b"%PDF-"), "a PDF");
    if let Some(text) = portal_testkit::pdf_text(&pdf) {
        assert!(
            text.contains("Poplatek ze psů") && text.contains("1 500,00 Kč") && text.contains("1341202742"),
            "{text}"
        );
        assert!(text.contains("SIMULÁTOR"), "labelled simulated: {text}");
    }
    let notices = drain_events(&portal, portal_events::NOTIFICATIONS_QUEUE).await;
    assert_eq!(notices.len(), 1, "one notice");
    assert!(matches!(Notice::from_event(&notices[0]), Ok(Notice::DocumentFiled(_))));

    let (status, _, shown) = call_json(&portal.router, get(&format!("/api/fees/payments/{id}"), &jana)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (shown["state"].as_str(), shown["receiptDocumentId"].as_str()),
        (Some("paid"), Some(filed[0].document_id.as_str()))
    );
    assert!(shown.get("redirectUrl").is_none(), "nothing left to pay");
    let (_, _, overview) = call_json(&portal.router, get("/api/fees", &jana)).await;
    assert_eq!(overview["obligations"][0]["status"], "paid");
    let (status, again) = pay(&portal, &jana, DOG).await;
    assert_eq!(status, StatusCode::CONFLICT, "never paid twice: {again}");
    let (status, _, _) = call(&portal.router, get(&format!("/api/fees/{DOG}/qr"), &jana)).await;
    assert_eq!(status, StatusCode::CONFLICT, "no QR for a paid fee");
    assert!(drain_events(&portal, portal_events::DOCUMENTS_QUEUE).await.is_empty(), "the return filed nothing more");

    let logged = portal.access_entries(JANA).await;
    assert!(logged.iter().any(|e| e.resource_type == "fee-payment"), "payments are in her access log");
}

#[tokio::test]
async fn a_pending_payment_is_handed_out_again_and_other_citizens_fees_are_not_found() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    let (first, a) = pay(&portal, &jana, DOG).await;
    let (second, b) = pay(&portal, &jana, DOG).await;
    assert_eq!((first, second), (StatusCode::CREATED, StatusCode::OK));
    assert_eq!(a["id"], b["id"], "one payment while it is pending");
    let jiri = portal.login(JIRI).await;
    let (status, _) = pay(&portal, &jiri, DOG).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "Jana's fee is not Jiří's");
    let (status, _, _) =
        call(&portal.router, get(&format!("/api/fees/payments/{}", a["id"].as_str().unwrap_or("")), &jiri)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nor her payment");
    let (status, _) = pay(&portal, &jana, "../etc").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn repeated_late_and_early_notifications_settle_each_payment_once() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    let (_, started) = pay(&portal, &jana, DOG).await;
    let id = started["id"].as_str().expect("id").to_owned();
    // The citizen pays; the gateway's notification is held back (late).
    assert_eq!(
        portal.gateway.checkout(&id, test_cards::PAID).expect("paid").status,
        portal_payments::PaymentStatus::Paid
    );
    let sent = portal.gateway.take_notifications();
    assert_eq!(sent.len(), 1);
    portal.clock.advance(std::time::Duration::from_secs(120));
    let (status, taken) = notify(&portal, &sent[0].signature, &sent[0].body).await;
    assert_eq!((status, taken["accepted"].as_bool()), (StatusCode::OK, Some(true)), "{taken}");
    // The same notification again, and the gateway's retry (same id, new signature).
    let (status, again) = notify(&portal, &sent[0].signature, &sent[0].body).await;
    assert_eq!((status, again["duplicate"].as_bool()), (StatusCode::OK, Some(true)));
    let retry = portal.gateway.resend(&id).expect("resend");
    let (_, again) = notify(&portal, &retry.signature, &retry.body).await;
    assert_eq!(again["duplicate"], true);
    assert_eq!(run_settlements(&portal).await, 1);
    // The citizen returns after all that.
    let (_, _, shown) = call_json(&portal.router, get(&format!("/api/fees/payments/{id}"), &jana)).await;
    assert_eq!(shown["state"], "paid");

    // Jiří returns before the notification: the return settles, the late notification changes nothing.
    let jiri = portal.login(JIRI).await;
    let (_, started) = pay(&portal, &jiri, "brno-odpad-2027-7781").await;
    let jiri_id = started["id"].as_str().expect("id").to_owned();
    portal.gateway.checkout(&jiri_id, test_cards::PAID).expect("paid");
    let (_, _, shown) = call_json(&portal.router, get(&format!("/api/fees/payments/{jiri_id}"), &jiri)).await;
    assert_eq!(shown["state"], "paid", "the return asks the gateway");
    for note in portal.gateway.take_notifications() {
        let (status, _) = notify(&portal, &note.signature, &note.body).await;
        assert_eq!(status, StatusCode::OK);
    }
    assert_eq!(run_settlements(&portal).await, 1);

    let filed = receipts(&drain_events(&portal, portal_events::DOCUMENTS_QUEUE).await);
    let mut ids: Vec<String> = filed.iter().map(|f| f.document_id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 2, "one receipt each: {ids:?}");
    // Every publication of a receipt carries the same document id, so Documents files it once.
    assert!(filed.len() <= 2, "published once each here: {}", filed.len());
    let jana_id = portal_security::SubjectId::parse(JANA).expect("subject");
    let owed = portal.fee_system.obligations("554782", &jana_id).await.expect("obligations");
    assert_eq!(owed[0].paid.as_ref().map(|p| p.reference.as_str()), Some(id.as_str()), "the municipality has it once");
}

#[tokio::test]
async fn forged_and_replayed_notifications_are_refused() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    let (_, started) = pay(&portal, &jana, DOG).await;
    let id = started["id"].as_str().expect("id").to_owned();
    portal.gateway.checkout(&id, test_cards::PAID).expect("paid");
    let note = portal.gateway.take_notifications().pop().expect("a notification");

    let forged = note.body.replace(&id, "00000000-0000-4000-8000-000000000000");
    let (status, problem) = notify(&portal, &note.signature, &forged).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{problem}");
    let other_key = portal_payments::NotificationKey::new(b"someone else");
    let signed = other_key.notify(&id, portal_payments::PaymentStatus::Paid, portal.clock.now());
    assert_eq!(notify(&portal, &signed.signature, &signed.body).await.0, StatusCode::UNAUTHORIZED);
    let request = axum::http::Request::post("/api/fees/payment-notifications")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(note.body.clone()))
        .expect("request");
    let (status, _, problem) = call_json(&portal.router, request).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "no signature: {problem}");
    assert_eq!(problem["errors"][0]["field"], "Gateway-Signature");
    // Captured and replayed after the window.
    portal.clock.advance(std::time::Duration::from_secs(6 * 60));
    assert_eq!(notify(&portal, &note.signature, &note.body).await.0, StatusCode::UNAUTHORIZED);
    assert!(portal.drain(payment::SETTLE_QUEUE).await.is_empty(), "nothing was queued");
}

#[tokio::test]
async fn declined_cards_and_expired_sessions_never_pay_and_a_new_payment_can_start() {
    let portal = portal();
    let mut jana = portal.login(JANA).await;
    let (_, first) = pay(&portal, &jana, DOG).await;
    let first = first["id"].as_str().expect("id").to_owned();
    let checkout = |login: &Login, id: &str, card: &str| {
        write(Method::POST, &format!("/api/fees/payments/{id}/simulated-checkout"), login, Some(json!({"card": card})))
    };
    let (_, _, declined) = call_json(&portal.router, checkout(&jana, &first, test_cards::DECLINED)).await;
    assert_eq!(declined["status"], "declined");
    run_settlements(&portal).await;
    let (_, _, shown) = call_json(&portal.router, get(&format!("/api/fees/payments/{first}"), &jana)).await;
    assert_eq!(shown["state"], "declined");

    let (status, second) = pay(&portal, &jana, DOG).await;
    assert_eq!(status, StatusCode::CREATED, "a declined payment may be tried again");
    let second = second["id"].as_str().expect("id").to_owned();
    assert_ne!(first, second);
    portal.clock.advance(std::time::Duration::from_secs(31 * 60));
    jana = portal.login(JANA).await;
    let (_, _, expired) = call_json(&portal.router, checkout(&jana, &second, test_cards::PAID)).await;
    assert_eq!(expired["status"], "expired", "the session ran out");

    let (status, third) = pay(&portal, &jana, DOG).await;
    assert_eq!(status, StatusCode::CREATED);
    let third = third["id"].as_str().expect("id").to_owned();
    let (_, _, paid) = call_json(&portal.router, checkout(&jana, &third, test_cards::PAID)).await;
    assert_eq!(paid["status"], "paid");
    run_settlements(&portal).await;
    let filed = receipts(&drain_events(&portal, portal_events::DOCUMENTS_QUEUE).await);
    assert_eq!(
        filed.iter().map(|f| f.source_ref.as_str()).collect::<Vec<_>>(),
        [third.as_str()],
        "a receipt only for the paid one"
    );
    let records = payment::list(&portal.fees, JANA).await.expect("records");
    let state = |id: &str| records.iter().find(|r| r.id == id).map(|r| r.state);
    assert_eq!(
        [state(&first), state(&second), state(&third)],
        [Some(PaymentState::Declined), Some(PaymentState::Expired), Some(PaymentState::Paid)]
    );

    let (status, _, problem) = call_json(&portal.router, checkout(&jana, &third, "")).await;
    assert_eq!(status, StatusCode::OK, "a finished payment stays as it ended: {problem}");
    let bad = write(Method::POST, &format!("/api/fees/payments/{third}/simulated-checkout"), &jana, Some(json!({})));
    assert_eq!(call(&portal.router, bad).await.0, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn erasure_deletes_the_payment_records_and_their_lookups() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    let (_, started) = pay(&portal, &jana, DOG).await;
    let id = started["id"].as_str().expect("id").to_owned();
    let jiri = portal.login(JIRI).await;
    pay(&portal, &jiri, "brno-odpad-2027-7781").await;
    portal.fees.sealer.keys().shred(JANA).await.expect("shredded first");
    let event = Event::new(portal_events::kinds::ERASED, &format!("{JANA}:1"), JANA, portal.clock.now(), json!({}));
    for _ in 0..2 {
        portal_fees::queue::erase_fees_data::erase(&portal.fees, &event).await.expect("erased");
    }
    let left = portal.store.query(portal_fees::COLLECTION, JANA, Query::default()).await.expect("query");
    assert!(left.items.is_empty(), "{:?}", left.items);
    let index =
        portal.store.query(portal_fees::COLLECTION, payment::INDEX_PARTITION, Query::default()).await.expect("query");
    let ids: Vec<&str> = index.items.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids.len(), 1, "only Jiří's lookup is left");
    assert!(!ids.contains(&id.as_str()));
    let forged = Event::new(portal_events::kinds::ERASED, &format!("{JIRI}:1"), JIRI, portal.clock.now(), json!({}));
    assert!(portal_fees::queue::erase_fees_data::erase(&portal.fees, &forged).await.is_err(), "not erased: refused");
}

#[tokio::test]
async fn a_payment_the_gateway_does_not_know_expires_and_the_fee_can_be_paid_again() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    let (_, started) = pay(&portal, &jana, DOG).await;
    let id = started["id"].as_str().expect("id").to_owned();
    // The gateway lost the session (a simulator restarted in local mode).
    let mut fees = portal.fees.clone();
    let key = portal_payments::NotificationKey::new(SECRET);
    fees.payments = std::sync::Arc::new(portal_fees::simulated_gateway(portal.clock.clone(), key));
    let jana_id = portal_security::SubjectId::parse(JANA).expect("subject");
    let record = payment::settle(&fees, &jana_id, &id).await.expect("settled");
    assert_eq!(record.state, PaymentState::Expired);
    let (status, again) = pay(&portal, &jana, DOG).await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
    assert_ne!(again["id"].as_str(), Some(id.as_str()));
}

/// The gateway, with both starts held until both reached it: each has read
/// that the fee has no payment yet before either writes one.
#[derive(Debug)]
struct RacingGateway {
    inner: std::sync::Arc<portal_payments::SimulatedPaymentGateway>,
    barrier: tokio::sync::Barrier,
}

#[async_trait::async_trait]
impl portal_payments::PaymentGateway for RacingGateway {
    async fn create_payment(
        &self,
        id: &str,
        amount: i64,
        description: &str,
    ) -> Result<portal_payments::PaymentIntent, portal_payments::PaymentError> {
        self.inner.create_payment(id, amount, description).await
    }
    async fn status(&self, id: &str) -> Result<portal_payments::PaymentStatus, portal_payments::PaymentError> {
        self.inner.status(id).await
    }
    async fn start_payment(
        &self,
        id: &str,
        amount: i64,
        description: &str,
        return_url: &str,
    ) -> Result<portal_payments::PaymentIntent, portal_payments::PaymentError> {
        self.barrier.wait().await;
        self.inner.start_payment(id, amount, description, return_url).await
    }
}

#[tokio::test]
async fn two_concurrent_starts_never_make_two_payments() {
    let mut portal = portal();
    let racing = RacingGateway { inner: portal.gateway.clone(), barrier: tokio::sync::Barrier::new(2) };
    portal.fees.payments = std::sync::Arc::new(racing);
    portal.router = portal.harness.router(portal_fees::functions(portal.fees.clone()));
    let jana = portal.login(JANA).await;
    let ((a, first), (b, second)) = tokio::join!(pay(&portal, &jana, DOG), pay(&portal, &jana, DOG));
    let mut statuses = [a, b];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::CREATED, StatusCode::CONFLICT],
        "one is created, one refused: {first} / {second}"
    );
    let records = payment::list(&portal.fees, JANA).await.expect("records");
    assert_eq!(records.len(), 1, "one record");
    let index = portal.store.query(portal_fees::COLLECTION, payment::INDEX_PARTITION, Query::default()).await;
    assert_eq!(index.expect("query").items.len(), 1, "the refused start took its lookup back");
}
