//! The dashboard never waits for the slowest portal.
//!
//! For each tile on the citizen's dashboard with a summary source:
//! 1. a cached summary younger than the source's cache time is shown as it
//!    is (`fresh`, no call); so is a cached "nothing for this citizen" (`link`);
//! 2. otherwise, unless the source's [`crate::breaker`] is open, a task calls
//!    the source with the source's own timeout; the dashboard waits for it
//!    until one common deadline (the budget, 800 ms by default);
//! 3. an answer in time is `fresh`; no answer in time, a failure or an open
//!    breaker shows the cached summary as `cached` with its age, or
//!    `unavailable` with a Czech message when nothing is cached;
//! 4. a call still running at the deadline goes on (stale-while-revalidate):
//!    its answer refreshes the cache for the next view.
//!
//! Tiles without a source, and sources that hold nothing for the citizen,
//! are `link`s. A summary is personal data: it is cached sealed under the
//! citizen's key, all of one citizen's in one document
//! ([`crate::personal`]), and the summaries shown are one read in the
//! citizen's access log naming every source and its tile's purpose
//! (`AccessLog::record_reads`). An alert the previous summary did not have (arrears appeared, a
//! prescription is about to expire) is published once as a notice
//! (`tiles.alert`, id fixed by citizen, source and alert key).

use std::sync::Arc;

use portal_events::{Notice, TileAlert, publish_notice};
use portal_security::{AccessedItem, Actor, SubjectId};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio::sync::oneshot;
use utoipa::ToSchema;

use crate::breaker::Permit;
use crate::definition::{Texts, TileDefinition};
use crate::personal::{CachedSummary, NoRecord, Personal};
use crate::source::{ConfiguredSource, SourceError, Summary};
use crate::{Tiles, TilesError, layout, modeller};

/// What the citizen sees on a tile that simulated data fills.
pub const SIMULATED_NOTICE: &str = "SIMULACE: ukázková data, nejde o skutečné údaje.";

/// How a tile's content stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TileState {
    /// A summary fetched within the source's cache time.
    Fresh,
    /// An older summary, because the source did not answer in time now.
    Cached,
    /// No summary: the source did not answer and nothing is cached.
    Unavailable,
    /// A link to the portal, without a summary.
    Link,
}

/// One tile on the dashboard.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DashboardTile {
    pub id: String,
    pub title: Texts,
    pub description: Texts,
    pub category: String,
    pub icon: String,
    /// The portal (through the citizen's NIA single sign-on).
    pub url: String,
    pub state: TileState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<Summary>,
    /// When the summary was fetched (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fetched_at: Option<String>,
    /// The age of a `cached` summary, in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age_seconds: Option<u64>,
    /// Why there is no fresh summary, in Czech.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// True when a simulator filled the summary.
    pub simulated: bool,
    /// The label a simulated tile carries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub simulated_notice: Option<String>,
}

/// The citizen's dashboard.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Dashboard {
    pub tiles: Vec<DashboardTile>,
    /// The budget the sources had, in milliseconds.
    pub budget_ms: u64,
    /// Whether the citizen chose the tiles (else the default: every tile they may see).
    pub customised: bool,
}

