//! What a citizen is told: the payload of every event on
//! [`NOTIFICATIONS_QUEUE`], one type per kind, gathered in [`Notice`].
//! Producers build a payload and publish it with [`publish_notice`] (or
//! [`Notice::event`]); the notifications capability reads it back with
//! [`Notice::from_event`] and renders the kind's template from the typed
//! value.
//!
//! The JSON is what the producers have always written (camelCase, the same
//! field names), so messages already queued still parse. Reading is strict
//! about what the notice's text uses and tolerant about the rest:
//!
//! - a field the text of its kind uses is required (an `Option` where the text
//!   mentions it only when present);
//! - the other fields say where the fact came from (ids, `source`,
//!   `simulated`, times the text does not show) and read as empty, zero,
//!   false or none when missing, so a leaner message still gets its own text;
//! - a required field missing, or any field of the wrong type, means the
//!   payload does not parse ([`NoticeError::Payload`]): the consumer falls
//!   back to a neutral text.

use portal_store::{QueueStore, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::{Date, OffsetDateTime};

use crate::{Event, NOTIFICATIONS_QUEUE, iso_date, kinds, publish};

/// `databox.new-message`: a message arrived in the citizen's data box. The
/// SMS names neither the sender nor the subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewMessage {
    #[serde(default)]
    pub message_id: String,
    pub sender: String,
    pub subject: String,
}

/// `databox.deemed-delivery-warning`: an unopened message will soon count as
/// delivered (fikce doručení).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeemedDeliveryWarning {
    #[serde(default)]
    pub message_id: String,
    pub sender: String,
    pub subject: String,
    /// When the message counts as delivered unless opened first.
    #[serde(with = "time::serde::rfc3339")]
    pub deemed_delivered_at: OffsetDateTime,
}

/// `databox.archive-finished`: messages were saved to Documents before the
/// data box system deletes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchiveFinished {
    /// How many messages this run archived.
    pub archived: u32,
}

/// `databox.credit-low`: the credit for postal data messages fell under the
/// threshold. Amounts in hellers (haléře).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreditLow {
    pub credit_hellers: i64,
    #[serde(default)]
    pub threshold_hellers: i64,
}

/// `databox.credit-purchase-confirmed`: a purchase of credit was paid and
/// credited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreditPurchaseConfirmed {
    #[serde(default)]
    pub payment_id: String,
    pub amount_hellers: i64,
}

/// `databox.credit-purchase-declined`: a purchase of credit ended unpaid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreditPurchaseDeclined {
    #[serde(default)]
    pub payment_id: String,
    pub reason: DeclineReason,
}

/// Why a purchase of credit was not credited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeclineReason {
    /// The payment gateway refused the payment.
    Declined,
    /// The citizen did not finish paying in time.
    Expired,
}

/// `databox.sent-on-behalf`: a data message another capability asked for
/// (an [`OutgoingDataMessage`](crate::OutgoingDataMessage)) left the
/// citizen's box.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataMessageSent {
    /// The request's id ([`OutgoingDataMessage::request_id`](crate::OutgoingDataMessage)).
    #[serde(default)]
    pub request_id: String,
    /// The ISDS message id.
    #[serde(default)]
    pub message_id: String,
    /// Who asked (e.g. `petitions`).
    #[serde(default)]
    pub source: String,
    /// The recipient's data box id.
    #[serde(default)]
    pub recipient: String,
    /// The message's subject; the text quotes it when not empty.
    #[serde(default)]
    pub subject: String,
    #[serde(default)]
    pub simulated: bool,
}

/// `databox.not-sent-on-behalf`: a data message another capability asked for
/// could not be sent; the request is over.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataMessageNotSent {
    #[serde(default)]
    pub request_id: String,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub recipient: String,
    /// The message's subject; the text quotes it when not empty.
    #[serde(default)]
    pub subject: String,
    /// Why, for the citizen; the text gives it when not empty.
    #[serde(default)]
    pub reason: String,
    /// The rules the message broke, as the data box's validation reported
    /// them (not shown).
    #[serde(default)]
    pub errors: Option<Value>,
}

