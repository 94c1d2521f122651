//! `GET /api/fees/{fee}/qr/png`: the QR Platba code of an obligation as
//! PNG (see [`crate::qr`]).

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use portal_host::Problem;
use portal_security::{Action, Citizen};

use super::{Shared, spayd_of, unpaid_obligation};

/// The bytes of a PNG image.
#[derive(Debug, utoipa::ToSchema)]
#[schema(value_type = String, format = Binary, content_media_type = "image/png")]
#[allow(dead_code)] // documents the body of the image
pub struct Png(Vec<u8>);
use crate::FeesError;

/// The QR Platba code as PNG.
#[utoipa::path(
    get,
    path = "/api/fees/{fee}/qr/png",
    operation_id = "FeeQrPng",
    tag = "fees",
    params(("fee" = String, Path, description = "The obligation's id.", example = "p10-pes-2027-0042")),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "QR kód platby.", content_type = "image/png", body = Png),
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
    let image = crate::qr::png(&spayd).map_err(|e| FeesError::Corrupt(e.to_string()))?;
    fees.access_log.record_own(&citizen, Action::Read, "municipal-fee", &obligation.id, "QR platba poplatku").await?;
    let mut response = image.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    Ok(response)
}
