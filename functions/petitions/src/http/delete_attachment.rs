//! `DELETE /api/petitions/{id}/attachments/{n}`: the creator removes an
//! attachment of their draft. The second method of the function
//! `PetitionAttachment`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use portal_host::Problem;
use portal_security::{Action, Citizen};

use super::{Shared, no_such_attachment, own, parse_id};
use crate::attachments::parse_index;

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "DeletePetitionAttachment";

/// Removes an attachment from the creator's draft.
#[utoipa::path(
    delete,
    path = "/api/petitions/{id}/attachments/{n}",
    operation_id = OPERATION,
    tag = "petitions",
    params(
        ("id" = String, Path, description = "The petition's id."),
        ("n" = String, Path, description = "The attachment's index, from 1."),
    ),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 204, description = "Příloha je odebrána."),
        (status = 404, description = "Takový váš návrh petice nebo taková příloha neexistuje.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Petice je zveřejněna; přílohy už nelze měnit.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(s): State<Shared>,
    citizen: Citizen,
    Path((id, n)): Path<(String, String)>,
) -> Result<StatusCode, Problem> {
    let id = parse_id(&id)?;
    own(&s, &citizen, &id, Action::Delete).await?;
    let index = parse_index(&n).ok_or_else(no_such_attachment)?;
    s.remove_attachment(&id, &citizen.subject, index).await??;
    let resource = format!("{id}/attachment-{index}");
    s.petitions
        .access_log
        .record_own(&citizen, Action::Delete, "petition-attachment", &resource, "odebrání přílohy návrhu petice")
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
