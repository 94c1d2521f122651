//! Events: how capabilities talk to each other. A capability never calls
//! another one; it publishes an [`Event`] on the queue of the capability that
//! acts on it. Every event has an `id` that is the same whenever the same fact
//! is published again (a replay, a retried job), so consumers deduplicate on
//! it.
//!
//! Shape (JSON, one queue message):
//! ```json
//! {"id": "databox.new-message:<box>:<message>", "type": "databox.new-message",
//!  "subject": "<citizen subject id>", "occurredAt": "2026-11-23T08:00:00Z", "data": {...}}
//! ```
//!
//! Three queues take events, one per consuming capability:
//! - [`NOTIFICATIONS_QUEUE`]: anything a citizen should be told; `data` is
//!   the [`Notice`] payload of the event's `type` (one type per kind, see
//!   [`notice`]), rendered by the notification templates for that kind.
//! - [`DOCUMENTS_QUEUE`]: a document to file; `data` is a [`FiledDocument`].
//! - [`CALENDAR_QUEUE`]: a dated entry for the calendar; `data` is a
//!   [`CalendarEntry`].
//! - [`DATA_MESSAGES_QUEUE`]: a data message to send from the citizen's box;
//!   `data` is an [`OutgoingDataMessage`].
//!
//! Erasure fans out: an Azure Storage queue has exactly one consumer function,
//! so when a citizen erases their account identity publishes one
//! [`kinds::ERASED`] event to *each* queue in [`ERASURE_QUEUES`] (one per
//! capability holding data about citizens), and each capability deletes what
//! it holds for the event's subject. The [`erasure`] module has the shared
//! steps (deleting a partition page by page, deleting blobs under a prefix).

