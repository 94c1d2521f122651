//! `POST /api/me/exports`: asks for an export of everything the portal holds
//! about the citizen; `BuildExport` builds it (see [`crate::exports`]).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::AppendHeaders;
use portal_security::{Action, Citizen};

use super::Shared;
use super::show_export::ExportStatus;
use crate::IdentityError;

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "RequestExport";

/// Queues an export; answers at once with its status and where to follow it.
#[utoipa::path(
    post,
    path = "/api/me/exports",
    operation_id = OPERATION,
    tag = "identity",
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 202, description = "Export je ve frontě; jeho stav je na adrese z hlavičky Location.", body = ExportStatus,
            headers(("Location" = String, description = "/api/me/exports/{export}"))),
    )
)]
pub async fn handler(
    State(id): State<Shared>,
    citizen: Citizen,
) -> Result<(StatusCode, AppendHeaders<[(HeaderName, HeaderValue); 1]>, Json<ExportStatus>), IdentityError> {
    let job = id.exports.create(&citizen.subject).await?;
    id.access_log.record_own(&citizen, Action::Export, "export", &job.id, "žádost o export všech mých údajů").await?;
    let status = ExportStatus::of(&job, id.clock.now());
    let location = HeaderValue::from_str(&status.status_url).unwrap_or_else(|_| HeaderValue::from_static("/"));
    Ok((StatusCode::ACCEPTED, AppendHeaders([(header::LOCATION, location)]), Json(status)))
}
