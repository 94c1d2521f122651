//! Killing `FetchExtract` mid-run (SIGKILL of a child process) and running
//! it again files exactly one document: one blob, one document id.
//!
//! The test re-executes its own binary as the child. The child runs
//! `FetchExtract` with a store wrapper that, at the chosen point, reports on
//! stdout and then waits forever, so the parent kills it exactly there
//! (no timing involved): after the sealed PDF's blob is written, or after
//! the event to Documents is sent.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::http::Method;
use bytes::Bytes;
use common::*;
use portal_events::FiledDocument;
use portal_registers::RegistersSettings;
use portal_registers::extracts::{self, FetchMessage, JobStatus};
use portal_registers::queue::fetch_extract::fetch_extract;
use portal_store::embedded::EmbeddedStore;
use portal_store::{
    BlobInfo, BlobPath, BlobStore, BlobStream, PutMode, QueueName, QueueStore, ReceivedMessage, StoreResult,
};
use portal_testkit::{Harness, JIRI, START, call, write};
use serde_json::json;

fn settings() -> RegistersSettings {
    // Every PDF goes through a blob, so both kill points exist.
    RegistersSettings { inline_limit: 0, ..RegistersSettings::default() }
}

/// The capability on the store in `data` and the key file in `keys`, which
/// the child and the run after it share.
fn on_disk(data: &Path, keys: &Path) -> Portal {
    portal_on(Harness::on_disk(data, keys, START), settings(), None)
}

/// Stops the child forever, after saying where.
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

const CHILD_DATA: &str = "PORTAL_REGISTERS_CHILD_DATA";
const CHILD_KEYS: &str = "PORTAL_REGISTERS_CHILD_KEYS";
const CHILD_MESSAGE: &str = "PORTAL_REGISTERS_CHILD_MESSAGE";
const CHILD_POINT: &str = "PORTAL_REGISTERS_CHILD_POINT";

/// Child mode: one `FetchExtract` that halts at the point.
async fn child(data: &str, keys: &str, message: &str, point: &str) {
    let mut portal = on_disk(std::path::Path::new(data), std::path::Path::new(keys));
    match point {
        "blob" => portal.registers.blobs = Arc::new(HaltingBlobs(portal.store.clone())),
        _ => portal.registers.queues = Arc::new(HaltingQueues(portal.store.clone())),
    }
    let message: FetchMessage = serde_json::from_str(message).expect("message");
    let _ = fetch_extract(&portal.registers, &message).await;
    println!("finished");
}

/// Requests an extract, kills `FetchExtract` at `point`, runs it again.
async fn kill_at(point: &str, test_name: &str) {
    let (data, keys) = (tempfile::tempdir().expect("tempdir"), tempfile::tempdir().expect("tempdir"));
    let message = {
        let portal = on_disk(data.path(), keys.path());
        let jiri = portal.login(JIRI).await;
        let request = write(Method::POST, "/api/registers/extracts", &jiri, Some(json!({"kind": "vehicles"})));
        let (status, _, _) = call(&portal.router, request).await;
        assert_eq!(status, axum::http::StatusCode::ACCEPTED);
        portal.drain(extracts::QUEUE).await.pop().expect("the job's message").to_string()
    };

    let mut child = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([test_name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_DATA, data.path())
        .env(CHILD_KEYS, keys.path())
        .env(CHILD_MESSAGE, &message)
        .env(CHILD_POINT, point)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn the child");
    let stdout = child.stdout.take().expect("stdout");
    let mut reached = false;
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.expect("read");
        // libtest prints "test <name> ... " before the test's own output.
        assert!(!line.ends_with("finished"), "the child finished before it could be killed");
        if line.ends_with(&format!("reached {point}")) {
            reached = true;
            break;
        }
    }
    assert!(reached, "the child reached the kill point");
    child.kill().expect("SIGKILL mid-run");
    child.wait().expect("reap");

    // Started again, in this process, on the same data and keys.
    let portal = on_disk(data.path(), keys.path());
    let message: FetchMessage = serde_json::from_str(&message).expect("message");
    let (job, _) = extracts::load(&portal.registers, JIRI, &message.job_id).await.expect("load").expect("job");
    // The job is marked done (with its event) before the event is sent.
    let interrupted = if point == "blob" { JobStatus::Running } else { JobStatus::Done };
    assert_eq!(job.status, interrupted, "the kill interrupted the job");
    let before = drain_events(&portal, portal_events::DOCUMENTS_QUEUE).await;
    assert_eq!(before.len(), usize::from(point == "event"), "what the child had published");

    fetch_extract(&portal.registers, &message).await.expect("the run after the crash");
    fetch_extract(&portal.registers, &message).await.expect("and a redelivery");

    let after = drain_events(&portal, portal_events::DOCUMENTS_QUEUE).await;
    let filed: Vec<FiledDocument> =
        before.iter().chain(after.iter()).map(|e| e.data_as().expect("a FiledDocument")).collect();
    let ids: BTreeSet<&str> = filed.iter().map(|f| f.document_id.as_str()).collect();
    assert_eq!(ids, [format!("extract-{}", message.job_id).as_str()].into_iter().collect(), "one document id");
    let blobs = BlobStore::list(portal.store.as_ref(), "registers/").await.expect("list");
    assert_eq!(blobs.len(), 1, "one blob");
    let pdf = open_filed(&portal, JIRI, &filed[filed.len() - 1]).await;
    assert!(pdf.starts_with(b"%PDF-") && pdf.ends_with(b"%%EOF"), "the surviving blob is the whole sealed PDF");
    let (job, _) = extracts::load(&portal.registers, JIRI, &message.job_id).await.expect("load").expect("job");
    assert_eq!(job.status, JobStatus::Done);
}

fn child_mode() -> Option<(String, String, String, String)> {
    Some((
        std::env::var(CHILD_DATA).ok()?,
        std::env::var(CHILD_KEYS).ok()?,
        std::env::var(CHILD_MESSAGE).ok()?,
        std::env::var(CHILD_POINT).ok()?,
    ))
}

#[tokio::test]
async fn killed_after_the_blob_was_written_files_one_document() {
    if let Some((data, keys, message, point)) = child_mode() {
        return child(&data, &keys, &message, &point).await;
    }
    kill_at("blob", "killed_after_the_blob_was_written_files_one_document").await;
}

#[tokio::test]
async fn killed_after_the_document_event_was_sent_files_one_document() {
    if let Some((data, keys, message, point)) = child_mode() {
        return child(&data, &keys, &message, &point).await;
    }
    kill_at("event", "killed_after_the_document_event_was_sent_files_one_document").await;
}
