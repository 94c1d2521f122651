//! `PUT /api/admin/tiles/{id}`: a new version of the tile's definition.

use axum::Json;
use axum::extract::{Path, State};
use portal_host::{Body, FieldViolation, Problem};
use portal_security::Citizen;
use serde_json::Value;

use super::admin_create::draft_id;
use super::{AdminTile, Shared, official, record};
use crate::definition::TileDefinition;
use crate::modeller;

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "AdminEditTile";

/// Saves an edit as a new version with its diff (a draft until published).
/// An edit that changes nothing makes no version.
#[utoipa::path(
    put,
    path = "/api/admin/tiles/{id}",
    operation_id = OPERATION,
    tag = "tiles",
    params(("id" = String, Path, description = "The tile's id.")),
    request_body = TileDefinition,
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Nová verze je uložena.", body = AdminTile),
        (status = 403, description = "Jen pro úředníky portálů přihlášené s vysokou úrovní záruky.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Taková dlaždice není.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Dlaždici současně změnil jiný úředník.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(tiles): State<Shared>,
    citizen: Citizen,
    Path(id): Path<String>,
    Body(definition): Body<Value>,
) -> Result<Json<AdminTile>, Problem> {
    official(&tiles, &citizen)?;
    let (mut record, etag) = record(&tiles, &id).await?;
    if draft_id(&definition)? != id {
        return Err(Problem::validation(vec![FieldViolation::new("id", "the tile's id from the path")]));
    }
    if let Some(version) = modeller::edit(&mut record, definition, citizen.subject.as_str(), tiles.clock.now()) {
        super::save(&tiles, &record, etag.as_ref()).await?;
        modeller::audit(&tiles, &citizen.subject, "edit", &id, Some(version), None).await?;
    }
    Ok(Json(AdminTile::from(record)))
}
