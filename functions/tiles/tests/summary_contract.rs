//! The production adapter (`HttpTileSource`) against a portal's SIMULATOR
//! served over real TLS with client-certificate authentication on
//! 127.0.0.1, and every exchange checked against the protocol's OpenAPI
//! document (`docs/tile-summary-api.yaml`) by an outside oracle: Python's
//! `openapi-spec-validator` validates the document, `jsonschema` (Draft
//! 2020-12, the dialect of OpenAPI 3.1) validates each request's headers
//! against the documented parameters and each answer against the documented
//! response schema of its status.
//!
//! The certificates (a test CA, the source's server certificate, the
//! portal's client certificate, and a stranger's) are made at test time with
//! `openssl`; no key is committed.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use portal_security::SubjectId;
use portal_store::ManualClock;
use portal_testkit::test_python;
use portal_testkit::tls::{Pki, serve_mutual_tls};
use portal_tiles::source::simulator::{self, JANA, JIRI, Mode, Switch};
use portal_tiles::{HttpSourceConfig, HttpTileSource, SourceError, TileSource};
use secrecy::SecretString;
use serde_json::{Value, json};
use time::macros::datetime;

const DOCUMENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/tile-summary-api.yaml");

/// One request as the source received it and what it answered.
#[derive(Debug, Clone)]
struct Exchange {
    method: String,
    path: String,
    headers: Value,
    status: u16,
    body: Value,
}

struct Source {
    addr: SocketAddr,
    pki: Pki,
    switch: Switch,
    exchanges: Arc<Mutex<Vec<Exchange>>>,
}

impl Source {
    fn adapter_with(&self, cert: &str, key: &str) -> Result<HttpTileSource, SourceError> {
        HttpTileSource::new(&HttpSourceConfig {
            base_url: format!("https://localhost:{}/", self.addr.port()),
            client_cert_pem: cert.to_owned(),
            client_key_pem: SecretString::from(key.to_owned()),
            extra_root_pem: Some(self.pki.ca.clone()),
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(10),
        })
    }

    fn adapter(&self) -> HttpTileSource {
        self.adapter_with(&self.pki.client_cert, &self.pki.client_key).expect("adapter")
    }

    fn exchanges(&self) -> Vec<Exchange> {
        self.exchanges.lock().expect("lock").clone()
    }
}

async fn record(
    axum::extract::State(exchanges): axum::extract::State<Arc<Mutex<Vec<Exchange>>>>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().as_str().to_owned();
    let path = request.uri().path().to_owned();
    let headers: serde_json::Map<String, Value> = request
        .headers()
        .iter()
        .filter_map(|(name, value)| Some((name.as_str().to_owned(), Value::String(value.to_str().ok()?.to_owned()))))
        .collect();
    let response = next.run(request).await;
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.expect("body");
    exchanges.lock().expect("lock").push(Exchange {
        method,
        path,
        headers: Value::Object(headers),
        status: parts.status.as_u16(),
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    });
    Response::from_parts(parts, Body::from(bytes))
}

async fn start(portal: &str) -> Source {
    let pki = Pki::make("Tile source test CA", "portal-tiles test client");
    let exchanges = Arc::new(Mutex::new(Vec::new()));
    let switch = Switch::new(Mode::Normal);
    let clock = Arc::new(ManualClock::new(datetime!(2026-11-23 08:00 UTC)));
    let router = simulator::router(portal, clock, switch.clone())
        .layer(middleware::from_fn_with_state(exchanges.clone(), record));
    let addr = serve_mutual_tls(&pki, router).await;
    Source { addr, pki, switch, exchanges }
}

fn subject(id: &str) -> SubjectId {
    SubjectId::parse(id).expect("subject")
}

/// Validates the document and every exchange against it; `None` without a test Python.
const ORACLE: &str = r##"
import json, sys, yaml
from openapi_spec_validator import validate
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

with open(sys.argv[1], encoding="utf-8") as f:
    doc = yaml.safe_load(f)
validate(doc)
registry = Registry().with_resource("urn:tile-summary", Resource(contents=doc, specification=DRAFT202012))

def check(pointer, value, where):
    validator = Draft202012Validator({"$ref": "urn:tile-summary#" + pointer}, registry=registry)
    errors = list(validator.iter_errors(value))
    if errors:
        raise SystemExit(f"{where}: {errors[0].message}")

def local(node, kind):
    """A parameter or response, following a $ref into components; with its JSON pointer."""
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[1]
        return doc["components"][kind][name], f"/components/{kind}/{name}"
    return node, None

