//! `GET /api/documents?kind=&tag=&pageSize=&continuation=`: the citizen's
//! documents, newest first.

use axum::Json;
use axum::extract::State;
use portal_host::{FieldViolation, Params, Problem};
use portal_security::delegation::scope::DocumentsRead;
use portal_security::{AccessEntry, ActingFor, Action, Actor};
use portal_store::StoreError;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{Shared, invalid, invalid_field};
use crate::DocumentsError;
use crate::document::{DocumentView, is_tag};

const DEFAULT_PAGE_SIZE: u32 = 20;
const MAX_PAGE_SIZE: u32 = 100;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct ListParams {
    /// Only documents of this kind (`upload`, `receipt`, `data-message`, …), 1–40 characters.
    #[param(min_length = 1, max_length = 40)]
    kind: Option<String>,
    /// Only documents with this tag (letters in any case).
    tag: Option<String>,
    /// 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    page_size: Option<u32>,
    /// The `continuation` of the previous page of the same query.
    continuation: Option<String>,
}

/// A page of the citizen's documents.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentPage {
    pub items: Vec<DocumentView>,
    /// Present when there is a next page: send it back as `continuation`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub continuation: Option<String>,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "ListDocuments";

/// The citizen's documents, newest first, by kind or tag.
#[utoipa::path(
    get,
    path = "/api/documents",
    operation_id = OPERATION,
    tag = "documents",
    params(ListParams, ("X-Acting-For" = Option<String>, Header, description = "A grant id (`GET /api/delegations`) to read the documents of the person who authorised you, or whom you represent (scope `documents-read`)."),),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Stránka mých dokumentů, od nejnovějšího.", body = DocumentPage),
        (status = 400, description = "Neplatný parametr; `errors` jmenuje které.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(documents): State<Shared>,
    acting: ActingFor<DocumentsRead>,
    params: Result<Params<ListParams>, Problem>,
) -> Result<Json<DocumentPage>, Problem> {
    let Ok(Params(params)) = params else {
        return Err(invalid_field("query", format!("kind, tag, pageSize (1-{MAX_PAGE_SIZE}) and continuation only")));
    };
    let page_size = params.page_size.unwrap_or(DEFAULT_PAGE_SIZE);
    let mut errors = Vec::new();
    if !(1..=MAX_PAGE_SIZE).contains(&page_size) {
        errors.push(FieldViolation::new("pageSize", format!("1-{MAX_PAGE_SIZE}")));
    }
    if let Some(kind) = &params.kind
        && !(1..=40).contains(&kind.len())
    {
        errors.push(FieldViolation::new("kind", "1-40 characters, such as upload or receipt"));
    }
    if let Some(tag) = &params.tag
        && !is_tag(tag)
    {
        errors.push(FieldViolation::new("tag", "1-40 letters, digits, '-' or '_'"));
    }
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    let owner = acting.owner().as_str();
    let listed =
        documents.list(owner, params.kind.as_deref(), params.tag.as_deref(), page_size, params.continuation).await;
    let (items, continuation) = match listed {
        Err(DocumentsError::Store(StoreError::Invalid(_))) => {
            return Err(invalid_field("continuation", "a token from the previous page of the same query"));
        }
        listed => listed?,
    };
    let entry = AccessEntry::new(Actor::Citizen, Action::Read, "document-list", "*", "výpis dokumentů");
    acting.record(&documents.access_log, entry).await?;
    Ok(Json(DocumentPage { items, continuation }))
}
