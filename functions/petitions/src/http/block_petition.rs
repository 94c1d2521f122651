//! `POST /api/officials/petitions/{id}/block`: an official stops signing of
//! a petition that breaks § 1(3)/(4) of Act 85/1990 Sb. (§ 6a(5)), with a
//! written reason; the creator is told.

use axum::Json;
use axum::extract::{Path, State};
use portal_host::{Body, FieldViolation, Problem};
use portal_security::Citizen;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::{Shared, official, parse_id};
use crate::model::{State as PetitionState, rfc3339};
use crate::officials::{MAX_REASON, MIN_REASON};

/// Why signing stops.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"reason": "Výzva k porušování zákona (§ 1 odst. 4)."}))]
#[allow(dead_code)] // documents the body the handler checks
pub struct BlockInput {
    /// The written reason, 10–2,000 characters; line breaks allowed.
    reason: String,
}

/// A blocked petition.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Blocked {
    pub id: String,
    /// `blocked`.
    pub state: PetitionState,
    pub blocked_at: Option<String>,
    pub reason: Option<String>,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "BlockPetition";

/// Blocks signing of a published petition (officials only).
#[utoipa::path(
    post,
    path = "/api/officials/petitions/{id}/block",
    operation_id = OPERATION,
    tag = "petitions",
    params(("id" = String, Path, description = "The petition's id.")),
    request_body = BlockInput,
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Sběr podpisů petice je zastaven.", body = Blocked),
        (status = 401, description = "Nepřihlášen, nebo přihlášení starší než 10 minut (`/problems/reauthentication-required`): přihlaste se znovu přes /api/auth/login?maxAge=600.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Jen pro úředníky ministerstva vnitra.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Taková zveřejněná petice neexistuje.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Petici v tomto stavu nelze zablokovat.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Chybí písemné zdůvodnění (10–2 000 znaků).", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(s): State<Shared>,
    citizen: Citizen,
    Path(id): Path<String>,
    body: Result<Body<Value>, Problem>,
) -> Result<Json<Blocked>, Problem> {
    official(&s, &citizen)?;
    // A legal act of the ministry: step-up to a login within 10 minutes.
    citizen.require_recent_login(s.petitions.clock.now())?;
    let id = parse_id(&id)?;
    let Body(body) = body?;
    let reason = body["reason"].as_str().map(str::trim).unwrap_or("");
    let length = reason.chars().count();
    if !(MIN_REASON..=MAX_REASON).contains(&length) || reason.chars().any(|c| c.is_control() && c != '\n') {
        return Err(Problem::validation(vec![FieldViolation::new(
            "reason",
            format!("the written reason: {MIN_REASON}-{MAX_REASON} characters"),
        )]));
    }
    let petition = s.block(&id, &citizen.subject, reason).await??;
    Ok(Json(Blocked {
        id: petition.id,
        state: petition.state,
        blocked_at: petition.blocked_at.map(rfc3339),
        reason: petition.block_reason,
    }))
}
