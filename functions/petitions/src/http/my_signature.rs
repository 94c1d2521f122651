//! `GET /api/petitions/{id}/signatures/mine`: whether the citizen has signed.

use axum::Json;
use axum::extract::{Path, State};
use portal_host::Problem;
use portal_security::Citizen;
use serde::Serialize;
use utoipa::ToSchema;

use super::{Shared, not_found, parse_id};
use crate::model::State as PetitionState;

/// Whether the citizen's signature stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct MySignature {
    pub signed: bool,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "MyPetitionSignature";

/// Whether the citizen has signed the petition.
#[utoipa::path(
    get,
    path = "/api/petitions/{id}/signatures/mine",
    operation_id = OPERATION,
    tag = "petitions",
    params(("id" = String, Path, description = "The petition's id.")),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Zda jste petici podepsali.", body = MySignature),
        (status = 404, description = "Taková zveřejněná petice neexistuje.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(s): State<Shared>,
    citizen: Citizen,
    Path(id): Path<String>,
) -> Result<Json<MySignature>, Problem> {
    let id = parse_id(&id)?;
    super::refuse_foreign(&s, &citizen, &id, portal_security::Action::Read, super::Reach::Published).await?;
    match s.load(&id).await? {
        Some((petition, _)) if petition.state != PetitionState::Draft && petition.state != PetitionState::Blocked => {}
        _ => return Err(not_found()),
    }
    Ok(Json(MySignature { signed: s.has_signed(&id, &citizen.subject).await? }))
}
