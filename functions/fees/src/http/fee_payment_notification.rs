//! `POST /api/fees/payment-notifications`: PUBLIC, no session; the payment
//! gateway's notification that a payment changed. It proves itself by its
//! signature (`Gateway-Signature: t=<unix>,v1=<HMAC-SHA256 hex of
//! "<t>.<raw body>">`, see `portal_payments::notification`), checked over
//! the raw body; a timestamp outside ±5 minutes is refused (replay), and
//! within the window a notification id already taken is acknowledged
//! without acting again (its nonce is kept 10 minutes). A notification only
//! queues a settlement (`SettleFeePayment`), which asks the gateway for the
//! status: nothing here moves money or changes a record.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use portal_host::Problem;
use portal_payments::NotificationError;
use portal_payments::notification::{SIGNATURE_HEADER, TOLERANCE};
use portal_store::{NewDocument, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Shared;
use crate::payment::{self, parse_payment_id};
use crate::{COLLECTION, Fees, FeesError, sha256_hex};

/// The partition of the nonces of notifications already taken.
pub const NONCE_PARTITION: &str = "notification-nonces";

/// The notification's body, as the gateway sends it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct NotificationBody {
    /// The notification's id; the same when the gateway sends it again.
    id: String,
    payment_id: String,
    /// `pending`, `paid`, `declined` or `expired`.
    status: String,
    /// RFC 3339.
    created_at: String,
}

/// What the portal did with the notification.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationReceipt {
    /// A settlement of the payment was queued.
    pub accepted: bool,
    /// The notification was taken already (a repeat within the window).
    pub duplicate: bool,
}

/// Why a notification is refused.
#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    #[error(transparent)]
    Signature(#[from] NotificationError),
    #[error(transparent)]
    Fees(#[from] FeesError),
}

impl From<ReceiveError> for Problem {
    fn from(error: ReceiveError) -> Self {
        match error {
            ReceiveError::Signature(NotificationError::Malformed) => {
                Problem::validation(vec![portal_host::FieldViolation::new(
                    "Gateway-Signature",
                    "required: t=<unix seconds>,v1=<hex HMAC-SHA256>",
                )])
            }
            ReceiveError::Signature(NotificationError::Body) => {
                Problem::validation(vec![portal_host::FieldViolation::new(
                    "body",
                    "a notification: id, paymentId, status, createdAt",
                )])
            }
            ReceiveError::Signature(error) => {
                Problem::new(StatusCode::UNAUTHORIZED, "bad-signature", "The notification is not authentic")
                    .with_detail(error.to_string())
            }
            ReceiveError::Fees(error) => error.into(),
        }
    }
}

/// Checks and takes one notification (also used by the local simulator,
/// which delivers its notifications through this same path).
pub async fn receive(fees: &Fees, signature: &str, body: &[u8]) -> Result<NotificationReceipt, ReceiveError> {
    let note = fees.notification_key.verify(signature, body, fees.clock.now())?;
    let nonce = sha256_hex(&note.id);
    if fees.documents.get(COLLECTION, NONCE_PARTITION, &nonce).await.map_err(FeesError::from)?.is_some() {
        return Ok(NotificationReceipt { accepted: false, duplicate: true });
    }
    let Some(id) = parse_payment_id(&note.payment_id) else {
        return Ok(NotificationReceipt { accepted: false, duplicate: false });
    };
    let Some(owner) = payment::owner_of(fees, &id).await? else {
        // Not ours, or its citizen erased their account: acknowledged so the
        // gateway stops, nothing done.
        tracing::warn!("a signed notification names a payment the portal does not know");
        return Ok(NotificationReceipt { accepted: false, duplicate: false });
    };
    // Queue first, remember second: a crash in between means a repeat is
    // queued again (harmless), never that a notification is lost.
    payment::queue_settlement(fees, &owner, &id).await.map_err(FeesError::from)?;
    let ttl = std::time::Duration::from_secs(u64::try_from(TOLERANCE.whole_seconds()).unwrap_or(300) * 2);
    let marker = NewDocument::new(NONCE_PARTITION, nonce, serde_json::json!({"type": "nonce"})).with_ttl(ttl);
    match fees.documents.create(COLLECTION, marker).await {
        Ok(_) | Err(StoreError::Conflict) => {}
        Err(error) => return Err(FeesError::from(error).into()),
    }
    Ok(NotificationReceipt { accepted: true, duplicate: false })
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "FeePaymentNotification";

/// The payment gateway's notification.
#[utoipa::path(
    post,
    path = "/api/fees/payment-notifications",
    operation_id = OPERATION,
    tag = "fees",
    params(("Gateway-Signature" = String, Header, description = "`t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<raw body>\" under the shared secret>`")),
    request_body = NotificationBody,
    responses(
        (status = 200, description = "Oznámení přijato (nebo už bylo přijato dříve).", body = NotificationReceipt),
        (status = 401, description = "Podpis nesedí nebo je oznámení mimo časové okno.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(fees): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<NotificationReceipt>, Problem> {
    let signature = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
    Ok(Json(receive(&fees, signature, &body).await?))
}
