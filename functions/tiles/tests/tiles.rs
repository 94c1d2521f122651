//! The tiles capability through its HTTP routes, on the testkit's in-memory
//! portal: the dashboard within its budget (on tokio's paused clock, so a
//! hanging source costs no real time and the budget is measured exactly),
//! cached and unavailable tiles, the circuit breaker, sealing, the access
//! log, one notification per alert, the citizen's choice of tiles, the
//! modeller's four eyes, and erasure.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::http::{Method, StatusCode};
use portal_events::{Event, kinds};
use portal_security::{Loa, SubjectId};
use portal_store::Query;
use portal_testkit::{Harness, Login, PETR, call_json, get, problem_fields, write};
use portal_tiles::definition::{Texts, TileDefinition, Visibility};
use portal_tiles::modeller;
use portal_tiles::source::simulator::{JANA, JIRI, LUDMILA, Mode, Switch};
use portal_tiles::{
    BreakerSettings, Breakers, CitizenFacts, ConfiguredSource, FactsError, FactsSource, SourceError, Summary,
    TileSource, Tiles, TilesSettings, simulated_sources,
};
use serde_json::{Value, json};
use time::macros::date;

const OFFICIAL_A: &str = "DEMO%2Fofficial-a";
const OFFICIAL_B: &str = "DEMO%2Fofficial-b";

/// The demo citizens' facts, as the composition reads them from the profile
/// (which knows neither entrepreneurs nor data boxes: those come as events).
#[derive(Debug)]
struct DemoFacts;

#[async_trait]
impl FactsSource for DemoFacts {
    async fn facts(&self, subject: &SubjectId) -> Result<CitizenFacts, FactsError> {
        Ok(match subject.as_str() {
            JANA => CitizenFacts {
                date_of_birth: Some(date!(1985 - 03 - 14)),
                municipality: Some("554782".into()),
                ..CitizenFacts::default()
            },
            JIRI => CitizenFacts {
                date_of_birth: Some(date!(1972 - 11 - 02)),
                municipality: Some("582786".into()),
                ..CitizenFacts::default()
            },
            LUDMILA => CitizenFacts {
                date_of_birth: Some(date!(1949 - 06 - 30)),
                municipality: Some("595209".into()),
                ..CitizenFacts::default()
            },
            _ => CitizenFacts::default(),
        })
    }
}

/// Counts the calls that reach a source.
#[derive(Debug)]
struct Counting {
    inner: Arc<dyn TileSource>,
    calls: Arc<AtomicU32>,
}

#[async_trait]
impl TileSource for Counting {
    async fn summary(&self, subject: &SubjectId, request_id: &str) -> Result<Summary, SourceError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.summary(subject, request_id).await
    }
}

struct Portal {
    harness: Harness,
    tiles: Tiles,
    router: Router,
    switches: BTreeMap<String, Switch>,
    calls: BTreeMap<String, Arc<AtomicU32>>,
}

fn portal_with(configure: impl Fn(ConfiguredSource) -> ConfiguredSource) -> Portal {
    let harness = Harness::new();
    let (sources, switches) = simulated_sources(harness.clock.clone(), &BTreeMap::new());
    let mut calls = BTreeMap::new();
    let sources = sources
        .into_iter()
        .map(|source| {
            let counter = Arc::new(AtomicU32::new(0));
            calls.insert(source.id.clone(), counter.clone());
            let counted = ConfiguredSource {
                adapter: Arc::new(Counting { inner: source.adapter.clone(), calls: counter }),
                ..source
            };
            let configured = configure(counted);
            (configured.id.clone(), configured)
        })
        .collect();
    let settings = TilesSettings {
        officials: vec![OFFICIAL_A.into(), OFFICIAL_B.into()],
        breaker: BreakerSettings { failures_to_open: 3, open_for: Duration::from_secs(30) },
        ..TilesSettings::default()
    };
    let tiles = Tiles {
        documents: harness.documents.clone(),
        queues: harness.store.clone(),
        sealer: harness.sealer.clone(),
        access_log: harness.access_log.clone(),
        clock: harness.clock.clone(),
        facts: Arc::new(DemoFacts),
        sources: Arc::new(sources),
        breakers: Breakers::new(settings.breaker, harness.clock.clone()),
        settings,
        background: portal_tiles::Background::default(),
        memory: portal_tiles::InstanceMemory::default(),
    };
    let router = harness.router(portal_tiles::functions(tiles.clone()));
    Portal { harness, tiles, router, switches, calls }
}

