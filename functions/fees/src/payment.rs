//! Paying a municipal fee through the payment gateway.
//!
//! **Storage** (collection [`crate::COLLECTION`]):
//! - `payment-<id>` in the citizen's partition: the payment record. Its
//!   state and times are plain; what it pays for (the fee, municipality,
//!   amount, variable symbol, the fee system's id) is sealed with the
//!   citizen's key (`document = payment-<id>`, `field = details`).
//! - `fee-<hash>` in the citizen's partition: which payment is the current
//!   one of an obligation (the hash of the fee id, so the id stays sealed).
//!   Written in one batch with a new record, ETag-conditional: two
//!   concurrent starts never both create a payment.
//! - `<payment id>` in partition [`INDEX_PARTITION`]: the payment's
//!   citizen, for the gateway's notification (which names only the payment).
//!   Erasure deletes it with the record.
//!
//! **States.** `pending` (started at the gateway, the citizen sent there),
//! then `paid`, `declined` or `expired`, each final. The gateway's status is
//! the only source of truth: a notification or the citizen's return only
//! says "ask now". [`settle`] moves a record once (ETag-conditional) and then
//! finishes what a paid payment owes, each step marked in the record after
//! it is done and each safe to repeat: the municipality's fee system records
//! the payment (idempotent by payment id), the receipt PDF goes to Documents
//! (document id `fee-receipt-<payment>`, filed once however often it is
//! sent) with a notice (event id fixed by the payment). A crash between any
//! two steps leaves a record the next delivery or return finishes.
//!
//! **Never twice.** A new payment of an obligation is started only when the
//! obligation is unpaid at the municipality, and its current payment (if
//! any) is final and not paid at the gateway; a pending one is handed out
//! again instead. The municipality refuses a second payment of a paid
//! obligation; should that ever happen (money taken twice), the record says
//! so (`municipality: refused`) for an operator to refund.

use base64::Engine as _;
use bytes::Bytes;
use portal_events::{DocumentFiled, Event, FiledDocument, Notice, SealedContent};
use portal_payments::{PaymentError, PaymentStatus};
use portal_security::{AccessEntry, Action, Actor, SubjectId};
use portal_store::{BatchOp, BlobPath, ETag, FilterOp, NewDocument, Order, PutMode, Query, QueueName, StoreError};
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::municipal::{FeeKind, FeeSystemError, Municipality, Obligation};
use crate::{COLLECTION, Fees, FeesError, citizen_folder, corrupt, receipt, sha256_hex};

/// The partition of the payment → citizen lookup.
pub const INDEX_PARTITION: &str = "payment-index";
/// The queue of settlements (from notifications).
pub const SETTLE_QUEUE: &str = "settle-fee-payment";
pub const SETTLE_FUNCTION: &str = "SettleFeePayment";
/// The event kind of a receipt handed to Documents.
pub const RECEIPT_FILED: &str = "document.fee-receipt";
/// The sealed field of a record's details.
pub const DETAILS_FIELD: &str = "details";

/// A payment's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PaymentState {
    Pending,
    Paid,
    Declined,
    Expired,
}

impl PaymentState {
    pub fn is_final(self) -> bool {
        self != Self::Pending
    }

    pub fn czech_name(self) -> &'static str {
        match self {
            Self::Pending => "čeká na zaplacení",
            Self::Paid => "zaplaceno",
            Self::Declined => "platba odmítnuta",
            Self::Expired => "platnost platby vypršela",
        }
    }
}

impl From<PaymentStatus> for PaymentState {
    fn from(status: PaymentStatus) -> Self {
        match status {
            PaymentStatus::Pending => Self::Pending,
            PaymentStatus::Paid => Self::Paid,
            PaymentStatus::Declined => Self::Declined,
            PaymentStatus::Expired => Self::Expired,
        }
    }
}

/// What the municipality said to a paid payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MunicipalityAnswer {
    Recorded,
    /// The obligation was paid already by another payment: an operator
    /// refunds this one.
    Refused,
}

