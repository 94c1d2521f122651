//! What the tiles keep about one citizen, in ONE document sealed under the
//! citizen's key (`personal` in the citizen's partition of
//! [`crate::COLLECTION`]): the cached summaries by source, the sources that
//! hold nothing for the citizen (also cached), and the facts
//! other capabilities told about the citizen (entrepreneur, has a data box)
//! for the visibility rules. A cached view of the dashboard so opens one
//! document and makes one decryption, whatever the number of tiles.
//!
//! Writers (a summary fetched, a fact recorded) read, change and write the
//! document under its ETag and start again when another writer came first;
//! on one instance they also queue on a lock per citizen
//! ([`crate::InstanceMemory`]), so the thirteen fetches of a first view do
//! not keep overtaking each other. Erasure deletes the document with the
//! partition; a writer that comes after the key was shredded cannot seal.

use std::collections::BTreeMap;

use base64::Engine as _;
use portal_store::{ETag, NewDocument, StoreError};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::definition::CitizenFacts;
use crate::source::Summary;
use crate::{COLLECTION, Tiles, TilesError};

/// The document's id in the citizen's partition.
pub const PERSONAL_ID: &str = "personal";
/// Its `type`.
pub const PERSONAL_TYPE: &str = "tile-personal";
/// The sealed field (part of the seal's associated data).
pub const SEALED_FIELD: &str = "personal";
/// How often a writer starts again after another writer came first.
const ATTEMPTS: usize = 16;

/// A summary as cached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CachedSummary {
    pub summary: Summary,
    #[serde(with = "time::serde::rfc3339")]
    pub fetched_at: OffsetDateTime,
}

/// When a source answered that it holds nothing for the citizen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NoRecord {
    #[serde(with = "time::serde::rfc3339")]
    pub asked_at: OffsetDateTime,
}

/// One fact as last observed by the capability that knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Observed {
    pub holds: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// The facts other capabilities told the tiles.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KnownFacts {
    /// From the register of persons (ROS), through registers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrepreneur: Option<Observed>,
    /// From the data box.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_data_box: Option<Observed>,
}

/// Which of the [`KnownFacts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactKind {
    Entrepreneur,
    HasDataBox,
}

impl KnownFacts {
    /// Fills what `facts` does not know from these facts.
    pub fn complete(&self, facts: &mut CitizenFacts) {
        if facts.entrepreneur.is_none() {
            facts.entrepreneur = self.entrepreneur.map(|o| o.holds);
        }
        if facts.has_data_box.is_none() {
            facts.has_data_box = self.has_data_box.map(|o| o.holds);
        }
    }

    fn slot(&mut self, kind: FactKind) -> &mut Option<Observed> {
        match kind {
            FactKind::Entrepreneur => &mut self.entrepreneur,
            FactKind::HasDataBox => &mut self.has_data_box,
        }
    }

    /// Keeps `observed` unless a newer observation is held; whether it changed anything.
    pub fn observe(&mut self, kind: FactKind, observed: Observed) -> bool {
        let slot = self.slot(kind);
        if slot.is_some_and(|held| held.at > observed.at || held == observed) {
            return false;
        }
        *slot = Some(observed);
        true
    }
}

/// Everything the tiles keep about one citizen.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Personal {
    /// By source id.
    #[serde(default)]
    pub summaries: BTreeMap<String, CachedSummary>,
    /// By source id: the sources that hold nothing for the citizen, cached
    /// like a summary (the tile is a link without asking again).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub no_record: BTreeMap<String, NoRecord>,
    #[serde(default)]
    pub facts: KnownFacts,
}

#[derive(Debug, Serialize, Deserialize)]
struct Stored {
    #[serde(rename = "type")]
    doc_type: String,
    /// Base64 of the sealed [`Personal`] JSON.
    sealed: String,
}

impl Tiles {
    /// The citizen's document opened, and its ETag (`None`: nothing held yet).
    pub async fn load_personal(&self, owner: &str) -> Result<(Personal, Option<ETag>), TilesError> {
        let Some(doc) = self.documents.get(COLLECTION, owner, PERSONAL_ID).await? else {
            return Ok((Personal::default(), None));
        };
        Ok((self.open_personal(owner, doc.body).await?, Some(doc.etag)))
    }

    async fn open_personal(&self, owner: &str, body: serde_json::Value) -> Result<Personal, TilesError> {
        let stored: Stored =
            serde_json::from_value(body).map_err(|e| TilesError::Corrupt(format!("{PERSONAL_ID}: {e}")))?;
        let sealed = base64::engine::general_purpose::STANDARD
            .decode(stored.sealed)
            .map_err(|_| TilesError::Corrupt(format!("{PERSONAL_ID}: sealed")))?;
        let plain = self.sealer.decrypt(owner, PERSONAL_ID, SEALED_FIELD, &sealed).await?;
        serde_json::from_slice(&plain).map_err(|e| TilesError::Corrupt(format!("{PERSONAL_ID}: {e}")))
    }

