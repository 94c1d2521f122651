//! The tile modeller (Modeler dlaždic): officials of a portal manage tile
//! definitions.
//!
//! - A tile's **record** (partition [`RECORDS`], id `tile-<id>`) holds every
//!   version of its definition; each change is a new version with its diff
//!   from the one before (RFC 6902, `json-patch`), who made it and when.
//!   Built-in tiles (the seed's and the 36 cities) start as version 1 from
//!   the data files; a city whose portal URL is still `to confirm` starts as
//!   an unpublished draft with an empty URL.
//! - A draft may be incomplete; [`check`](crate::definition::check) says
//!   what is wrong, and only a version that passes may be published.
//! - **Four eyes**: one official asks for a version to be published, a
//!   second one approves it; the same official cannot approve their own
//!   request. Unpublishing hides the tile at once. A rollback makes a new
//!   version equal to an earlier *published* one and publishes it (it was
//!   approved by two officials before).
//! - Every action is written to the audit trail (partition [`AUDIT`]).
//!
//! The citizens' catalogue ([`catalogue`]) is every record's published
//! version, built-in tiles included.

use std::collections::BTreeMap;
use std::sync::Arc;

use portal_host::FieldViolation;
use portal_security::SubjectId;
use portal_store::{ETag, NewDocument, Order, Query, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::definition::{self, CheckRules, TileDefinition};
use crate::{COLLECTION, Tiles, TilesError};

/// The partition of the tiles' records.
pub const RECORDS: &str = "modeller";
/// The partition of the officials' actions.
pub const AUDIT: &str = "modeller-audit";
const RECORD_TYPE: &str = "tile-record";
/// Who made the built-in versions.
pub const SEED_AUTHOR: &str = "seed";

/// One version of a definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Version {
    pub version: u32,
    /// The definition as the official wrote it (a draft may be incomplete).
    pub definition: Value,
    /// RFC 6902 JSON Patch from the version before (empty for the first).
    pub diff: Value,
    /// The official's subject id, or `seed`.
    pub created_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// `create`, `edit` or `rollback to N`.
    pub note: String,
}

/// A request to publish a version, waiting for a second official.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PendingPublication {
    pub version: u32,
    pub requested_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub requested_at: OffsetDateTime,
}

/// Every version of a tile and what is published.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TileRecord {
    pub id: String,
    pub built_in: bool,
    pub versions: Vec<Version>,
    /// The version citizens see; none when unpublished.
    pub published: Option<u32>,
    /// Every version that was ever published (a rollback may return to one).
    pub published_history: Vec<u32>,
    pub pending: Option<PendingPublication>,
}

impl TileRecord {
    pub fn latest(&self) -> Option<&Version> {
        self.versions.last()
    }

    pub fn version(&self, n: u32) -> Option<&Version> {
        self.versions.iter().find(|v| v.version == n)
    }

    fn next_version(&self) -> u32 {
        self.latest().map_or(1, |v| v.version + 1)
    }

    /// The published definition, when it parses.
    pub fn published_definition(&self) -> Option<TileDefinition> {
        let version = self.version(self.published?)?;
        serde_json::from_value(version.definition.clone()).ok()
    }

