//! `POST /api/delegations/{id}/simulated-leaving-office`: SIMULATOR only,
//! what the commercial register would record. The simulated register of
//! persons writes that the signed-in statutory body left the company's office
//! yesterday; their very next request for the company is refused (403 naming
//! the representation). A restart of the local portal restores the office.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use portal_host::Problem;
use portal_security::{AccessEntry, Action, Actor, Citizen, GrantKind};
use serde::Serialize;
use utoipa::ToSchema;

use super::{Shared, no_such_grant};

/// What the simulated register now says.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = SimulatedRegisterChange)]
pub struct RegisterChange {
    /// The representation that ended.
    pub id: String,
    /// The last day in office, YYYY-MM-DD.
    pub in_office_until: String,
    /// Always true: only the simulated register answers here.
    pub simulated: bool,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "SimulateLeavingOffice";

/// SIMULATOR: the company's simulated register records that you left its
/// statutory body (your last day in office was yesterday).
#[utoipa::path(
    post,
    path = "/api/delegations/{id}/simulated-leaving-office",
    operation_id = OPERATION,
    tag = "delegation",
    params(("id" = String, Path, description = "The representation's id (`r-…`, a statutory body's, from `GET /api/delegations`).")),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "SIMULÁTOR: simulovaný registr osob zapsal, že už nejste ve statutárním orgánu společnosti.", body = RegisterChange),
        (status = 404, description = "Takové zastoupení společnosti nemáte, nebo se registry zde nesimulují.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Registr teď neodpovídá.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(d): State<Shared>,
    citizen: Citizen,
    Path(id): Path<String>,
) -> Result<Json<RegisterChange>, Problem> {
    let Some(register) = d.register.simulated() else {
        return Err(Problem::new(StatusCode::NOT_FOUND, "not-found", "Not simulated here")
            .with_detail("the registers are not simulated here"));
    };
    let Some(representation) = d.representation(&citizen.subject, &id).await? else {
        return Err(no_such_grant(&id));
    };
    if representation.kind != GrantKind::StatutoryBody {
        return Err(no_such_grant(&id));
    }
    let last_day = d.today().previous_day().unwrap_or(d.today());
    register.end_directorship(last_day);
    let entry = AccessEntry::new(
        Actor::Citizen,
        Action::Update,
        "representation",
        &id,
        "simulovaný registr: konec funkce ve statutárním orgánu",
    );
    d.access_log.record(&citizen.subject, entry).await?;
    Ok(Json(RegisterChange { id, in_office_until: last_day.to_string(), simulated: true }))
}
