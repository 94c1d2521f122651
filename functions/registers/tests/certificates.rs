//! Qualified-certificate entry verifies the certificate (issue 15, item 16):
//! certificates made on the fly with OpenSSL, against the test CA committed
//! for local mode (the default trust anchor) and CAs made here.

mod common;

use axum::http::{Method, StatusCode};
use common::certs::{Openssl, committed_ca, janas_certificate};
use common::{portal, portal_with};
use portal_registers::RegistersSettings;
use portal_registers::filings::certificate::TrustAnchors;
use portal_testkit::{JANA, call, json_of, write};
use serde_json::json;

async fn enter(portal: &common::Portal, certificate: &str) -> (StatusCode, serde_json::Value) {
    let jana = portal.login(JANA).await;
    let body = json!({"kind": "qualified-certificate", "certificate": certificate});
    let (status, _, bytes) =
        call(&portal.router, write(Method::POST, "/api/filings/register-writes", &jana, Some(body))).await;
    (status, json_of(&bytes))
}

fn rule(problem: &serde_json::Value) -> String {
    assert_eq!(problem["errors"][0]["field"], "certificate", "{problem}");
    problem["errors"][0]["rule"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn janas_certificate_from_a_trusted_ca_is_filed_and_a_strangers_or_a_self_signed_one_is_not() {
    let Some(openssl) = Openssl::new() else { return };
    let portal = portal();
    let (status, filing) = enter(&portal, &janas_certificate(&openssl).pem).await;
    assert_eq!(status, StatusCode::CREATED, "{filing}");

    let ca = committed_ca();
    let (from, to) = ("20260101000000Z", "20281231235959Z");
    let stranger = openssl.make("petr", "/C=CZ/CN=Petr Svoboda", Some(&ca), "signing", from, to);
    let (status, problem) = enter(&portal, &stranger.pem).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(rule(&problem).contains("issued to Petr Svoboda, not to you"), "{problem}");

    // Self-signed with Jana's name, and one whose issuer only copies the CA's name.
    let own = openssl.make("self", "/C=CZ/CN=Jana Nováková", None, "signing", from, to);
    let (status, problem) = enter(&portal, &own.pem).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(rule(&problem).contains("qualified CA"), "{problem}");
    let impostor = openssl.make(
        "impostor",
        "/C=CZ/O=Portál občana (simulace)/CN=Testovací kvalifikovaná CA (SIMULACE)",
        None,
        "ca_cert",
        from,
        to,
    );
    let forged = openssl.make("forged", "/C=CZ/CN=Jana Nováková", Some(&impostor), "signing", from, to);
    let (status, problem) = enter(&portal, &forged.pem).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the CA's name without its key: {problem}");
    assert!(rule(&problem).contains("qualified CA"), "{problem}");

    // An encryption certificate is no signing certificate.
    let encryption = openssl.make("enc", "/C=CZ/CN=Jana Nováková", Some(&ca), "encryption", from, to);
    let (status, problem) = enter(&portal, &encryption.pem).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(rule(&problem).contains("key usage"), "{problem}");
}

#[tokio::test]
async fn the_chain_runs_through_the_intermediates_given_to_the_configured_anchor_only() {
    let Some(openssl) = Openssl::new() else { return };
    let (from, to) = ("20250101000000Z", "20301231235959Z");
    let root = openssl.make("root", "/C=CZ/O=Kvalifikovaná CA/CN=Root", None, "ca_cert", from, to);
    let issuing = openssl.make("issuing", "/C=CZ/O=Kvalifikovaná CA/CN=Issuing", Some(&root), "ca_cert", from, to);
    let jana = openssl.make("jana2", "/C=CZ/GN=Jana/SN=NOVÁKOVÁ/CN=J. N.", Some(&issuing), "signing", from, to);
    let anchors = TrustAnchors::from_pem(&root.pem).expect("anchor");
    let portal =
        portal_with(RegistersSettings { qualified_trust_anchors: anchors, ..RegistersSettings::default() }, None);

    let (status, problem) = enter(&portal, &jana.pem).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "without the intermediate there is no chain: {problem}");
    let (status, filing) = enter(&portal, &format!("{}{}", jana.pem, issuing.pem)).await;
    assert_eq!(status, StatusCode::CREATED, "given name and surname match, case aside: {filing}");

    // The committed local CA is not trusted where other anchors are configured.
    let (status, _) = enter(&portal, &janas_certificate(&openssl).pem).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let none = portal_with(
        RegistersSettings { qualified_trust_anchors: TrustAnchors::default(), ..RegistersSettings::default() },
        None,
    );
    let (status, problem) = enter(&none, &jana.pem).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(rule(&problem).contains("no qualified CA is configured"), "{problem}");
}
