//! Queue function `RecordFiling` (on [`portal_events::FILINGS_QUEUE`]): other
//! capabilities (a data box request, a petition handed over) publish a
//! [`FilingRecord`] per status change; the filing is upserted by its id, each
//! status recorded once, and its deadline put in the index and the calendar.

use std::sync::Arc;

use portal_events::{Event, FilingRecord};
use portal_host::{Function, InvocationError, Outcome, QueueInvocation};
use portal_security::{AccessEntry, Action, Actor, SubjectId};
use portal_store::StoreError;

use crate::Registers;
use crate::filings::deadline_entries::announce_and_mark;
use crate::filings::{Filing, FilingError, FilingStatus, clip, create, load, parse_filing_id, save};

/// The function's name.
pub const FUNCTION: &str = "RecordFiling";

/// `RecordFiling` on queue [`portal_events::FILINGS_QUEUE`].
pub fn function(registers: Arc<Registers>) -> Function {
    Function::queue(FUNCTION, portal_events::FILINGS_QUEUE, move |invocation: QueueInvocation<Event>| {
        let registers = registers.clone();
        async move {
            // Erasure is final: a late event for an erased citizen is dropped and recorded.
            registers.sealer.keys().refuse_erased(&invocation.message.subject).await?;
            record_filing(&registers, &invocation.message).await
        }
    })
}

/// One delivery of a filing record: one fact about a filing from another
/// capability, idempotent under replays and reordering.
pub async fn record_filing(registers: &Registers, event: &Event) -> Result<Outcome, InvocationError> {
    Ok(record(registers, event).await?)
}

async fn record(registers: &Registers, event: &Event) -> Result<Outcome, FilingError> {
    let subject = SubjectId::parse(event.subject.clone()).map_err(|_| FilingError::Malformed("subject".into()))?;
    let record: FilingRecord = event.data_as().map_err(|e| FilingError::Malformed(e.to_string()))?;
    let id = parse_filing_id(&record.filing_id)
        .ok_or_else(|| FilingError::Malformed("filingId: 1-100 characters [A-Za-z0-9-_.]".into()))?;
    let status = FilingStatus::parse_recordable(&record.status)
        .ok_or_else(|| FilingError::Malformed(format!("status: {}", FilingStatus::RECORDABLE_RULE)))?;
    if record.kind.is_empty() || record.title.trim().is_empty() || record.source.is_empty() {
        return Err(FilingError::Malformed("kind, title and source are required".into()));
    }
    let note = record.status_note.clone().map(|n| clip(&n, 500));
    let mut outcome = "status already recorded";
    let mut filing = None;
    for _ in 0..5 {
        match load(registers, subject.as_str(), &id).await? {
            None => {
                let mut new = Filing::new(
                    &id,
                    &record.kind,
                    &clip(&record.title, 200),
                    record.agency.clone(),
                    status,
                    record.at,
                    &record.source,
                    &record.source_ref,
                    record.simulated,
                );
                if let Some(note) = &note
                    && let Some(first) = new.status_history.first_mut()
                {
                    first.note = Some(note.clone());
                }
                if record.legal_deadline.is_some() {
                    new.legal_deadline = record.legal_deadline;
                    new.deadline_given = true;
                }
                match create(registers, subject.as_str(), &new).await {
                    Ok(_) => {
                        outcome = "filing recorded";
                        filing = Some(new);
                        break;
                    }
                    Err(FilingError::Store(StoreError::Conflict)) => continue,
                    Err(error) => return Err(error),
                }
            }
            Some((mut existing, etag)) => {
                if existing.source != record.source {
                    return Err(FilingError::Malformed(format!(
                        "filing {id} belongs to {}, not {}",
                        existing.source, record.source
                    )));
                }
                let mut changed = existing.apply_status(status, record.at, note.clone());
                if !existing.deadline_given && record.legal_deadline.is_some() {
                    existing.legal_deadline = record.legal_deadline;
                    existing.deadline_given = true;
                    changed = true;
                }
                if existing.agency.box_id.is_none() && record.agency.box_id.is_some() {
                    existing.agency = record.agency.clone();
                    changed = true;
                }
                if !changed {
                    filing = Some(existing);
                    break;
                }
                match save(registers, subject.as_str(), &existing, &etag).await {
                    Ok(_) => {
                        outcome = "status recorded";
                        filing = Some(existing);
                        break;
                    }
                    Err(FilingError::Contended) => continue,
                    Err(error) => return Err(error),
                }
            }
        }
    }
    let Some(mut filing) = filing else { return Err(FilingError::Contended) };
    announce_and_mark(registers, subject.as_str(), &mut filing).await?;
    if outcome != "status already recorded" {
        let entry = AccessEntry::new(
            Actor::System { job: FUNCTION.into() },
            Action::Update,
            "filing",
            &id,
            "záznam o podání z jiné části portálu",
        );
        registers.access_log.record(&subject, entry).await?;
    }
    Ok(Outcome::done().log(outcome))
}