    /// `published` (the latest version is live), `draft` (a newer version
    /// is not), or `unpublished`.
    pub fn status(&self) -> &'static str {
        match (self.published, self.latest()) {
            (Some(p), Some(latest)) if p == latest.version => "published",
            (Some(_), _) => "draft",
            (None, _) => "unpublished",
        }
    }

    fn push(&mut self, definition: Value, by: &str, at: OffsetDateTime, note: String) -> u32 {
        let diff = match self.latest() {
            Some(previous) => serde_json::to_value(json_patch::diff(&previous.definition, &definition)),
            None => Ok(Value::Array(Vec::new())),
        }
        .unwrap_or(Value::Array(Vec::new()));
        let version = self.next_version();
        self.versions.push(Version { version, definition, diff, created_by: by.to_owned(), created_at: at, note });
        version
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredRecord {
    #[serde(rename = "type")]
    doc_type: String,
    #[serde(flatten)]
    record: TileRecord,
}

fn record_id(tile: &str) -> String {
    format!("tile-{tile}")
}

/// The built-in record of a tile id, if the id is built in.
pub fn built_in_record(id: &str) -> Option<TileRecord> {
    let at = OffsetDateTime::UNIX_EPOCH;
    if let Some(tile) = definition::seed_tiles().iter().find(|t| t.id == id) {
        let definition = serde_json::to_value(tile).ok()?;
        return Some(TileRecord {
            id: id.to_owned(),
            built_in: true,
            versions: vec![Version {
                version: 1,
                definition,
                diff: Value::Array(Vec::new()),
                created_by: SEED_AUTHOR.into(),
                created_at: at,
                note: "data/tiles.json".into(),
            }],
            published: Some(1),
            published_history: vec![1],
            pending: None,
        });
    }
    let city = definition::cities().iter().find(|c| definition::city_tile_id(c) == id)?;
    let sourced = city.url.is_some();
    let mut tile = definition::city_tile(city).or_else(|| {
        let with_url = definition::City { url: Some(String::new()), ..city.clone() };
        definition::city_tile(&with_url)
    })?;
    if !sourced {
        tile.url = String::new();
    }
    Some(TileRecord {
        id: id.to_owned(),
        built_in: true,
        versions: vec![Version {
            version: 1,
            definition: serde_json::to_value(tile).ok()?,
            diff: Value::Array(Vec::new()),
            created_by: SEED_AUTHOR.into(),
            created_at: at,
            note: format!("data/cities.json (URL: {})", city.url_source),
        }],
        published: sourced.then_some(1),
        published_history: if sourced { vec![1] } else { Vec::new() },
        pending: None,
    })
}

/// Every built-in tile id: the seed's, then every city.
fn built_in_ids() -> Vec<String> {
    definition::seed_tiles()
        .iter()
        .map(|t| t.id.clone())
        .chain(definition::cities().iter().map(definition::city_tile_id))
        .collect()
}

async fn stored_records(tiles: &Tiles) -> Result<BTreeMap<String, TileRecord>, TilesError> {
    let mut records = BTreeMap::new();
    let mut continuation = None;
    loop {
        let page =
            tiles.documents.query(COLLECTION, RECORDS, Query::default().page_size(200).after(continuation)).await?;
        for doc in page.items {
            let stored: StoredRecord =
                serde_json::from_value(doc.body).map_err(|e| TilesError::Corrupt(format!("{}: {e}", doc.id)))?;
            records.insert(stored.record.id.clone(), stored.record);
        }
        match page.continuation {
            Some(next) => continuation = Some(next),
            None => return Ok(records),
        }
    }
}

/// Every tile's record: stored ones over the built-in ones, built-in first
/// in their order, then the officials' new tiles by id.
pub async fn all_records(tiles: &Tiles) -> Result<Vec<TileRecord>, TilesError> {
    let mut stored = stored_records(tiles).await?;
    let mut all = Vec::new();
    for id in built_in_ids() {
        match stored.remove(&id) {
            Some(record) => all.push(record),
            None => all.extend(built_in_record(&id)),
        }
    }
    all.extend(stored.into_values());
    Ok(all)
}

/// What citizens may choose from: every published definition, kept in
/// this instance's memory for [`crate::TilesSettings::catalogue_for`] (see
/// [`crate::memory`]).
pub async fn catalogue(tiles: &Tiles) -> Result<Arc<Vec<TileDefinition>>, TilesError> {
    let ticket = match tiles.memory.catalogue(tiles.settings.catalogue_for) {
        Ok(kept) => return Ok(kept),
        Err(ticket) => ticket,
    };
    let read: Arc<Vec<TileDefinition>> =
        Arc::new(all_records(tiles).await?.iter().filter_map(TileRecord::published_definition).collect());
    tiles.memory.keep_catalogue(ticket, read.clone());
    Ok(read)
}

/// A tile's record and its ETag (`None` when it is built in and never changed).
pub async fn load(tiles: &Tiles, id: &str) -> Result<Option<(TileRecord, Option<ETag>)>, TilesError> {
    if let Some(doc) = tiles.documents.get(COLLECTION, RECORDS, &record_id(id)).await? {
        let stored: StoredRecord =
            serde_json::from_value(doc.body).map_err(|e| TilesError::Corrupt(format!("{}: {e}", doc.id)))?;
        return Ok(Some((stored.record, Some(doc.etag))));
    }
    Ok(built_in_record(id).map(|record| (record, None)))
}

/// Writes a record under its ETag (creates it when it was built in only).
pub async fn save(tiles: &Tiles, record: &TileRecord, etag: Option<&ETag>) -> Result<(), TilesError> {
    let body = serde_json::to_value(StoredRecord { doc_type: RECORD_TYPE.into(), record: record.clone() })
        .map_err(|e| TilesError::Corrupt(e.to_string()))?;
    let doc = NewDocument::new(RECORDS, record_id(&record.id), body);
    let written = match etag {
        Some(etag) => tiles.documents.replace(COLLECTION, doc, etag).await,
        None => tiles.documents.create(COLLECTION, doc).await,
    };
    // Whatever came of the write, this instance reads the catalogue again.
    tiles.memory.forget_catalogue();
    match written {
        Ok(_) => Ok(()),
        Err(StoreError::PreconditionFailed | StoreError::Conflict) => Err(TilesError::Contended),
        Err(error) => Err(error.into()),
    }
}

/// A new record for a new tile, version 1.
pub fn new_record(definition: Value, by: &str, at: OffsetDateTime) -> Option<TileRecord> {
    let id = definition.get("id")?.as_str()?.to_owned();
    let mut record = TileRecord {
        id,
        built_in: false,
        versions: Vec::new(),
        published: None,
        published_history: Vec::new(),
        pending: None,
    };
    record.push(definition, by, at, "create".into());
    Some(record)
}

/// A new version from an edit; `None` when it changes nothing.
pub fn edit(record: &mut TileRecord, definition: Value, by: &str, at: OffsetDateTime) -> Option<u32> {
    if record.latest().is_some_and(|latest| latest.definition == definition) {
        return None;
    }
    Some(record.push(definition, by, at, "edit".into()))
}

/// A new version equal to published version `to`, published at once.
pub fn rollback(record: &mut TileRecord, to: u32, by: &str, at: OffsetDateTime) -> Result<u32, RuleBroken> {
    if !record.published_history.contains(&to) {
        return Err(RuleBroken::NeverPublished(to));
    }
    let definition = record.version(to).ok_or(RuleBroken::NoSuchVersion(to))?.definition.clone();
    let version = record.push(definition, by, at, format!("rollback to {to}"));
    record.published = Some(version);
    record.published_history.push(version);
    record.pending = None;
    Ok(version)
}

/// Why a modeller action is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleBroken {
    #[error("version {0} does not exist")]
    NoSuchVersion(u32),
    #[error("version {0} was never published")]
    NeverPublished(u32),
    #[error("no publication of version {0} is waiting for approval")]
    NotPending(u32),
    #[error("the official who asked to publish cannot approve it too (four eyes)")]
    SameOfficial,
    #[error("version {0} does not pass the checks")]
    Invalid(u32),
}

