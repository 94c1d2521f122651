//! `PUT /api/databox/settings`: turns automatic archiving on or off.

use axum::Json;
use axum::extract::State;
use portal_host::{Body, Problem};
use portal_security::{Action, Citizen};
use portal_store::NewDocument;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::Shared;
use crate::COLLECTION;

/// The citizen's settings of the mailbox.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = DataBoxArchiveSetting)]
pub struct ArchiveSetting {
    /// Archive messages automatically before ISDS deletes them.
    pub auto_archive: bool,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "DataBoxSettings";

/// Turns automatic archiving of the citizen's messages on or off.
#[utoipa::path(
    put,
    path = "/api/databox/settings",
    operation_id = OPERATION,
    tag = "databox",
    request_body = ArchiveSetting,
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Nastavení je uloženo.", body = ArchiveSetting),
        (status = 404, description = "K vašemu účtu není připojena žádná datová schránka.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(databox): State<Shared>,
    citizen: Citizen,
    Body(setting): Body<ArchiveSetting>,
) -> Result<Json<ArchiveSetting>, Problem> {
    databox.box_of(&citizen.subject).await?;
    let doc = NewDocument::new(
        citizen.subject.as_str(),
        "settings",
        json!({"type": "databox-settings", "autoArchive": setting.auto_archive}),
    );
    databox.documents.upsert(COLLECTION, doc, None).await?;
    let purpose = "change automatic archiving";
    databox.access_log.record_own(&citizen, Action::Update, "data-box-settings", "settings", purpose).await?;
    Ok(Json(setting))
}
