//! `GET /api/me/export`: everything the portal holds about the citizen in
//! this capability, as one JSON download.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::AppendHeaders;
use portal_security::{AccessFilter, Action, Citizen};
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::my_access_log::AccessLogEntry;
use super::{Shared, rfc3339};
use crate::IdentityError;
use crate::profile::{self, Profile};

/// The citizen's data: profile and the whole access log.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MyDataExport {
    /// RFC 3339.
    #[schema(example = "2026-11-23T08:00:00Z")]
    pub exported_at: String,
    #[schema(example = "DEMO%2Fjana-novakova")]
    pub subject: String,
    /// `null` when no profile is stored.
    pub profile: Option<Profile>,
    /// Every entry of the access log, oldest first.
    pub access_log: Vec<AccessLogEntry>,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "ExportMe";

/// Exports the profile and the complete access log; the export itself is logged.
#[utoipa::path(
    get,
    path = "/api/me/export",
    operation_id = OPERATION,
    tag = "identity",
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Export vašich údajů (soubor my-data.json).", body = MyDataExport,
            headers(("Content-Disposition" = String, description = "attachment; filename=\"my-data.json\""))),
    )
)]
pub async fn handler(
    State(id): State<Shared>,
    citizen: Citizen,
) -> Result<(AppendHeaders<[(HeaderName, HeaderValue); 1]>, Json<MyDataExport>), IdentityError> {
    let profile = profile::load(id.documents.as_ref(), &id.sealer, &citizen.subject).await?;
    let mut log = Vec::new();
    let mut continuation = None;
    loop {
        let page = id.access_log.list(&citizen.subject, &AccessFilter::default(), 500, continuation.take()).await?;
        log.extend(page.items.into_iter().map(AccessLogEntry::from));
        match page.continuation {
            Some(next) => continuation = Some(next),
            None => break,
        }
    }
    super::my_access_log::open_references(&id.sealer, &citizen.subject, &mut log).await?;
    id.access_log
        .record_own(&citizen, Action::Export, "profile", "export", "export of everything held about me")
        .await?;
    let export = MyDataExport {
        exported_at: rfc3339(OffsetDateTime::now_utc()),
        subject: citizen.subject.as_str().to_owned(),
        profile,
        access_log: log,
    };
    let disposition =
        [(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"my-data.json\""))];
    Ok((AppendHeaders(disposition), Json(export)))
}