/// What a payment pays for: sealed in the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentDetails {
    pub fee_id: String,
    pub kind: FeeKind,
    pub period: i32,
    pub detail: String,
    pub amount_hellers: i64,
    pub variable_symbol: String,
    #[serde(with = "iso_date")]
    pub due_date: Date,
    pub municipality: Municipality,
}

time::serde::format_description!(iso_date, Date, "[year]-[month]-[day]");

/// A payment record as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentRecord {
    #[serde(rename = "type")]
    pub doc_type: String,
    pub id: String,
    pub state: PaymentState,
    /// Where the citizen pays (the gateway's page).
    pub pay_url: String,
    /// Base64 of the sealed [`PaymentDetails`].
    pub sealed_details: String,
    /// The lock document's id (`fee-<hash of the fee id>`).
    pub lock_id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub created_at_nanos: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option", default, skip_serializing_if = "Option::is_none")]
    pub paid_at: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub municipality: Option<MunicipalityAnswer>,
    /// The receipt went to Documents (and the notice out).
    #[serde(default)]
    pub receipt_filed: bool,
    #[serde(default)]
    pub simulated: bool,
}

impl PaymentRecord {
    /// Whether everything the record's state owes is done.
    pub fn settled(&self) -> bool {
        match self.state {
            PaymentState::Pending => false,
            PaymentState::Paid => self.municipality.is_some() && self.receipt_filed,
            PaymentState::Declined | PaymentState::Expired => true,
        }
    }
}

pub fn doc_id(id: &str) -> String {
    format!("payment-{id}")
}

/// The receipt's document id in Documents.
pub fn receipt_id(id: &str) -> String {
    format!("fee-receipt-{id}")
}

/// The lock document of an obligation.
pub fn lock_id(fee_id: &str) -> String {
    format!("fee-{}", &sha256_hex(fee_id)[..32])
}

/// A payment id as the API takes it: a UUID, hyphenated, lower case.
pub fn parse_payment_id(value: &str) -> Option<String> {
    uuid::Uuid::parse_str(value).ok().map(|id| id.hyphenated().to_string()).filter(|id| id == value)
}

/// The citizen's municipality and obligations, from their residence.
pub async fn obligations(
    fees: &Fees,
    subject: &SubjectId,
) -> Result<Option<(Municipality, Vec<Obligation>)>, FeesError> {
    let Some(address) = fees.residence.address(subject).await? else { return Ok(None) };
    let Some(municipality) = fees.fee_system.municipality_of(&address).await? else { return Ok(None) };
    let owed = fees.fee_system.obligations(&municipality.code, subject).await?;
    Ok(Some((municipality, owed)))
}

/// Why a payment cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("the portal does not know the citizen's municipality")]
    NoMunicipality,
    #[error("no such fee")]
    NoSuchFee,
    #[error("the fee is paid")]
    AlreadyPaid,
    #[error("another request is starting a payment of the same fee")]
    Busy,
    #[error(transparent)]
    Fees(#[from] FeesError),
}

impl From<StoreError> for StartError {
    fn from(error: StoreError) -> Self {
        Self::Fees(error.into())
    }
}

