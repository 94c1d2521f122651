//! Timer `ArchiveExpiringMessages` (daily at 02:00 UTC): copies every message
//! ISDS is about to delete into its citizen's portal archive
//! ([`crate::archive::run`]), then deletes the files a crashed send left in
//! the spool ([`crate::spool::collect`]).

use std::sync::Arc;

use portal_host::{Function, Outcome};

use crate::{Databox, archive, spool};

/// `ArchiveExpiringMessages` on its daily schedule.
pub fn function(databox: Arc<Databox>) -> Function {
    Function::timer(archive::JOB, archive::SCHEDULE, move |_| {
        let databox = databox.clone();
        async move {
            let report = archive::run(&databox).await?;
            let mut returned = serde_json::to_value(report).unwrap_or_default();
            match spool::collect(&databox).await {
                Ok(collected) => returned["spoolFilesCollected"] = collected.into(),
                Err(error) => tracing::warn!(error = %error, "the send spool could not be collected; next run"),
            }
            Ok(Outcome::done().returning(returned))
        }
    })
}
