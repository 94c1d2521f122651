//! The API contract: the OpenAPI document served at `/api/openapi.json` holds
//! exactly one operation for every HTTP function `portal package` writes (same
//! method, same route under `/api/`), is valid OpenAPI 3.1 by an outside
//! validator (openapi-spec-validator), and is snapshotted so reviewers see
//! every change to the contract.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use portal::app::{self, Services, Stores};
use portal_config::Settings;
use portal_store::SystemClock;
use portal_store::embedded::EmbeddedStore;
use serde_json::Value;
use tower::ServiceExt as _;

fn local_settings() -> Settings {
    Settings::from_lookup(|_| None).expect("defaults")
}

async fn services() -> Services {
    let clock = Arc::new(SystemClock);
    let stores = Stores::embedded(EmbeddedStore::in_memory(clock.clone()).expect("store"), clock);
    let mut settings = local_settings();
    settings.store = portal_config::StoreSettings::Embedded { data_dir: ".portal".into(), in_memory: true };
    Services::with_stores(stores, &settings).await.expect("services")
}

/// The document as an anonymous client gets it.
async fn served_document() -> Value {
    let app = app::app(&services().await, &local_settings(), None).expect("app");
    let request = Request::get("/api/openapi.json").body(Body::empty()).expect("request");
    let response = app.router().oneshot(request).await.expect("answer");
    assert_eq!(response.status(), StatusCode::OK, "anonymous GET /api/openapi.json");
    assert_eq!(response.headers()["content-type"], "application/json");
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    serde_json::from_slice(&bytes).expect("JSON")
}

const METHODS: [&str; 7] = ["get", "put", "post", "delete", "patch", "head", "options"];

#[tokio::test]
async fn the_document_has_an_operation_for_every_http_function_and_nothing_else() {
    let document = served_document().await;
    assert_eq!(document["openapi"], "3.1.0");
    let out = tempfile::tempdir().expect("temp dir");
    let runtime = app::runtime(&services().await, &local_settings(), None).expect("runtime");
    let executable = std::env::current_exe().expect("this test's executable");
    portal::package::write(&out.path().join("app"), &runtime, None, &executable).expect("package");
    let mut packaged = BTreeSet::new();
    let mut names = BTreeSet::new();
    for entry in std::fs::read_dir(out.path().join("app")).expect("package folder") {
        let path = entry.expect("entry").path().join("function.json");
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        let manifest: Value = serde_json::from_str(&text).expect("function.json");
        let name = path.parent().and_then(|p| p.file_name()).expect("folder").to_string_lossy().into_owned();
        for binding in manifest["bindings"].as_array().expect("bindings") {
            if binding["type"] == "httpTrigger" {
                for method in binding["methods"].as_array().expect("methods") {
                    let method = method.as_str().expect("method").to_ascii_lowercase();
                    let route = binding["route"].as_str().expect("route");
                    packaged.insert((method, format!("/api/{route}")));
                    names.insert(name.clone());
                }
            }
        }
    }
    assert!(packaged.len() > 50, "the package holds the portal's HTTP functions: {}", packaged.len());
    let mut documented = BTreeSet::new();
    let mut ids = BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in METHODS {
            if let Some(operation) = item.get(method) {
                let id = operation["operationId"].as_str().expect("every operation has an id").to_owned();
                assert!(ids.insert(id.clone()), "operation id {id} is used twice");
                documented.insert((method.to_owned(), path.clone()));
            }
        }
    }
    // A function's name is its (first) operation's id; a second method on the
    // same route has an id of its own.
    let unnamed: Vec<_> = names.difference(&ids).collect();
    assert!(unnamed.is_empty(), "HTTP functions whose name is no operation's id: {unnamed:?}");
    let missing: Vec<_> = packaged.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&packaged).collect();
    assert!(missing.is_empty(), "HTTP functions without an operation in the document: {missing:?}");
    assert!(extra.is_empty(), "operations that no packaged function answers: {extra:?}");
    let written = std::fs::read_to_string(out.path().join("app/openapi.json")).expect("package writes openapi.json");
    assert_eq!(
        serde_json::from_str::<Value>(&written).expect("JSON"),
        document,
        "the packaged document is the served one"
    );
}

