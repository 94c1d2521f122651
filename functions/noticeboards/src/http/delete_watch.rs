//! `DELETE /api/me/notice-board-watches/{id}`: stop watching.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use portal_host::Problem;
use portal_security::{Action, Citizen};

use super::{Shared, is_watch_id};
use crate::watches::WATCH_TYPE;
use crate::{COLLECTION, NoticeBoardError, WATCH_INDEX_PARTITION};

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "DeleteNoticeBoardWatch";

/// Deletes one of the citizen's watches.
#[utoipa::path(
    delete,
    path = "/api/me/notice-board-watches/{id}",
    operation_id = OPERATION,
    tag = "notice-boards",
    params(("id" = String, Path, description = "The watch's id.")),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 204, description = "Hlídání je zrušeno."),
        (status = 404, description = "Takové hlídání nemáte.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(nb): State<Shared>,
    citizen: Citizen,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    let owner = citizen.subject.as_str();
    let not_found = || Problem::not_found("no such watch of yours");
    if !is_watch_id(&id) {
        return Err(not_found());
    }
    let doc = nb.documents.get(COLLECTION, owner, &id).await.map_err(NoticeBoardError::from)?;
    let Some(doc) = doc.filter(|d| d.body["type"].as_str() == Some(WATCH_TYPE)) else { return Err(not_found()) };
    // The index entry first, so a crash never leaves an entry without its watch for long.
    match nb.documents.delete(COLLECTION, WATCH_INDEX_PARTITION, &id, None).await {
        Ok(()) | Err(portal_store::StoreError::NotFound) => {}
        Err(error) => return Err(NoticeBoardError::from(error).into()),
    }
    match nb.documents.delete(COLLECTION, owner, &id, Some(&doc.etag)).await {
        Ok(()) | Err(portal_store::StoreError::NotFound) => {}
        Err(error) => return Err(NoticeBoardError::from(error).into()),
    }
    nb.access_log
        .record_own(&citizen, Action::Delete, "notice-board-watch", &id, "zrušení hlídání úředních desek")
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
