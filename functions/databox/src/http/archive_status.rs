//! `GET /api/databox/jobs/archive`: for operators (a function key, no
//! citizen): the progress of the latest archive run.

use axum::Json;
use axum::extract::State;
use portal_host::Problem;

use super::Shared;
use crate::archive::{self, ArchiveReport};

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "ArchiveJobStatus";

/// The latest run of `ArchiveExpiringMessages`, for operators.
#[utoipa::path(
    get,
    path = "/api/databox/jobs/archive",
    operation_id = OPERATION,
    tag = "databox",
    responses(
        (status = 200, description = "Průběh posledního archivačního běhu.", body = ArchiveReport),
        (status = 404, description = "Archivace ještě neběžela.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(State(databox): State<Shared>) -> Result<Json<ArchiveReport>, Problem> {
    let report =
        archive::latest(&databox).await?.ok_or_else(|| Problem::not_found("the archive job has not run yet"))?;
    Ok(Json(report))
}
