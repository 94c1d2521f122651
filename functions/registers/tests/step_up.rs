//! Step-up on register writes (issue 13, item 7): a delivery address and a
//! qualified certificate are legal acts with lasting effect, so they need a
//! login no older than 10 minutes; an older one gets 401
//! `/problems/reauthentication-required` and files nothing. A contact (e-mail,
//! phone) is not such an act and goes through.

mod common;

use std::time::Duration;

use axum::http::{Method, StatusCode};
use base64::Engine as _;
use common::portal;
use portal_testkit::{JANA, call, json_of, write};
use serde_json::json;

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    match content.len() {
        n if n < 0x80 => out.push(n as u8),
        n if n < 0x100 => out.extend_from_slice(&[0x81, n as u8]),
        n => {
            out.push(0x82);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
    }
    out.extend_from_slice(content);
    out
}

/// An X.509 structure valid through 2028 (the agency checks the signature,
/// not the portal).
fn certificate_pem() -> String {
    let name = tlv(
        0x30,
        &tlv(0x31, &tlv(0x30, &[tlv(0x06, &[0x55, 0x04, 0x03]), tlv(0x0C, "Jana Nováková".as_bytes())].concat())),
    );
    let algorithm = tlv(0x30, &tlv(0x06, &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02]));
    let validity = [tlv(0x17, b"260101000000Z"), tlv(0x17, b"281231235959Z")].concat();
    let tbs = tlv(
        0x30,
        &[
            tlv(0xA0, &tlv(0x02, &[2])),
            tlv(0x02, &[0x3A, 0x5F, 0x01]),
            algorithm.clone(),
            name.clone(),
            tlv(0x30, &validity),
            name,
            tlv(0x30, &[algorithm.clone(), tlv(0x03, &[0; 66])].concat()),
        ]
        .concat(),
    );
    let der = tlv(0x30, &[tbs, algorithm, tlv(0x03, &[0; 72])].concat());
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).expect("ascii")).collect();
    format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n", lines.join("\n"))
}

#[tokio::test]
async fn a_register_write_with_lasting_effect_needs_a_login_no_older_than_ten_minutes() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    // Eleven minutes on (the session is still within its idle timeout).
    portal.clock.advance(Duration::from_secs(11 * 60));
    let acts = [
        json!({"kind": "delivery-address", "poBox": "42", "municipality": "Brno", "postcode": "60200"}),
        json!({"kind": "qualified-certificate", "certificate": certificate_pem()}),
    ];
    for act in &acts {
        let (status, _, problem) =
            call(&portal.router, write(Method::POST, "/api/filings/register-writes", &jana, Some(act.clone()))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{act}: {}", String::from_utf8_lossy(&problem));
        assert_eq!(json_of(&problem)["type"], "/problems/reauthentication-required", "{act}");
    }
    let (status, _, body) = call(&portal.router, portal_testkit::get("/api/filings", &jana)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json_of(&body)["items"], json!([]), "nothing was filed: {}", String::from_utf8_lossy(&body));

    // A contact is no such act; a fresh login may file the others.
    let contact = json!({"kind": "contact", "email": "jana@example.cz"});
    let (status, _, body) =
        call(&portal.router, write(Method::POST, "/api/filings/register-writes", &jana, Some(contact))).await;
    assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&body));
    let fresh = portal.login(JANA).await;
    for act in acts {
        let (status, _, body) =
            call(&portal.router, write(Method::POST, "/api/filings/register-writes", &fresh, Some(act))).await;
        assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&body));
    }
}
