//! The notice boards in process against the simulator over real HTTP: the
//! acceptance case (a watch of "uzavírka", two harvests, one notification),
//! conditional GET, new/changed/removed items, bad and slow feeds skipped
//! without losing the others, the public search, and the watches (sealed,
//! access-logged, erased).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{Method, StatusCode};
use portal_events::{Event, NOTIFICATIONS_QUEUE, kinds};
use portal_noticeboards::harvest::{self, Report};
use portal_noticeboards::{
    BoardSimulator, COLLECTION, ITEMS_PARTITION, NoticeBoardSettings, NoticeBoards, StaticBoards,
    WATCH_INDEX_PARTITION, functions,
};
use portal_store::{FilterOp, NewDocument, Query};
use portal_testkit::{Harness, JANA, PETR, anonymous, call, get, json_of, problem_fields, write};
use serde_json::{Value, json};

struct Portal {
    router: Router,
    nb: NoticeBoards,
    sim: BoardSimulator,
    harness: Harness,
}

async fn portal() -> Portal {
    let harness = Harness::new();
    let sim = BoardSimulator::start().await.expect("simulator");
    let nb = NoticeBoards {
        boards: Arc::new(StaticBoards(sim.boards())),
        documents: harness.store.clone(),
        queues: harness.store.clone(),
        sealer: harness.sealer.clone(),
        access_log: harness.access_log.clone(),
        clock: harness.clock.clone(),
        // The slow board answers after two minutes; a short limit keeps the test quick.
        settings: NoticeBoardSettings { fetch_timeout: Duration::from_millis(1500), ..NoticeBoardSettings::default() },
    };
    let router = harness.router(functions(nb.clone()));
    Portal { router, nb, sim, harness }
}

fn uzavirka() -> Value {
    json!({
        "typ": ["Digitální objekt", "Informace na úřední desce"],
        "iri": "https://simulace.example/desky/zdar/informace/103",
        "url": "https://simulace.example/desky/zdar/informace/103.html",
        "název": {"cs": "Uzavírka silnice II/353 – Jihlavská ulice"},
        "popis": {"cs": "Úplná uzavírka od 1. 12. 2026 (simulace)."},
        "číslo_jednací": "MZR/2026/4800",
        "vyvěšení": {"typ": "Časový okamžik", "datum": "2026-11-23"},
        "relevantní_do": {"typ": "Časový okamžik", "datum": "2026-12-31"},
        "agenda": [{"typ": "Agenda", "název": {"cs": "Silniční hospodářství"}}]
    })
}

fn status<'r>(report: &'r Report, board: &str) -> &'r harvest::BoardReport {
    report.boards.iter().find(|b| b.board == board).expect("board in the report")
}

async fn notices(portal: &Portal) -> Vec<Event> {
    portal
        .harness
        .drain(NOTIFICATIONS_QUEUE)
        .await
        .into_iter()
        .map(|v| serde_json::from_value(v).expect("event"))
        .filter(|e: &Event| e.kind == kinds::NOTICE_BOARD_ITEM)
        .collect()
}

async fn watch(portal: &Portal, login: &portal_testkit::Login, body: Value) -> (StatusCode, Value) {
    let (status, _, body) =
        call(&portal.router, write(Method::POST, "/api/me/notice-board-watches", login, Some(body))).await;
    (status, json_of(&body))
}

