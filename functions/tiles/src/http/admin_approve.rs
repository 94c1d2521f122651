//! `POST /api/admin/tiles/{id}/approval`: a second official publishes.

use axum::Json;
use axum::extract::{Path, State};
use portal_host::{Body, Problem};
use portal_security::Citizen;

use super::{AdminTile, Shared, VersionChoice, official, record, rule_problem};
use crate::modeller::{self, RuleBroken};

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "AdminApproveTilePublication";

/// Approves the waiting publication of a version, which publishes it. The
/// official who asked cannot approve (403 `four-eyes`).
#[utoipa::path(
    post,
    path = "/api/admin/tiles/{id}/approval",
    operation_id = OPERATION,
    tag = "tiles",
    params(("id" = String, Path, description = "The tile's id.")),
    request_body = VersionChoice,
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Verze je zveřejněna.", body = AdminTile),
        (status = 403, description = "Jen pro úředníky portálů s vysokou úrovní záruky; schvaluje jiný úředník, než který o zveřejnění požádal.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Taková dlaždice není.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Tato verze na schválení nečeká, nebo dlaždici současně změnil jiný úředník.", body = Problem, content_type = "application/problem+json"),
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
    if let Err(rule) = modeller::approve(&mut record, choice.version, citizen.subject.as_str()) {
        if rule == RuleBroken::SameOfficial {
            modeller::audit(
                &tiles,
                &citizen.subject,
                "approve-refused",
                &id,
                Some(choice.version),
                Some(rule.to_string()),
            )
            .await?;
        }
        return Err(rule_problem(rule));
    }
    super::save(&tiles, &record, etag.as_ref()).await?;
    modeller::audit(&tiles, &citizen.subject, "approve", &id, Some(choice.version), None).await?;
    Ok(Json(AdminTile::from(record)))
}