/// `calendar.expiry-reminder` and `calendar.deadline-reminder`: a date in the
/// citizen's calendar comes close. One payload for both kinds: the calendar
/// writes the same fields for either, and the texts differ only in what they
/// name (the identity document, or the entry's title).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reminder {
    #[serde(default)]
    pub entry_id: String,
    #[serde(default)]
    pub item_id: String,
    /// The calendar entry's kind (`document-expiry`, `filing-deadline`, ...).
    #[serde(default)]
    pub kind: String,
    /// The entry's title: a deadline reminder names it, an expiry reminder
    /// names the document instead.
    #[serde(default)]
    pub title: String,
    /// The day the reminder is about (the expiry, the deadline).
    #[serde(with = "iso_date")]
    pub date: Date,
    /// Days from the reminder's day to `date`; when missing, counted from the
    /// event's day.
    #[serde(default)]
    pub days_left: Option<i64>,
    /// For expiries: `id-card`, `passport`, `driving-licence`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<String>,
}

/// `documents.filed`: a document was filed in the citizen's documents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentFiled {
    #[serde(default)]
    pub title: Option<String>,
}

/// `registers.extract-ready`: an extract from a register is in Documents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExtractReady {
    #[serde(default)]
    pub job_id: String,
    /// The extract's kind (`criminal-record`, `vehicles`, ...).
    #[serde(default)]
    pub kind: String,
    /// What the citizen asked for, e.g. „Výpis z evidence Rejstříku trestů“.
    pub title: String,
    /// The document filed in Documents.
    #[serde(default)]
    pub document_id: String,
    #[serde(default)]
    pub simulated: bool,
}

/// `registers.extract-failed`: an extract could not be obtained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExtractFailed {
    #[serde(default)]
    pub job_id: String,
    #[serde(default)]
    pub kind: String,
    pub title: String,
    /// Why, for the citizen.
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub simulated: bool,
}

/// `filings.deadline-passed`: the agency's legal deadline to answer a filing
/// (podání) passed without a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FilingDeadlinePassed {
    #[serde(default)]
    pub filing_id: String,
    pub title: String,
    /// The agency's name.
    pub agency: String,
    #[serde(with = "iso_date::option", default)]
    pub legal_deadline: Option<Date>,
    /// True when a reminder (urgence) can be sent from the citizen's box; the
    /// text offers it only then.
    #[serde(default)]
    pub can_urge: bool,
    #[serde(default)]
    pub simulated: bool,
}

/// The petition a petitions notice is about (its creator is the event's
/// subject).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PetitionRef {
    #[serde(default)]
    pub petition_id: String,
    pub title: String,
    /// The addressee's name; the hand-over notice names it (or says
    /// „adresát“ when empty).
    #[serde(default)]
    pub addressee: String,
}

/// `petitions.closed`: collecting signatures ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PetitionClosed {
    #[serde(flatten)]
    pub petition: PetitionRef,
    /// `creator` or `end-date`.
    #[serde(default)]
    pub closed_by: String,
}

/// `petitions.blocked`: the Ministry of the Interior blocked signing (§ 6a
/// zákona o právu petičním).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PetitionBlocked {
    #[serde(flatten)]
    pub petition: PetitionRef,
    /// The official's reason, for the citizen.
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub blocked_at: Option<OffsetDateTime>,
}

/// `petitions.unblocked`: signing may go on (or the petition closed, if its
/// end date passed meanwhile).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PetitionUnblocked {
    #[serde(flatten)]
    pub petition: PetitionRef,
    /// The petition's state after the block: `published` or `closed`.
    #[serde(default)]
    pub state: String,
}

/// `petitions.handed-over`: the petition went to the addressee's data box.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PetitionHandedOver {
    #[serde(flatten)]
    pub petition: PetitionRef,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub handed_over_at: Option<OffsetDateTime>,
    /// The addressee's 30 days to answer end on this day.
    #[serde(with = "iso_date::option", default)]
    pub answer_due: Option<Date>,
}

/// `petitions.senate-threshold-reached`: a petition to the Senate passed the
/// threshold of signatures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SenateThresholdReached {
    #[serde(flatten)]
    pub petition: PetitionRef,
    #[serde(default)]
    pub signatures: u64,
    #[serde(default)]
    pub threshold: u64,
}

/// `account.contact-verification`: a contact for notifications was verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactVerified {
    /// `email` or `sms`.
    #[serde(default)]
    pub channel: Option<String>,
}