fn portal() -> Portal {
    portal_with(|source| source)
}

impl Portal {
    fn switch(&self, source: &str, mode: Mode) {
        self.switches[source].set(mode);
    }

    fn calls(&self, source: &str) -> u32 {
        self.calls[source].load(Ordering::SeqCst)
    }

    /// Through the router, then waits until the calls it left running have
    /// cached their answers (nothing left in the background for the next view).
    async fn dashboard(&self, login: &Login) -> Value {
        let (status, _, body) = call_json(&self.router, get("/api/dashboard", login)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        self.tiles.background.settled().await;
        body
    }

    /// The dashboard built directly, for tests on tokio's paused clock (the
    /// runtime's request timeout layer is left out: the embedded store's
    /// writer thread lets paused time jump to the next timer).
    async fn build(&self, subject: &str) -> Value {
        let tiles = Arc::new(self.tiles.clone());
        let subject = SubjectId::parse(subject).expect("subject");
        let dashboard = portal_tiles::dashboard::build(&tiles, &subject).await.expect("a dashboard");
        serde_json::to_value(dashboard).expect("json")
    }
}

fn tile<'a>(dashboard: &'a Value, id: &str) -> &'a Value {
    dashboard["tiles"]
        .as_array()
        .and_then(|tiles| tiles.iter().find(|t| t["id"] == id))
        .unwrap_or_else(|| panic!("{id} on the dashboard: {dashboard}"))
}

fn ids(dashboard: &Value) -> Vec<String> {
    dashboard["tiles"].as_array().into_iter().flatten().filter_map(|t| t["id"].as_str().map(str::to_owned)).collect()
}

