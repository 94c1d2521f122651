//! Filings (Podání): one model for everything a citizen files with an agency —
//! requests to write data into the population register, the driving licence
//! application, and what other capabilities report (a data box request, a
//! petition handed over).
//!
//! **Storage.** A filing is the document `filing-<id>` in collection
//! [`crate::COLLECTION`], partition = the citizen. Its kind-specific data is
//! sealed with the citizen's key (`document = filing-<id>`, `field = data`);
//! attachments (the licence photo) are sealed blobs under
//! `registers/<citizen folder>/filings/<id>/`. The status history only grows:
//! [`Filing::apply_status`] adds a status once, keeps the history in time
//! order, and a late older status never replaces a newer one (a decision
//! stays the current status).
//!
//! **Deadlines.** Each kind has the agency's legal deadline
//! ([`deadlines_law::RULES`]), counted from the submission. The deadline goes
//! to the citizen's calendar (`CalendarEntry` kind `filing-deadline`, entry id
//! `filing-<id>-deadline`, cancelled once the filing is decided or rejected)
//! and to a per-day index (partition `filing-deadlines-<date>`), which the
//! daily timer [`deadlines::check_filing_deadlines`] walks day by day, never
//! across partitions. A deadline that passes without a decision is told to
//! the citizen once and marks the filing `overdue`; the citizen may then send
//! the agency a reminder (urgence) from their data box ([`deadlines::urge`]).
//!
//! **Sources.**
//! - [`submission`]: register writes and the driving licence are filed
//!   through the registers gateway (`POST /v1/filings`, `Idempotency-Key` =
//!   the filing id); their progress at the agency is read back
//!   (`GET /v1/filings/{reference}`) when the citizen looks at the filing and
//!   by the deadline timer.
//! - [`crate::queue::record_filing`]: other capabilities publish a
//!   [`portal_events::FilingRecord`] on [`portal_events::FILINGS_QUEUE`]; the
//!   queue function `RecordFiling` upserts the filing by its id.

pub mod certificate;
pub mod deadline_entries;
pub mod deadlines;
pub mod deadlines_law;
pub mod jpeg;
pub mod licence;
pub mod register_writes;
mod status;
pub mod submission;

use base64::Engine as _;
use portal_events::FilingAgency;
use portal_host::{Failure, Problem};
use portal_store::{ETag, FilterOp, NewDocument, Order, Query, StoreError};
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;

use crate::gateway::GatewayError;
use crate::payments::PaymentError;
use crate::{COLLECTION, Registers, citizen_folder};

pub use status::{FilingStatus, StatusEntry};

time::serde::format_description!(iso_date, Date, "[year]-[month]-[day]");

/// The calendar event kind for a filing's deadline.
pub const DEADLINE_ENTRY: &str = "filings.deadline";
/// The notification when a deadline passed without a decision.
pub const DEADLINE_PASSED: &str = portal_events::kinds::FILING_DEADLINE_PASSED;
/// The field a filing's kind-specific data is sealed under.
pub const DATA_FIELD: &str = "data";

/// An attachment the portal keeps itself, sealed in blob storage for
/// `(owner = citizen, document = filing-<id>, field = attachment:<name>)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    pub name: String,
    pub media_type: String,
    pub size: u64,
    pub blob_path: String,
}

impl Attachment {
    pub fn sealed_field(&self) -> String {
        format!("attachment:{}", self.name)
    }
}

/// The fee of a filing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FilingPayment {
    pub id: String,
    pub amount_czk: u32,
    pub pay_url: String,
}

/// A filing as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Filing {
    #[serde(rename = "type")]
    pub doc_type: String,
    pub id: String,
    /// `delivery-address`, `contact`, `qualified-certificate`,
    /// `driving-licence`, or a kind another capability reports.
    pub kind: String,
    pub title: String,
    /// Base64 of the sealed kind-specific data (JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_data: Option<String>,
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    pub agency: FilingAgency,
    pub status: FilingStatus,
    pub status_history: Vec<StatusEntry>,
    #[serde(with = "iso_date::option", default, skip_serializing_if = "Option::is_none")]
    pub legal_deadline: Option<Date>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// The sort key of the citizen's list.
    pub created_at_nanos: i64,
    #[serde(with = "time::serde::rfc3339::option", default, skip_serializing_if = "Option::is_none")]
    pub submitted_at: Option<OffsetDateTime>,
    /// The capability it came from (`registers`, `databox`, `petitions`).
    pub source: String,
    pub source_ref: String,
    #[serde(default)]
    pub simulated: bool,
    /// The legal deadline passed without a decision (the citizen was told).
    #[serde(default)]
    pub overdue: bool,
    #[serde(with = "time::serde::rfc3339::option", default, skip_serializing_if = "Option::is_none")]
    pub urged_at: Option<OffsetDateTime>,
    /// The agency's reference from the gateway's receipt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_reference: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<FilingPayment>,
    /// What the calendar was last told: the deadline date, or `cancelled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calendar: Option<String>,
    /// The deadline came with the filing (its producer knew it) rather than
    /// from the table by kind.
    #[serde(default)]
    pub deadline_given: bool,
}