/// Starts a payment of the citizen's obligation `fee_id`, or hands out the
/// one that is still pending. Returns the record and whether it is new.
pub async fn start(fees: &Fees, subject: &SubjectId, fee_id: &str) -> Result<(PaymentRecord, bool), StartError> {
    let (municipality, owed) = obligations(fees, subject).await?.ok_or(StartError::NoMunicipality)?;
    let obligation = owed.into_iter().find(|o| o.id == fee_id).ok_or(StartError::NoSuchFee)?;
    if obligation.paid.is_some() {
        return Err(StartError::AlreadyPaid);
    }
    let owner = subject.as_str();
    let lock = lock_id(fee_id);
    let lock_doc = fees.documents.get(COLLECTION, owner, &lock).await?;
    if let Some(current) = lock_doc.as_ref().and_then(|d| d.body["currentPayment"].as_str()) {
        let record = settle(fees, subject, current).await?;
        match record.state {
            PaymentState::Pending => return Ok((record, false)),
            PaymentState::Paid => return Err(StartError::AlreadyPaid),
            PaymentState::Declined | PaymentState::Expired => {}
        }
    }

    let id = uuid::Uuid::new_v4().hyphenated().to_string();
    let details = PaymentDetails {
        fee_id: fee_id.to_owned(),
        kind: obligation.kind,
        period: obligation.period,
        detail: obligation.detail.clone(),
        amount_hellers: obligation.amount_hellers,
        variable_symbol: obligation.variable_symbol.clone(),
        due_date: obligation.due_date,
        municipality: municipality.clone(),
    };
    let description = format!("{} {} – {}", obligation.kind.czech_name(), obligation.period, municipality.name);
    let return_url = format!("{}/api/fees/payments/{id}", fees.settings.public_base_url.trim_end_matches('/'));
    // The gateway first: without a connected gateway nothing is stored. The
    // citizen learns the pay address only after the record exists, so a
    // payment started here and never recorded cannot be paid.
    let intent = fees
        .payments
        .start_payment(&id, obligation.amount_hellers, &description, &return_url)
        .await
        .map_err(FeesError::from)?;

    let plain = serde_json::to_vec(&details).map_err(corrupt)?;
    let sealed = fees.sealer.encrypt(owner, &doc_id(&id), DETAILS_FIELD, &plain).await.map_err(FeesError::from)?;
    let now = fees.clock.now();
    let record = PaymentRecord {
        doc_type: "fee-payment".into(),
        id: id.clone(),
        state: PaymentState::Pending,
        pay_url: intent.pay_url,
        sealed_details: base64::engine::general_purpose::STANDARD.encode(sealed),
        lock_id: lock.clone(),
        created_at: now,
        created_at_nanos: i64::try_from(now.unix_timestamp_nanos()).unwrap_or(i64::MAX),
        updated_at: now,
        paid_at: None,
        municipality: None,
        receipt_filed: false,
        simulated: fees.settings.simulated,
    };
    // The lookup first: a record is never without it.
    let index = NewDocument::new(INDEX_PARTITION, id.clone(), serde_json::json!({"subject": owner}));
    fees.documents.create(COLLECTION, index).await?;
    let body = serde_json::to_value(&record).map_err(corrupt)?;
    let lock_body = serde_json::json!({"type": "fee-lock", "currentPayment": id});
    let lock_op = match &lock_doc {
        Some(doc) => {
            BatchOp::Replace { doc: NewDocument::new(owner, lock.clone(), lock_body), if_match: doc.etag.clone() }
        }
        None => BatchOp::Create(NewDocument::new(owner, lock.clone(), lock_body)),
    };
    let ops = vec![BatchOp::Create(NewDocument::new(owner, doc_id(&id), body)), lock_op];
    if let Err(error) = fees.documents.batch(COLLECTION, owner, ops).await {
        let _ = fees.documents.delete(COLLECTION, INDEX_PARTITION, &id, None).await;
        return Err(match error {
            StoreError::PreconditionFailed | StoreError::Conflict => StartError::Busy,
            error => error.into(),
        });
    }
    let entry = AccessEntry::new(Actor::Citizen, Action::Create, "fee-payment", &id, "zaplacení místního poplatku");
    fees.access_log.record(subject, entry).await?;
    Ok((record, true))
}

/// The citizen's payment record, or `None`.
pub async fn load(fees: &Fees, subject: &str, id: &str) -> Result<Option<(PaymentRecord, ETag)>, FeesError> {
    let Some(doc) = fees.documents.get(COLLECTION, subject, &doc_id(id)).await? else { return Ok(None) };
    let record = serde_json::from_value(doc.body).map_err(corrupt)?;
    Ok(Some((record, doc.etag)))
}

async fn save(fees: &Fees, subject: &str, record: &PaymentRecord, etag: &ETag) -> Result<ETag, FeesError> {
    let body = serde_json::to_value(record).map_err(corrupt)?;
    match fees.documents.replace(COLLECTION, NewDocument::new(subject, doc_id(&record.id), body), etag).await {
        Ok(etag) => Ok(etag),
        Err(StoreError::PreconditionFailed) => Err(FeesError::Contended),
        Err(error) => Err(error.into()),
    }
}

