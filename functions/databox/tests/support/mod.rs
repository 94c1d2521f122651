//! What several of this crate's tests share (each test file is a crate of
//! its own and uses part of it).
#![allow(dead_code)]

pub mod zfo;

use std::sync::Arc;

use portal_databox::box_requests::BoxManagement;
use portal_databox::isds::Isds;
use portal_databox::payments::{NotConnected, PaymentsNotConnected};
use portal_databox::{BoxDirectory, Databox, DataboxSettings};
use portal_testkit::Harness;

/// The capability as production composes it, on the harness's stores, keys
/// and clock: the given ISDS adapter, box management and directory, no
/// payment gateway or credit system, nothing simulated.
pub fn databox_on(
    harness: &Harness,
    isds: Arc<dyn Isds>,
    management: Arc<dyn BoxManagement>,
    directory: Arc<dyn BoxDirectory>,
) -> Databox {
    Databox {
        isds,
        management,
        directory,
        payments: Arc::new(PaymentsNotConnected),
        credit: Arc::new(NotConnected),
        documents: harness.documents.clone(),
        blobs: harness.store.clone(),
        queues: harness.store.clone(),
        sealer: harness.sealer.clone(),
        access_log: harness.access_log.clone(),
        clock: harness.clock.clone(),
        settings: DataboxSettings { simulated: false, ..DataboxSettings::default() },
        simulated_payments: None,
    }
}

/// `subject` logged in with a browser session (as the portal stores one), for
/// calls made in a citizen's own session.
pub fn citizen(subject: &str) -> portal_security::Citizen {
    let session: portal_security::Session = serde_json::from_value(serde_json::json!({
        "subject": subject, "loa": "substantial", "provider": "development", "csrfToken": "t",
        "createdAt": "2026-03-02T08:00:00Z", "lastSeen": "2026-03-02T08:00:00Z", "expiresAt": "2026-03-02T16:00:00Z",
    }))
    .expect("a stored session");
    portal_security::Citizen {
        subject: session.subject.clone(),
        loa: session.loa,
        credential: portal_security::Credential::Cookie,
        session,
    }
}

/// The SOAP adapter's configuration for a fake ISDS listening at `addr`,
/// logged in with a test password to `own_box`.
pub fn soap_config(addr: std::net::SocketAddr, own_box: &str) -> portal_databox::isds::soap::SoapConfig {
    use portal_databox::isds::soap::{SoapConfig, SoapLogin, SoapTimeouts};
    let login = SoapLogin::Password {
        user: "portal-test".into(),
        password: secrecy::SecretString::from("tajne-heslo"),
        own_box: portal_databox::isds::BoxId::parse(own_box).expect("box"),
    };
    SoapConfig { base_url: format!("http://{addr}/DS/"), login, timeouts: SoapTimeouts::default() }
}
