//! The queue function `FileCalendarEntry` on `calendar-entry`: dated entries
//! other capabilities put in a citizen's calendar (an [`Event`] whose `data`
//! is a [`CalendarEntry`]).
//!
//! An entry is upserted by its `entryId` (document `entry-<entry id>` in the
//! citizen's partition): publishing it again replaces date and title,
//! `cancelled: true` removes it with its pending reminders. The entry records
//! the event that last set it and when that event happened, so:
//! - a replay of the same event changes nothing (it only makes sure the
//!   reminders exist, which a crash may have cut short);
//! - an older event delivered late never overwrites a newer one; a cancelled
//!   entry leaves a short-lived marker for that reason.
//!
//! Write order: the entry first, then its schedule documents, then removal of
//! the previous version's ones. A crash anywhere is repaired by the redelivery;
//! a schedule document of an old date that survives a crash never fires,
//! because firing checks the entry's current date.

use std::sync::Arc;

use portal_events::CALENDAR_QUEUE;
use portal_events::{CalendarEntry, Event};
use portal_host::{Function, InvocationError, Outcome, QueueInvocation};
use portal_security::{AccessEntry, Action, Actor, SubjectId};
use portal_store::{NewDocument, StoreError};
use serde_json::json;

use crate::item::{CANCELLED_TYPE, Content, ITEM_TYPE, Origin, StoredItem, entry_doc_id};
use crate::{COLLECTION, Calendar, CalendarError, reminders};

/// The queue function's name.
pub const FUNCTION: &str = "FileCalendarEntry";

/// `FileCalendarEntry` on queue `calendar-entry`.
pub fn function(calendar: Arc<Calendar>) -> Function {
    Function::queue(FUNCTION, CALENDAR_QUEUE, move |invocation: QueueInvocation<Event>| {
        let calendar = calendar.clone();
        async move {
            // Erasure is final: a late event for an erased citizen is dropped and recorded.
            calendar.sealer.keys().refuse_erased(&invocation.message.subject).await?;
            file_calendar_entry(&calendar, &invocation.message).await
        }
    })
}
/// The kinds of entries other capabilities send.
pub const KINDS: [&str; 4] = ["document-expiry", "deemed-delivery", "petition-deadline", "filing-deadline"];
/// The documents whose expiry the portal follows.
pub const DOCUMENTS: [&str; 3] = ["id-card", "passport", "driving-licence"];
/// How long a cancelled entry's marker stays (longer than a queue message lives).
const CANCELLED_KEPT: std::time::Duration = std::time::Duration::from_secs(30 * 24 * 3600);

/// Why an entry message can never be filed.
#[derive(Debug, thiserror::Error)]
pub enum EntryRejected {
    #[error("the event subject is not a subject id")]
    Subject,
    #[error("the event data is not a calendar entry: {0}")]
    Shape(String),
    #[error("calendar entry field '{field}': {rule}")]
    Field { field: &'static str, rule: &'static str },
}

fn check(entry: &CalendarEntry) -> Result<(), EntryRejected> {
    let field = |field, rule| Err(EntryRejected::Field { field, rule });
    if entry.entry_id.is_empty() || entry.entry_id.chars().count() > 150 || entry.entry_id.chars().any(char::is_control)
    {
        return field("entryId", "1-150 characters, no control characters");
    }
    if entry.cancelled {
        return Ok(());
    }
    if !KINDS.contains(&entry.kind.as_str()) {
        return field("kind", "one of document-expiry, deemed-delivery, petition-deadline, filing-deadline");
    }
    let title = entry.title.trim();
    if title.is_empty() || title.chars().count() > 200 || title.chars().any(char::is_control) {
        return field("title", "1-200 characters, no control characters");
    }
    if entry.kind == "document-expiry" && !entry.document.as_deref().is_some_and(|d| DOCUMENTS.contains(&d)) {
        return field("document", "for document-expiry one of id-card, passport, driving-licence");
    }
    if entry.source.is_empty() || entry.source.len() > 50 {
        return field("source", "1-50 characters");
    }
    if entry.source_ref.len() > 200 {
        return field("sourceRef", "at most 200 characters");
    }
    if !(2000..=2100).contains(&entry.date.year()) {
        return field("date", "a date in the years 2000-2100");
    }
    Ok(())
}

/// What filing one message did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filed {
    Created,
    Updated,
    Cancelled,
    /// The same event again: nothing changed.
    Replayed,
    /// An older event than the one the entry already reflects.
    Outdated,
}

/// The queue function: files one entry. A message that can never be filed is
/// a permanent failure; a store or key-service failure is retried.
pub async fn file_calendar_entry(calendar: &Calendar, event: &Event) -> Result<Outcome, InvocationError> {
    let subject = SubjectId::parse(&event.subject).map_err(|_| InvocationError::permanent(EntryRejected::Subject))?;
    let entry: CalendarEntry =
        event.data_as().map_err(|e| InvocationError::permanent(EntryRejected::Shape(e.to_string())))?;
    check(&entry).map_err(InvocationError::permanent)?;
    match file(calendar, &subject, event, &entry).await {
        Ok(filed) => Ok(Outcome::done().log(format!("calendar entry {filed:?}"))),
        Err(error) if error.is_retryable() => Err(InvocationError::retryable(error)),
        Err(error) => Err(InvocationError::permanent(error)),
    }
}

