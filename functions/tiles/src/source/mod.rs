//! The `TileSource` port: one portal's summary of what it holds for a
//! citizen, in the one tile-summary protocol (`docs/tile-summary-api.yaml`).
//!
//! - [`http::HttpTileSource`] is the production adapter (HTTPS JSON with
//!   mutual TLS), and in local mode the same adapter sends its requests in
//!   process through a simulator's router;
//! - [`simulator`] has a deterministic simulator per portal with data for
//!   every demo citizen, every answer marked `simulated`.

pub mod http;
pub mod simulator;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use portal_security::SubjectId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// How a line of a summary reads: good news, plain, needs attention, bad news.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Tone {
    Positive,
    Neutral,
    Warning,
    Negative,
}

/// One line of a summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SummaryItem {
    pub label: String,
    pub value: String,
    pub tone: Tone,
}

/// Something the citizen should be told once (arrears appeared, a sick leave
/// ended, a prescription is about to expire). `key` names the fact: the same
/// fact keeps its key, so it is told once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Alert {
    pub key: String,
    pub text: String,
}

/// A portal's summary for one citizen (`Summary` of the protocol).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// One line for the tile, Czech.
    pub headline: String,
    #[serde(default)]
    pub items: Vec<SummaryItem>,
    #[serde(default)]
    pub alerts: Vec<Alert>,
    /// True when a simulator produced it; shown to the citizen.
    #[serde(default)]
    pub simulated: bool,
}

/// Why a source gave no summary.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The source holds nothing for this citizen (404).
    #[error("the source holds nothing for this citizen")]
    NoRecord,
    /// Could not connect, timed out, or answered 5xx/429: may pass.
    #[error("the source is unavailable: {0}")]
    Unavailable(String),
    /// Answered something outside the contract.
    #[error("the source broke the contract: {0}")]
    Contract(String),
    /// The adapter's configuration is unusable.
    #[error("the source's configuration is unusable: {0}")]
    Invalid(String),
}

/// One portal's summaries.
#[async_trait]
pub trait TileSource: Send + Sync + fmt::Debug {
    /// The citizen's summary. `request_id` travels as `X-Request-Id`.
    async fn summary(&self, subject: &SubjectId, request_id: &str) -> Result<Summary, SourceError>;
}

/// A configured source: the adapter with its timeout and cache time.
#[derive(Debug, Clone)]
pub struct ConfiguredSource {
    pub id: String,
    pub adapter: Arc<dyn TileSource>,
    /// Per call; a call may go on after the dashboard's budget (its answer
    /// then refreshes the cache for the next view).
    pub timeout: Duration,
    /// A summary younger than this is shown without asking again.
    pub cache_for: Duration,
    /// Whether a simulator answers (shown to the citizen).
    pub simulated: bool,
}

impl ConfiguredSource {
    pub fn new(id: impl Into<String>, adapter: Arc<dyn TileSource>) -> Self {
        Self {
            id: id.into(),
            adapter,
            timeout: Duration::from_millis(700),
            cache_for: Duration::from_secs(300),
            simulated: false,
        }
    }

    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    #[must_use]
    pub fn with_cache_for(mut self, cache_for: Duration) -> Self {
        self.cache_for = cache_for;
        self
    }

    #[must_use]
    pub fn simulated(mut self) -> Self {
        self.simulated = true;
        self
    }
}
