//! Delegation end to end, in process: invitations, acceptance, the one
//! question (`ActingFor<scope>`) asked by a probe route shaped like a
//! capability's, revocation taking effect on the next request, representation
//! of a child until the 18th birthday and of a company while in office, both
//! access logs, the principal's notices, and erasure.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::extract::Extension;
use axum::http::{Method, Request, StatusCode, header};
use axum::routing::get as get_route;
use axum::{Json, Router};
use portal_delegation::register::{DEMO_CHILD, DEMO_COMPANY, SimulatedRegister};
use portal_delegation::{Delegations, Names, NamesUnavailable, representation_id};
use portal_security::delegation::scope;
use portal_security::{AccessEntry, ActingFor, Action, Actor, Citizen, MandateCheck, RequestWiring, SubjectId};
use portal_testkit::{Harness, JANA, JIRI, Login, call_json, get, write};
use serde_json::{Value, json};
use time::macros::date;

const LUDMILA: &str = "DEMO%2Fludmila-stastna-zdarska";

#[derive(Debug)]
struct DemoNames(HashMap<&'static str, &'static str>);

#[async_trait]
impl Names for DemoNames {
    async fn name(&self, subject: &SubjectId) -> Result<Option<String>, NamesUnavailable> {
        Ok(self.0.get(subject.as_str()).map(|name| (*name).to_owned()))
    }
}

struct World {
    h: Harness,
    d: Arc<Delegations>,
    register: SimulatedRegister,
    router: Router,
}

/// A probe route shaped like a capability's read of the data box: it acts for
/// the owner the extractor names and records the read in both logs.
async fn read_messages(
    Extension(d): Extension<Arc<Delegations>>,
    acting: ActingFor<scope::DataboxRead>,
) -> Result<Json<Value>, portal_host::Problem> {
    let entry = AccessEntry::new(Actor::Citizen, Action::Read, "data-message", "m-1", "zobrazení zprávy");
    acting.record(&d.access_log, entry).await?;
    Ok(Json(json!({"owner": acting.owner().as_str()})))
}

/// A route that never acts for another person (like signing a petition).
async fn own_only(citizen: Citizen) -> Json<Value> {
    Json(json!({"owner": citizen.subject.as_str()}))
}

fn world() -> World {
    let h = Harness::new();
    let register = SimulatedRegister::default();
    let names = DemoNames(HashMap::from([
        (JANA, "Jana Nováková"),
        (JIRI, "Jiří Dvořák"),
        (LUDMILA, "Ludmila Šťastná Žďárská"),
    ]));
    let d = Arc::new(Delegations {
        documents: h.documents.clone(),
        queues: h.store.clone(),
        sealer: h.sealer.clone(),
        access_log: h.access_log.clone(),
        clock: h.clock.clone(),
        names: Arc::new(names),
        register: Arc::new(register.clone()),
    });
    let router = Router::new()
        .route("/probe/databox", get_route(read_messages))
        .route("/probe/petition", get_route(own_only))
        .merge(h.unwired_router(portal_delegation::functions(d.clone())))
        .layer(Extension(d.clone()))
        .layer(Extension(RequestWiring::new(h.authenticator.clone()).with_mandates(MandateCheck(d.clone()))));
    World { h, d, register, router }
}

fn acting(path: &str, login: &Login, grant: &str) -> Request<axum::body::Body> {
    Request::get(path)
        .header(header::COOKIE, &login.cookie)
        .header("x-acting-for", grant)
        .body(axum::body::Body::empty())
        .expect("request")
}

/// Ludmila invites, Jana accepts: the grant's id.
async fn ludmila_authorises_jana(w: &World, scopes: Value, ends_on: &str) -> (String, Login, Login) {
    let ludmila = w.h.login(LUDMILA).await;
    let jana = w.h.login(JANA).await;
    let body = json!({"scopes": scopes, "endsOn": ends_on});
    let (status, _, invitation) =
        call_json(&w.router, write(Method::POST, "/api/delegations", &ludmila, Some(body))).await;
    assert_eq!(status, StatusCode::CREATED, "{invitation}");
    let id = invitation["delegation"]["id"].as_str().expect("id").to_owned();
    let code = invitation["code"].as_str().expect("code").to_owned();
    assert_eq!(invitation["delegation"]["state"], "invited");
    let path = format!("/api/delegations/{id}/accept");
    let (status, _, accepted) =
        call_json(&w.router, write(Method::POST, &path, &jana, Some(json!({"code": code})))).await;
    assert_eq!(status, StatusCode::OK, "{accepted}");
    assert_eq!(
        (accepted["state"].as_str(), accepted["counterpart"].as_str()),
        (Some("active"), Some("Ludmila Šťastná Žďárská"))
    );
    (id, ludmila, jana)
}

