//! Tiles' part of the citizen's export (`portal_security::export`):
//! - `dashboard.json`: the citizen's choice and order of tiles
//!   (`chosen: false` and no list when they never chose: the dashboard then
//!   shows every tile they may see) and when they last changed it;
//! - `summaries.json`: every summary the portal keeps cached for them, by
//!   source, opened from its seal, with when it was fetched;
//! - `facts.json`: what other capabilities told the tiles about them for the
//!   visibility rules (entrepreneur, has a data box), with when it was
//!   observed;
//! - `no-record.json`: the portals that said they hold nothing for them,
//!   with when they were asked.
//!
//! Those are the only documents in the citizen's partition (see the crate's
//! documentation): the sealed `personal` document, `layout`, and summaries
//! cached one document each (`summary-<source>`) before `personal` held
//! them, which stay (and are exported) until erasure deletes the partition. The alerts a summary raised are notices in the inbox,
//! exported in the notifications' part; the tile catalogue and the
//! modeller's records are not about the citizen.
//!
//! Like every source it only reads: the export as a whole is in the access
//! log (requested, downloaded), so this part writes no line of its own and
//! a rebuilt archive is the same archive.

use base64::Engine as _;
use portal_security::SubjectId;
use portal_security::export::{ExportError, ExportFuture, ExportPart, ExportSource};
use portal_store::{FilterOp, Query};
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::personal::KnownFacts;
use crate::source::Summary;
use crate::{COLLECTION, Tiles, TilesError, layout};

/// The document type and sealed field of a summary cached in a document of
/// its own (`summary-<source>`, field `summary`), as the dashboard wrote
/// them before [`crate::personal`].
const LEGACY_TYPE: &str = "tile-summary";
const LEGACY_FIELD: &str = "summary";

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ExportedDashboard {
    chosen: bool,
    tiles: Option<Vec<String>>,
    updated_at: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ExportedSummary {
    source: String,
    fetched_at: String,
    summary: Summary,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ExportedNoRecord {
    source: String,
    asked_at: String,
}

fn corrupt(what: &str, error: impl std::fmt::Display) -> TilesError {
    TilesError::Corrupt(format!("{what}: {error}"))
}

impl ExportSource for Tiles {
    fn name(&self) -> &'static str {
        "tiles"
    }

    fn export<'a>(&'a self, subject: &'a SubjectId) -> ExportFuture<'a> {
        Box::pin(async move {
            let (dashboard, summaries, facts, no_record) =
                self.export_parts(subject).await.map_err(|error| ExportError::of(&error))?;
            Ok(vec![
                ExportPart::json("dashboard.json", &dashboard)?,
                ExportPart::json("summaries.json", &summaries)?,
                ExportPart::json("facts.json", &facts)?,
                ExportPart::json("no-record.json", &no_record)?,
            ])
        })
    }
}

impl Tiles {
    async fn export_parts(
        &self,
        subject: &SubjectId,
    ) -> Result<(ExportedDashboard, Vec<ExportedSummary>, KnownFacts, Vec<ExportedNoRecord>), TilesError> {
        let owner = subject.as_str();
        let chosen = layout::load(self, subject).await?;
        let updated_at = match &chosen {
            Some(_) => self.documents.get(COLLECTION, owner, layout::LAYOUT_ID).await?.and_then(|doc| {
                let at = OffsetDateTime::from_unix_timestamp(doc.body["updatedAt"].as_i64()?).ok()?;
                at.format(&Rfc3339).ok()
            }),
            None => None,
        };
        let dashboard = ExportedDashboard { chosen: chosen.is_some(), tiles: chosen, updated_at };
        let (personal, _) = self.load_personal(owner).await?;
        let no_record = personal
            .no_record
            .iter()
            .map(|(source, none)| ExportedNoRecord {
                source: source.clone(),
                asked_at: none.asked_at.format(&Rfc3339).unwrap_or_default(),
            })
            .collect();
        let mut summaries: Vec<ExportedSummary> = personal
            .summaries
            .into_iter()
            .map(|(source, cached)| ExportedSummary {
                source,
                fetched_at: cached.fetched_at.format(&Rfc3339).unwrap_or_default(),
                summary: cached.summary,
            })
            .collect();
        let mut continuation = None;
        loop {
            let query =
                Query::default().filter("type", FilterOp::Eq, LEGACY_TYPE).page_size(100).after(continuation.take());
            let page = self.documents.query(COLLECTION, owner, query).await?;
            for doc in page.items {
                let source = doc.body["source"].as_str().unwrap_or_default().to_owned();
                if summaries.iter().any(|held| held.source == source) {
                    continue;
                }
                let fetched_at = doc.body["fetchedAt"].as_str().unwrap_or_default().to_owned();
                let sealed = base64::engine::general_purpose::STANDARD
                    .decode(doc.body["sealed"].as_str().unwrap_or_default())
                    .map_err(|error| corrupt(&doc.id, error))?;
                let plain = self.sealer.decrypt(owner, &doc.id, LEGACY_FIELD, &sealed).await?;
                let summary = serde_json::from_slice(&plain).map_err(|error| corrupt(&doc.id, error))?;
                summaries.push(ExportedSummary { source, fetched_at, summary });
            }
            match page.continuation {
                Some(next) => continuation = Some(next),
                None => break,
            }
        }
        summaries.sort_by(|a, b| a.source.cmp(&b.source));
        Ok((dashboard, summaries, personal.facts, no_record))
    }
}
