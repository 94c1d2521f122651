//! `GET /api/me/petitions/{id}`: one of the citizen's own petitions, a draft
//! included.

use axum::Json;
use axum::extract::{Path, State};
use portal_host::Problem;
use portal_security::{Action, Citizen};

use super::{MyPetition, Shared, my_view, own, parse_id};

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "ShowMyPetition";

/// The creator's petition with its committee and, when blocked, the reason.
#[utoipa::path(
    get,
    path = "/api/me/petitions/{id}",
    operation_id = OPERATION,
    tag = "petitions",
    params(("id" = String, Path, description = "The petition's id.")),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Vaše petice.", body = MyPetition),
        (status = 404, description = "Taková vaše petice neexistuje.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(s): State<Shared>,
    citizen: Citizen,
    Path(id): Path<String>,
) -> Result<Json<MyPetition>, Problem> {
    let id = parse_id(&id)?;
    let petition = own(&s, &citizen, &id, Action::Read).await?;
    let view = my_view(&s, &petition).await?;
    s.petitions.access_log.record_own(&citizen, Action::Read, "petition", id.as_str(), "zobrazení mé petice").await?;
    Ok(Json(view))
}
