//! The dashboard never waits for the slowest portal: 14 summary sources, of
//! which 2 hang and 1 fails, the others answering after 20–150 ms (a
//! portal's network and work), every source called on every view (cache
//! time zero) and the circuit breaker kept closed, so every view pays the
//! worst case. Prints how long `dashboard::build` took per view (wall clock,
//! in-memory store) against the budget plus 50 ms, and whether the others
//! were filled. Figures: docs/benchmarks.md.
//!
//!   cargo bench -p portal-tiles --bench dashboard
//!   PORTAL_BENCH_VIEWS=200 cargo bench -p portal-tiles --bench dashboard

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use portal_security::SubjectId;
use portal_testkit::Harness;
use portal_tiles::definition::{SourceRef, Texts, TileDefinition, Visibility};
use portal_tiles::modeller::{self, TileRecord};
use portal_tiles::source::simulator::{JANA, Mode};
use portal_tiles::{
    Background, BreakerSettings, Breakers, CitizenFacts, ConfiguredSource, FactsError, FactsSource, SourceError,
    Summary, TileSource, Tiles, TilesSettings, simulated_sources,
};

#[derive(Debug)]
struct Facts;

#[async_trait]
impl FactsSource for Facts {
    async fn facts(&self, _: &SubjectId) -> Result<CitizenFacts, FactsError> {
        Ok(CitizenFacts {
            date_of_birth: Some(time::macros::date!(1985 - 03 - 14)),
            municipality: Some("554782".into()),
            ..CitizenFacts::default()
        })
    }
}

/// A portal that answers after a fixed delay.
#[derive(Debug)]
struct Latency(Arc<dyn TileSource>, Duration);

#[async_trait]
impl TileSource for Latency {
    async fn summary(&self, subject: &SubjectId, request_id: &str) -> Result<Summary, SourceError> {
        tokio::time::sleep(self.1).await;
        self.0.summary(subject, request_id).await
    }
}

/// The 14th source: a portal of the officials' own, published in the modeller.
#[derive(Debug)]
struct Extra;

#[async_trait]
impl TileSource for Extra {
    async fn summary(&self, _: &SubjectId, _: &str) -> Result<Summary, SourceError> {
        Ok(Summary { headline: "Bez změn".into(), items: vec![], alerts: vec![], simulated: true })
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let views: usize = std::env::var("PORTAL_BENCH_VIEWS").ok().and_then(|v| v.parse().ok()).unwrap_or(50);
    let harness = Harness::new();
    let hanging = ["erecept", "celni-sprava"];
    let failing = "financni-sprava";
    let modes: BTreeMap<String, Mode> =
        hanging.iter().map(|id| ((*id).to_owned(), Mode::Hang)).chain([(failing.to_owned(), Mode::Down)]).collect();
    let (sources, _switches) = simulated_sources(harness.clock.clone(), &modes);
    let mut by_id: BTreeMap<String, ConfiguredSource> = BTreeMap::new();
    for (n, source) in sources.into_iter().enumerate() {
        let latency = Duration::from_millis(20 + (n as u64 * 37) % 131);
        let adapter = Arc::new(Latency(source.adapter.clone(), latency));
        let configured =
            ConfiguredSource { adapter, ..source }.with_timeout(Duration::from_secs(5)).with_cache_for(Duration::ZERO);
        by_id.insert(configured.id.clone(), configured);
    }
    by_id.insert(
        "extra".into(),
        ConfiguredSource::new("extra", Arc::new(Latency(Arc::new(Extra), Duration::from_millis(60))))
            .with_cache_for(Duration::ZERO)
            .simulated(),
    );
    assert_eq!(by_id.len(), 14, "14 sources");
    let settings = TilesSettings {
        breaker: BreakerSettings { failures_to_open: u32::MAX, open_for: Duration::from_secs(30) },
        ..TilesSettings::default()
    };
    let tiles = Arc::new(Tiles {
        documents: harness.documents.clone(),
        queues: harness.store.clone(),
        sealer: harness.sealer.clone(),
        access_log: harness.access_log.clone(),
        clock: harness.clock.clone(),
        facts: Arc::new(Facts),
        sources: Arc::new(by_id),
        breakers: Breakers::new(settings.breaker, harness.clock.clone()),
        settings,
        background: Background::default(),
        memory: portal_tiles::InstanceMemory::default(),
    });
    // The 14th tile, published as the modeller publishes.
    let extra = TileDefinition {
        id: "extra".into(),
        title: Texts { cs: "Další portál".into(), en: "Another portal".into() },
        description: Texts { cs: "Souhrn.".into(), en: "Summary.".into() },
        category: "ostatni".into(),
        icon: "other".into(),
        url: "https://extra.gov.cz/".into(),
        visibility: Visibility::default(),
        source: Some(SourceRef { id: "extra".into(), purpose: "Další portál: souhrn".into() }),
    };
    let mut record: TileRecord =
        modeller::new_record(serde_json::to_value(&extra).expect("json"), "bench", harness.clock.now_for_bench())
            .expect("record");
    record.published = Some(1);
    modeller::save(&tiles, &record, None).await.expect("saved");

    let subject = SubjectId::parse(JANA).expect("subject");
    let budget = tiles.settings.budget;
    let mut took = Vec::with_capacity(views);
    let mut filled_min = usize::MAX;
    let mut shown = 0;
    for _ in 0..views {
        let started = Instant::now();
        let dashboard = portal_tiles::dashboard::build(&tiles, &subject).await.expect("dashboard");
        took.push(started.elapsed());
        // Answered: a summary, or the source's "nothing for this citizen" (a link).
        let answered = dashboard
            .tiles
            .iter()
            .filter(|t| t.summary.is_some() || t.message.as_deref().is_some_and(|m| m.contains("neeviduje")))
            .count();
        filled_min = filled_min.min(answered);
        shown = dashboard.tiles.len();
        let unavailable: Vec<_> = dashboard
            .tiles
            .iter()
            .filter(|t| t.state == portal_tiles::dashboard::TileState::Unavailable)
            .map(|t| t.id.as_str())
            .collect();
        assert!(unavailable.contains(&"erecept") && unavailable.contains(&failing), "{unavailable:?}");
    }
    tiles.background.settled().await;
    took.sort();
    let limit = budget + Duration::from_millis(50);
    let over = took.iter().filter(|t| **t > limit).count();
    println!("dashboard: {views} views, {shown} tiles, 14 sources (2 hang, 1 fails, the rest 20-150 ms)");
    println!(
        "  p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; budget {} ms + 50 ms = {} ms; views over it: {over}",
        percentile(&took, 0.5).as_secs_f64() * 1000.0,
        percentile(&took, 0.99).as_secs_f64() * 1000.0,
        took.last().copied().unwrap_or_default().as_secs_f64() * 1000.0,
        budget.as_millis(),
        limit.as_millis()
    );
    println!("  sources answered in every view: at least {filled_min} of the 11 that answer");
}

/// The harness's manual clock, read.
trait NowForBench {
    fn now_for_bench(&self) -> time::OffsetDateTime;
}

impl NowForBench for portal_store::ManualClock {
    fn now_for_bench(&self) -> time::OffsetDateTime {
        portal_store::Clock::now(self)
    }
}
