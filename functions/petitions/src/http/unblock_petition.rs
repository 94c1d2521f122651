//! `POST /api/officials/petitions/{id}/unblock`: an official lifts a block;
//! the petition is published again, or closed if its end date has passed.

use axum::Json;
use axum::extract::{Path, State};
use portal_host::Problem;
use portal_security::Citizen;
use serde::Serialize;
use utoipa::ToSchema;

use super::{Shared, official, parse_id};
use crate::model::State as PetitionState;

/// An unblocked petition.
#[derive(Debug, Serialize, ToSchema)]
pub struct Unblocked {
    pub id: String,
    /// `published`, or `closed` when its end date has passed.
    pub state: PetitionState,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "UnblockPetition";

/// Lifts the block of a petition (officials only).
#[utoipa::path(
    post,
    path = "/api/officials/petitions/{id}/unblock",
    operation_id = OPERATION,
    tag = "petitions",
    params(("id" = String, Path, description = "The petition's id.")),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Blokace je zrušena; petice je znovu zveřejněna, nebo uzavřena po datu konce.", body = Unblocked),
        (status = 401, description = "Nepřihlášen, nebo přihlášení starší než 10 minut (`/problems/reauthentication-required`): přihlaste se znovu přes /api/auth/login?maxAge=600.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Jen pro úředníky ministerstva vnitra.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Taková petice neexistuje.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Petice není zablokována.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(s): State<Shared>,
    citizen: Citizen,
    Path(id): Path<String>,
) -> Result<Json<Unblocked>, Problem> {
    official(&s, &citizen)?;
    // A legal act of the ministry: step-up to a login within 10 minutes.
    citizen.require_recent_login(s.petitions.clock.now())?;
    let id = parse_id(&id)?;
    let petition = s.unblock(&id, &citizen.subject).await??;
    Ok(Json(Unblocked { id: petition.id, state: petition.state }))
}