use portal_store::{QueueName, QueueStore, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::{Date, OffsetDateTime};

pub mod notice;
pub use notice::{
    ArchiveFinished, ContactVerified, CreditLow, CreditPurchaseConfirmed, CreditPurchaseDeclined, DataMessageNotSent,
    DataMessageSent, DeclineReason, DeemedDeliveryWarning, DelegationEnded, DelegationFirstUse, DelegationGranted,
    DocumentFiled, ExtractFailed, ExtractReady, FilingDeadlinePassed, NewMessage, Notice, NoticeBoardItem, NoticeError,
    PetitionBlocked, PetitionClosed, PetitionHandedOver, PetitionRef, PetitionUnblocked, Reminder,
    SenateThresholdReached, TileAlert, publish_notice,
};

/// Notifications consume these (e-mail, SMS, in-portal inbox).
pub const NOTIFICATIONS_QUEUE: &str = "send-notification";
/// Documents files what arrives here (archived messages, receipts, extracts).
pub const DOCUMENTS_QUEUE: &str = "document-filed";
/// The calendar files dated entries from here (expiries, deadlines).
pub const CALENDAR_QUEUE: &str = "calendar-entry";
/// Registers refresh what they know of a citizen who just signed in (identity
/// documents for the calendar's expiry reminders). `data` is empty.
pub const SIGNED_IN_QUEUE: &str = "citizen-signed-in";
/// The data box sends data messages on a citizen's behalf from here (a
/// petition handed over to its addressee).
pub const DATA_MESSAGES_QUEUE: &str = "send-data-message";
/// Facts about a citizen that one capability knows and another's rules use
/// (the tiles' visibility rules "entrepreneur" and "has a data box"):
/// [`CitizenFact`] events, consumed by tiles `RecordCitizenFact`.
pub const CITIZEN_FACTS_QUEUE: &str = "citizen-facts";

/// The event kinds, `<capability>.<fact>`. The part before the dot is the
/// notification category citizens set preferences for.
pub mod kinds {
    pub const NEW_MESSAGE: &str = "databox.new-message";
    pub const DEEMED_DELIVERY_WARNING: &str = "databox.deemed-delivery-warning";
    pub const ARCHIVE_FINISHED: &str = "databox.archive-finished";
    pub const CREDIT_LOW: &str = "databox.credit-low";
    pub const CREDIT_PURCHASE_CONFIRMED: &str = "databox.credit-purchase-confirmed";
    pub const CREDIT_PURCHASE_DECLINED: &str = "databox.credit-purchase-declined";
    pub const MESSAGE_ARCHIVED: &str = "document.archived-data-message";
    pub const RECEIPT_ISSUED: &str = "document.credit-receipt";
    pub const DEEMED_DELIVERY_DATE: &str = "calendar.deemed-delivery";
    pub const EXPIRY_REMINDER: &str = "calendar.expiry-reminder";
    pub const DEADLINE_REMINDER: &str = "calendar.deadline-reminder";
    pub const DOCUMENT_FILED: &str = "documents.filed";
    pub const CONTACT_VERIFICATION: &str = "account.contact-verification";
    /// A new notice-board item matches a citizen's watch (one per watch and item).
    pub const NOTICE_BOARD_ITEM: &str = "noticeboards.new-item";
    /// Once a day per citizen at most (the id holds the date).
    pub const SIGNED_IN: &str = "account.signed-in";
    pub const EXTRACT_READY: &str = "registers.extract-ready";
    pub const EXTRACT_FAILED: &str = "registers.extract-failed";
    /// An agency's legal deadline to answer a filing passed undecided.
    pub const FILING_DEADLINE_PASSED: &str = "filings.deadline-passed";
    pub const PETITION_CLOSED: &str = "petitions.closed";
    pub const PETITION_BLOCKED: &str = "petitions.blocked";
    pub const PETITION_UNBLOCKED: &str = "petitions.unblocked";
    pub const PETITION_HANDED_OVER: &str = "petitions.handed-over";
    pub const PETITION_SENATE_THRESHOLD_REACHED: &str = "petitions.senate-threshold-reached";
    pub const SEND_DATA_MESSAGE: &str = "databox.send-on-behalf";
    pub const DATA_MESSAGE_SENT: &str = "databox.sent-on-behalf";
    pub const DATA_MESSAGE_NOT_SENT: &str = "databox.not-sent-on-behalf";
    /// What became of an [`super::OutgoingDataMessage`] with a `replyTo`
    /// queue: [`super::DataMessageOutcome`], published there. Id
    /// `databox.on-behalf-outcome:<request id>`.
    pub const DATA_MESSAGE_OUTCOME: &str = "databox.on-behalf-outcome";
    /// The citizen erased their account: delete everything held for the
    /// subject. Id `account.erased:<subject>:<unix seconds of the erasure>`.
    pub const ERASED: &str = "account.erased";
    /// A tile's summary says something new that matters (arrears appeared,
    /// a prescription is about to expire): [`super::TileAlert`]. Id
    /// `tiles.alert:<subject>:<source>:<alert key>`, so it is told once.
    pub const TILE_ALERT: &str = "tiles.alert";
    /// A citizen accepted an authorisation the principal gave:
    /// [`super::DelegationGranted`], to the principal. Id `delegation.granted:<grant>`.
    pub const DELEGATION_GRANTED: &str = "delegation.granted";
    /// An authorisation was used for the first time: [`super::DelegationFirstUse`].
    pub const DELEGATION_FIRST_USE: &str = "delegation.first-use";
    /// An authorisation ended (revoked or expired): [`super::DelegationEnded`].
    pub const DELEGATION_ENDED: &str = "delegation.ended";
    /// Whether the register of persons (ROS) holds the citizen as an
    /// entrepreneur (podnikající fyzická osoba): [`super::CitizenFact`] on
    /// [`super::CITIZEN_FACTS_QUEUE`], published by registers on every fresh
    /// read of the registers (at sign-in, and when the citizen looks).
    pub const ENTREPRENEUR: &str = "registers.entrepreneur";
    /// Whether the population register (ROB) records a data box of the
    /// citizen: [`super::CitizenFact`] on [`super::CITIZEN_FACTS_QUEUE`],
    /// published by registers with [`ENTREPRENEUR`].
    pub const DATA_BOX: &str = "registers.data-box";
}

/// A fact about the citizen (the event's subject) as the publishing
/// capability observed it at the event's `occurredAt`; the kind names the
/// fact ([`kinds::ENTREPRENEUR`], [`kinds::DATA_BOX`]). Observations
/// may arrive out of order: a consumer keeps the newest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CitizenFact {
    pub holds: bool,
}

