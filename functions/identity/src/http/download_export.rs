//! `GET /api/me/exports/{export}/download`: the citizen's ready export as one
//! ZIP: a folder per capability with its JSON and the citizen's files, and
//! `manifest.json`.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portal_host::Problem;
use portal_security::{Action, Citizen};

use super::Shared;
use super::show_export::no_such_export;
use crate::IdentityError;
use crate::exports::{ExportState, parse_export_id};

/// The archive (`application/zip`).
#[derive(Debug, utoipa::ToSchema)]
#[schema(value_type = String, format = Binary, content_media_type = "application/zip")]
#[allow(dead_code)] // documents the body of the download
pub struct ZipFile(Vec<u8>);

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "DownloadExport";

/// Downloads a ready export; the link works for the citizen's own session
/// only, until the export expires (24 hours after it was built).
#[utoipa::path(
    get,
    path = "/api/me/exports/{export}/download",
    operation_id = OPERATION,
    tag = "identity",
    params(("export" = String, Path, description = "The export's id.")),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Všechny vaše údaje jako ZIP.", content_type = "application/zip", body = ZipFile,
            headers(("Content-Disposition" = String, description = "attachment; filename=\"moje-udaje-….zip\""))),
        (status = 404, description = "Takový export mezi vašimi není.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Export ještě není hotový (nebo selhal).", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "Odkaz vypršel a export je smazán; požádejte o nový.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(id): State<Shared>,
    citizen: Citizen,
    Path(export): Path<String>,
) -> Result<Response, IdentityError> {
    let export = parse_export_id(&export).ok_or_else(no_such_export)?;
    let (job, _) = id.exports.load(&citizen.subject, export).await?.ok_or_else(no_such_export)?;
    match job.state_at(id.clock.now()) {
        ExportState::Ready => {}
        ExportState::Expired => {
            return Err(Problem::new(StatusCode::GONE, "export-expired", "The export has expired")
                .with_detail("the download link has expired and the archive is deleted; ask for a new export")
                .into());
        }
        state => {
            return Err(Problem::new(StatusCode::CONFLICT, "export-not-ready", "The export is not ready")
                .with_detail(format!("the export is {}", serde_json::to_value(state).unwrap_or_default()))
                .into());
        }
    }
    let archive = id.exports.archive(&citizen.subject, export).await?;
    id.access_log.record_own(&citizen, Action::Export, "export", export, "stažení exportu všech mých údajů").await?;
    let date = job.requested_at.date();
    let disposition = format!("attachment; filename=\"moje-udaje-{date}.zip\"");
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("application/zip")),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&disposition).unwrap_or(HeaderValue::from_static("attachment")),
            ),
        ],
        Body::from(archive),
    )
        .into_response())
}
