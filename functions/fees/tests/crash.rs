//! Killing the settlement of a paid fee mid-run (SIGKILL of a child process)
//! and running it again files exactly one receipt and tells the citizen once.
//!
//! The test re-executes its own binary as the child. The child starts Jana's
//! payment, pays it at the simulated gateway and settles it with a store
//! wrapper that, at the chosen point, reports on stdout and then waits
//! forever, so the parent kills it exactly there (no timing involved): after
//! the sealed receipt's blob is written, or after the event to Documents is
//! sent (before the record says so). The parent then settles again on the
//! same data and keys, twice (a redelivery).

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use common::*;
use portal_events::{FiledDocument, Notice};
use portal_fees::FeesSettings;
use portal_fees::payment::{self, PaymentState};
use portal_payments::test_cards;
use portal_security::SubjectId;
use portal_store::BlobStore;
use portal_testkit::crash::{ChildRun, HaltingBlobs, HaltingQueues, kill_child_at};
use portal_testkit::{Harness, JANA, START};

const DOG: &str = "p10-pes-2027-0042";

fn on_disk(data: &Path, keys: &Path) -> Portal {
    // Every receipt goes through a blob, so both kill points exist.
    portal_on(Harness::on_disk(data, keys, START), FeesSettings { inline_limit: 0, ..FeesSettings::default() })
}

fn jana() -> SubjectId {
    SubjectId::parse(JANA).expect("subject")
}

/// Child mode: Jana pays, and the settlement halts at the point.
async fn child(run: ChildRun) {
    let mut portal = on_disk(&run.data, &run.keys);
    let (record, _) = payment::start(&portal.fees, &jana(), DOG).await.expect("started");
    println!("payment {}", record.id);
    portal.gateway.checkout(&record.id, test_cards::PAID).expect("paid");
    match run.point.as_str() {
        "blob" => portal.fees.blobs = Arc::new(HaltingBlobs(portal.store.clone())),
        _ => {
            portal.fees.queues =
                Arc::new(HaltingQueues { store: portal.store.clone(), queue: portal_events::DOCUMENTS_QUEUE })
        }
    }
    let _ = payment::settle(&portal.fees, &jana(), &record.id).await;
    println!("finished");
}

async fn kill_at(point: &str, test_name: &str) {
    let (data, keys) = (tempfile::tempdir().expect("tempdir"), tempfile::tempdir().expect("tempdir"));
    let lines = kill_child_at(test_name, data.path(), keys.path(), "", point);
    let (_, id) = lines.iter().rev().find_map(|line| line.split_once("payment ")).expect("the child's payment id");
    let id = id.trim().to_owned();

    // Started again, in this process, on the same data and keys.
    let portal = on_disk(data.path(), keys.path());
    let (record, _) = payment::load(&portal.fees, JANA, &id).await.expect("load").expect("record");
    assert_eq!(record.state, PaymentState::Paid, "the gateway's answer was kept");
    assert!(!record.receipt_filed, "the kill interrupted the receipt");
    let before = drain_events(&portal, portal_events::DOCUMENTS_QUEUE).await;
    assert_eq!(before.len(), usize::from(point == "event"), "what the child had published");

    // The gateway simulator of this process never saw the payment: a paid
    // record needs it no more.
    for _ in 0..2 {
        let settled = payment::settle(&portal.fees, &jana(), &id).await.expect("the run after the crash");
        assert!(settled.settled());
    }
    let after = drain_events(&portal, portal_events::DOCUMENTS_QUEUE).await;
    let filed: Vec<FiledDocument> =
        before.iter().chain(after.iter()).map(|e| e.data_as().expect("a FiledDocument")).collect();
    let ids: BTreeSet<&str> = filed.iter().map(|f| f.document_id.as_str()).collect();
    assert_eq!(ids, [format!("fee-receipt-{id}").as_str()].into_iter().collect(), "one document id");
    let events: BTreeSet<String> = before.iter().chain(after.iter()).map(|e| e.id.clone()).collect();
    assert_eq!(events.len(), 1, "one event id however often it was sent");
    let blobs = BlobStore::list(portal.store.as_ref(), "fees/").await.expect("list");
    assert_eq!(blobs.len(), 1, "one blob");
    let pdf = open_filed(&portal, JANA, &filed[filed.len() - 1]).await;
    assert!(pdf.starts_with(b"%PDF-"), "the surviving blob is the whole sealed PDF");
    let notices = drain_events(&portal, portal_events::NOTIFICATIONS_QUEUE).await;
    let notice_ids: BTreeSet<&str> = notices.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(notice_ids.len(), 1, "one notice id");
    assert!(notices.iter().all(|e| matches!(Notice::from_event(e), Ok(Notice::DocumentFiled(_)))));
}

#[tokio::test]
async fn killed_after_the_receipt_blob_was_written_files_one_receipt() {
    if let Some(run) = ChildRun::from_env() {
        return child(run).await;
    }
    kill_at("blob", "killed_after_the_receipt_blob_was_written_files_one_receipt").await;
}

#[tokio::test]
async fn killed_after_the_receipt_event_was_sent_files_one_receipt() {
    if let Some(run) = ChildRun::from_env() {
        return child(run).await;
    }
    kill_at("event", "killed_after_the_receipt_event_was_sent_files_one_receipt").await;
}
