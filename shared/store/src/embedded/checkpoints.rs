//! Checkpoints beside the writer: copying the WAL back into the database runs
//! on a thread and connection of its own, so the writer goes on committing
//! while pages are copied and the database file is fsynced.
//!
//! SQLite checkpoints, by default, on the connection that commits, after the
//! commit that takes the WAL past the limit; that commit's group (and every
//! write queued behind it) waited for the copy and the database's fsync. In
//! the signature bench that was about an eighth of the writer's time, during
//! which nothing was committed.
//!
//! Here the writer's connection has a WAL hook instead of the automatic
//! checkpoint. The hook notes the WAL's size after each commit; past
//! [`WAL_CHECKPOINT_PAGES`] the writer nudges the checkpointer and goes on. The
//! checkpointer runs a `PASSIVE` checkpoint, which waits for no reader and no
//! writer: it copies what no open read still needs, fsyncs the database
//! (`synchronous` as the writer's), and only then marks those frames done, so a
//! crash at any point leaves every committed write in the WAL or the database.
//! SQLite starts the WAL over (writes it again from its start) only at the
//! beginning of a write transaction that finds every frame copied. A
//! checkpoint beside a busy writer never finds that: the writer appends while
//! it copies. Left alone, the WAL grew without end and the signature bench
//! took a third longer (new file blocks for every frame). So the checkpoint
//! runs in two parts: the bulk beside the writer, then the tail (what the
//! writer appended meanwhile, a small fraction) by the writer itself after its
//! next commit, whose next transaction then starts the WAL over.
//!
//! Nudges while a checkpoint runs collapse into one. Should the checkpointer's
//! thread be gone, the writer checkpoints everything itself, as SQLite would.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, TrySendError};
use std::thread::JoinHandle;

use rusqlite::Connection;

use crate::error::{StoreError, StoreResult};

/// How many pages the WAL may hold before a checkpoint is due (32 MiB at 8 KiB
/// pages; SQLite's default is 1,000 pages). A page that many commits change in
/// a row (a B-tree's inner pages, the access log's last leaf) is copied once
/// per checkpoint, so fewer checkpoints write and fsync far less under a steady
/// stream of group commits; readers find recent pages in the WAL's index.
pub(super) const WAL_CHECKPOINT_PAGES: i32 = 4096;

thread_local! {
    /// The WAL's size in pages after the last commit on this thread's
    /// connection (only the writer's thread has the hook).
    static WAL_PAGES: Cell<i32> = const { Cell::new(0) };
}

/// The writer connection's WAL hook: notes the size, checkpoints nothing.
fn note_wal_size(_: &rusqlite::hooks::Wal, pages: std::ffi::c_int) -> rusqlite::Result<()> {
    WAL_PAGES.with(|size| size.set(pages));
    Ok(())
}

/// Replaces the automatic checkpoint of `conn` (the writer's, on the thread
/// that will commit through it) by the size note that [`Checkpointer::after_commit`] reads.
pub(super) fn watch_wal(conn: &Connection) {
    conn.wal_hook(Some(note_wal_size));
}

/// Checkpoints run so far, by where they ran.
#[derive(Debug, Default)]
pub(super) struct Counts {
    /// On the checkpointer's thread (the bulk; the writer copies each tail).
    pub(super) beside: AtomicU64,
    /// On the writer's, whole, because the checkpointer was gone.
    pub(super) by_writer: AtomicU64,
}

/// The checkpointer's handle, kept by the writer's thread.
#[derive(Debug)]
pub(super) struct Checkpointer {
    nudge: Option<mpsc::SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
    counts: Arc<Counts>,
    /// Set when a bulk is done: the writer copies the tail.
    tail_due: Arc<AtomicBool>,
}

impl Checkpointer {
    /// Starts the checkpointer on its own connection, configured for the same
    /// durability as the writer's (`synchronous`).
    pub(super) fn start(conn: Connection, counts: Arc<Counts>) -> StoreResult<Self> {
        let (nudge, nudges) = mpsc::sync_channel::<()>(1);
        let (counted, tail) = (Arc::clone(&counts), Arc::new(AtomicBool::new(false)));
        let tail_due = Arc::clone(&tail);
        let thread = std::thread::Builder::new()
            .name("portal-store-checkpoint".into())
            .spawn(move || {
                while nudges.recv().is_ok() {
                    match checkpoint(&conn) {
                        Ok(()) => tail.store(true, Ordering::Release),
                        Err(error) => tracing::warn!(
                            error = %error,
                            "a checkpoint of the embedded store failed; the next commit asks again"
                        ),
                    }
                    counted.beside.fetch_add(1, Ordering::Relaxed);
                }
            })
            .map_err(StoreError::backend)?;
        Ok(Self { nudge: Some(nudge), thread: Some(thread), counts, tail_due })
    }

    /// Called by the writer after each commit: copies the tail of a bulk
    /// that finished, or asks for a checkpoint when the WAL is past
    /// [`WAL_CHECKPOINT_PAGES`] (without waiting, unless the checkpointer is
    /// gone; then the writer checkpoints on `conn` itself).
    pub(super) fn after_commit(&self, conn: &Connection) {
        if self.tail_due.swap(false, Ordering::Acquire) {
            if let Err(error) = checkpoint(conn) {
                tracing::warn!(error = %error, "a checkpoint of the embedded store failed");
            }
            return;
        }
        if WAL_PAGES.with(Cell::get) < WAL_CHECKPOINT_PAGES {
            return;
        }
        let sent = self.nudge.as_ref().map(|nudge| nudge.try_send(()));
        if matches!(sent, None | Some(Err(TrySendError::Disconnected(())))) {
            if let Err(error) = checkpoint(conn) {
                tracing::warn!(error = %error, "a checkpoint of the embedded store failed");
            }
            self.counts.by_writer.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.nudge.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The checkpointer's connection to `database`, with the writer's
/// `synchronous`: under `FULL` a checkpoint fsyncs the database before it
/// marks frames copied, and the WAL is written over only after that.
pub(super) fn connection(database: &std::path::Path, synchronous: &str) -> StoreResult<Connection> {
    let conn = Connection::open(database).map_err(super::sql_error)?;
    conn.pragma_update(None, "synchronous", synchronous).map_err(super::sql_error)?;
    Ok(conn)
}

/// One `PASSIVE` checkpoint on `conn`.
fn checkpoint(conn: &Connection) -> rusqlite::Result<()> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checkpointer_syncs_as_the_writer_does() {
        let dir = tempfile::tempdir().expect("tempdir");
        let database = dir.path().join("portal.db");
        for (setting, value) in [("FULL", 2), ("OFF", 0)] {
            let conn = connection(&database, setting).expect("connection");
            let synchronous: i64 = conn.query_row("PRAGMA synchronous", [], |row| row.get(0)).expect("pragma");
            assert_eq!(synchronous, value, "{setting}");
        }
    }
}