/// The record's details, opened.
pub async fn details(fees: &Fees, subject: &str, record: &PaymentRecord) -> Result<PaymentDetails, FeesError> {
    let sealed = base64::engine::general_purpose::STANDARD.decode(&record.sealed_details).map_err(corrupt)?;
    let plain = fees.sealer.decrypt(subject, &doc_id(&record.id), DETAILS_FIELD, &sealed).await?;
    serde_json::from_slice(&plain).map_err(corrupt)
}

/// The citizen's payment records, newest first (the last 100).
pub async fn list(fees: &Fees, subject: &str) -> Result<Vec<PaymentRecord>, FeesError> {
    let query = Query::default()
        .filter("type", FilterOp::Eq, "fee-payment")
        .order_by("createdAtNanos", Order::Descending)
        .page_size(100);
    let page = fees.documents.query(COLLECTION, subject, query).await?;
    page.items.into_iter().map(|doc| serde_json::from_value(doc.body).map_err(corrupt)).collect()
}

/// The citizen a payment belongs to (for the gateway's notification).
pub async fn owner_of(fees: &Fees, payment: &str) -> Result<Option<SubjectId>, FeesError> {
    let Some(doc) = fees.documents.get(COLLECTION, INDEX_PARTITION, payment).await? else { return Ok(None) };
    Ok(doc.body["subject"].as_str().and_then(|s| SubjectId::parse(s.to_owned()).ok()))
}

/// The queue message of `SettleFeePayment`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SettleMessage {
    pub payment_id: String,
    pub subject: String,
}

/// Queues the settlement of a payment.
pub async fn queue_settlement(fees: &Fees, subject: &SubjectId, payment: &str) -> Result<(), StoreError> {
    let queue = QueueName::parse(SETTLE_QUEUE)?;
    let message = SettleMessage { payment_id: payment.to_owned(), subject: subject.as_str().to_owned() };
    let text = serde_json::to_string(&message).map_err(|e| StoreError::Invalid(e.to_string()))?;
    match fees.queues.send(&queue, &text, None).await {
        Err(StoreError::NotFound) => {
            fees.queues.ensure(&queue).await?;
            fees.queues.send(&queue, &text, None).await.map(drop)
        }
        other => other.map(drop),
    }
}

/// Brings a payment up to date with the gateway and finishes what its state
/// owes (see the module docs). Safe to run any number of times, from any
/// point a crash left. A payment the gateway still has pending is returned
/// as it is.
pub async fn settle(fees: &Fees, subject: &SubjectId, id: &str) -> Result<PaymentRecord, FeesError> {
    let owner = subject.as_str();
    for _ in 0..8 {
        let (mut record, etag) = load(fees, owner, id)
            .await?
            .ok_or_else(|| FeesError::Malformed("no such payment of this citizen".into()))?;
        if record.settled() {
            return Ok(record);
        }
        let now = fees.clock.now();
        if record.state == PaymentState::Pending {
            let state = match fees.payments.status(id).await {
                Ok(status) => PaymentState::from(status),
                // The gateway does not know the session (it never started, or
                // a simulator restarted): it can take no money for it.
                Err(PaymentError::Unknown) => PaymentState::Expired,
                Err(error) => return Err(error.into()),
            };
            if state == PaymentState::Pending {
                return Ok(record);
            }
            record.state = state;
            record.updated_at = now;
            if state == PaymentState::Paid {
                record.paid_at = Some(now);
            }
            match save(fees, owner, &record, &etag).await {
                Ok(_) => {}
                Err(FeesError::Contended) => continue,
                Err(error) => return Err(error),
            }
            let entry = AccessEntry::new(
                Actor::System { job: SETTLE_FUNCTION.into() },
                Action::Update,
                "fee-payment",
                id,
                "výsledek platby místního poplatku z platební brány",
            );
            fees.access_log.record(subject, entry).await?;
            continue;
        }
        // Paid: the municipality, then the receipt, each marked once done.
        let details = details(fees, owner, &record).await?;
        if record.municipality.is_none() {
            let paid_at = record.paid_at.unwrap_or(record.updated_at);
            let answer = match fees
                .fee_system
                .record_payment(
                    &details.municipality.code,
                    subject,
                    &details.fee_id,
                    id,
                    details.amount_hellers,
                    paid_at,
                )
                .await
            {
                Ok(()) => MunicipalityAnswer::Recorded,
                Err(FeeSystemError::Refused(reason)) => {
                    tracing::error!(payment = id, reason = %reason, "the municipality refused a paid fee payment; an operator must refund it");
                    MunicipalityAnswer::Refused
                }
                Err(error) => return Err(error.into()),
            };
            record.municipality = Some(answer);
        } else {
            let filed = receipt_document(fees, subject, &record, &details).await?;
            announce(fees, subject, &record, &filed).await?;
            record.receipt_filed = true;
        }
        record.updated_at = now;
        match save(fees, owner, &record, &etag).await {
            Ok(_) | Err(FeesError::Contended) => continue,
            Err(error) => return Err(error),
        }
    }
    Err(FeesError::Contended)
}

