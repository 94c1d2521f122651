//! Reminders (připomínky) before a document expires, before a deadline, and
//! before an own event the citizen asked to be reminded of.
//!
//! The daily timer must not walk every citizen. So when an item is written,
//! one *schedule document* per reminder goes into the partition of the day it
//! is due (`reminders-2026-12-23`, id `<owner>|<item>|<days>`), and the timer
//! [`run`] reads the partitions from the first day not yet finished (a
//! progress document) up to today: a day the timer missed is caught up, and a
//! reminder whose day had passed when its item was written was never
//! scheduled. A reminder due today is sent at once when its item is written
//! ([`after_write`]), so an entry filed after the morning run still reminds
//! on the day.
//!
//! Sending one reminder ([`fire`]) is idempotent and crash-safe:
//! - the item must still exist with the same date and still want this
//!   reminder, otherwise the schedule document is stale and is deleted (a
//!   cancelled or moved entry never reminds of its old date);
//! - the event published to `send-notification` has a fixed id
//!   `<kind>:<owner>:<entry>:<date>:<days>`, so the notifications capability
//!   drops a repeat; the date is part of it so an entry moved to a new date
//!   (a renewed document, an extended deadline) reminds again;
//! - the schedule document is marked sent after the publish (with its ETag);
//!   a crash in between publishes the same id again, never another one, and
//!   once marked it is never published again.

use portal_events::{NOTIFICATIONS_QUEUE, Notice, Reminder, kinds, publish};
use portal_security::{AccessEntry, Action, Actor, SubjectId};
use portal_store::{Document, FilterOp, NewDocument, Query, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::{Date, Duration};

use crate::item::{Origin, StoredItem, format_date, parse_date};
use crate::{COLLECTION, Calendar, CalendarError, CalendarSettings};

/// The timer function's name.
pub const JOB: &str = "SendReminders";
/// Daily at 07:00 UTC (08:00 or 09:00 in Prague).
pub const SCHEDULE: &str = "0 0 7 * * *";
/// The longest "remind me N days before" an own event may ask for.
pub const MAX_REMIND_DAYS_BEFORE: u32 = 60;

const PROGRESS_PARTITION: &str = "reminders-progress";
const PROGRESS_ID: &str = "progress";
const SCHEDULE_TYPE: &str = "calendar-reminder";
/// Schedule documents stay this long after their day, as the "sent" marker.
const KEEP_AFTER_DAY: Duration = Duration::days(90);

pub use crate::item::ReminderRef;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum State {
    Pending,
    Sent,
    Skipped,
}

/// A schedule document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Scheduled {
    #[serde(rename = "type")]
    doc_type: String,
    owner: String,
    item: String,
    days: u32,
    /// The item's date this reminder is for.
    date: String,
    state: State,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    event_id: Option<String>,
}

/// Which reminders an item wants: the event kind and the days before.
pub fn plan(settings: &CalendarSettings, item: &StoredItem) -> (&'static str, Vec<u32>) {
    let mut days = match item.origin {
        Origin::Own => item.remind_days_before.into_iter().collect(),
        Origin::System => match item.kind.as_str() {
            "document-expiry" => return (kinds::EXPIRY_REMINDER, dedup(settings.reminder_days.clone())),
            "petition-deadline" | "filing-deadline" => settings.deadline_reminder_days.clone(),
            _ => Vec::new(),
        },
    };
    days = dedup(days);
    (kinds::DEADLINE_REMINDER, days)
}

fn dedup(mut days: Vec<u32>) -> Vec<u32> {
    days.sort_unstable_by(|a, b| b.cmp(a));
    days.dedup();
    days
}

/// The partition of the reminders due on `day`.
pub fn partition_for(day: Date) -> String {
    format!("reminders-{}", format_date(day))
}

