//! `GET /api/registers/vehicles`: the vehicles the citizen owns or operates.

use axum::Json;
use axum::extract::State;
use portal_host::Problem;
use portal_security::Citizen;
use serde::Serialize;
use utoipa::ToSchema;

use super::{Shared, notice, record_lookup, simulated};
use crate::gateway::{RequestId, Vehicles};

/// The vehicles where the citizen is owner or operator.
#[derive(Debug, Serialize, ToSchema)]
pub struct VehiclesView {
    #[serde(flatten)]
    pub vehicles: Vehicles,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notice: Option<&'static str>,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "MyVehicles";

/// The citizen's vehicles from the register of road vehicles; the look is logged.
#[utoipa::path(
    get,
    path = "/api/registers/vehicles",
    operation_id = OPERATION,
    tag = "registers",
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Vozidla, jejichž jste vlastníkem nebo provozovatelem.", body = VehiclesView),
        (status = 404, description = "Registr o vás nevede žádný záznam.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Registr dotaz odmítl.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(State(registers): State<Shared>, citizen: Citizen) -> Result<Json<VehiclesView>, Problem> {
    let result = registers.gateway.vehicles(&RequestId::random(), &citizen.subject).await;
    let purpose = "zobrazení mých vozidel";
    record_lookup(&registers, &citizen, "register-vehicles", "vehicles", purpose, result.is_ok()).await?;
    let mut vehicles = result?;
    vehicles.simulated = simulated(&registers, vehicles.simulated);
    Ok(Json(VehiclesView { notice: notice(vehicles.simulated), vehicles }))
}
