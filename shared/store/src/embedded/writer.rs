//! Group commit: one thread owns the only write connection. It takes every
//! write waiting at that moment, runs each inside its own savepoint of one
//! transaction, and commits them with one fsync (`synchronous=FULL`). A caller
//! hears back only after the commit that holds its write is durable, so nothing
//! acknowledged can be lost; a write that fails rolls back to its savepoint and
//! leaves the others of its group untouched. A write of one statement
//! ([`Undo::Statement`]) needs no savepoint: SQLite undoes a failed statement
//! by itself.
//!
//! No write waits for a group to fill: the writer starts as soon as one write is
//! queued, and the writes that arrive while it commits form the next group. It
//! only keeps its distance under load: after a group of several writes that all
//! succeeded, the next commit starts at least [`COMMIT_PERIOD`] after that one
//! began, the writer sleeping meanwhile so that arriving writes do not wake it.
//! A lone writer (groups of one) and the caller of a failed write (likely
//! retrying) never wait; many writers share fsyncs.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::checkpoints::{self, Checkpointer};
use crate::error::{StoreError, StoreResult};

/// The most writes one transaction gathers; more wait for the next commit.
const MAX_GROUP: usize = 512;

/// The shortest time between the start of a commit of several writes that all
/// succeeded and the start of the next. Under load on the calendar page a
/// commit (and its fsync) otherwise served about two requests; paced, it
/// serves several times as many, and the page took about 8% less CPU
/// (`docs/benchmarks.md`, session 10). On this VM each fsync costs the writer
/// a virtio kick (a VM exit) and its interrupt: at 1 ms rather than 500 µs
/// the page served 3–18% more with the same p99 in six series of two servers
/// side by side, alternating one-second runs (session 19). Longer is worse for chains of
/// dependent writes under load: 100,000 petition signatures took 9.8–11.4 s
/// against 8.7–9.5 s at 500 µs (session 19; the target is 20 s), and at
/// 2 ms the page itself served less again. A write that comes after a quiet
/// spell, or after a group of one, commits at once.
const COMMIT_PERIOD: Duration = Duration::from_millis(1);

/// Why a write that ran without error was still not kept: its group's
/// transaction could not begin or commit.
#[derive(Debug, thiserror::Error)]
#[error("the group commit holding this write failed: {0}")]
struct GroupFailed(String);

/// How a write that fails is undone without touching the rest of its group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Undo {
    /// By rolling back to a savepoint of its own: any write.
    Savepoint,
    /// By SQLite itself, for a write that changes the database in at most one
    /// statement, the last of its steps that can fail (reads before it are
    /// free). SQLite undoes a statement that fails, and a failure before it
    /// changed nothing. A savepoint and its release cost a write about a third
    /// of its time in the writer: each keeps a copy of every page the write
    /// changes (`docs/architecture.md`). Should such a write still fail after
    /// changing rows, its whole group is undone and its callers retry.
    Statement,
}

/// A write waiting for the writer thread.
trait Write: Send {
    /// How the write is undone if it fails.
    fn undo(&self) -> Undo;
    /// Runs the write (inside its savepoint for [`Undo::Savepoint`]); `true`
    /// when it succeeded.
    fn run(&mut self, conn: &Connection) -> bool;
    /// Answers the caller: its own result, or `failure` when the group that
    /// held a successful write was not committed.
    fn finish(self: Box<Self>, failure: Option<&rusqlite::Error>);
}

struct Pending<T, F> {
    work: Option<F>,
    undo: Undo,
    result: Option<StoreResult<T>>,
    reply: oneshot::Sender<StoreResult<T>>,
}

impl<T, F> Write for Pending<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> StoreResult<T> + Send,
{
    fn undo(&self) -> Undo {
        self.undo
    }

    fn run(&mut self, conn: &Connection) -> bool {
        let Some(work) = self.work.take() else { return false };
        let result = catch_unwind(AssertUnwindSafe(|| work(conn)))
            .unwrap_or_else(|_| Err(StoreError::backend(GroupFailed("the write panicked".into()))));
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn finish(self: Box<Self>, failure: Option<&rusqlite::Error>) {
        let answer = match (self.result, failure) {
            (Some(Err(own)), _) => Err(own),
            (Some(Ok(value)), None) => Ok(value),
            (_, Some(error)) => Err(group_error(error)),
            (None, None) => Err(StoreError::backend(GroupFailed("the write never ran".into()))),
        };
        // The caller may have gone away (its request was cancelled); the write
        // is committed either way.
        let _ = self.reply.send(answer);
    }
}

/// A failed group, as each of its successful writes reports it: busy and locked
/// are passing faults (as in `sql_error`), and so is a group another write's
/// failure aborted; a retry of this write can succeed.
fn group_error(error: &rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode;
    let failed = GroupFailed(error.to_string());
    match error.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked | ErrorCode::OperationAborted) => {
            StoreError::unavailable(failed)
        }
        _ => StoreError::backend(failed),
    }
}

