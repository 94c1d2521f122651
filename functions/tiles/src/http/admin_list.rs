//! `GET /api/admin/tiles`: every tile with its versions (the modeller).

use axum::Json;
use axum::extract::State;
use portal_host::Problem;
use portal_security::Citizen;
use serde::Serialize;
use utoipa::ToSchema;

use super::{AdminTile, Shared, official};
use crate::modeller;

#[derive(Debug, Serialize, ToSchema)]
pub struct AdminTiles {
    pub items: Vec<AdminTile>,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "AdminListTiles";

/// Every tile: built-in ones (the seed's and the 36 cities, those still `to
/// confirm` as unpublished drafts) and the officials' own.
#[utoipa::path(
    get,
    path = "/api/admin/tiles",
    operation_id = OPERATION,
    tag = "tiles",
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Všechny dlaždice s verzemi.", body = AdminTiles),
        (status = 403, description = "Jen pro úředníky portálů přihlášené s vysokou úrovní záruky.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(State(tiles): State<Shared>, citizen: Citizen) -> Result<Json<AdminTiles>, Problem> {
    official(&tiles, &citizen)?;
    let items = modeller::all_records(&tiles).await?.into_iter().map(AdminTile::from).collect();
    Ok(Json(AdminTiles { items }))
}
