//! Timer `ArchiveExpiringMessages` (daily at 02:00 UTC): copies every message
//! ISDS is about to delete into its citizen's portal archive
//! ([`crate::archive::run`]).

use std::sync::Arc;

use portal_host::{Function, Outcome};

use crate::{Databox, archive};

/// `ArchiveExpiringMessages` on its daily schedule.
pub fn function(databox: Arc<Databox>) -> Function {
    Function::timer(archive::JOB, archive::SCHEDULE, move |_| {
        let databox = databox.clone();
        async move {
            let report = archive::run(&databox).await?;
            Ok(Outcome::done().returning(serde_json::to_value(report).unwrap_or_default()))
        }
    })
}
