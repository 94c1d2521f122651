//! Issue 17's acceptance for the pension calculator and the notice boards,
//! tried as a citizen would, against the whole app in local mode: the local
//! host delivers the queues and invokes the timer with the envelopes the
//! Functions host sends, and the notice boards are the simulator's feeds over
//! real HTTP.
//!
//! - Without logging in, an estimate for someone born in 1970 with 40 years of
//!   insurance: the breakdown and the retirement date.
//! - Logged in as Ludmila: the estimate prefilled from the (simulated) ČSSZ record.
//! - Jana watches "uzavírka"; the harvester runs twice; exactly one
//!   notification reaches her inbox.

mod support;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use support::Portal;
use time::macros::datetime;

async fn portal() -> Portal {
    Portal::start(datetime!(2026-11-23 08:00 UTC), |_| {}).await
}

#[tokio::test]
async fn a_new_user_estimates_a_pension_and_ludmila_sees_hers_prefilled() {
    let portal = portal().await;
    let request = Request::post("/api/pension/estimate")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            json!({"birthDate": "1970-05-14", "sex": "male", "insuranceYears": 40, "averageMonthlyEarnings": 40000})
                .to_string(),
        ))
        .expect("request");
    let (status, estimate) = portal.call_json(request).await;
    assert_eq!(status, StatusCode::OK, "{estimate}");
    assert_eq!(estimate["retirementDate"], "2035-10-14");
    assert_eq!(estimate["parametersYear"], 2026);
    assert_eq!(estimate["breakdown"]["basicAmount"], 4900);
    assert_eq!(estimate["breakdown"]["total"], 20_526);
    assert!(estimate["breakdown"]["lines"].as_array().is_some_and(|l| l.len() >= 5));

    let ludmila = portal.login("ludmila").await;
    let (status, mine) = portal.json_call("GET", "/api/me/pension/estimate", &ludmila, None).await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    assert_eq!(mine["simulated"], true, "the ČSSZ record is the simulator's");
    assert!(mine["provenance"].as_array().expect("provenance").iter().any(|p| p["source"] == "cssz"));
}

#[tokio::test]
async fn a_watch_of_uzavirka_brings_exactly_one_notification_over_two_harvests() {
    let portal = portal().await;
    let jana = portal.login("jana").await;
    let (status, watch) =
        portal.json_call("POST", "/api/me/notice-board-watches", &jana, Some(json!({"keywords": ["uzavírka"]}))).await;
    assert_eq!(status, StatusCode::CREATED, "{watch}");
    portal.settle().await;
    let (_, before) = portal.json_call("GET", "/api/notifications", &jana, None).await;
    let count = |inbox: &Value| {
        inbox["items"].as_array().map_or(0, |items| {
            items.iter().filter(|n| n["title"].as_str().is_some_and(|t| t.starts_with("Nové na úřední desce"))).count()
        })
    };
    assert_eq!(count(&before), 0);

    for _ in 0..2 {
        portal.run_timer("HarvestNoticeBoards").await;
        portal.clock.advance(Duration::from_secs(3600));
        portal.settle().await;
    }
    // Two hours later her session has lapsed: she logs in again.
    let jana = portal.login("jana").await;
    let (_, inbox) = portal.json_call("GET", "/api/notifications", &jana, None).await;
    assert_eq!(count(&inbox), 1, "exactly one notification: {inbox}");
    let (status, boards) = portal.call_json(Request::get("/api/notice-boards").body(Body::empty()).expect("r")).await;
    assert_eq!(status, StatusCode::OK);
    let failed: Vec<&str> = boards["items"]
        .as_array()
        .expect("boards")
        .iter()
        .filter(|b| b["lastStatus"] == "failed")
        .filter_map(|b| b["id"].as_str())
        .collect();
    assert_eq!(failed, ["sim-broken", "sim-slow"], "the bad feeds are reported, the others harvested");
}
