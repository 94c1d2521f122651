//! Fees' part of the citizen's export: every payment, oldest first, opened,
//! the paid one naming its receipt; only the citizen's own; and past the
//! 100 records one page of the store holds.

mod common;

use axum::http::{Method, StatusCode};
use base64::Engine as _;
use common::*;
use portal_fees::payment::{self, SettleMessage};
use portal_fees::queue::settle_fee_payment::settle_fee_payment;
use portal_payments::test_cards;
use portal_security::SubjectId;
use portal_security::export::ExportSource as _;
use portal_store::NewDocument;
use portal_testkit::{JANA, JIRI, Login, call_json, write};
use serde_json::{Value, json};

const DOG: &str = "p10-pes-2027-0042";

async fn exported(portal: &Portal, subject: &str) -> Value {
    let parts = portal.fees.export(&SubjectId::parse(subject).expect("subject")).await.expect("export");
    let paths: Vec<&str> = parts.iter().map(|part| part.path.as_str()).collect();
    assert_eq!(paths, ["payments.json"]);
    serde_json::from_slice(&parts[0].content).expect("JSON")
}

async fn start(portal: &Portal, login: &Login) -> String {
    let request = write(Method::POST, &format!("/api/fees/{DOG}/payments"), login, None);
    let (status, _, body) = call_json(&portal.router, request).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().expect("id").to_owned()
}

async fn checkout(portal: &Portal, login: &Login, id: &str, card: &str) {
    let path = format!("/api/fees/payments/{id}/simulated-checkout");
    let (status, _, body) =
        call_json(&portal.router, write(Method::POST, &path, login, Some(json!({"card": card})))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for message in portal.drain(payment::SETTLE_QUEUE).await {
        let message: SettleMessage = serde_json::from_value(message).expect("a settle message");
        settle_fee_payment(&portal.fees, &message).await.expect("settled");
    }
}

#[tokio::test]
async fn the_export_holds_every_payment_opened_with_its_receipt_and_only_the_citizens_own() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    let declined = start(&portal, &jana).await;
    checkout(&portal, &jana, &declined, test_cards::DECLINED).await;
    portal.clock.advance(std::time::Duration::from_secs(60));
    let paid = start(&portal, &jana).await;
    checkout(&portal, &jana, &paid, test_cards::PAID).await;

    let payments = exported(&portal, JANA).await;
    let ids: Vec<&str> = payments.as_array().expect("a list").iter().filter_map(|p| p["id"].as_str()).collect();
    assert_eq!(ids, [declined.as_str(), paid.as_str()], "oldest first: {payments}");
    let (first, second) = (&payments[0], &payments[1]);
    assert_eq!(first["state"], "declined");
    assert!(first.get("receiptDocumentId").is_none() && first.get("paidAt").is_none(), "{first}");
    assert_eq!(second["state"], "paid");
    assert_eq!(second["receiptDocumentId"], json!(payment::receipt_id(&paid)), "{second}");
    assert_eq!(second["municipalityAnswer"], "recorded", "{second}");
    assert!(second["paidAt"].is_string(), "{second}");
    // What it paid for, opened from the seal.
    assert_eq!((&second["feeId"], &second["kind"]), (&json!(DOG), &json!("dog")), "{second}");
    assert_eq!((&second["amountHellers"], &second["amount"]), (&json!(150_000), &json!("1500.00")), "{second}");
    assert_eq!(second["municipality"]["code"], "554782", "{second}");
    assert!(second["variableSymbol"].as_str().is_some_and(|v| !v.is_empty()), "{second}");
    assert!(second.get("sealedDetails").is_none(), "opened, not sealed: {second}");

    assert_eq!(exported(&portal, JIRI).await, json!([]), "Jiří paid nothing");
}

#[tokio::test]
async fn the_export_pages_past_the_stores_hundred_records() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    let first = start(&portal, &jana).await;
    let (record, _) = payment::load(&portal.fees, JANA, &first).await.expect("read").expect("the record");
    let details = payment::details(&portal.fees, JANA, &record).await.expect("opened");
    let plain = serde_json::to_vec(&details).expect("JSON");
    // 129 more records like it (as many earlier attempts would leave), each
    // sealed under its own document id.
    for n in 1..130_i64 {
        let id = format!("00000000-0000-4000-8000-{n:012}");
        let sealed = portal
            .fees
            .sealer
            .encrypt(JANA, &payment::doc_id(&id), payment::DETAILS_FIELD, &plain)
            .await
            .expect("sealed");
        let mut copy = record.clone();
        copy.id.clone_from(&id);
        copy.sealed_details = base64::engine::general_purpose::STANDARD.encode(sealed);
        copy.created_at_nanos = record.created_at_nanos + n;
        let body = serde_json::to_value(&copy).expect("JSON");
        portal
            .documents
            .create(portal_fees::COLLECTION, NewDocument::new(JANA, payment::doc_id(&id), body))
            .await
            .expect("stored");
    }
    let payments = exported(&portal, JANA).await;
    let ids: Vec<&str> = payments.as_array().expect("a list").iter().filter_map(|p| p["id"].as_str()).collect();
    assert_eq!(ids.len(), 130, "every record, not one page");
    assert_eq!(ids[0], first, "oldest first");
    assert_eq!(ids[129], "00000000-0000-4000-8000-000000000129");
}
