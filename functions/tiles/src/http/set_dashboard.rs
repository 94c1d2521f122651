//! `PUT /api/me/dashboard`: the citizen's choice and order of tiles.

use axum::Json;
use axum::extract::State;
use portal_host::{Body, FieldViolation, Problem};
use portal_security::{Action, Citizen};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Shared;
use crate::{layout, modeller};

/// The tiles in the order the citizen wants them (add, remove, reorder).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"tiles": ["financni-sprava", "erecept", "cssz"]}))]
pub struct DashboardChoice {
    /// Tile ids from `GET /api/tiles`, each once, at most 100.
    #[schema(max_items = 100)]
    pub tiles: Vec<String>,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "SetDashboard";

/// Stores which tiles the dashboard shows and in which order. Every id must
/// be a tile the citizen may see, each once.
#[utoipa::path(
    put,
    path = "/api/me/dashboard",
    operation_id = OPERATION,
    tag = "tiles",
    request_body = DashboardChoice,
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Volba dlaždic je uložena.", body = DashboardChoice),
    )
)]
pub async fn handler(
    State(tiles): State<Shared>,
    citizen: Citizen,
    Body(choice): Body<DashboardChoice>,
) -> Result<Json<DashboardChoice>, Problem> {
    let facts = tiles.citizen_facts(&citizen.subject).await?;
    let today = tiles.today();
    let visible: Vec<String> = modeller::catalogue(&tiles)
        .await?
        .iter()
        .filter(|t| t.visibility.admits(&facts, today))
        .map(|t| t.id.clone())
        .collect();
    let mut errors = Vec::new();
    if choice.tiles.len() > layout::MAX_TILES {
        errors.push(FieldViolation::new("tiles", format!("at most {} tiles", layout::MAX_TILES)));
    }
    for (n, id) in choice.tiles.iter().enumerate() {
        if !visible.contains(id) {
            errors.push(FieldViolation::new(format!("tiles[{n}]"), "a tile from GET /api/tiles"));
        } else if choice.tiles[..n].contains(id) {
            errors.push(FieldViolation::new(format!("tiles[{n}]"), "each tile once"));
        }
    }
    if !errors.is_empty() {
        return Err(Problem::validation(errors));
    }
    layout::save(&tiles, &citizen.subject, &choice.tiles).await?;
    tiles.access_log.record_own(&citizen, Action::Update, "dashboard", "layout", "výběr dlaždic na nástěnce").await?;
    Ok(Json(choice))
}
