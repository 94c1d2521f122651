//! `GET /api/registers/driver-points`: the citizen's driver points (bodové
//! hodnocení řidiče).

use axum::Json;
use axum::extract::State;
use portal_host::Problem;
use portal_security::Citizen;
use serde::Serialize;
use utoipa::ToSchema;

use super::{Shared, notice, record_lookup, simulated};
use crate::gateway::{DriverPoints, RequestId};
use crate::render::czech_date;

/// The driver's points, with what is left to the limit.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DriverPointsView {
    #[serde(flatten)]
    pub points: DriverPoints,
    /// Points left before the licence is lost.
    pub remaining: u8,
    /// When points next fall away, as a Czech date (`14. 3. 2027`); `null`
    /// with no points.
    pub next_reduction_on: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notice: Option<&'static str>,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "MyDriverPoints";

/// The citizen's points from the register of drivers; the look is logged.
#[utoipa::path(
    get,
    path = "/api/registers/driver-points",
    operation_id = OPERATION,
    tag = "registers",
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Vaše bodové hodnocení řidiče.", body = DriverPointsView),
        (status = 404, description = "Registr o vás nevede žádný záznam.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Registr dotaz odmítl.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(State(registers): State<Shared>, citizen: Citizen) -> Result<Json<DriverPointsView>, Problem> {
    let result = registers.gateway.driver_points(&RequestId::random(), &citizen.subject).await;
    let purpose = "zobrazení mých bodů řidiče";
    record_lookup(&registers, &citizen, "register-driver-points", "points", purpose, result.is_ok()).await?;
    let mut points = result?;
    points.simulated = simulated(&registers, points.simulated);
    Ok(Json(DriverPointsView {
        remaining: points.limit.saturating_sub(points.total),
        next_reduction_on: points.reduction.next_on.map(czech_date),
        notice: notice(points.simulated),
        points,
    }))
}