#[tokio::test]
async fn janas_dashboard_shows_the_seeds_tiles_with_simulated_summaries() {
    let portal = portal();
    let jana = portal.harness.login(JANA).await;
    let dashboard = portal.dashboard(&jana).await;
    let shown = ids(&dashboard);
    for id in ["cssz", "financni-sprava", "erecept", "portal-prazana", "vzp", "portal-dopravy"] {
        assert!(shown.contains(&id.to_owned()), "{id} in {shown:?}");
    }
    assert!(!shown.iter().any(|id| id.starts_with("mesto-")), "Prague has Portál Pražana, no city tile");
    let erecept = tile(&dashboard, "erecept");
    assert_eq!(erecept["state"], "fresh");
    assert_eq!(erecept["summary"]["items"].as_array().map(Vec::len), Some(2), "two prescriptions");
    assert_eq!(erecept["simulated"], true);
    assert!(erecept["simulatedNotice"].as_str().is_some_and(|n| n.contains("SIMULACE")));
    assert!(
        tile(&dashboard, "financni-sprava")["summary"]["headline"].as_str().is_some_and(|h| h.contains("Přeplatek"))
    );
    assert_eq!(tile(&dashboard, "ozp")["state"], "link", "Jana is not insured at OZP: {dashboard}");

    // Every summary shown is a read in her access log, with its purpose: one
    // entry for the view, naming each portal read.
    let entries = portal.harness.access_entries(JANA).await;
    let reads: Vec<_> = entries.iter().filter(|e| e.resource_type == "tile-summary").collect();
    assert_eq!(reads.len(), 1, "one entry for the view: {entries:?}");
    assert!(reads[0].purpose.contains("Finanční správa: stav daňového účtu"), "{entries:?}");
    let shown_with_summary = dashboard["tiles"].as_array().expect("tiles").iter().filter(|t| t["summary"].is_object());
    let read_ids: Vec<&str> = reads[0].resource_id.split(',').collect();
    assert_eq!(read_ids.len(), shown_with_summary.count(), "each summary shown is named: {read_ids:?}");
    assert!(read_ids.contains(&"financni-sprava") && read_ids.contains(&"erecept"), "{read_ids:?}");
    // A second (cached) view is one more entry, not one per tile, and asks
    // no portal: not even OZP, which said it holds nothing for her.
    let asked = portal.calls("ozp") + portal.calls("erecept");
    let again = portal.dashboard(&jana).await;
    assert_eq!(portal.calls("ozp") + portal.calls("erecept"), asked, "all from the cache");
    assert_eq!(tile(&again, "ozp")["state"], "link");
    assert!(tile(&again, "ozp")["message"].as_str().is_some_and(|m| m.contains("nic neeviduje")), "{again}");
    let entries = portal.harness.access_entries(JANA).await;
    assert_eq!(entries.iter().filter(|e| e.resource_type == "tile-summary").count(), 2, "{entries:?}");
    // Cached sealed in one document: nothing of the summaries is in clear in the store.
    let held = portal.harness.documents.query(portal_tiles::COLLECTION, JANA, Query::default()).await.expect("query");
    assert_eq!(held.items.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(), ["personal"], "one document");
    let cached = portal
        .harness
        .documents
        .get(portal_tiles::COLLECTION, JANA, portal_tiles::personal::PERSONAL_ID)
        .await
        .expect("read")
        .expect("cached");
    let stored = cached.body.to_string();
    assert!(!stored.contains("Přeplatek") && !stored.contains("2 340"), "sealed: {stored}");
}

#[tokio::test(start_paused = true)]
async fn a_hanging_and_a_failing_source_still_give_a_dashboard_within_the_budget() {
    // The hanging call's own timeout is a little past the budget, so the
    // budget is what cuts it (the tile says "not in time", not "failed").
    // On paused time the store's writer thread lets the clock jump to the
    // next timer, so no timer is set further out than the bound checked.
    let portal = portal_with(|source| source.with_timeout(Duration::from_millis(840)));
    portal.switch("erecept", Mode::Hang);
    portal.switch("financni-sprava", Mode::Down);
    let started = tokio::time::Instant::now();
    let dashboard = portal.build(JANA).await;
    let took = started.elapsed();
    let budget = portal.tiles.settings.budget;
    assert!(took >= budget, "the hanging source was waited for until the budget: {took:?}");
    assert!(took <= budget + Duration::from_millis(50), "within the budget: {took:?}");
    let erecept = tile(&dashboard, "erecept");
    assert_eq!(erecept["state"], "unavailable");
    assert!(erecept["message"].as_str().is_some_and(|m| m.contains("včas")), "{erecept}");
    let taxes = tile(&dashboard, "financni-sprava");
    assert_eq!(taxes["state"], "unavailable");
    assert!(taxes["message"].as_str().is_some_and(|m| m.contains("nedostupná")), "{taxes}");
    assert_eq!(tile(&dashboard, "cssz")["state"], "fresh", "the others are filled");
    assert_eq!(tile(&dashboard, "vzp")["state"], "fresh");

    // The hanging call ends at its own timeout, one failure of that source.
    portal.tiles.background.settled().await;
    // A source that fails fast costs nothing: without the hanging one the
    // answer comes at once.
    portal.switch("erecept", Mode::Normal);
    let started = tokio::time::Instant::now();
    let dashboard = portal.build(JANA).await;
    assert!(started.elapsed() < Duration::from_millis(50), "{:?}", started.elapsed());
    assert_eq!(tile(&dashboard, "erecept")["state"], "fresh");
}

