//! Queue function `RecordPetitionHandOver` (on
//! [`crate::handover::OUTCOMES_QUEUE`]): the data box's answer to a hand-over
//! ([`DataMessageOutcome`]). Accepted by ISDS: the petition is recorded
//! `handed-over` and the creator told; refused: the hand-over is `failed`
//! with the reason and the creator may ask again (see [`crate::handover`]).
//! Idempotent: a repeated answer finds the petition already recorded and
//! publishes only the same events again (fixed ids).

use std::sync::Arc;

use portal_events::{DataMessageOutcome, Event, kinds};
use portal_host::{Function, InvocationError, Outcome, QueueInvocation};

use crate::handover::OUTCOMES_QUEUE;
use crate::service::PetitionService;

/// The function's name.
pub const FUNCTION: &str = "RecordPetitionHandOver";

/// `RecordPetitionHandOver` on queue `petition-hand-overs`.
pub fn function(service: Arc<PetitionService>) -> Function {
    Function::queue(FUNCTION, OUTCOMES_QUEUE, move |invocation: QueueInvocation<Event>| {
        let service = service.clone();
        async move { record(&service, &invocation.message).await }
    })
}

/// One delivery of a `databox.on-behalf-outcome` event.
pub async fn record(service: &PetitionService, event: &Event) -> Result<Outcome, InvocationError> {
    if event.kind != kinds::DATA_MESSAGE_OUTCOME {
        return Err(InvocationError::permanent(format!("not a data message outcome: {}", event.kind)));
    }
    let outcome: DataMessageOutcome =
        event.data_as().map_err(|e| InvocationError::permanent(format!("a malformed outcome: {e}")))?;
    match service.record_hand_over(&event.subject, &outcome, event.occurred_at).await? {
        Some(petition) => Ok(Outcome::done().log(format!(
            "petition {} is {} (hand-over {})",
            petition.id,
            petition.state.as_str(),
            if outcome.sent { "accepted" } else { "refused" }
        ))),
        None => Ok(Outcome::done().log("the outcome names no petition of its subject; nothing to record")),
    }
}
