//! The log lines' way to stderr: gathered, not one `write(2)` each.
//!
//! Formatting a line costs little; handing each line to the kernel on its own
//! was about a tenth of the CPU of a health request under load
//! (`docs/benchmarks.md`, issue 18). So lines below `WARN` go into one shared
//! buffer, which a thread of its own writes out [`FLUSH_AFTER`] after its first
//! line arrived, or the writing thread at once when it reaches [`FLUSH_BYTES`].
//! A `WARN` or `ERROR` line is written at once, after whatever is buffered, so
//! the order of lines is kept and a problem is never held back.
//!
//! What it costs: when the process is killed outright (`kill -9`, an abort),
//! the `INFO` lines of the last [`FLUSH_AFTER`] can be lost. A normal stop
//! writes everything ([`crate::Telemetry::shutdown`] calls [`flush`]). The
//! store's data never depends on a log line; the access log is in the store.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;

/// How long a line may wait in the buffer.
pub const FLUSH_AFTER: Duration = Duration::from_millis(20);
/// A buffer this full is written at once by the thread that filled it.
pub const FLUSH_BYTES: usize = 64 * 1024;

type Sink = Box<dyn Write + Send>;

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    /// No thread could be started: every line is written at once.
    immediate: AtomicBool,
}

struct State {
    buffer: Vec<u8>,
    sink: Sink,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State").field("buffered", &self.buffer.len()).finish_non_exhaustive()
    }
}

