//! Timer `ClosePetitions` (daily at 00:05 UTC): closes every published
//! petition whose end date has passed in Prague ([`crate::closing::run`]).

use std::sync::Arc;

use portal_host::{Function, Outcome};

use crate::closing;
use crate::service::PetitionService;

/// `ClosePetitions` on its daily schedule.
pub fn function(service: Arc<PetitionService>) -> Function {
    Function::timer(closing::JOB, closing::SCHEDULE, move |_| {
        let service = service.clone();
        async move {
            let report = closing::run(&service).await?;
            Ok(Outcome::done().returning(serde_json::to_value(report).unwrap_or_default()))
        }
    })
}
