//! Telemetry: structured logs always, and, when an Application Insights
//! connection string is configured, the same `tracing` spans exported to
//! Application Insights through OpenTelemetry.
//!
//! What becomes what (the conventions are in [`conventions`]):
//! - a span with `otel.kind = "server"` (every HTTP request and every queue or
//!   timer invocation, see `portal_host::runtime`) is a **request**, named by
//!   the function, with the response code and `success`;
//! - a span with `otel.kind = "client"` (every Cosmos DB, Blob, Queue and Key
//!   Vault call, every call to ISDS or NIA) is a **dependency** of the request
//!   it ran in, with its type, target, result code, outcome and duration;
//! - an event inside a span is a **trace** (or an **exception** when it
//!   carries an `error` field) of the same operation.
//!
//! Export never blocks or fails a request: finished spans go into a bounded
//! queue that a background thread sends in batches (spans are dropped when the
//! queue is full), and export errors are logged at most once a minute.
//! [`Telemetry::shutdown`] sends what is left when the process stops.
//!
//! Personal data stays out: attributes that may name a citizen (see
//! [`conventions::REDACTED_FIELDS`]) are removed before export, whatever span
//! or event carries them.

pub mod conventions;
mod http_client;
pub mod log_writer;
mod text_fields;

use std::sync::Arc;
use std::time::Duration;

use azure_core::credentials::TokenCredential;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider};
use secrecy::{ExposeSecret as _, SecretString};
use tracing::Subscriber;
use tracing_subscriber::filter::{FilterExt as _, filter_fn};
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

use crate::conventions::Conventions;
use crate::http_client::RuntimeHttpClient;

/// Finished spans waiting for export; more are dropped (telemetry must not
/// grow the process's memory when Application Insights is unreachable).
pub const MAX_QUEUED_SPANS: usize = 4096;
/// Spans sent in one request to the ingestion endpoint.
pub const MAX_EXPORT_BATCH: usize = 512;
/// How often the background thread sends what has finished.
pub const EXPORT_INTERVAL: Duration = Duration::from_secs(5);
/// One upload to the ingestion endpoint may take this long.
pub const UPLOAD_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// JSON lines (what Azure collects).
    Json,
    /// Human-readable text for a terminal.
    Text,
}

/// Where and as whom spans are exported.
#[derive(Clone)]
pub struct Export {
    /// `APPLICATIONINSIGHTS_CONNECTION_STRING`: `InstrumentationKey=...;IngestionEndpoint=https://...`.
    pub connection_string: SecretString,
    /// The cloud role name in Application Insights (`AppRoleName`).
    pub service_name: String,
    /// The application version (`AppVersion`).
    pub service_version: String,
    /// Entra ID credential for ingestion (the app's managed identity in Azure,
    /// where the component disables instrumentation-key ingestion); `None`
    /// sends with the instrumentation key alone.
    pub credential: Option<Arc<dyn TokenCredential>>,
}

impl std::fmt::Debug for Export {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Export")
            .field("service_name", &self.service_name)
            .field("service_version", &self.service_version)
            .field("credential", &self.credential.is_some())
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("the Application Insights connection string is not valid")]
    ConnectionString(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("telemetry export needs a Tokio runtime to send from")]
    NoRuntime(#[source] tokio::runtime::TryCurrentError),
    #[error("the HTTP client for telemetry export could not be built")]
    HttpClient(#[source] reqwest::Error),
    #[error("a global tracing subscriber is already installed")]
    AlreadyInstalled,
}

/// The export pipeline of a running process (nothing when export is off).
/// Keep it until the process stops and call [`Telemetry::shutdown`].
#[derive(Debug, Clone, Default)]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Whether spans are exported to Application Insights.
    pub fn exporting(&self) -> bool {
        self.provider.is_some()
    }

    /// Sends every finished span now. Blocks the calling thread (up to the
    /// upload timeout): call it from a blocking context, never on a Tokio
    /// worker of a current-thread runtime.
    pub fn flush_blocking(&self) {
        if let Some(Err(error)) = self.provider.as_ref().map(SdkTracerProvider::force_flush) {
            tracing::warn!(error = %error, "telemetry flush failed");
        }
    }

    /// Sends every finished span and stops the export thread (the SIGTERM
    /// path), and writes out the log lines still buffered.
    pub async fn shutdown(self) {
        let _flushed = FlushLogs;
        if let Some(provider) = self.provider {
            let stopped = tokio::task::spawn_blocking(move || provider.shutdown()).await;
            match stopped {
                Ok(Ok(())) => {}
                Ok(Err(error)) => tracing::warn!(error = %error, "telemetry shutdown failed; some spans were lost"),
                Err(error) => tracing::warn!(error = %error, "telemetry shutdown failed; some spans were lost"),
            }
        }
    }
}