#[tokio::test]
async fn an_old_summary_is_shown_as_cached_with_its_age_when_the_source_fails() {
    let portal = portal();
    let jana = portal.harness.login(JANA).await;
    assert_eq!(tile(&portal.dashboard(&jana).await, "erecept")["state"], "fresh");
    // Within the cache time nothing is asked again.
    let before = portal.calls("erecept");
    assert_eq!(tile(&portal.dashboard(&jana).await, "erecept")["state"], "fresh");
    assert_eq!(portal.calls("erecept"), before, "served from the cache");

    portal.harness.clock.advance(Duration::from_secs(600));
    portal.switch("erecept", Mode::Down);
    let erecept = tile(&portal.dashboard(&jana).await, "erecept").clone();
    assert_eq!(erecept["state"], "cached", "{erecept}");
    assert_eq!(erecept["ageSeconds"], 600);
    assert_eq!(erecept["summary"]["items"].as_array().map(Vec::len), Some(2));
    assert!(erecept["message"].is_string());
}

/// A source that answers after the budget, within its own timeout.
#[derive(Debug)]
struct Slow(Arc<dyn TileSource>);

#[async_trait]
impl TileSource for Slow {
    async fn summary(&self, subject: &SubjectId, request_id: &str) -> Result<Summary, SourceError> {
        tokio::time::sleep(Duration::from_secs(2)).await;
        self.0.summary(subject, request_id).await
    }
}

#[tokio::test(start_paused = true)]
async fn a_late_answer_refreshes_the_cache_for_the_next_view() {
    let slow = portal_with(|source| {
        let inner = source.adapter.clone();
        ConfiguredSource { adapter: Arc::new(Slow(inner)), ..source }.with_timeout(Duration::from_secs(5))
    });
    let started = tokio::time::Instant::now();
    let first = slow.build(JANA).await;
    assert!(started.elapsed() <= slow.tiles.settings.budget + Duration::from_millis(50));
    assert_eq!(tile(&first, "cssz")["state"], "unavailable", "nothing cached yet");
    // The calls go on after the dashboard answered, and cache their answers
    // (stale-while-revalidate): the next view is filled without waiting.
    slow.tiles.background.settled().await;
    let second = slow.build(JANA).await;
    assert_eq!(tile(&second, "cssz")["state"], "fresh", "{second}");
    assert_eq!(tile(&second, "erecept")["state"], "fresh");
}

#[tokio::test]
async fn the_breaker_stops_calling_a_failing_source_and_probes_it_later() {
    let portal = portal_with(|source| source.with_cache_for(Duration::ZERO));
    let jana = portal.harness.login(JANA).await;
    portal.switch("cssz", Mode::Down);
    for _ in 0..3 {
        portal.dashboard(&jana).await;
    }
    assert_eq!(portal.calls("cssz"), 3);
    let cssz = tile(&portal.dashboard(&jana).await, "cssz").clone();
    assert_eq!(portal.calls("cssz"), 3, "open: not called");
    assert!(cssz["message"].as_str().is_some_and(|m| m.contains("mimo provoz")), "{cssz}");
    portal.switch("cssz", Mode::Normal);
    portal.harness.clock.advance(Duration::from_secs(31));
    assert_eq!(tile(&portal.dashboard(&jana).await, "cssz")["state"], "fresh", "the probe succeeded");
    assert_eq!(portal.calls("cssz"), 4);
}

