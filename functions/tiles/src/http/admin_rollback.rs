//! `POST /api/admin/tiles/{id}/rollback`: return to an earlier published version.

use axum::Json;
use axum::extract::{Path, State};
use portal_host::{Body, Problem};
use portal_security::Citizen;

use super::{AdminTile, Shared, VersionChoice, official, record, rule_problem};
use crate::modeller;

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "AdminRollbackTile";

/// Makes a new version equal to an earlier published one and publishes it
/// (two officials approved it before). A version never published cannot be
/// rolled back to (409).
#[utoipa::path(
    post,
    path = "/api/admin/tiles/{id}/rollback",
    operation_id = OPERATION,
    tag = "tiles",
    params(("id" = String, Path, description = "The tile's id.")),
    request_body = VersionChoice,
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Dřívější verze je znovu zveřejněna jako nová verze.", body = AdminTile),
        (status = 403, description = "Jen pro úředníky portálů přihlášené s vysokou úrovní záruky.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Taková dlaždice není.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Tato verze nikdy nebyla zveřejněna, nebo dlaždici současně změnil jiný úředník.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(tiles): State<Shared>,
    citizen: Citizen,
    Path(id): Path<String>,
    Body(choice): Body<VersionChoice>,
) -> Result<Json<AdminTile>, Problem> {
    official(&tiles, &citizen)?;
    let (mut record, etag) = record(&tiles, &id).await?;
    let version = modeller::rollback(&mut record, choice.version, citizen.subject.as_str(), tiles.clock.now())
        .map_err(rule_problem)?;
    super::save(&tiles, &record, etag.as_ref()).await?;
    modeller::audit(&tiles, &citizen.subject, "rollback", &id, Some(version), Some(format!("to {}", choice.version)))
        .await?;
    Ok(Json(AdminTile::from(record)))
}
