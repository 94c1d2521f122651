//! `POST /api/admin/tiles/{id}/preview`: the tile as a demo citizen would see it.

use axum::Json;
use axum::extract::{Path, State};
use portal_host::{Body, FieldViolation, Problem};
use portal_security::{Citizen, SubjectId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Shared, check_rules, official, record, rules};
use crate::dashboard::{DashboardTile, TileState, preview_tile};
use crate::definition;
use crate::modeller;
use crate::source::simulator::{JANA, JIRI, LUDMILA};

/// Whom to preview as, and which version (default: the latest).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"citizen": "jana"}))]
pub struct PreviewRequest {
    /// A demo citizen: `jana`, `jiri` or `ludmila`.
    pub citizen: String,
    #[schema(minimum = 1)]
    pub version: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Preview {
    pub citizen: String,
    pub version: u32,
    /// Whether the demo citizen would see the tile at all (visibility rules).
    pub visible: bool,
    /// The tile as it would show; summaries come only from simulators (a
    /// demo citizen is never sent to a real portal).
    pub tile: DashboardTile,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "AdminPreviewTile";

/// Shows a version of the tile as a demo citizen: whether they see it, and
/// with which summary. Needs a version that passes the checks.
#[utoipa::path(
    post,
    path = "/api/admin/tiles/{id}/preview",
    operation_id = OPERATION,
    tag = "tiles",
    params(("id" = String, Path, description = "The tile's id.")),
    request_body = PreviewRequest,
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Náhled dlaždice očima ukázkového občana.", body = Preview),
        (status = 403, description = "Jen pro úředníky portálů přihlášené s vysokou úrovní záruky.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Taková dlaždice není.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(tiles): State<Shared>,
    citizen: Citizen,
    Path(id): Path<String>,
    Body(request): Body<PreviewRequest>,
) -> Result<Json<Preview>, Problem> {
    official(&tiles, &citizen)?;
    let demo = match request.citizen.as_str() {
        "jana" => JANA,
        "jiri" => JIRI,
        "ludmila" => LUDMILA,
        _ => return Err(Problem::validation(vec![FieldViolation::new("citizen", "jana, jiri or ludmila")])),
    };
    let (record, _) = record(&tiles, &id).await?;
    let version = match request.version {
        Some(n) => record
            .version(n)
            .ok_or_else(|| Problem::validation(vec![FieldViolation::new("version", "a version of this tile")]))?,
        None => record.latest().ok_or_else(|| Problem::not_found("no such tile"))?,
    };
    let (domains, sources) = rules(&tiles);
    let tile = definition::check(&version.definition, &check_rules(&domains, &sources)).map_err(Problem::validation)?;
    let subject = SubjectId::parse(demo).map_err(|_| Problem::internal())?;
    let facts = tiles.citizen_facts(&subject).await?;
    let visible = tile.visibility.admits(&facts, tiles.today());
    let view = preview_tile(&tiles, &subject, &tile).await;
    modeller::audit(&tiles, &citizen.subject, "preview", &id, Some(version.version), Some(request.citizen.clone()))
        .await?;
    debug_assert!(view.state != TileState::Cached);
    Ok(Json(Preview { citizen: request.citizen, version: version.version, visible, tile: view }))
}