/// What one tile's fetch came to.
enum Outcome {
    Fresh(CachedSummary),
    /// Nothing for this citizen at that portal.
    NoRecord,
    Failed(&'static str),
}

const MESSAGE_TIMEOUT: &str = "Služba teď neodpověděla včas. Zkuste to prosím za chvíli.";
const MESSAGE_FAILED: &str = "Služba je teď nedostupná. Zkuste to prosím později.";
const MESSAGE_OPEN: &str = "Služba je dočasně mimo provoz, znovu ji zkusíme za chvíli.";
const MESSAGE_NO_RECORD: &str = "Tato služba o vás nic neeviduje.";

/// Builds the citizen's dashboard. Fails only when the citizen's own data
/// (facts, layout, the access log) cannot be read or written; a source never
/// fails it.
pub async fn build(tiles: &Arc<Tiles>, subject: &SubjectId) -> Result<Dashboard, TilesError> {
    let deadline = tokio::time::Instant::now() + tiles.settings.budget;
    // The citizen's own data at once: the profile's facts, the one sealed
    // document (summaries and the facts told), the layout, the catalogue.
    let (facts, personal, chosen, catalogue) = tokio::join!(
        tiles.facts.facts(subject),
        personal_or_nothing(tiles, subject),
        layout::load(tiles, subject),
        modeller::catalogue(tiles),
    );
    let mut facts = facts?;
    personal.facts.complete(&mut facts);
    let today = tiles.today();
    let visible: Vec<TileDefinition> =
        catalogue?.iter().filter(|t| t.visibility.admits(&facts, today)).cloned().collect();
    let chosen = chosen?;
    let customised = chosen.is_some();
    let shown = layout::arrange(chosen.as_deref(), visible);
    let views = shown.iter().map(|tile| {
        let id = tile.source.as_ref().map(|source| source.id.as_str()).unwrap_or_default();
        let held =
            Held { summary: personal.summaries.get(id).cloned(), no_record: personal.no_record.get(id).copied() };
        tile_view(tiles, subject, tile, held, deadline)
    });
    let states = futures::future::join_all(views).await;
    // Every summary shown is read: one entry names them all.
    let read: Vec<AccessedItem<'_>> = shown
        .iter()
        .zip(&states)
        .filter(|(_, view)| view.summary.is_some())
        .filter_map(|(tile, _)| tile.source.as_ref())
        .map(|source| AccessedItem { resource_id: &source.id, purpose: &source.purpose })
        .collect();
    tiles.access_log.record_reads(subject, Actor::Citizen, READ_RESOURCE, &read).await?;
    Ok(Dashboard {
        tiles: states,
        budget_ms: u64::try_from(tiles.settings.budget.as_millis()).unwrap_or(u64::MAX),
        customised,
    })
}

/// The access log's resource type of a summary read.
pub const READ_RESOURCE: &str = "tile-summary";

/// The citizen's sealed document, or nothing when it cannot be opened (the
/// summaries are fetched again; a fact told is missed until it is).
async fn personal_or_nothing(tiles: &Tiles, subject: &SubjectId) -> Personal {
    match tiles.load_personal(subject.as_str()).await {
        Ok((personal, _)) => personal,
        Err(error) => {
            tracing::warn!(error = %portal_host::runtime::error_chain(&error),
                "the citizen's cached summaries could not be read; fetching again");
            Personal::default()
        }
    }
}

fn base_view(tile: &TileDefinition, state: TileState) -> DashboardTile {
    DashboardTile {
        id: tile.id.clone(),
        title: tile.title.clone(),
        description: tile.description.clone(),
        category: tile.category.clone(),
        icon: tile.icon.clone(),
        url: tile.url.clone(),
        state,
        summary: None,
        fetched_at: None,
        age_seconds: None,
        message: None,
        simulated: false,
        simulated_notice: None,
    }
}

fn rfc3339(at: OffsetDateTime) -> Option<String> {
    at.format(&time::format_description::well_known::Rfc3339).ok()
}

fn with_summary(mut view: DashboardTile, cached: CachedSummary, now: OffsetDateTime) -> DashboardTile {
    if view.state == TileState::Cached {
        view.age_seconds = Some(u64::try_from((now - cached.fetched_at).whole_seconds()).unwrap_or(0));
    }
    view.fetched_at = rfc3339(cached.fetched_at);
    view.simulated = cached.summary.simulated;
    view.simulated_notice = cached.summary.simulated.then(|| SIMULATED_NOTICE.to_owned());
    view.summary = Some(cached.summary);
    view
}

/// What the citizen's sealed document holds for one tile's source.
struct Held {
    summary: Option<CachedSummary>,
    no_record: Option<NoRecord>,
}

/// A source that holds nothing for the citizen: a link, saying so.
fn no_record_view(tile: &TileDefinition, source: &ConfiguredSource) -> DashboardTile {
    DashboardTile {
        message: Some(MESSAGE_NO_RECORD.into()),
        simulated: source.simulated,
        simulated_notice: source.simulated.then(|| SIMULATED_NOTICE.to_owned()),
        ..base_view(tile, TileState::Link)
    }
}

/// One tile's view, by the deadline.
async fn tile_view(
    tiles: &Arc<Tiles>,
    subject: &SubjectId,
    tile: &TileDefinition,
    held: Held,
    deadline: tokio::time::Instant,
) -> DashboardTile {
    let Some(source) = tile.source.as_ref().and_then(|s| tiles.sources.get(&s.id)) else {
        return base_view(tile, TileState::Link);
    };
    let now = tiles.clock.now();
    let Held { summary: cached, no_record } = held;
    if let Some(c) = &cached
        && now - c.fetched_at < source.cache_for
    {
        return with_summary(base_view(tile, TileState::Fresh), c.clone(), now);
    }
    if no_record.is_some_and(|none| now - none.asked_at < source.cache_for) {
        return no_record_view(tile, source);
    }
    let outcome = if tiles.breakers.permit(&source.id) == Permit::Refused {
        Outcome::Failed(MESSAGE_OPEN)
    } else {
        let previous = cached.as_ref().map(|c| c.summary.alerts.iter().map(|a| a.key.clone()).collect());
        let (sender, receiver) = oneshot::channel();
        let running = tiles.background.start();
        tokio::spawn(fetch(
            running,
            tiles.clone(),
            subject.clone(),
            source.clone(),
            tile.title.cs.clone(),
            previous,
            sender,
        ));
        match tokio::time::timeout_at(deadline, receiver).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => Outcome::Failed(MESSAGE_FAILED),
            Err(_) => Outcome::Failed(MESSAGE_TIMEOUT),
        }
    };
    match (outcome, cached) {
        (Outcome::Fresh(fresh), _) => with_summary(base_view(tile, TileState::Fresh), fresh, now),
        (Outcome::NoRecord, _) => no_record_view(tile, source),
        (Outcome::Failed(message), Some(stale)) => DashboardTile {
            message: Some(message.into()),
            ..with_summary(base_view(tile, TileState::Cached), stale, now)
        },
        (Outcome::Failed(message), None) => {
            DashboardTile { message: Some(message.into()), ..base_view(tile, TileState::Unavailable) }
        }
    }
}