exchanges = json.load(sys.stdin)
for n, x in enumerate(exchanges):
    operation = doc["paths"].get(x["path"], {}).get(x["method"].lower())
    if operation is None:
        raise SystemExit(f"exchange {n}: {x['method']} {x['path']} is not in the document")
    headers = {k.lower(): v for k, v in x["headers"].items()}
    for index, node in enumerate(operation.get("parameters", [])):
        parameter, pointer = local(node, "parameters")
        pointer = pointer or f"/paths/{x['path'].replace('/', '~1')}/{x['method'].lower()}/parameters/{index}"
        name = parameter["name"].lower()
        if parameter["in"] == "header" and name in headers:
            check(pointer + "/schema", headers[name], f"exchange {n}: header {name}")
        elif parameter.get("required"):
            raise SystemExit(f"exchange {n}: the required {parameter['in']} parameter {name} is missing")
    status = str(x["status"])
    if status not in operation["responses"]:
        raise SystemExit(f"exchange {n}: status {status} is not documented")
    response, _ = local(operation["responses"][status], "responses")
    media = "application/json" if x["status"] == 200 else "application/problem+json"
    if media not in response.get("content", {}):
        raise SystemExit(f"exchange {n}: {media} is not documented for {status}")
    check(response["content"][media]["schema"]["$ref"].removeprefix("#"), x["body"], f"exchange {n} ({status})")
print(len(exchanges))
"##;

fn check_against_document(exchanges: &[Exchange]) -> Option<usize> {
    let python = test_python()?;
    let payload: Vec<Value> = exchanges
        .iter()
        .map(|x| json!({"method": x.method, "path": x.path, "headers": x.headers, "status": x.status, "body": x.body}))
        .collect();
    let mut child = std::process::Command::new(python)
        .args(["-c", ORACLE, DOCUMENT])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python runs");
    use std::io::Write as _;
    child.stdin.take().expect("stdin").write_all(&serde_json::to_vec(&payload).expect("json")).expect("write");
    let output = child.wait_with_output().expect("python ends");
    assert!(
        output.status.success(),
        "the exchanges break the contract:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().parse().ok()
}

#[tokio::test]
async fn the_adapter_speaks_the_documented_protocol_over_mutual_tls() {
    let source = start("celni-sprava").await;
    let adapter = source.adapter();

    let summary = adapter.summary(&subject(JIRI), "req-1").await.expect("Jiří's summary");
    assert!(summary.headline.contains("Nedoplatek"), "{summary:?}");
    assert!(summary.simulated);
    assert_eq!(summary.alerts.len(), 1);
    assert!(matches!(adapter.summary(&subject("DEMO%2Fnobody"), "req-2").await, Err(SourceError::NoRecord)));
    assert!(adapter.summary(&subject(JANA), "req-3").await.is_ok(), "Jana: nothing at customs, said so");
    source.switch.set(Mode::Down);
    assert!(matches!(adapter.summary(&subject(JIRI), "req-4").await, Err(SourceError::Unavailable(_))));
    source.switch.set(Mode::Normal);

    let exchanges = source.exchanges();
    assert_eq!(exchanges.len(), 4);
    let first = &exchanges[0];
    assert_eq!((first.method.as_str(), first.path.as_str()), ("GET", "/v1/summary"));
    assert_eq!(first.headers["x-subject-id"], JIRI, "the citizen travels in a header, never in the URL");
    assert_eq!(first.headers["x-request-id"], "req-1");
    assert_eq!(first.headers["accept"], "application/json");
    if let Some(checked) = check_against_document(&exchanges) {
        assert_eq!(checked, 4, "every exchange was checked");
    }
}

#[tokio::test]
async fn without_an_accepted_client_certificate_nothing_reaches_the_source() {
    let source = start("erecept").await;
    let stranger = source.adapter_with(&source.pki.stranger_cert, &source.pki.stranger_key).expect("adapter");
    assert!(matches!(stranger.summary(&subject(JANA), "req-s").await, Err(SourceError::Unavailable(_))));
    assert!(source.exchanges().is_empty(), "the handshake was refused");
    assert!(source.adapter().summary(&subject(JANA), "req-ok").await.is_ok());
    assert!(matches!(source.adapter_with("not a certificate", "not a key"), Err(SourceError::Invalid(_))));
}

#[tokio::test]
async fn a_summary_that_breaks_the_contract_is_refused() {
    // A "source" answering 200 with something that is not a Summary.
    let router =
        axum::Router::new().route("/v1/summary", axum::routing::get(|| async { axum::Json(json!({"items": "none"})) }));
    let adapter = HttpTileSource::in_process(router);
    assert!(matches!(adapter.summary(&subject(JANA), "req-x").await, Err(SourceError::Contract(_))));
    let teapot = axum::Router::new()
        .route("/v1/summary", axum::routing::get(|| async { (axum::http::StatusCode::IM_A_TEAPOT, "no") }));
    assert!(matches!(
        HttpTileSource::in_process(teapot).summary(&subject(JANA), "req-y").await,
        Err(SourceError::Contract(_))
    ));
}
