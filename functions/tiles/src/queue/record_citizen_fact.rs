//! Queue function `RecordCitizenFact` (on [`CITIZEN_FACTS_QUEUE`]): a fact
//! about a citizen another capability knows, for the visibility rules
//! "entrepreneur" (registers, from the register of persons, ROS) and "has a
//! data box" (registers, from the population register, ROB). Kept sealed in the citizen's
//! `personal` document ([`crate::personal`]), never in clear.
//!
//! Idempotent and order-free: the newest observation (the event's
//! `occurredAt`) wins, so a redelivery or a late older event changes
//! nothing. An event for an erased citizen is dropped (and could not be
//! sealed anyway).

use std::sync::Arc;

use portal_events::{CITIZEN_FACTS_QUEUE, CitizenFact, Event, kinds};
use portal_host::{Function, InvocationError, Outcome, QueueInvocation};
use portal_security::SubjectId;

use crate::Tiles;
use crate::personal::{FactKind, Observed};

/// The function's name.
pub const FUNCTION: &str = "RecordCitizenFact";

/// `RecordCitizenFact` on queue `citizen-facts`.
pub fn function(tiles: Arc<Tiles>) -> Function {
    Function::queue(FUNCTION, CITIZEN_FACTS_QUEUE, move |invocation: QueueInvocation<Event>| {
        let tiles = tiles.clone();
        async move { record(&tiles, &invocation.message).await }
    })
}

/// One delivery of a fact.
pub async fn record(tiles: &Tiles, event: &Event) -> Result<Outcome, InvocationError> {
    let kind = match event.kind.as_str() {
        kinds::ENTREPRENEUR => FactKind::Entrepreneur,
        kinds::DATA_BOX => FactKind::HasDataBox,
        other => return Err(InvocationError::permanent(format!("not a citizen fact: {other}"))),
    };
    let fact: CitizenFact =
        event.data_as().map_err(|error| InvocationError::permanent(format!("a citizen fact's data: {error}")))?;
    let subject = SubjectId::parse(&event.subject)
        .map_err(|_| InvocationError::permanent("the event's subject is not a subject id"))?;
    tiles.sealer.keys().refuse_erased(subject.as_str()).await?;
    tiles.record_fact(subject.as_str(), kind, Observed { holds: fact.holds, at: event.occurred_at }).await?;
    Ok(Outcome::done().log(format!("{} recorded", event.kind)))
}