/// Asks for `version` to be published: it must pass the checks.
pub fn request_publication(
    record: &mut TileRecord,
    version: u32,
    rules: &CheckRules<'_>,
    by: &str,
    at: OffsetDateTime,
) -> Result<(), Result<RuleBroken, Vec<FieldViolation>>> {
    let definition = &record.version(version).ok_or(Ok(RuleBroken::NoSuchVersion(version)))?.definition;
    definition::check(definition, rules).map_err(Err)?;
    record.pending = Some(PendingPublication { version, requested_by: by.to_owned(), requested_at: at });
    Ok(())
}

/// A second official approves the waiting publication of `version`.
pub fn approve(record: &mut TileRecord, version: u32, by: &str) -> Result<(), RuleBroken> {
    let pending = record.pending.as_ref().filter(|p| p.version == version).ok_or(RuleBroken::NotPending(version))?;
    if pending.requested_by == by {
        return Err(RuleBroken::SameOfficial);
    }
    record.published = Some(version);
    if !record.published_history.contains(&version) {
        record.published_history.push(version);
    }
    record.pending = None;
    Ok(())
}

/// One entry of the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The official's subject id.
    pub official: String,
    /// `create`, `edit`, `validate`, `preview`, `request-publication`,
    /// `approve`, `unpublish`, `rollback`, or a refusal (`…-refused`).
    pub action: String,
    pub tile: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredAudit {
    #[serde(rename = "type")]
    doc_type: String,
    #[serde(flatten)]
    entry: AuditEntry,
    at_nanos: i64,
}

