//! The embedded adapter: one SQLite database (WAL, `synchronous=FULL`) for
//! documents, blob properties and queues, plus a folder of blob files.
//!
//! This is the local default, not a mock: it passes the same conformance suite
//! as Cosmos DB and Azure Storage, and it is crash-safe. Every write is one SQLite
//! transaction, so a `kill -9` at any moment leaves either all of a batch or none
//! of it. Blob content is written to a temporary file, flushed, renamed into
//! place, and only then committed in SQLite; a crash before the commit leaves an
//! unreferenced file that [`DocumentStore::purge_expired`] removes later.

mod blobs;
mod documents;
mod queues;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use tokio::sync::Notify;

use crate::clock::Clock;
use crate::error::{StoreError, StoreResult};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS documents (
    collection TEXT NOT NULL,
    pk TEXT NOT NULL,
    id TEXT NOT NULL,
    body TEXT NOT NULL,
    etag TEXT NOT NULL,
    ttl_ms INTEGER,
    expires_at_ms INTEGER,
    PRIMARY KEY (collection, pk, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS documents_expiry ON documents (expires_at_ms) WHERE expires_at_ms IS NOT NULL;
CREATE TABLE IF NOT EXISTS blobs (
    path TEXT PRIMARY KEY,
    file TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    metadata TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS queues (name TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS messages (
    queue TEXT NOT NULL REFERENCES queues (name),
    id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    text TEXT NOT NULL,
    pop_receipt TEXT,
    dequeue_count INTEGER NOT NULL DEFAULT 0,
    inserted_at_ms INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL,
    visible_at_ms INTEGER NOT NULL,
    PRIMARY KEY (queue, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS messages_visible ON messages (queue, visible_at_ms, seq);
PRAGMA user_version = 1;
";

/// Documents, blobs and queues in one SQLite database and one folder.
#[derive(Debug, Clone)]
pub struct EmbeddedStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    conn: Mutex<Connection>,
    blob_dir: PathBuf,
    clock: Arc<dyn Clock>,
    /// Woken whenever a message is sent, so the local host need not poll hard.
    queue_activity: Arc<Notify>,
    /// Keeps the temporary folder of an in-memory store alive.
    _temp: Option<tempfile::TempDir>,
}

impl EmbeddedStore {
    /// Opens (or creates) the store in `dir`: `dir/portal.db` and `dir/blobs/`.
    pub fn open(dir: &Path, clock: Arc<dyn Clock>) -> StoreResult<Self> {
        std::fs::create_dir_all(dir).map_err(StoreError::backend)?;
        let conn = Connection::open(dir.join("portal.db")).map_err(sql_error)?;
        Self::build(conn, dir.join("blobs"), clock, None)
    }

    /// A throwaway store: SQLite in memory and blobs in a temporary folder that
    /// is removed when the store is dropped.
    pub fn in_memory(clock: Arc<dyn Clock>) -> StoreResult<Self> {
        let temp = tempfile::Builder::new().prefix("portal-").tempdir().map_err(StoreError::backend)?;
        let conn = Connection::open_in_memory().map_err(sql_error)?;
        let blob_dir = temp.path().join("blobs");
        Self::build(conn, blob_dir, clock, Some(temp))
    }

    fn build(
        conn: Connection,
        blob_dir: PathBuf,
        clock: Arc<dyn Clock>,
        temp: Option<tempfile::TempDir>,
    ) -> StoreResult<Self> {
        conn.pragma_update(None, "journal_mode", "WAL").map_err(sql_error)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(sql_error)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(sql_error)?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(sql_error)?;
        conn.execute_batch(SCHEMA).map_err(sql_error)?;
        for sub in ["tmp", "data"] {
            std::fs::create_dir_all(blob_dir.join(sub)).map_err(StoreError::backend)?;
        }
        Ok(Self {
            inner: Arc::new(Inner {
                conn: Mutex::new(conn),
                blob_dir,
                clock,
                queue_activity: Arc::new(Notify::new()),
                _temp: temp,
            }),
        })
    }

    /// Notified after every `send`, for consumers that wait for work.
    pub fn queue_activity(&self) -> Arc<Notify> {
        Arc::clone(&self.inner.queue_activity)
    }

    fn now_ms(&self) -> i64 {
        let now = self.inner.clock.now();
        i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
    }

    /// Runs `f` on the connection on the blocking pool.
    async fn with_conn<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        let result = tokio::task::spawn_blocking(move || {
            let mut conn = inner.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            f(&mut conn)
        })
        .await
        .map_err(StoreError::backend)
        .and_then(|result| result);
        // Back on the calling task, inside the call's span.
        if let Err(error) = &result {
            crate::telemetry::record_error(error_code(error), error);
        }
        result
    }
}

/// A result code for a failed embedded call (there is no status to report).
fn error_code(error: &StoreError) -> &'static str {
    match error {
        StoreError::NotFound => "NotFound",
        StoreError::Conflict => "Conflict",
        StoreError::PreconditionFailed => "PreconditionFailed",
        StoreError::Throttled { .. } => "Throttled",
        StoreError::Invalid(_) => "Invalid",
        StoreError::Unavailable(_) => "Unavailable",
        StoreError::Backend(_) => "Error",
    }
}

pub(crate) fn sql_error(error: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode;
    match error.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::unavailable(error),
        _ => StoreError::backend(error),
    }
}

fn new_etag() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}
