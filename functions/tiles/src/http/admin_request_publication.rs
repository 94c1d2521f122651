//! `POST /api/admin/tiles/{id}/publication`: ask for a version to be published.

use axum::Json;
use axum::extract::{Path, State};
use portal_host::{Body, Problem};
use portal_security::Citizen;

use super::{AdminTile, Shared, VersionChoice, check_rules, official, record, rule_problem, rules};
use crate::modeller;

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "AdminRequestTilePublication";

/// Asks for a version to be published; a second official approves it (four
/// eyes). The version must pass the checks (422 naming what is wrong).
#[utoipa::path(
    post,
    path = "/api/admin/tiles/{id}/publication",
    operation_id = OPERATION,
    tag = "tiles",
    params(("id" = String, Path, description = "The tile's id.")),
    request_body = VersionChoice,
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Zveřejnění čeká na schválení druhým úředníkem.", body = AdminTile),
        (status = 403, description = "Jen pro úředníky portálů přihlášené s vysokou úrovní záruky.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Taková dlaždice není.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Dlaždici současně změnil jiný úředník.", body = Problem, content_type = "application/problem+json"),
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
    let (domains, sources) = rules(&tiles);
    let now = tiles.clock.now();
    modeller::request_publication(
        &mut record,
        choice.version,
        &check_rules(&domains, &sources),
        citizen.subject.as_str(),
        now,
    )
    .map_err(|refused| match refused {
        Ok(rule) => rule_problem(rule),
        Err(violations) => Problem::validation(violations),
    })?;
    super::save(&tiles, &record, etag.as_ref()).await?;
    modeller::audit(&tiles, &citizen.subject, "request-publication", &id, Some(choice.version), None).await?;
    Ok(Json(AdminTile::from(record)))
}
