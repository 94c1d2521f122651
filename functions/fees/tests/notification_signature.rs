//! The gateway's notification signature checked against an independent
//! implementation: Python's standard `hmac` module computes the `v1` of
//! `t=<unix>,v1=<hex>` over `<t>.<raw body>` (the scheme Stripe documents
//! for its webhooks), for a notification the simulator signed.

mod common;

use std::process::Command;

use common::SECRET;
use portal_payments::{NotificationKey, PaymentStatus};
use time::macros::datetime;

#[test]
fn python_hmac_computes_the_same_signature() {
    let Some(python) = portal_testkit::test_python() else {
        assert!(std::env::var_os("PORTAL_REQUIRE_EMULATORS").is_none(), "the test Python is required");
        eprintln!("SKIPPED: PORTAL_TEST_PYTHON is not set");
        return;
    };
    let key = NotificationKey::new(SECRET);
    let signed =
        key.notify("2f1c6a52-6d0b-4f3e-9d55-0d6f2b9b8e11", PaymentStatus::Paid, datetime!(2026-11-23 08:00 UTC));
    let script = r#"
import hashlib, hmac, sys
secret, header, body = sys.argv[1].encode(), sys.argv[2], sys.argv[3].encode()
parts = dict(p.split("=", 1) for p in header.split(","))
expected = hmac.new(secret, parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
sys.stdout.write("ok" if hmac.compare_digest(expected, parts["v1"]) else "mismatch " + expected)
"#;
    let secret = std::str::from_utf8(SECRET).expect("ASCII secret");
    let out = Command::new(python)
        .args(["-c", script, secret, &signed.signature, &signed.body])
        .output()
        .expect("python runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ok", "header {}", signed.signature);
}
