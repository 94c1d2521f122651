//! The embedded adapter against the shared conformance suite, plus what only
//! the embedded adapter promises: data survives a reopen and a `kill -9`.

use std::sync::Arc;
use std::time::Duration;

use portal_store::embedded::EmbeddedStore;
use portal_store::{Clock, DocumentStore, ManualClock, NewDocument, Query, QueueName, QueueStore, conformance};
use serde_json::json;
use time::macros::datetime;

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(datetime!(2026-11-23 08:00 UTC)))
}

#[tokio::test]
async fn documents_conform_in_memory() {
    let clock = clock();
    let store = EmbeddedStore::in_memory(clock.clone()).expect("open");
    conformance::documents::run_all(Arc::new(store), clock, "conformance").await;
}

#[tokio::test]
async fn documents_conform_on_disk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = clock();
    let store = EmbeddedStore::open(dir.path(), clock.clone()).expect("open");
    conformance::documents::run_all(Arc::new(store), clock, "conformance").await;
}

#[tokio::test]
async fn blobs_conform() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = EmbeddedStore::open(dir.path(), clock()).expect("open");
    conformance::blobs::run_all(Arc::new(store)).await;
}

#[tokio::test]
async fn queues_conform() {
    let store = EmbeddedStore::in_memory(clock()).expect("open");
    conformance::queues::run_all(Arc::new(store)).await;
}

#[tokio::test]
async fn an_expired_lease_makes_the_message_visible_again() {
    let clock = clock();
    let store = EmbeddedStore::in_memory(clock.clone()).expect("open");
    let queue = QueueName::parse("lease-test").expect("name");
    store.ensure(&queue).await.expect("ensure");
    store.send(&queue, "m", None).await.expect("send");
    let first = store.receive(&queue, 1, Duration::from_secs(30)).await.expect("receive");
    assert_eq!(first.len(), 1);
    clock.advance(Duration::from_secs(29));
    assert!(store.receive(&queue, 1, Duration::from_secs(30)).await.expect("receive").is_empty(), "lease still held");
    clock.advance(Duration::from_secs(2));
    let second = store.receive(&queue, 1, Duration::from_secs(30)).await.expect("receive");
    assert_eq!(second.first().map(|m| m.dequeue_count), Some(2), "redelivered after the lease ran out");
    clock.advance(Duration::from_secs(8 * 24 * 3600));
    let purged = store.purge_expired().await.expect("purge");
    assert_eq!(purged, 1, "a message past its time to live is purged");
}

#[tokio::test]
async fn data_survives_reopening() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock: Arc<dyn Clock> = clock();
    {
        let store = EmbeddedStore::open(dir.path(), clock.clone()).expect("open");
        store.create("c", NewDocument::new("p", "a", json!({"v": 1}))).await.expect("create");
    }
    let store = EmbeddedStore::open(dir.path(), clock).expect("reopen");
    let got = store.get("c", "p", "a").await.expect("get").expect("still there");
    assert_eq!(got.body, json!({"v": 1}));
}

/// Child mode of [`batches_survive_kill_9`]: writes numbered batches of ten
/// documents forever, printing each committed batch number.
fn crash_writer(dir: &str) -> ! {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let store = EmbeddedStore::open(std::path::Path::new(dir), Arc::new(portal_store::SystemClock)).expect("open");
        for batch in 0_u64.. {
            let ops = (0..10)
                .map(|i| {
                    portal_store::BatchOp::Create(NewDocument::new(
                        "crash",
                        format!("b{batch:06}-{i}"),
                        json!({"batch": batch}),
                    ))
                })
                .collect();
            store.batch("c", "crash", ops).await.expect("batch");
            println!("committed {batch}");
        }
    });
    unreachable!("the writer loops until it is killed")
}

#[test]
fn batches_survive_kill_9() {
    use std::io::BufRead as _;

    if let Ok(dir) = std::env::var("PORTAL_CRASH_WRITER_DIR") {
        crash_writer(&dir);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args(["batches_survive_kill_9", "--exact", "--nocapture", "--test-threads=1"])
        .env("PORTAL_CRASH_WRITER_DIR", dir.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn writer");
    let stdout = child.stdout.take().expect("stdout");
    let mut last_committed = None;
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.expect("read");
        if let Some(n) = line.strip_prefix("committed ") {
            let n: u64 = n.parse().expect("number");
            last_committed = Some(n);
            if n >= 40 {
                break;
            }
        }
    }
    child.kill().expect("SIGKILL the writer mid-write");
    child.wait().expect("reap");
    let last_committed = last_committed.expect("the writer committed batches");

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let store = EmbeddedStore::open(dir.path(), Arc::new(portal_store::SystemClock)).expect("reopen after kill");
        let mut counts = std::collections::BTreeMap::<u64, usize>::new();
        let mut continuation = None;
        loop {
            let page = store
                .query("c", "crash", Query::default().page_size(1000).after(continuation.take()))
                .await
                .expect("query");
            for doc in &page.items {
                *counts.entry(doc.body["batch"].as_u64().expect("batch number")).or_default() += 1;
            }
            match page.continuation {
                Some(token) => continuation = Some(token),
                None => break,
            }
        }
        for (batch, count) in &counts {
            assert_eq!(*count, 10, "batch {batch} is whole, not half-written");
        }
        for batch in 0..=last_committed {
            assert_eq!(counts.get(&batch), Some(&10), "committed batch {batch} survived the kill");
        }
        let highest = counts.keys().max().copied().unwrap_or(0);
        assert!(highest <= last_committed + 1, "at most one batch committed after the last report");
    });
}