#[tokio::test]
async fn a_new_alert_becomes_one_notification() {
    let portal = portal_with(|source| source.with_cache_for(Duration::ZERO));
    let jiri = portal.harness.login(JIRI).await;
    let dashboard = portal.dashboard(&jiri).await;
    assert!(tile(&dashboard, "celni-sprava")["summary"]["headline"].as_str().is_some_and(|h| h.contains("Nedoplatek")));
    assert_eq!(tile(&dashboard, "eneschopenka")["summary"]["headline"], "Probíhající pracovní neschopnost");
    portal.dashboard(&jiri).await;
    let notices = portal.harness.drain(portal_events::NOTIFICATIONS_QUEUE).await;
    let alerts: Vec<&Value> = notices.iter().filter(|n| n["type"] == kinds::TILE_ALERT).collect();
    assert_eq!(alerts.len(), 1, "told once, though fetched twice: {notices:?}");
    assert_eq!(alerts[0]["subject"], JIRI);
    assert_eq!(alerts[0]["data"]["source"], "celni-sprava");
    assert_eq!(alerts[0]["data"]["simulated"], true);
    let event: Event = serde_json::from_value(alerts[0].clone()).expect("event");
    assert!(matches!(portal_events::Notice::from_event(&event), Ok(portal_events::Notice::TileAlert(_))));
}

#[tokio::test]
async fn the_citizen_chooses_and_orders_tiles() {
    let portal = portal();
    let ludmila = portal.harness.login(LUDMILA).await;
    let (status, _, catalogue) = call_json(&portal.router, get("/api/tiles", &ludmila)).await;
    assert_eq!(status, StatusCode::OK);
    let offered: Vec<&str> =
        catalogue["items"].as_array().expect("items").iter().filter_map(|t| t["id"].as_str()).collect();
    assert!(offered.contains(&"dluhopisy") && !offered.contains(&"portal-prazana"), "{offered:?}");
    let choice = json!({"tiles": ["dluhopisy", "cssz"]});
    let (status, _, _) =
        call_json(&portal.router, write(Method::PUT, "/api/me/dashboard", &ludmila, Some(choice))).await;
    assert_eq!(status, StatusCode::OK);
    let dashboard = portal.dashboard(&ludmila).await;
    assert_eq!(ids(&dashboard), ["dluhopisy", "cssz"]);
    assert_eq!(dashboard["customised"], true);
    assert!(tile(&dashboard, "dluhopisy")["summary"]["headline"].as_str().is_some_and(|h| h.contains("50 000")));
    assert!(tile(&dashboard, "cssz")["summary"]["headline"].as_str().is_some_and(|h| h.contains("důchod")));

    let bad = json!({"tiles": ["cssz", "portal-prazana", "cssz"]});
    let request = write(Method::PUT, "/api/me/dashboard", &ludmila, Some(bad));
    let (status, _, body) = portal_testkit::call(&portal.router, request).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem_fields(&body), ["tiles[1]", "tiles[2]"]);
}

#[tokio::test]
async fn erasure_removes_the_cached_summaries_and_the_choice() {
    let portal = portal();
    let jana = portal.harness.login(JANA).await;
    portal.dashboard(&jana).await;
    let choice = json!({"tiles": ["erecept"]});
    call_json(&portal.router, write(Method::PUT, "/api/me/dashboard", &jana, Some(choice))).await;
    let held = portal.harness.documents.query(portal_tiles::COLLECTION, JANA, Query::default()).await.expect("query");
    assert_eq!(held.items.len(), 2, "the sealed summaries and the layout are held");

    let event = Event::new(kinds::ERASED, &format!("{JANA}:1795420800"), JANA, portal_testkit::START, json!({}));
    // A forged erasure (no shredded key) deletes nothing.
    assert!(portal_tiles::queue::erase_tiles_data::erase(&portal.tiles, &event).await.is_err());
    portal.tiles.sealer.keys().shred(JANA).await.expect("shred");
    for _ in 0..2 {
        portal_tiles::queue::erase_tiles_data::erase(&portal.tiles, &event).await.expect("erased");
    }
    let left = portal.harness.documents.query(portal_tiles::COLLECTION, JANA, Query::default()).await.expect("query");
    assert!(left.items.is_empty(), "{:?}", left.items);
}

