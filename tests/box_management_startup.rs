//! Issue 14 §6, the composition: with ISDS over SOAP, box management
//! (`CreateDataBox2`) is connected only when its own settings are given
//! (`PORTAL_ISDS_MANAGE_*`, the operator's privileged system certificate),
//! and a certificate or key that cannot be used stops start-up naming those
//! settings, as the hosted login's does.

use std::sync::Arc;

use portal::app::{self, AppError, Services, Stores};
use portal_config::Settings;
use portal_store::SystemClock;
use portal_store::embedded::EmbeddedStore;

/// A throwaway self-signed certificate and its key, as PEM (no key is ever
/// committed); `openssl` is part of the test command's tools.
fn certificate(name: &str) -> (String, String) {
    let dir = std::env::temp_dir().join(format!("portal-box-management-{}-{name}", std::process::id()));
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

async fn start(settings: &Settings) -> Result<app::App, AppError> {
    let clock = Arc::new(SystemClock);
    let stores = Stores::embedded(EmbeddedStore::in_memory(clock.clone()).expect("store"), clock);
    let mut settings = settings.clone();
    settings.store = portal_config::StoreSettings::Embedded { data_dir: ".portal".into(), in_memory: true };
    let services = Services::with_stores(stores, &settings).await.expect("services");
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