/// `tiles.alert`: a portal behind a dashboard tile says something new that
/// matters (arrears at the customs office, a prescription about to expire).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TileAlert {
    /// The summary source (`celni-sprava`).
    #[serde(default)]
    pub source: String,
    /// The tile's Czech title (`ePortál Celní správy`).
    pub tile: String,
    /// What changed, in Czech, from the portal.
    pub text: String,
    /// The portal's key of the fact.
    #[serde(default)]
    pub alert: String,
    #[serde(default)]
    pub simulated: bool,
}

/// `noticeboards.new-item`: a new item on an official notice board (úřední
/// deska) matches one of the citizen's watches. Notice boards are public, so
/// the text may quote the item; it never quotes the watch (the citizen's
/// keywords).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NoticeBoardItem {
    /// The watch that matched.
    #[serde(default)]
    pub watch_id: String,
    /// The portal's id of the item.
    #[serde(default)]
    pub item_id: String,
    /// The board's name (the authority).
    pub board: String,
    /// The item's title (název).
    pub title: String,
    /// The day it was posted (vyvěšení), YYYY-MM-DD, when the board says.
    #[serde(default)]
    pub posted_on: Option<String>,
    /// The item's page on the authority's site.
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub simulated: bool,
}

/// `delegation.granted`: the delegate accepted the principal's authorisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DelegationGranted {
    #[serde(default)]
    pub grant: String,
    /// The delegate's name.
    pub delegate: String,
    /// The scopes, in Czech.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The last day, YYYY-MM-DD.
    pub ends_on: String,
}

/// `delegation.first-use`: the delegate acted under the grant for the first time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DelegationFirstUse {
    #[serde(default)]
    pub grant: String,
    pub delegate: String,
    /// What they did, in Czech (the access log's purpose).
    #[serde(default)]
    pub purpose: String,
}

/// `delegation.ended`: an authorisation ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DelegationEnded {
    #[serde(default)]
    pub grant: String,
    #[serde(default)]
    pub delegate: String,
    /// `revoked-by-principal`, `revoked-by-delegate` or `expired`.
    pub reason: String,
}

