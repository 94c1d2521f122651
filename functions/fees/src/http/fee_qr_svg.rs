//! `GET /api/fees/{fee}/qr/svg`: the QR Platba code of an obligation as
//! SVG (see [`crate::qr`]).

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use portal_host::Problem;
use portal_security::{Action, Citizen};

use super::{Shared, spayd_of, unpaid_obligation};
use crate::FeesError;

/// The QR Platba code as SVG.
#[utoipa::path(
    get,
    path = "/api/fees/{fee}/qr/svg",
    operation_id = "FeeQrSvg",
    tag = "fees",
    params(("fee" = String, Path, description = "The obligation's id.", example = "p10-pes-2027-0042")),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "QR kód platby.", content_type = "image/svg+xml", body = String),
        (status = 404, description = "Takový poplatek nemáte.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Poplatek je zaplacen.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(fees): State<Shared>,
    citizen: Citizen,
    Path(fee): Path<String>,
) -> Result<Response, Problem> {
    let (municipality, obligation) = unpaid_obligation(&fees, &citizen.subject, &fee).await?;
    let spayd = spayd_of(&fees, &municipality, &obligation)?;
    let image = crate::qr::svg(&spayd).map_err(|e| FeesError::Corrupt(e.to_string()))?;
    fees.access_log.record_own(&citizen, Action::Read, "municipal-fee", &obligation.id, "QR platba poplatku").await?;
    let mut response = image.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/svg+xml"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    Ok(response)
}