/// A published tile seen only by citizens with `visibility`.
async fn publish_tile_for(portal: &Portal, id: &str, visibility: Visibility) {
    let definition = TileDefinition {
        id: id.into(),
        title: Texts { cs: format!("Dlaždice {id}"), en: format!("Tile {id}") },
        description: Texts { cs: "Jen pro některé.".into(), en: "For some only.".into() },
        category: "ostatni".into(),
        icon: "other".into(),
        url: "https://www.mojedatovaschranka.cz/".into(),
        visibility,
        source: None,
    };
    let mut record =
        modeller::new_record(serde_json::to_value(&definition).expect("json"), "test", portal_testkit::START)
            .expect("a record");
    record.published = Some(1);
    modeller::save(&portal.tiles, &record, None).await.expect("saved");
}

/// What registers would publish after reading the registers.
async fn tell(portal: &Portal, subject: &str, kind: &str, holds: bool, minutes: i64) {
    let at = portal_testkit::START + time::Duration::minutes(minutes);
    let event = portal_events::CitizenFact { holds }.event(kind, subject, at);
    portal_tiles::queue::record_citizen_fact::record(&portal.tiles, &event).await.expect("recorded");
}

#[tokio::test]
async fn the_data_box_and_entrepreneur_rules_follow_the_facts_other_capabilities_tell() {
    let portal = portal();
    publish_tile_for(&portal, "se-schrankou", Visibility { has_data_box: Some(true), ..Visibility::default() }).await;
    publish_tile_for(&portal, "pro-podnikatele", Visibility { entrepreneur: Some(true), ..Visibility::default() })
        .await;
    let jana = portal.harness.login(JANA).await;
    let jiri = portal.harness.login(JIRI).await;
    let petr = portal.harness.login(PETR).await;
    let shows = |dashboard: &Value, id: &str| ids(dashboard).contains(&id.to_owned());

    // Nobody told anything yet: a rule on an unknown fact does not hold.
    let dashboard = portal.dashboard(&jana).await;
    assert!(!shows(&dashboard, "se-schrankou") && !shows(&dashboard, "pro-podnikatele"), "{:?}", ids(&dashboard));

    // As registers tell it from the population register and ROS.
    tell(&portal, JANA, kinds::DATA_BOX, true, 1).await;
    tell(&portal, JANA, kinds::ENTREPRENEUR, false, 1).await;
    tell(&portal, JIRI, kinds::ENTREPRENEUR, true, 1).await;
    tell(&portal, PETR, kinds::DATA_BOX, false, 1).await;

    let dashboard = portal.dashboard(&jana).await;
    assert!(shows(&dashboard, "se-schrankou"), "Jana has a data box: {:?}", ids(&dashboard));
    assert!(!shows(&dashboard, "pro-podnikatele"), "Jana is no entrepreneur");
    let dashboard = portal.dashboard(&petr).await;
    assert!(!shows(&dashboard, "se-schrankou"), "Petr has no data box: {:?}", ids(&dashboard));
    let dashboard = portal.dashboard(&jiri).await;
    assert!(shows(&dashboard, "pro-podnikatele"), "Jiří is an entrepreneur: {:?}", ids(&dashboard));
    assert!(!shows(&dashboard, "se-schrankou"), "nothing told of Jiří's box");
    let (_, _, catalogue) = call_json(&portal.router, get("/api/tiles", &jiri)).await;
    assert!(catalogue.to_string().contains("pro-podnikatele"), "the catalogue follows the same facts");

    // An older observation arriving late changes nothing; a newer one does.
    tell(&portal, JANA, kinds::DATA_BOX, false, 0).await;
    assert!(shows(&portal.dashboard(&jana).await, "se-schrankou"), "the late older event is ignored");
    tell(&portal, JANA, kinds::DATA_BOX, false, 2).await;
    assert!(!shows(&portal.dashboard(&jana).await, "se-schrankou"), "the box is gone");

    // The facts are kept sealed with the summaries, not in clear.
    let held =
        portal.harness.documents.get(portal_tiles::COLLECTION, JIRI, "personal").await.expect("get").expect("held");
    assert!(!held.body.to_string().contains("entrepreneur"), "sealed: {}", held.body);
    // A fact for an erased citizen is dropped, not kept.
    portal.tiles.sealer.keys().shred(PETR).await.expect("shred");
    let event = portal_events::CitizenFact { holds: true }.event(kinds::DATA_BOX, PETR, portal_testkit::START);
    assert!(portal_tiles::queue::record_citizen_fact::record(&portal.tiles, &event).await.is_err());
}