/// `<owner>|<item>|<days>`; when that would not fit a store id (255), the
/// SHA-256 of it, which is as stable.
pub fn schedule_id(owner: &str, item_id: &str, days: u32) -> String {
    let id = format!("{owner}|{item_id}|{days}");
    if id.len() <= 255 { id } else { format!("h-{}", crate::feed::sha256_hex(&id)) }
}

fn fire_day(date: Date, days: u32) -> Option<Date> {
    date.checked_sub(Duration::days(i64::from(days)))
}

/// The schedule documents an item needs, from `today` on (a reminder whose
/// day has passed is not scheduled).
pub fn refs_for(
    settings: &CalendarSettings,
    owner: &str,
    item_id: &str,
    item: &StoredItem,
    today: Date,
) -> Vec<ReminderRef> {
    let (_, days) = plan(settings, item);
    days.into_iter()
        .filter_map(|days| {
            let day = fire_day(item.date, days)?;
            (day >= today).then(|| ReminderRef { partition: partition_for(day), id: schedule_id(owner, item_id, days) })
        })
        .collect()
}

/// After an item was written (its `reminders` already set by [`refs_for`]):
/// [`schedule`], then [`settle`].
pub async fn after_write(
    calendar: &Calendar,
    owner: &str,
    item_id: &str,
    item: &StoredItem,
    previous: &[ReminderRef],
) -> Result<(), CalendarError> {
    schedule(calendar, owner, item_id, item).await?;
    settle(calendar, item, previous).await
}

/// Creates an item's schedule documents, create-only (so one already sent
/// stays sent). Harmless before the item exists: firing checks the item.
pub async fn schedule(calendar: &Calendar, owner: &str, item_id: &str, item: &StoredItem) -> Result<(), CalendarError> {
    let today = calendar.today();
    let (_, days) = plan(&calendar.settings, item);
    for days in days {
        let Some(day) = fire_day(item.date, days) else { continue };
        if day < today {
            continue;
        }
        let scheduled = Scheduled {
            doc_type: SCHEDULE_TYPE.into(),
            owner: owner.into(),
            item: item_id.into(),
            days,
            date: format_date(item.date),
            state: State::Pending,
            event_id: None,
        };
        let keep = (day - today) + KEEP_AFTER_DAY;
        let doc = NewDocument::new(
            partition_for(day),
            schedule_id(owner, item_id, days),
            serde_json::to_value(&scheduled).map_err(|e| CalendarError::Corrupt(e.to_string()))?,
        )
        .with_ttl(std::time::Duration::from_secs(u64::try_from(keep.whole_seconds()).unwrap_or(1).max(1)));
        match calendar.documents.create(COLLECTION, doc).await {
            Ok(_) | Err(StoreError::Conflict) => {}
            Err(error) => return Err(error.into()),
        }
    }
    Ok(())
}

/// After the item was written: deletes the schedule documents of its
/// previous version that it no longer has, and sends the ones due today.
pub async fn settle(calendar: &Calendar, item: &StoredItem, previous: &[ReminderRef]) -> Result<(), CalendarError> {
    let stale: Vec<ReminderRef> = previous.iter().filter(|r| !item.reminders.contains(r)).cloned().collect();
    remove(calendar, &stale).await?;
    let due_today = partition_for(calendar.today());
    for reference in item.reminders.iter().filter(|r| r.partition == due_today) {
        if let Some(doc) = calendar.documents.get(COLLECTION, &reference.partition, &reference.id).await? {
            fire(calendar, &doc).await?;
        }
    }
    Ok(())
}

/// Deletes schedule documents (before their item goes away).
pub async fn remove(calendar: &Calendar, refs: &[ReminderRef]) -> Result<(), CalendarError> {
    for reference in refs {
        match calendar.documents.delete(COLLECTION, &reference.partition, &reference.id, None).await {
            Ok(()) | Err(StoreError::NotFound) => {}
            Err(error) => return Err(error.into()),
        }
    }
    Ok(())
}

