//! The `tiles` capability (dlaždice): the citizen's one dashboard over the
//! state's other portals, and the tile modeller (Modeler dlaždic) for
//! officials.
//!
//! - [`definition`]: what a tile is, the seed's tiles and the 36 city
//!   portals (data files in `data/`), the JSON Schema and the other checks;
//! - [`source`]: the `TileSource` port, its production adapter (HTTPS JSON
//!   with mutual TLS, `docs/tile-summary-api.yaml`) and the simulators;
//! - [`dashboard`]: every source called in parallel within one budget, with
//!   per-source timeouts, a [`breaker`] per source and stale-while-revalidate
//!   caching sealed under the citizen's key; a summary change that matters
//!   becomes one notification;
//! - [`modeller`]: drafts, versions with diffs, checks, preview, four-eyes
//!   publishing, unpublishing, rollback, an audit trail.
//!
//! Collection [`COLLECTION`]: in the citizen's partition `personal` (the
//! cached summaries and the facts other capabilities told, sealed together,
//! [`personal`]) and `layout` (their choice and order of tiles); in
//! partition [`modeller::RECORDS`] one record per tile the modeller changed,
//! in [`modeller::AUDIT`] the officials' actions. `EraseTilesData` (queue
//! `erase-tiles`) deletes the citizen's partition.
//!
//! Facts about the citizen (age, municipality…) come through the
//! [`FactsSource`] port, which the composition implements from identity's
//! profile; whether they are an entrepreneur or have a data box arrives as
//! events from registers and the data box (`RecordCitizenFact`, queue
//! `citizen-facts`): this crate imports no other capability.

pub mod breaker;
pub mod dashboard;
pub mod definition;
pub mod export;
pub mod http;
pub mod layout;
pub mod memory;
pub mod modeller;
pub mod personal;
pub mod queue;
pub mod source;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::http::StatusCode;
use portal_crypto::{CryptoError, Sealer};
use portal_host::{Failure, Function, Problem, op};
use portal_security::{AccessLog, SubjectId};
use portal_store::{Clock, DocumentStore, QueueStore, StoreError};

pub use breaker::{BreakerSettings, Breakers};
pub use definition::{CitizenFacts, TileDefinition};
pub use memory::InstanceMemory;
pub use source::http::{HttpSourceConfig, HttpTileSource};
pub use source::{ConfiguredSource, SourceError, Summary, TileSource};

/// The collection holding everything of this capability.
pub const COLLECTION: &str = "tiles";

/// Why the facts could not be read.
#[derive(Debug, thiserror::Error)]
#[error("the citizen's facts could not be read")]
pub struct FactsError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

/// What visibility rules need to know about a citizen (age, municipality,
/// entrepreneur, data box), from outside this capability.
#[async_trait]
pub trait FactsSource: Send + Sync + std::fmt::Debug {
    async fn facts(&self, subject: &SubjectId) -> Result<CitizenFacts, FactsError>;
}

/// Facts nobody knows: every tile with a rule stays hidden.
#[derive(Debug, Default)]
pub struct NoFacts;

#[async_trait]
impl FactsSource for NoFacts {
    async fn facts(&self, _: &SubjectId) -> Result<CitizenFacts, FactsError> {
        Ok(CitizenFacts::default())
    }
}

/// Settings of the capability.
#[derive(Debug, Clone)]
pub struct TilesSettings {
    /// The dashboard answers within this, whatever the sources do.
    pub budget: Duration,
    /// Subject ids of the officials who use the modeller (at LoA high).
    pub officials: Vec<String>,
    /// Domains a tile may lead to.
    pub allowed_domains: Vec<String>,
    pub breaker: BreakerSettings,
    /// How long an instance keeps the published catalogue in memory (a
    /// change through another instance shows here within this).
    pub catalogue_for: Duration,
}

impl Default for TilesSettings {
    fn default() -> Self {
        Self {
            budget: Duration::from_millis(800),
            officials: Vec::new(),
            allowed_domains: definition::DEFAULT_ALLOWED_DOMAINS.iter().map(|d| (*d).to_owned()).collect(),
            breaker: BreakerSettings::default(),
            catalogue_for: Duration::from_secs(5),
        }
    }
}

/// The capability's dependencies.
#[derive(Debug, Clone)]
pub struct Tiles {
    pub documents: Arc<dyn DocumentStore>,
    pub queues: Arc<dyn QueueStore>,
    pub sealer: Sealer,
    pub access_log: AccessLog,
    pub clock: Arc<dyn Clock>,
    pub facts: Arc<dyn FactsSource>,
    /// The summary sources by id.
    pub sources: Arc<BTreeMap<String, ConfiguredSource>>,
    /// One breaker per source, shared by every request of this instance.
    pub breakers: Breakers,
    pub settings: TilesSettings,
    /// The summary calls still running after their dashboard answered.
    pub background: Background,
    /// The catalogue for a few seconds, the turns of the citizens' writers.
    pub memory: InstanceMemory,
}

