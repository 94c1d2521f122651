//! `POST /api/fees/payments/{payment}/simulated-checkout` `{card}`: local
//! mode only (SIMULATOR): the gateway's card page. Test cards decide the
//! outcome (`4242424242424242` paid, `4000000000000002` declined,
//! `4000000000009995` declined for want of money, a number failing the Luhn
//! check declined); a session older than 30 minutes has expired. The
//! simulated gateway then sends its signed notifications, delivered here
//! through the same check as the public notification route, and the answer
//! says where the citizen returns.

use axum::Json;
use axum::extract::{Path, State};
use portal_host::{Body, Problem};
use portal_payments::PaymentError;
use portal_security::{Action, Citizen};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::fee_payment_notification::receive;
use super::{Shared, no_such_payment};
use crate::payment::{self, PaymentState};

/// The card the citizen pays with.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutRequest {
    /// A card number; the simulator's test cards decide the outcome.
    #[schema(example = "4242424242424242")]
    card: String,
}

/// How the simulated checkout ended.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckoutResult {
    /// The gateway's status of the payment.
    pub status: PaymentState,
    /// Where the gateway sends the citizen back.
    pub return_url: String,
    /// Always `true`.
    pub simulated: bool,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "SimulatedFeeCheckout";

/// SIMULATOR: pays a fee payment with a test card (local mode only).
#[utoipa::path(
    post,
    path = "/api/fees/payments/{payment}/simulated-checkout",
    operation_id = OPERATION,
    tag = "fees",
    params(("payment" = String, Path, description = "The payment's id.")),
    request_body = CheckoutRequest,
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Simulovaná platební brána platbu vyřídila; vraťte se na `returnUrl`.", body = CheckoutResult),
        (status = 404, description = "Platby se zde nesimulují, nebo takovou platbu nemáte.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(fees): State<Shared>,
    citizen: Citizen,
    Path(id): Path<String>,
    Body(body): Body<CheckoutRequest>,
) -> Result<Json<CheckoutResult>, Problem> {
    let Some(gateway) = &fees.simulated_payments else {
        return Err(Problem::not_found("payments are not simulated here"));
    };
    let id = payment::parse_payment_id(&id).ok_or_else(no_such_payment)?;
    let (record, _) = payment::load(&fees, citizen.subject.as_str(), &id).await?.ok_or_else(no_such_payment)?;
    let outcome = match gateway.checkout(&record.id, &body.card) {
        Ok(outcome) => outcome,
        Err(PaymentError::Unknown) => return Err(no_such_payment()),
        Err(error) => return Err(crate::FeesError::from(error).into()),
    };
    fees.access_log.record_own(&citizen, Action::Update, "fee-payment", &id, "simulovaná platba kartou").await?;
    // The gateway calls the portal back: every notification it has sent.
    for note in gateway.take_notifications() {
        if let Err(error) = receive(&fees, &note.signature, note.body.as_bytes()).await {
            tracing::warn!(error = %error, "a simulated notification was refused");
        }
    }
    let return_url = outcome.return_url.unwrap_or_else(|| format!("/api/fees/payments/{id}"));
    Ok(Json(CheckoutResult { status: outcome.status.into(), return_url, simulated: true }))
}
