//! Notice boards' part of the citizen's export: every watch, oldest first,
//! opened from its seal; only the citizen's own.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use portal_noticeboards::{BoardSimulator, NoticeBoardSettings, NoticeBoards, StaticBoards, functions};
use portal_security::SubjectId;
use portal_security::export::ExportSource as _;
use portal_testkit::{Harness, JANA, PETR, call, json_of, write};
use serde_json::{Value, json};

async fn exported(nb: &NoticeBoards, subject: &str) -> Value {
    let parts = nb.export(&SubjectId::parse(subject).expect("subject")).await.expect("export");
    let paths: Vec<&str> = parts.iter().map(|part| part.path.as_str()).collect();
    assert_eq!(paths, ["watches.json"]);
    serde_json::from_slice(&parts[0].content).expect("JSON")
}

#[tokio::test]
async fn the_export_holds_every_watch_opened_and_only_the_citizens_own() {
    let harness = Harness::new();
    let sim = BoardSimulator::start().await.expect("simulator");
    let nb = NoticeBoards {
        boards: Arc::new(StaticBoards(sim.boards())),
        documents: harness.store.clone(),
        queues: harness.store.clone(),
        sealer: harness.sealer.clone(),
        access_log: harness.access_log.clone(),
        clock: harness.clock.clone(),
        settings: NoticeBoardSettings::default(),
    };
    let router = harness.router(functions(nb.clone()));
    let jana = harness.login(JANA).await;
    let mut ids = Vec::new();
    for body in [
        json!({"keywords": ["uzavírka", "kácení stromů"], "place": "Jihlavská"}),
        json!({"caseNumber": "MZR/2026/4800", "boards": ["zdar"]}),
    ] {
        let request = write(Method::POST, "/api/me/notice-board-watches", &jana, Some(body));
        let (status, _, created) = call(&router, request).await;
        let created = json_of(&created);
        assert_eq!(status, StatusCode::CREATED, "{created}");
        ids.push(created["id"].as_str().expect("id").to_owned());
        harness.clock.advance(Duration::from_secs(60));
    }

    let watches = exported(&nb, JANA).await;
    assert_eq!(watches.as_array().map(Vec::len), Some(2), "{watches}");
    assert_eq!((&watches[0]["id"], &watches[1]["id"]), (&json!(ids[0]), &json!(ids[1])), "oldest first");
    assert_eq!(watches[0]["keywords"], json!(["uzavírka", "kácení stromů"]), "opened: {watches}");
    assert_eq!(watches[0]["place"], "Jihlavská");
    assert_eq!(watches[0]["boards"], json!([]), "every board");
    assert_eq!(watches[1]["caseNumber"], "MZR/2026/4800");
    assert_eq!(watches[1]["boards"], json!(["zdar"]));
    assert!(watches[0]["createdAt"].as_str().is_some_and(|t| t.starts_with("20")), "{watches}");
    assert!(!watches.to_string().contains("sealed"), "opened, not sealed: {watches}");

    assert_eq!(exported(&nb, PETR).await, json!([]), "Petr watches nothing");
}
