//! The generated manifests: snapshotted so reviewers see every change, and
//! checked against the declarations and the committed host.json.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use portal::app::{self, Services, Stores};
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

async fn services() -> Services {
    let clock = Arc::new(SystemClock);
    let stores = Stores::embedded(EmbeddedStore::in_memory(clock.clone()).expect("store"), clock);
    let mut settings = local_settings();
    settings.store = portal_config::StoreSettings::Embedded { data_dir: ".portal".into(), in_memory: true };
    Services::with_stores(stores, &settings).await.expect("services")
}

#[tokio::test]
async fn function_manifests_snapshot() {
    let runtime = app::runtime(&services().await, &local_settings(), None).expect("runtime");
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
    let app = app::app(&services().await, &local_settings(), None).expect("app");
    let (runtime, router) = (&app.runtime, app.router());
    assert!(!runtime.functions().is_empty());
    for function in runtime.functions() {
        let request = match &function.trigger {
            Trigger::Http { methods, route, .. } => {
                let path = format!("/api/{}", route.replace('{', "x").replace('}', ""));
                Request::builder().method(methods[0].clone()).uri(path).body(Body::empty()).expect("request")
            }
            Trigger::Queue { .. } | Trigger::Timer { .. } => {
                // An empty envelope: the function must answer 400 (it exists), not 404.
                Request::post(format!("/{}", function.name))
                    .header(
                        portal_host::runtime::INVOCATION_SECRET_HEADER,
                        runtime.invocation_secret().unwrap_or_default(),
                    )
                    .body(Body::from("{}"))
                    .expect("request")
            }
        };
        let response = router.clone().oneshot(request).await.expect("infallible");
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
        // A handler may answer 404 itself (a provider that is off); the
        // router's fallback says no function answers the path.
        let fallback = String::from_utf8_lossy(&body).contains("no function answers this path");
        assert!(!(status == StatusCode::NOT_FOUND && fallback), "{} has no handler", function.name);
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{} does not answer its declared method", function.name);
    }
}

#[tokio::test]
async fn unknown_capabilities_are_refused_by_name() {
    let error = app::runtime(&services().await, &local_settings(), Some(&["ops".into(), "astrology".into()]))
        .expect_err("unknown");
    assert_eq!(error.to_string(), format!("unknown capability 'astrology'; known: {}", app::CAPABILITIES.join(", ")));
}