impl CitizenFact {
    /// The event of this observation. Its id is fixed by subject, value and
    /// time, so publishing the same observation again is the same event.
    pub fn event(self, kind: &str, subject: &str, observed_at: OffsetDateTime) -> Event {
        let key = format!("{subject}:{}:{}", self.holds, observed_at.unix_timestamp_nanos());
        Event::new(kind, &key, subject, observed_at, serde_json::json!({"holds": self.holds}))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub subject: String,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    #[serde(default)]
    pub data: Value,
}

impl Event {
    /// An event whose id is `<kind>:<key>`.
    pub fn new(kind: &str, key: &str, subject: &str, occurred_at: OffsetDateTime, data: Value) -> Self {
        Self { id: format!("{kind}:{key}"), kind: kind.to_owned(), subject: subject.to_owned(), occurred_at, data }
    }

    /// The notification category: the part of the kind before the first dot.
    pub fn category(&self) -> &str {
        self.kind.split_once('.').map_or(self.kind.as_str(), |(category, _)| category)
    }

    /// `data` read as `T`.
    pub fn data_as<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&self.data)
    }
}

/// Publishes `event` to `queue`, creating the queue if its consumer has not
/// yet (in Azure, Bicep creates every queue; locally, the first publisher may
/// come before any consumer).
pub async fn publish(queues: &dyn QueueStore, queue: &str, event: &Event) -> Result<(), StoreError> {
    let queue = QueueName::parse(queue)?;
    let text = serde_json::to_string(event).map_err(|e| StoreError::Invalid(e.to_string()))?;
    match queues.send(&queue, &text, None).await {
        Err(StoreError::NotFound) => {
            queues.ensure(&queue).await?;
            queues.send(&queue, &text, None).await.map(drop)
        }
        other => other.map(drop),
    }
}

/// A document another capability hands to Documents (on [`DOCUMENTS_QUEUE`]).
///
/// The producer seals the content itself with the citizen's key, for
/// `(owner = event subject, document = document_id, field = "content")`, so
/// the plain content never sits in a queue. Small contents travel inline;
/// larger ones are written to blob storage first and referenced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FiledDocument {
    /// Stable for the same fact (e.g. `extract-<job>`): filing twice files once.
    pub document_id: String,
    pub title: String,
    /// What it is: `data-message`, `extract`, `receipt`, ...
    pub kind: String,
    /// The capability it came from: `databox`, `registers`, ...
    pub source: String,
    /// The source's own reference (message id, job id, payment id).
    pub source_ref: String,
    pub media_type: String,
    pub file_name: String,
    /// Plain size in bytes.
    pub size: u64,
    pub content: SealedContent,
    /// True when a simulator produced it (shown to the citizen).
    #[serde(default)]
    pub simulated: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum SealedContent {
    /// Base64 of the sealed bytes.
    Inline { sealed: String },
    /// A blob holding the sealed bytes, which Documents adopts as it is.
    Blob { path: String },
}

/// Contents up to this size (sealed, before base64) may travel inline: base64
/// makes 32 KiB into 43.7 KiB, which with the event around it stays within a
/// queue message (64 KiB in Azure; 48 KiB in the embedded store).
pub const INLINE_CONTENT_LIMIT: usize = 32 * 1024;

time::serde::format_description!(iso_date, Date, "[year]-[month]-[day]");

/// A dated entry another capability puts in the citizen's calendar (on
/// [`CALENDAR_QUEUE`]). Publishing the same `entry_id` again replaces it;
/// `cancelled: true` removes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CalendarEntry {
    /// Stable for the same fact (e.g. `deemed-<box>-<message>`).
    pub entry_id: String,
    /// `document-expiry`, `deemed-delivery`, `petition-deadline`, `filing-deadline`.
    pub kind: String,
    pub title: String,
    #[serde(with = "iso_date")]
    pub date: Date,
    /// For `document-expiry`: `id-card`, `passport`, `driving-licence`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<String>,
    pub source: String,
    pub source_ref: String,
    #[serde(default)]
    pub cancelled: bool,
}

