//! Timer `Housekeeping` (hourly): purges expired records where the backend
//! does not do it itself, and reports the depth of every poison queue.

use std::sync::Arc;

use portal_host::{Function, InvocationError, Outcome, TimerInvocation};
use portal_store::QueueStore;
use serde_json::json;

use crate::Ops;

/// The function's name.
pub const FUNCTION: &str = "Housekeeping";

/// Hourly, on the hour.
pub const HOUSEKEEPING_SCHEDULE: &str = "0 0 * * * *";

/// The message of the log line that reports one poison queue's depth; the
/// poison-queue alert (bicep `portal-alerts`) searches for it.
pub const POISON_DEPTH_MESSAGE: &str = "poison queue depth";

/// `Housekeeping` on its hourly schedule.
pub fn function(ops: Arc<Ops>) -> Function {
    Function::timer(FUNCTION, HOUSEKEEPING_SCHEDULE, move |invocation| {
        let ops = ops.clone();
        async move { run_housekeeping(&ops, invocation).await }
    })
}

/// One run of the `Housekeeping` timer; safe to run twice (purging is
/// idempotent, counting changes nothing).
pub async fn run_housekeeping(ops: &Ops, invocation: TimerInvocation) -> Result<Outcome, InvocationError> {
    let purged = ops.documents.purge_expired().await?;
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