/// Writes out the buffered log lines when dropped, after whatever the
/// shutdown itself logged.
struct FlushLogs;

impl Drop for FlushLogs {
    fn drop(&mut self) {
        log_writer::flush();
    }
}

/// The subscriber for this process: logs to stderr (buffered, see [`log_writer`]) in `format`, filtered by
/// `filter` (an `EnvFilter` directive such as `info,portal=debug`), and, with
/// `export`, spans to Application Insights. Must be called inside a Tokio
/// runtime when exporting (uploads run on it).
///
/// Export sees every span at `INFO` or above whatever the log filter says (a
/// quiet log must not hide requests and dependencies), and the events the log
/// filter lets through.
pub fn subscriber(
    format: LogFormat,
    filter: &str,
    export: Option<&Export>,
) -> Result<(Box<dyn Subscriber + Send + Sync>, Telemetry), TelemetryError> {
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let Some(export) = export else {
        // The logs alone: their filter decides for the whole subscriber. As a
        // filter of the one layer (below, where export has its own) it kept a
        // per-thread record of what it let through for every span and event.
        let logs = match format {
            LogFormat::Json => json_lines(ansi).boxed(),
            LogFormat::Text => text_lines().boxed(),
        };
        return Ok((Box::new(tracing_subscriber::registry().with(log_layer(filter)).with(logs)), Telemetry::default()));
    };
    let logs = match format {
        LogFormat::Json => json_lines(ansi).with_filter(log_filter(filter)).boxed(),
        LogFormat::Text => text_lines().with_filter(log_filter(filter)).boxed(),
    };
    let provider = tracer_provider(export)?;
    let tracer = provider.tracer("portal");
    // Spans at INFO and above, events as the log filter says, never the
    // exporter's own diagnostics (they would feed back into the export).
    let spans = filter_fn(|meta| meta.is_span() && *meta.level() <= tracing::Level::INFO);
    let not_exporter = filter_fn(|meta| !meta.target().starts_with("opentelemetry"));
    let otel = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_location(false)
        .with_threads(false)
        .with_tracked_inactivity(false)
        // Status comes from `otel.status_code` and ERROR-level events only: a
        // warning that mentions an error (a 404 from the store) is no failure.
        .with_error_events_to_status(false)
        .with_filter(spans.or(log_filter(filter)).and(not_exporter));
    let subscriber = tracing_subscriber::registry().with(logs).with(otel);
    Ok((Box::new(subscriber), Telemetry { provider: Some(provider) }))
}

type Lines<S, N, E> = tracing_subscriber::fmt::Layer<S, N, E, log_writer::BufferedLines>;
type JsonLine = tracing_subscriber::fmt::format::Format<
    tracing_subscriber::fmt::format::Json,
    tracing_subscriber::fmt::time::SystemTime,
>;

/// JSON lines to stderr, buffered ([`log_writer`]): one object a line, the
/// current span's fields in it.
fn json_lines<S>(ansi: bool) -> Lines<S, tracing_subscriber::fmt::format::JsonFields, JsonLine>
where
    S: Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    tracing_subscriber::fmt::layer()
        .with_writer(log_writer::stderr())
        .with_ansi(ansi)
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        // Each span's close carries its busy and idle time: the duration of
        // every request, invocation and store call.
        .with_span_events(FmtSpan::CLOSE)
}

/// Text lines to stderr, buffered ([`log_writer`], [`text_fields`]).
fn text_lines() -> text_fields::TextLayer<log_writer::BufferedLines> {
    text_fields::TextLayer::new(log_writer::stderr())
}

/// [`log_filter`] as a layer of its own, deciding for the whole subscriber.
fn log_layer(filter: &str) -> Box<dyn tracing_subscriber::Layer<tracing_subscriber::Registry> + Send + Sync> {
    match parse_filter(filter) {
        Ok(targets) => tracing_subscriber::Layer::boxed(targets),
        Err(env) => tracing_subscriber::Layer::boxed(*env),
    }
}

/// The log filter of directive `filter`, for one layer (see [`parse_filter`]).
fn log_filter<S>(filter: &str) -> Box<dyn tracing_subscriber::layer::Filter<S> + Send + Sync>
where
    S: Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    match parse_filter(filter) {
        Ok(targets) => Box::new(targets),
        Err(env) => env,
    }
}

