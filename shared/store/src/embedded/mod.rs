//! The embedded adapter: one SQLite database (WAL, `synchronous=FULL`) for
//! documents, blob properties and queues, plus a folder of blob files.
//!
//! This is the local default, not a mock: it passes the same conformance suite
//! as Cosmos DB and Azure Storage, and it is crash-safe.
//!
//! The engine: one writer thread owns the only write connection and commits
//! the writes waiting at each moment together, one transaction and one fsync
//! per group (`writer.rs`); each write runs in its own savepoint, so a batch is
//! still all or nothing, and its caller hears back only once the group is
//! durable. Reads go to a pool of read connections (`readers.rs`) and never wait
//! for the writer. A `kill -9` at any moment leaves each write whole or absent.
//! Blob content is written to a temporary file, flushed, renamed into place,
//! and only then committed in SQLite; a crash before the commit leaves an
//! unreferenced file that [`DocumentStore::purge_expired`] removes later.
//!
//! [`DocumentStore::purge_expired`]: crate::DocumentStore::purge_expired

mod blobs;
mod checkpoints;
mod documents;
mod filter_index;
mod queues;
mod readers;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::Connection;
use tokio::sync::Notify;

use crate::clock::Clock;
use crate::error::{StoreError, StoreResult};

/// The blob table, named: a rowid table, so a row of a few KB (a small blob
/// kept inline, `blobs.rs`) lives in its leaf page, and rows are appended in
/// the order they are written. (As a `WITHOUT ROWID` table, where a row may
/// keep only about a quarter of a 4 KiB page locally, every inline blob over
/// about 1 KB spilled into an overflow page of its own, half of it empty.)
macro_rules! blobs_table {
    ($name:literal) => {
        concat!(
            "CREATE TABLE IF NOT EXISTS ",
            $name,
            " (
    path TEXT NOT NULL UNIQUE,
    file TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    metadata TEXT NOT NULL,
    content BLOB
);"
        )
    };
}

/// The document table, named: a rowid table whose key `(collection, pk, id)`
/// is a unique index beside it. Documents are JSON of a few hundred bytes to
/// a few KB, and a `WITHOUT ROWID` table keeps whole rows in its inner pages
/// too (its key is the row): at 8 KiB pages an inner page held about six
/// archived messages' documents, so the tree was deep and an insert into one
/// citizen's partition rewrote inner pages as well as its leaf. As a rowid
/// table, rows are appended in the order they are written, the key index's
/// entries are a few dozen bytes, and the archive bench wrote 27 % fewer
/// bytes (`docs/benchmarks.md`, session 15). SQLite's own advice is the same:
/// `WITHOUT ROWID` suits rows under about a twentieth of a page.
macro_rules! documents_table {
    ($name:literal) => {
        concat!(
            "CREATE TABLE IF NOT EXISTS ",
            $name,
            " (
    collection TEXT NOT NULL,
    pk TEXT NOT NULL,
    id TEXT NOT NULL,
    body TEXT NOT NULL,
    etag TEXT NOT NULL,
    ttl_ms INTEGER,
    expires_at_ms INTEGER,
    PRIMARY KEY (collection, pk, id)
);"
        )
    };
}

const SCHEMA: &str = concat!(
    documents_table!("documents"),
    "
CREATE INDEX IF NOT EXISTS documents_expiry ON documents (expires_at_ms) WHERE expires_at_ms IS NOT NULL;
",
    blobs_table!("blobs"),
    "
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
CREATE INDEX IF NOT EXISTS messages_seq ON messages (seq);
"
);

/// Bytes in a page of a new database (SQLite's default is 4,096). A row of a
/// `WITHOUT ROWID` table keeps at most about a quarter of a page in the page
/// itself and spills the rest into overflow pages of its own: at 4 KiB a
/// sealed document of just over 1 KB took a second page, mostly empty, and
/// 100,000 archived messages made a file three times their size. At 8 KiB a
/// document of up to about 2 KB stays in its leaf, and two 2.7 KB sealed blobs
/// share a page of the (rowid) blob table. 16 KiB packed tighter but made each
/// group commit write more to the WAL, and the archive slower. SQLite sets the
/// size when it creates the database; an older database keeps its own. (Those
/// measurements were made while documents were a `WITHOUT ROWID` table; as a
/// rowid table, a row keeps nearly a whole page locally at any page size, and
/// 4 KiB has not been measured again since.)
const PAGE_SIZE: i64 = 8 * 1024;

