//! Timer `HarvestNoticeBoards` (hourly, at ten past): [`crate::harvest::run`].

use std::sync::Arc;

use portal_host::{Function, Outcome};

use crate::{NoticeBoards, harvest};

/// `HarvestNoticeBoards` on its schedule.
pub fn function(nb: Arc<NoticeBoards>) -> Function {
    Function::timer(harvest::JOB, harvest::SCHEDULE, move |_| {
        let nb = nb.clone();
        async move {
            let report = harvest::run(&nb).await?;
            Ok(Outcome::done().returning(serde_json::to_value(report).unwrap_or_default()))
        }
    })
}
