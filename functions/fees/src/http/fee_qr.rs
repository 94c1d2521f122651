//! `GET /api/fees/{fee}/qr`: QR Platba for paying an obligation by bank
//! transfer: the SPAYD 1.0 text and where its images are.

use axum::Json;
use axum::extract::{Path, State};
use portal_host::Problem;
use portal_security::{Action, Citizen};
use serde::Serialize;
use utoipa::ToSchema;

use super::{Shared, amount, iso_date, notice, spayd_of, unpaid_obligation};

/// The payment details of QR Platba.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QrPayment {
    /// The SPAYD 1.0 text the QR code carries.
    #[schema(
        example = "SPD*1.0*ACC:CZ5608000000000111122223*AM:1500.00*CC:CZK*RN:MC PRAHA 10*DT:20270331*MSG:Poplatek ze ps%C5%AF 2027*X-VS:1341202742"
    )]
    pub spayd: String,
    pub iban: String,
    pub amount: String,
    pub currency: &'static str,
    pub variable_symbol: String,
    pub payee: String,
    /// YYYY-MM-DD.
    pub due_date: String,
    /// The QR code as PNG.
    pub png_url: String,
    /// The QR code as SVG.
    pub svg_url: String,
    pub simulated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notice: Option<&'static str>,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "FeeQrPayment";

/// QR Platba of one of the citizen's fees.
#[utoipa::path(
    get,
    path = "/api/fees/{fee}/qr",
    operation_id = OPERATION,
    tag = "fees",
    params(("fee" = String, Path, description = "The obligation's id.", example = "p10-pes-2027-0042")),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Platební údaje pro QR Platbu.", body = QrPayment),
        (status = 404, description = "Takový poplatek nemáte.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Poplatek je zaplacen.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(fees): State<Shared>,
    citizen: Citizen,
    Path(fee): Path<String>,
) -> Result<Json<QrPayment>, Problem> {
    let (municipality, obligation) = unpaid_obligation(&fees, &citizen.subject, &fee).await?;
    let spayd = spayd_of(&fees, &municipality, &obligation)?;
    fees.access_log.record_own(&citizen, Action::Read, "municipal-fee", &obligation.id, "QR platba poplatku").await?;
    Ok(Json(QrPayment {
        spayd,
        iban: municipality.iban.clone(),
        amount: amount(obligation.amount_hellers),
        currency: "CZK",
        variable_symbol: obligation.variable_symbol.clone(),
        payee: municipality.payee.clone(),
        due_date: iso_date(obligation.due_date),
        png_url: format!("/api/fees/{}/qr/png", obligation.id),
        svg_url: format!("/api/fees/{}/qr/svg", obligation.id),
        simulated: fees.settings.simulated,
        notice: notice(&fees),
    }))
}
