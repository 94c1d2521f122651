//! The outcome of a store call, on the call's span (the `store.*`, `blob.*`
//! and `queue.*` spans declare `dependency.result` and `otel.status_code`).
//! Telemetry export makes each such span a dependency of the request it ran
//! in; see `portal_telemetry::conventions`.

use crate::error::StoreError;

/// Records what a failed call answered on the current span: its status (or
/// error kind) as the result code, and a failure unless the answer is one a
/// caller expects and handles (not found, conflict, precondition failed).
pub(crate) fn record_error(result_code: &str, error: &StoreError) {
    let span = tracing::Span::current();
    span.record("dependency.result", result_code);
    if !matches!(error, StoreError::NotFound | StoreError::Conflict | StoreError::PreconditionFailed) {
        span.record("otel.status_code", "ERROR");
    }
}
