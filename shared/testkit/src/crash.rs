//! Crash tests by SIGKILL at a chosen point, with no timing involved.
//!
//! The test re-executes its own binary as a child ([`kill_child_at`]). The
//! child ([`ChildRun::from_env`] says it is one) runs the work on a store in
//! the folders the parent gave it, with [`HaltingBlobs`] or [`HaltingQueues`]
//! in place of a store: at the chosen point they [`halt`], which reports on
//! stdout and then waits forever, so the parent kills the child exactly
//! there. The parent then runs the work again on the same data and keys.

use std::collections::BTreeMap;
use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use portal_store::embedded::EmbeddedStore;
use portal_store::{
    BlobInfo, BlobPath, BlobStore, BlobStream, PutMode, QueueName, QueueStore, ReceivedMessage, StoreResult,
};

const CHILD_DATA: &str = "PORTAL_TESTKIT_CHILD_DATA";
const CHILD_KEYS: &str = "PORTAL_TESTKIT_CHILD_KEYS";
const CHILD_MESSAGE: &str = "PORTAL_TESTKIT_CHILD_MESSAGE";
const CHILD_POINT: &str = "PORTAL_TESTKIT_CHILD_POINT";

/// Stops the child forever, after saying where (`reached {point}`).
pub async fn halt(point: &str) -> ! {
    println!("reached {point}");
    std::future::pending::<()>().await;
    unreachable!("pending never completes")
}

/// A blob store that halts at `blob` once a blob is written.
#[derive(Debug)]
pub struct HaltingBlobs(pub Arc<EmbeddedStore>);

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

/// A queue store that halts at `event` once a message is sent to `queue`.
#[derive(Debug)]
pub struct HaltingQueues {
    pub store: Arc<EmbeddedStore>,
    pub queue: &'static str,
}

#[async_trait::async_trait]
impl QueueStore for HaltingQueues {
    async fn ensure(&self, queue: &QueueName) -> StoreResult<()> {
        self.store.ensure(queue).await
    }
    async fn send(&self, queue: &QueueName, text: &str, delay: Option<Duration>) -> StoreResult<String> {
        let id = self.store.send(queue, text, delay).await?;
        if queue.as_str() == self.queue {
            halt("event").await
        }
        Ok(id)
    }
    async fn receive(&self, queue: &QueueName, max: u32, visibility: Duration) -> StoreResult<Vec<ReceivedMessage>> {
        self.store.receive(queue, max, visibility).await
    }
    async fn release(&self, queue: &QueueName, id: &str, pop_receipt: &str, delay: Duration) -> StoreResult<String> {
        self.store.release(queue, id, pop_receipt, delay).await
    }
    async fn delete(&self, queue: &QueueName, id: &str, pop_receipt: &str) -> StoreResult<()> {
        QueueStore::delete(self.store.as_ref(), queue, id, pop_receipt).await
    }
    async fn approximate_count(&self, queue: &QueueName) -> StoreResult<u64> {
        self.store.approximate_count(queue).await
    }
    async fn list_queues(&self) -> StoreResult<Vec<QueueName>> {
        self.store.list_queues().await
    }
    async fn ping(&self) -> StoreResult<()> {
        QueueStore::ping(self.store.as_ref()).await
    }
}

/// What the parent gave the child: the store's folder, the key folder, a
/// message of the test's own (empty if it has none) and the kill point.
#[derive(Debug, Clone)]
pub struct ChildRun {
    pub data: PathBuf,
    pub keys: PathBuf,
    pub message: String,
    pub point: String,
}

impl ChildRun {
    /// `Some` when this process is a child that [`kill_child_at`] started.
    pub fn from_env() -> Option<Self> {
        Some(Self {
            data: std::env::var_os(CHILD_DATA)?.into(),
            keys: std::env::var_os(CHILD_KEYS)?.into(),
            message: std::env::var(CHILD_MESSAGE).ok()?,
            point: std::env::var(CHILD_POINT).ok()?,
        })
    }
}

/// Runs the test `test_name` of this test binary again as a child on `data`,
/// `keys` and `message`, reads its stdout until it says `reached {point}`,
/// kills it there (SIGKILL) and reaps it; the lines it printed, the last
/// one saying where it halted. Fails the test if the child finishes, or
/// ends without reaching the point.
pub fn kill_child_at(test_name: &str, data: &Path, keys: &Path, message: &str, point: &str) -> Vec<String> {
    let mut child = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([test_name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_DATA, data)
        .env(CHILD_KEYS, keys)
        .env(CHILD_MESSAGE, message)
        .env(CHILD_POINT, point)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn the child");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = Vec::new();
    let mut reached = false;
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.expect("read");
        // libtest prints "test <name> ... " before the test's own output.
        assert!(!line.ends_with("finished"), "the child finished before it could be killed");
        reached = line.ends_with(&format!("reached {point}"));
        lines.push(line);
        if reached {
            break;
        }
    }
    assert!(reached, "the child reached the kill point");
    child.kill().expect("SIGKILL mid-run");
    child.wait().expect("reap");
    lines
}
