//! `GET /api/me/exports/{export}`: how the citizen's export stands, and when
//! it is ready, the download link and its expiry.

use axum::Json;
use axum::extract::{Path, State};
use portal_host::Problem;
use portal_security::Citizen;
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::{Shared, rfc3339};
use crate::IdentityError;
use crate::exports::{ExportJob, ExportState, PartProgress, parse_export_id};

/// An export job as the citizen sees it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExportStatus {
    #[schema(example = "q2Vb0yJ3Sx6mJ8sWcZrA4g")]
    pub id: String,
    pub state: ExportState,
    /// RFC 3339.
    #[schema(example = "2026-11-23T08:00:00Z")]
    pub requested_at: String,
    /// One line per capability, in the order they are exported.
    pub progress: Vec<PartProgress>,
    /// This status, to poll.
    #[schema(example = "/api/me/exports/q2Vb0yJ3Sx6mJ8sWcZrA4g")]
    pub status_url: String,
    /// The ZIP, only while the export is ready (for the citizen's own session).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "/api/me/exports/q2Vb0yJ3Sx6mJ8sWcZrA4g/download")]
    pub download_url: Option<String>,
    /// RFC 3339: when the archive is deleted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// Size of the ZIP in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Why the export failed (it can be asked for again).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl ExportStatus {
    pub(crate) fn of(job: &ExportJob, now: OffsetDateTime) -> Self {
        let state = job.state_at(now);
        let status_url = format!("/api/me/exports/{}", job.id);
        Self {
            id: job.id.clone(),
            state,
            requested_at: rfc3339(job.requested_at),
            progress: job.progress.clone(),
            download_url: (state == ExportState::Ready).then(|| format!("{status_url}/download")),
            status_url,
            expires_at: job.expires_at.map(rfc3339),
            size: job.size,
            error: job.error.clone(),
        }
    }
}

pub(crate) fn no_such_export() -> Problem {
    Problem::not_found("no such export")
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "ShowExport";

/// The state of one of the citizen's exports.
#[utoipa::path(
    get,
    path = "/api/me/exports/{export}",
    operation_id = OPERATION,
    tag = "identity",
    params(("export" = String, Path, description = "The export's id.")),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Stav exportu; když je hotový, odkaz ke stažení a do kdy platí.", body = ExportStatus),
        (status = 404, description = "Takový export mezi vašimi není.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(id): State<Shared>,
    citizen: Citizen,
    Path(export): Path<String>,
) -> Result<Json<ExportStatus>, IdentityError> {
    let export = parse_export_id(&export).ok_or_else(no_such_export)?;
    let (job, _) = id.exports.load(&citizen.subject, export).await?.ok_or_else(no_such_export)?;
    Ok(Json(ExportStatus::of(&job, id.clock.now())))
}
