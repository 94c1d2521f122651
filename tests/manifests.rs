//! The generated manifests: snapshotted so reviewers see every change, and
//! checked against the declarations and the committed host.json.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use portal::app::{self, Stores};
use portal::package;
use portal_config::Settings;
use portal_host::Trigger;
use portal_host::manifest::function_json;
use portal_store::SystemClock;
use portal_store::embedded::EmbeddedStore;
use tower::ServiceExt as _;

fn local_settings() -> Settings {
    Settings::from_lookup(|_| None).expect("defaults")
}

fn stores() -> Stores {
    let clock = Arc::new(SystemClock);
    Stores::embedded(EmbeddedStore::in_memory(clock.clone()).expect("store"), clock)
}

#[test]
fn function_manifests_snapshot() {
    let runtime = app::runtime(&stores(), &local_settings(), None).expect("runtime");
    let manifests: serde_json::Map<String, serde_json::Value> =
        runtime.functions().iter().map(|f| (f.name.clone(), function_json(f))).collect();
    insta::assert_json_snapshot!("function_manifests", manifests);
}

#[test]
fn the_committed_host_json_is_the_generated_one() {
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/host.json")).expect("host.json");
    assert_eq!(committed, package::host_json_text(None), "regenerate host.json with `portal package` (see README)");
    let host: serde_json::Value = serde_json::from_str(&committed).expect("JSON");
    assert_eq!(host["customHandler"]["enableForwardingHttpRequest"], true);
    assert_eq!(host["customHandler"]["description"]["defaultExecutablePath"], "portal");
    assert_eq!(host["customHandler"]["description"]["arguments"], serde_json::json!(["serve"]));
    assert_eq!(host["extensionBundle"]["version"], "[4.*, 5.0.0)");
    assert_eq!(host["extensions"]["queues"]["maxDequeueCount"], 5);
}

/// Every declaration is routed (not the 404 fallback), with the method it declares.
#[tokio::test]
async fn every_declared_function_has_a_handler() {
    let runtime = app::runtime(&stores(), &local_settings(), None).expect("runtime");
    let router = runtime.router();
    assert!(!runtime.functions().is_empty());
    for function in runtime.functions() {
        let request = match &function.trigger {
            Trigger::Http { methods, route, .. } => {
                let path = format!("/api/{}", route.replace('{', "x").replace('}', ""));
                Request::builder().method(methods[0].clone()).uri(path).body(Body::empty()).expect("request")
            }
            Trigger::Queue { .. } | Trigger::Timer { .. } => {
                // An empty envelope: the function must answer 400 (it exists), not 404.
                Request::post(format!("/{}", function.name)).body(Body::from("{}")).expect("request")
            }
        };
        let status = router.clone().oneshot(request).await.expect("infallible").status();
        assert_ne!(status, StatusCode::NOT_FOUND, "{} has no handler", function.name);
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{} does not answer its declared method", function.name);
    }
}

#[test]
fn unknown_capabilities_are_refused_by_name() {
    let error =
        app::runtime(&stores(), &local_settings(), Some(&["ops".into(), "astrology".into()])).expect_err("unknown");
    assert_eq!(error.to_string(), format!("unknown capability 'astrology'; known: {}", app::CAPABILITIES.join(", ")));
}