/// What happened to one schedule document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fired {
    Sent,
    /// Sent or skipped before.
    AlreadyDone,
    /// The item is gone, moved or no longer wants this reminder.
    Stale,
    /// The item's date has passed (a day caught up too late).
    Past,
}

/// Sends the reminder of one schedule document, at most once (see the module
/// documentation).
pub async fn fire(calendar: &Calendar, doc: &Document) -> Result<Fired, CalendarError> {
    let Ok(scheduled) = serde_json::from_value::<Scheduled>(doc.body.clone()) else {
        tracing::warn!(partition = %doc.partition, "a malformed reminder schedule document is dropped");
        drop_stale(calendar, doc).await?;
        return Ok(Fired::Stale);
    };
    if scheduled.state != State::Pending {
        return Ok(Fired::AlreadyDone);
    }
    let (Ok(owner), Some(date)) = (SubjectId::parse(&scheduled.owner), parse_date(&scheduled.date)) else {
        drop_stale(calendar, doc).await?;
        return Ok(Fired::Stale);
    };
    let item = match calendar.load_item(owner.as_str(), &scheduled.item).await {
        Ok(Some((item, _))) => item,
        Ok(None) | Err(CalendarError::Crypto(portal_crypto::CryptoError::Shredded)) => {
            drop_stale(calendar, doc).await?;
            return Ok(Fired::Stale);
        }
        Err(error) => return Err(error),
    };
    let (kind, wanted) = plan(&calendar.settings, &item.stored);
    if item.stored.date != date || !wanted.contains(&scheduled.days) {
        drop_stale(calendar, doc).await?;
        return Ok(Fired::Stale);
    }
    let today = calendar.today();
    if date < today {
        mark(calendar, doc, &scheduled, State::Skipped, None).await?;
        return Ok(Fired::Past);
    }
    let entry = item.stored.entry_id.clone().unwrap_or_else(|| item.id.clone());
    let key = format!("{}:{}:{}:{}", owner.as_str(), entry, scheduled.date, scheduled.days);
    let reminder = Reminder {
        entry_id: entry,
        item_id: item.id.clone(),
        kind: item.stored.kind.clone(),
        title: item.content.title.clone(),
        date,
        days_left: Some((date - today).whole_days()),
        document: item.stored.document.clone(),
    };
    let notice = if kind == kinds::EXPIRY_REMINDER {
        Notice::ExpiryReminder(reminder)
    } else {
        Notice::DeadlineReminder(reminder)
    };
    let now = calendar.clock.now();
    let event = notice.event(&key, owner.as_str(), now).map_err(|e| StoreError::Invalid(e.to_string()))?;
    publish(calendar.queues.as_ref(), NOTIFICATIONS_QUEUE, &event).await?;
    calendar
        .access_log
        .record(
            &owner,
            AccessEntry::new(
                Actor::System { job: JOB.into() },
                Action::Read,
                "calendar-item",
                &item.id,
                "připomínka termínu v kalendáři",
            ),
        )
        .await?;
    mark(calendar, doc, &scheduled, State::Sent, Some(event.id)).await?;
    Ok(Fired::Sent)
}

async fn mark(
    calendar: &Calendar,
    doc: &Document,
    scheduled: &Scheduled,
    state: State,
    event_id: Option<String>,
) -> Result<(), CalendarError> {
    let marked = Scheduled { state, event_id, ..scheduled.clone() };
    let mut new = NewDocument::new(
        doc.partition.clone(),
        doc.id.clone(),
        serde_json::to_value(&marked).map_err(|e| CalendarError::Corrupt(e.to_string()))?,
    );
    new.ttl = doc.ttl.or(Some(std::time::Duration::from_secs(90 * 24 * 3600)));
    match calendar.documents.replace(COLLECTION, new, &doc.etag).await {
        // Another run marked it first.
        Ok(_) | Err(StoreError::PreconditionFailed | StoreError::NotFound) => Ok(()),
        Err(error) => Err(error.into()),
    }
}

