//! `GET /api/dashboard`: the citizen's tiles, filled within the budget.

use axum::Json;
use axum::extract::State;
use portal_host::Problem;
use portal_security::Citizen;

use super::Shared;
use crate::dashboard::{self, Dashboard};

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "GetDashboard";

/// The citizen's tiles in their order, each `fresh`, `cached` (with its
/// age), `unavailable` (with a Czech message) or a `link`. Every summary
/// source is called in parallel within one budget; a source that is slow or
/// failing never fails the dashboard.
#[utoipa::path(
    get,
    path = "/api/dashboard",
    operation_id = OPERATION,
    tag = "tiles",
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Nástěnka s dlaždicemi.", body = Dashboard),
    )
)]
pub async fn handler(State(tiles): State<Shared>, citizen: Citizen) -> Result<Json<Dashboard>, Problem> {
    Ok(Json(dashboard::build(&tiles, &citizen.subject).await?))
}