/// The sealed receipt for Documents: inline, or in a blob written once.
async fn receipt_document(
    fees: &Fees,
    subject: &SubjectId,
    record: &PaymentRecord,
    details: &PaymentDetails,
) -> Result<FiledDocument, FeesError> {
    let pdf = receipt::pdf(record, details).map_err(|e| FeesError::Receipt(e.to_string()))?;
    let document_id = receipt_id(&record.id);
    let sealed = fees.sealer.encrypt(subject.as_str(), &document_id, "content", &pdf).await?;
    let mut size = pdf.len() as u64;
    let content = if sealed.len() <= fees.settings.inline_limit {
        SealedContent::Inline { sealed: base64::engine::general_purpose::STANDARD.encode(&sealed) }
    } else {
        let path = BlobPath::parse(format!("fees/{}/receipts/{}.pdf", citizen_folder(subject.as_str()), record.id))?;
        let metadata = [("plainsize".to_owned(), size.to_string())].into_iter().collect();
        match fees
            .blobs
            .put(&path, Bytes::from(sealed), "application/octet-stream", metadata, PutMode::CreateOnly)
            .await
        {
            Ok(_) => {}
            // An earlier attempt wrote it (a put is all or nothing).
            Err(StoreError::Conflict) => {
                let (info, _) = fees.blobs.get(&path).await?;
                size = info.metadata.get("plainsize").and_then(|s| s.parse().ok()).unwrap_or(size);
            }
            Err(error) => return Err(error.into()),
        }
        SealedContent::Blob { path: path.as_str().to_owned() }
    };
    Ok(FiledDocument {
        document_id,
        title: receipt::title(details),
        kind: "receipt".into(),
        source: "fees".into(),
        source_ref: record.id.clone(),
        media_type: "application/pdf".into(),
        file_name: format!("potvrzeni-poplatek-{}.pdf", record.id),
        size,
        content,
        simulated: record.simulated,
    })
}

/// The receipt to Documents and the notice to the citizen; ids fixed by the
/// payment, so repeating this files and tells once.
async fn announce(
    fees: &Fees,
    subject: &SubjectId,
    record: &PaymentRecord,
    filed: &FiledDocument,
) -> Result<(), FeesError> {
    let at = record.paid_at.unwrap_or(record.updated_at);
    let data = serde_json::to_value(filed).map_err(corrupt)?;
    let event = Event::new(RECEIPT_FILED, &record.id, subject.as_str(), at, data);
    portal_events::publish(fees.queues.as_ref(), portal_events::DOCUMENTS_QUEUE, &event).await?;
    let notice = Notice::DocumentFiled(DocumentFiled { title: Some(filed.title.clone()) });
    portal_events::publish_notice(fees.queues.as_ref(), &notice, &receipt_id(&record.id), subject.as_str(), at).await?;
    Ok(())
}