#[tokio::test]
async fn a_watch_of_uzavirka_is_notified_once_over_two_harvests() {
    let portal = portal().await;
    let jana = portal.harness.login(JANA).await;
    let (code, created) = watch(&portal, &jana, json!({"keywords": ["uzavírka"]})).await;
    assert_eq!(code, StatusCode::CREATED, "{created}");
    // Petr watches something else.
    let petr = portal.harness.login(PETR).await;
    assert_eq!(watch(&portal, &petr, json!({"keywords": ["kácení stromů"]})).await.0, StatusCode::CREATED);

    // The simulated board of Žďár has one "Uzavírka" among its items.
    let first = harvest::run(&portal.nb).await.expect("first harvest");
    let second = harvest::run(&portal.nb).await.expect("second harvest");

    let events = notices(&portal).await;
    assert_eq!(events.len(), 1, "exactly one notification: {events:?}");
    let event = &events[0];
    assert_eq!(event.subject, JANA);
    assert_eq!(event.data["title"], "Uzavírka místní komunikace Dolní");
    assert_eq!(event.data["simulated"], true);
    assert_eq!(event.data["watchId"], created["id"]);
    // The first run saw the whole feed, the second was a conditional GET answered 304.
    assert_eq!(status(&first, "sim-zdar").status, "changed");
    assert_eq!(status(&first, "sim-zdar").new, 3);
    assert_eq!(status(&second, "sim-zdar").status, "not-modified");
    assert_eq!(first.notifications, 1);
    assert_eq!(second.notifications, 0);
    // A closure posted later is told once more, and once only.
    portal.sim.post("zdar", uzavirka());
    let third = harvest::run(&portal.nb).await.expect("third harvest");
    harvest::run(&portal.nb).await.expect("fourth harvest");
    let later = notices(&portal).await;
    assert_eq!(later.len(), 1, "{later:?}");
    assert_eq!(later[0].data["title"], "Uzavírka silnice II/353 – Jihlavská ulice");
    assert_eq!(status(&third, "sim-zdar").new, 1);
    // Reading Jana's watch to match it is in her access log, as the harvester.
    let entries = portal.harness.access_entries(JANA).await;
    assert!(entries.iter().any(|e| e.resource_type == "notice-board-watch"
        && matches!(&e.actor, portal_security::Actor::System { job } if job == harvest::JOB)));
}

#[tokio::test]
async fn a_bad_or_slow_feed_is_reported_and_skipped_and_the_others_are_kept() {
    let portal = portal().await;
    let report = harvest::run(&portal.nb).await.expect("harvest");
    let broken = status(&report, "sim-broken");
    assert_eq!(broken.status, "failed");
    assert!(broken.error.as_deref().is_some_and(|e| e.contains("not JSON")), "{broken:?}");
    let slow = status(&report, "sim-slow");
    assert_eq!(slow.status, "failed");
    assert!(slow.error.as_deref().is_some_and(|e| e.contains("no answer within")), "{slow:?}");
    assert_eq!(status(&report, "sim-mv-test").new, 1, "the real MV sample is read");
    assert_eq!(status(&report, "sim-zdar").new, 3);

    let (code, _, body) = call(&portal.router, anonymous("/api/notice-boards")).await;
    assert_eq!(code, StatusCode::OK);
    let boards = json_of(&body)["items"].as_array().cloned().expect("boards");
    let by_id = |id: &str| boards.iter().find(|b| b["id"] == id).cloned().expect("board");
    assert_eq!(by_id("sim-broken")["lastStatus"], "failed");
    assert_eq!(by_id("sim-zdar")["lastStatus"], "ok");
    assert_eq!(by_id("sim-zdar")["items"], 3);
    assert_eq!(by_id("sim-mv-test")["operatorIco"], "00007064");
    // Every item of the good boards is searchable.
    let (_, _, body) = call(&portal.router, anonymous("/api/notice-boards/items?limit=100")).await;
    assert_eq!(json_of(&body)["items"].as_array().map(Vec::len), Some(4));
}

