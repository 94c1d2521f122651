//! `POST /api/filings/{id}/simulated-payment` `{paid}`: local mode only
//! (SIMULATOR): the citizen settles the simulated fee payment by hand and the
//! settlement is queued, as the payment gateway's notification would.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use portal_host::{Body, Problem};
use portal_security::{Action, Citizen};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Shared, invalid, no_such_filing};
use crate::filings::{FilingError, licence, load, parse_filing_id};

/// How the simulated payment ends.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SettleRequest {
    /// `true`: paid; `false`: declined.
    paid: bool,
}

/// The simulated payment is settled.
#[derive(Debug, Serialize, ToSchema)]
pub struct SettledPayment {
    pub settled: bool,
    /// Always `true`.
    pub simulated: bool,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "SettleSimulatedFilingPayment";

/// SIMULATOR: settles a filing's simulated fee payment (local mode only).
#[utoipa::path(
    post,
    path = "/api/filings/{id}/simulated-payment",
    operation_id = OPERATION,
    tag = "filings",
    params(("id" = String, Path, description = "The filing's id.")),
    request_body = SettleRequest,
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 202, description = "Simulovaná platba je vyřízena; podání pokračuje.", body = SettledPayment),
        (status = 400, description = "Chybí `paid` (true nebo false).", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Platby se zde nesimulují, nebo takové podání či platba neexistuje.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(registers): State<Shared>,
    citizen: Citizen,
    Path(id): Path<String>,
    body: Result<Body<SettleRequest>, Problem>,
) -> Result<(StatusCode, Json<SettledPayment>), Problem> {
    let Some(gateway) = &registers.simulated_payments else {
        return Err(Problem::not_found("payments are not simulated here"));
    };
    let id = parse_filing_id(&id).ok_or_else(no_such_filing)?;
    let Ok(Body(body)) = body else { return Err(invalid("paid", "required, true or false")) };
    let (filing, _) = load(&registers, citizen.subject.as_str(), &id).await?.ok_or_else(no_such_filing)?;
    let payment = filing.payment.ok_or_else(|| Problem::not_found("this filing has no payment"))?;
    if gateway.settle(&payment.id, body.paid).is_err() {
        return Err(Problem::not_found("no such payment"));
    }
    licence::queue_settlement(&registers, &citizen.subject, &id).await.map_err(FilingError::from)?;
    registers.access_log.record_own(&citizen, Action::Update, "filing", &id, "simulovaná platba poplatku").await?;
    Ok((StatusCode::ACCEPTED, Json(SettledPayment { settled: body.paid, simulated: true })))
}
