//! `GET /api/registers/extracts/{id}`: one extract request.

use axum::Json;
use axum::extract::{Path, State};
use portal_host::Problem;
use portal_security::delegation::scope::Extracts;
use portal_security::{AccessEntry, ActingFor, Action, Actor};

use super::{ExtractJobView, Shared};
use crate::extracts;

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "ShowExtract";

/// How an extract request stands; a job left waiting too long is queued again.
#[utoipa::path(
    get,
    path = "/api/registers/extracts/{id}",
    operation_id = OPERATION,
    tag = "registers",
    params(("id" = String, Path, description = "The job's id (a UUID)."), ("X-Acting-For" = Option<String>, Header, description = "A grant id (`GET /api/delegations`) to act for the person who authorised you, or whom you represent (scope `extracts`): the request of theirs."),),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Stav žádosti o výpis.", body = ExtractJobView),
        (status = 404, description = "Taková žádost o výpis mezi vašimi není.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(registers): State<Shared>,
    acting: ActingFor<Extracts>,
    Path(id): Path<String>,
) -> Result<Json<ExtractJobView>, Problem> {
    let not_found = || Problem::not_found("no such extract request");
    let id = extracts::parse_job_id(&id).ok_or_else(not_found)?;
    let job = extracts::show(&registers, acting.owner(), &id).await?.ok_or_else(not_found)?;
    let entry = AccessEntry::new(Actor::Citizen, Action::Read, "register-extract-job", &id, "stav žádosti o výpis");
    acting.record(&registers.access_log, entry).await?;
    Ok(Json(ExtractJobView::from(&job)))
}