/// Files one checked entry (see the module documentation).
pub async fn file(
    calendar: &Calendar,
    subject: &SubjectId,
    event: &Event,
    entry: &CalendarEntry,
) -> Result<Filed, CalendarError> {
    let owner = subject.as_str();
    let doc_id = entry_doc_id(&entry.entry_id);
    let existing = calendar.documents.get(COLLECTION, owner, &doc_id).await?;
    let previous = match &existing {
        Some(doc) if doc.body["type"] == ITEM_TYPE => Some(StoredItem::from_document(doc)?),
        _ => None,
    };
    let existing_at = existing
        .as_ref()
        .and_then(|doc| doc.body["occurredAt"].as_str())
        .and_then(|t| time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok());
    if existing_at.is_some_and(|at| at > event.occurred_at) {
        return Ok(Filed::Outdated);
    }
    if existing.as_ref().is_some_and(|doc| doc.body["eventId"] == event.id.as_str()) {
        // The same event again: make sure what a crash may have cut short exists.
        if let Some(previous) = &previous {
            reminders::after_write(calendar, owner, &doc_id, previous, &previous.reminders).await?;
        }
        return Ok(Filed::Replayed);
    }
    let log = |action| {
        AccessEntry::new(
            Actor::System { job: FUNCTION.into() },
            action,
            "calendar-entry",
            &entry.entry_id,
            "záznam do kalendáře od jiné služby portálu",
        )
    };

    if entry.cancelled {
        if let Some(previous) = &previous {
            calendar.access_log.record(subject, log(Action::Delete)).await?;
            reminders::remove(calendar, &previous.reminders).await?;
        }
        let marker = NewDocument::new(
            owner,
            doc_id.clone(),
            json!({"type": CANCELLED_TYPE, "entryId": entry.entry_id, "eventId": event.id,
                   "occurredAt": rfc3339(event.occurred_at)}),
        )
        .with_ttl(CANCELLED_KEPT);
        write(calendar, marker, existing.as_ref().map(|d| &d.etag)).await?;
        return Ok(Filed::Cancelled);
    }

    let now = calendar.clock.now();
    let content = Content { title: entry.title.trim().to_owned(), description: None, location: None };
    let mut item = StoredItem {
        doc_type: ITEM_TYPE.into(),
        origin: Origin::System,
        kind: entry.kind.clone(),
        date: entry.date,
        end_date: entry.date,
        all_day: true,
        start: None,
        end: None,
        remind_days_before: None,
        entry_id: Some(entry.entry_id.clone()),
        document: entry.document.clone(),
        source: Some(entry.source.clone()),
        source_ref: Some(entry.source_ref.clone()),
        event_id: Some(event.id.clone()),
        occurred_at: Some(event.occurred_at),
        sealed: calendar.seal(owner, &doc_id, &content).await?,
        reminders: Vec::new(),
        updated_at: now,
    };
    item.reminders = reminders::refs_for(&calendar.settings, owner, &doc_id, &item, calendar.today());
    let action = if previous.is_some() { Action::Update } else { Action::Create };
    calendar.access_log.record(subject, log(action)).await?;
    write(calendar, NewDocument::new(owner, doc_id.clone(), item.to_body()?), existing.as_ref().map(|d| &d.etag))
        .await?;
    let old_refs = previous.map(|p| p.reminders).unwrap_or_default();
    reminders::after_write(calendar, owner, &doc_id, &item, &old_refs).await?;
    Ok(if action == Action::Create { Filed::Created } else { Filed::Updated })
}

/// Creates or replaces (with the ETag read) the entry's document. Losing a
/// race to a concurrent delivery is retryable: the retry sees the winner.
async fn write(calendar: &Calendar, doc: NewDocument, etag: Option<&portal_store::ETag>) -> Result<(), CalendarError> {
    let result = match etag {
        Some(etag) => calendar.documents.replace(COLLECTION, doc, etag).await.map(drop),
        None => calendar.documents.create(COLLECTION, doc).await.map(drop),
    };
    match result {
        Ok(()) => Ok(()),
        Err(StoreError::Conflict | StoreError::PreconditionFailed) => Err(CalendarError::Contended),
        Err(error) => Err(error.into()),
    }
}

fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn entry() -> CalendarEntry {
        CalendarEntry {
            entry_id: "expiry-EA123".into(),
            kind: "document-expiry".into(),
            title: "Konec platnosti řidičského průkazu".into(),
            date: date!(2026 - 12 - 23),
            document: Some("driving-licence".into()),
            source: "registers".into(),
            source_ref: "EA123".into(),
            cancelled: false,
        }
    }

    #[test]
    fn entries_are_checked_before_filing() {
        assert!(check(&entry()).is_ok());
        let rule = |e: CalendarEntry| match check(&e) {
            Err(EntryRejected::Field { field, .. }) => field,
            _ => "ok",
        };
        assert_eq!(rule(CalendarEntry { kind: "party".into(), ..entry() }), "kind");
        assert_eq!(rule(CalendarEntry { title: " ".into(), ..entry() }), "title");
        assert_eq!(rule(CalendarEntry { document: None, ..entry() }), "document");
        assert_eq!(rule(CalendarEntry { entry_id: String::new(), ..entry() }), "entryId");
        assert_eq!(rule(CalendarEntry { date: date!(1999 - 12 - 31), ..entry() }), "date");
        assert_eq!(
            rule(CalendarEntry { title: String::new(), cancelled: true, ..entry() }),
            "ok",
            "a cancel needs the id only"
        );
    }
}
