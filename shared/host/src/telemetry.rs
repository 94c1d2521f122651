//! Structured logs: JSON lines (the default, what Azure collects) or
//! human-readable text for a terminal. Logs only, for tools and tests: the
//! `portal` binary uses `portal-telemetry`, which writes the same logs and
//! also exports spans to Application Insights.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Text,
}

/// Installs the global subscriber once. `filter` is an `EnvFilter` directive
/// such as `info,portal=debug`. Returns false if one was already installed.
pub fn init(format: LogFormat, filter: &str) -> bool {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            // Each span's close carries its busy and idle time: the duration of
            // every request, invocation and store call.
            .with_span_events(FmtSpan::CLOSE)
            .try_init()
            .is_ok(),
        LogFormat::Text => builder.compact().try_init().is_ok(),
    }
}
