//! Issue 14 §1: each citizen's box, never a shared login. A recording ISDS
//! (real HTTP, axum on 127.0.0.1:0) sits behind the real SOAP adapter with
//! the hosted records-system login, and the capability's HTTP API serves
//! several citizens at once. Over many interleaved concurrent calls, every
//! SOAP request must carry the box of the citizen whose call it was (the HTTP
//! Basic user, and `dbID` in the body where the operation has one), and each
//! citizen must see only their own box.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use portal_databox::isds::BoxId;
use portal_databox::isds::soap::{SoapConfig, SoapIsds, SoapLogin, SoapTimeouts};
use portal_databox::{BoxDirectory, functions};
use portal_security::SubjectId;
use portal_testkit::{Harness, JANA, JIRI, PETR, call, get, json_of};
use secrecy::SecretString;

mod support;

use portal_databox::box_requests::NotConnected as NotConnectedBoxes;
use support::databox_on;

/// The citizens and their (made-up) boxes.
const CITIZENS: [(&str, &str); 3] = [(JANA, "fo4ab2c"), (JIRI, "fo7jd2k"), (PETR, "fo9pt3x")];
/// Rounds of calls per citizen; each round is 4 SOAP requests.
const ROUNDS: usize = 25;

#[derive(Debug, Clone)]
struct Recorded {
    /// The HTTP Basic user: the box the request acted for.
    user: String,
    operation: String,
    /// `dbID`/`dbId` in the body, where the operation has one.
    body_box: Option<String>,
}

#[derive(Debug, Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Recorded>>>);

async fn answer(State(recorder): State<Recorder>, headers: HeaderMap, body: Bytes) -> Response {
    let body = String::from_utf8(body.to_vec()).expect("UTF-8");
    let user = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|v| BASE64.decode(v).ok())
        .and_then(|v| String::from_utf8(v).ok())
        .and_then(|v| v.strip_suffix(':').map(str::to_owned))
        .unwrap_or_default();
    let operation = ["GetOwnerInfoFromLogin", "DataBoxCreditInfo", "DTInfo", "GetListOfReceivedMessages"]
        .into_iter()
        .find(|op| {
            body.contains(&format!("<{op} ")) || body.contains(&format!(":{op} ")) || body.contains(&format!("<{op}>"))
        })
        .unwrap_or("unknown")
        .to_owned();
    let body_box = ["dbID", "dbId"].iter().find_map(|tag| {
        let open = format!("<{tag}>");
        let start = body.find(&open)? + open.len();
        let end = body[start..].find('<')? + start;
        Some(body[start..end].to_owned())
    });
    let seen = {
        let mut recorded = recorder.0.lock().expect("lock");
        recorded.push(Recorded { user: user.clone(), operation: operation.clone(), body_box });
        recorded.len()
    };
    // Let other requests in between, so calls of different citizens interleave.
    for _ in 0..(user.len() + seen) % 7 {
        tokio::task::yield_now().await;
    }
    let fixture = match operation.as_str() {
        "GetOwnerInfoFromLogin" => "owner_info.response.xml",
        "DataBoxCreditInfo" => "credit_info.response.xml",
        "DTInfo" => "dt_info.response.xml",
        "GetListOfReceivedMessages" => "list_received.response.xml",
        _ => return (StatusCode::NOT_IMPLEMENTED, "unknown operation").into_response(),
    };
    let path =
        [env!("CARGO_MANIFEST_DIR"), "tests", "fixtures", "isds", fixture].iter().collect::<std::path::PathBuf>();
    // The fixtures are about box fo4ab2c: answer about the box that asked.
    let text = std::fs::read_to_string(path).expect("fixture").replace("fo4ab2c", &user);
    (StatusCode::OK, [("content-type", "text/xml; charset=utf-8")], text).into_response()
}

/// Which box is whose: the test's authoritative source.
#[derive(Debug)]
struct Directory;

#[async_trait]
impl BoxDirectory for Directory {
    async fn box_of(&self, subject: &SubjectId) -> Option<BoxId> {
        CITIZENS.iter().find(|(s, _)| *s == subject.as_str()).and_then(|(_, b)| BoxId::parse(b).ok())
    }
}

