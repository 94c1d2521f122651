//! `POST /api/petitions/{id}/close`: the creator ends the collection of
//! signatures before the end date (the timer `ClosePetitions` closes at it).

use axum::Json;
use axum::extract::{Path, State};
use portal_host::Problem;
use portal_security::{Action, Citizen};

use super::{MyPetition, Shared, my_view, parse_id};
use crate::closing::ClosedBy;

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "ClosePetition";

/// Closes the creator's published petition: signing stops at once.
#[utoipa::path(
    post,
    path = "/api/petitions/{id}/close",
    operation_id = OPERATION,
    tag = "petitions",
    params(("id" = String, Path, description = "The petition's id.")),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Sběr podpisů je ukončen (nebo už byl).", body = MyPetition),
        (status = 404, description = "Taková vaše petice neexistuje.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Petici v tomto stavu nelze uzavřít.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(s): State<Shared>,
    citizen: Citizen,
    Path(id): Path<String>,
) -> Result<Json<MyPetition>, Problem> {
    let id = parse_id(&id)?;
    super::refuse_foreign(&s, &citizen, &id, Action::Update, super::Reach::Creator).await?;
    let petition = s.close(&id, ClosedBy::Creator, Some(&citizen.subject)).await??;
    s.petitions
        .access_log
        .record_own(&citizen, Action::Update, "petition", id.as_str(), "ukončení sběru podpisů petice")
        .await?;
    Ok(Json(my_view(&s, &petition).await?))
}
