//! `POST /api/petitions/{id}/signatures`: the citizen signs (prohlášení o
//! podpoře petice, § 6a(2)); one signature per person per petition.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use portal_host::Problem;
use portal_security::Citizen;
use serde::Serialize;
use utoipa::ToSchema;

use super::{Refused, Shared, parse_id};

/// Whether the citizen's signature stands, and the exact count after the change.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignatureCount {
    pub signed: bool,
    /// The exact number of standing signatures.
    pub signatures: u64,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "SignPetition";

/// Signs the petition with the name and residence the identity carries.
#[utoipa::path(
    post,
    path = "/api/petitions/{id}/signatures",
    operation_id = OPERATION,
    tag = "petitions",
    params(("id" = String, Path, description = "The petition's id.")),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 201, description = "Podpis je zapsán.", body = SignatureCount),
        (status = 404, description = "Taková zveřejněná petice neexistuje.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Petici jste už podepsali, nebo sběr podpisů skončil či byl zastaven.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Vaše jméno a bydliště nejsou z vaší identity známy; zákon je pro podpis vyžaduje.", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Příliš mnoho podpisů v krátké době; zkuste to za chvíli (hlavička Retry-After).", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(s): State<Shared>,
    citizen: Citizen,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<SignatureCount>), Refused> {
    let id = parse_id(&id)?;
    super::refuse_foreign(&s, &citizen, &id, portal_security::Action::Create, super::Reach::Published).await?;
    s.sign_limiter.check(citizen.subject.as_str()).map_err(Refused::TooMany)?;
    let signatures = s.sign(&id, &citizen.subject).await??;
    Ok((StatusCode::CREATED, Json(SignatureCount { signed: true, signatures })))
}
