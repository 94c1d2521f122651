//! The documents' HTTP functions, one file per action, and what they share.
//! Every route but `GET /api/shared/{token}` needs a session; every lookup
//! stays in the caller's partition, so another citizen's id answers 404.
//!
//! Input that breaks a rule of this capability's forms and JSON bodies is a
//! 400 with `type: /problems/validation` naming every broken field (the
//! front end has always read these as 400).

pub mod change_document;
pub mod delete_document;
pub mod download_document;
pub mod list_document_shares;
pub mod list_documents;
pub mod open_shared_document;
pub mod revoke_document_share;
pub mod share_document;
pub mod show_document;
pub mod upload_document;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portal_host::{FieldViolation, Problem};
use portal_security::Citizen;
use serde_json::{Map, Value};

use crate::Documents;
use crate::content::{content_disposition, served_type};
use crate::document::StoredDocument;

pub(crate) type Shared = Arc<Documents>;

/// 400 with every broken rule (this crate's form and JSON checks).
pub(crate) fn invalid(errors: Vec<FieldViolation>) -> Problem {
    let mut problem = Problem::new(StatusCode::BAD_REQUEST, "validation", "The input breaks one or more rules");
    problem.errors = errors;
    problem
}

pub(crate) fn invalid_field(field: &str, rule: impl Into<String>) -> Problem {
    invalid(vec![FieldViolation::new(field, rule)])
}

pub(crate) fn not_found() -> Problem {
    Problem::not_found("no such document")
}

/// The citizen's document `id`, or 404.
pub(crate) async fn owned(documents: &Documents, citizen: &Citizen, id: &str) -> Result<StoredDocument, Problem> {
    let found = documents.load(citizen.subject.as_str(), id).await?;
    found.map(|(stored, _)| stored).ok_or_else(not_found)
}

/// The request's `If-Match`, if any.
pub(crate) fn if_match(headers: &HeaderMap) -> Option<String> {
    headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// A JSON object body, or 400 with `rule` for anything else (no content type
/// is required: the body is read as JSON whatever the client called it).
pub(crate) fn json_object(body: &[u8], rule: &str) -> Result<Map<String, Value>, Problem> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) => Ok(object),
        _ => Err(invalid_field("body", rule)),
    }
}

/// A download, streamed as it is opened ([`Documents::content_stream`]), with
/// the plain size as its `Content-Length`: never sniffed, never cached.
pub(crate) fn stream_response(body: Body, length: u64, media_type: &str, file_name: &str) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&served_type(media_type)).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    if let Ok(value) = HeaderValue::from_str(&content_disposition(file_name)) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    response
}
