//! Killing `FetchExtract` mid-run (SIGKILL of a child process) and running
//! it again files exactly one document: one blob, one document id.
//!
//! The test re-executes its own binary as the child. The child runs
//! `FetchExtract` with a store wrapper that, at the chosen point, reports on
//! stdout and then waits forever, so the parent kills it exactly there
//! (no timing involved): after the sealed PDF's blob is written, or after
//! the event to Documents is sent.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use axum::http::Method;
use common::*;
use portal_events::FiledDocument;
use portal_registers::RegistersSettings;
use portal_registers::extracts::{self, FetchMessage, JobStatus};
use portal_registers::queue::fetch_extract::fetch_extract;
use portal_store::BlobStore;
use portal_testkit::crash::{ChildRun, HaltingBlobs, HaltingQueues, kill_child_at};
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

/// Child mode: one `FetchExtract` that halts at the point.
async fn child(run: ChildRun) {
    let mut portal = on_disk(&run.data, &run.keys);
    match run.point.as_str() {
        "blob" => portal.registers.blobs = Arc::new(HaltingBlobs(portal.store.clone())),
        _ => {
            portal.registers.queues =
                Arc::new(HaltingQueues { store: portal.store.clone(), queue: portal_events::DOCUMENTS_QUEUE })
        }
    }
    let message: FetchMessage = serde_json::from_str(&run.message).expect("message");
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

    kill_child_at(test_name, data.path(), keys.path(), &message, point);

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

#[tokio::test]
async fn killed_after_the_blob_was_written_files_one_document() {
    if let Some(run) = ChildRun::from_env() {
        return child(run).await;
    }
    kill_at("blob", "killed_after_the_blob_was_written_files_one_document").await;
}

#[tokio::test]
async fn killed_after_the_document_event_was_sent_files_one_document() {
    if let Some(run) = ChildRun::from_env() {
        return child(run).await;
    }
    kill_at("event", "killed_after_the_document_event_was_sent_files_one_document").await;
}