/// Counts the summary calls left running past a dashboard's budget, so a
/// test (or a shutdown) can wait until they have cached their answers.
#[derive(Debug, Clone, Default)]
pub struct Background {
    running: Arc<std::sync::atomic::AtomicUsize>,
    idle: Arc<tokio::sync::Notify>,
}

/// Held by a running call; dropping it counts the call as finished.
#[derive(Debug)]
pub struct Running(Background);

impl Background {
    pub fn start(&self) -> Running {
        self.running.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Running(self.clone())
    }

    /// Waits until no call is running.
    pub async fn settled(&self) {
        loop {
            let idle = self.idle.notified();
            if self.running.load(std::sync::atomic::Ordering::SeqCst) == 0 {
                return;
            }
            idle.await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.0.running.fetch_sub(1, std::sync::atomic::Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl Tiles {
    /// Today in the Czech Republic.
    pub fn today(&self) -> time::Date {
        portal_host::prague::date(self.clock.now())
    }

    /// The ids of the configured sources.
    pub fn source_ids(&self) -> Vec<String> {
        self.sources.keys().cloned().collect()
    }
}

/// Every seed portal as a SIMULATOR served in process through the production
/// adapter, each with its switch (local mode, tests, the benchmark).
pub fn simulated_sources(
    clock: Arc<dyn Clock>,
    modes: &BTreeMap<String, source::simulator::Mode>,
) -> (Vec<ConfiguredSource>, BTreeMap<String, source::simulator::Switch>) {
    let mut sources = Vec::new();
    let mut switches = BTreeMap::new();
    for id in source::simulator::PORTALS {
        let switch = source::simulator::Switch::new(modes.get(*id).copied().unwrap_or(source::simulator::Mode::Normal));
        let router = source::simulator::router(id, clock.clone(), switch.clone());
        sources.push(ConfiguredSource::new(*id, Arc::new(HttpTileSource::in_process(router))).simulated());
        switches.insert((*id).to_owned(), switch);
    }
    (sources, switches)
}

/// What can go wrong inside the capability, below the HTTP edge.
#[derive(Debug, thiserror::Error)]
pub enum TilesError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    Facts(#[from] FactsError),
    /// A concurrent writer changed the same record first.
    #[error("the record was changed concurrently")]
    Contended,
    /// A stored document does not have the shape this code writes.
    #[error("a stored tiles document is malformed: {0}")]
    Corrupt(String),
}

impl Failure for TilesError {
    fn is_retryable(&self) -> bool {
        match self {
            Self::Store(error) => error.is_retryable(),
            Self::Crypto(error) => error.is_retryable(),
            Self::Facts(_) | Self::Contended => true,
            Self::Corrupt(_) => false,
        }
    }

    fn problem(&self) -> Problem {
        match self {
            Self::Contended => Problem::new(StatusCode::CONFLICT, "conflict", "Changed at the same time")
                .with_detail("reload and try again"),
            Self::Store(error) => error.problem(),
            Self::Crypto(error) => error.problem(),
            Self::Facts(_) => Problem::unavailable("the citizen's data"),
            Self::Corrupt(_) => Problem::internal(),
        }
    }
}

/// Every function of the capability: the dashboard, the catalogue, the
/// citizen's choice, the modeller's routes, `RecordCitizenFact` and
/// `EraseTilesData`.
pub fn functions(tiles: Tiles) -> Vec<Function> {
    let s = Arc::new(tiles);
    vec![
        Function::api(op!(http::dashboard)).with_state(s.clone()).build(),
        Function::api(op!(http::list_tiles)).with_state(s.clone()).build(),
        Function::api(op!(http::set_dashboard)).with_state(s.clone()).build(),
        Function::api(op!(http::admin_list)).with_state(s.clone()).build(),
        Function::api(op!(http::admin_create)).with_state(s.clone()).build(),
        Function::api(op!(http::admin_show)).with_state(s.clone()).build(),
        Function::api(op!(http::admin_edit)).with_state(s.clone()).build(),
        Function::api(op!(http::admin_validate)).with_state(s.clone()).build(),
        Function::api(op!(http::admin_preview)).with_state(s.clone()).build(),
        Function::api(op!(http::admin_request_publication)).with_state(s.clone()).build(),
        Function::api(op!(http::admin_approve)).with_state(s.clone()).build(),
        Function::api(op!(http::admin_unpublish)).with_state(s.clone()).build(),
        Function::api(op!(http::admin_rollback)).with_state(s.clone()).build(),
        Function::api(op!(http::admin_audit)).with_state(s.clone()).build(),
        queue::record_citizen_fact::function(s.clone()),
        queue::erase_tiles_data::function(s),
    ]
}
