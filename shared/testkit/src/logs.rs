//! Log lines kept in memory, for tests that read what was logged: give a
//! clone to a `tracing_subscriber` layer as its writer, install the subscriber
//! with [`capture`], read [`LogBuffer::text`].

use std::sync::{Arc, Mutex};

/// What a subscriber wrote, shared between its clones.
#[derive(Debug, Clone, Default)]
pub struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl LogBuffer {
    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)).into_owned()
    }
}

impl std::io::Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuffer {
    type Writer = Self;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// `subscriber` as this thread's until the guard drops, with its callsites safe
/// from sibling tests.
///
/// tracing decides once per callsite whether anything listens. While one
/// dispatcher is registered it asks only the default of the thread that
/// reaches the callsite first, and a sibling test's thread has none: a callsite
/// a sibling reaches first, after `set_default`, stays silent for this
/// subscriber too (tokio-rs/tracing#2874; the request span test failed so in 2
/// of 8 runs). A second dispatcher, registered before this one and alive as
/// long as the guard, makes tracing ask every registered dispatcher instead.
pub fn capture(subscriber: impl tracing::Subscriber + Send + Sync + 'static) -> Capture {
    let second = tracing::Dispatch::new(tracing_subscriber::registry());
    Capture { _default: tracing::subscriber::set_default(subscriber), _second: second }
}

/// See [`capture`]; the subscriber stays this thread's until it drops.
#[derive(Debug)]
#[must_use = "the subscriber is this thread's only while the guard lives"]
pub struct Capture {
    _default: tracing::subscriber::DefaultGuard,
    _second: tracing::Dispatch,
}