async fn notices(w: &World) -> Vec<(String, String)> {
    w.h.drain("send-notification")
        .await
        .into_iter()
        .map(|event| {
            (event["type"].as_str().unwrap_or("").to_owned(), event["subject"].as_str().unwrap_or("").to_owned())
        })
        .collect()
}

#[tokio::test]
async fn an_authorised_read_is_in_both_logs_and_a_revocation_ends_it_on_the_next_request() {
    let w = world();
    let (grant, ludmila, jana) = ludmila_authorises_jana(&w, json!(["databox-read"]), "2026-12-23").await;
    assert_eq!(
        notices(&w).await,
        vec![("delegation.granted".into(), LUDMILA.into())],
        "Ludmila is told of the new grant"
    );

    let (status, _, body) = call_json(&w.router, acting("/probe/databox", &jana, &grant)).await;
    assert_eq!((status, body["owner"].as_str()), (StatusCode::OK, Some(LUDMILA)), "{body}");
    let (status, _, _) = call_json(&w.router, acting("/probe/databox", &jana, &grant)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(notices(&w).await, vec![("delegation.first-use".into(), LUDMILA.into())], "told of the first use only");

    let principal_log = w.h.access_entries(LUDMILA).await;
    let by_jana: Vec<_> = principal_log
        .iter()
        .filter(|e| matches!(&e.actor, Actor::Delegate { name, .. } if name == "Jana Nováková"))
        .collect();
    assert_eq!(by_jana.len(), 2, "Ludmila's log names Jana: {principal_log:?}");
    let own_log = w.h.access_entries(JANA).await;
    let for_ludmila = own_log
        .iter()
        .filter(|e| matches!(&e.actor, Actor::OnBehalfOf { principal, .. } if principal == "Ludmila Šťastná Žďárská"))
        .count();
    assert_eq!(for_ludmila, 2, "Jana's own log says she acted for Ludmila");

    let (status, _, _) =
        call_json(&w.router, write(Method::DELETE, &format!("/api/delegations/{grant}"), &ludmila, None)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, problem) = call_json(&w.router, acting("/probe/databox", &jana, &grant)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    assert_eq!(problem["type"], "/problems/delegation-refused");
    assert!(problem["detail"].as_str().unwrap_or("").contains(&grant), "the problem names the grant: {problem}");
    assert_eq!(notices(&w).await, vec![("delegation.ended".into(), LUDMILA.into())]);
}

#[tokio::test]
async fn a_grant_covers_only_its_scopes_its_delegate_and_its_days() {
    let w = world();
    let (grant, ludmila, jana) = ludmila_authorises_jana(&w, json!(["documents-read"]), "2026-11-30").await;
    let (status, _, problem) = call_json(&w.router, acting("/probe/databox", &jana, &grant)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "outside its scopes: {problem}");
    assert!(problem["detail"].as_str().unwrap_or("").contains("databox-read"));

    let jiri = w.h.login(JIRI).await;
    let (status, _, _) = call_json(&w.router, acting("/probe/databox", &jiri, &grant)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "another person cannot use Jana's grant");
    let (status, _, _) = call_json(&w.router, acting("/probe/databox", &ludmila, &grant)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "nor the principal herself");

    let (grant, _, jana) = ludmila_authorises_jana(&w, json!(["databox-read"]), "2026-11-30").await;
    let (status, _, _) = call_json(&w.router, acting("/probe/databox", &jana, &grant)).await;
    assert_eq!(status, StatusCode::OK);
    // 30 November ends at midnight in Prague (23:00 UTC).
    w.h.clock.set(time::macros::datetime!(2026-11-30 22:59 UTC));
    let jana = w.h.login(JANA).await;
    assert_eq!(call_json(&w.router, acting("/probe/databox", &jana, &grant)).await.0, StatusCode::OK);
    w.h.clock.set(time::macros::datetime!(2026-11-30 23:00 UTC));
    assert_eq!(call_json(&w.router, acting("/probe/databox", &jana, &grant)).await.0, StatusCode::FORBIDDEN);
    let _ = notices(&w).await;
    w.h.clock.advance(Duration::from_secs(8 * 3600));
    assert_eq!(
        portal_delegation::timer::notify_ended_delegations::run(&w.d).await.expect("run"),
        2,
        "both grants ended"
    );
    assert_eq!(portal_delegation::timer::notify_ended_delegations::run(&w.d).await.expect("again"), 0, "told once");
    let ended = notices(&w).await.into_iter().filter(|(kind, _)| kind == "delegation.ended").count();
    assert_eq!(ended, 2);
}

#[tokio::test]
async fn nothing_is_done_for_another_person_where_a_route_has_not_opted_in() {
    let w = world();
    let (grant, _, jana) = ludmila_authorises_jana(&w, json!(["databox-read", "documents-read"]), "2026-12-23").await;
    let (status, _, problem) = call_json(&w.router, acting("/probe/petition", &jana, &grant)).await;
    assert_eq!((status, problem["type"].as_str()), (StatusCode::FORBIDDEN, Some("/problems/not-delegable")));
    let (status, _, _) = call_json(&w.router, acting("/api/delegations", &jana, &grant)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "delegations themselves are never delegated");
}

#[tokio::test]
async fn invitations_are_accepted_once_by_someone_else_with_the_right_code() {
    let w = world();
    let ludmila = w.h.login(LUDMILA).await;
    let jana = w.h.login(JANA).await;
    let jiri = w.h.login(JIRI).await;
    let body = json!({"scopes": ["extracts"], "endsOn": "2026-12-01"});
    let (_, _, invitation) = call_json(&w.router, write(Method::POST, "/api/delegations", &ludmila, Some(body))).await;
    let id = invitation["delegation"]["id"].as_str().expect("id");
    let code = invitation["code"].as_str().expect("code");
    let accept = |login: &Login, code: &str| {
        write(Method::POST, &format!("/api/delegations/{id}/accept"), login, Some(json!({"code": code})))
    };
    assert_eq!(call_json(&w.router, accept(&jana, "wrong")).await.0, StatusCode::NOT_FOUND);
    assert_eq!(call_json(&w.router, accept(&ludmila, code)).await.0, StatusCode::CONFLICT, "not her own");
    assert_eq!(call_json(&w.router, accept(&jana, code)).await.0, StatusCode::OK);
    assert_eq!(call_json(&w.router, accept(&jana, code)).await.0, StatusCode::OK, "again: the same answer");
    assert_eq!(call_json(&w.router, accept(&jiri, code)).await.0, StatusCode::NOT_FOUND, "taken");

    for (body, field) in [
        (json!({"scopes": [], "endsOn": "2026-12-01"}), "scopes"),
        (json!({"scopes": ["extracts"], "endsOn": "2028-01-01"}), "endsOn"),
        (json!({"scopes": ["extracts"], "endsOn": "2026-11-01"}), "endsOn"),
        (json!({"scopes": ["extracts"], "endsOn": "tomorrow"}), "endsOn"),
    ] {
        let (status, _, problem) =
            call_json(&w.router, write(Method::POST, "/api/delegations", &ludmila, Some(body))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert_eq!(problem["errors"][0]["field"], field);
    }
    let (status, _, problem) = call_json(
        &w.router,
        write(
            Method::POST,
            "/api/delegations",
            &ludmila,
            Some(json!({"scopes": ["petitions"], "endsOn": "2026-12-01"})),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "petitions are never delegable: {problem}");

    let (status, _, lists) = call_json(&w.router, get("/api/delegations", &ludmila)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (lists["given"][0]["counterpart"].as_str(), lists["received"].as_array().map(Vec::len)),
        (Some("Jana Nováková"), Some(0))
    );
    let (_, _, lists) = call_json(&w.router, get("/api/delegations", &jana)).await;
    assert_eq!(lists["received"][0]["counterpart"], "Ludmila Šťastná Žďárská");
    assert_eq!(lists["representations"][0]["counterpart"], "Tomáš Novák");
    assert_eq!(lists["representations"][0]["simulated"], true);
}

#[tokio::test]
async fn a_parent_acts_for_a_child_until_eighteen_and_a_director_while_in_office() {
    let w = world();
    let jana = w.h.login(JANA).await;
    let child = SubjectId::parse(DEMO_CHILD).expect("subject");
    let for_child = representation_id(&SubjectId::parse(JANA).expect("subject"), &child);
    let (status, _, body) = call_json(&w.router, acting("/probe/databox", &jana, &for_child)).await;
    assert_eq!((status, body["owner"].as_str()), (StatusCode::OK, Some(DEMO_CHILD)));
    let child_log = w.h.access_entries(DEMO_CHILD).await;
    assert!(child_log.iter().any(|e| matches!(&e.actor, Actor::Delegate { name, .. } if name == "Jana Nováková")));
    let (status, _, _) = call_json(&w.router, acting("/probe/petition", &jana, &for_child)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "nobody signs a petition as the child");

    // Tomáš turns 18 on 10 May 2034 (Prague).
    w.h.clock.set(time::macros::datetime!(2034-05-09 21:59 UTC));
    let jana = w.h.login(JANA).await;
    assert_eq!(call_json(&w.router, acting("/probe/databox", &jana, &for_child)).await.0, StatusCode::OK);
    w.h.clock.set(time::macros::datetime!(2034-05-09 22:00 UTC));
    let jana = w.h.login(JANA).await;
    assert_eq!(call_json(&w.router, acting("/probe/databox", &jana, &for_child)).await.0, StatusCode::FORBIDDEN);

    w.h.clock.set(portal_testkit::START);
    let jiri = w.h.login(JIRI).await;
    let company = SubjectId::parse(DEMO_COMPANY).expect("subject");
    let for_company = representation_id(&SubjectId::parse(JIRI).expect("subject"), &company);
    assert_eq!(call_json(&w.router, acting("/probe/databox", &jiri, &for_company)).await.0, StatusCode::OK);
    assert_eq!(call_json(&w.router, acting("/probe/databox", &jana, &for_company)).await.0, StatusCode::FORBIDDEN);
    // The simulated register's control: only the representative may use it, only on a company's.
    let leave = |id: &str| format!("/api/delegations/{id}/simulated-leaving-office");
    let (status, _, _) = call_json(&w.router, write(Method::POST, &leave(&for_company), &jana, None)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "Jana is not the company's director");
    let (status, _, _) = call_json(&w.router, write(Method::POST, &leave(&for_child), &jana, None)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a child's representation does not end in office");
    assert_eq!(call_json(&w.router, acting("/probe/databox", &jiri, &for_company)).await.0, StatusCode::OK);
    let (status, _, change) = call_json(&w.router, write(Method::POST, &leave(&for_company), &jiri, None)).await;
    assert_eq!(status, StatusCode::OK, "{change}");
    assert_eq!((change["inOfficeUntil"].as_str(), change["simulated"].as_bool()), (Some("2026-11-22"), Some(true)));
    let (status, _, problem) = call_json(&w.router, acting("/probe/databox", &jiri, &for_company)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "out of office: {problem}");
    assert_eq!(problem["type"], "/problems/delegation-refused", "{problem}");
    assert!(problem["detail"].as_str().is_some_and(|d| d.contains(&for_company) && d.contains("ended")), "{problem}");
    let (_, _, lists) = call_json(&w.router, get("/api/delegations", &jiri)).await;
    let listed = lists["representations"].as_array().and_then(|all| all.iter().find(|r| r["id"] == *for_company));
    assert_eq!(listed.map(|r| r["state"].clone()), Some(json!("ended")), "{lists}");
    // Restored by the register (the simulator's own method): he acts again.
    w.register.end_directorship(date!(2099 - 12 - 31));
    assert_eq!(call_json(&w.router, acting("/probe/databox", &jiri, &for_company)).await.0, StatusCode::OK);
}

#[tokio::test]
async fn erasure_ends_every_grant_of_the_citizen_on_both_sides() {
    let w = world();
    let (grant, _, jana) = ludmila_authorises_jana(&w, json!(["databox-read"]), "2026-12-23").await;
    let event = portal_events::Event::new(
        portal_events::kinds::ERASED,
        "1",
        LUDMILA,
        portal_store::Clock::now(w.h.clock.as_ref()),
        json!({}),
    );
    let refused = portal_delegation::queue::erase_delegations_data::erase(&w.d, &event).await;
    assert!(refused.is_err(), "a forged erasure (no shredded key) deletes nothing");
    assert_eq!(call_json(&w.router, acting("/probe/databox", &jana, &grant)).await.0, StatusCode::OK);

    w.h.keys.shred(LUDMILA).await.expect("shred");
    portal_delegation::queue::erase_delegations_data::erase(&w.d, &event).await.expect("erase");
    portal_delegation::queue::erase_delegations_data::erase(&w.d, &event).await.expect("replayed");
    assert_eq!(call_json(&w.router, acting("/probe/databox", &jana, &grant)).await.0, StatusCode::FORBIDDEN);
    let (_, _, lists) = call_json(&w.router, get("/api/delegations", &jana)).await;
    assert_eq!(lists["received"].as_array().map(Vec::len), Some(0), "{lists}");
    let left = portal_store::DocumentStore::get(w.h.documents.as_ref(), portal_delegation::COLLECTION, &grant, "grant")
        .await
        .expect("get");
    assert!(left.is_none(), "the grant with both subject ids is gone");
}

/// The parts of `subject`'s export, parsed (`delegations.json`).
async fn exported(w: &World, subject: &str) -> Value {
    use portal_security::export::ExportSource;
    let parts = w.d.export(&SubjectId::parse(subject).expect("subject")).await.expect("export");
    let paths: Vec<&str> = parts.iter().map(|part| part.path.as_str()).collect();
    assert_eq!(paths, ["delegations.json"]);
    serde_json::from_slice(&parts[0].content).expect("JSON")
}

#[tokio::test]
async fn the_export_holds_both_sides_of_a_grant_and_the_other_sides_name_only_while_readable() {
    let w = world();
    let (grant, ludmila, _) = ludmila_authorises_jana(&w, json!(["databox-read", "filings"]), "2026-12-23").await;
    let given = exported(&w, LUDMILA).await;
    assert_eq!(given["given"][0]["id"], json!(grant), "{given}");
    assert_eq!(given["given"][0]["role"], "principal");
    assert_eq!(given["given"][0]["counterpart"], "Jana Nováková", "the delegate's name, opened: {given}");
    assert_eq!(given["given"][0]["scopes"], json!(["databox-read", "filings"]));
    assert_eq!(given["given"][0]["state"], "active");
    assert!(given["given"][0]["acceptedAt"].is_string() && given["given"][0]["revokedAt"].is_null(), "{given}");
    assert!(given["given"][0].get("invitation").is_none(), "never the invitation's hash: {given}");
    assert_eq!((given["received"].clone(), given["representations"].clone()), (json!([]), json!([])));
    assert_eq!(given["representationsKnown"], true);

    let received = exported(&w, JANA).await;
    assert_eq!(received["received"][0]["id"], json!(grant), "{received}");
    assert_eq!(received["received"][0]["counterpart"], "Ludmila Šťastná Žďárská", "{received}");
    assert_eq!(received["given"], json!([]));
    let son = &received["representations"][0];
    assert_eq!((&son["principalName"], &son["state"]), (&json!("Tomáš Novák"), &json!("active")), "{received}");
    assert_eq!((&son["born"], &son["simulated"]), (&json!("2016-05-10"), &json!(true)), "{received}");

    // Revoked by Ludmila, the state and who ended it are in the export.
    let path = format!("/api/delegations/{grant}");
    let (status, _, body) = call_json(&w.router, write(Method::DELETE, &path, &ludmila, None)).await;
    assert!(status.is_success(), "{body}");
    let given = exported(&w, LUDMILA).await;
    assert_eq!(
        (&given["given"][0]["state"], &given["given"][0]["revokedBy"]),
        (&json!("revoked"), &json!("principal"))
    );

    // Ludmila's key is shredded (her erasure not yet run): Jana's export
    // still builds, without the name it can no longer read.
    w.h.keys.shred(LUDMILA).await.expect("shred");
    let received = exported(&w, JANA).await;
    assert_eq!(received["received"][0]["id"], json!(grant), "{received}");
    assert_eq!(received["received"][0]["counterpart"], "", "{received}");
}