async fn drop_stale(calendar: &Calendar, doc: &Document) -> Result<(), CalendarError> {
    match calendar.documents.delete(COLLECTION, &doc.partition, &doc.id, Some(&doc.etag)).await {
        Ok(()) | Err(StoreError::NotFound | StoreError::PreconditionFailed) => Ok(()),
        Err(error) => Err(error.into()),
    }
}

/// What one run of the timer did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReminderReport {
    /// Day partitions read.
    pub days: u64,
    pub sent: u64,
    pub already_done: u64,
    pub stale: u64,
    pub past: u64,
    /// Reminders that failed (tried again next run).
    pub failed: u64,
}

/// The timer `SendReminders`: every pending reminder from the first day not
/// finished up to today.
pub async fn run(calendar: &Calendar) -> Result<ReminderReport, CalendarError> {
    let today = calendar.today();
    let settings = &calendar.settings;
    // A reminder due before this day is for a date already past.
    let longest = settings
        .reminder_days
        .iter()
        .chain(&settings.deadline_reminder_days)
        .copied()
        .chain([MAX_REMIND_DAYS_BEFORE])
        .max()
        .unwrap_or(MAX_REMIND_DAYS_BEFORE);
    let earliest = today.checked_sub(Duration::days(i64::from(longest))).unwrap_or(today);
    let progress = calendar.documents.get(COLLECTION, PROGRESS_PARTITION, PROGRESS_ID).await?;
    let mut day = progress
        .as_ref()
        .and_then(|doc| doc.body["nextDay"].as_str().and_then(parse_date))
        .map_or(earliest, |next| next.max(earliest));
    let mut report = ReminderReport::default();
    let mut hold: Option<Date> = None;
    while day <= today {
        report.days += 1;
        let failed_before = report.failed;
        run_day(calendar, day, &mut report).await?;
        if report.failed > failed_before && hold.is_none() {
            hold = Some(day);
        }
        let Some(next) = day.next_day() else { break };
        day = next;
    }
    // Today is read again next run: entries filed later today may add to it.
    let next = hold.unwrap_or(today).min(today);
    let doc = NewDocument::new(
        PROGRESS_PARTITION,
        PROGRESS_ID,
        json!({"type": "reminder-progress", "nextDay": format_date(next)}),
    );
    calendar.documents.upsert(COLLECTION, doc, None).await?;
    tracing::info!(
        days = report.days,
        sent = report.sent,
        stale = report.stale,
        past = report.past,
        failed = report.failed,
        "reminders done"
    );
    Ok(report)
}

async fn run_day(calendar: &Calendar, day: Date, report: &mut ReminderReport) -> Result<(), CalendarError> {
    let partition = partition_for(day);
    let mut continuation = None;
    loop {
        let query = Query::default().filter("state", FilterOp::Eq, "pending").page_size(200).after(continuation.take());
        let page = calendar.documents.query(COLLECTION, &partition, query).await?;
        for doc in &page.items {
            match fire(calendar, doc).await {
                Ok(Fired::Sent) => report.sent += 1,
                Ok(Fired::AlreadyDone) => report.already_done += 1,
                Ok(Fired::Stale) => report.stale += 1,
                Ok(Fired::Past) => report.past += 1,
                Err(error) => {
                    report.failed += 1;
                    tracing::warn!(error = %portal_host::runtime::error_chain(&error), "a reminder failed; tried again next run");
                }
            }
        }
        match page.continuation {
            Some(next) => continuation = Some(next),
            None => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_ids_stay_within_store_limits() {
        assert_eq!(schedule_id("DEMO%2Fjana", "entry-x", 30), "DEMO%2Fjana|entry-x|30");
        let long = schedule_id(&"a".repeat(200), &format!("entry-{}", "b".repeat(100)), 7);
        assert!(long.len() <= 255 && long.starts_with("h-"), "{long}");
        assert_eq!(long, schedule_id(&"a".repeat(200), &format!("entry-{}", "b".repeat(100)), 7), "stable");
    }
}
