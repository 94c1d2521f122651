//! The gateway's OpenAPI document validates (openapi-spec-validator, run by
//! `$PORTAL_TEST_PYTHON`), and the SIMULATOR answers every operation in it:
//! the test walks each path and method, fills in the documented example of
//! every parameter and of the request body, and checks a 2xx JSON answer
//! with the documented required top-level properties. The document also names exactly the
//! operations the Rust port has.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use portal_store::ManualClock;
use portal_testkit::{call, json_of, test_python};
use serde_json::Value;
use time::macros::datetime;

const DOCUMENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/registers-gateway.openapi.yaml");

const VALIDATE: &str = r#"
import json, sys, yaml
from openapi_spec_validator import validate
with open(sys.argv[1], encoding="utf-8") as f:
    doc = yaml.safe_load(f)
validate(doc)
sys.stdout.write(json.dumps(doc))
"#;

/// The validated document as JSON, or `None` when no test Python is set.
fn document() -> Option<Value> {
    let python = test_python()?;
    let output = std::process::Command::new(python).args(["-c", VALIDATE, DOCUMENT]).output().expect("python runs");
    assert!(output.status.success(), "the OpenAPI document is invalid:\n{}", String::from_utf8_lossy(&output.stderr));
    Some(serde_json::from_slice(&output.stdout).expect("JSON"))
}

/// Follows a local `$ref`.
fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let pointer = reference.strip_prefix('#').expect("local references only");
            resolve(doc, doc.pointer(pointer).unwrap_or_else(|| panic!("{reference} resolves")))
        }
        None => value,
    }
}

#[tokio::test]
async fn the_document_validates_and_the_simulator_answers_every_operation() {
    let Some(doc) = document() else { return };
    assert_eq!(doc["openapi"].as_str().map(|v| v.starts_with("3.1")), Some(true));
    assert_eq!(
        doc["components"]["securitySchemes"]["portalClientCertificate"]["type"], "mutualTLS",
        "mutual TLS is declared"
    );
    let router = portal_registers::simulator::router(Arc::new(ManualClock::new(datetime!(2026-11-23 08:00 UTC))));
    let paths = doc["paths"].as_object().expect("paths");
    let mut walked = BTreeSet::new();
    for (path, item) in paths {
        for (method, operation) in item.as_object().expect("path item") {
            if !["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                continue;
            }
            let parameters: Vec<&Value> = item["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .chain(operation["parameters"].as_array().into_iter().flatten())
                .map(|p| resolve(&doc, p))
                .collect();
            let mut query = Vec::new();
            let mut request = Request::builder().method(method.to_uppercase().as_str());
            let mut concrete = path.clone();
            for parameter in parameters {
                let name = parameter["name"].as_str().expect("name");
                let example = parameter["example"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{method} {path}: parameter {name} has a string example"));
                match parameter["in"].as_str() {
                    Some("header") => request = request.header(name, example),
                    Some("query") => query.push(format!("{name}={example}")),
                    Some("path") => concrete = concrete.replace(&format!("{{{name}}}"), example),
                    other => panic!("{method} {path}: parameter {name} in {other:?}"),
                }
            }
            if !query.is_empty() {
                concrete = format!("{concrete}?{}", query.join("&"));
            }
            let body = match operation["requestBody"]["content"]["application/json"].get("example") {
                Some(example) => {
                    request = request.header("content-type", "application/json");
                    Body::from(serde_json::to_vec(example).expect("JSON"))
                }
                None => {
                    assert!(operation.get("requestBody").is_none(), "{method} {path}: the request body has an example");
                    Body::empty()
                }
            };
            let (status, headers, body) =
                call(&router, request.uri(concrete.as_str()).body(body).expect("request")).await;
            assert!(status.is_success(), "{method} {concrete}: {status} {}", String::from_utf8_lossy(&body));
            assert_eq!(headers["content-type"], "application/json", "{method} {concrete}");
            let answer = json_of(&body);
            assert_eq!(answer["simulated"], true, "{method} {concrete}: the simulator says so");
            let responses = &operation["responses"];
            let documented = resolve(&doc, &responses[status.as_str()]);
            let schema = resolve(&doc, &documented["content"]["application/json"]["schema"]);
            let required = schema["required"].as_array().expect("required properties are documented");
            for property in required {
                let property = property.as_str().expect("name");
                assert!(answer.get(property).is_some(), "{method} {concrete}: '{property}' is missing in {answer}");
            }
            for property in answer.as_object().expect("an object").keys() {
                assert!(
                    schema["properties"].get(property).is_some(),
                    "{method} {concrete}: '{property}' is answered but not documented"
                );
            }
            walked.insert(format!("{} {path}", method.to_uppercase()));
        }
    }
    let port: BTreeSet<String> = [
        "/v1/person",
        "/v1/entrepreneur",
        "/v1/criminal-record",
        "/v1/trade-register",
        "/v1/driver-points",
        "/v1/vehicles",
        "/v1/odometer",
        "/v1/properties",
    ]
    .iter()
    .map(|p| format!("GET {p}"))
    .chain([
        "GET /v1/extracts/{kind}".to_owned(),
        "POST /v1/filings".to_owned(),
        "GET /v1/filings/{reference}".to_owned(),
    ])
    .collect();
    assert_eq!(walked, port, "the document has exactly the port's operations");
}
