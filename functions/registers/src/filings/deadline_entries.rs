//! A filing's legal deadline where it must be found again: the per-day index
//! the deadline timer walks (partition `filing-deadlines-<date>`, an entry id
//! that names the filing without naming the citizen) and the citizen's
//! calendar (`CalendarEntry` kind `filing-deadline`, cancelled once the
//! filing is final).

use portal_events::{CalendarEntry, Event};
use portal_store::{NewDocument, StoreError};
use serde_json::json;
use time::Date;

use super::{DEADLINE_ENTRY, Filing, FilingError, clip, corrupt, deadlines_law, update};
use crate::{COLLECTION, Registers};

/// The partition of the deadline index for one day.
pub fn index_partition(day: Date) -> String {
    format!("filing-deadlines-{day}")
}

/// The index entry's id: names the filing without naming the citizen.
pub fn index_id(subject: &str, filing_id: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, format!("{subject}\n{filing_id}").as_bytes());
    portal_store::lower_hex(&digest.as_ref()[..16])
}

/// Puts the filing's deadline into the day index and the citizen's calendar
/// (or cancels the calendar entry once the filing is final). Safe to repeat:
/// the index entry is create-only and the calendar entry's id is fixed.
/// Returns whether `filing.calendar` changed (the caller saves it).
pub async fn announce(registers: &Registers, subject: &str, filing: &mut Filing) -> Result<bool, FilingError> {
    let Some(deadline) = filing.legal_deadline else { return Ok(false) };
    let cancelled = filing.status.is_final();
    let wanted = if cancelled { "cancelled".to_owned() } else { deadline.to_string() };
    if filing.calendar.as_deref() == Some(wanted.as_str()) {
        return Ok(false);
    }
    if !cancelled {
        let entry = NewDocument::new(
            index_partition(deadline),
            index_id(subject, &filing.id),
            json!({"type": "filing-deadline-index", "subject": subject, "filingId": filing.id}),
        )
        .with_ttl(std::time::Duration::from_secs(400 * 24 * 3600));
        match registers.documents.create(COLLECTION, entry).await {
            Ok(_) | Err(StoreError::Conflict) => {}
            Err(error) => return Err(error.into()),
        }
    }
    let rule = deadlines_law::rule(&filing.kind).map_or_else(String::new, |rule| format!(" ({})", rule.source));
    let entry = CalendarEntry {
        entry_id: format!("filing-{}-deadline", filing.id),
        kind: "filing-deadline".into(),
        title: clip(&format!("Lhůta úřadu pro vyřízení: {}{rule}", filing.title), 200),
        date: deadline,
        document: None,
        source: "registers".into(),
        source_ref: filing.id.clone(),
        cancelled,
    };
    let data = serde_json::to_value(&entry).map_err(corrupt)?;
    let event = Event::new(DEADLINE_ENTRY, &format!("{}:{wanted}", filing.id), subject, registers.clock.now(), data);
    portal_events::publish(registers.queues.as_ref(), portal_events::CALENDAR_QUEUE, &event).await?;
    filing.calendar = Some(wanted);
    Ok(true)
}

/// Saves the calendar marker after [`announce`]; a lost race is harmless
/// (the next announcement publishes the same entry again).
pub async fn announce_and_mark(registers: &Registers, subject: &str, filing: &mut Filing) -> Result<(), FilingError> {
    if announce(registers, subject, filing).await? {
        let calendar = filing.calendar.clone();
        let saved = update(registers, subject, &filing.id, |stored| {
            if stored.calendar == calendar {
                return false;
            }
            stored.calendar.clone_from(&calendar);
            true
        })
        .await;
        match saved {
            Ok(_) | Err(FilingError::Contended) => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}
