//! The delegation walk: every secured operation of the API document, sent by
//! Jana in three situations against Ludmila's data: as herself (own data,
//! Ludmila's ids in the path), under a grant of Ludmila's covering the route's
//! scope, and under grants covering other scopes; then under a revoked grant.
//! Only the routes that opted in to a scope may act for Ludmila, only under a
//! grant with that scope; as herself Jana never reaches Ludmila's data; every
//! route that has not opted in refuses anything sent for another person (403).
//! The document is the list, so a new route joins the walk by itself.

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
    ("databox-send", &["SendDataMessage"]),
    ("documents-read", &["ListDocuments", "ShowDocument", "DownloadDocument"]),
    ("documents-write", &["UploadDocument", "ChangeDocument", "DeleteDocument"]),
    ("extracts", &["ListExtracts", "ShowExtract"]),
    ("filings", &["ListFilings", "ShowFiling"]),
];

/// Left out of the own-data situation: they end the walker's own session or
/// account (the identity tests cover them), and nothing of Ludmila's is in reach.
const ENDS_THE_WALKER: &[&str] = &["Logout", "EraseMe"];

/// The walker's own access log (and the export that holds it) names what she
/// did for Ludmila under a grant, by design ("jednala za …"): the only own
/// answers that may name Ludmila's documents.
const OWN_RECORDS_OF_ACTING: &[&str] = &["MyAccessLog", "ExportMe"];

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
    let (status, created) = upload_as(router, who, None, None, name, content).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created["id"].as_str().expect("document id").to_owned()
}

/// Uploads a small text file as `who`, under `grant` and with an
/// `Idempotency-Key` when given; the answer.
async fn upload_as(
    router: &axum::Router,
    who: &Browser,
    grant: Option<&str>,
    key: Option<&str>,
    name: &str,
    content: &[u8],
) -> (StatusCode, Value) {
    let boundary = "walk-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
         Content-Type: text/plain\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let mut request = Request::post("/api/documents")
        .header(header::COOKIE, &who.cookie)
        .header("x-csrf-token", &who.csrf)
        .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"));
    if let Some(grant) = grant {
        request = request.header("x-acting-for", grant);
    }
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    send(router, request.body(Body::from(body)).expect("request")).await
}

