//! `POST /api/admin/tiles`: a new tile, as a draft (version 1).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use portal_host::{Body, FieldViolation, Problem};
use portal_security::Citizen;
use serde_json::Value;

use super::{AdminTile, Shared, official};
use crate::definition::TileDefinition;
use crate::modeller;

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "AdminCreateTile";

/// Creates a draft. The draft may be incomplete (`validate` says what is
/// missing); it needs an `id` not used by any tile.
#[utoipa::path(
    post,
    path = "/api/admin/tiles",
    operation_id = OPERATION,
    tag = "tiles",
    request_body = TileDefinition,
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 201, description = "Koncept dlaždice je založen.", body = AdminTile),
        (status = 403, description = "Jen pro úředníky portálů přihlášené s vysokou úrovní záruky.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Dlaždice s tímto id už je.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(tiles): State<Shared>,
    citizen: Citizen,
    Body(definition): Body<Value>,
) -> Result<(StatusCode, Json<AdminTile>), Problem> {
    official(&tiles, &citizen)?;
    let id = draft_id(&definition)?;
    if modeller::load(&tiles, &id).await?.is_some() {
        return Err(Problem::new(StatusCode::CONFLICT, "tile-exists", "This tile exists")
            .with_detail("edit it with PUT /api/admin/tiles/{id}"));
    }
    let record = modeller::new_record(definition, citizen.subject.as_str(), tiles.clock.now())
        .ok_or_else(|| Problem::validation(vec![FieldViolation::new("id", "a tile id")]))?;
    super::save(&tiles, &record, None).await?;
    modeller::audit(&tiles, &citizen.subject, "create", &id, Some(1), None).await?;
    Ok((StatusCode::CREATED, Json(AdminTile::from(record))))
}

/// A draft is a JSON object with a tile id (lowercase letters, digits and dashes).
pub(crate) fn draft_id(definition: &Value) -> Result<String, Problem> {
    if !definition.is_object() {
        return Err(Problem::validation(vec![FieldViolation::new("body", "a JSON object")]));
    }
    match definition.get("id").and_then(Value::as_str) {
        Some(id) if is_tile_id(id) => Ok(id.to_owned()),
        _ => Err(Problem::validation(vec![FieldViolation::new(
            "id",
            "1–48 lowercase letters, digits and dashes, not starting or ending with a dash",
        )])),
    }
}

pub(crate) fn is_tile_id(id: &str) -> bool {
    (1..=48).contains(&id.len())
        && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !id.starts_with('-')
        && !id.ends_with('-')
}
