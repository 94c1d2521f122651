//! Events this capability publishes. Every event has an `id` that is the same
//! whenever the same fact is published again (a replay, a retried job), so
//! consumers deduplicate on it.
//!
//! Shape (JSON, one queue message):
//! ```json
//! {"id": "databox.deemed-delivery-warning:<box>:<message>", "type": "databox.deemed-delivery-warning",
//!  "subject": "<citizen subject id>", "occurredAt": "2026-11-23T08:00:00Z", "data": {...}}
//! ```

use portal_store::{QueueName, QueueStore, StoreError};
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;

/// Notifications consume these (e-mail, SMS, in-portal inbox).
pub const NOTIFICATIONS_QUEUE: &str = "send-notification";
/// Documents files what arrives here (archived messages, receipts).
pub const DOCUMENTS_QUEUE: &str = "document-filed";

pub const NEW_MESSAGE: &str = "databox.new-message";
pub const DEEMED_DELIVERY_WARNING: &str = "databox.deemed-delivery-warning";
pub const ARCHIVE_FINISHED: &str = "databox.archive-finished";
pub const CREDIT_LOW: &str = "databox.credit-low";
pub const CREDIT_PURCHASE_CONFIRMED: &str = "databox.credit-purchase-confirmed";
pub const CREDIT_PURCHASE_DECLINED: &str = "databox.credit-purchase-declined";
pub const MESSAGE_ARCHIVED: &str = "document.archived-data-message";
pub const RECEIPT_ISSUED: &str = "document.credit-receipt";

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub subject: String,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    pub data: Value,
}

impl Event {
    /// An event whose id is `<kind>:<key>`.
    pub fn new(kind: &str, key: &str, subject: &str, occurred_at: OffsetDateTime, data: Value) -> Self {
        Self { id: format!("{kind}:{key}"), kind: kind.to_owned(), subject: subject.to_owned(), occurred_at, data }
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