/// One call of a source, in its own task: answers the dashboard as soon as
/// the source answers, then caches the summary and tells the citizen of new
/// alerts, even when the dashboard stopped waiting.
async fn fetch(
    _running: crate::Running,
    tiles: Arc<Tiles>,
    subject: SubjectId,
    source: ConfiguredSource,
    tile_title: String,
    previous_alerts: Option<Vec<String>>,
    answer: oneshot::Sender<Outcome>,
) {
    let request_id = uuid::Uuid::new_v4().to_string();
    let result = match tokio::time::timeout(source.timeout, source.adapter.summary(&subject, &request_id)).await {
        Ok(result) => result,
        Err(_) => Err(SourceError::Unavailable("timed out".into())),
    };
    let summary = match result {
        Ok(summary) => summary,
        Err(SourceError::NoRecord) => {
            tiles.breakers.success(&source.id);
            let _ = answer.send(Outcome::NoRecord);
            if let Err(error) = tiles.store_no_record(subject.as_str(), &source.id).await {
                tracing::warn!(source = %source.id, error = %portal_host::runtime::error_chain(&error),
                    "a source's \"no record\" was not cached");
            }
            return;
        }
        Err(error) => {
            tracing::warn!(source = %source.id, error = %error, "a tile source failed");
            tiles.breakers.failure(&source.id);
            let _ = answer.send(Outcome::Failed(MESSAGE_FAILED));
            return;
        }
    };
    tiles.breakers.success(&source.id);
    let _ = answer.send(Outcome::Fresh(CachedSummary { summary: summary.clone(), fetched_at: tiles.clock.now() }));
    // Tell first, then cache: a crash in between tells again with the same
    // event id, which notifications drop.
    let new_alerts = summary.alerts.iter().filter(|a| previous_alerts.as_ref().is_none_or(|p| !p.contains(&a.key)));
    for alert in new_alerts {
        if let Err(error) = tell(&tiles, &subject, &source, &tile_title, alert, summary.simulated).await {
            tracing::warn!(source = %source.id, error = %error, "a tile alert was not published; the next fetch tries again");
            return;
        }
    }
    if let Err(error) = tiles.store_summary(subject.as_str(), &source.id, &summary).await {
        tracing::warn!(source = %source.id, error = %portal_host::runtime::error_chain(&error),
            "a summary was not cached");
    }
}

/// The event key of an alert: the same citizen, source and alert give the
/// same event id, so the citizen is told once.
pub fn alert_key(subject: &SubjectId, source: &str, alert: &str) -> String {
    format!("{}:{source}:{alert}", subject.as_str())
}

async fn tell(
    tiles: &Tiles,
    subject: &SubjectId,
    source: &ConfiguredSource,
    tile_title: &str,
    alert: &crate::source::Alert,
    simulated: bool,
) -> Result<(), portal_store::StoreError> {
    let notice = Notice::TileAlert(TileAlert {
        source: source.id.clone(),
        tile: tile_title.to_owned(),
        text: alert.text.clone(),
        alert: alert.key.clone(),
        simulated,
    });
    publish_notice(
        tiles.queues.as_ref(),
        &notice,
        &alert_key(subject, &source.id, &alert.key),
        subject.as_str(),
        tiles.clock.now(),
    )
    .await
}

/// A tile as a demo citizen would see it, for the modeller's preview: only
/// a simulated source is asked (a demo citizen is never sent to a real
/// portal), within the budget; nothing is cached, logged or told.
pub async fn preview_tile(tiles: &Tiles, subject: &SubjectId, tile: &TileDefinition) -> DashboardTile {
    let Some(source) = tile.source.as_ref().and_then(|s| tiles.sources.get(&s.id)) else {
        return base_view(tile, TileState::Link);
    };
    if !source.simulated {
        return DashboardTile {
            message: Some("Náhled souhrnu je jen ze simulátoru; tento zdroj je skutečný portál.".into()),
            ..base_view(tile, TileState::Link)
        };
    }
    let request_id = uuid::Uuid::new_v4().to_string();
    let budget = tiles.settings.budget.min(source.timeout);
    match tokio::time::timeout(budget, source.adapter.summary(subject, &request_id)).await {
        Ok(Ok(summary)) => with_summary(
            base_view(tile, TileState::Fresh),
            CachedSummary { summary, fetched_at: tiles.clock.now() },
            tiles.clock.now(),
        ),
        Ok(Err(SourceError::NoRecord)) => DashboardTile {
            message: Some(MESSAGE_NO_RECORD.into()),
            simulated: true,
            simulated_notice: Some(SIMULATED_NOTICE.into()),
            ..base_view(tile, TileState::Link)
        },
        Ok(Err(_)) => DashboardTile { message: Some(MESSAGE_FAILED.into()), ..base_view(tile, TileState::Unavailable) },
        Err(_) => DashboardTile { message: Some(MESSAGE_TIMEOUT.into()), ..base_view(tile, TileState::Unavailable) },
    }
}
