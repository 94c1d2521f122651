//! `GET /api/me/registers`: what the population register (and, for
//! entrepreneurs, the register of persons) holds about the citizen.

use axum::Json;
use axum::extract::State;
use portal_host::Problem;
use portal_security::Citizen;
use serde::Serialize;
use utoipa::ToSchema;

use super::{Shared, notice, simulated};
use crate::my_data::{self, MyRegisters, Reader};

/// The citizen's register data and whether it came from the portal's short cache.
#[derive(Debug, Serialize, ToSchema)]
pub struct MyRegisterDataView {
    #[serde(flatten)]
    pub data: MyRegisters,
    /// Served from the portal's cache (at most a few minutes old).
    pub cached: bool,
    /// Present (`true`) when the SIMULATOR answered.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub simulated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notice: Option<&'static str>,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "MyRegisterData";

/// The citizen's data from the base registers; every look is logged, cache hits too.
#[utoipa::path(
    get,
    path = "/api/me/registers",
    operation_id = OPERATION,
    tag = "registers",
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Vaše údaje z registru obyvatel (a registru osob).", body = MyRegisterDataView),
        (status = 404, description = "Registr o vás nevede žádný záznam.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Registr dotaz odmítl.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(State(registers): State<Shared>, citizen: Citizen) -> Result<Json<MyRegisterDataView>, Problem> {
    let (data, cached) = my_data::my_registers(&registers, &citizen.subject, Reader::Citizen).await?;
    let simulated = simulated(&registers, data.person.simulated);
    Ok(Json(MyRegisterDataView { data, cached, simulated, notice: notice(simulated) }))
}