/// Appends an audit entry.
pub async fn audit(
    tiles: &Tiles,
    official: &SubjectId,
    action: &str,
    tile: &str,
    version: Option<u32>,
    detail: Option<String>,
) -> Result<(), TilesError> {
    let at = tiles.clock.now();
    let at_nanos = i64::try_from(at.unix_timestamp_nanos()).unwrap_or(i64::MAX);
    let entry = AuditEntry {
        at,
        official: official.as_str().to_owned(),
        action: action.into(),
        tile: tile.into(),
        version,
        detail,
    };
    let id = format!("{at_nanos:020}-{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let body = serde_json::to_value(StoredAudit { doc_type: "tile-audit".into(), entry, at_nanos })
        .map_err(|e| TilesError::Corrupt(e.to_string()))?;
    tiles.documents.create(COLLECTION, NewDocument::new(AUDIT, id, body)).await?;
    Ok(())
}

/// The newest audit entries first.
pub async fn audit_page(
    tiles: &Tiles,
    page_size: u32,
    continuation: Option<String>,
) -> Result<(Vec<AuditEntry>, Option<String>), TilesError> {
    let query = Query::default().order_by("atNanos", Order::Descending).page_size(page_size).after(continuation);
    let page = tiles.documents.query(COLLECTION, AUDIT, query).await?;
    let entries = page
        .items
        .into_iter()
        .map(|doc| serde_json::from_value::<StoredAudit>(doc.body).map(|s| s.entry))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TilesError::Corrupt(format!("audit: {e}")))?;
    Ok((entries, page.continuation))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::datetime;

    const AT: OffsetDateTime = datetime!(2026-11-23 08:00 UTC);

    #[test]
    fn versions_carry_their_diff_and_four_eyes_hold() {
        let mut record = new_record(json!({"id": "nova", "url": "https://a.gov.cz/"}), "A", AT).expect("record");
        assert_eq!(edit(&mut record, json!({"id": "nova", "url": "https://a.gov.cz/"}), "A", AT), None);
        assert_eq!(edit(&mut record, json!({"id": "nova", "url": "https://b.gov.cz/"}), "A", AT), Some(2));
        assert_eq!(
            record.version(2).expect("v2").diff,
            json!([{"op": "replace", "path": "/url", "value": "https://b.gov.cz/"}])
        );
        record.pending = Some(PendingPublication { version: 2, requested_by: "A".into(), requested_at: AT });
        assert_eq!(approve(&mut record, 2, "A"), Err(RuleBroken::SameOfficial));
        assert_eq!(approve(&mut record, 1, "B"), Err(RuleBroken::NotPending(1)));
        assert_eq!(record.published, None);
        assert_eq!(approve(&mut record, 2, "B"), Ok(()));
        assert_eq!((record.published, record.status()), (Some(2), "published"));
        assert_eq!(rollback(&mut record, 1, "A", AT), Err(RuleBroken::NeverPublished(1)));
        edit(&mut record, json!({"id": "nova", "url": "https://c.gov.cz/"}), "A", AT);
        assert_eq!(record.status(), "draft");
        assert_eq!(rollback(&mut record, 2, "A", AT), Ok(4));
        assert_eq!(record.published, Some(4));
        assert_eq!(record.version(4).expect("v4").definition["url"], "https://b.gov.cz/");
    }

    #[test]
    fn cities_to_confirm_are_drafts_without_a_url() {
        let brno = built_in_record("mesto-582786").expect("Brno");
        assert_eq!((brno.published, brno.versions[0].definition["url"].as_str()), (None, Some("")));
        let znojmo = built_in_record("mesto-593711").expect("Znojmo");
        assert_eq!(znojmo.published, Some(1));
        assert_eq!(built_in_record("cssz").expect("cssz").status(), "published");
    }
}
