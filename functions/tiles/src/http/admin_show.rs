//! `GET /api/admin/tiles/{id}`: one tile with every version and its diff.

use axum::Json;
use axum::extract::{Path, State};
use portal_host::Problem;
use portal_security::Citizen;

use super::{AdminTile, Shared, official, record};

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "AdminShowTile";

/// One tile's record.
#[utoipa::path(
    get,
    path = "/api/admin/tiles/{id}",
    operation_id = OPERATION,
    tag = "tiles",
    params(("id" = String, Path, description = "The tile's id.")),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Dlaždice se všemi verzemi.", body = AdminTile),
        (status = 403, description = "Jen pro úředníky portálů přihlášené s vysokou úrovní záruky.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Taková dlaždice není.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(tiles): State<Shared>,
    citizen: Citizen,
    Path(id): Path<String>,
) -> Result<Json<AdminTile>, Problem> {
    official(&tiles, &citizen)?;
    let (record, _) = record(&tiles, &id).await?;
    Ok(Json(AdminTile::from(record)))
}
