//! Events this capability publishes. The kinds start with `petitions.`, the
//! notification category citizens set preferences for; ids are fixed by the
//! fact, so a repeat after a crash or a replayed request is dropped by the
//! consumer.

use portal_events::{CALENDAR_QUEUE, CalendarEntry, Event, Notice, PetitionRef, kinds, publish, publish_notice};
use portal_store::StoreError;
use time::OffsetDateTime;

use crate::model::{ERASED_CREATOR, Petition, format_date};

/// The creator's petition was closed (by them or at its end date).
pub const CLOSED: &str = kinds::PETITION_CLOSED;
/// An official blocked signing (§6a(5)); `data.reason` says why.
pub const BLOCKED: &str = kinds::PETITION_BLOCKED;
pub const UNBLOCKED: &str = kinds::PETITION_UNBLOCKED;
/// The petition went to the addressee's data box (the data box confirms
/// the sending itself with `databox.sent-on-behalf`).
pub const HANDED_OVER: &str = kinds::PETITION_HANDED_OVER;
/// A petition to the Senate passed the threshold of signatures.
pub const SENATE_THRESHOLD_REACHED: &str = kinds::PETITION_SENATE_THRESHOLD_REACHED;
/// The calendar entry of the petition's end date. (The addressee's 30 days
/// travel with the filing record; the filings capability dates them.)
pub const END_DATE: &str = "calendar.petition-deadline";

/// Tells the creator something about their petition: `notice` builds the
/// payload around the petition's id, title and addressee.
pub async fn notify(
    queues: &dyn portal_store::QueueStore,
    key: &str,
    petition: &Petition,
    at: OffsetDateTime,
    notice: impl FnOnce(PetitionRef) -> Notice,
) -> Result<(), StoreError> {
    if petition.creator == ERASED_CREATOR {
        return Ok(()); // The creator erased their account: nobody to tell.
    }
    let about = PetitionRef {
        petition_id: petition.id.clone(),
        title: petition.title.clone(),
        addressee: petition.addressee.name.clone(),
    };
    publish_notice(queues, &notice(about), key, &petition.creator, at).await
}

/// A dated entry in the creator's calendar.
pub async fn calendar(
    queues: &dyn portal_store::QueueStore,
    kind: &str,
    key: &str,
    petition: &Petition,
    at: OffsetDateTime,
    entry: &CalendarEntry,
) -> Result<(), StoreError> {
    if petition.creator == ERASED_CREATOR {
        return Ok(()); // The creator erased their account: no calendar.
    }
    let data = serde_json::to_value(entry).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let event = Event::new(kind, key, &petition.creator, at, data);
    publish(queues, CALENDAR_QUEUE, &event).await
}

/// At most `max` characters (calendar titles are ≤ 200).
pub fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut clipped: String = text.chars().take(max.saturating_sub(1)).collect();
    clipped.push('…');
    clipped
}

/// The end date of a published petition, as a calendar entry.
pub fn end_date_entry(petition: &Petition, cancelled: bool) -> CalendarEntry {
    CalendarEntry {
        entry_id: format!("petition-{}-end", petition.id),
        kind: "petition-deadline".into(),
        title: clip(&format!("Konec sběru podpisů petice: {}", petition.title), 200),
        date: petition.ends_on,
        document: None,
        source: "petitions".into(),
        source_ref: petition.id.clone(),
        cancelled,
    }
}

/// `YYYY-MM-DD` of an instant's Prague date, for event data.
pub fn day(at: OffsetDateTime) -> String {
    format_date(crate::model::prague_date(at))
}
