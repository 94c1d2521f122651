//! The citizen's choice and order of tiles ("přidávání dlaždic"): document
//! `layout` in the citizen's partition, the tile ids in order. Without one,
//! the dashboard shows every tile the citizen may see, in catalogue order.
//! A chosen tile the citizen may no longer see (moved away, a tile
//! unpublished) is left out, not an error.

use portal_security::SubjectId;
use portal_store::NewDocument;
use serde_json::json;

use crate::definition::TileDefinition;
use crate::{COLLECTION, Tiles, TilesError};

pub const LAYOUT_ID: &str = "layout";
/// The most tiles one dashboard holds.
pub const MAX_TILES: usize = 100;

/// The citizen's chosen tile ids in order, if they chose.
pub async fn load(tiles: &Tiles, subject: &SubjectId) -> Result<Option<Vec<String>>, TilesError> {
    let Some(doc) = tiles.documents.get(COLLECTION, subject.as_str(), LAYOUT_ID).await? else { return Ok(None) };
    let ids = doc.body["tiles"]
        .as_array()
        .ok_or_else(|| TilesError::Corrupt("layout: tiles".into()))?
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    Ok(Some(ids))
}

pub async fn save(tiles: &Tiles, subject: &SubjectId, ids: &[String]) -> Result<(), TilesError> {
    let body = json!({"type": "tile-layout", "tiles": ids, "updatedAt": tiles.clock.now().unix_timestamp()});
    tiles.documents.upsert(COLLECTION, NewDocument::new(subject.as_str(), LAYOUT_ID, body), None).await?;
    Ok(())
}

/// The tiles to show: the chosen ones in their order (those still visible),
/// or every visible tile.
pub fn arrange(chosen: Option<&[String]>, visible: Vec<TileDefinition>) -> Vec<TileDefinition> {
    match chosen {
        None => visible,
        Some(ids) => ids.iter().filter_map(|id| visible.iter().find(|t| &t.id == id).cloned()).collect(),
    }
}