#[tokio::test]
async fn changed_and_removed_items_are_recorded_and_a_change_is_not_news() {
    let portal = portal().await;
    let jana = portal.harness.login(JANA).await;
    harvest::run(&portal.nb).await.expect("harvest");
    watch(&portal, &jana, json!({"caseNumber": "MZR/2026/4711"})).await;
    // Item 101 changes (its case number stays), item 102 is taken down.
    portal.sim.take_down("zdar", "https://simulace.example/desky/zdar/informace/101");
    let mut changed = serde_json::from_str::<Value>(include_str!("../fixtures/simulated-zdar-board.jsonld"))
        .expect("fixture")["informace"][0]
        .clone();
    changed["popis"] = json!({"cs": "Návrh rozpočtu – opravená příloha (simulace)."});
    portal.sim.post("zdar", changed);
    portal.sim.take_down("zdar", "https://simulace.example/desky/zdar/informace/102");
    let report = harvest::run(&portal.nb).await.expect("harvest");
    let zdar = status(&report, "sim-zdar");
    assert_eq!((zdar.new, zdar.changed, zdar.removed), (0, 1, 1), "{zdar:?}");
    assert!(notices(&portal).await.is_empty(), "a changed item is not a new one");
    let (_, _, body) =
        call(&portal.router, anonymous("/api/notice-boards/items?includeRemoved=true&authority=sim-zdar")).await;
    let items = json_of(&body)["items"].as_array().cloned().expect("items");
    let removed: Vec<&Value> = items.iter().filter(|i| !i["removedAt"].is_null()).collect();
    assert_eq!(removed.len(), 1);
    assert!(items.iter().any(|i| !i["changedAt"].is_null()));
    let (_, _, body) = call(&portal.router, anonymous("/api/notice-boards/items?authority=sim-zdar")).await;
    assert_eq!(json_of(&body)["items"].as_array().map(Vec::len), Some(2), "removed items are hidden by default");
}

#[tokio::test]
async fn a_repeated_match_after_a_crash_publishes_the_same_event_id() {
    let portal = portal().await;
    let jana = portal.harness.login(JANA).await;
    watch(&portal, &jana, json!({"keywords": ["rozpočtu"], "place": "odboru finančním"})).await;
    harvest::run(&portal.nb).await.expect("harvest");
    let first = notices(&portal).await;
    assert_eq!(first.len(), 1);
    // A crash after publishing and before the item was marked: it is pending again.
    let page = portal
        .nb
        .documents
        .query(COLLECTION, ITEMS_PARTITION, Query::default().filter("pending", FilterOp::Eq, false).page_size(100))
        .await
        .expect("items");
    for doc in page.items {
        let mut body = doc.body.clone();
        body["pending"] = json!(true);
        portal
            .nb
            .documents
            .upsert(COLLECTION, NewDocument::new(ITEMS_PARTITION, doc.id, body), None)
            .await
            .expect("reset");
    }
    harvest::run(&portal.nb).await.expect("harvest again");
    let again = notices(&portal).await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id, first[0].id, "the notifications capability keeps one notification per event id");
}

