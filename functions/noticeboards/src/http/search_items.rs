//! `GET /api/notice-boards/items`: PUBLIC. Search over the items of every
//! followed board: text, authority, the day of posting, agenda.

use axum::Json;
use axum::extract::State;
use portal_host::{FieldViolation, Params, Problem};
use portal_store::{FilterOp, Order, Query};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{NoticeBoardItemView, Shared};
use crate::watches::fold;
use crate::{COLLECTION, ITEMS_PARTITION, NoticeBoardError};

/// The most items one search reads before it answers with what it found.
pub const MAX_SCAN: usize = 5000;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct SearchQuery {
    /// Words that must all occur in the title, description, case number or agenda (case and diacritics do not matter), at most 200 characters.
    q: Option<String>,
    /// The board's id, its operator's IČO, or a part of its name.
    authority: Option<String>,
    /// Posted on or after this day, YYYY-MM-DD.
    #[param(format = Date)]
    from: Option<String>,
    /// Posted on or before this day, YYYY-MM-DD.
    #[param(format = Date)]
    to: Option<String>,
    /// A part of the agenda's name.
    agenda: Option<String>,
    /// Also items taken down from their board (default: no).
    include_removed: Option<bool>,
    /// At most this many items (1–100, default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = NoticeBoardItemPage)]
pub struct ItemPage {
    /// Newest posting first.
    pub items: Vec<NoticeBoardItemView>,
    /// False when the search stopped after reading its limit of items.
    pub complete: bool,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "SearchNoticeBoardItems";

/// Searches the items of the followed notice boards.
#[utoipa::path(
    get,
    path = "/api/notice-boards/items",
    operation_id = OPERATION,
    tag = "notice-boards",
    params(SearchQuery),
    responses(
        (status = 200, description = "Nalezené informace z úředních desek, nejnověji vyvěšené první.", body = ItemPage),
        (status = 422, description = "Neplatný parametr hledání.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(State(nb): State<Shared>, Params(query): Params<SearchQuery>) -> Result<Json<ItemPage>, Problem> {
    let mut errors = Vec::new();
    let text = |field: &'static str, value: Option<String>, errors: &mut Vec<FieldViolation>| {
        let value = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        if value.as_ref().is_some_and(|v| v.chars().count() > 200 || v.chars().any(char::is_control)) {
            errors.push(FieldViolation::new(field, "at most 200 characters, no control characters"));
        }
        value
    };
    let q = text("q", query.q, &mut errors);
    let authority = text("authority", query.authority, &mut errors);
    let agenda = text("agenda", query.agenda, &mut errors);
    let day = |field: &'static str, value: Option<String>, errors: &mut Vec<FieldViolation>| {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        value.filter(|v| {
            let ok = time::Date::parse(v, &format).is_ok();
            if !ok {
                errors.push(FieldViolation::new(field, "a date YYYY-MM-DD"));
            }
            ok
        })
    };
    let from = day("from", query.from, &mut errors);
    let to = day("to", query.to, &mut errors);
    if let (Some(from), Some(to)) = (&from, &to)
        && to < from
    {
        errors.push(FieldViolation::new("to", "must not be before from"));
    }
    let limit = query.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        errors.push(FieldViolation::new("limit", "1 to 100"));
    }
    if !errors.is_empty() {
        return Err(Problem::validation(errors));
    }
    let words: Vec<String> =
        q.as_deref().map(fold).unwrap_or_default().split(' ').filter(|w| !w.is_empty()).map(str::to_owned).collect();
    let agenda = agenda.as_deref().map(fold);
    let authority = authority.as_deref().map(fold);
    let include_removed = query.include_removed.unwrap_or(false);
    let mut base = Query::default()
        .filter("type", FilterOp::Eq, crate::harvest::ITEM_TYPE)
        .order_by("postedOn", Order::Descending);
    if let Some(from) = &from {
        base = base.filter("postedOn", FilterOp::Ge, from.as_str());
    }
    if let Some(to) = &to {
        base = base.filter("postedOn", FilterOp::Le, to.as_str());
    }
    let mut found = Vec::new();
    let mut scanned = 0;
    let mut continuation = None;
    let complete = loop {
        let page = nb
            .documents
            .query(COLLECTION, ITEMS_PARTITION, base.clone().page_size(500).after(continuation))
            .await
            .map_err(NoticeBoardError::from)?;
        for doc in &page.items {
            scanned += 1;
            let body = &doc.body;
            if !include_removed && !body["removedAt"].is_null() {
                continue;
            }
            let search = body["searchText"].as_str().unwrap_or_default();
            if !words.iter().all(|w| search.contains(w.as_str())) {
                continue;
            }
            if agenda.as_ref().is_some_and(|a| !body["agendaText"].as_str().unwrap_or_default().contains(a.as_str())) {
                continue;
            }
            if let Some(authority) = &authority {
                let board = body["board"].as_str().unwrap_or_default();
                let name = fold(body["boardName"].as_str().unwrap_or_default());
                let ico = body["operatorIco"].as_str().unwrap_or_default();
                if board != authority && ico != authority && !name.contains(authority.as_str()) {
                    continue;
                }
            }
            if let Some(view) = NoticeBoardItemView::from_document(doc) {
                found.push(view);
                if found.len() == limit as usize {
                    break;
                }
            }
        }
        if found.len() == limit as usize {
            break true;
        }
        match page.continuation {
            Some(next) if scanned < MAX_SCAN => continuation = Some(next),
            Some(_) => break false,
            None => break true,
        }
    };
    Ok(Json(ItemPage { items: found, complete }))
}