/// A data message another capability asks the data box to send from the
/// citizen's (the event subject's) own box, e.g. a petition with its list of
/// signatures to the petition's addressee. The data box answers with a
/// notification event (`databox.sent-on-behalf` with the ISDS message id, or
/// `databox.not-sent-on-behalf` with the reason) whose `data.requestId` is this
/// request's id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutgoingDataMessage {
    /// Stable for the same request: sending twice sends once.
    pub request_id: String,
    /// The recipient's data box id (7 characters).
    pub recipient_box_id: String,
    /// The message's subject (dmAnnotation, at most 255 characters).
    pub subject: String,
    /// Who asked (e.g. `petitions`), for the citizen's sent folder and the log.
    pub source: String,
    pub attachments: Vec<OutgoingAttachment>,
    /// A queue the data box also publishes the outcome to
    /// ([`kinds::DATA_MESSAGE_OUTCOME`], [`DataMessageOutcome`]), for a
    /// requester that records a fact only once ISDS accepted the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
}

/// What became of a data message sent on the citizen's behalf: accepted by
/// ISDS (with its message id and the time it was delivered to the
/// recipient's box, *dodání*), or refused for good (with the reason).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataMessageOutcome {
    pub request_id: String,
    pub source: String,
    pub recipient_box_id: String,
    pub sent: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// When ISDS accepted the message into the recipient's box.
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// One attachment, sealed by the producer with the citizen's key for
/// `(owner = event subject, document = sealed_document, field = sealed_field)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutgoingAttachment {
    pub file_name: String,
    pub media_type: String,
    pub sealed_document: String,
    pub sealed_field: String,
    pub content: SealedContent,
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn event_round_trips_and_names_its_category() {
        let event = Event::new(
            kinds::NEW_MESSAGE,
            "abc:1",
            "DEMO%2Fjana",
            datetime!(2026-11-23 08:00 UTC),
            serde_json::json!({"messageId": "1"}),
        );
        let text = serde_json::to_string(&event).expect("serialize");
        assert!(text.contains(r#""type":"databox.new-message""#), "{text}");
        assert!(text.contains(r#""occurredAt":"2026-11-23T08:00:00Z""#), "{text}");
        let back: Event = serde_json::from_str(&text).expect("parse");
        assert_eq!(back, event);
        assert_eq!(back.id, "databox.new-message:abc:1");
        assert_eq!(back.category(), "databox");
    }

    #[test]
    fn payload_contracts_have_their_documented_shape() {
        let filed = FiledDocument {
            document_id: "receipt-p1".into(),
            title: "Receipt".into(),
            kind: "receipt".into(),
            source: "databox".into(),
            source_ref: "p1".into(),
            media_type: "text/plain".into(),
            file_name: "receipt.txt".into(),
            size: 3,
            content: SealedContent::Inline { sealed: "AAA".into() },
            simulated: true,
        };
        let value = serde_json::to_value(&filed).expect("serialize");
        assert_eq!(value["content"], serde_json::json!({"kind": "inline", "sealed": "AAA"}));
        assert_eq!(value["documentId"], "receipt-p1");
        let entry: CalendarEntry = serde_json::from_value(serde_json::json!({
            "entryId": "e1", "kind": "document-expiry", "title": "Řidičský průkaz", "date": "2026-12-23",
            "document": "driving-licence", "source": "registers", "sourceRef": "EA123"
        }))
        .expect("parse");
        assert_eq!(entry.date, date!(2026 - 12 - 23));
        assert!(!entry.cancelled);
    }
}

/// Filings (podání) recorded in the citizen's list of filings: another
/// capability tells the registers capability (which owns the list) that the
/// citizen filed something or that a filing's status changed; `data` is a
/// [`FilingRecord`]. Consumed by `RecordFiling`.
pub const FILINGS_QUEUE: &str = "filing-recorded";

/// The event kind on [`FILINGS_QUEUE`].
pub const FILING_RECORDED: &str = "filings.recorded";

/// The agency (úřad) a filing went to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FilingAgency {
    pub name: String,
    /// The agency's data box id (7 characters), when known: a reminder
    /// (urgence) can then be sent from the citizen's box.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub box_id: Option<String>,
}

/// One fact about a filing made through another capability (a data box
/// request, a petition handed over), on [`FILINGS_QUEUE`] with the citizen as
/// the event subject. Publish one per status change with the same
/// `filing_id`: the consumer upserts the filing and appends a status it has
/// not recorded yet, so replays and reordering are harmless (a late older
/// status never replaces a newer one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FilingRecord {
    /// Stable for the same filing, e.g. `databox-request-<id>`, `petition-<id>`:
    /// 1-100 characters of letters, digits, `-`, `_`, `.`.
    pub filing_id: String,
    /// `data-box-request`, `petition-hand-over`, ...
    pub kind: String,
    /// What the citizen sees in the list (Czech).
    pub title: String,
    pub agency: FilingAgency,
    /// `submitted`, `accepted`, `in-progress`, `decided` or `rejected`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_note: Option<String>,
    /// When the status came about.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The agency's deadline to answer, if the producer knows it better than
    /// the registers capability's table of legal deadlines by kind.
    #[serde(with = "iso_date::option", default, skip_serializing_if = "Option::is_none")]
    pub legal_deadline: Option<Date>,
    /// The capability it came from: `databox`, `petitions`, ...
    pub source: String,
    /// The source's own reference (request id, petition id).
    pub source_ref: String,
    #[serde(default)]
    pub simulated: bool,
}

/// One queue per capability that holds plain data about citizens; identity
/// publishes the same [`kinds::ERASED`] event to each of them (a queue has only
/// one consumer function, so one queue cannot fan out by itself). Consumed by
/// `EraseDocumentsData`, `EraseCalendarData`, `EraseNotificationsData`,
/// `EraseRegistersData`, `EraseDataboxData`, `ErasePetitionsData`,
/// `EraseFeesData`, `EraseNoticeBoardsData` and `EraseDelegationsData`.
pub const ERASURE_QUEUES: &[&str] = &[
    "erase-documents",
    "erase-calendar",
    "erase-notifications",
    "erase-registers",
    "erase-databox",
    "erase-petitions",
    "erase-tiles",
    "erase-fees",
    "erase-noticeboards",
    "erase-delegations",
];

/// The erasure queue of documents (the first of [`ERASURE_QUEUES`] and so on).
pub const ERASE_DOCUMENTS_QUEUE: &str = "erase-documents";
pub const ERASE_CALENDAR_QUEUE: &str = "erase-calendar";
pub const ERASE_DELEGATIONS_QUEUE: &str = "erase-delegations";
pub const ERASE_NOTIFICATIONS_QUEUE: &str = "erase-notifications";
pub const ERASE_REGISTERS_QUEUE: &str = "erase-registers";
pub const ERASE_DATABOX_QUEUE: &str = "erase-databox";
pub const ERASE_PETITIONS_QUEUE: &str = "erase-petitions";
pub const ERASE_NOTICEBOARDS_QUEUE: &str = "erase-noticeboards";
pub const ERASE_TILES_QUEUE: &str = "erase-tiles";
pub const ERASE_FEES_QUEUE: &str = "erase-fees";

/// Shared steps of the erasure consumers. Every step is idempotent: deleting
/// what is already gone succeeds, so a replayed or resumed erasure finishes
/// the job.
pub mod erasure {
    use portal_store::{BlobPath, BlobStore, Document, DocumentStore, Query, StoreError};

    /// Documents deleted per page.
    pub const PAGE_SIZE: u32 = 100;

    /// How many pages one erasure run deletes per partition before it asks
    /// for a redelivery (100 pages of 100 documents).
    pub const MAX_PAGES: u32 = 100;

    /// A document outside the citizen's partition that points at the citizen
    /// (a lookup, an index entry), found from a document inside it.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Pointer {
        pub collection: String,
        pub partition: String,
        pub id: String,
    }

    impl Pointer {
        pub fn new(collection: impl Into<String>, partition: impl Into<String>, id: impl Into<String>) -> Self {
            Self { collection: collection.into(), partition: partition.into(), id: id.into() }
        }
    }

    /// No pointers outside the partition.
    pub fn no_pointers(_: &Document) -> Vec<Pointer> {
        Vec::new()
    }

    /// Deletes every document of `partition` in `collection`, a page at a time
    /// (always the first page: what was deleted no longer shows). Before a
    /// document goes, the documents `pointers` names from it (lookups outside
    /// the partition) are deleted, so a crash never leaves a pointer whose
    /// source is gone. A document another writer deleted first counts as
    /// deleted. Stops after `max_pages` pages and answers `Ok(None)` when
    /// documents remain, so the caller can ask for a redelivery instead of
    /// running without end; otherwise `Ok(Some(how many were deleted))`.
    pub async fn delete_partition(
        store: &dyn DocumentStore,
        collection: &str,
        partition: &str,
        max_pages: u32,
        pointers: &(dyn Fn(&Document) -> Vec<Pointer> + Sync),
    ) -> Result<Option<u64>, StoreError> {
        let mut deleted = 0;
        for _ in 0..max_pages {
            let page = store.query(collection, partition, Query::default().page_size(PAGE_SIZE)).await?;
            if page.items.is_empty() {
                return Ok(Some(deleted));
            }
            for doc in page.items {
                for pointer in pointers(&doc) {
                    delete_document(store, &pointer.collection, &pointer.partition, &pointer.id).await?;
                }
                delete_document(store, collection, partition, &doc.id).await?;
                deleted += 1;
            }
        }
        let rest = store.query(collection, partition, Query::default().page_size(1)).await?;
        Ok(rest.items.is_empty().then_some(deleted))
    }

    /// Deletes one document; one already gone is fine.
    pub async fn delete_document(
        store: &dyn DocumentStore,
        collection: &str,
        partition: &str,
        id: &str,
    ) -> Result<(), StoreError> {
        match store.delete(collection, partition, id, None).await {
            Ok(()) | Err(StoreError::NotFound) => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// Deletes every blob whose path starts with `prefix` (which should end
    /// with `/`, so `documents/ab/` never touches `documents/abc/`).
    pub async fn delete_blobs(blobs: &dyn BlobStore, prefix: &str) -> Result<u64, StoreError> {
        let mut deleted = 0;
        for info in blobs.list(prefix).await? {
            delete_blob(blobs, &info.path).await?;
            deleted += 1;
        }
        Ok(deleted)
    }

    /// Deletes one blob; one already gone is fine.
    pub async fn delete_blob(blobs: &dyn BlobStore, path: &BlobPath) -> Result<(), StoreError> {
        match blobs.delete(path).await {
            Ok(()) | Err(StoreError::NotFound) => Ok(()),
            Err(error) => Err(error),
        }
    }
}

#[cfg(test)]
mod erasure_tests {
    use super::erasure::{MAX_PAGES, Pointer, delete_partition};
    use portal_store::embedded::EmbeddedStore;
    use portal_store::{DocumentStore, ManualClock, NewDocument, Query};
    use std::sync::Arc;
    use time::macros::datetime;

    #[tokio::test]
    async fn a_partition_is_emptied_with_its_pointers_and_a_replay_succeeds() {
        let store =
            EmbeddedStore::in_memory(Arc::new(ManualClock::new(datetime!(2026-11-23 08:00 UTC)))).expect("store");
        for i in 0..250 {
            let body = serde_json::json!({"lookup": format!("l{i}")});
            store.create("c", NewDocument::new("me", format!("d{i}"), body)).await.expect("create");
            store
                .create("c", NewDocument::new("lookups", format!("l{i}"), serde_json::json!({})))
                .await
                .expect("create");
        }
        store.create("c", NewDocument::new("other", "d0", serde_json::json!({}))).await.expect("create");
        let pointers = |doc: &portal_store::Document| {
            doc.body["lookup"].as_str().map(|id| Pointer::new("c", "lookups", id)).into_iter().collect()
        };
        assert_eq!(delete_partition(&store, "c", "me", 2, &pointers).await.expect("run"), None, "more remains");
        assert_eq!(delete_partition(&store, "c", "me", MAX_PAGES, &pointers).await.expect("run"), Some(50));
        assert_eq!(delete_partition(&store, "c", "me", MAX_PAGES, &pointers).await.expect("replay"), Some(0));
        for partition in ["me", "lookups"] {
            assert!(store.query("c", partition, Query::default()).await.expect("query").items.is_empty());
        }
        assert_eq!(store.query("c", "other", Query::default()).await.expect("query").items.len(), 1);
    }
}
