//! The delegation walk: every secured operation of the API document, sent by
//! Jana under a grant of Ludmila's (`X-Acting-For`), in three situations: a
//! grant covering the route's scope, a grant not covering it, and a revoked
//! grant. Only the routes that opted in to a scope may answer with success,
//! only for a grant with that scope, and then with Ludmila's data; every
//! other route refuses anything sent for another person (403). The document
//! is the list, so a new route joins the walk by itself.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use portal::app::{self, Services, Stores};
use portal_store::SystemClock;
use portal_store::embedded::EmbeddedStore;
use serde_json::{Value, json};
use tower::ServiceExt as _;

/// The operations that act for another person, by scope. Everything else
/// (petitions above all) must refuse `X-Acting-For`.
const OPTED_IN: &[(&str, &[&str])] = &[
    ("databox-read", &["ListDataMessages", "ShowDataMessage", "DownloadAttachment", "DownloadZfo"]),
    ("documents-read", &["ListDocuments", "ShowDocument", "DownloadDocument"]),
    ("extracts", &["ListExtracts", "ShowExtract"]),
    ("filings", &["ListFilings", "ShowFiling"]),
];

fn scope_of(operation: &str) -> Option<&'static str> {
    OPTED_IN.iter().find(|(_, ops)| ops.contains(&operation)).map(|(scope, _)| *scope)
}

struct Browser {
    cookie: String,
    csrf: String,
}

async fn send(router: &axum::Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn log_in(router: &axum::Router, citizen: &str) -> Browser {
    let request = Request::post("/api/auth/dev/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!("citizen={citizen}&loa=substantial&returnTo=%2F")))
        .expect("request");
    let response = router.clone().oneshot(request).await.expect("infallible");
    assert!(response.status().is_redirection(), "the development login redirects");
    let cookie = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("__Host-portal_session="))
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_owned();
    let request = Request::get("/api/auth/session").header(header::COOKIE, &cookie).body(Body::empty()).expect("req");
    let (_, session) = send(router, request).await;
    Browser { cookie, csrf: session["csrfToken"].as_str().expect("csrf").to_owned() }
}

impl Browser {
    fn request(&self, method: &str, path: &str, acting_for: Option<&str>) -> Request<Body> {
        let mut builder = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).expect("method"))
            .uri(path)
            .header(header::COOKIE, &self.cookie)
            .header("x-csrf-token", &self.csrf)
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(grant) = acting_for {
            builder = builder.header("x-acting-for", grant);
        }
        let body = if method == "GET" || method == "DELETE" { Body::empty() } else { Body::from("{}") };
        builder.body(body).expect("request")
    }
}

/// Uploads a small text file as `who`; the document's id.
async fn upload(router: &axum::Router, who: &Browser, name: &str, content: &[u8]) -> String {
    let boundary = "walk-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
         Content-Type: text/plain\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let request = Request::post("/api/documents")
        .header(header::COOKIE, &who.cookie)
        .header("x-csrf-token", &who.csrf)
        .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
        .body(Body::from(body))
        .expect("request");
    let (status, created) = send(router, request).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created["id"].as_str().expect("document id").to_owned()
}

/// Ludmila invites Jana with `scopes`; Jana accepts. The grant's id.
async fn grant(router: &axum::Router, ludmila: &Browser, jana: &Browser, scopes: &[&str]) -> String {
    let body = json!({"scopes": scopes, "endsOn": "2026-12-31"}).to_string();
    let mut request = ludmila.request("POST", "/api/delegations", None);
    *request.body_mut() = Body::from(body);
    let (status, invitation) = send(router, request).await;
    assert_eq!(status, StatusCode::CREATED, "{invitation}");
    let id = invitation["delegation"]["id"].as_str().expect("id").to_owned();
    let mut request = jana.request("POST", &format!("/api/delegations/{id}/accept"), None);
    *request.body_mut() = Body::from(json!({"code": invitation["code"]}).to_string());
    let (status, accepted) = send(router, request).await;
    assert_eq!(status, StatusCode::OK, "{accepted}");
    id
}

