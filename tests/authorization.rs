//! Authorization walks over every declared route, so new routes join
//! automatically: anonymous requests to anything not explicitly public get
//! 401, and every route that takes a resource id must prove that citizen A's
//! session on citizen B's resource gets 404 (broken object level authorization).

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use portal::app::{self, Services, Stores};
use portal_host::Trigger;
use portal_store::SystemClock;
use portal_store::embedded::EmbeddedStore;
use tower::ServiceExt as _;

/// Routes anyone may call, with why.
const PUBLIC: &[(&str, &str)] = &[
    ("health", "liveness probe"),
    ("ready", "readiness probe"),
    ("version", "what is running"),
    ("auth/login", "starts a login"),
    ("auth/callback", "the provider's redirect back"),
    ("auth/dev", "the development provider's page (404 outside local mode)"),
    ("auth/dev/login", "the development provider's login (404 outside local mode)"),
];

/// For each route with a resource id: how to create citizen B's resource and
/// the path that names it. Empty today: no route takes a resource id yet. A new
/// route with `{id}` fails `every_route_with_a_resource_id_has_a_bola_probe`
/// until its probe is added here.
type Probe = fn() -> String;
const BOLA_PROBES: &[(&str, Probe)] = &[];

async fn app() -> app::App {
    let clock = Arc::new(SystemClock);
    let stores = Stores::embedded(EmbeddedStore::in_memory(clock.clone()).expect("store"), clock);
    let mut settings = portal_config::Settings::from_lookup(|_| None).expect("defaults");
    settings.store = portal_config::StoreSettings::Embedded { data_dir: ".portal".into(), in_memory: true };
    let services = Services::with_stores(stores, &settings).await.expect("services");
    app::app(&services, &settings, None).expect("app")
}

#[tokio::test]
async fn every_non_public_route_refuses_anonymous_requests() {
    let app = app().await;
    let router = app.router();
    let mut checked = 0;
    for function in app.runtime.functions() {
        let Trigger::Http { methods, route, .. } = &function.trigger else { continue };
        if PUBLIC.iter().any(|(public, _)| public == route) {
            continue;
        }
        for method in methods {
            let path = format!("/api/{}", route.replace('{', "x-").replace('}', ""));
            let request = Request::builder().method(method.clone()).uri(&path).body(Body::empty()).expect("request");
            let status = router.clone().oneshot(request).await.expect("infallible").status();
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path} ({}) answered anonymously", function.name);
            checked += 1;
        }
    }
    assert!(checked >= 6, "the walk covered the citizen routes ({checked})");
}

#[tokio::test]
async fn every_route_with_a_resource_id_has_a_bola_probe() {
    let app = app().await;
    for function in app.runtime.functions() {
        let Trigger::Http { route, .. } = &function.trigger else { continue };
        if route.contains('{') {
            assert!(
                BOLA_PROBES.iter().any(|(probed, _)| probed == route),
                "route {route} ({}) takes a resource id but has no BOLA probe in tests/authorization.rs",
                function.name
            );
        }
    }
    for (route, probe) in BOLA_PROBES {
        let path = probe();
        assert!(!path.is_empty(), "{route}");
    }
}