impl Filing {
    /// A new filing with its first status.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: &str,
        kind: &str,
        title: &str,
        agency: FilingAgency,
        status: FilingStatus,
        at: OffsetDateTime,
        source: &str,
        source_ref: &str,
        simulated: bool,
    ) -> Self {
        let mut filing = Self {
            doc_type: "filing".into(),
            id: id.to_owned(),
            kind: kind.to_owned(),
            title: title.to_owned(),
            sealed_data: None,
            attachments: Vec::new(),
            agency,
            status,
            status_history: vec![StatusEntry { status, at, seq: 1, note: None }],
            legal_deadline: None,
            created_at: at,
            created_at_nanos: i64::try_from(at.unix_timestamp_nanos()).unwrap_or(i64::MAX),
            submitted_at: None,
            source: source.to_owned(),
            source_ref: source_ref.to_owned(),
            simulated,
            overdue: false,
            urged_at: None,
            gateway_reference: None,
            payment: None,
            calendar: None,
            deadline_given: false,
        };
        filing.after_status_change();
        filing
    }

    /// Adds `status` unless it is recorded already, with the next sequence
    /// number; the history is shown in time order. The current status is
    /// the last one recorded, by sequence, never by the sources' timestamps
    /// (an agency's whole seconds would sort its "accepted" before the
    /// portal's own "submitted" of the same second), except that a step
    /// recorded late never takes the filing back to an earlier one (a final
    /// status stays). Returns whether anything changed.
    pub fn apply_status(&mut self, status: FilingStatus, at: OffsetDateTime, note: Option<String>) -> bool {
        if self.status_history.iter().any(|entry| entry.status == status) {
            return false;
        }
        // Documents from before sequence numbers: number them in their stored order.
        if self.status_history.iter().any(|entry| entry.seq == 0) {
            for (i, entry) in self.status_history.iter_mut().enumerate() {
                entry.seq = u32::try_from(i + 1).unwrap_or(u32::MAX);
            }
        }
        let seq = self.status_history.iter().map(|entry| entry.seq).max().unwrap_or(0).saturating_add(1);
        self.status_history.push(StatusEntry { status, at, seq, note });
        self.status = current_status(&self.status_history).unwrap_or(status);
        self.status_history.sort_by_key(|entry| (entry.at, entry.seq));
        self.after_status_change();
        true
    }

    /// The submission time is the earliest step at the agency (a late
    /// `submitted` moves it back); the legal deadline runs from it unless
    /// the filing came with its own.
    fn after_status_change(&mut self) {
        let submitted = self
            .status_history
            .iter()
            .filter(|e| !matches!(e.status, FilingStatus::AwaitingPayment | FilingStatus::PaymentFailed))
            .map(|e| e.at)
            .min();
        if let Some(at) = submitted
            && self.submitted_at != Some(at)
        {
            self.submitted_at = Some(at);
            if !self.deadline_given {
                self.legal_deadline = deadlines_law::deadline(&self.kind, at);
            }
        }
    }

    /// The deadline passed (Prague's today is after its last day) and the
    /// agency has not decided.
    pub fn deadline_passed(&self, now: OffsetDateTime) -> bool {
        !self.status.is_final()
            && self.legal_deadline.is_some_and(|deadline| deadlines_law::prague_date(now) > deadline)
    }

    /// A reminder can be sent now.
    pub fn can_urge(&self, now: OffsetDateTime) -> bool {
        self.deadline_passed(now) && self.agency.box_id.is_some() && self.urged_at.is_none()
    }
}

/// The last status recorded (by sequence) that does not step back.
pub fn current_status(history: &[StatusEntry]) -> Option<FilingStatus> {
    let mut ordered: Vec<&StatusEntry> = history.iter().collect();
    ordered.sort_by_key(|entry| entry.seq);
    ordered.into_iter().fold(None, |current: Option<FilingStatus>, entry| match current {
        Some(current) if entry.status.rank() < current.rank() => Some(current),
        _ => Some(entry.status),
    })
}

pub fn doc_id(id: &str) -> String {
    format!("filing-{id}")
}

/// A filing id as the API and events take it: 1–100 characters of letters,
/// digits, `-`, `_`, `.` (the portal's own are UUIDs).
pub fn parse_filing_id(value: &str) -> Option<String> {
    let ok = !value.is_empty()
        && value.len() <= 100
        && value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    ok.then(|| value.to_owned())
}

/// A fresh id for a filing made here.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().hyphenated().to_string()
}