/// Every secured operation as (operation id, method, path with its ids
/// filled, whether anonymous callers may use it too); `ids` fills the
/// parameters of the paths that start with its key.
fn secured_operations(document: &Value, ids: &BTreeMap<&str, (&str, String)>) -> Vec<(String, String, String, bool)> {
    let mut found = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            let secured = operation["security"]
                .as_array()
                .is_some_and(|schemes| schemes.iter().any(|s| s.get("session").is_some()));
            if !secured {
                continue;
            }
            let optional = operation["security"]
                .as_array()
                .is_some_and(|schemes| schemes.iter().any(|s| s.as_object().is_some_and(serde_json::Map::is_empty)));
            let mut filled = path.clone();
            for (prefix, (name, value)) in ids {
                if filled.starts_with(prefix) {
                    filled = filled.replace(&format!("{{{name}}}"), value);
                }
            }
            // Any parameter without a real id gets one that exists nowhere.
            while let (Some(open), Some(close)) = (filled.find('{'), filled.find('}')) {
                filled.replace_range(open..=close, "walk-0000");
            }
            let id = operation["operationId"].as_str().expect("operation id").to_owned();
            found.push((id, method.to_uppercase(), filled, optional));
        }
    }
    found
}

#[tokio::test]
async fn only_opted_in_routes_act_for_another_person_and_only_within_a_grant_in_force() {
    let clock = std::sync::Arc::new(SystemClock);
    let stores = Stores::embedded(EmbeddedStore::in_memory(clock.clone()).expect("store"), clock);
    let mut settings = portal_config::Settings::from_lookup(|_| None).expect("defaults");
    settings.store = portal_config::StoreSettings::Embedded { data_dir: ".portal".into(), in_memory: true };
    // The walk writes far faster than a person; the per-session limit would answer 429 first.
    settings.writes_per_minute = 1_000_000;
    let services = Services::with_stores(stores, &settings).await.expect("services");
    let router = app::app(&services, &settings, None).expect("app").router();
    let (_, document) = send(&router, Request::get("/api/openapi.json").body(Body::empty()).expect("req")).await;

    let ludmila = log_in(&router, "ludmila").await;
    let jana = log_in(&router, "jana").await;
    let note = upload(&router, &ludmila, "poznamka.txt", b"Ludmilina poznamka").await;
    let (status, own) = send(&router, ludmila.request("GET", "/api/documents", None)).await;
    assert!(status.is_success(), "{own}");
    let read = grant(&router, &ludmila, &jana, &["documents-read"]).await;
    let databox_only = grant(&router, &ludmila, &jana, &["databox-read"]).await;

    // Inside the grant: Ludmila's documents, not Jana's.
    let (status, theirs) = send(&router, jana.request("GET", "/api/documents", Some(&read))).await;
    assert_eq!(status, StatusCode::OK, "{theirs}");
    assert_eq!(theirs["items"], own["items"], "Jana sees exactly Ludmila's documents under the grant");
    let (_, janas) = send(&router, jana.request("GET", "/api/documents", None)).await;
    assert_ne!(janas["items"], own["items"], "and her own without it");
    let (status, shown) = send(&router, jana.request("GET", &format!("/api/documents/{note}"), Some(&read))).await;
    assert_eq!((status, shown["id"].as_str()), (StatusCode::OK, Some(note.as_str())), "{shown}");
    let (status, _) = send(&router, jana.request("GET", &format!("/api/documents/{note}"), None)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "without the header Jana asks for her own document: none such");
    // The data box under a `databox-read` grant: Ludmila's box, not Jana's.
    let (status, ludmilas_box) = send(&router, ludmila.request("GET", "/api/databox/messages", None)).await;
    assert!(status.is_success(), "{ludmilas_box}");
    let (status, under_grant) = send(&router, jana.request("GET", "/api/databox/messages", Some(&databox_only))).await;
    assert_eq!(status, StatusCode::OK, "{under_grant}");
    assert_eq!(under_grant["items"], ludmilas_box["items"], "Jana lists Ludmila's messages under the grant");
    let (_, janas_box) = send(&router, jana.request("GET", "/api/databox/messages", None)).await;
    assert_ne!(janas_box["items"], ludmilas_box["items"]);
    let (status, _) = send(&router, jana.request("GET", "/api/databox/messages", Some(&read))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a documents grant does not open the data box");
    let mut ids = BTreeMap::new();
    ids.insert("/api/documents/", ("id", note.clone()));

    let operations = secured_operations(&document, &ids);
    assert!(operations.len() >= 40, "the walk covers the secured API ({} operations)", operations.len());
    let mut refused = 0;
    for (operation, method, path, optional) in &operations {
        for (grant, scope) in [(&read, "documents-read"), (&databox_only, "databox-read")] {
            if scope_of(operation).is_some_and(|needed| needed != "documents-read" && needed != "databox-read") {
                // Extracts and filings: no grant here covers them; both must refuse.
                let (status, body) = send(&router, jana.request(method, path, Some(grant))).await;
                assert_eq!(status, StatusCode::FORBIDDEN, "{operation} outside the grant's scopes: {body}");
                continue;
            }
            let (status, body) = send(&router, jana.request(method, path, Some(grant))).await;
            match scope_of(operation) {
                Some(needed) if needed == scope => assert!(
                    !status.is_server_error(),
                    "{operation} {method} {path} under a grant with its scope: {status} {body}"
                ),
                Some(_) => {
                    assert_eq!(status, StatusCode::FORBIDDEN, "{operation} outside the grant's scopes: {body}");
                    assert_eq!(body["type"], "/problems/delegation-refused", "{operation}: {body}");
                }
                // A route anonymous callers may use too never acts for anybody;
                // every other one refuses the header outright.
                None if *optional => {
                    assert!(!status.is_success(), "{operation} {method} {path} acted for another person: {body}");
                }
                None => {
                    assert_eq!(
                        status,
                        StatusCode::FORBIDDEN,
                        "{operation} {method} {path} acted for another person: {body}"
                    );
                    refused += 1;
                }
            }
        }
    }
    assert!(refused > 0);

    // Revoked: nothing at all, on the very next request.
    let (status, _) = send(&router, ludmila.request("DELETE", &format!("/api/delegations/{read}"), None)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for (operation, method, path, optional) in &operations {
        let (status, body) = send(&router, jana.request(method, path, Some(&read))).await;
        if *optional {
            assert!(!status.is_success(), "{operation} {method} {path} under a revoked grant: {body}");
        } else {
            assert_eq!(status, StatusCode::FORBIDDEN, "{operation} {method} {path} under a revoked grant: {body}");
        }
    }
}

/// An app over in-memory stores with the simulated registers and ISDS.
async fn local_app() -> (Services, axum::Router, Value) {
    let clock = std::sync::Arc::new(SystemClock);
    let stores = Stores::embedded(EmbeddedStore::in_memory(clock.clone()).expect("store"), clock);
    let mut settings = portal_config::Settings::from_lookup(|_| None).expect("defaults");
    settings.store = portal_config::StoreSettings::Embedded { data_dir: ".portal".into(), in_memory: true };
    // The walk writes far faster than a person; the per-session limit would answer 429 first.
    settings.writes_per_minute = 1_000_000;
    let services = Services::with_stores(stores, &settings).await.expect("services");
    let router = app::app(&services, &settings, None).expect("app").router();
    let (_, document) = send(&router, Request::get("/api/openapi.json").body(Body::empty()).expect("req")).await;
    (services, router, document)
}

/// The issue's acceptance: "Jiří reads his company's data box; after the
/// company's simulated register changes him out of office, he cannot."
#[tokio::test]
async fn a_director_reads_the_company_box_until_the_register_changes_him_out_of_office() {
    let (services, router, _) = local_app().await;
    let jiri = log_in(&router, "jiri").await;
    let (status, lists) = send(&router, jiri.request("GET", "/api/delegations", None)).await;
    assert_eq!(status, StatusCode::OK, "{lists}");
    let company = lists["representations"]
        .as_array()
        .and_then(|all| all.iter().find(|r| r["kind"] == "statutory-body"))
        .unwrap_or_else(|| panic!("Jiří represents his company: {lists}"));
    assert_eq!((company["state"].as_str(), company["simulated"].as_bool()), (Some("active"), Some(true)));
    let grant = company["id"].as_str().expect("id").to_owned();

    // The company's own box (FindDataBox by its IČO), not Jiří's.
    let (status, own) = send(&router, jiri.request("GET", "/api/databox/messages", None)).await;
    assert_eq!(status, StatusCode::OK, "{own}");
    let (status, theirs) = send(&router, jiri.request("GET", "/api/databox/messages", Some(&grant))).await;
    assert_eq!(status, StatusCode::OK, "{theirs}");
    let subjects = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["subject"].as_str().map(str::to_owned))
            .collect()
    };
    assert!(subjects(&theirs).iter().any(|s| s.contains("právnických osob")), "the company's messages: {theirs}");
    assert!(subjects(&theirs).iter().all(|s| !subjects(&own).contains(s)), "none of Jiří's own: {theirs}");
    let message = theirs["items"][0]["id"].as_str().expect("a message id").to_owned();
    let (status, shown) =
        send(&router, jiri.request("GET", &format!("/api/databox/messages/received/{message}"), Some(&grant))).await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    for download in ["zfo", "attachments/0"] {
        let path = format!("/api/databox/messages/received/{message}/{download}");
        let response = router.clone().oneshot(jiri.request("GET", &path, Some(&grant))).await.expect("infallible");
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
    // Both logs: the company's names Jiří, Jiří's says he acted for the company.
    let company_subject = portal_security::SubjectId::parse("DEMO%2Fico-27074358").expect("subject");
    let filter = portal_security::AccessFilter::default();
    let company_log = services.access_log.list(&company_subject, &filter, 100, None).await.expect("log");
    assert!(
        company_log.items.iter().any(|e| matches!(&e.actor,
            portal_security::Actor::Delegate { grant: g, name } if *g == grant && name.contains("Dvořák"))),
        "{:?}",
        company_log.items
    );
    let (_, jiris_log) = send(&router, jiri.request("GET", "/api/me/access-log", None)).await;
    assert!(
        jiris_log["items"].as_array().into_iter().flatten().any(|e| e["actor"]["kind"] == "onBehalfOf"
            && e["actor"]["grant"] == grant.as_str()
            && e["actor"]["principal"].as_str().is_some_and(|p| p.contains("Dvořák stavby"))),
        "{jiris_log}"
    );

    // The simulated commercial register records that he left office.
    let path = format!("/api/delegations/{grant}/simulated-leaving-office");
    let (status, change) = send(&router, jiri.request("POST", &path, None)).await;
    assert_eq!(status, StatusCode::OK, "{change}");
    for path in ["/api/databox/messages".to_owned(), format!("/api/databox/messages/received/{message}")] {
        let (status, problem) = send(&router, jiri.request("GET", &path, Some(&grant))).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path} out of office: {problem}");
        assert_eq!(problem["type"], "/problems/delegation-refused", "{problem}");
        assert!(
            problem["detail"].as_str().is_some_and(|d| d.contains(&grant)),
            "the problem names the grant: {problem}"
        );
    }
    let (status, still_own) = send(&router, jiri.request("GET", "/api/databox/messages", None)).await;
    assert_eq!((status, subjects(&still_own)), (StatusCode::OK, subjects(&own)), "his own box stays his");
}
