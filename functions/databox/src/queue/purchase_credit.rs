//! Queue function `PurchaseCredit` (on `purchase-credit`): settles a purchase
//! of credit for commercial messages.
//!
//! `POST /api/databox/credit/purchases` records a purchase and a payment
//! intent. When the gateway settles it, a message on `purchase-credit` runs
//! [`purchase_credit`]: it asks the gateway (the source of truth), tops up the
//! box through the credit system (idempotent by the payment id), and writes in
//! one batch the purchase's final state, a ledger entry and the receipt. The
//! batch is create-only on the ledger entry, so a replayed or duplicated
//! message never credits twice, and the ledger always balances: the sum of
//! entries equals the credit bought.
//!
//! The events (the notification, the receipt for Documents) go out after the
//! batch, with ids fixed by the payment id. A delivery that finds the purchase
//! settled already publishes them again: a crash between the batch and the
//! events loses nothing, and the consumers drop the duplicates by id.

use std::sync::Arc;

use portal_events::{CreditPurchaseConfirmed, CreditPurchaseDeclined, DeclineReason, Notice};
use portal_host::{Failure, Function, InvocationError, Outcome, QueueInvocation};
use portal_security::{AccessEntry, Action, Actor, SubjectId};
use portal_store::{BatchOp, ETag, NewDocument, StoreError};
use serde_json::json;

use crate::credit::{Purchase, PurchaseMessage, PurchaseState, QUEUE, ledger_id, purchase_id, receipt_id};
use crate::events::{self, Event};
use crate::payments::{CreditError, PaymentError, PaymentStatus};
use crate::{COLLECTION, Databox};

/// The function's name.
pub const FUNCTION: &str = "PurchaseCredit";

/// `PurchaseCredit` on queue `purchase-credit`.
pub fn function(databox: Arc<Databox>) -> Function {
    Function::queue(FUNCTION, QUEUE, move |invocation: QueueInvocation<PurchaseMessage>| {
        let databox = databox.clone();
        async move {
            // Erasure is final: a late event for an erased citizen is dropped and recorded.
            databox.sealer.keys().refuse_erased(&invocation.message.subject).await?;
            purchase_credit(&databox, &invocation.message).await
        }
    })
}

