//! `POST /api/me/notice-board-watches`: a new watch.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use portal_host::{Body, FieldViolation, Problem};
use portal_security::{Action, Citizen};
use portal_store::NewDocument;
use serde::Deserialize;
use serde_json::json;
use time::format_description::well_known::Rfc3339;
use utoipa::ToSchema;

use super::{Shared, WatchView};
use crate::watches::{WATCH_TYPE, Watch};
use crate::{COLLECTION, NoticeBoardError};

/// What to watch for: at least one of `keywords`, `caseNumber` and `place`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"keywords": ["uzavírka"], "place": "Žďár nad Sázavou"}))]
#[schema(as = NoticeBoardWatchInput)]
pub struct WatchInput {
    /// 1–10 words or phrases of 2–100 characters; one of them is enough.
    #[schema(max_items = 10)]
    pub keywords: Option<Vec<String>>,
    /// Číslo jednací or spisová značka, 2–100 characters.
    pub case_number: Option<String>,
    /// A place named in the item (street, village), 2–100 characters.
    pub place: Option<String>,
    /// Only these boards (their ids, at most 20); default every board.
    #[schema(max_items = 20)]
    pub boards: Option<Vec<String>>,
}

fn phrase(value: &str) -> Option<String> {
    let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
    let length = value.chars().count();
    ((2..=100).contains(&length) && !value.chars().any(char::is_control)).then_some(value)
}

/// Checks the input, every broken rule at once.
fn checked(input: WatchInput) -> Result<Watch, Problem> {
    let mut errors = Vec::new();
    let keywords = input.keywords.unwrap_or_default();
    if keywords.len() > 10 {
        errors.push(FieldViolation::new("keywords", "at most 10"));
    }
    let mut clean = Vec::new();
    for keyword in &keywords {
        match phrase(keyword) {
            Some(k) => clean.push(k),
            None => {
                errors.push(FieldViolation::new("keywords", "each 2–100 characters without control characters"));
                break;
            }
        }
    }
    let mut single = |field: &'static str, value: Option<String>| match value {
        None => None,
        Some(text) => {
            let cleaned = phrase(&text);
            if cleaned.is_none() {
                errors.push(FieldViolation::new(field, "2–100 characters without control characters"));
            }
            cleaned
        }
    };
    let case_number = single("caseNumber", input.case_number);
    let place = single("place", input.place);
    let boards = input.boards.unwrap_or_default();
    if boards.len() > 20
        || boards
            .iter()
            .any(|b| b.is_empty() || b.len() > 64 || !b.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
    {
        errors.push(FieldViolation::new("boards", "at most 20 board ids (letters, digits and -)"));
    }
    if clean.is_empty() && case_number.is_none() && place.is_none() && errors.is_empty() {
        errors.push(FieldViolation::new("keywords", "give keywords, a caseNumber or a place"));
    }
    if !errors.is_empty() {
        return Err(Problem::validation(errors));
    }
    Ok(Watch { keywords: clean, case_number, place, boards })
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "CreateNoticeBoardWatch";

/// Watches the notice boards for new items; each new matching item is
/// notified once.
#[utoipa::path(
    post,
    path = "/api/me/notice-board-watches",
    operation_id = OPERATION,
    tag = "notice-boards",
    request_body = WatchInput,
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 201, description = "Hlídání je nastaveno.", body = WatchView),
        (status = 409, description = "Hlídání je už příliš mnoho.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(nb): State<Shared>,
    citizen: Citizen,
    Body(input): Body<WatchInput>,
) -> Result<(StatusCode, Json<WatchView>), Problem> {
    let watch = checked(input)?;
    let owner = citizen.subject.as_str();
    let existing = nb.watch_documents(owner).await?;
    if existing.len() >= nb.settings.max_watches_per_citizen {
        return Err(Problem::new(StatusCode::CONFLICT, "too-many-watches", "You have too many watches").with_detail(
            format!("you can keep at most {} watches; delete some first", nb.settings.max_watches_per_citizen),
        ));
    }
    let id = format!("watch-{}", uuid::Uuid::new_v4());
    let created_at = nb.clock.now().format(&Rfc3339).unwrap_or_default();
    let sealed = nb.seal_watch(owner, &id, &watch).await?;
    // The index first: an index entry without its watch is harmless (the
    // harvester removes it after an hour); a watch without its entry would
    // never be matched.
    nb.documents.upsert(COLLECTION, nb.index_entry(owner, &id), None).await.map_err(NoticeBoardError::from)?;
    let body = json!({"type": WATCH_TYPE, "sealed": sealed, "createdAt": created_at,
                      "index": {"partition": crate::WATCH_INDEX_PARTITION, "id": id}});
    nb.documents.create(COLLECTION, NewDocument::new(owner, id.clone(), body)).await.map_err(NoticeBoardError::from)?;
    nb.access_log
        .record_own(&citizen, Action::Create, "notice-board-watch", &id, "nové hlídání úředních desek")
        .await?;
    Ok((StatusCode::CREATED, Json(WatchView::new(id, watch, created_at))))
}
