//! Passing faults on purpose, around the real parts: [`FaultyDocuments`]
//! wraps a document store and [`FaultyKeys`] a key wrapper; each fails the
//! calls a test names, a given number of times, with the fault a throttled
//! Cosmos DB or an unreachable Key Vault gives, and passes everything else
//! through untouched. Tests use them to show a passing fault is retried,
//! never dropped.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use async_trait::async_trait;
use portal_crypto::{DataKey, KeyWrapper, WrapError, WrappedKey};
use portal_store::{
    BatchOp, BatchResult, Document, DocumentStore, ETag, NewDocument, Page, Query, StoreError, StoreResult,
};

/// A document-store operation, as [`FaultyDocuments`] rules see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Get,
    Create,
    Replace,
    Upsert,
    Delete,
    Query,
    Batch,
}

/// One call: its operation, collection and (for single documents) id.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    pub op: Op,
    pub collection: &'a str,
    pub id: Option<&'a str>,
}

type Matcher = Box<dyn Fn(&Call<'_>) -> bool + Send + Sync>;

struct Rule {
    matches: Matcher,
    /// Matching calls to let through before failing.
    skip: usize,
    /// Matching calls still to fail.
    times: usize,
}

/// A document store that fails chosen calls with `StoreError::Unavailable`,
/// and whose point reads can be made to take a turn.
pub struct FaultyDocuments {
    inner: Arc<dyn DocumentStore>,
    rules: Mutex<Vec<Rule>>,
    failed: AtomicUsize,
    reads_take_a_turn: AtomicBool,
}

impl std::fmt::Debug for FaultyDocuments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultyDocuments").field("failed", &self.failed.load(Ordering::SeqCst)).finish_non_exhaustive()
    }
}

impl FaultyDocuments {
    pub fn new(inner: Arc<dyn DocumentStore>) -> Self {
        Self {
            inner,
            rules: Mutex::new(Vec::new()),
            failed: AtomicUsize::new(0),
            reads_take_a_turn: AtomicBool::new(false),
        }
    }

    /// From now on each `get` yields once to the scheduler before it answers,
    /// as a network store's reads do, so requests joined in one task
    /// interleave around their reads (the embedded store answers a read
    /// without ever yielding).
    pub fn reads_take_a_turn(&self) {
        self.reads_take_a_turn.store(true, Ordering::SeqCst);
    }

    /// After `skip` matching calls pass, the next `times` matching calls fail.
    pub fn fail(&self, skip: usize, times: usize, matches: impl Fn(&Call<'_>) -> bool + Send + Sync + 'static) {
        self.rules.lock().unwrap_or_else(|p| p.into_inner()).push(Rule { matches: Box::new(matches), skip, times });
    }

    /// How many calls failed on purpose so far.
    pub fn failed(&self) -> usize {
        self.failed.load(Ordering::SeqCst)
    }

    fn check(&self, call: Call<'_>) -> StoreResult<()> {
        let mut rules = self.rules.lock().unwrap_or_else(|p| p.into_inner());
        for rule in rules.iter_mut() {
            if rule.times == 0 || !(rule.matches)(&call) {
                continue;
            }
            if rule.skip > 0 {
                rule.skip -= 1;
                continue;
            }
            rule.times -= 1;
            self.failed.fetch_add(1, Ordering::SeqCst);
            return Err(StoreError::Unavailable(
                format!("injected fault: {:?} {} {:?}", call.op, call.collection, call.id).into(),
            ));
        }
        Ok(())
    }
}

#[async_trait]
impl DocumentStore for FaultyDocuments {
    async fn get(&self, collection: &str, partition: &str, id: &str) -> StoreResult<Option<Document>> {
        if self.reads_take_a_turn.load(Ordering::SeqCst) {
            take_a_turn().await;
        }
        self.check(Call { op: Op::Get, collection, id: Some(id) })?;
        self.inner.get(collection, partition, id).await
    }
    async fn create(&self, collection: &str, doc: NewDocument) -> StoreResult<ETag> {
        self.check(Call { op: Op::Create, collection, id: Some(&doc.id) })?;
        self.inner.create(collection, doc).await
    }
    async fn replace(&self, collection: &str, doc: NewDocument, if_match: &ETag) -> StoreResult<ETag> {
        self.check(Call { op: Op::Replace, collection, id: Some(&doc.id) })?;
        self.inner.replace(collection, doc, if_match).await
    }
    async fn upsert(&self, collection: &str, doc: NewDocument, if_match: Option<&ETag>) -> StoreResult<ETag> {
        self.check(Call { op: Op::Upsert, collection, id: Some(&doc.id) })?;
        self.inner.upsert(collection, doc, if_match).await
    }
    async fn delete(&self, collection: &str, partition: &str, id: &str, if_match: Option<&ETag>) -> StoreResult<()> {
        self.check(Call { op: Op::Delete, collection, id: Some(id) })?;
        self.inner.delete(collection, partition, id, if_match).await
    }
    async fn query(&self, collection: &str, partition: &str, query: Query) -> StoreResult<Page> {
        self.check(Call { op: Op::Query, collection, id: None })?;
        self.inner.query(collection, partition, query).await
    }
    async fn batch(&self, collection: &str, partition: &str, ops: Vec<BatchOp>) -> StoreResult<BatchResult> {
        self.check(Call { op: Op::Batch, collection, id: None })?;
        self.inner.batch(collection, partition, ops).await
    }
    async fn purge_expired(&self) -> StoreResult<u64> {
        self.inner.purge_expired().await
    }
    async fn ping(&self) -> StoreResult<()> {
        self.inner.ping().await
    }
}

/// Pending once (waking itself), then done: a turn for the other tasks.
async fn take_a_turn() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            return std::task::Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    })
    .await;
}

/// A key wrapper (the local key file, or Key Vault) whose next wraps and
/// unwraps fail with `WrapError::Unavailable` while it is [`down`](Self::down).
#[derive(Debug)]
pub struct FaultyKeys {
    inner: Arc<dyn KeyWrapper>,
    failures: AtomicUsize,
}

impl FaultyKeys {
    pub fn new(inner: Arc<dyn KeyWrapper>) -> Self {
        Self { inner, failures: AtomicUsize::new(0) }
    }

    /// The next `times` calls to the key service fail.
    pub fn down(&self, times: usize) {
        self.failures.store(times, Ordering::SeqCst);
    }

    /// How many injected failures are still to come.
    pub fn pending(&self) -> usize {
        self.failures.load(Ordering::SeqCst)
    }

    fn check(&self) -> Result<(), WrapError> {
        let take = self.failures.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        if take.is_ok() {
            Err(WrapError::Unavailable("injected fault: the key service is unavailable".into()))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl KeyWrapper for FaultyKeys {
    fn kek_id(&self) -> &str {
        self.inner.kek_id()
    }
    async fn current_version(&self) -> Result<String, WrapError> {
        self.check()?;
        self.inner.current_version().await
    }
    async fn wrap(&self, key: &DataKey) -> Result<WrappedKey, WrapError> {
        self.check()?;
        self.inner.wrap(key).await
    }
    async fn unwrap(&self, wrapped: &WrappedKey) -> Result<DataKey, WrapError> {
        self.check()?;
        self.inner.unwrap(wrapped).await
    }
}