// ---------------------------------------------------------------- the modeller

fn new_tile() -> Value {
    json!({
        "id": "katastr",
        "title": {"cs": "Nahlížení do katastru", "en": "Land register"},
        "description": {"cs": "Vaše nemovitosti v katastru.", "en": "Your properties in the land register."},
        "category": "ostatni",
        "icon": "document",
        "url": "https://nahlizenidokn.cuzk.gov.cz/",
        "visibility": {"minAge": 18}
    })
}

async fn as_official(portal: &Portal, subject: &str) -> Login {
    portal.harness.login_with(subject, Loa::High).await
}

async fn send(portal: &Portal, login: &Login, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    let (status, _, body) = call_json(&portal.router, write(method, path, login, body)).await;
    (status, body)
}

#[tokio::test]
async fn citizens_and_low_assurance_officials_get_403_in_the_modeller() {
    let portal = portal();
    let jana = portal.harness.login_with(JANA, Loa::High).await;
    let (status, _, body) = call_json(&portal.router, get("/api/admin/tiles", &jana)).await;
    assert_eq!((status, body["type"].as_str()), (StatusCode::FORBIDDEN, Some("/problems/not-a-tile-official")));
    let (status, _) = send(&portal, &jana, Method::POST, "/api/admin/tiles", Some(new_tile())).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let substantial = portal.harness.login(OFFICIAL_A).await;
    let (status, _, body) = call_json(&portal.router, get("/api/admin/tiles", &substantial)).await;
    assert_eq!((status, body["type"].as_str()), (StatusCode::FORBIDDEN, Some("/problems/loa-high-required")));
}

