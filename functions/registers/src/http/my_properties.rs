//! `GET /api/registers/properties`: the citizen's properties in the land
//! register (katastr nemovitostí).

use axum::Json;
use axum::extract::State;
use portal_host::Problem;
use portal_security::Citizen;
use serde::Serialize;
use utoipa::ToSchema;

use super::{Shared, notice, record_lookup, simulated};
use crate::gateway::{Properties, RequestId};

/// The properties on the citizen's title deeds.
#[derive(Debug, Serialize, ToSchema)]
pub struct PropertiesView {
    #[serde(flatten)]
    pub properties: Properties,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notice: Option<&'static str>,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "MyProperties";

/// The citizen's properties from the land register; the look is logged.
#[utoipa::path(
    get,
    path = "/api/registers/properties",
    operation_id = OPERATION,
    tag = "registers",
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Nemovitosti, u nichž jste zapsáni jako vlastník.", body = PropertiesView),
        (status = 404, description = "Registr o vás nevede žádný záznam.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Registr dotaz odmítl.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(State(registers): State<Shared>, citizen: Citizen) -> Result<Json<PropertiesView>, Problem> {
    let result = registers.gateway.properties(&RequestId::random(), &citizen.subject).await;
    let purpose = "zobrazení mých nemovitostí";
    record_lookup(&registers, &citizen, "register-properties", "properties", purpose, result.is_ok()).await?;
    let mut properties = result?;
    properties.simulated = simulated(&registers, properties.simulated);
    Ok(Json(PropertiesView { notice: notice(properties.simulated), properties }))
}
