//! `POST /api/admin/tiles/{id}/unpublish`: hide the tile from citizens.

use axum::Json;
use axum::extract::{Path, State};
use portal_host::Problem;
use portal_security::Citizen;

use super::{AdminTile, Shared, official, record};
use crate::modeller;

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "AdminUnpublishTile";

/// Takes the tile off every dashboard and the catalogue at once (its
/// versions stay; a rollback can publish an earlier one again).
#[utoipa::path(
    post,
    path = "/api/admin/tiles/{id}/unpublish",
    operation_id = OPERATION,
    tag = "tiles",
    params(("id" = String, Path, description = "The tile's id.")),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Dlaždice už není zveřejněna.", body = AdminTile),
        (status = 403, description = "Jen pro úředníky portálů přihlášené s vysokou úrovní záruky.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Taková dlaždice není.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Dlaždici současně změnil jiný úředník.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(tiles): State<Shared>,
    citizen: Citizen,
    Path(id): Path<String>,
) -> Result<Json<AdminTile>, Problem> {
    official(&tiles, &citizen)?;
    let (mut record, etag) = record(&tiles, &id).await?;
    let was = record.published;
    record.published = None;
    record.pending = None;
    super::save(&tiles, &record, etag.as_ref()).await?;
    modeller::audit(&tiles, &citizen.subject, "unpublish", &id, was, None).await?;
    Ok(Json(AdminTile::from(record)))
}
