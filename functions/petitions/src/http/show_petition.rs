//! `GET /api/petitions/{id}`: PUBLIC, no session. A published, closed or
//! handed-over petition; a draft or a blocked one does not exist here.

use axum::Json;
use axum::extract::{Path, State};
use portal_host::Problem;

use super::{PublicPetition, Shared, not_found, parse_id};

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "ShowPetition";

/// A public petition with its exact count of signatures.
#[utoipa::path(
    get,
    path = "/api/petitions/{id}",
    operation_id = OPERATION,
    tag = "petitions",
    params(("id" = String, Path, description = "The petition's id (32 hexadecimal characters).")),
    responses(
        (status = 200, description = "Petice, jak ji vidí veřejnost.", body = PublicPetition),
        (status = 404, description = "Taková zveřejněná petice neexistuje.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(State(s): State<Shared>, Path(id): Path<String>) -> Result<Json<PublicPetition>, Problem> {
    let id = parse_id(&id)?;
    let petition = match s.load(&id).await? {
        Some((petition, _)) if petition.state.is_public() => petition,
        _ => return Err(not_found()),
    };
    let count = s.count(&id, petition.shards).await?;
    Ok(Json(PublicPetition::of(&petition, count)))
}
