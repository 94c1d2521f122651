//! The tiles' HTTP functions, one file per action, and what they share.

pub mod admin_approve;
pub mod admin_audit;
pub mod admin_create;
pub mod admin_edit;
pub mod admin_list;
pub mod admin_preview;
pub mod admin_request_publication;
pub mod admin_rollback;
pub mod admin_show;
pub mod admin_unpublish;
pub mod admin_validate;
pub mod dashboard;
pub mod list_tiles;
pub mod set_dashboard;

use std::sync::Arc;

use axum::http::StatusCode;
use portal_host::{FieldViolation, Problem};
use portal_security::{Citizen, Loa};
use portal_store::ETag;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::definition::CheckRules;
use crate::modeller::{self, RuleBroken, TileRecord};
use crate::{Tiles, TilesError};

pub(crate) type Shared = Arc<Tiles>;

/// The modeller's routes: officials in the list (`PORTAL_TILES_OFFICIALS`)
/// at LoA high; anyone else gets 403.
pub(crate) fn official(tiles: &Tiles, citizen: &Citizen) -> Result<(), Problem> {
    if !tiles.settings.officials.iter().any(|o| o == citizen.subject.as_str()) {
        tracing::warn!("a citizen who is not a tile official asked for the tile modeller");
        return Err(Problem::new(StatusCode::FORBIDDEN, "not-a-tile-official", "Not allowed")
            .with_detail("the tile modeller is for officials of the portals only"));
    }
    if citizen.loa != Loa::High {
        return Err(Problem::new(StatusCode::FORBIDDEN, "loa-high-required", "Not allowed")
            .with_detail("the tile modeller needs a login at a high level of assurance"));
    }
    Ok(())
}

/// A tile's record, or 404.
pub(crate) async fn record(tiles: &Tiles, id: &str) -> Result<(TileRecord, Option<ETag>), Problem> {
    if !admin_create::is_tile_id(id) {
        return Err(Problem::not_found("no such tile"));
    }
    modeller::load(tiles, id).await?.ok_or_else(|| Problem::not_found("no such tile"))
}

pub(crate) fn rules(tiles: &Tiles) -> (Vec<String>, Vec<String>) {
    (tiles.settings.allowed_domains.clone(), tiles.source_ids())
}

pub(crate) fn check_rules<'a>(domains: &'a [String], sources: &'a [String]) -> CheckRules<'a> {
    CheckRules { allowed_domains: domains, sources }
}

/// A version number in a body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VersionChoice {
    /// The version the action is about.
    #[schema(minimum = 1, example = 2)]
    pub version: u32,
}

/// A tile's record, as officials see it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminTile {
    pub id: String,
    /// `published`, `draft` (a newer version is not published) or `unpublished`.
    pub status: String,
    #[serde(flatten)]
    pub record: TileRecord,
}

impl From<TileRecord> for AdminTile {
    fn from(record: TileRecord) -> Self {
        Self { id: record.id.clone(), status: record.status().to_owned(), record }
    }
}

pub(crate) fn rule_problem(rule: RuleBroken) -> Problem {
    let (status, kind) = match rule {
        RuleBroken::SameOfficial => (StatusCode::FORBIDDEN, "four-eyes"),
        RuleBroken::NoSuchVersion(_) => (StatusCode::UNPROCESSABLE_ENTITY, "no-such-version"),
        RuleBroken::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid-definition"),
        RuleBroken::NeverPublished(_) | RuleBroken::NotPending(_) => (StatusCode::CONFLICT, "not-allowed-now"),
    };
    if status == StatusCode::UNPROCESSABLE_ENTITY {
        return Problem::validation(vec![FieldViolation::new("version", rule.to_string())]);
    }
    Problem::new(status, kind, "Not allowed").with_detail(rule.to_string())
}

/// Saves a changed record; a concurrent change is 409.
pub(crate) async fn save(tiles: &Tiles, record: &TileRecord, etag: Option<&ETag>) -> Result<(), Problem> {
    modeller::save(tiles, record, etag).await.map_err(|error| match error {
        TilesError::Contended => Problem::from(TilesError::Contended),
        other => Problem::from(other),
    })
}
