//! Credit for commercial messages: a purchase as the citizen starts it
//! (`POST /api/databox/credit/purchases`) and as the queue function
//! `PurchaseCredit` ([`crate::queue::purchase_credit`]) settles it, and the
//! ledger of what was credited.

use portal_store::{Query, StoreError};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::{COLLECTION, Databox};

/// The queue a settled payment is announced on.
pub const QUEUE: &str = "purchase-credit";

/// The queue message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PurchaseMessage {
    pub payment_id: String,
    pub subject: String,
}

/// Where a purchase is: waiting for the payment, or settled one way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = CreditPurchaseState)]
pub enum PurchaseState {
    Pending,
    Credited,
    Declined,
    Expired,
}

/// A purchase of credit, as stored in the citizen's partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CreditPurchase)]
pub struct Purchase {
    /// Always `credit-purchase`.
    #[serde(rename = "type")]
    pub kind: String,
    pub payment_id: String,
    /// The data box the credit is for.
    pub box_id: String,
    pub amount_hellers: i64,
    pub state: PurchaseState,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub settled_at: Option<OffsetDateTime>,
}

pub fn purchase_id(payment_id: &str) -> String {
    format!("purchase-{payment_id}")
}

pub(crate) fn ledger_id(payment_id: &str) -> String {
    format!("ledger-{payment_id}")
}

pub(crate) fn receipt_id(payment_id: &str) -> String {
    format!("receipt-{payment_id}")
}

/// The sum of the citizen's ledger entries, in hellers.
pub async fn ledger_total(databox: &Databox, subject: &str) -> Result<i64, StoreError> {
    let mut total = 0;
    let mut continuation = None;
    loop {
        let query = Query::default()
            .filter("type", portal_store::FilterOp::Eq, "credit-ledger")
            .page_size(500)
            .after(continuation.take());
        let page = databox.documents.query(COLLECTION, subject, query).await?;
        total += page.items.iter().filter_map(|d| d.body["amountHellers"].as_i64()).sum::<i64>();
        match page.continuation {
            Some(next) => continuation = Some(next),
            None => return Ok(total),
        }
    }
}
