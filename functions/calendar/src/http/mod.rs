//! The calendar's HTTP functions, one file per action, and the types their
//! requests and responses share.

pub mod create_event;
pub mod create_feed;
pub mod delete_event;
pub mod delete_feed;
pub mod feed;
pub mod list_events;
pub mod show_event;
pub mod show_feed;
pub mod update_event;

use std::sync::Arc;

use axum::http::StatusCode;
use portal_host::Problem;
use portal_security::Citizen;
use portal_store::ETag;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::item::{self, ITEM_TYPE, Item, Listed, Origin, StoredItem};
use crate::validate::{OwnEvent, When};
use crate::{Calendar, CalendarError, reminders};

pub(crate) type Shared = Arc<Calendar>;

/// An item of the calendar as the citizen sees it: an own event or an entry
/// another service put there (document expiry, a deadline).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CalendarItem {
    #[schema(example = "event-5f0c3a0e-0000-4000-8000-000000000000")]
    pub id: String,
    /// `own` (the citizen's event, editable) or `system` (from another service).
    pub origin: Origin,
    /// What kind of item: `event`, `document-expiry`, `deadline`, …
    pub kind: String,
    pub title: String,
    /// The first day, YYYY-MM-DD (Europe/Prague).
    #[schema(value_type = String, example = "2026-12-23")]
    pub date: Day,
    /// The last day, YYYY-MM-DD.
    #[schema(value_type = String)]
    pub end_date: Day,
    pub all_day: bool,
    /// Whether the citizen may change or delete it.
    pub editable: bool,
    /// Start of a timed event, RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// The document kind an expiry entry is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document: Option<String>,
    /// The service an entry came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remind_days_before: Option<u32>,
}

impl From<Item> for CalendarItem {
    fn from(item: Item) -> Self {
        Listed::from(item).into()
    }
}

/// A day in an answer, written `YYYY-MM-DD` as it is serialized: a page's
/// two days an item take no string each (issue 18).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Day(pub time::Date);

impl Serialize for Day {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        item::with_date_text(self.0, |text| serializer.serialize_str(text))
    }
}

/// Takes the item apart: its strings move into the answer, none is copied.
impl From<Listed> for CalendarItem {
    fn from(item: Listed) -> Self {
        let Listed { id, stored: s, content } = item;
        let rfc3339 = &time::format_description::well_known::Rfc3339;
        Self {
            id,
            origin: s.origin,
            kind: s.kind,
            title: content.title,
            date: Day(s.date),
            end_date: Day(s.end_date),
            all_day: s.all_day,
            editable: s.origin == Origin::Own,
            start: s.start.and_then(|t| t.format(rfc3339).ok()),
            end: s.end.and_then(|t| t.format(rfc3339).ok()),
            description: content.description,
            location: content.location,
            document: s.document,
            source: s.source,
            entry_id: s.entry_id,
            remind_days_before: s.remind_days_before,
        }
    }
}

/// An own event as the citizen writes it: either `date` (all day) or
/// `start` and `end`. Every broken rule comes back at once, field by field.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"title": "Návštěva úřadu", "date": "2026-12-23", "remindDaysBefore": 1}))]
#[allow(dead_code)] // documents the body that `validate::own_event` checks
#[serde(rename_all = "camelCase")]
pub struct EventInput {
    /// 1–200 characters without control characters.
    title: String,
    /// An all-day event's (first) day, YYYY-MM-DD in 2000–2100.
    date: Option<String>,
    /// The last day of an all-day event over several days (with `date`,
    /// not before it, at most 366 days after it).
    end_date: Option<String>,
    /// A timed event's start, RFC 3339 with an offset.
    start: Option<String>,
    /// A timed event's end, not before `start`, at most 366 days after it.
    end: Option<String>,
    all_day: Option<bool>,
    /// At most 2,000 characters.
    description: Option<String>,
    /// At most 200 characters.
    location: Option<String>,
    /// Remind this many days before (0–60).
    remind_days_before: Option<u32>,
}

impl Calendar {
    /// The stored form of a checked own event, its content sealed.
    pub(crate) async fn stored_event(
        &self,
        owner: &str,
        id: &str,
        event: &OwnEvent,
    ) -> Result<StoredItem, CalendarError> {
        let (start, end) = match event.when {
            When::Timed { start, end, .. } => (Some(start), Some(end)),
            When::AllDay { .. } => (None, None),
        };
        let mut stored = StoredItem {
            doc_type: ITEM_TYPE.into(),
            origin: Origin::Own,
            kind: "event".into(),
            date: event.when.first(),
            end_date: event.when.last(),
            all_day: matches!(event.when, When::AllDay { .. }),
            start,
            end,
            remind_days_before: event.remind_days_before,
            entry_id: None,
            document: None,
            source: None,
            source_ref: None,
            event_id: None,
            occurred_at: None,
            sealed: self.seal(owner, id, &event.content).await?,
            reminders: Vec::new(),
            updated_at: self.clock.now(),
        };
        stored.reminders = reminders::refs_for(&self.settings, owner, id, &stored, self.today());
        Ok(stored)
    }
}

/// The citizen's item behind a path id: 404 for anything not theirs.
pub(crate) async fn load(calendar: &Calendar, citizen: &Citizen, id: &str) -> Result<(Item, ETag), Problem> {
    if !item::is_item_id(id) {
        return Err(not_found());
    }
    calendar.load_item(citizen.subject.as_str(), id).await?.ok_or_else(not_found)
}

pub(crate) fn not_found() -> Problem {
    Problem::not_found("no such item in your calendar")
}

/// Entries from other services change only when those services change them.
pub(crate) fn own_only(item: &Item) -> Result<(), Problem> {
    if item.stored.origin == Origin::Own {
        return Ok(());
    }
    let source = item.stored.source.as_deref().unwrap_or("another service");
    Err(Problem::new(StatusCode::CONFLICT, "system-entry", "This calendar entry cannot be changed").with_detail(
        format!("this entry comes from {source} and cannot be edited or deleted; it changes when {source} changes it"),
    ))
}

/// Reminder housekeeping after a write the citizen already has an answer
/// for: a failure here is logged, and the next timer run covers today.
pub(crate) async fn settle_quietly(calendar: &Calendar, stored: &StoredItem, previous: &[reminders::ReminderRef]) {
    if let Err(error) = reminders::settle(calendar, stored, previous).await {
        tracing::warn!(error = %portal_host::runtime::error_chain(&error), "reminders of an event not settled yet");
    }
}
