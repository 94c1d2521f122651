//! Read connections: a small pool beside the writer. In WAL mode each read sees
//! the last commit made before it started and never waits for the writer, so
//! reads run in parallel with each other and with a group commit.
//!
//! A read runs on the calling task, not on the blocking pool: a point read or a
//! page of a partition takes microseconds, less than the two thread hand-offs a
//! trip to the blocking pool would cost.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OpenFlags};
use tokio::sync::Semaphore;

use super::sql_error;
use crate::error::{StoreError, StoreResult};

/// Prepared statements each connection keeps (the queries differ by filters
/// and order, so more than rusqlite's default of 16).
pub(super) const STATEMENT_CACHE: usize = 64;

#[derive(Debug)]
pub(super) struct Readers {
    idle: Mutex<Vec<Connection>>,
    /// One permit per idle connection, so a read waits (asynchronously) only
    /// when every connection is busy.
    permits: Semaphore,
}

impl Readers {
    /// Opens `count` read-only connections to the database the writer created.
    pub(super) fn open(path: &Path, count: usize) -> StoreResult<Self> {
        let connections = (0..count)
            .map(|_| {
                let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
                let conn = Connection::open_with_flags(path, flags).map_err(sql_error)?;
                // Writable file, read-only connection: a read-only open would
                // need the WAL index to exist already.
                conn.pragma_update(None, "query_only", "ON").map_err(sql_error)?;
                conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(sql_error)?;
                conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
                Ok(conn)
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Self { idle: Mutex::new(connections), permits: Semaphore::new(count) })
    }

    /// Runs `read` on an idle connection.
    pub(super) async fn read<T>(&self, read: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let _permit = self.permits.acquire().await.map_err(StoreError::unavailable)?;
        let conn = self.lock().pop().ok_or_else(|| StoreError::Invalid("no idle read connection".into()))?;
        let lease = Lease { readers: self, conn: Some(conn) };
        read(lease.conn.as_ref().expect("held until dropped"))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Connection>> {
        self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Puts the connection back even if the read panicked.
struct Lease<'a> {
    readers: &'a Readers,
    conn: Option<Connection>,
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.readers.lock().push(conn);
        }
    }
}