#[derive(Debug, thiserror::Error)]
pub enum PurchaseError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Payment(#[from] PaymentError),
    #[error(transparent)]
    Credit(#[from] CreditError),
    #[error("no such purchase")]
    Unknown,
    #[error("the receipt cannot be sealed")]
    Seal(#[from] portal_crypto::CryptoError),
}

impl Failure for PurchaseError {
    /// A lost race (`PreconditionFailed`) is retried too: the retry reads
    /// what the other delivery wrote.
    fn is_retryable(&self) -> bool {
        match self {
            Self::Store(e) => e.is_retryable() || matches!(e, StoreError::PreconditionFailed),
            Self::Payment(PaymentError::Unavailable(_)) | Self::Credit(CreditError::Unavailable(_)) => true,
            Self::Payment(PaymentError::Unknown | PaymentError::NotConnected)
            | Self::Credit(CreditError::Refused(_))
            | Self::Unknown => false,
            Self::Seal(e) => e.is_retryable(),
        }
    }
}

async fn load(databox: &Databox, subject: &str, payment_id: &str) -> Result<(Purchase, ETag), PurchaseError> {
    let doc =
        databox.documents.get(COLLECTION, subject, &purchase_id(payment_id)).await?.ok_or(PurchaseError::Unknown)?;
    let purchase = serde_json::from_value(doc.body).map_err(|e| StoreError::Invalid(e.to_string()))?;
    Ok((purchase, doc.etag))
}

/// The queue function `PurchaseCredit`: one settlement, idempotent.
pub async fn purchase_credit(databox: &Databox, message: &PurchaseMessage) -> Result<Outcome, InvocationError> {
    Ok(settle(databox, message).await?)
}

async fn settle(databox: &Databox, message: &PurchaseMessage) -> Result<Outcome, PurchaseError> {
    let subject = message.subject.as_str();
    let (purchase, etag) = load(databox, subject, &message.payment_id).await?;
    if purchase.state != PurchaseState::Pending {
        announce(databox, subject, &purchase).await?;
        return Ok(Outcome::done().log(format!("purchase already {:?}; events published again", purchase.state)));
    }
    let status = databox.payments.status(&message.payment_id).await?;
    let now = databox.clock.now();
    let final_state = match status {
        PaymentStatus::Pending => {
            // Not settled yet: try again later (the host retries the message).
            return Err(PurchaseError::Store(StoreError::Throttled { retry_after: None }));
        }
        PaymentStatus::Paid => PurchaseState::Credited,
        PaymentStatus::Declined => PurchaseState::Declined,
        PaymentStatus::Expired => PurchaseState::Expired,
    };
    let box_id = crate::isds::BoxId::parse(&purchase.box_id).map_err(|e| StoreError::Invalid(e.to_string()))?;
    if final_state == PurchaseState::Credited {
        databox.credit.top_up(&box_id, purchase.amount_hellers, &message.payment_id).await?;
    }
    let settled = Purchase { state: final_state, settled_at: Some(now), ..purchase.clone() };
    let mut ops = vec![BatchOp::Replace {
        doc: NewDocument::new(
            subject,
            purchase_id(&message.payment_id),
            serde_json::to_value(&settled).map_err(|e| StoreError::Invalid(e.to_string()))?,
        ),
        if_match: etag,
    }];
    if final_state == PurchaseState::Credited {
        ops.push(BatchOp::Create(NewDocument::new(
            subject,
            ledger_id(&message.payment_id),
            json!({"type": "credit-ledger", "paymentId": message.payment_id, "boxId": purchase.box_id,
                   "amountHellers": purchase.amount_hellers, "at": now.unix_timestamp()}),
        )));
        ops.push(BatchOp::Create(NewDocument::new(
            subject,
            receipt_id(&message.payment_id),
            json!({"type": "credit-receipt", "paymentId": message.payment_id, "boxId": purchase.box_id,
                   "amountHellers": purchase.amount_hellers, "issuedAt": now.unix_timestamp(),
                   "simulated": databox.settings.simulated}),
        )));
    }
    match databox.documents.batch(COLLECTION, subject, ops).await {
        Ok(_) => {}
        // Another delivery of the same message settled it first; it publishes the events.
        Err(StoreError::PreconditionFailed | StoreError::Conflict) => {
            return Ok(Outcome::done().log("settled concurrently by another delivery"));
        }
        Err(error) => return Err(error.into()),
    }
    announce(databox, subject, &settled).await?;
    if let Ok(subject_id) = SubjectId::parse(subject) {
        let entry = AccessEntry::new(
            Actor::System { job: FUNCTION.into() },
            Action::Update,
            "credit-purchase",
            &message.payment_id,
            "settling a credit purchase",
        );
        databox.access_log.record(&subject_id, entry).await?;
    }
    Ok(Outcome::done().log(format!("purchase {:?}", final_state)))
}

/// Tells the citizen how a settled purchase ended and, when credited, files the
/// receipt in Documents. Safe to repeat: the event ids are fixed.
async fn announce(databox: &Databox, subject: &str, purchase: &Purchase) -> Result<(), PurchaseError> {
    let at = purchase.settled_at.unwrap_or(purchase.created_at);
    let payment = purchase.payment_id.as_str();
    let declined =
        |reason| Notice::CreditPurchaseDeclined(CreditPurchaseDeclined { payment_id: payment.to_owned(), reason });
    let notice = match purchase.state {
        PurchaseState::Pending => return Ok(()),
        PurchaseState::Credited => Notice::CreditPurchaseConfirmed(CreditPurchaseConfirmed {
            payment_id: payment.to_owned(),
            amount_hellers: purchase.amount_hellers,
        }),
        PurchaseState::Declined => declined(DeclineReason::Declined),
        PurchaseState::Expired => declined(DeclineReason::Expired),
    };
    portal_events::publish_notice(databox.queues.as_ref(), &notice, payment, subject, at).await?;
    if purchase.state == PurchaseState::Credited {
        let receipt = receipt_document(databox, subject, purchase).await?;
        let data = serde_json::to_value(&receipt).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let event = Event::new(events::RECEIPT_ISSUED, payment, subject, at, data);
        events::publish(databox.queues.as_ref(), events::DOCUMENTS_QUEUE, &event).await?;
    }
    Ok(())
}

/// The receipt as a plain-text document, sealed for Documents.
async fn receipt_document(
    databox: &Databox,
    subject: &str,
    purchase: &Purchase,
) -> Result<portal_events::FiledDocument, PurchaseError> {
    use base64::Engine as _;
    let at = purchase.settled_at.unwrap_or(purchase.created_at);
    let date = at
        .format(&time::macros::format_description!("[day].[month].[year] [hour]:[minute] UTC"))
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    let amount = format!("{},{:02} Kč", purchase.amount_hellers / 100, purchase.amount_hellers % 100);
    let mut text = String::new();
    if databox.settings.simulated {
        text.push_str("SIMULÁTOR: platba i kredit jsou simulované, nejde o skutečnou platbu.\n\n");
    }
    text.push_str(&format!(
        "Potvrzení o nákupu kreditu datové schránky\n\n\
         Číslo platby: {payment}\n\
         Datová schránka: {box_id}\n\
         Částka: {amount}\n\
         Připsáno: {date}\n\n\
         Kredit slouží k placení poštovních datových zpráv.\n",
        payment = purchase.payment_id,
        box_id = purchase.box_id,
    ));
    let document_id = receipt_id(&purchase.payment_id);
    let sealed = databox.sealer.encrypt(subject, &document_id, "content", text.as_bytes()).await?;
    Ok(portal_events::FiledDocument {
        document_id,
        title: format!("Potvrzení o nákupu kreditu {amount}"),
        kind: "receipt".into(),
        source: "databox".into(),
        source_ref: purchase.payment_id.clone(),
        media_type: "text/plain; charset=utf-8".into(),
        file_name: format!("potvrzeni-kredit-{}.txt", purchase.payment_id),
        size: text.len() as u64,
        content: portal_events::SealedContent::Inline {
            sealed: base64::engine::general_purpose::STANDARD.encode(sealed),
        },
        simulated: databox.settings.simulated,
    })
}
