//! QR Platba checked against the world: the PNG decoded by an independent
//! decoder (zbarimg of Debian's zbar-tools), the text compared with an
//! independent SPAYD generator (`qrplatba` from PyPI, in the test Python),
//! which also computes the IBAN's check digits from the Czech account number.

mod common;

use std::process::Command;

use axum::http::StatusCode;
use common::*;
use portal_fees::spayd;
use portal_testkit::{JANA, call, call_json, get};

const DOG: &str = "p10-pes-2027-0042";

/// Whether a checker that is not installed skips (focused runs) or fails
/// (scripts/test.sh sets PORTAL_REQUIRE_EMULATORS).
fn required() -> bool {
    std::env::var_os("PORTAL_REQUIRE_EMULATORS").is_some()
}

fn zbarimg() -> Option<&'static str> {
    let found = Command::new("zbarimg").arg("--version").output().is_ok_and(|o| o.status.success());
    assert!(found || !required(), "zbarimg (zbar-tools) is required");
    found.then_some("zbarimg")
}

#[tokio::test]
async fn the_png_decodes_with_zbar_to_the_spayd_of_the_fee_which_parses_back() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    let (status, _, qr) = call_json(&portal.router, get(&format!("/api/fees/{DOG}/qr"), &jana)).await;
    assert_eq!(status, StatusCode::OK, "{qr}");
    let text = qr["spayd"].as_str().expect("spayd").to_owned();
    let fields = spayd::parse(&text).expect("our own reader");
    assert_eq!(fields["ACC"], "CZ5608000000000111122223");
    assert!(spayd::Iban::parse(&fields["ACC"]).is_ok(), "check digits");
    assert_eq!((fields["AM"].as_str(), fields["CC"].as_str()), ("1500.00", "CZK"));
    assert_eq!((fields["X-VS"].as_str(), fields["DT"].as_str()), ("1341202742", "20270331"));
    assert!(fields["MSG"].starts_with("SIMULACE NEPLATIT"), "labelled: {}", fields["MSG"]);

    let (status, headers, png) = call(&portal.router, get(&format!("/api/fees/{DOG}/qr/png"), &jana)).await;
    assert_eq!((status, headers["content-type"].to_str().ok()), (StatusCode::OK, Some("image/png")));
    let (status, headers, svg) = call(&portal.router, get(&format!("/api/fees/{DOG}/qr/svg"), &jana)).await;
    assert_eq!((status, headers["content-type"].to_str().ok()), (StatusCode::OK, Some("image/svg+xml")));
    assert!(String::from_utf8_lossy(&svg).contains("<svg"));

    let Some(zbar) = zbarimg() else {
        eprintln!("SKIPPED: zbarimg is not installed (apt-get install zbar-tools)");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("qr.png");
    std::fs::write(&file, &png).expect("write");
    let out = Command::new(zbar).args(["--raw", "-q", "-Sbinary"]).arg(&file).output().expect("zbarimg runs");
    assert!(out.status.success(), "zbarimg found a code: {}", String::from_utf8_lossy(&out.stderr));
    let decoded = String::from_utf8(out.stdout).expect("UTF-8");
    let decoded = decoded.strip_suffix('\n').unwrap_or(&decoded);
    assert_eq!(decoded, text, "the image carries the payload");
    assert_eq!(spayd::parse(decoded).expect("a valid SPAYD"), fields);
}

#[test]
fn the_payload_is_what_an_independent_generator_writes() {
    let Some(python) = portal_testkit::test_python() else {
        assert!(!required(), "the test Python is required");
        eprintln!("SKIPPED: PORTAL_TEST_PYTHON is not set");
        return;
    };
    let payment = spayd::Payment {
        iban: spayd::Iban::parse("CZ5608000000000111122223").expect("iban"),
        amount_hellers: 150_000,
        variable_symbol: "1341202742".into(),
        // ASCII: qrplatba writes values as they are, while the portal escapes
        // non-ASCII characters as the format's reference implementation does.
        message: "Poplatek ze psu 2027".into(),
        payee: "MC PRAHA 10".into(),
        due_date: time::macros::date!(2027 - 03 - 31),
    };
    let ours = spayd::encode(&payment).expect("encodes");
    // qrplatba converts the Czech account number itself (its own mod-97 code).
    let script = r#"
import datetime, sys
from qrplatba import QRPlatbaGenerator
g = QRPlatbaGenerator("111122223/0800", amount=1500.0, currency="CZK", x_vs="1341202742",
                      message="Poplatek ze psu 2027", recipient_name="MC PRAHA 10",
                      due_date=datetime.date(2027, 3, 31))
sys.stdout.write(g.get_text())
"#;
    let out = Command::new(python).args(["-c", script]).output().expect("python runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let theirs = String::from_utf8(out.stdout).expect("UTF-8");
    assert_eq!(ours, theirs, "the same SPAYD text, IBAN check digits included");
}
