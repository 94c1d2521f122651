//! `POST /api/databox/archive`: archives the citizen's due messages now (the
//! timer `ArchiveExpiringMessages` does it daily).

use axum::Json;
use axum::extract::State;
use portal_host::Problem;
use portal_security::Citizen;

use super::Shared;
use crate::archive::{self, ArchiveReport};

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "ArchiveMyMessages";

/// Archives the citizen's messages that ISDS will soon delete, now.
#[utoipa::path(
    post,
    path = "/api/databox/archive",
    operation_id = OPERATION,
    tag = "databox",
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Co se archivovalo.", body = ArchiveReport),
        (status = 404, description = "K vašemu účtu není připojena žádná datová schránka.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(State(databox): State<Shared>, citizen: Citizen) -> Result<Json<ArchiveReport>, Problem> {
    Ok(Json(archive::run_for(&databox, &citizen).await?))
}