/// The handle the store keeps; dropping it lets the thread finish the writes
/// already queued and close the connection.
#[derive(Debug)]
pub(super) struct Writer {
    queue: Option<mpsc::Sender<Box<dyn Write>>>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    /// Starts the writer thread on an open, configured connection; it asks
    /// `checkpointer` to copy the WAL back (and drops it when it stops).
    pub(super) fn start(conn: Connection, checkpointer: Checkpointer) -> StoreResult<Self> {
        let (queue, writes) = mpsc::channel::<Box<dyn Write>>();
        let thread = std::thread::Builder::new()
            .name("portal-store-writer".into())
            .spawn(move || {
                checkpoints::watch_wal(&conn);
                run(&conn, &writes, &checkpointer);
            })
            .map_err(StoreError::backend)?;
        Ok(Self { queue: Some(queue), thread: Some(thread) })
    }

    /// Runs `work` in the next group commit, undone alone as `undo` says if it
    /// fails, and waits until that commit is durable (or failed).
    pub(super) async fn write<T, F>(&self, work: F, undo: Undo) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let pending = Box::new(Pending { work: Some(work), undo, result: None, reply });
        let stopped = || StoreError::unavailable(GroupFailed("the writer has stopped".into()));
        self.queue.as_ref().ok_or_else(stopped)?.send(pending).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        drop(self.queue.take());
        if let Some(thread) = self.thread.take()
            && thread.thread().id() != std::thread::current().id()
        {
            let _ = thread.join();
        }
    }
}

fn run(conn: &Connection, writes: &mpsc::Receiver<Box<dyn Write>>, checkpointer: &Checkpointer) {
    let mut group: Vec<Box<dyn Write>> = Vec::with_capacity(MAX_GROUP);
    // When the last commit started, if the next one should keep its distance.
    let mut pace_from: Option<Instant> = None;
    while let Ok(first) = writes.recv() {
        group.push(first);
        let pause = pause_before_commit(pace_from, Instant::now());
        if !pause.is_zero() {
            // Asleep, the writer is not woken by each write that arrives (a
            // wait on the queue was: one wake-up per request, and a futex call
            // in each sender); they join the group below.
            std::thread::sleep(pause);
        }
        while group.len() < MAX_GROUP {
            match writes.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        let start = Instant::now();
        let outcome = commit(conn, &mut group);
        pace_from = pace_after(&outcome, group.len(), start);
        let failure = outcome.err();
        for write in group.drain(..) {
            write.finish(failure.as_ref());
        }
        checkpointer.after_commit(conn);
    }
}

/// How long the writer sleeps before its next commit, given when the last
/// commit that keeps the next at a distance started ([`pace_after`]): what
/// is left of [`COMMIT_PERIOD`] since then, nothing after a quiet spell.
fn pause_before_commit(pace_from: Option<Instant>, now: Instant) -> Duration {
    pace_from.map_or(Duration::ZERO, |start| (start + COMMIT_PERIOD).saturating_duration_since(now))
}

/// When a commit of `writes` that started at `start` and ended in `outcome`
/// (the number of its writes that failed) keeps the next one at a distance:
/// only if it held more than one write and every write succeeded.
///
/// - A group of one is a lone writer, or one step of a chain of dependent
///   writes: pausing would only make it wait, with nobody to share the fsync.
/// - A write that failed its own check (most often an `If-Match` that lost to
///   another write of the group) is usually retried at once by its caller, and
///   writers racing for one document would otherwise win one per period; a
///   failed group is retried by its callers too.
fn pace_after(outcome: &rusqlite::Result<usize>, writes: usize, start: Instant) -> Option<Instant> {
    (writes > 1 && matches!(outcome, Ok(0))).then_some(start)
}

/// Runs a group in one transaction, each write in its own savepoint, and
/// commits it; the number of writes that failed (and were undone alone). An
/// error means nothing of the group was kept.
fn commit(conn: &Connection, group: &mut [Box<dyn Write>]) -> rusqlite::Result<usize> {
    conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
    let outcome = (|| {
        let mut failed = 0;
        for write in group.iter_mut() {
            if write.undo() == Undo::Statement {
                failed += usize::from(!run_one_statement(conn, write.as_mut())?);
                continue;
            }
            conn.prepare_cached("SAVEPOINT write")?.execute([])?;
            if !write.run(conn) {
                if conn.is_autocommit() {
                    // The failure ended the whole transaction (an I/O error,
                    // a full disk): nothing of the group is kept.
                    return Err(rusqlite::Error::SqliteFailure(
                        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ABORT),
                        Some("a write's failure rolled back its group".into()),
                    ));
                }
                conn.prepare_cached("ROLLBACK TO write")?.execute([])?;
                failed += 1;
            }
            conn.prepare_cached("RELEASE write")?.execute([])?;
        }
        conn.prepare_cached("COMMIT")?.execute([])?;
        Ok(failed)
    })();
    if outcome.is_err() && !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    outcome
}

