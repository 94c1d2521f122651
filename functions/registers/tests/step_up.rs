//! Step-up on register writes (issue 13, item 7): a delivery address and a
//! qualified certificate are legal acts with lasting effect, so they need a
//! login no older than 10 minutes; an older one gets 401
//! `/problems/reauthentication-required` and files nothing. A contact (e-mail,
//! phone) is not such an act and goes through.

mod common;

use std::time::Duration;

use axum::http::{Method, StatusCode};
use common::portal;
use portal_testkit::{JANA, call, json_of, write};
use serde_json::json;

#[tokio::test]
async fn a_register_write_with_lasting_effect_needs_a_login_no_older_than_ten_minutes() {
    let Some(openssl) = common::certs::Openssl::new() else { return };
    let portal = portal();
    let jana = portal.login(JANA).await;
    // Eleven minutes on (the session is still within its idle timeout).
    portal.clock.advance(Duration::from_secs(11 * 60));
    let acts = [
        json!({"kind": "delivery-address", "poBox": "42", "municipality": "Brno", "postcode": "60200"}),
        json!({"kind": "qualified-certificate", "certificate": common::certs::janas_certificate(&openssl).pem}),
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
