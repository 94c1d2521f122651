//! `GET /api/fees/{fee}/qr/svg`: the QR Platba code of an obligation as
//! SVG (see [`crate::qr`]).

use axum::extract::{Path, State};
use axum::response::Response;
use portal_host::Problem;
use portal_security::Citizen;

use super::Shared;

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "FeeQrSvg";

/// The QR Platba code as SVG.
#[utoipa::path(
    get,
    path = "/api/fees/{fee}/qr/svg",
    operation_id = OPERATION,
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
    super::qr_image(&fees, &citizen, &fee, crate::qr::svg, "image/svg+xml").await
}
