//! Issue 14 §6, the composition: with ISDS over SOAP, box management
//! (`CreateDataBox2`) is connected only when its own settings are given
//! (`PORTAL_ISDS_MANAGE_*`, the operator's privileged system certificate),
//! and a certificate or key that cannot be used stops start-up naming those
//! settings, as the hosted login's does. The person's data ISDS is sent come
//! from the citizen's identity profile.

use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{Request, StatusCode, header};
use axum::response::IntoResponse;
use portal::app::{self, AppError, Services, Stores};
use portal_config::Settings;
use portal_security::{Loa, SubjectId};
use portal_store::SystemClock;
use portal_store::embedded::EmbeddedStore;
use tower::ServiceExt as _;

/// A throwaway self-signed certificate and its key, as PEM (no key is ever
/// committed); `openssl` is part of the test command's tools.
fn certificate(name: &str) -> (String, String) {
    static MADE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = MADE.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("portal-box-management-{}-{n}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temporary folder");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let output = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=portal-test"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs");
    assert!(output.status.success(), "openssl made a certificate");
    let read = |path: &std::path::Path| std::fs::read_to_string(path).expect("readable");
    let pair = (read(&cert), read(&key));
    std::fs::remove_dir_all(&dir).expect("cleaned up");
    pair
}

fn settings(manage: &[(&str, String)]) -> Result<Settings, portal_config::ConfigError> {
    let (cert, key) = certificate("hosted");
    let mut values: Vec<(&str, String)> = vec![
        ("PORTAL_ISDS", "soap".into()),
        ("PORTAL_ISDS_URL", "http://127.0.0.1:9/hspis/DS/".into()),
        ("PORTAL_ISDS_CERT", cert),
        ("PORTAL_ISDS_KEY", key),
        ("PORTAL_ISDS_ZFO_TRUST", include_str!("../functions/registers/testdata/qualified-test-ca.pem").into()),
    ];
    values.extend(manage.iter().cloned());
    Settings::from_lookup(|name| values.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone()))
}

async fn services(settings: &Settings) -> (Services, Settings) {
    let clock = Arc::new(SystemClock);
    let stores = Stores::embedded(EmbeddedStore::in_memory(clock.clone()).expect("store"), clock);
    let mut settings = settings.clone();
    settings.store = portal_config::StoreSettings::Embedded { data_dir: ".portal".into(), in_memory: true };
    (Services::with_stores(stores, &settings).await.expect("services"), settings)
}

async fn start(settings: &Settings) -> Result<app::App, AppError> {
    let (services, settings) = services(settings).await;
    app::app(&services, &settings, Some(&["databox".to_owned()]))
}

#[tokio::test]
async fn box_management_starts_only_with_a_usable_certificate_of_its_own() {
    // Not configured: the data box runs, requests for a box wait.
    assert!(start(&settings(&[]).expect("settings")).await.is_ok());

    let (cert, key) = certificate("manage");
    let manage = |cert: String, key: String| {
        vec![
            ("PORTAL_ISDS_MANAGE_URL", "http://127.0.0.1:9/cert/DS/".to_owned()),
            ("PORTAL_ISDS_MANAGE_BOX", "ovm4spr".to_owned()),
            ("PORTAL_ISDS_MANAGE_CERT", cert),
            ("PORTAL_ISDS_MANAGE_KEY", key),
        ]
    };
    assert!(start(&settings(&manage(cert.clone(), key)).expect("settings")).await.is_ok());

    // A key that is no key stops start-up, naming the settings.
    let broken = settings(&manage(cert, "-----BEGIN PRIVATE KEY-----\nMC4CAQA=\n-----END PRIVATE KEY-----".into()))
        .expect("settings");
    let Err(error) = start(&broken).await else { panic!("a key that is no key was accepted") };
    assert!(error.to_string().contains("PORTAL_ISDS_MANAGE"), "{error}");
}

type Seen = Arc<Mutex<Vec<String>>>;

