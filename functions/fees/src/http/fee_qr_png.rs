//! `GET /api/fees/{fee}/qr/png`: the QR Platba code of an obligation as
//! PNG (see [`crate::qr`]).

use axum::extract::{Path, State};
use axum::response::Response;
use portal_host::Problem;
use portal_security::Citizen;

use super::Shared;

/// The bytes of a PNG image.
#[derive(Debug, utoipa::ToSchema)]
#[schema(value_type = String, format = Binary, content_media_type = "image/png")]
#[allow(dead_code)] // documents the body of the image
pub struct Png(Vec<u8>);

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "FeeQrPng";

/// The QR Platba code as PNG.
#[utoipa::path(
    get,
    path = "/api/fees/{fee}/qr/png",
    operation_id = OPERATION,
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
    super::qr_image(&fees, &citizen, &fee, crate::qr::png, "image/png").await
}