/// The filter of directive `filter`. A directive of targets and levels only
/// (`info,portal=debug`, what the portal is run with) is a
/// [`Targets`](tracing_subscriber::filter::Targets) filter, which decides by
/// callsite and keeps nothing per span. One that also names spans or fields
/// (`portal[request]=debug`) needs an `EnvFilter` (the `Err` side), which takes
/// a shared lock on every span's creation, entry, exit and close to look the
/// span up (issue 18: eight of them a health request, on two threads). A
/// directive neither reads is `info`.
fn parse_filter(filter: &str) -> Result<tracing_subscriber::filter::Targets, Box<EnvFilter>> {
    filter.parse().map_err(|_| Box::new(EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"))))
}

/// Nests a request's span under the caller's trace: the W3C `traceparent`
/// (and `tracestate`) the Functions host sends with the requests and
/// invocations it forwards. Without the header, or without export, the span
/// stays a root, as before. Given to [`portal_host::Runtime::with_span_parent`].
pub fn join_traceparent(headers: &http::HeaderMap, span: &tracing::Span) {
    use opentelemetry::propagation::TextMapPropagator as _;
    use opentelemetry::trace::TraceContextExt as _;
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;

    if !headers.contains_key("traceparent") {
        return;
    }
    let context = opentelemetry_sdk::propagation::TraceContextPropagator::new()
        .extract(&opentelemetry_http::HeaderExtractor(headers));
    if context.span().span_context().is_valid() {
        // Fails only when the span is disabled (export off): nothing to join.
        let _ = span.set_parent(context);
    }
}

/// Installs [`subscriber`] as the global default, once.
pub fn init(format: LogFormat, filter: &str, export: Option<&Export>) -> Result<Telemetry, TelemetryError> {
    let (subscriber, telemetry) = subscriber(format, filter, export)?;
    subscriber.try_init().map_err(|_| TelemetryError::AlreadyInstalled)?;
    Ok(telemetry)
}

fn tracer_provider(export: &Export) -> Result<SdkTracerProvider, TelemetryError> {
    let runtime = tokio::runtime::Handle::try_current().map_err(TelemetryError::NoRuntime)?;
    let client = reqwest::Client::builder().timeout(UPLOAD_TIMEOUT).build().map_err(TelemetryError::HttpClient)?;
    let exporter = opentelemetry_application_insights::Exporter::new_from_connection_string(
        export.connection_string.expose_secret(),
        RuntimeHttpClient::new(client, runtime, export.connection_string.expose_secret(), export.credential.clone()),
    )
    .map_err(TelemetryError::ConnectionString)?;
    let processor = BatchSpanProcessor::builder(Conventions::new(exporter))
        .with_batch_config(
            BatchConfigBuilder::default()
                .with_max_queue_size(MAX_QUEUED_SPANS)
                .with_max_export_batch_size(MAX_EXPORT_BATCH)
                .with_scheduled_delay(EXPORT_INTERVAL)
                .build(),
        )
        .build();
    let resource = Resource::builder_empty()
        .with_attributes([
            opentelemetry::KeyValue::new("service.name", export.service_name.clone()),
            opentelemetry::KeyValue::new("service.version", export.service_version.clone()),
        ])
        .build();
    Ok(SdkTracerProvider::builder().with_span_processor(processor).with_resource(resource).build())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether the subscriber for `filter` (logs only) lets each of `asks`
    /// (target, level) through.
    fn let_through(format: LogFormat, filter: &str) -> [bool; 4] {
        let (subscriber, _telemetry) = subscriber(format, filter, None).expect("subscriber");
        tracing::subscriber::with_default(subscriber, || {
            [
                tracing::enabled!(target: "portal_x", tracing::Level::DEBUG),
                tracing::enabled!(target: "portal_x", tracing::Level::TRACE),
                tracing::enabled!(target: "other", tracing::Level::INFO),
                tracing::enabled!(target: "other", tracing::Level::WARN),
            ]
        })
    }

    #[test]
    fn without_export_the_log_filter_decides_for_the_whole_subscriber() {
        for format in [LogFormat::Text, LogFormat::Json] {
            assert_eq!(let_through(format, "warn,portal_x=debug"), [true, false, false, true], "targets");
            // Names a span: an EnvFilter.
            assert_eq!(let_through(format, "warn,portal_x[request]=trace,portal_x=debug"), [true, false, false, true]);
            assert_eq!(let_through(format, "portal_x=loud"), [false, false, true, true], "info when unreadable");
        }
    }
}