/// Schema changes for a database an earlier version created, in order; the
/// database's `user_version` says how many it has. Each runs in the
/// transaction that raises the version, so it is applied whole or not at all.
const MIGRATIONS: &[&str] = &[
    // 1: the schema above as first released.
    "",
    // 2: small blobs inline (`blobs.content`), see `blobs.rs`.
    "ALTER TABLE blobs ADD COLUMN content BLOB",
    // 3: a send numbers its message after the highest `seq` in one index step,
    // not by scanning every waiting message (a backlog made sends O(n)).
    "CREATE INDEX IF NOT EXISTS messages_seq ON messages (seq)",
    // 4: the blob table becomes a rowid table (see `blobs_table!`), rows copied.
    concat!(
        blobs_table!("blobs_v4"),
        "INSERT INTO blobs_v4 (path, file, content_type, size, etag, metadata, content)
           SELECT path, file, content_type, size, etag, metadata, content FROM blobs;
         DROP TABLE blobs;
         ALTER TABLE blobs_v4 RENAME TO blobs"
    ),
    // 5: the document table becomes a rowid table (see `documents_table!`),
    // rows copied. Dropping the old table drops its indexes: the expiry index
    // is made again here, and a collection's filter index when the capability
    // declares it at start (`index_filters`, `CREATE INDEX IF NOT EXISTS`).
    concat!(
        documents_table!("documents_v5"),
        "INSERT INTO documents_v5 (collection, pk, id, body, etag, ttl_ms, expires_at_ms)
           SELECT collection, pk, id, body, etag, ttl_ms, expires_at_ms FROM documents;
         DROP TABLE documents;
         ALTER TABLE documents_v5 RENAME TO documents;
         CREATE INDEX IF NOT EXISTS documents_expiry ON documents (expires_at_ms) WHERE expires_at_ms IS NOT NULL"
    ),
];

/// Creates the schema in a new database or brings an older one up to date.
fn migrate(conn: &Connection) -> StoreResult<()> {
    let version: usize = conn.query_row("PRAGMA user_version", [], |row| row.get(0)).map_err(sql_error)?;
    let created = conn
        .query_row("SELECT count(*) FROM sqlite_master WHERE name = 'documents'", [], |row| row.get::<_, i64>(0))
        .map_err(sql_error)?
        > 0;
    let mut batch = String::from("BEGIN IMMEDIATE;");
    if created {
        // A database from before `user_version` was kept counts as version 1.
        for migration in MIGRATIONS.iter().skip(version.max(1)) {
            batch.push_str(migration);
            batch.push(';');
        }
    } else {
        batch.push_str(SCHEMA);
    }
    batch.push_str(&format!("PRAGMA user_version = {};COMMIT;", MIGRATIONS.len()));
    conn.execute_batch(&batch).map_err(sql_error)
}

/// Documents, blobs and queues in one SQLite database and one folder.
#[derive(Debug, Clone)]
pub struct EmbeddedStore {
    inner: Arc<Inner>,
}

/// Fields drop in order: the writer finishes and closes first, the temporary
/// folder of a throwaway store goes last.
#[derive(Debug)]
struct Inner {
    writer: writer::Writer,
    readers: readers::Readers,
    blob_dir: PathBuf,
    clock: Arc<dyn Clock>,
    /// Woken whenever a message is sent, so the local host need not poll hard.
    queue_activity: Arc<Notify>,
    /// The filter indexes declared in this process.
    filter_indexes: filter_index::FilterIndexes,
    /// Checkpoints run so far (beside the writer or, failing that, by it).
    #[cfg(test)]
    checkpoints: Arc<checkpoints::Counts>,
    /// Keeps the temporary folder of a throwaway store alive.
    _temp: Option<tempfile::TempDir>,
}

/// Whether commits wait for the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Durability {
    /// `synchronous=FULL`: a commit is on the disk before anyone hears of it.
    Full,
    /// `synchronous=OFF`, for throwaway stores whose file dies with them.
    Off,
}

/// Read connections: enough for every worker thread to read at once and a few
/// more, not so many that idle ones cost memory (each keeps its own cache).
fn reader_count() -> usize {
    std::thread::available_parallelism().map_or(4, |n| n.get().saturating_mul(2).clamp(4, 16))
}

impl EmbeddedStore {
    /// Opens (or creates) the store in `dir`: `dir/portal.db` and `dir/blobs/`.
    pub fn open(dir: &Path, clock: Arc<dyn Clock>) -> StoreResult<Self> {
        std::fs::create_dir_all(dir).map_err(StoreError::backend)?;
        Self::build(dir, Durability::Full, clock, None)
    }

    /// A throwaway store in a temporary folder that is removed when the store
    /// is dropped. It runs the same engine as [`EmbeddedStore::open`] (a file,
    /// the writer and the read pool), only its commits do not wait for the disk:
    /// nothing in it outlives the process anyway.
    pub fn in_memory(clock: Arc<dyn Clock>) -> StoreResult<Self> {
        let temp = tempfile::Builder::new().prefix("portal-").tempdir().map_err(StoreError::backend)?;
        let dir = temp.path().to_owned();
        Self::build(&dir, Durability::Off, clock, Some(temp))
    }

