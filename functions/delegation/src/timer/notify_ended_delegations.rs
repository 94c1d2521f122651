//! Timer `NotifyEndedDelegations` (daily, 05:00 UTC): tells each principal
//! that an authorisation ended by its date. Reads the `ends-<day>` entries of
//! the last [`LOOKBACK_DAYS`] days before today (a missed run is caught up),
//! and marks each grant told, so a second run or a replay tells nobody twice
//! (the notice's id is the grant's, too).

use std::sync::Arc;

use portal_host::{Function, InvocationError, Outcome};
use portal_store::Query;
use serde_json::json;

use crate::grant::{self, ends_partition};
use crate::{COLLECTION, DelegationError, Delegations};

pub const FUNCTION: &str = "NotifyEndedDelegations";
pub const SCHEDULE: &str = "0 0 5 * * *";
pub const LOOKBACK_DAYS: i64 = 7;

pub fn function(d: Arc<Delegations>) -> Function {
    Function::timer(FUNCTION, SCHEDULE, move |_| {
        let d = d.clone();
        async move {
            let told = run(&d).await.map_err(|error| {
                if portal_host::Failure::is_retryable(&error) {
                    InvocationError::retryable(error)
                } else {
                    InvocationError::permanent(error)
                }
            })?;
            Ok(Outcome::done().returning(json!({"told": told})))
        }
    })
}

/// One run: every grant that ended on one of the last days and was not yet told.
pub async fn run(d: &Delegations) -> Result<usize, DelegationError> {
    let today = d.today();
    let now = d.clock.now();
    let mut told = 0;
    for back in 1..=LOOKBACK_DAYS {
        let Some(day) = today.checked_sub(time::Duration::days(back)) else { continue };
        let mut continuation = None;
        loop {
            let page =
                d.documents.query(COLLECTION, &ends_partition(day), Query::default().after(continuation)).await?;
            for entry in page.items {
                let Some(stored) = grant::load(d, &entry.id).await? else { continue };
                if stored.record.end_notified || stored.record.revoked_at.is_some() || now < stored.record.ends_at {
                    continue;
                }
                match grant::tell_end(d, stored).await {
                    Ok(_) => told += 1,
                    // A revoke at the same moment told it instead.
                    Err(DelegationError::Contended) => {}
                    Err(error) => return Err(error),
                }
            }
            continuation = page.continuation;
            if continuation.is_none() {
                break;
            }
        }
    }
    Ok(told)
}