/// Ludmila invites Jana with `scopes`; Jana accepts. The grant's id.
async fn grant(router: &axum::Router, ludmila: &Browser, jana: &Browser, scopes: &[&str]) -> String {
    // A month from today (at most a year is allowed): the walk never ages out.
    let ends_on = (time::OffsetDateTime::now_utc().date() + time::Duration::days(30)).to_string();
    let body = json!({"scopes": scopes, "endsOn": ends_on}).to_string();
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
async fn every_personal_route_as_oneself_inside_a_grants_scopes_and_outside_them() {
    let (_services, router, document) = local_app().await;
    let ludmila = log_in(&router, "ludmila").await;
    let jana = log_in(&router, "jana").await;
    let note = upload(&router, &ludmila, "poznamka.txt", b"Ludmilina poznamka").await;
    let walked_away = upload(&router, &ludmila, "kosik.txt", b"Ludmilin kosik").await;
    let doomed = upload(&router, &ludmila, "smazat.txt", b"Ludmilino smazat").await;
    let (status, own) = send(&router, ludmila.request("GET", "/api/documents", None)).await;
    assert!(status.is_success(), "{own}");
    // One grant per scope, each with that scope alone.
    let mut grants = BTreeMap::new();
    for (scope, _) in OPTED_IN {
        grants.insert(*scope, grant(&router, &ludmila, &jana, &[scope]).await);
    }
    let (read, write, databox_only) = (&grants["documents-read"], &grants["documents-write"], &grants["databox-read"]);

    // Inside the grant: Ludmila's documents, not Jana's.
    let (status, theirs) = send(&router, jana.request("GET", "/api/documents", Some(read))).await;
    assert_eq!(status, StatusCode::OK, "{theirs}");
    assert_eq!(theirs["items"], own["items"], "Jana sees exactly Ludmila's documents under the grant");
    let (_, janas) = send(&router, jana.request("GET", "/api/documents", None)).await;
    assert_ne!(janas["items"], own["items"], "and her own without it");
    let (status, shown) = send(&router, jana.request("GET", &format!("/api/documents/{note}"), Some(read))).await;
    assert_eq!((status, shown["id"].as_str()), (StatusCode::OK, Some(note.as_str())), "{shown}");
    let (status, _) = send(&router, jana.request("GET", &format!("/api/documents/{note}"), None)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "without the header Jana asks for her own document: none such");
    // Writing under `documents-write`: a document uploaded into Ludmila's storage, one of hers renamed, another
    // deleted; a read grant does none of it.
    let (status, refused) = upload_as(&router, &jana, Some(read), None, "od-jany.txt", b"Od Jany").await;
    assert_eq!((status, refused["type"].as_str()), (StatusCode::FORBIDDEN, Some("/problems/delegation-refused")));
    let (status, brought) = upload_as(&router, &jana, Some(write), Some("walk-key-1"), "od-jany.txt", b"Od Jany").await;
    assert_eq!(status, StatusCode::CREATED, "{brought}");
    let brought = brought["id"].as_str().expect("document id").to_owned();
    let (status, again) = upload_as(&router, &jana, Some(write), Some("walk-key-1"), "od-jany.txt", b"Od Jany").await;
    assert_eq!((status, again["id"].as_str()), (StatusCode::CREATED, Some(brought.as_str())), "the key repeats it");
    // Jana's keys are apart from Ludmila's: the same key from Ludmila is a new upload of her own.
    let (status, hers) = upload_as(&router, &ludmila, None, Some("walk-key-1"), "vlastni.txt", b"Vlastni").await;
    assert_eq!(status, StatusCode::CREATED, "{hers}");
    assert_ne!(hers["id"].as_str(), Some(brought.as_str()), "{hers}");
    let (_, janas) = send(&router, jana.request("GET", "/api/documents", None)).await;
    assert!(!janas.to_string().contains(&brought), "the upload went to Ludmila's storage, not Jana's: {janas}");
    let rename = |grant: &str| {
        let mut request = jana.request("PATCH", &format!("/api/documents/{note}"), Some(grant));
        *request.body_mut() = Body::from(json!({"title": "Přejmenovala Jana"}).to_string());
        request
    };
    let (status, refused) = send(&router, rename(read)).await;
    assert_eq!((status, refused["type"].as_str()), (StatusCode::FORBIDDEN, Some("/problems/delegation-refused")));
    let (status, renamed) = send(&router, rename(write)).await;
    assert_eq!((status, renamed["title"].as_str()), (StatusCode::OK, Some("Přejmenovala Jana")), "{renamed}");
    let delete = |grant: &str| jana.request("DELETE", &format!("/api/documents/{doomed}"), Some(grant));
    assert_eq!(send(&router, delete(read)).await.0, StatusCode::FORBIDDEN);
    assert_eq!(
        send(&router, jana.request("DELETE", &format!("/api/documents/{doomed}"), None)).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(send(&router, delete(write)).await.0, StatusCode::NO_CONTENT);
    let (_, after) = send(&router, ludmila.request("GET", "/api/documents", None)).await;
    let titles: Vec<&str> =
        after["items"].as_array().into_iter().flatten().filter_map(|d| d["title"].as_str()).collect();
    assert!(titles.contains(&"Přejmenovala Jana") && after.to_string().find(&doomed).is_none(), "{after}");
    assert!(titles.contains(&"od-jany.txt") && after.to_string().contains(&brought), "{after}");
    // Both logs: Ludmila's names Jana under the grant, Jana's says she acted for Ludmila.
    let (_, ludmilas_log) = send(&router, ludmila.request("GET", "/api/me/access-log", None)).await;
    let (_, janas_log) = send(&router, jana.request("GET", "/api/me/access-log", None)).await;
    for (action, id) in [("create", &brought), ("update", &note), ("delete", &doomed)] {
        let logged = |log: &Value, kind: &str| {
            log["items"].as_array().into_iter().flatten().any(|e| {
                e["actor"]["kind"] == kind
                    && e["actor"]["grant"] == write.as_str()
                    && e["action"] == action
                    && e["resourceId"] == id.as_str()
            })
        };
        assert!(logged(&ludmilas_log, "delegate"), "{action} in Ludmila's log: {ludmilas_log}");
        assert!(logged(&janas_log, "onBehalfOf"), "{action} in Jana's log: {janas_log}");
    }
    // The data box under a `databox-read` grant: Ludmila's box, not Jana's.
    let (status, ludmilas_box) = send(&router, ludmila.request("GET", "/api/databox/messages", None)).await;
    assert!(status.is_success(), "{ludmilas_box}");
    let (status, under_grant) = send(&router, jana.request("GET", "/api/databox/messages", Some(databox_only))).await;
    assert_eq!(status, StatusCode::OK, "{under_grant}");
    assert_eq!(under_grant["items"], ludmilas_box["items"], "Jana lists Ludmila's messages under the grant");
    let (_, janas_box) = send(&router, jana.request("GET", "/api/databox/messages", None)).await;
    assert_ne!(janas_box["items"], ludmilas_box["items"]);
    let (status, _) = send(&router, jana.request("GET", "/api/databox/messages", Some(read))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a documents grant does not open the data box");

    let mut ids = BTreeMap::new();
    ids.insert("/api/documents/", ("id", note.clone()));
    let operations = secured_operations(&document, &ids);
    assert!(operations.len() >= 40, "the walk covers the secured API ({} operations)", operations.len());
    let (mut own_walked, mut inside, mut outside, mut refused) = (0, 0, 0, 0);
    for (operation, method, path, optional) in &operations {
        // What a successful delete under its grant removes is one of Ludmila's, walked for this alone.
        let path = if operation == "DeleteDocument" { path.replace(&note, &walked_away) } else { path.clone() };
        // 1. Own data: Jana as herself, with Ludmila's ids; nothing of Ludmila's comes back.
        if !ENDS_THE_WALKER.contains(&operation.as_str()) {
            let (status, body) = send(&router, jana.request(method, &path, None)).await;
            assert!(!status.is_server_error(), "{operation} {method} {path} as herself: {status} {body}");
            let touches_ludmilas = path.contains(&note) || path.contains(&walked_away);
            assert!(
                !(touches_ludmilas && status.is_success()),
                "{operation} {method} {path}: Jana reached Ludmila's data as herself: {body}"
            );
            let text =
                if OWN_RECORDS_OF_ACTING.contains(&operation.as_str()) { String::new() } else { body.to_string() };
            assert!(
                !text.contains(&note) && !text.contains(&walked_away) && !text.contains("Přejmenovala"),
                "{operation} {method} {path}: Ludmila's data in Jana's own answer: {body}"
            );
            own_walked += 1;
        }
        for (scope, grant) in &grants {
            let (status, body) = send(&router, jana.request(method, &path, Some(grant))).await;
            match scope_of(operation) {
                // 2. Inside the grant's scopes: acts for Ludmila (or says what is wrong with the request).
                Some(needed) if needed == *scope => {
                    assert!(
                        !status.is_server_error() && status != StatusCode::FORBIDDEN,
                        "{operation} {method} {path} under a grant with its scope: {status} {body}"
                    );
                    inside += 1;
                }
                // 3. Outside them: refused, naming the grant.
                Some(_) => {
                    assert_eq!(status, StatusCode::FORBIDDEN, "{operation} outside the grant's scopes: {body}");
                    assert_eq!(body["type"], "/problems/delegation-refused", "{operation}: {body}");
                    assert!(body["detail"].as_str().is_some_and(|d| d.contains(grant.as_str())), "{body}");
                    outside += 1;
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
    let opted_in: usize = OPTED_IN.iter().map(|(_, ops)| ops.len()).sum();
    assert_eq!(inside, opted_in, "every opted-in route was walked inside its grant");
    assert_eq!(outside, opted_in * (OPTED_IN.len() - 1), "and outside every other grant");
    assert!(refused > 0 && own_walked + ENDS_THE_WALKER.len() == operations.len());
    let (_, left) = send(&router, ludmila.request("GET", "/api/documents", None)).await;
    assert!(left.to_string().find(&walked_away).is_none(), "the walk's delete under its grant removed Ludmila's");

    // Revoked: nothing at all, on the very next request.
    for grant in grants.values() {
        let (status, _) = send(&router, ludmila.request("DELETE", &format!("/api/delegations/{grant}"), None)).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
    }
    for (operation, method, path, optional) in &operations {
        for grant in grants.values() {
            let (status, body) = send(&router, jana.request(method, path, Some(grant))).await;
            if *optional {
                assert!(!status.is_success(), "{operation} {method} {path} under a revoked grant: {body}");
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{operation} {method} {path} under a revoked grant: {body}");
            }
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
async fn ludmila_authorises_jana_to_read_her_messages_jana_reads_one_then_ludmila_revokes() {
    let (_, router, _) = local_app().await;
    let ludmila = log_in(&router, "ludmila").await;
    let jana = log_in(&router, "jana").await;
    // Ludmila opens her data box in the portal: the portal's login to it for
    // her is the box's first login, which makes a box not yet active accessible.
    let (status, info) = send(&router, ludmila.request("GET", "/api/databox/box", None)).await;
    assert_eq!(status, StatusCode::OK, "{info}");
    // A message arrives: Jana sends her a postal data message (Ludmila's box takes them).
    let message = send_message_to(&router, &jana, "sim4lud", "walk-to-ludmila").await;
    let grant = grant(&router, &ludmila, &jana, &["databox-read"]).await;
    let read = format!("/api/databox/messages/received/{message}");
    let (status, detail) = send(&router, jana.request("GET", &read, Some(&grant))).await;
    assert_eq!(status, StatusCode::OK, "Jana reads Ludmila's message under the grant: {detail}");
    assert_eq!(
        (detail["id"].as_str(), detail["recipientBox"].as_str()),
        (Some(message.as_str()), Some("sim4lud")),
        "{detail}"
    );
    // Both access logs say so.
    let (_, ludmilas_log) = send(&router, ludmila.request("GET", "/api/me/access-log", None)).await;
    let (_, janas_log) = send(&router, jana.request("GET", "/api/me/access-log", None)).await;
    let logged = |log: &Value, kind: &str| {
        log["items"].as_array().into_iter().flatten().any(|e| {
            e["actor"]["kind"] == kind && e["actor"]["grant"] == grant.as_str() && e["resourceId"] == message.as_str()
        })
    };
    assert!(logged(&ludmilas_log, "delegate"), "the read in Ludmila's log: {ludmilas_log}");
    assert!(logged(&janas_log, "onBehalfOf"), "the read in Jana's log: {janas_log}");
    // Ludmila revokes; Jana's next read is refused, naming the grant.
    let (status, _) = send(&router, ludmila.request("DELETE", &format!("/api/delegations/{grant}"), None)).await;
    assert!(status.is_success(), "Ludmila revokes: {status}");
    let (status, problem) = send(&router, jana.request("GET", &read, Some(&grant))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    assert!(problem.to_string().contains(grant.as_str()), "the refusal names the grant: {problem}");
}

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

    // Sending from the company's box (every scope of a statutory body): once per key, and his keys
    // under the representation are apart from his own.
    let sent_under_grant = send_message(&router, &jiri, Some(&grant), "walk-key-1").await;
    assert_eq!(send_message(&router, &jiri, Some(&grant), "walk-key-1").await, sent_under_grant, "the same key");
    let sent_own = send_message(&router, &jiri, None, "walk-key-1").await;
    assert_ne!(sent_own, sent_under_grant, "his own box, his own key space");
    let (_, company_sent) = send(&router, jiri.request("GET", "/api/databox/messages?folder=sent", Some(&grant))).await;
    let (_, own_sent) = send(&router, jiri.request("GET", "/api/databox/messages?folder=sent", None)).await;
    let ids = |page: &Value| -> Vec<String> {
        page["items"].as_array().into_iter().flatten().filter_map(|m| m["id"].as_str().map(str::to_owned)).collect()
    };
    assert!(ids(&company_sent).contains(&sent_under_grant) && !ids(&company_sent).contains(&sent_own));
    assert!(ids(&own_sent).contains(&sent_own) && !ids(&own_sent).contains(&sent_under_grant));
    let company_log = services.access_log.list(&company_subject, &filter, 100, None).await.expect("log");
    assert!(
        company_log.items.iter().any(|e| e.resource_id == sent_under_grant
            && matches!(&e.actor, portal_security::Actor::Delegate { grant: g, .. } if *g == grant)),
        "the send in the company's log"
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
    let boundary = "walk-boundary";
    let request = Request::post("/api/databox/messages")
        .header(header::COOKIE, &jiri.cookie)
        .header("x-csrf-token", &jiri.csrf)
        .header("idempotency-key", "walk-key-2")
        .header("x-acting-for", &grant)
        .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
        .body(Body::from(message_form(boundary)))
        .expect("request");
    let (status, problem) = send(&router, request).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no sending for the company either: {problem}");
    let (status, still_own) = send(&router, jiri.request("GET", "/api/databox/messages", None)).await;
    assert_eq!((status, subjects(&still_own)), (StatusCode::OK, subjects(&own)), "his own box stays his");
}

/// A small data message to the simulated municipal office, as multipart/form-data.
fn message_form(boundary: &str) -> Vec<u8> {
    message_form_to(boundary, "simmuhl")
}

/// [`message_form`] to another recipient box.
fn message_form_to(boundary: &str, recipient: &str) -> Vec<u8> {
    let mut body = String::new();
    // To an office, an ordinary message; to anyone else, a postal data message (PDZ), as ISDS requires.
    let commercial = if recipient.starts_with("sim4") { "true" } else { "false" };
    for (name, value) in
        [("recipient", recipient), ("subject", "Žádost o vyjádření (procházka)"), ("commercial", commercial)]
    {
        body.push_str(&format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"));
    }
    body.push_str(&format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"attachment\"; filename=\"zadost.txt\"\r\n\
         Content-Type: text/plain\r\n\r\nDobrý den, žádáme o vyjádření.\r\n--{boundary}--\r\n"
    ));
    body.into_bytes()
}

/// Sends [`message_form`] as `who`, for themselves or under `grant`, with `key`: the message id.
async fn send_message(router: &axum::Router, who: &Browser, grant: Option<&str>, key: &str) -> String {
    let boundary = "walk-boundary";
    let mut request = Request::post("/api/databox/messages")
        .header(header::COOKIE, &who.cookie)
        .header("x-csrf-token", &who.csrf)
        .header("idempotency-key", key)
        .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"));
    if let Some(grant) = grant {
        request = request.header("x-acting-for", grant);
    }
    let (status, sent) = send(router, request.body(Body::from(message_form(boundary))).expect("request")).await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    sent["id"].as_str().expect("message id").to_owned()
}

/// Sends [`message_form_to`] `recipient` as `who` for themselves, with `key`: the message id.
async fn send_message_to(router: &axum::Router, who: &Browser, recipient: &str, key: &str) -> String {
    let boundary = "walk-boundary";
    let request = Request::post("/api/databox/messages")
        .header(header::COOKIE, &who.cookie)
        .header("x-csrf-token", &who.csrf)
        .header("idempotency-key", key)
        .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"));
    let body = Body::from(message_form_to(boundary, recipient));
    let (status, sent) = send(router, request.body(body).expect("request")).await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    sent["id"].as_str().expect("message id").to_owned()
}
