//! The `ops` capability: what operators and the platform ask of the app.
//!
//! - `GET /api/health`: liveness, touches nothing (Front Door's probe must not
//!   fail over a region because one dependency hiccups);
//! - `GET /api/ready`: each store answers, else 503 naming what failed (the
//!   deployment smoke test and the health check of a slot);
//! - `GET /api/version`: what is running;
//! - timer `Housekeeping`: purges expired records (TTL documents such as
//!   sessions and idempotency markers, expired queue messages, orphaned blob
//!   files) where the backend does not do it itself, and reports the depth of
//!   every poison queue (`<queue>-poison`, where the Functions host moves a
//!   message that failed five times): one `poison queue depth` log line per
//!   queue, which the poison-queue alert reads (Azure Storage has no
//!   per-queue metric).

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use portal_host::{AuthLevel, Function, InvocationError, Outcome, Problem, TimerInvocation};
use portal_store::{BlobStore, DocumentStore, QueueStore, StoreError};
use serde_json::json;

/// Every readiness check must answer within this.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// Hourly, on the hour.
pub const HOUSEKEEPING_SCHEDULE: &str = "0 0 * * * *";

#[derive(Debug, Clone)]
pub struct Ops {
    pub documents: Arc<dyn DocumentStore>,
    pub blobs: Arc<dyn BlobStore>,
    pub queues: Arc<dyn QueueStore>,
    /// `embedded` or `azure`.
    pub store_kind: &'static str,
    pub version: &'static str,
    pub environment: &'static str,
}

pub fn functions(ops: Ops) -> Vec<Function> {
    let ops = Arc::new(ops);
    let housekeeping = Arc::clone(&ops);
    vec![
        Function::http("Health", "health", AuthLevel::Anonymous).get(health).build(),
        Function::http("Ready", "ready", AuthLevel::Anonymous).get(ready).with_state(Arc::clone(&ops)).build(),
        Function::http("Version", "version", AuthLevel::Anonymous).get(version).with_state(ops).build(),
        Function::timer("Housekeeping", HOUSEKEEPING_SCHEDULE, move |invocation| {
            let ops = Arc::clone(&housekeeping);
            async move { run_housekeeping(&ops, invocation).await }
        }),
    ]
}

async fn health() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

async fn check(
    name: &'static str,
    ping: impl std::future::Future<Output = Result<(), StoreError>>,
) -> (&'static str, bool) {
    match tokio::time::timeout(CHECK_TIMEOUT, ping).await {
        Ok(Ok(())) => (name, true),
        Ok(Err(error)) => {
            tracing::warn!(check = name, error = %error, "readiness check failed");
            (name, false)
        }
        Err(_) => {
            tracing::warn!(check = name, "readiness check timed out");
            (name, false)
        }
    }
}

async fn ready(State(ops): State<Arc<Ops>>) -> Response {
    let checks = futures::join!(
        check("documents", ops.documents.ping()),
        check("blobs", ops.blobs.ping()),
        check("queues", ops.queues.ping()),
    );
    let checks = [checks.0, checks.1, checks.2];
    let failed: Vec<&str> = checks.iter().filter(|(_, ok)| !ok).map(|(name, _)| *name).collect();
    if failed.is_empty() {
        let body: serde_json::Map<String, serde_json::Value> =
            checks.iter().map(|(name, _)| ((*name).to_owned(), json!("ok"))).collect();
        Json(json!({"status": "ready", "checks": body})).into_response()
    } else {
        Problem::unavailable(format!("not ready: {}", failed.join(", "))).into_response()
    }
}

async fn version(State(ops): State<Arc<Ops>>) -> Json<serde_json::Value> {
    Json(json!({"version": ops.version, "environment": ops.environment, "store": ops.store_kind}))
}

/// The message of the log line that reports one poison queue's depth; the
/// poison-queue alert (bicep `portal-alerts`) searches for it.
pub const POISON_DEPTH_MESSAGE: &str = "poison queue depth";

/// One run of the `Housekeeping` timer; safe to run twice (purging is
/// idempotent, counting changes nothing).
pub async fn run_housekeeping(ops: &Ops, invocation: TimerInvocation) -> Result<Outcome, InvocationError> {
    let purged = ops.documents.purge_expired().await.map_err(|error| {
        if error.is_retryable() { InvocationError::retryable(error) } else { InvocationError::permanent(error) }
    })?;
    let poisoned = poison_depths(ops.queues.as_ref()).await;
    tracing::info!(purged, past_due = invocation.info.is_past_due, "housekeeping done");
    let mut outcome = Outcome::done().log(format!("purged {purged} expired records"));
    for (queue, depth) in &poisoned {
        outcome = outcome.log(format!("{queue}: {depth} poison messages"));
    }
    let poison: serde_json::Map<String, serde_json::Value> =
        poisoned.into_iter().map(|(queue, depth)| (queue, json!(depth))).collect();
    Ok(outcome.returning(json!({"purged": purged, "poison": poison})))
}

/// The depth of every `*-poison` queue, each also logged as
/// [`POISON_DEPTH_MESSAGE`] with `queue` and `depth`. A queue that cannot be
/// counted is logged and skipped: counting must not fail the purge.
pub async fn poison_depths(queues: &dyn QueueStore) -> Vec<(String, u64)> {
    let names = match queues.list_queues().await {
        Ok(names) => names,
        Err(error) => {
            tracing::warn!(error = %error, "cannot list the queues; poison-queue depth not reported this run");
            return Vec::new();
        }
    };
    let mut depths = Vec::new();
    for queue in names.into_iter().filter(|queue| queue.as_str().ends_with("-poison")) {
        match queues.approximate_count(&queue).await {
            Ok(depth) => {
                tracing::info!(queue = %queue, depth, "{}", POISON_DEPTH_MESSAGE);
                depths.push((queue.as_str().to_owned(), depth));
            }
            Err(error) => tracing::warn!(queue = %queue, error = %error, "cannot count a poison queue"),
        }
    }
    depths
}