/// Runs a write of one statement without a savepoint; whether it succeeded.
/// A failure that left rows changed (its statement succeeded and a later step
/// failed, against the contract of [`Undo::Statement`]) or that
/// ended the transaction fails the whole group: nothing half done is kept.
fn run_one_statement(conn: &Connection, write: &mut dyn Write) -> rusqlite::Result<bool> {
    let before = conn.total_changes();
    if write.run(conn) {
        return Ok(true);
    }
    let undone = if conn.is_autocommit() {
        "a write's failure rolled back its group"
    } else if conn.total_changes() != before {
        "a write of one statement failed after changing rows: its group is undone"
    } else {
        return Ok(false);
    };
    Err(rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ABORT), Some(undone.into())))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A write for [`commit`], its answer dropped.
    fn pending(undo: Undo, work: impl FnOnce(&Connection) -> StoreResult<()> + Send + 'static) -> Box<dyn Write> {
        let (reply, _answer) = oneshot::channel();
        Box::new(Pending { work: Some(work), undo, result: None, reply })
    }

    fn insert(sql: &'static str) -> impl FnOnce(&Connection) -> StoreResult<()> + Send + 'static {
        move |conn| conn.execute_batch(sql).map_err(crate::embedded::sql_error)
    }

    fn ids(conn: &Connection) -> Vec<i64> {
        let mut statement = conn.prepare("SELECT id FROM t ORDER BY id").expect("prepare");
        statement.query_map([], |row| row.get(0)).expect("query").collect::<Result<_, _>>().expect("rows")
    }

    fn table() -> Connection {
        let conn = Connection::open_in_memory().expect("open");
        conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY)").expect("table");
        conn
    }

    #[test]
    fn a_failed_write_of_one_statement_is_undone_alone_without_a_savepoint() {
        let conn = table();
        let mut group = vec![
            pending(Undo::Statement, insert("INSERT INTO t VALUES (1)")),
            // Inserts 2, then fails on 1: SQLite takes the statement back whole.
            pending(Undo::Statement, insert("INSERT INTO t VALUES (2), (1)")),
            pending(Undo::Savepoint, insert("INSERT INTO t VALUES (3); INSERT INTO t VALUES (3)")),
            pending(Undo::Statement, |conn: &Connection| {
                conn.execute_batch("SELECT 1").map_err(crate::embedded::sql_error)?;
                Err(StoreError::Conflict)
            }),
            pending(Undo::Statement, insert("INSERT INTO t VALUES (4)")),
        ];
        assert_eq!(commit(&conn, &mut group).expect("the group commits"), 3, "three writes failed");
        assert_eq!(ids(&conn), [1, 4], "the failed writes left nothing, the others were kept");
    }

    #[test]
    fn a_write_of_one_statement_that_fails_after_changing_rows_undoes_its_group() {
        let conn = table();
        let mut group = vec![
            pending(Undo::Statement, insert("INSERT INTO t VALUES (1)")),
            // Against the contract: its statement changed a row, then it failed.
            pending(Undo::Statement, |conn: &Connection| {
                conn.execute_batch("INSERT INTO t VALUES (2)").map_err(crate::embedded::sql_error)?;
                Err(StoreError::Conflict)
            }),
        ];
        assert!(commit(&conn, &mut group).is_err(), "the group fails: its callers retry");
        assert!(ids(&conn).is_empty(), "nothing of the group was kept");
        assert!(conn.is_autocommit(), "its transaction was rolled back");
    }

    #[test]
    fn a_commit_keeps_its_distance_only_after_several_writes_that_all_succeeded() {
        let start = Instant::now();
        let soon = start + COMMIT_PERIOD / 5;
        assert_eq!(pause_before_commit(None, soon), Duration::ZERO, "the first commit, or one after a failure");
        assert_eq!(pause_before_commit(Some(start), soon), COMMIT_PERIOD - COMMIT_PERIOD / 5, "the rest of the period");
        assert_eq!(pause_before_commit(Some(start), start + COMMIT_PERIOD * 3), Duration::ZERO, "after a quiet spell");

        assert_eq!(pace_after(&Ok(0), 2, start), Some(start), "several writes, every one succeeded");
        assert_eq!(pace_after(&Ok(0), 1, start), None, "a lone write: nobody to share the next fsync with");
        assert_eq!(pace_after(&Ok(1), 5, start), None, "a write lost its If-Match: its caller retries at once");
        let aborted = rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ABORT), None);
        assert_eq!(pace_after(&Err(aborted), 5, start), None, "the group failed: its callers retry");
    }
}
