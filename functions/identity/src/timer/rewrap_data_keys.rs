//! Timer `RewrapDataKeys` (daily at 03:15 UTC): after a key-encryption key
//! rotation, every citizen's data key is rewrapped under the newest version
//! (no data is re-encrypted).

use std::sync::Arc;

use portal_host::{Function, InvocationError, Outcome};
use serde_json::json;

use crate::Identity;

/// The function's name.
pub const FUNCTION: &str = "RewrapDataKeys";

/// Daily at 03:15 UTC.
pub const REWRAP_SCHEDULE: &str = "0 15 3 * * *";

/// `RewrapDataKeys` on its daily schedule.
pub fn function(identity: Arc<Identity>) -> Function {
    Function::timer(FUNCTION, REWRAP_SCHEDULE, move |_| {
        let identity = identity.clone();
        async move { rewrap_data_keys(&identity).await }
    })
}

/// One run of `RewrapDataKeys`; idempotent (a second run rewraps nothing).
pub async fn rewrap_data_keys(identity: &Identity) -> Result<Outcome, InvocationError> {
    let report = identity.sealer.keys().rewrap_all().await?;
    tracing::info!(report.rewrapped, report.already_current, report.missing, report.failed, "data keys rewrapped");
    Ok(Outcome::done().returning(json!({
        "rewrapped": report.rewrapped,
        "alreadyCurrent": report.already_current,
        "missing": report.missing,
        "failed": report.failed,
    })))
}
