//! `GET /api/me/notice-board-watches`: the citizen's watches.

use axum::Json;
use axum::extract::State;
use portal_host::Problem;
use portal_security::{Action, Citizen};
use serde::Serialize;
use utoipa::ToSchema;

use super::{Shared, WatchView};

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = NoticeBoardWatchList)]
pub struct WatchList {
    pub items: Vec<WatchView>,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "ListNoticeBoardWatches";

/// The citizen's watches of the notice boards, oldest first.
#[utoipa::path(
    get,
    path = "/api/me/notice-board-watches",
    operation_id = OPERATION,
    tag = "notice-boards",
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, description = "Vaše hlídání úředních desek.", body = WatchList))
)]
pub async fn handler(State(nb): State<Shared>, citizen: Citizen) -> Result<Json<WatchList>, Problem> {
    let owner = citizen.subject.as_str();
    let mut items = Vec::new();
    for doc in nb.watch_documents(owner).await? {
        let watch = nb.open_watch(owner, &doc).await?;
        let created_at = doc.body["createdAt"].as_str().unwrap_or_default().to_owned();
        items.push(WatchView::new(doc.id, watch, created_at));
    }
    nb.access_log
        .record_own(&citizen, Action::Read, "notice-board-watches", "all", "zobrazení hlídání úředních desek")
        .await?;
    Ok(Json(WatchList { items }))
}
