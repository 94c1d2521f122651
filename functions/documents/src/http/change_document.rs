//! `PATCH /api/documents/{id}` with `{"title"?: "...", "tags"?: ["..."]}`;
//! `If-Match` optional.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::http::header::{ETAG, HeaderName};
use bytes::Bytes;
use portal_host::{FieldViolation, Problem};
use portal_security::delegation::scope::DocumentsWrite;
use portal_security::{AccessEntry, ActingFor, Action, Actor};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::{Shared, if_match, invalid, json_object};
use crate::document::{DocumentView, Tags, Title, etag_header};
use crate::library::Change;

/// A change of a document: its title, its tags, or both. Every broken rule
/// comes back at once, field by field.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"title": "Smlouva o nájmu", "tags": ["bydlení", "byt-5"]}))]
#[allow(dead_code)] // documents the body that the handler checks field by field
pub struct DocumentChange {
    /// 1–200 characters without control characters.
    #[schema(min_length = 1, max_length = 200, nullable = false)]
    title: Option<String>,
    /// Replaces all tags: at most 20, each 1–40 letters, digits, `-` or `_`.
    #[schema(max_items = 20, nullable = false)]
    tags: Option<Vec<String>>,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "ChangeDocument";

/// Renames or retags a document, under the version it names in `If-Match`
/// (optional). Under a grant with `documents-write`, one of the principal's.
#[utoipa::path(
    patch,
    path = "/api/documents/{id}",
    operation_id = OPERATION,
    tag = "documents",
    params(
        ("id" = String, Path, description = "The document's id."),
        ("If-Match" = Option<String>, Header, description = "The ETag read; the change is refused (412) if the document has changed since."),
        ("X-Acting-For" = Option<String>, Header, description = "A grant id (`GET /api/delegations`) to manage the documents of the person who authorised you, or whom you represent (scope `documents-write`)."),
    ),
    request_body = DocumentChange,
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Dokument je upraven.", body = DocumentView,
            headers(("ETag" = String, description = "Nová verze dokumentu."))),
        (status = 400, description = "Tělo není objekt JSON, nebo název či štítky porušují pravidla; `errors` jmenuje pole.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Takový dokument mezi vašimi není.", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Dokument se mezitím změnil; načtěte jej znovu.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(documents): State<Shared>,
    acting: ActingFor<DocumentsWrite>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<([(HeaderName, String); 1], Json<DocumentView>), Problem> {
    let body = json_object(&body, "a JSON object with title, tags or both")?;
    let requested = change(&body).map_err(invalid)?;
    let if_match = if_match(&headers);
    let owner = acting.owner().as_str();
    let (view, etag) = documents.change(owner, &id, if_match.as_deref(), requested).await?;
    let entry = AccessEntry::new(Actor::Citizen, Action::Update, "document", &view.id, "úprava dokumentu");
    acting.record(&documents.access_log, entry).await?;
    Ok(([(ETAG, etag_header(&etag))], Json(view)))
}

/// The change a body asks for, or every rule it breaks.
fn change(body: &serde_json::Map<String, Value>) -> Result<Change, Vec<FieldViolation>> {
    let mut requested = Change::default();
    let mut errors = Vec::new();
    for (key, value) in body {
        match (key.as_str(), value) {
            ("title", Value::String(title)) => match Title::parse(title) {
                Ok(title) => requested.title = Some(title),
                Err(rule) => errors.push(FieldViolation::new("title", rule)),
            },
            ("title", _) => errors.push(FieldViolation::new("title", "a string")),
            ("tags", Value::Array(items)) => {
                let texts: Option<Vec<&str>> = items.iter().map(Value::as_str).collect();
                match texts.map(Tags::parse) {
                    Some(Ok(tags)) => requested.tags = Some(tags),
                    Some(Err(rule)) => errors.push(FieldViolation::new("tags", rule)),
                    None => errors.push(FieldViolation::new("tags", Tags::RULE)),
                }
            }
            ("tags", _) => errors.push(FieldViolation::new("tags", "an array of strings")),
            (other, _) => errors.push(FieldViolation::new(other, "unknown field; send title, tags or both")),
        }
    }
    if errors.is_empty() && requested.title.is_none() && requested.tags.is_none() {
        errors.push(FieldViolation::new("body", "title, tags or both"));
    }
    if errors.is_empty() { Ok(requested) } else { Err(errors) }
}