impl State {
    /// Writes the buffer out; a sink that fails (a closed stderr) loses the
    /// lines rather than growing the buffer.
    fn write_out(&mut self) {
        if !self.buffer.is_empty() {
            let _ = self.sink.write_all(&self.buffer).and_then(|()| self.sink.flush());
            self.buffer.clear();
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A `MakeWriter` for the fmt layer: buffered lines to one sink.
#[derive(Clone)]
pub struct BufferedLines {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for BufferedLines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BufferedLines").field("buffered", &self.shared.lock().buffer.len()).finish()
    }
}

impl BufferedLines {
    /// Lines to `sink`, written out by a thread of their own `after` the first
    /// buffered line (at once, if no thread can be started).
    pub fn new(sink: impl Write + Send + 'static, after: Duration) -> Self {
        let state = Mutex::new(State { buffer: Vec::with_capacity(FLUSH_BYTES), sink: Box::new(sink) });
        let shared = Arc::new(Shared { state, wake: Condvar::new(), immediate: AtomicBool::new(false) });
        let weak = Arc::downgrade(&shared);
        let started = std::thread::Builder::new().name("portal-log-writer".into()).spawn(move || {
            // Ends when the writer is dropped (a test's); the process's own
            // lives as long as the process.
            while let Some(shared) = weak.upgrade() {
                let mut state = shared.lock();
                while state.buffer.is_empty() {
                    let (next, _) =
                        shared.wake.wait_timeout(state, Duration::from_secs(1)).unwrap_or_else(PoisonError::into_inner);
                    state = next;
                    if Arc::strong_count(&shared) == 1 {
                        return;
                    }
                }
                drop(state);
                drop(shared);
                std::thread::sleep(after);
                let Some(shared) = weak.upgrade() else { return };
                shared.lock().write_out();
            }
        });
        if started.is_err() {
            shared.immediate.store(true, Ordering::Relaxed);
        }
        Self { shared }
    }

    /// Writes out every buffered line now.
    pub fn flush(&self) {
        self.shared.lock().write_out();
    }
}

impl Drop for State {
    fn drop(&mut self) {
        self.write_out();
    }
}

/// One line being written: urgent lines (`WARN`, `ERROR`) go out at once.
#[derive(Debug)]
pub struct Line<'a> {
    shared: &'a Shared,
    urgent: bool,
}

impl Write for Line<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let mut state = self.shared.lock();
        let was_empty = state.buffer.is_empty();
        state.buffer.extend_from_slice(bytes);
        if self.urgent || self.shared.immediate.load(Ordering::Relaxed) || state.buffer.len() >= FLUSH_BYTES {
            state.write_out();
        } else if was_empty {
            self.shared.wake.notify_one();
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BufferedLines {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        Line { shared: &self.shared, urgent: true }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Self::Writer {
        Line { shared: &self.shared, urgent: *meta.level() <= Level::WARN }
    }
}

/// The process's stderr, buffered as above (started on first use).
pub fn stderr() -> BufferedLines {
    static STDERR: OnceLock<BufferedLines> = OnceLock::new();
    STDERR.get_or_init(|| BufferedLines::new(io::stderr(), FLUSH_AFTER)).clone()
}

/// Writes out the lines the process's stderr writer holds.
pub fn flush() {
    stderr().flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink the test can read, and wait on.
    #[derive(Clone, Default)]
    struct Seen(Arc<(Mutex<Vec<u8>>, Condvar)>);

    impl Write for Seen {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.0.lock().expect("lock").extend_from_slice(bytes);
            self.0.1.notify_all();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Seen {
        fn text(&self) -> String {
            String::from_utf8(self.0.0.lock().expect("lock").clone()).expect("utf-8")
        }
        /// Waits (up to a minute: a deadline, not a timing) until `text` is there.
        fn wait_for(&self, text: &str) -> String {
            let (lock, changed) = &*self.0;
            let (seen, _) = changed
                .wait_timeout_while(lock.lock().expect("lock"), Duration::from_secs(60), |seen| {
                    !String::from_utf8_lossy(seen).contains(text)
                })
                .expect("lock");
            String::from_utf8(seen.clone()).expect("utf-8")
        }
    }

    fn line(writer: &BufferedLines, level: Level, text: &str) {
        let urgent = level <= Level::WARN;
        let mut line = Line { shared: &writer.shared, urgent };
        line.write_all(text.as_bytes()).expect("written");
    }

    #[test]
    fn info_lines_wait_and_a_warning_writes_them_first_then_itself() {
        let seen = Seen::default();
        // An hour: only the warning or a flush can write these lines here.
        let writer = BufferedLines::new(seen.clone(), Duration::from_secs(3600));
        line(&writer, Level::INFO, "one\n");
        line(&writer, Level::DEBUG, "two\n");
        assert_eq!(seen.text(), "", "info lines are buffered");
        line(&writer, Level::WARN, "careful\n");
        assert_eq!(seen.text(), "one\ntwo\ncareful\n");
        line(&writer, Level::INFO, "three\n");
        writer.flush();
        assert_eq!(seen.text(), "one\ntwo\ncareful\nthree\n");
    }

    #[test]
    fn the_thread_writes_buffered_lines_out_by_itself() {
        let seen = Seen::default();
        let writer = BufferedLines::new(seen.clone(), Duration::from_millis(1));
        line(&writer, Level::INFO, "request finished\n");
        assert_eq!(seen.wait_for("request finished"), "request finished\n");
    }

    #[test]
    fn a_full_buffer_is_written_by_the_line_that_filled_it() {
        let seen = Seen::default();
        let writer = BufferedLines::new(seen.clone(), Duration::from_secs(3600));
        let text = "x".repeat(1000) + "\n";
        let mut lines = 0;
        while seen.text().is_empty() {
            line(&writer, Level::INFO, &text);
            lines += 1;
            assert!(lines * text.len() <= FLUSH_BYTES + text.len(), "never written");
        }
        assert_eq!(seen.text().len(), lines * text.len());
    }

    #[test]
    fn dropping_the_writer_writes_what_it_holds() {
        let seen = Seen::default();
        let writer = BufferedLines::new(seen.clone(), Duration::from_secs(3600));
        line(&writer, Level::INFO, "last words\n");
        drop(writer);
        assert_eq!(seen.wait_for("last words"), "last words\n");
    }
}
