//! `GET /api/petitions/{id}/attachments/{n}`: PUBLIC for a published, closed
//! or handed-over petition, the creator's only otherwise (404 to anyone
//! else, with or without a session).

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use portal_host::Problem;
use portal_host::download::content_disposition;
use portal_security::{Action, Citizen};

use super::{Pdf, Shared, no_such_attachment, not_found, parse_id};
use crate::attachments::{PDF, parse_index};

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "PetitionAttachment";

/// Downloads an attachment of a public petition, or of the creator's draft.
#[utoipa::path(
    get,
    path = "/api/petitions/{id}/attachments/{n}",
    operation_id = OPERATION,
    tag = "petitions",
    params(
        ("id" = String, Path, description = "The petition's id."),
        ("n" = String, Path, description = "The attachment's index, from 1."),
    ),
    security((), ("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Příloha petice (PDF).", content_type = "application/pdf", body = Pdf),
        (status = 404, description = "Taková petice nebo příloha neexistuje.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(s): State<Shared>,
    citizen: Result<Citizen, Response>,
    Path((id, n)): Path<(String, String)>,
) -> Result<Response, Problem> {
    let id = parse_id(&id)?;
    let (petition, _) = s.load(&id).await?.ok_or_else(not_found)?;
    // A petition the public cannot see is its creator's alone; to anyone
    // else (a session or none) it does not exist.
    let public = petition.state.is_public();
    let citizen_was_someone = citizen.is_ok();
    let creator = citizen.ok().filter(|c| c.subject.as_str() == petition.creator);
    if !public && creator.is_none() {
        if citizen_was_someone {
            return Err(super::refused(&s, &petition, portal_security::Action::Read).await?);
        }
        return Err(not_found());
    }
    let index = parse_index(&n).ok_or_else(no_such_attachment)?;
    let (entry, content) = s.attachment_content(&petition, index).await?.ok_or_else(no_such_attachment)?;
    if let (false, Some(creator)) = (public, &creator) {
        let resource = format!("{id}/attachment-{index}");
        s.petitions
            .access_log
            .record_own(creator, Action::Read, "petition-attachment", &resource, "stažení přílohy návrhu petice")
            .await?;
    }
    let mut response = content.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PDF));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    let cache = if public { "public, max-age=300" } else { "private, no-store" };
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(value) = HeaderValue::from_str(&content_disposition(&entry.file_name)) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}
