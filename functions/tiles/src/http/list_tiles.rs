//! `GET /api/tiles`: the catalogue of tiles the citizen may add.

use axum::Json;
use axum::extract::State;
use portal_host::Problem;
use portal_security::Citizen;
use serde::Serialize;
use utoipa::ToSchema;

use super::Shared;
use crate::definition::{Texts, TileDefinition};
use crate::{layout, modeller};

/// A tile of the catalogue.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CatalogueTile {
    pub id: String,
    pub title: Texts,
    pub description: Texts,
    pub category: String,
    pub icon: String,
    pub url: String,
    /// Whether the tile shows a live summary.
    pub has_summary: bool,
    /// Whether it is on the citizen's dashboard now.
    pub on_dashboard: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Catalogue {
    pub items: Vec<CatalogueTile>,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "ListTiles";

/// Every published tile the citizen may see, whether on their dashboard or not.
#[utoipa::path(
    get,
    path = "/api/tiles",
    operation_id = OPERATION,
    tag = "tiles",
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Dlaždice, které si občan může přidat.", body = Catalogue),
    )
)]
pub async fn handler(State(tiles): State<Shared>, citizen: Citizen) -> Result<Json<Catalogue>, Problem> {
    let facts = tiles.citizen_facts(&citizen.subject).await?;
    let today = tiles.today();
    let visible: Vec<TileDefinition> =
        modeller::catalogue(&tiles).await?.iter().filter(|t| t.visibility.admits(&facts, today)).cloned().collect();
    let chosen = layout::load(&tiles, &citizen.subject).await?;
    let items = visible
        .into_iter()
        .map(|tile| CatalogueTile {
            on_dashboard: chosen.as_ref().is_none_or(|ids| ids.contains(&tile.id)),
            has_summary: tile.source.is_some(),
            id: tile.id,
            title: tile.title,
            description: tile.description,
            category: tile.category,
            icon: tile.icon,
            url: tile.url,
        })
        .collect();
    Ok(Json(Catalogue { items }))
}
