//! `GET /api/notice-boards`: PUBLIC. The boards the portal follows and how
//! their last harvest went.

use axum::Json;
use axum::extract::State;
use portal_host::Problem;
use serde::Serialize;
use utoipa::ToSchema;

use super::Shared;
use crate::{BOARDS_PARTITION, COLLECTION, NoticeBoardError};

/// A followed board.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = NoticeBoard)]
pub struct BoardView {
    #[schema(example = "sim-zdar")]
    pub id: String,
    pub name: String,
    /// The OFN feed.
    pub url: String,
    /// True when the local simulator serves it.
    pub simulated: bool,
    /// The operator's IČO, from the feed.
    pub operator_ico: Option<String>,
    /// Items on the board at the last successful harvest.
    pub items: u64,
    /// RFC 3339; none before the first harvest.
    pub last_harvest_at: Option<String>,
    /// `ok`, `not-modified` or `failed`; none before the first harvest.
    pub last_status: Option<String>,
    /// Why the last harvest failed.
    pub last_error: Option<String>,
    /// Items skipped at the last harvest for breaking an OFN rule.
    pub problems: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = NoticeBoardList)]
pub struct BoardList {
    pub items: Vec<BoardView>,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "ListNoticeBoards";

/// The followed notice boards.
#[utoipa::path(
    get,
    path = "/api/notice-boards",
    operation_id = OPERATION,
    tag = "notice-boards",
    responses(
        (status = 200, description = "Sledované úřední desky a stav jejich posledního stažení.", body = BoardList),
        (status = 503, description = "Seznam desek teď nelze získat.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(State(nb): State<Shared>) -> Result<Json<BoardList>, Problem> {
    let followed = nb.boards.boards().await.map_err(NoticeBoardError::from)?;
    let mut items = Vec::with_capacity(followed.len());
    for board in followed {
        let state = nb.documents.get(COLLECTION, BOARDS_PARTITION, &board.id).await.map_err(NoticeBoardError::from)?;
        let body = state.map(|d| d.body).unwrap_or_default();
        let text = |field: &str| body[field].as_str().map(str::to_owned);
        items.push(BoardView {
            operator_ico: text("operatorIco"),
            items: body["items"].as_u64().unwrap_or(0),
            last_harvest_at: text("lastHarvestAt"),
            last_status: text("lastStatus"),
            last_error: text("lastError"),
            problems: body["problems"]
                .as_array()
                .map(|p| p.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
                .unwrap_or_default(),
            id: board.id,
            name: board.name,
            url: board.url,
            simulated: board.simulated,
        });
    }
    Ok(Json(BoardList { items }))
}
