//! Timer `SendReminders` (daily at 07:00 UTC): the reminders due today and
//! those missed on earlier days ([`crate::reminders::run`]).

use std::sync::Arc;

use portal_host::{Function, Outcome};

use crate::{Calendar, reminders};

/// `SendReminders` on its daily schedule.
pub fn function(calendar: Arc<Calendar>) -> Function {
    Function::timer(reminders::JOB, reminders::SCHEDULE, move |_| {
        let calendar = calendar.clone();
        async move {
            let report = reminders::run(&calendar).await?;
            Ok(Outcome::done().returning(serde_json::to_value(report).unwrap_or_default()))
        }
    })
}
