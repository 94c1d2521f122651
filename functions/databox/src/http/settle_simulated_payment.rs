//! `POST /api/databox/credit/purchases/{id}/simulated-payment`: SIMULATOR
//! only, what the bank would do. Settles the payment and queues the
//! `PurchaseCredit` message, as the gateway's notification would.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use portal_host::{Body, Problem};
use portal_security::Citizen;
use portal_store::{QueueName, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Shared;
use crate::COLLECTION;
use crate::credit::{self, PurchaseMessage};

/// How the simulated bank ends the payment.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = SimulatedCreditPayment)]
pub struct Payment {
    /// True: paid; false: declined.
    pub paid: bool,
}

/// The simulated payment is settled; the purchase follows shortly.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SimulatedCreditSettlement)]
pub struct Settlement {
    pub settled: bool,
    /// Always true: only the simulator answers here.
    pub simulated: bool,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "SettleSimulatedPayment";

/// SIMULATOR: pays (or declines) a pending purchase, as the bank would.
#[utoipa::path(
    post,
    path = "/api/databox/credit/purchases/{id}/simulated-payment",
    operation_id = OPERATION,
    tag = "databox",
    params(("id" = String, Path, description = "The payment id.")),
    request_body = Payment,
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 202, description = "SIMULÁTOR: platba je vyřízena; kredit se připíše za chvíli.", body = Settlement),
        (status = 404, description = "Takový nákup nebo platba neexistuje, nebo se platby zde nesimulují.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(databox): State<Shared>,
    citizen: Citizen,
    Path(id): Path<String>,
    body: Result<Body<Payment>, Problem>,
) -> Result<(StatusCode, Json<Settlement>), Problem> {
    let Some(gateway) = &databox.simulated_payments else {
        return Err(Problem::not_found("payments are not simulated here"));
    };
    // Whether payments are simulated here is said before anything about the body.
    let Body(payment) = body?;
    let not_found = || Problem::not_found("no such purchase");
    if id.len() > 64 || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(not_found());
    }
    databox
        .documents
        .get(COLLECTION, citizen.subject.as_str(), &credit::purchase_id(&id))
        .await?
        .ok_or_else(not_found)?;
    if gateway.settle(&id, payment.paid).is_err() {
        return Err(Problem::not_found("no such payment"));
    }
    let message = PurchaseMessage { payment_id: id, subject: citizen.subject.as_str().to_owned() };
    let queue = QueueName::parse(credit::QUEUE)?;
    let text = serde_json::to_string(&message).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let sent = databox.queues.send(&queue, &text, None).await;
    if let Err(StoreError::NotFound) = sent {
        databox.queues.ensure(&queue).await?;
        databox.queues.send(&queue, &text, None).await?;
    } else {
        sent?;
    }
    Ok((StatusCode::ACCEPTED, Json(Settlement { settled: payment.paid, simulated: true })))
}