/// Declares [`Notice`] from one line per kind, so the variant, its payload
/// and its kind are named once.
macro_rules! notices {
    ($($(#[$doc:meta])* $variant:ident($payload:ty) = $kind:path,)+) => {
        /// Anything a citizen is told, by kind. Serialized, a notice is its
        /// payload alone (the kind travels in the event's `type`).
        #[derive(Debug, Clone, PartialEq, Serialize)]
        #[serde(untagged)]
        pub enum Notice {
            $($(#[$doc])* $variant($payload),)+
        }

        impl Notice {
            /// Every kind a notice can have.
            pub const KINDS: &[&str] = &[$($kind),+];

            /// The event kind, `<category>.<fact>`.
            pub fn kind(&self) -> &'static str {
                match self {
                    $(Self::$variant(_) => $kind,)+
                }
            }

            /// The payload of `kind` read from `data`; `None` for a kind that
            /// is not a notice.
            fn parse(kind: &str, data: &Value) -> Option<(&'static str, Result<Self, PathError>)> {
                $(if kind == $kind {
                    return Some(($kind, serde_path_to_error::deserialize(data).map(Self::$variant)));
                })+
                None
            }
        }
    };
}

type PathError = serde_path_to_error::Error<serde_json::Error>;

notices! {
    NewMessage(NewMessage) = kinds::NEW_MESSAGE,
    DeemedDeliveryWarning(DeemedDeliveryWarning) = kinds::DEEMED_DELIVERY_WARNING,
    ArchiveFinished(ArchiveFinished) = kinds::ARCHIVE_FINISHED,
    CreditLow(CreditLow) = kinds::CREDIT_LOW,
    CreditPurchaseConfirmed(CreditPurchaseConfirmed) = kinds::CREDIT_PURCHASE_CONFIRMED,
    CreditPurchaseDeclined(CreditPurchaseDeclined) = kinds::CREDIT_PURCHASE_DECLINED,
    DataMessageSent(DataMessageSent) = kinds::DATA_MESSAGE_SENT,
    DataMessageNotSent(DataMessageNotSent) = kinds::DATA_MESSAGE_NOT_SENT,
    ExpiryReminder(Reminder) = kinds::EXPIRY_REMINDER,
    DeadlineReminder(Reminder) = kinds::DEADLINE_REMINDER,
    DocumentFiled(DocumentFiled) = kinds::DOCUMENT_FILED,
    ExtractReady(ExtractReady) = kinds::EXTRACT_READY,
    ExtractFailed(ExtractFailed) = kinds::EXTRACT_FAILED,
    FilingDeadlinePassed(FilingDeadlinePassed) = kinds::FILING_DEADLINE_PASSED,
    PetitionClosed(PetitionClosed) = kinds::PETITION_CLOSED,
    PetitionBlocked(PetitionBlocked) = kinds::PETITION_BLOCKED,
    PetitionUnblocked(PetitionUnblocked) = kinds::PETITION_UNBLOCKED,
    PetitionHandedOver(PetitionHandedOver) = kinds::PETITION_HANDED_OVER,
    SenateThresholdReached(SenateThresholdReached) = kinds::PETITION_SENATE_THRESHOLD_REACHED,
    ContactVerified(ContactVerified) = kinds::CONTACT_VERIFICATION,
    NoticeBoardItem(NoticeBoardItem) = kinds::NOTICE_BOARD_ITEM,
    TileAlert(TileAlert) = kinds::TILE_ALERT,
    DelegationGranted(DelegationGranted) = kinds::DELEGATION_GRANTED,
    DelegationFirstUse(DelegationFirstUse) = kinds::DELEGATION_FIRST_USE,
    DelegationEnded(DelegationEnded) = kinds::DELEGATION_ENDED,
}

/// Why an event is not a [`Notice`]. The texts name kinds and field paths
/// only, never a value (payloads carry personal data), so they are safe to
/// log.
#[derive(Debug, thiserror::Error)]
pub enum NoticeError {
    #[error("`{0}` is not a kind of notice")]
    UnknownKind(String),
    #[error("the `{kind}` payload does not parse at `{path}`: {what}")]
    Payload {
        kind: &'static str,
        /// Where in `data` (`.` for the payload itself, e.g. a missing field).
        path: String,
        /// What is wrong, without the offending value.
        what: String,
        /// serde's own error; its text may quote the value.
        #[source]
        source: serde_json::Error,
    },
}

impl Notice {
    /// The event announcing this notice, with the id `<kind>:<key>`.
    /// Serializing fails only for a time outside RFC 3339's years 0-9999.
    pub fn event(&self, key: &str, subject: &str, occurred_at: OffsetDateTime) -> Result<Event, serde_json::Error> {
        Ok(Event::new(self.kind(), key, subject, occurred_at, serde_json::to_value(self)?))
    }

    /// The notice an event carries, read by its kind.
    pub fn from_event(event: &Event) -> Result<Self, NoticeError> {
        let Some((kind, parsed)) = Self::parse(&event.kind, &event.data) else {
            return Err(NoticeError::UnknownKind(event.kind.clone()));
        };
        parsed.map_err(|error| {
            let path = error.path().to_string();
            let source = error.into_inner();
            NoticeError::Payload { kind, path, what: without_values(&source), source }
        })
    }
}

/// serde's message when it quotes no value (a missing field), else a
/// description that does not quote it.
fn without_values(error: &serde_json::Error) -> String {
    let text = error.to_string();
    if text.starts_with("missing field") { text } else { "a value of the wrong type or out of range".into() }
}

/// Publishes `notice` on [`NOTIFICATIONS_QUEUE`] for `subject`, with the
/// event id `<kind>:<key>` (the same whenever the same fact is told again).
pub async fn publish_notice(
    queues: &dyn QueueStore,
    notice: &Notice,
    key: &str,
    subject: &str,
    occurred_at: OffsetDateTime,
) -> Result<(), StoreError> {
    let event = notice.event(key, subject, occurred_at).map_err(|e| StoreError::Invalid(e.to_string()))?;
    publish(queues, NOTIFICATIONS_QUEUE, &event).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::{date, datetime};

    const JANA: &str = "DEMO%2Fjana";

    fn petition() -> PetitionRef {
        PetitionRef { petition_id: "p1".into(), title: "Za zelenou Vltavu".into(), addressee: "Senát".into() }
    }

    /// One notice of every kind, with the JSON its producer writes (the
    /// shape of the messages already queued).
    fn samples() -> Vec<(Notice, Value)> {
        vec![
            (
                Notice::DelegationGranted(DelegationGranted {
                    grant: "g-1".into(),
                    delegate: "Jana Nováková".into(),
                    scopes: vec!["čtení zpráv datové schránky".into()],
                    ends_on: "2027-01-06".into(),
                }),
                json!({"grant": "g-1", "delegate": "Jana Nováková", "scopes": ["čtení zpráv datové schránky"],
                       "endsOn": "2027-01-06"}),
            ),
            (
                Notice::DelegationFirstUse(DelegationFirstUse {
                    grant: "g-1".into(),
                    delegate: "Jana Nováková".into(),
                    purpose: "zobrazení zprávy".into(),
                }),
                json!({"grant": "g-1", "delegate": "Jana Nováková", "purpose": "zobrazení zprávy"}),
            ),
            (
                Notice::DelegationEnded(DelegationEnded {
                    grant: "g-1".into(),
                    delegate: "Jana Nováková".into(),
                    reason: "revoked-by-principal".into(),
                }),
                json!({"grant": "g-1", "delegate": "Jana Nováková", "reason": "revoked-by-principal"}),
            ),
            (
                Notice::NewMessage(NewMessage {
                    message_id: "4711".into(),
                    sender: "Finanční úřad".into(),
                    subject: "Výzva".into(),
                }),
                json!({"messageId": "4711", "sender": "Finanční úřad", "subject": "Výzva"}),
            ),
            (
                Notice::DeemedDeliveryWarning(DeemedDeliveryWarning {
                    message_id: "4711".into(),
                    sender: "Úřad".into(),
                    subject: "Rozhodnutí".into(),
                    deemed_delivered_at: datetime!(2026-11-26 08:00 UTC),
                }),
                json!({"messageId": "4711", "sender": "Úřad", "subject": "Rozhodnutí",
                       "deemedDeliveredAt": "2026-11-26T08:00:00Z"}),
            ),
            (Notice::ArchiveFinished(ArchiveFinished { archived: 3 }), json!({"archived": 3})),
            (
                Notice::CreditLow(CreditLow { credit_hellers: 1550, threshold_hellers: 2000 }),
                json!({"creditHellers": 1550, "thresholdHellers": 2000}),
            ),
            (
                Notice::CreditPurchaseConfirmed(CreditPurchaseConfirmed {
                    payment_id: "pay-1".into(),
                    amount_hellers: 20000,
                }),
                json!({"paymentId": "pay-1", "amountHellers": 20000}),
            ),
            (
                Notice::CreditPurchaseDeclined(CreditPurchaseDeclined {
                    payment_id: "pay-1".into(),
                    reason: DeclineReason::Expired,
                }),
                json!({"paymentId": "pay-1", "reason": "expired"}),
            ),
            (
                Notice::DataMessageSent(DataMessageSent {
                    request_id: "petition-p1".into(),
                    message_id: "9001".into(),
                    source: "petitions".into(),
                    recipient: "simmuhl".into(),
                    subject: "Petice".into(),
                    simulated: true,
                }),
                json!({"requestId": "petition-p1", "messageId": "9001", "source": "petitions",
                       "recipient": "simmuhl", "subject": "Petice", "simulated": true}),
            ),
            (
                Notice::DataMessageNotSent(DataMessageNotSent {
                    request_id: "petition-p1".into(),
                    source: "petitions".into(),
                    recipient: "simmuhl".into(),
                    subject: "Petice".into(),
                    reason: "ISDS does not know the box".into(),
                    errors: None,
                }),
                json!({"requestId": "petition-p1", "source": "petitions", "recipient": "simmuhl",
                       "subject": "Petice", "reason": "ISDS does not know the box", "errors": null}),
            ),
            (
                Notice::ExpiryReminder(Reminder {
                    entry_id: "expiry-EA123456".into(),
                    item_id: "i1".into(),
                    kind: "document-expiry".into(),
                    title: "Konec platnosti řidičského průkazu".into(),
                    date: date!(2026 - 12 - 23),
                    days_left: Some(30),
                    document: Some("driving-licence".into()),
                }),
                json!({"entryId": "expiry-EA123456", "itemId": "i1", "kind": "document-expiry",
                       "title": "Konec platnosti řidičského průkazu", "date": "2026-12-23", "daysLeft": 30,
                       "document": "driving-licence"}),
            ),
            (
                Notice::DeadlineReminder(Reminder {
                    entry_id: "e2".into(),
                    item_id: "i2".into(),
                    kind: "filing-deadline".into(),
                    title: "Podat daňové přiznání".into(),
                    date: date!(2026 - 11 - 30),
                    days_left: Some(7),
                    document: None,
                }),
                json!({"entryId": "e2", "itemId": "i2", "kind": "filing-deadline", "title": "Podat daňové přiznání",
                       "date": "2026-11-30", "daysLeft": 7}),
            ),
            (Notice::DocumentFiled(DocumentFiled { title: Some("Smlouva".into()) }), json!({"title": "Smlouva"})),
            (
                Notice::ExtractReady(ExtractReady {
                    job_id: "j1".into(),
                    kind: "criminal-record".into(),
                    title: "Výpis z evidence Rejstříku trestů".into(),
                    document_id: "extract-j1".into(),
                    simulated: true,
                }),
                json!({"jobId": "j1", "kind": "criminal-record", "title": "Výpis z evidence Rejstříku trestů",
                       "documentId": "extract-j1", "simulated": true}),
            ),
            (
                Notice::ExtractFailed(ExtractFailed {
                    job_id: "j1".into(),
                    kind: "vehicles".into(),
                    title: "Výpis vozidel".into(),
                    reason: None,
                    simulated: false,
                }),
                json!({"jobId": "j1", "kind": "vehicles", "title": "Výpis vozidel", "reason": null,
                       "simulated": false}),
            ),
            (
                Notice::FilingDeadlinePassed(FilingDeadlinePassed {
                    filing_id: "databox-request-r1".into(),
                    title: "Změna adresy".into(),
                    agency: "MV".into(),
                    legal_deadline: Some(date!(2026 - 11 - 20)),
                    can_urge: true,
                    simulated: false,
                }),
                json!({"filingId": "databox-request-r1", "title": "Změna adresy", "agency": "MV",
                       "legalDeadline": "2026-11-20", "canUrge": true, "simulated": false}),
            ),
            (
                Notice::PetitionClosed(PetitionClosed { petition: petition(), closed_by: "end-date".into() }),
                json!({"petitionId": "p1", "title": "Za zelenou Vltavu", "addressee": "Senát",
                       "closedBy": "end-date"}),
            ),
            (
                Notice::PetitionBlocked(PetitionBlocked {
                    petition: petition(),
                    reason: Some("Výzva k porušení zákona.".into()),
                    blocked_at: Some(datetime!(2026-11-23 08:00 UTC)),
                }),
                json!({"petitionId": "p1", "title": "Za zelenou Vltavu", "addressee": "Senát",
                       "reason": "Výzva k porušení zákona.", "blockedAt": "2026-11-23T08:00:00Z"}),
            ),
            (
                Notice::PetitionUnblocked(PetitionUnblocked { petition: petition(), state: "published".into() }),
                json!({"petitionId": "p1", "title": "Za zelenou Vltavu", "addressee": "Senát",
                       "state": "published"}),
            ),
            (
                Notice::PetitionHandedOver(PetitionHandedOver {
                    petition: petition(),
                    handed_over_at: Some(datetime!(2026-11-23 08:00 UTC)),
                    answer_due: Some(date!(2026 - 12 - 23)),
                }),
                json!({"petitionId": "p1", "title": "Za zelenou Vltavu", "addressee": "Senát",
                       "handedOverAt": "2026-11-23T08:00:00Z", "answerDue": "2026-12-23"}),
            ),
            (
                Notice::SenateThresholdReached(SenateThresholdReached {
                    petition: petition(),
                    signatures: 10_001,
                    threshold: 10_000,
                }),
                json!({"petitionId": "p1", "title": "Za zelenou Vltavu", "addressee": "Senát",
                       "signatures": 10_001, "threshold": 10_000}),
            ),
            (Notice::ContactVerified(ContactVerified { channel: Some("email".into()) }), json!({"channel": "email"})),
            (
                Notice::NoticeBoardItem(NoticeBoardItem {
                    watch_id: "w1".into(),
                    item_id: "zdar-1".into(),
                    board: "Město Žďár nad Sázavou".into(),
                    title: "Uzavírka silnice II/353".into(),
                    posted_on: Some("2026-11-20".into()),
                    url: Some("https://www.zdarns.cz/deska/1".into()),
                    simulated: true,
                }),
                json!({"watchId": "w1", "itemId": "zdar-1", "board": "Město Žďár nad Sázavou",
                       "title": "Uzavírka silnice II/353", "postedOn": "2026-11-20",
                       "url": "https://www.zdarns.cz/deska/1", "simulated": true}),
            ),
            (
                Notice::TileAlert(TileAlert {
                    source: "celni-sprava".into(),
                    tile: "ePortál Celní správy".into(),
                    text: "Celní správa eviduje nedoplatek 1 250 Kč.".into(),
                    alert: "arrears:CU-1".into(),
                    simulated: true,
                }),
                json!({"source": "celni-sprava", "tile": "ePortál Celní správy",
                       "text": "Celní správa eviduje nedoplatek 1 250 Kč.", "alert": "arrears:CU-1", "simulated": true}),
            ),
        ]
    }

    #[test]
    fn every_kind_round_trips_through_its_event_in_the_producers_json() {
        let samples = samples();
        let mut kinds: Vec<&str> = samples.iter().map(|(notice, _)| notice.kind()).collect();
        kinds.sort_unstable();
        let mut all = Notice::KINDS.to_vec();
        all.sort_unstable();
        assert_eq!(kinds, all, "one sample per kind");
        for (notice, json) in samples {
            let event = notice.event("k:1", JANA, datetime!(2026-11-23 08:00 UTC)).expect("serialize");
            assert_eq!(event.id, format!("{}:k:1", notice.kind()));
            assert_eq!(event.kind, notice.kind());
            assert_eq!(event.data, json, "{} keeps its JSON", notice.kind());
            // Through the queue's text, as the consumer receives it.
            let text = serde_json::to_string(&event).expect("serialize");
            let received: Event = serde_json::from_str(&text).expect("parse");
            assert_eq!(Notice::from_event(&received).expect("parse"), notice);
        }
    }

    #[test]
    fn what_the_text_does_not_use_may_be_missing() {
        let event = Event::new(
            kinds::EXPIRY_REMINDER,
            "k",
            JANA,
            datetime!(2026-11-23 06:00 UTC),
            json!({"document": "id-card", "date": "2026-12-23", "daysLeft": 30}),
        );
        let Ok(Notice::ExpiryReminder(reminder)) = Notice::from_event(&event) else { panic!("a reminder") };
        assert_eq!((reminder.date, reminder.title.as_str()), (date!(2026 - 12 - 23), ""));
        let event = Event::new(kinds::DATA_MESSAGE_SENT, "k", JANA, datetime!(2026-11-23 06:00 UTC), json!({}));
        assert!(matches!(Notice::from_event(&event), Ok(Notice::DataMessageSent(_))));
    }

    #[test]
    fn unknown_kinds_and_malformed_payloads_say_why_without_quoting_values() {
        let at = datetime!(2026-11-23 08:00 UTC);
        let error = Notice::from_event(&Event::new("weather.storm", "1", JANA, at, json!({}))).err();
        assert!(matches!(&error, Some(NoticeError::UnknownKind(kind)) if kind == "weather.storm"), "{error:?}");

        let missing = Event::new(kinds::CREDIT_LOW, "1", JANA, at, json!({"thresholdHellers": 2000}));
        let error = Notice::from_event(&missing).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains("databox.credit-low") && error.contains("missing field `creditHellers`"), "{error}");

        let wrong = Event::new(kinds::NEW_MESSAGE, "1", JANA, at, json!({"sender": "Jana Nováková", "subject": 7}));
        let error = Notice::from_event(&wrong).err();
        assert!(matches!(&error, Some(NoticeError::Payload { path, .. }) if path == "subject"), "{error:?}");
        let wrong = Event::new(kinds::NEW_MESSAGE, "1", JANA, at, json!({"sender": 7, "subject": "Tajné"}));
        let text = Notice::from_event(&wrong).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(text.contains("`sender`") && !text.contains('7'), "{text}");

        let declined = json!({"paymentId": "p", "reason": "Jana Nováková"});
        let text = Notice::from_event(&Event::new(kinds::CREDIT_PURCHASE_DECLINED, "1", JANA, at, declined))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(text.contains("`reason`") && !text.contains("Nováková"), "{text}");
    }
}
