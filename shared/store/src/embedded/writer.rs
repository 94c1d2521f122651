//! Group commit: one thread owns the only write connection. It takes every
//! write waiting at that moment, runs each inside its own savepoint of one
//! transaction, and commits them with one fsync (`synchronous=FULL`). A caller
//! hears back only after the commit that holds its write is durable, so nothing
//! acknowledged can be lost; a write that fails rolls back to its savepoint and
//! leaves the others of its group untouched.
//!
//! No write waits for a group to fill: the writer starts as soon as one write is
//! queued, and the writes that arrive while it commits form the next group. It
//! only keeps its distance: a commit starts at least [`COMMIT_PERIOD`] after
//! the one before (unless that one had a failed write, whose caller is likely
//! retrying), sleeping meanwhile so that arriving writes do not wake it. One
//! writer alone therefore commits as before; many writers share fsyncs.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::error::{StoreError, StoreResult};

/// The most writes one transaction gathers; more wait for the next commit.
const MAX_GROUP: usize = 512;

/// The shortest time between the starts of two commits in a row whose writes
/// all succeeded. Under load on the calendar page a commit (and its fsync)
/// otherwise served about two requests; paced, it serves several times as
/// many, and the page took about 8% less CPU (`docs/benchmarks.md`, session
/// 10). A write that comes after a quiet spell still commits at once.
const COMMIT_PERIOD: Duration = Duration::from_micros(500);

/// Why a write that ran without error was still not kept: its group's
/// transaction could not begin or commit.
#[derive(Debug, thiserror::Error)]
#[error("the group commit holding this write failed: {0}")]
struct GroupFailed(String);

/// A write waiting for the writer thread.
trait Write: Send {
    /// Runs the write inside its savepoint; `true` when it succeeded.
    fn run(&mut self, conn: &Connection) -> bool;
    /// Answers the caller: its own result, or `failure` when the group that
    /// held a successful write was not committed.
    fn finish(self: Box<Self>, failure: Option<&rusqlite::Error>);
}

struct Pending<T, F> {
    work: Option<F>,
    result: Option<StoreResult<T>>,
    reply: oneshot::Sender<StoreResult<T>>,
}

impl<T, F> Write for Pending<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> StoreResult<T> + Send,
{
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
    /// Starts the writer thread on an open, configured connection.
    pub(super) fn start(conn: Connection) -> StoreResult<Self> {
        let (queue, writes) = mpsc::channel::<Box<dyn Write>>();
        let thread = std::thread::Builder::new()
            .name("portal-store-writer".into())
            .spawn(move || run(&conn, &writes))
            .map_err(StoreError::backend)?;
        Ok(Self { queue: Some(queue), thread: Some(thread) })
    }

    /// Runs `work` in the next group commit and waits until that commit is
    /// durable (or failed).
    pub(super) async fn write<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let pending = Box::new(Pending { work: Some(work), result: None, reply });
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

fn run(conn: &Connection, writes: &mpsc::Receiver<Box<dyn Write>>) {
    let mut group: Vec<Box<dyn Write>> = Vec::with_capacity(MAX_GROUP);
    // When the last commit started, if the next one should keep its distance.
    let mut pace_from: Option<Instant> = None;
    while let Ok(first) = writes.recv() {
        group.push(first);
        if let Some(start) = pace_from {
            sleep_until(start + COMMIT_PERIOD);
        }
        while group.len() < MAX_GROUP {
            match writes.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        let start = Instant::now();
        let outcome = commit(conn, &mut group);
        // A write that failed its own check (most often an `If-Match` that
        // lost to another write of the group) is usually retried at once by
        // its caller; the next commit then starts without waiting, or
        // writers racing for one document would win one per period.
        pace_from = matches!(outcome, Ok(0)).then_some(start);
        let failure = outcome.err();
        for write in group.drain(..) {
            write.finish(failure.as_ref());
        }
    }
}

/// Waits until `end` asleep, so the writes that arrive meanwhile join the
/// group without waking the writer one by one (a wait on the queue did: one
/// wake-up of the writer per request, and a futex call in each sender).
fn sleep_until(end: Instant) {
    let left = end.saturating_duration_since(Instant::now());
    if !left.is_zero() {
        std::thread::sleep(left);
    }
}

/// Runs a group in one transaction, each write in its own savepoint, and
/// commits it; the number of writes that failed (and were undone alone). An
/// error means nothing of the group was kept.
fn commit(conn: &Connection, group: &mut [Box<dyn Write>]) -> rusqlite::Result<usize> {
    conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
    let outcome = (|| {
        let mut failed = 0;
        for write in group.iter_mut() {
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
