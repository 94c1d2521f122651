//! The notice boards' HTTP functions, one file per action, and the types
//! their answers share.

pub mod create_watch;
pub mod delete_watch;
pub mod list_boards;
pub mod list_watches;
pub mod search_items;

use std::sync::Arc;

use portal_store::Document;
use serde::Serialize;
use utoipa::ToSchema;

use crate::NoticeBoards;
use crate::ofn::Item;
use crate::watches::Watch;

pub(crate) type Shared = Arc<NoticeBoards>;

/// A document attached to an item.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = NoticeBoardItemDocument)]
pub struct ItemDocument {
    pub name: Option<String>,
    pub url: String,
}

/// One item of a notice board.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NoticeBoardItemView {
    pub id: String,
    /// The board's id.
    pub board: String,
    pub board_name: String,
    /// True when the board is served by the local simulator.
    pub simulated: bool,
    pub title: String,
    pub description: Option<String>,
    /// Číslo jednací.
    pub case_number: Option<String>,
    /// Spisová značka.
    pub file_mark: Option<String>,
    /// Vyvěšeno, YYYY-MM-DD.
    pub posted_on: Option<String>,
    /// Relevantní do, YYYY-MM-DD (none: unspecified).
    pub relevant_until: Option<String>,
    pub agendas: Vec<String>,
    pub documents: Vec<ItemDocument>,
    pub url: Option<String>,
    pub iri: Option<String>,
    /// When the portal first saw it (RFC 3339).
    pub first_seen_at: Option<String>,
    pub changed_at: Option<String>,
    /// When it disappeared from the board (RFC 3339); none while it is on it.
    pub removed_at: Option<String>,
}

impl NoticeBoardItemView {
    pub(crate) fn from_document(doc: &Document) -> Option<Self> {
        let item: Item = serde_json::from_value(doc.body["item"].clone()).ok()?;
        let text = |field: &str| doc.body[field].as_str().map(str::to_owned);
        Some(Self {
            id: doc.id.clone(),
            board: text("board").unwrap_or_default(),
            board_name: text("boardName").unwrap_or_default(),
            simulated: doc.body["simulated"].as_bool().unwrap_or(false),
            title: item.title,
            description: item.description,
            case_number: item.case_number,
            file_mark: item.file_mark,
            posted_on: item.posted_on,
            relevant_until: item.relevant_until,
            agendas: item.agendas,
            documents: item.documents.into_iter().map(|d| ItemDocument { name: d.name, url: d.url }).collect(),
            url: item.url,
            iri: item.iri,
            first_seen_at: text("firstSeenAt"),
            changed_at: text("changedAt"),
            removed_at: text("removedAt"),
        })
    }
}

/// A citizen's watch.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = NoticeBoardWatch)]
pub struct WatchView {
    #[schema(example = "watch-5f0c3a0e-0000-4000-8000-000000000000")]
    pub id: String,
    pub keywords: Vec<String>,
    pub case_number: Option<String>,
    pub place: Option<String>,
    /// Board ids; empty = every board.
    pub boards: Vec<String>,
    /// RFC 3339.
    pub created_at: String,
}

impl WatchView {
    pub(crate) fn new(id: String, watch: Watch, created_at: String) -> Self {
        Self {
            id,
            keywords: watch.keywords,
            case_number: watch.case_number,
            place: watch.place,
            boards: watch.boards,
            created_at,
        }
    }
}

/// A watch id as the portal makes them.
pub(crate) fn is_watch_id(id: &str) -> bool {
    id.strip_prefix("watch-")
        .is_some_and(|rest| uuid::Uuid::parse_str(rest).is_ok_and(|u| u.hyphenated().to_string() == rest))
}