/// ISDS's box management as far as this test goes: no box of the person
/// yet (`FindDataBox2` 0002), and `CreateDataBox2` creates `nfo0001`.
async fn isds(State(seen): State<Seen>, body: Bytes) -> axum::response::Response {
    let body = String::from_utf8(body.to_vec()).expect("UTF-8");
    seen.lock().expect("lock").push(body.clone());
    let ns = "http://isds.czechpoint.cz/v20";
    let payload = if body.contains("<FindDataBox2 ") {
        format!(
            "<FindDataBox2Response xmlns=\"{ns}\"><dbStatus><dbStatusCode>0002</dbStatusCode><dbStatusMessage>\
             Podmínkám neodpovídá žádná datová schránka.</dbStatusMessage></dbStatus></FindDataBox2Response>"
        )
    } else if body.contains("<CreateDataBox2 ") {
        format!(
            "<CreateDataBox2Response xmlns=\"{ns}\"><dbID>nfo0001</dbID><dbStatus><dbStatusCode>0000</dbStatusCode>\
             <dbStatusMessage>Provedeno úspěšně.</dbStatusMessage></dbStatus></CreateDataBox2Response>"
        )
    } else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let envelope = format!(
        "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body>{payload}</soap:Body>\
         </soap:Envelope>"
    );
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/xml; charset=utf-8")], envelope).into_response()
}

#[tokio::test]
async fn the_person_isds_is_told_of_comes_from_the_identity_profile() {
    let seen = Seen::default();
    let fake = axum::Router::new().fallback(isds).with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, fake).await.expect("serve") });
    let (cert, key) = certificate("profile");
    let settings = settings(&[
        ("PORTAL_ISDS_MANAGE_URL", format!("http://{addr}/cert/DS/")),
        ("PORTAL_ISDS_MANAGE_BOX", "ovm4spr".to_owned()),
        ("PORTAL_ISDS_MANAGE_CERT", cert),
        ("PORTAL_ISDS_MANAGE_KEY", key),
    ])
    .expect("settings");
    let (services, settings) = services(&settings).await;
    let router = app::app(&services, &settings, Some(&["databox".to_owned()])).expect("app").router();

    let request_box = |who: &'static str, birth: Option<&'static str>| {
        let (services, router) = (&services, router.clone());
        async move {
            let subject = SubjectId::parse(who).expect("subject");
            let profile = portal_identity::profile::Profile {
                given_name: Some("Petr".into()),
                family_name: Some("Svoboda".into()),
                date_of_birth: birth.map(str::to_owned),
                address: Some("Korunní 810/12a, 120 00 Praha".into()),
                email: Some("petr@example.cz".into()),
                phone: None,
            };
            let documents = services.stores.documents.as_ref();
            portal_identity::profile::save(documents, &services.sealer, &subject, &profile).await.expect("profile");
            let login = services.sessions.create(subject, Loa::Substantial, "development").await.expect("session");
            let request = Request::post("/api/databox/box-requests")
                .header(header::COOKIE, format!("__Host-portal_session={}", login.secret))
                .header("x-csrf-token", &login.session.csrf_token)
                .body(Body::empty())
                .expect("request");
            let response = router.oneshot(request).await.expect("infallible");
            assert_eq!(response.status(), StatusCode::ACCEPTED);
            let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
            serde_json::from_slice::<serde_json::Value>(&body).expect("JSON")
        }
    };

    let created = request_box("DEMO%2Fpetr-svoboda", Some("1985-04-12")).await;
    assert_eq!((&created["state"], &created["boxId"]), (&"created".into(), &"nfo0001".into()), "{created}");
    let bodies = seen.lock().expect("lock").clone();
    let create = bodies.iter().find(|b| b.contains("<CreateDataBox2 ")).expect("CreateDataBox2 was sent");
    for part in [
        "<dbType>FO</dbType>",
        "<pnGivenNames>Petr</pnGivenNames>",
        "<pnLastName>Svoboda</pnLastName>",
        "<biDate>1985-04-12</biDate>",
        "<notifEmail>petr@example.cz</notifEmail>",
        // NIA's address is one line: not split into ISDS's parts by guess.
        "<adCity xsi:nil=\"true\"/>",
    ] {
        assert!(create.contains(part), "{part} in {create}");
    }

    // Without a date of birth nobody can be identified: refused at once,
    // saying why, and ISDS is not asked.
    seen.lock().expect("lock").clear();
    let refused = request_box("DEMO%2Fjiri-dvorak", None).await;
    assert_eq!(refused["state"], "refused", "{refused}");
    assert!(refused["refusalReason"].as_str().is_some_and(|r| r.contains("datum narození")), "{refused}");
    assert!(seen.lock().expect("lock").is_empty());
}
