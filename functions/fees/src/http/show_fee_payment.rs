//! `GET /api/fees/payments/{payment}`: the payment's status, and the address
//! the gateway returns the citizen to. Coming back asks the gateway (the
//! source of truth) and settles the payment then and there, so the citizen
//! sees the outcome whether the gateway's notification came first, comes
//! later or never.

use axum::Json;
use axum::extract::{Path, State};
use portal_host::Problem;
use portal_security::{Action, Citizen};

use super::{PaymentView, Shared, no_such_payment};
use crate::payment;

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "ShowFeePayment";

/// One payment of the citizen.
#[utoipa::path(
    get,
    path = "/api/fees/payments/{payment}",
    operation_id = OPERATION,
    tag = "fees",
    params(("payment" = String, Path, description = "The payment's id.")),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Stav platby.", body = PaymentView),
        (status = 404, description = "Takovou platbu nemáte.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(fees): State<Shared>,
    citizen: Citizen,
    Path(id): Path<String>,
) -> Result<Json<PaymentView>, Problem> {
    let id = payment::parse_payment_id(&id).ok_or_else(no_such_payment)?;
    let owner = citizen.subject.as_str();
    if payment::load(&fees, owner, &id).await?.is_none() {
        return Err(no_such_payment());
    }
    let record = payment::settle(&fees, &citizen.subject, &id).await?;
    let details = payment::details(&fees, owner, &record).await?;
    fees.access_log.record_own(&citizen, Action::Read, "fee-payment", &id, "stav platby místního poplatku").await?;
    Ok(Json(PaymentView::new(&fees, &record, &details)))
}