    fn build(
        dir: &Path,
        durability: Durability,
        clock: Arc<dyn Clock>,
        temp: Option<tempfile::TempDir>,
    ) -> StoreResult<Self> {
        let (database, blob_dir) = (dir.join("portal.db"), dir.join("blobs"));
        let conn = Connection::open(&database).map_err(sql_error)?;
        conn.pragma_update(None, "page_size", PAGE_SIZE).map_err(sql_error)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(sql_error)?;
        let synchronous = match durability {
            Durability::Full => "FULL",
            Durability::Off => "OFF",
        };
        conn.pragma_update(None, "synchronous", synchronous).map_err(sql_error)?;
        // Each write of a group runs in a savepoint, whose statement journal
        // keeps the pages it changes until it is released. SQLite spills that
        // journal into a temporary file once it passes 64 KiB, so a group of a
        // few dozen writes created, wrote, and deleted a file in /var/tmp
        // (279 files in 984 commits of the signature bench). In memory it is
        // a copy of each page; it never had to survive a crash (the WAL does).
        conn.pragma_update(None, "temp_store", "MEMORY").map_err(sql_error)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(sql_error)?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(sql_error)?;
        conn.set_prepared_statement_cache_capacity(readers::STATEMENT_CACHE);
        migrate(&conn)?;
        for sub in ["tmp", "data"] {
            std::fs::create_dir_all(blob_dir.join(sub)).map_err(StoreError::backend)?;
        }
        let readers = readers::Readers::open(&database, reader_count())?;
        let checkpoints = Arc::new(checkpoints::Counts::default());
        let checkpointer = checkpoints::Checkpointer::start(
            checkpoints::connection(&database, synchronous)?,
            Arc::clone(&checkpoints),
        )?;
        Ok(Self {
            inner: Arc::new(Inner {
                writer: writer::Writer::start(conn, checkpointer)?,
                #[cfg(test)]
                checkpoints,
                readers,
                blob_dir,
                clock,
                queue_activity: Arc::new(Notify::new()),
                filter_indexes: filter_index::FilterIndexes::default(),
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

    /// Runs `read` on a read connection, on the calling task.
    async fn read<T>(&self, read: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let result = self.inner.readers.read(read).await;
        record(&result);
        result
    }

    /// Runs `write` in the writer's next group commit; answers once that commit
    /// is durable. `write` runs inside a savepoint: an error undoes all of it
    /// and nothing else.
    async fn write<T, F>(&self, write: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        self.write_undone(write, writer::Undo::Savepoint).await
    }

    /// [`EmbeddedStore::write`], undone as `undo` says if it fails.
    async fn write_undone<T, F>(&self, write: F, undo: writer::Undo) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let result = self.inner.writer.write(write, undo).await;
        record(&result);
        result
    }
}

/// Records a failure on the call's span (we are back on the calling task).
fn record<T>(result: &StoreResult<T>) {
    if let Err(error) = result {
        crate::telemetry::record_error(error_code(error), error);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The writer's savepoints keep their statement journals in memory
    /// (`temp_store = MEMORY`, 2), never in a temporary file.
    #[tokio::test]
    async fn the_writer_keeps_its_statement_journals_in_memory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = EmbeddedStore::open(dir.path(), Arc::new(crate::SystemClock)).expect("store");
        let temp_store: i64 = store
            .write(|conn| conn.query_row("PRAGMA temp_store", [], |row| row.get(0)).map_err(sql_error))
            .await
            .expect("pragma");
        assert_eq!(temp_store, 2);
    }

    /// Past the WAL's limit the checkpointer's thread copies it back, not the
    /// writer's, and everything written is still there after a reopen.
    #[tokio::test]
    async fn the_wal_is_copied_back_beside_the_writer() {
        use crate::document::{BatchOp, DocumentStore, NewDocument};
        use std::sync::atomic::Ordering;
        let dir = tempfile::tempdir().expect("tempdir");
        let store = EmbeddedStore::open(dir.path(), Arc::new(crate::SystemClock)).expect("store");
        let text = "x".repeat(1500);
        let limit =
            u64::try_from(checkpoints::WAL_CHECKPOINT_PAGES).expect("pages") * u64::try_from(PAGE_SIZE).expect("size");
        let mut written = 0;
        let mut batch = 0;
        // Three times the limit, 100 documents to a commit.
        while written < 3 * limit {
            let ops = (0..100)
                .map(|i| {
                    BatchOp::Create(NewDocument::new("p", format!("d{batch}-{i}"), serde_json::json!({"text": text})))
                })
                .collect();
            store.batch("c", "p", ops).await.expect("batch");
            written += 100 * 1500;
            batch += 1;
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while store.inner.checkpoints.beside.load(Ordering::Relaxed) == 0 {
            assert!(std::time::Instant::now() < deadline, "no checkpoint ran beside the writer");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(store.inner.checkpoints.by_writer.load(Ordering::Relaxed), 0, "the writer never checkpointed");
        drop(store);
        let store = EmbeddedStore::open(dir.path(), Arc::new(crate::SystemClock)).expect("reopened");
        let stored: u64 = store
            .read(|conn| conn.query_row("SELECT count(*) FROM documents", [], |row| row.get(0)).map_err(sql_error))
            .await
            .expect("count");
        assert_eq!(stored, written / 1500, "every document is there");
    }
}