#[tokio::test]
async fn an_official_publishes_only_after_a_second_approves_and_rolls_back() {
    let portal = portal();
    let a = as_official(&portal, OFFICIAL_A).await;
    let b = as_official(&portal, OFFICIAL_B).await;
    let jana = portal.harness.login(JANA).await;

    // A draft that breaks the rules: validate names them.
    let mut draft = new_tile();
    draft["url"] = json!("https://example.com/katastr");
    let (status, created) = send(&portal, &a, Method::POST, "/api/admin/tiles", Some(draft)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["status"], "unpublished");
    let (status, report) = send(&portal, &a, Method::POST, "/api/admin/tiles/katastr/validate", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((report["valid"].as_bool(), report["problems"][0]["field"].as_str()), (Some(false), Some("url")));
    let (status, _) =
        send(&portal, &a, Method::POST, "/api/admin/tiles/katastr/publication", Some(json!({"version": 1}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "an invalid version cannot be published");

    // Edited: version 2 with its diff.
    let (status, edited) = send(&portal, &a, Method::PUT, "/api/admin/tiles/katastr", Some(new_tile())).await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(
        edited["versions"][1]["diff"],
        json!([{"op": "replace", "path": "/url", "value": "https://nahlizenidokn.cuzk.gov.cz/"}])
    );
    let (_, preview) =
        send(&portal, &a, Method::POST, "/api/admin/tiles/katastr/preview", Some(json!({"citizen": "jana"}))).await;
    assert_eq!((preview["visible"].as_bool(), preview["tile"]["state"].as_str()), (Some(true), Some("link")));

    let (status, _) =
        send(&portal, &a, Method::POST, "/api/admin/tiles/katastr/publication", Some(json!({"version": 2}))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) =
        send(&portal, &a, Method::POST, "/api/admin/tiles/katastr/approval", Some(json!({"version": 2}))).await;
    assert_eq!((status, body["type"].as_str()), (StatusCode::FORBIDDEN, Some("/problems/four-eyes")));
    let offered = |portal: &Portal, jana: &Login| {
        let request = get("/api/tiles", jana);
        let router = portal.router.clone();
        async move {
            let (_, _, body) = call_json(&router, request).await;
            body["items"].as_array().expect("items").iter().any(|t| t["id"] == "katastr")
        }
    };
    assert!(!offered(&portal, &jana).await, "not published before the second official approves");
    let (status, approved) =
        send(&portal, &b, Method::POST, "/api/admin/tiles/katastr/approval", Some(json!({"version": 2}))).await;
    assert_eq!((status, approved["status"].as_str()), (StatusCode::OK, Some("published")), "{approved}");
    assert!(offered(&portal, &jana).await, "published");

    // Version 3 published too, then rolled back to 2.
    let mut third = new_tile();
    third["title"]["cs"] = json!("Katastr nemovitostí");
    send(&portal, &a, Method::PUT, "/api/admin/tiles/katastr", Some(third)).await;
    send(&portal, &a, Method::POST, "/api/admin/tiles/katastr/publication", Some(json!({"version": 3}))).await;
    send(&portal, &b, Method::POST, "/api/admin/tiles/katastr/approval", Some(json!({"version": 3}))).await;
    let (status, _) =
        send(&portal, &a, Method::POST, "/api/admin/tiles/katastr/rollback", Some(json!({"version": 1}))).await;
    assert_eq!(status, StatusCode::CONFLICT, "version 1 was never published");
    let (status, rolled) =
        send(&portal, &a, Method::POST, "/api/admin/tiles/katastr/rollback", Some(json!({"version": 2}))).await;
    assert_eq!((status, rolled["published"].as_u64()), (StatusCode::OK, Some(4)), "{rolled}");
    assert_eq!(rolled["versions"][3]["definition"]["title"]["cs"], "Nahlížení do katastru");

    let (status, unpublished) = send(&portal, &b, Method::POST, "/api/admin/tiles/katastr/unpublish", None).await;
    assert_eq!((status, unpublished["status"].as_str()), (StatusCode::OK, Some("unpublished")));
    assert!(!offered(&portal, &jana).await);

    let (_, _, audit) = call_json(&portal.router, get("/api/admin/tile-audit", &a)).await;
    let actions: Vec<&str> =
        audit["items"].as_array().expect("items").iter().filter_map(|e| e["action"].as_str()).collect();
    for action in [
        "create",
        "validate",
        "edit",
        "preview",
        "request-publication",
        "approve-refused",
        "approve",
        "rollback",
        "unpublish",
    ] {
        assert!(actions.contains(&action), "{action} audited: {actions:?}");
    }
}

#[tokio::test]
async fn a_built_in_tile_can_be_unpublished_and_a_city_to_confirm_is_a_draft() {
    let portal = portal();
    let a = as_official(&portal, OFFICIAL_A).await;
    let (_, _, list) = call_json(&portal.router, get("/api/admin/tiles", &a)).await;
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 13 + 36);
    let brno = items.iter().find(|t| t["id"] == "mesto-582786").expect("Brno");
    assert_eq!(brno["status"], "unpublished");
    let jana = portal.harness.login(JANA).await;
    assert!(ids(&portal.dashboard(&jana).await).contains(&"ozp".to_owned()));
    let (status, _) = send(&portal, &a, Method::POST, "/api/admin/tiles/ozp/unpublish", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!ids(&portal.dashboard(&jana).await).contains(&"ozp".to_owned()), "gone from every dashboard");
    let (status, _, _) = call_json(&portal.router, get("/api/admin/tiles/nothing-here", &a)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
