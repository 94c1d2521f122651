//! `DELETE /api/petitions/{id}/signatures/mine`: the citizen withdraws their
//! signature while the petition is open. The second method of the function
//! `MyPetitionSignature`.

use axum::Json;
use axum::extract::{Path, State};
use portal_host::Problem;
use portal_security::Citizen;

use super::sign_petition::SignatureCount;
use super::{Shared, parse_id};

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "WithdrawPetitionSignature";

/// Withdraws the citizen's signature; their sealed name and residence are deleted.
#[utoipa::path(
    delete,
    path = "/api/petitions/{id}/signatures/mine",
    operation_id = OPERATION,
    tag = "petitions",
    params(("id" = String, Path, description = "The petition's id.")),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Podpis je odvolán.", body = SignatureCount),
        (status = 404, description = "Taková petice neexistuje, nebo jste ji nepodepsali.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Sběr podpisů skončil nebo byl zastaven; podpis už nelze odvolat.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(s): State<Shared>,
    citizen: Citizen,
    Path(id): Path<String>,
) -> Result<Json<SignatureCount>, Problem> {
    let id = parse_id(&id)?;
    super::refuse_foreign(&s, &citizen, &id, portal_security::Action::Delete, super::Reach::Published).await?;
    let signatures = s.withdraw(&id, &citizen.subject).await??;
    Ok(Json(SignatureCount { signed: false, signatures }))
}
