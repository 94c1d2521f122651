//! Timer `AdvanceDataBoxRequests` (hourly): takes every pending
//! request to create a data box one step further through ISDS's box
//! management ([`crate::box_requests::advance_all`]).

use std::sync::Arc;

use portal_host::{Function, Outcome};

use crate::{Databox, box_requests};

/// `AdvanceDataBoxRequests` on its schedule.
pub fn function(databox: Arc<Databox>) -> Function {
    Function::timer(box_requests::JOB, box_requests::SCHEDULE, move |_| {
        let databox = databox.clone();
        async move {
            let report = box_requests::advance_all(&databox).await?;
            Ok(Outcome::done().returning(serde_json::to_value(report).unwrap_or_default()))
        }
    })
}