    /// Applies `change` to the citizen's document and writes it sealed,
    /// unless `change` says it changed nothing. Starts again from a fresh
    /// read when another writer came first.
    pub async fn update_personal(&self, owner: &str, change: impl Fn(&mut Personal) -> bool) -> Result<(), TilesError> {
        let _turn = self.memory.writer_turn(owner).await;
        for _ in 0..ATTEMPTS {
            let (mut personal, etag) = match self.documents.get(COLLECTION, owner, PERSONAL_ID).await? {
                None => (Personal::default(), None),
                Some(doc) => match self.open_personal(owner, doc.body).await {
                    Ok(personal) => (personal, Some(doc.etag)),
                    // A cache that does not parse is written anew, not kept broken.
                    Err(TilesError::Corrupt(what)) => {
                        tracing::warn!(what = %what, "the citizen's sealed tiles document is malformed; replacing it");
                        (Personal::default(), Some(doc.etag))
                    }
                    Err(error) => return Err(error),
                },
            };
            if !change(&mut personal) {
                return Ok(());
            }
            let plain = serde_json::to_vec(&personal).map_err(|e| TilesError::Corrupt(e.to_string()))?;
            let sealed = self.sealer.encrypt(owner, PERSONAL_ID, SEALED_FIELD, &plain).await?;
            let body = Stored {
                doc_type: PERSONAL_TYPE.into(),
                sealed: base64::engine::general_purpose::STANDARD.encode(sealed),
            };
            let body = serde_json::to_value(body).map_err(|e| TilesError::Corrupt(e.to_string()))?;
            let doc = NewDocument::new(owner, PERSONAL_ID, body);
            let written = match &etag {
                Some(etag) => self.documents.replace(COLLECTION, doc, etag).await.map(drop),
                None => self.documents.create(COLLECTION, doc).await.map(drop),
            };
            match written {
                Ok(()) => return Ok(()),
                Err(StoreError::PreconditionFailed | StoreError::Conflict) => {}
                Err(error) => return Err(error.into()),
            }
        }
        Err(TilesError::Contended)
    }

    /// Caches `summary` from `source`, fetched now.
    pub async fn store_summary(&self, owner: &str, source: &str, summary: &Summary) -> Result<(), TilesError> {
        let cached = CachedSummary { summary: summary.clone(), fetched_at: self.clock.now() };
        self.update_personal(owner, |personal| {
            personal.no_record.remove(source);
            personal.summaries.insert(source.to_owned(), cached.clone());
            true
        })
        .await
    }

    /// Caches that `source` holds nothing for the citizen (asked now); a
    /// summary it gave before is dropped, it no longer holds it.
    pub async fn store_no_record(&self, owner: &str, source: &str) -> Result<(), TilesError> {
        let asked = NoRecord { asked_at: self.clock.now() };
        self.update_personal(owner, |personal| {
            personal.summaries.remove(source);
            personal.no_record.insert(source.to_owned(), asked);
            true
        })
        .await
    }

    /// Records a fact about the citizen observed at `at`, unless a newer
    /// observation is already held.
    pub async fn record_fact(&self, owner: &str, kind: FactKind, observed: Observed) -> Result<(), TilesError> {
        self.update_personal(owner, |personal| personal.facts.observe(kind, observed)).await
    }

    /// The citizen's facts for the visibility rules (see [`Tiles::facts_with`]).
    pub async fn citizen_facts(&self, subject: &portal_security::SubjectId) -> Result<CitizenFacts, TilesError> {
        let (personal, _) = self.load_personal(subject.as_str()).await?;
        self.facts_with(subject, &personal.facts).await
    }

    /// The citizen's facts for the visibility rules: those of the
    /// [`crate::FactsSource`] (the profile), completed by the ones other
    /// capabilities told the tiles.
    pub async fn facts_with(
        &self,
        subject: &portal_security::SubjectId,
        known: &KnownFacts,
    ) -> Result<CitizenFacts, TilesError> {
        let mut facts = self.facts.facts(subject).await?;
        known.complete(&mut facts);
        Ok(facts)
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn the_newest_observation_wins_whatever_the_order_of_arrival() {
        let mut facts = KnownFacts::default();
        let linked = Observed { holds: true, at: datetime!(2026-12-01 10:00 UTC) };
        let unlinked = Observed { holds: false, at: datetime!(2026-12-02 10:00 UTC) };
        assert!(facts.observe(FactKind::HasDataBox, unlinked));
        assert!(!facts.observe(FactKind::HasDataBox, linked), "an older observation arrived late");
        assert!(!facts.observe(FactKind::HasDataBox, unlinked), "the same observation again changes nothing");
        assert_eq!(facts.has_data_box, Some(unlinked));
        assert_eq!(facts.entrepreneur, None);

        let mut citizen = CitizenFacts { entrepreneur: Some(true), ..CitizenFacts::default() };
        assert!(facts.observe(FactKind::Entrepreneur, Observed { holds: false, at: linked.at }));
        facts.complete(&mut citizen);
        assert_eq!(citizen.entrepreneur, Some(true), "what the profile knows stays");
        assert_eq!(citizen.has_data_box, Some(false), "the rest comes from the facts told");
    }
}
