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

use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use portal_events::{FiledDocument, Notice};
use portal_fees::FeesSettings;
use portal_fees::payment::{self, PaymentState};
use portal_payments::test_cards;
use portal_security::SubjectId;
use portal_store::embedded::EmbeddedStore;
use portal_store::{
    BlobInfo, BlobPath, BlobStore, BlobStream, PutMode, QueueName, QueueStore, ReceivedMessage, StoreResult,
};
use portal_testkit::{Harness, JANA, START};

const DOG: &str = "p10-pes-2027-0042";

fn on_disk(data: &Path, keys: &Path) -> Portal {
    // Every receipt goes through a blob, so both kill points exist.
    portal_on(Harness::on_disk(data, keys, START), FeesSettings { inline_limit: 0, ..FeesSettings::default() })
}

async fn halt(point: &str) -> ! {
    println!("reached {point}");
    std::future::pending::<()>().await;
    unreachable!("pending never completes")
}

#[derive(Debug)]
struct HaltingBlobs(Arc<EmbeddedStore>);

#[async_trait::async_trait]
impl BlobStore for HaltingBlobs {
    async fn put(
        &self,
        path: &BlobPath,
        content: Bytes,
        content_type: &str,
        metadata: BTreeMap<String, String>,
        mode: PutMode,
    ) -> StoreResult<BlobInfo> {
        self.0.put(path, content, content_type, metadata, mode).await?;
        halt("blob").await
    }
    async fn get(&self, path: &BlobPath) -> StoreResult<(BlobInfo, BlobStream)> {
        BlobStore::get(self.0.as_ref(), path).await
    }
    async fn delete(&self, path: &BlobPath) -> StoreResult<()> {
        BlobStore::delete(self.0.as_ref(), path).await
    }
    async fn list(&self, prefix: &str) -> StoreResult<Vec<BlobInfo>> {
        self.0.list(prefix).await
    }
    async fn ping(&self) -> StoreResult<()> {
        BlobStore::ping(self.0.as_ref()).await
    }
}

#[derive(Debug)]
struct HaltingQueues(Arc<EmbeddedStore>);

#[async_trait::async_trait]
impl QueueStore for HaltingQueues {
    async fn ensure(&self, queue: &QueueName) -> StoreResult<()> {
        self.0.ensure(queue).await
    }
    async fn send(&self, queue: &QueueName, text: &str, delay: Option<Duration>) -> StoreResult<String> {
        let id = self.0.send(queue, text, delay).await?;
        if queue.as_str() == portal_events::DOCUMENTS_QUEUE {
            halt("event").await
        }
        Ok(id)
    }
    async fn receive(&self, queue: &QueueName, max: u32, visibility: Duration) -> StoreResult<Vec<ReceivedMessage>> {
        self.0.receive(queue, max, visibility).await
    }
    async fn release(&self, queue: &QueueName, id: &str, pop_receipt: &str, delay: Duration) -> StoreResult<String> {
        self.0.release(queue, id, pop_receipt, delay).await
    }
    async fn delete(&self, queue: &QueueName, id: &str, pop_receipt: &str) -> StoreResult<()> {
        QueueStore::delete(self.0.as_ref(), queue, id, pop_receipt).await
    }
    async fn approximate_count(&self, queue: &QueueName) -> StoreResult<u64> {
        self.0.approximate_count(queue).await
    }
    async fn list_queues(&self) -> StoreResult<Vec<QueueName>> {
        self.0.list_queues().await
    }
    async fn ping(&self) -> StoreResult<()> {
        QueueStore::ping(self.0.as_ref()).await
    }
}

const CHILD_DATA: &str = "PORTAL_FEES_CHILD_DATA";
const CHILD_KEYS: &str = "PORTAL_FEES_CHILD_KEYS";
const CHILD_POINT: &str = "PORTAL_FEES_CHILD_POINT";

fn jana() -> SubjectId {
    SubjectId::parse(JANA).expect("subject")
}

/// Child mode: Jana pays, and the settlement halts at the point.
async fn child(data: &str, keys: &str, point: &str) {
    let mut portal = on_disk(Path::new(data), Path::new(keys));
    let (record, _) = payment::start(&portal.fees, &jana(), DOG).await.expect("started");
    println!("payment {}", record.id);
    portal.gateway.checkout(&record.id, test_cards::PAID).expect("paid");
    match point {
        "blob" => portal.fees.blobs = Arc::new(HaltingBlobs(portal.store.clone())),
        _ => portal.fees.queues = Arc::new(HaltingQueues(portal.store.clone())),
    }
    let _ = payment::settle(&portal.fees, &jana(), &record.id).await;
    println!("finished");
}

async fn kill_at(point: &str, test_name: &str) {
    let (data, keys) = (tempfile::tempdir().expect("tempdir"), tempfile::tempdir().expect("tempdir"));
    let mut child = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([test_name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_DATA, data.path())
        .env(CHILD_KEYS, keys.path())
        .env(CHILD_POINT, point)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn the child");
    let stdout = child.stdout.take().expect("stdout");
    let mut reached = false;
    let mut id = None;
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.expect("read");
        assert!(!line.ends_with("finished"), "the child finished before it could be killed");
        if let Some((_, payment)) = line.split_once("payment ") {
            id = Some(payment.trim().to_owned());
        }
        if line.ends_with(&format!("reached {point}")) {
            reached = true;
            break;
        }
    }
    assert!(reached, "the child reached the kill point");
    child.kill().expect("SIGKILL mid-run");
    child.wait().expect("reap");
    let id = id.expect("the child's payment id");

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

fn child_mode() -> Option<(String, String, String)> {
    Some((std::env::var(CHILD_DATA).ok()?, std::env::var(CHILD_KEYS).ok()?, std::env::var(CHILD_POINT).ok()?))
}

#[tokio::test]
async fn killed_after_the_receipt_blob_was_written_files_one_receipt() {
    if let Some((data, keys, point)) = child_mode() {
        return child(&data, &keys, &point).await;
    }
    kill_at("blob", "killed_after_the_receipt_blob_was_written_files_one_receipt").await;
}

#[tokio::test]
async fn killed_after_the_receipt_event_was_sent_files_one_receipt() {
    if let Some((data, keys, point)) = child_mode() {
        return child(&data, &keys, &point).await;
    }
    kill_at("event", "killed_after_the_receipt_event_was_sent_files_one_receipt").await;
}