#[tokio::test]
async fn every_error_response_is_a_problem_and_every_operation_says_what_it_answers() {
    let document = served_document().await;
    assert!(document["components"]["schemas"]["Problem"].is_object());
    for scheme in ["session", "csrf", "bearer"] {
        assert!(document["components"]["securitySchemes"][scheme].is_object(), "security scheme {scheme}");
    }
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in METHODS {
            let Some(operation) = item.get(method) else { continue };
            let responses = operation["responses"].as_object().expect("responses");
            assert!(responses.keys().any(|s| s.starts_with('2') || s.starts_with('3')), "{method} {path}: no success");
            for (status, response) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    assert!(
                        response["content"]["application/problem+json"].is_object(),
                        "{method} {path} {status} is not documented as a problem"
                    );
                }
                assert!(response["description"].as_str().is_some_and(|d| !d.is_empty()), "{method} {path} {status}");
            }
            let queried = operation["parameters"].as_array().is_some_and(|p| p.iter().any(|p| p["in"] == "query"));
            if queried || operation.get("requestBody").is_some() {
                assert!(responses.contains_key("422"), "{method} {path}: takes input but documents no 422");
            }
            let secured = operation["security"].as_array().is_some_and(|s| !s.is_empty());
            if secured {
                assert!(responses.contains_key("401"), "{method} {path}: secured but no 401");
                if method != "get" {
                    let csrf = operation["security"]
                        .as_array()
                        .expect("security")
                        .iter()
                        .filter(|r| r.get("session").is_some())
                        .all(|r| r.get("csrf").is_some());
                    assert!(csrf, "{method} {path}: a cookie write must require the CSRF header");
                }
            }
        }
    }
}

const VALIDATE: &str = r#"
import json, sys
from openapi_spec_validator import validate
from openapi_spec_validator.validation.validators import OpenAPIV31SpecValidator
with open(sys.argv[1], encoding="utf-8") as f:
    doc = json.load(f)
validate(doc, cls=OpenAPIV31SpecValidator)
print("valid OpenAPI 3.1:", len(doc["paths"]), "paths")
"#;

/// openapi-spec-validator, an implementation that is not ours, accepts the
/// document as OpenAPI 3.1. Without `PORTAL_TEST_PYTHON` (a venv with it,
/// which the test command makes) the check is skipped, unless
/// `PORTAL_REQUIRE_EMULATORS=1` says every outside check must run.
#[tokio::test]
async fn an_outside_validator_accepts_the_document() {
    let python = match std::env::var("PORTAL_TEST_PYTHON") {
        Ok(python) if !python.trim().is_empty() => python,
        _ if std::env::var("PORTAL_REQUIRE_EMULATORS").as_deref() == Ok("1") => {
            panic!("PORTAL_REQUIRE_EMULATORS=1 but PORTAL_TEST_PYTHON is not set")
        }
        _ => {
            println!("PORTAL_TEST_PYTHON is not set: skipping openapi-spec-validator");
            return;
        }
    };
    let document = served_document().await;
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), serde_json::to_vec(&document).expect("JSON")).expect("write");
    let output = std::process::Command::new(python)
        .args(["-c", VALIDATE, &file.path().to_string_lossy()])
        .output()
        .expect("python runs");
    assert!(output.status.success(), "the OpenAPI document is invalid:\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("valid OpenAPI 3.1"));
}

/// The whole contract, so a reviewer sees every change to it.
#[tokio::test]
async fn openapi_document_snapshot() {
    let mut document = served_document().await;
    document["info"]["version"] = Value::from("[version]");
    insta::assert_json_snapshot!("openapi_document", document);
}