#[tokio::test]
async fn search_by_text_authority_dates_and_agenda() {
    let portal = portal().await;
    portal.sim.post("zdar", uzavirka());
    harvest::run(&portal.nb).await.expect("harvest");
    let search = |query: &'static str| {
        let router = portal.router.clone();
        async move {
            let (code, _, body) = call(&router, anonymous(&format!("/api/notice-boards/items?{query}"))).await;
            assert_eq!(code, StatusCode::OK, "{query}");
            json_of(&body)["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|i| i["title"].as_str().unwrap_or_default().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(search("q=UZAVIRKA%20jihlavska").await, ["Uzavírka silnice II/353 – Jihlavská ulice"]);
    assert_eq!(search("q=mzr/2026/4620").await, ["Veřejná vyhláška – stavební povolení, Masarykovo náměstí"]);
    assert_eq!(search("authority=00007064").await, ["Informace k nemocenskému pojištění"]);
    assert_eq!(
        search("from=2026-11-15&to=2026-11-20").await,
        ["Uzavírka místní komunikace Dolní", "Oznámení o zveřejnění návrhu rozpočtu města na rok 2027"]
    );
    assert_eq!(search("agenda=stavebni").await, ["Veřejná vyhláška – stavební povolení, Masarykovo náměstí"]);
    // Newest posting first.
    assert_eq!(search("authority=sim-zdar").await.len(), 4);
    assert_eq!(search("authority=sim-zdar").await[0], "Uzavírka silnice II/353 – Jihlavská ulice");
    let (code, _, body) = call(&portal.router, anonymous("/api/notice-boards/items?from=2026-13-01&limit=0")).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem_fields(&body), ["from", "limit"]);
}

#[tokio::test]
async fn watches_are_sealed_access_logged_listed_deleted_and_erased() {
    let portal = portal().await;
    let jana = portal.harness.login(JANA).await;
    let (code, body) = watch(&portal, &jana, json!({"keywords": []})).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (code, body) = watch(&portal, &jana, json!({"keywords": ["x"], "boards": ["a/b"], "colour": 1})).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (code, body) = watch(&portal, &jana, json!({"keywords": ["x"], "boards": ["a/b"]})).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> =
        body["errors"].as_array().expect("errors").iter().filter_map(|e| e["field"].as_str()).collect();
    assert_eq!(fields, ["keywords", "boards"]);

    let (code, created) = watch(&portal, &jana, json!({"keywords": ["Uzavírka"], "place": "Jihlavská"})).await;
    assert_eq!(code, StatusCode::CREATED);
    let id = created["id"].as_str().expect("id").to_owned();
    let stored = portal.nb.documents.get(COLLECTION, JANA, &id).await.expect("get").expect("stored");
    let raw = stored.body.to_string();
    assert!(!raw.contains("Uzavírka") && !raw.contains("Jihlavská"), "sealed: {raw}");

    let (code, _, body) = call(&portal.router, get("/api/me/notice-board-watches", &jana)).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(json_of(&body)["items"][0]["keywords"], json!(["Uzavírka"]));
    let petr = portal.harness.login(PETR).await;
    let (_, _, body) = call(&portal.router, get("/api/me/notice-board-watches", &petr)).await;
    assert_eq!(json_of(&body)["items"], json!([]), "Petr sees none of Jana's");
    let path = format!("/api/me/notice-board-watches/{id}");
    let (code, _, _) = call(&portal.router, write(Method::DELETE, &path, &petr, None)).await;
    assert_eq!(code, StatusCode::NOT_FOUND, "Petr cannot delete Jana's watch");
    let kinds: Vec<String> =
        portal.harness.access_entries(JANA).await.iter().map(|e| e.resource_type.clone()).collect();
    assert!(kinds.iter().any(|k| k == "notice-board-watch") && kinds.iter().any(|k| k == "notice-board-watches"));

    let (code, _, _) = call(&portal.router, write(Method::DELETE, &path, &jana, None)).await;
    assert_eq!(code, StatusCode::NO_CONTENT);
    let (code, _, _) = call(&portal.router, write(Method::DELETE, &path, &jana, None)).await;
    assert_eq!(code, StatusCode::NOT_FOUND);

    // Erasure: a second watch and its index entry go; Petr's stay.
    watch(&portal, &jana, json!({"keywords": ["kácení"]})).await;
    watch(&portal, &petr, json!({"keywords": ["kácení"]})).await;
    portal.nb.sealer.keys().shred(JANA).await.expect("the erasure shreds her key first");
    let event = Event::new(kinds::ERASED, &format!("{JANA}:1795420800"), JANA, portal_testkit::START, json!({}));
    for _ in 0..2 {
        portal_noticeboards::queue::erase_noticeboards_data::erase(&portal.nb, &event).await.expect("erased");
    }
    let left = portal.nb.documents.query(COLLECTION, JANA, Query::default()).await.expect("query");
    assert!(left.items.is_empty(), "nothing of hers is left");
    let index = portal.nb.documents.query(COLLECTION, WATCH_INDEX_PARTITION, Query::default()).await.expect("index");
    let owners: Vec<&str> = index.items.iter().filter_map(|d| d.body["owner"].as_str()).collect();
    assert_eq!(owners, [PETR], "only Petr's index entry is left");
}