/// A throwaway self-signed client certificate (no key is ever committed).
fn test_certificate() -> (String, SecretString) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = (dir.path().join("client.crt"), dir.path().join("client.key"));
    let status = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=portal-test"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl is installed (the test command needs it)");
    assert!(status.status.success(), "openssl made the test certificate");
    let read = |path: &std::path::Path| std::fs::read_to_string(path).expect("readable");
    (read(&cert), SecretString::from(read(&key)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_request_runs_in_the_right_citizens_box() {
    let recorder = Recorder::default();
    let app = Router::new().fallback(answer).with_state(recorder.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });

    let (cert_pem, key_pem) = test_certificate();
    let isds = SoapIsds::new(SoapConfig {
        base_url: format!("http://{addr}/hspis/DS/"),
        login: SoapLogin::HostedCertificate { cert_pem, key_pem },
        timeouts: SoapTimeouts::default(),
    })
    .expect("adapter");
    let harness = Harness::new();
    let databox = databox_on(&harness, Arc::new(isds), Arc::new(NotConnectedBoxes), Arc::new(Directory));
    let router = harness.router(functions(databox));

    let mut logins = Vec::new();
    for (subject, box_id) in CITIZENS {
        logins.push((subject, box_id, harness.login(subject).await));
    }
    // Round by round, one call of each citizen after the other: the calls of
    // different citizens are in flight together.
    let mut tasks = tokio::task::JoinSet::new();
    for round in 0..ROUNDS {
        for (subject, box_id, login) in &logins {
            let (router, login, subject, box_id) = (router.clone(), login.clone(), *subject, *box_id);
            tasks.spawn(async move {
                let path = if round % 2 == 0 { "/api/databox/box" } else { "/api/databox/messages?folder=received" };
                let (status, _, body) = call(&router, get(path, &login)).await;
                assert_eq!(status, StatusCode::OK, "{path}: {}", String::from_utf8_lossy(&body));
                let body = json_of(&body);
                // What the citizen sees is their own box.
                if round % 2 == 0 {
                    assert_eq!(body["box"]["id"], box_id, "{subject} sees another box: {body}");
                } else {
                    let items = body["items"].as_array().expect("items");
                    assert!(!items.is_empty());
                    assert!(items.iter().all(|m| m["recipientBox"] == box_id), "{subject}: {body}");
                }
            });
        }
    }
    while let Some(result) = tasks.join_next().await {
        result.expect("a call");
    }

    let recorded = recorder.0.lock().expect("lock").clone();
    let boxes: Vec<&str> = CITIZENS.iter().map(|(_, b)| *b).collect();
    // Every request acted for one of the citizens' boxes, and where the body
    // names a box, it is the same one.
    for request in &recorded {
        assert!(boxes.contains(&request.user.as_str()), "a request without a citizen's box: {request:?}");
        if let Some(body_box) = &request.body_box {
            assert_eq!(body_box, &request.user, "{request:?}");
        }
    }
    // Each citizen's calls, and only theirs, ran in their box: per box, the
    // box page's three operations and the list, once per round each.
    let mut per_box: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for request in &recorded {
        *per_box.entry((request.user.as_str(), request.operation.as_str())).or_default() += 1;
    }
    for box_id in &boxes {
        for operation in ["GetOwnerInfoFromLogin", "DataBoxCreditInfo", "DTInfo"] {
            assert_eq!(
                per_box.get(&(*box_id, operation)),
                Some(&ROUNDS.div_ceil(2)),
                "{box_id} {operation}: {per_box:?}"
            );
        }
        assert_eq!(per_box.get(&(*box_id, "GetListOfReceivedMessages")), Some(&(ROUNDS / 2)), "{per_box:?}");
    }
    assert_eq!(recorded.len(), CITIZENS.len() * (ROUNDS.div_ceil(2) * 3 + ROUNDS / 2));
    // The calls did interleave: the sequence switches between boxes many times.
    let switches = recorded.windows(2).filter(|w| w[0].user != w[1].user).count();
    assert!(switches >= 10, "interleaved calls: {switches} switches");
}