/// Where an attachment's sealed bytes live.
pub fn attachment_path(subject: &str, filing_id: &str, name: &str) -> String {
    format!("registers/{}/filings/{filing_id}/{name}", citizen_folder(subject))
}

#[derive(Debug, thiserror::Error)]
pub enum FilingError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] portal_crypto::CryptoError),
    #[error(transparent)]
    Gateway(#[from] GatewayError),
    #[error(transparent)]
    Payment(#[from] crate::payments::PaymentError),
    #[error("another writer changed the filing; try again")]
    Contended,
    #[error("the payment is not settled yet")]
    PaymentPending,
    #[error("the filing is paid but not yet with the agency")]
    NotSentYet,
    #[error("the message is not usable: {0}")]
    Malformed(String),
    #[error("the stored filing is not readable: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Pdf(#[from] portal_pdf::PdfError),
}
impl Failure for FilingError {
    fn is_retryable(&self) -> bool {
        match self {
            Self::Store(e) => e.is_retryable() || matches!(e, StoreError::PreconditionFailed),
            Self::Crypto(e) => e.is_retryable(),
            Self::Gateway(e) => e.is_retryable(),
            Self::Payment(e) => e.is_retryable(),
            Self::Contended | Self::PaymentPending | Self::NotSentYet => true,
            Self::Malformed(_) | Self::Corrupt(_) | Self::Pdf(_) => false,
        }
    }

    /// What the citizen sees: 503 naming what is unavailable (payments, the
    /// registers, storage, the key service) when trying later can help,
    /// else 500.
    fn problem(&self) -> Problem {
        match self {
            Self::Payment(PaymentError::NotConnected) => Problem::unavailable("payments are not connected yet"),
            Self::Payment(PaymentError::Unavailable(_)) => Problem::unavailable("the payment gateway"),
            Self::Gateway(GatewayError::Unavailable(_)) => Problem::unavailable("the registers"),
            Self::Store(_) | Self::Contended => Problem::unavailable("storage"),
            Self::Crypto(e) if e.is_retryable() => Problem::unavailable("the key service"),
            _ => Problem::internal(),
        }
    }
}

fn corrupt(error: impl std::fmt::Display) -> FilingError {
    FilingError::Corrupt(error.to_string())
}

pub async fn load(registers: &Registers, subject: &str, id: &str) -> Result<Option<(Filing, ETag)>, FilingError> {
    let Some(doc) = registers.documents.get(COLLECTION, subject, &doc_id(id)).await? else {
        return Ok(None);
    };
    if doc.body["type"] != "filing" {
        return Ok(None);
    }
    let filing = serde_json::from_value(doc.body).map_err(corrupt)?;
    Ok(Some((filing, doc.etag)))
}

pub async fn create(registers: &Registers, subject: &str, filing: &Filing) -> Result<ETag, FilingError> {
    let body = serde_json::to_value(filing).map_err(corrupt)?;
    Ok(registers.documents.create(COLLECTION, NewDocument::new(subject, doc_id(&filing.id), body)).await?)
}

/// Replaces the filing if it is still the version `etag` names.
pub async fn save(registers: &Registers, subject: &str, filing: &Filing, etag: &ETag) -> Result<ETag, FilingError> {
    let body = serde_json::to_value(filing).map_err(corrupt)?;
    match registers.documents.replace(COLLECTION, NewDocument::new(subject, doc_id(&filing.id), body), etag).await {
        Ok(etag) => Ok(etag),
        Err(StoreError::PreconditionFailed) => Err(FilingError::Contended),
        Err(error) => Err(error.into()),
    }
}

/// Reads, changes and writes back with the ETag, again on a race (at most
/// five tries). `change` returns whether it changed anything.
pub async fn update(
    registers: &Registers,
    subject: &str,
    id: &str,
    mut change: impl FnMut(&mut Filing) -> bool,
) -> Result<Option<Filing>, FilingError> {
    for _ in 0..5 {
        let Some((mut filing, etag)) = load(registers, subject, id).await? else { return Ok(None) };
        if !change(&mut filing) {
            return Ok(Some(filing));
        }
        match save(registers, subject, &filing, &etag).await {
            Ok(_) => return Ok(Some(filing)),
            Err(FilingError::Contended) => continue,
            Err(error) => return Err(error),
        }
    }
    Err(FilingError::Contended)
}

/// One page of the citizen's filings, newest first.
pub async fn list(
    registers: &Registers,
    subject: &str,
    page_size: u32,
    continuation: Option<String>,
) -> Result<(Vec<Filing>, Option<String>), FilingError> {
    let query = Query::default()
        .filter("type", FilterOp::Eq, "filing")
        .order_by("createdAtNanos", Order::Descending)
        .page_size(page_size)
        .after(continuation);
    let page = registers.documents.query(COLLECTION, subject, query).await?;
    let items = page
        .items
        .into_iter()
        .map(|doc| serde_json::from_value(doc.body).map_err(corrupt))
        .collect::<Result<Vec<Filing>, _>>()?;
    Ok((items, page.continuation))
}

/// Seals the kind-specific data into the filing.
pub async fn seal_data(
    registers: &Registers,
    subject: &str,
    filing: &mut Filing,
    data: &impl Serialize,
) -> Result<(), FilingError> {
    let plain = serde_json::to_vec(data).map_err(corrupt)?;
    let sealed = registers.sealer.encrypt(subject, &doc_id(&filing.id), DATA_FIELD, &plain).await?;
    filing.sealed_data = Some(base64::engine::general_purpose::STANDARD.encode(sealed));
    Ok(())
}

/// The kind-specific data, opened.
pub async fn open_data<T: serde::de::DeserializeOwned>(
    registers: &Registers,
    subject: &str,
    filing: &Filing,
) -> Result<Option<T>, FilingError> {
    let Some(sealed) = &filing.sealed_data else { return Ok(None) };
    let sealed = base64::engine::general_purpose::STANDARD.decode(sealed).map_err(corrupt)?;
    let plain = registers.sealer.decrypt(subject, &doc_id(&filing.id), DATA_FIELD, &sealed).await?;
    serde_json::from_slice(&plain).map(Some).map_err(corrupt)
}
pub(crate) fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut clipped: String = text.chars().take(max.saturating_sub(1)).collect();
    clipped.push('…');
    clipped
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn filing() -> Filing {
        Filing::new(
            "f1",
            "petition-hand-over",
            "Petice",
            FilingAgency { name: "Úřad".into(), box_id: None },
            FilingStatus::Submitted,
            datetime!(2026-11-23 08:00 UTC),
            "petitions",
            "p1",
            true,
        )
    }

    #[test]
    fn statuses_are_added_once_and_a_late_older_one_never_wins() {
        let mut f = filing();
        assert_eq!(f.legal_deadline.map(|d| d.to_string()).as_deref(), Some("2026-12-23"));
        assert!(f.apply_status(FilingStatus::Decided, datetime!(2026-11-30 08:00 UTC), None));
        assert!(f.apply_status(FilingStatus::Accepted, datetime!(2026-11-24 08:00 UTC), None));
        assert!(!f.apply_status(FilingStatus::Accepted, datetime!(2026-11-25 08:00 UTC), None), "once");
        assert_eq!(f.status, FilingStatus::Decided, "a late earlier step does not take it back");
        let order: Vec<_> = f.status_history.iter().map(|e| (e.status, e.seq)).collect();
        assert_eq!(
            order,
            [(FilingStatus::Submitted, 1), (FilingStatus::Accepted, 3), (FilingStatus::Decided, 2)],
            "shown in time order, numbered in the order recorded"
        );
        // A non-final status stamped after the decision does not reopen it.
        assert!(f.apply_status(FilingStatus::InProgress, datetime!(2026-12-01 08:00 UTC), None));
        assert_eq!(f.status, FilingStatus::Decided);
    }

    #[test]
    fn the_current_status_is_the_last_recorded_not_the_latest_stamped() {
        // The portal recorded "submitted" at 08:00:00.700; the agency stamps its "accepted" in whole
        // seconds, 08:00:00, which sorts before it by time.
        let mut f = Filing::new(
            "f2",
            "delivery-address",
            "Adresa",
            FilingAgency { name: "Úřad".into(), box_id: None },
            FilingStatus::Submitted,
            datetime!(2026-11-23 08:00:00.7 UTC),
            "registers",
            "r1",
            true,
        );
        assert!(f.apply_status(FilingStatus::Accepted, datetime!(2026-11-23 08:00:00 UTC), None));
        assert_eq!(f.status, FilingStatus::Accepted);
        assert!(f.apply_status(FilingStatus::InProgress, datetime!(2026-11-23 08:00:00 UTC), None));
        assert_eq!(f.status, FilingStatus::InProgress);
        // A stored filing from before sequence numbers keeps its stored order.
        let mut old = serde_json::to_value(&f).expect("json");
        for entry in old["statusHistory"].as_array_mut().expect("history") {
            entry.as_object_mut().expect("entry").remove("seq");
        }
        let mut old: Filing = serde_json::from_value(old).expect("an old document");
        assert!(old.apply_status(FilingStatus::Decided, datetime!(2026-11-23 07:59:59 UTC), None));
        assert_eq!(old.status, FilingStatus::Decided);
        let mut seqs: Vec<_> = old.status_history.iter().map(|e| e.seq).collect();
        seqs.sort_unstable();
        assert_eq!(seqs, [1, 2, 3, 4]);
    }
}
