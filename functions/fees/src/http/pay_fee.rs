//! `POST /api/fees/{fee}/payments`: starts paying an obligation through the
//! payment gateway; the answer's `redirectUrl` is where the citizen pays.
//! While a payment of the fee is pending, the same payment is handed out
//! again (200) instead of a second one.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use portal_host::Problem;
use portal_security::Citizen;

use super::{PaymentView, Shared, no_such_fee};
use crate::municipal::parse_fee_id;
use crate::payment;

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "PayFee";

/// Starts a payment of one of the citizen's fees.
#[utoipa::path(
    post,
    path = "/api/fees/{fee}/payments",
    operation_id = OPERATION,
    tag = "fees",
    params(("fee" = String, Path, description = "The obligation's id (from `GET /api/fees`).", example = "p10-pes-2027-0042")),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 201, description = "Platba je založena; přejděte na `redirectUrl`.", body = PaymentView),
        (status = 200, description = "Platba tohoto poplatku už probíhá; přejděte na její `redirectUrl`.", body = PaymentView),
        (status = 404, description = "Takový poplatek nemáte, nebo portál není napojen na systém vaší obce.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Poplatek je zaplacen, nebo se jeho platba právě zakládá.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(fees): State<Shared>,
    citizen: Citizen,
    Path(fee): Path<String>,
) -> Result<(StatusCode, Json<PaymentView>), Problem> {
    let fee = parse_fee_id(&fee).ok_or_else(no_such_fee)?;
    let (record, new) = payment::start(&fees, &citizen.subject, &fee).await?;
    let details = payment::details(&fees, citizen.subject.as_str(), &record).await?;
    let status = if new { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(PaymentView::new(&fees, &record, &details))))
}
