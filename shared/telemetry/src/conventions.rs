//! How the portal's spans map to Application Insights, applied to every span
//! just before the Application Insights exporter turns it into envelopes.
//!
//! The spans themselves use these fields (plain `tracing` fields, so the crates
//! that emit them need no OpenTelemetry dependency):
//!
//! | field | on | meaning |
//! | --- | --- | --- |
//! | `otel.name` | requests | the function name (the request's and the operation's name) |
//! | `otel.kind` | all | `"server"` → request, `"client"` → dependency |
//! | `otel.status_code` | all | `"ERROR"` when the request or call failed |
//! | `http.response.status_code` | requests | the status answered (the result code) |
//! | `dependency.type` | dependencies | `Azure DocumentDB`, `Azure blob`, `Azure queue`, `Azure Key Vault`, `HTTP`, `SQLite` |
//! | `server.address` | dependencies | the target: the service's host name |
//! | `dependency.result` | dependencies | the result code: the status the service answered |
//!
//! A dependency succeeded unless it recorded `otel.status_code = "ERROR"`; a
//! store answer such as "not found" or "precondition failed" is an answer, not
//! a failure, and shows as success with its status as the result code.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use opentelemetry::trace::{SpanKind, Status};
use opentelemetry::{Key, KeyValue, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

/// Fields that may identify a citizen: never exported, whatever span or event
/// carries them (they may still appear in the process's own log lines, which
/// stay in the region's Log Analytics workspace under the same access rules).
pub const REDACTED_FIELDS: &[&str] = &[
    "citizen",
    "subject",
    "subject_id",
    "owner",
    "partition",
    "box_id",
    "email",
    "phone",
    "path",
    "prefix",
    "user.id",
    "enduser.id",
    "client.address",
    "token",
];

/// Export errors are logged at most this often.
pub const ERROR_LOG_INTERVAL: Duration = Duration::from_secs(60);

const DEPENDENCY_TYPE: &str = "dependency.type";
const DEPENDENCY_RESULT: &str = "dependency.result";
/// The attribute the Application Insights exporter reads a dependency's type from.
const EXPORTER_TYPE: &str = "db.system.name";
/// The attribute the exporter reads a result code from.
const EXPORTER_RESULT: &str = "http.response.status_code";
/// An attribute starting with `ai.` that names a context tag becomes that tag.
const OPERATION_NAME_TAG: &str = "ai.operation.name";

/// Wraps the Application Insights exporter: applies the conventions above,
/// and turns export failures into a log line at most once a minute (the batch
/// processor would otherwise log each one, and a request never sees them).
#[derive(Debug)]
pub struct Conventions<E> {
    inner: E,
    errors: Mutex<ErrorLog>,
}

#[derive(Debug, Default)]
struct ErrorLog {
    last: Option<Instant>,
    suppressed: u64,
}

impl<E> Conventions<E> {
    pub fn new(inner: E) -> Self {
        Self { inner, errors: Mutex::new(ErrorLog::default()) }
    }

    fn log_failure(&self, error: &dyn std::fmt::Display) {
        let Ok(mut log) = self.errors.lock() else { return };
        let now = Instant::now();
        if log.last.is_some_and(|last| now.duration_since(last) < ERROR_LOG_INTERVAL) {
            log.suppressed += 1;
            return;
        }
        tracing::warn!(
            error = %error,
            failures_since_last_report = log.suppressed,
            "telemetry export to Application Insights failed; spans of this batch are lost"
        );
        log.last = Some(now);
        log.suppressed = 0;
    }
}

impl<E: SpanExporter> SpanExporter for Conventions<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let batch = batch.into_iter().map(apply).collect();
        if let Err(error) = self.inner.export(batch).await {
            self.log_failure(&error);
        }
        Ok(())
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

fn redacted(key: &Key) -> bool {
    REDACTED_FIELDS.contains(&key.as_str())
}

fn attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| &kv.value)
}

/// One span as Application Insights should see it.
pub fn apply(mut span: SpanData) -> SpanData {
    span.attributes.retain(|kv| !redacted(&kv.key));
    for event in &mut span.events.events {
        event.attributes.retain(|kv| !redacted(&kv.key));
    }
    match span.span_kind {
        SpanKind::Server | SpanKind::Consumer => {
            span.attributes.push(KeyValue::new(OPERATION_NAME_TAG, span.name.clone()));
        }
        SpanKind::Client | SpanKind::Producer => {
            if let Some(kind) = attribute(&span.attributes, DEPENDENCY_TYPE).cloned() {
                span.attributes.push(KeyValue::new(EXPORTER_TYPE, kind));
            }
            let failed = matches!(span.status, Status::Error { .. });
            let result = match attribute(&span.attributes, DEPENDENCY_RESULT) {
                Some(result) => result.clone(),
                None => Value::from(if failed { "Error" } else { "OK" }),
            };
            span.attributes.push(KeyValue::new(EXPORTER_RESULT, result));
            if !failed {
                span.status = Status::Ok;
            }
        }
        SpanKind::Internal => {}
    }
    span
}
