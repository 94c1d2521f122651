//! The ZFO signature check against outside oracles: real ZFOs from the ISDS
//! test environment (BER, PostSignum; `tests/fixtures/zfo/README.md`) and
//! ZFOs that `openssl cms -sign` makes at test time (DER, and BER with
//! indefinite lengths from `-stream`). For each, OpenSSL's own verdict
//! (`openssl cms -verify`, at the time our check used) must equal ours; a
//! tampered copy must fail both. The simulator's ZFOs are checked the other
//! way round: OpenSSL must verify what the simulator signs, and `openssl ts
//! -verify` its time-stamp token.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use portal_databox::isds::zfo_sign::{SIGNER_NAME, TSA_NAME, simulated_signer};
use portal_databox::isds::zfo_verify::{SignatureCheck, TrustAnchors, verify};
use time::OffsetDateTime;
use time::macros::datetime;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/zfo")
}

fn postsignum() -> TrustAnchors {
    let pem = std::fs::read_to_string(fixtures().join("postsignum.pem")).expect("the PostSignum anchors");
    TrustAnchors::from_pem(&pem).expect("PEM certificates")
}

fn openssl(args: &[&str], dir: &Path) -> bool {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl is installed (the test command needs it)")
        .success()
}

/// OpenSSL's verdict on `zfo` with `ca_file`'s anchors, checked at `at`.
fn openssl_verifies(zfo: &[u8], ca_file: &Path, at: OffsetDateTime) -> bool {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(dir.path().join("in.zfo"), zfo).expect("written");
    let at = at.unix_timestamp().to_string();
    let ca = ca_file.to_str().expect("a UTF-8 path");
    openssl(
        &[
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            "in.zfo",
            "-CAfile",
            ca,
            "-partial_chain",
            "-purpose",
            "any",
            "-attime",
            &at,
            "-out",
            "/dev/null",
        ],
        dir.path(),
    )
}

/// The time our check judged the certificates at: the time stamp's.
fn checked_at(check: &SignatureCheck) -> OffsetDateTime {
    check.time_stamp.as_ref().expect("a time stamp").time
}

#[test]
fn real_isds_zfos_verify_as_openssl_says() {
    let anchors = postsignum();
    let now = datetime!(2026-01-01 00:00 UTC);
    for name in ["DZ_6452235.zfo", "DDZ_3401761.zfo"] {
        let zfo = std::fs::read(fixtures().join(name)).expect("the fixture");
        assert_eq!(&zfo[..2], &[0x30, 0x80], "{name} is BER with an indefinite length, as ISDS writes it");
        let check = verify(&zfo, &anchors, now);
        let stamp = check.time_stamp.clone().unwrap_or_else(|| panic!("ISDS time-stamps every ZFO: {name} {check:?}"));
        assert!(check.verified, "{name}: {check:?}");
        assert!(stamp.verified, "{name}: {stamp:?}");
        assert!(stamp.authority.as_deref().is_some_and(|a| a.contains("PostSignum TSA")), "{stamp:?}");
        assert!(check.signed_by.as_deref().is_some_and(|s| s.contains("Informační systém datových schránek")));
        // The signer says when it signed; the authority certified a moment later.
        let signed_at = check.signed_at.expect("a signing time");
        assert!((stamp.time - signed_at).abs() < time::Duration::minutes(5), "{signed_at} vs {}", stamp.time);
        assert!(
            openssl_verifies(&zfo, &fixtures().join("postsignum.pem"), checked_at(&check)),
            "OpenSSL agrees: {name}"
        );

        // Without the time stamp's moment, the certificates have long expired.
        assert!(!openssl_verifies(&zfo, &fixtures().join("postsignum.pem"), now), "OpenSSL: expired at {now}");
    }
}

/// A delivery receipt (doručenka) is signed but carries no time stamp: its
/// certificates are judged now, when they have expired, and OpenSSL says the
/// same; at the time the receipt states, both accept it.
#[test]
fn a_receipt_without_a_time_stamp_is_judged_now() {
    let zfo = std::fs::read(fixtures().join("DD_6452235.zfo")).expect("the fixture");
    let pem = fixtures().join("postsignum.pem");
    let now = datetime!(2026-01-01 00:00 UTC);
    let check = verify(&zfo, &postsignum(), now);
    assert_eq!(check.time_stamp, None);
    assert!(!check.verified && check.reason.as_deref().is_some_and(|r| r.contains("was not valid at 2026-01-01")));
    assert!(!openssl_verifies(&zfo, &pem, now));

    let signed_at = check.signed_at.expect("a signing time");
    assert!(verify(&zfo, &postsignum(), signed_at).verified);
    assert!(openssl_verifies(&zfo, &pem, signed_at));
}

#[test]
fn a_changed_byte_of_the_message_fails_both_checks() {
    let zfo = std::fs::read(fixtures().join("DZ_6452235.zfo")).expect("the fixture");
    let at = checked_at(&verify(&zfo, &postsignum(), OffsetDateTime::now_utc()));
    // The subject line of the message XML, inside the signed content.
    let position = zfo.windows(9).position(|w| w == b"dmAnnotat").expect("the message's subject element");
    let mut tampered = zfo.clone();
    tampered[position + 20] ^= 0x01;
    let check = verify(&tampered, &postsignum(), at);
    assert!(!check.verified);
    assert!(check.reason.as_deref().is_some_and(|r| r.contains("changed after signing")), "{check:?}");
    assert!(!openssl_verifies(&tampered, &fixtures().join("postsignum.pem"), at));
}

#[test]
fn a_real_zfo_is_not_trusted_under_other_anchors() {
    let zfo = std::fs::read(fixtures().join("DZ_6452235.zfo")).expect("the fixture");
    let check = verify(&zfo, &simulated_signer().anchors(), OffsetDateTime::now_utc());
    assert!(!check.verified);
    assert!(check.reason.as_deref().is_some_and(|r| r.contains("not trusted")), "{check:?}");
    let none = verify(&zfo, &TrustAnchors::none(), OffsetDateTime::now_utc());
    assert!(!none.verified && none.reason.as_deref().is_some_and(|r| r.contains("no trusted")), "{none:?}");
}

/// A test CA and a signer it issued, made by OpenSSL in `dir`.
fn openssl_pki(dir: &Path) {
    let ok = openssl(
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=Test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
        dir,
    ) && openssl(
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/O=Test/CN=Test ISDS",
            "-keyout",
            "signer.key",
            "-out",
            "signer.csr",
        ],
        dir,
    ) && {
        std::fs::write(dir.join("ext.cnf"), "keyUsage=critical,digitalSignature,nonRepudiation\n").expect("written");
        openssl(
            &[
                "x509",
                "-req",
                "-in",
                "signer.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-set_serial",
                "7",
                "-days",
                "1",
                "-extfile",
                "ext.cnf",
                "-out",
                "signer.pem",
            ],
            dir,
        )
    };
    assert!(ok, "openssl made the test PKI");
    std::fs::write(dir.join("message.xml"), b"<q:MessageDownloadResponse>zkusebni zprava</q:MessageDownloadResponse>")
        .expect("written");
}

fn openssl_signed(dir: &Path, stream: bool) -> Vec<u8> {
    let mut args = vec![
        "cms",
        "-sign",
        "-binary",
        "-nodetach",
        "-md",
        "sha256",
        "-in",
        "message.xml",
        "-signer",
        "signer.pem",
        "-inkey",
        "signer.key",
        "-outform",
        "DER",
        "-out",
        "signed.zfo",
    ];
    if stream {
        args.push("-stream");
    }
    assert!(openssl(&args, dir), "openssl signed");
    std::fs::read(dir.join("signed.zfo")).expect("the signed file")
}

#[test]
fn zfos_openssl_signs_verify_in_der_and_in_indefinite_length_ber() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    openssl_pki(dir.path());
    let anchors = TrustAnchors::from_pem(&std::fs::read_to_string(dir.path().join("ca.pem")).expect("the CA"))
        .expect("a PEM certificate");
    let now = OffsetDateTime::now_utc();
    for stream in [false, true] {
        let zfo = openssl_signed(dir.path(), stream);
        // -stream writes BER with indefinite lengths; without it, definite lengths.
        assert_eq!(zfo[1] == 0x80, stream, "stream {stream}: {:02x?}", &zfo[..4]);
        let check = verify(&zfo, &anchors, now);
        assert!(check.verified, "stream {stream}: {check:?}");
        assert_eq!(check.signed_by.as_deref(), Some("Test ISDS, Test"));
        assert_eq!(check.time_stamp, None, "openssl adds no time stamp");
        assert!(openssl_verifies(&zfo, &dir.path().join("ca.pem"), now));

        // The same bytes with one byte of the content changed.
        let position = zfo.windows(8).position(|w| w == b"zkusebni").expect("the content");
        let mut tampered = zfo.clone();
        tampered[position] = b'Z';
        let check = verify(&tampered, &anchors, now);
        assert!(!check.verified && check.reason.as_deref().is_some_and(|r| r.contains("changed after signing")));
        assert!(!openssl_verifies(&tampered, &dir.path().join("ca.pem"), now));

        // A forged signature value (its last octet changed).
        let (offset, hl, l) =
            asn1(&zfo).into_iter().rev().find(|e| e.3).map(|e| (e.0, e.1, e.2)).expect("an OCTET STRING");
        let mut forged = zfo.clone();
        forged[offset + hl + l - 1] ^= 0x55;
        let check = verify(&forged, &anchors, now);
        assert!(!check.verified, "stream {stream}: {check:?}");
        assert!(!openssl_verifies(&forged, &dir.path().join("ca.pem"), now));
    }
}

#[test]
fn the_simulator_signs_zfos_that_openssl_and_the_check_verify() {
    let signer = simulated_signer();
    let at = datetime!(2026-03-02 10:15:00 UTC);
    let content = b"SIMULATED-ZFO\n{\"simulated\":true}";
    let zfo = signer.sign(content, at);

    let check = verify(&zfo, &signer.anchors(), datetime!(2026-06-01 00:00 UTC));
    assert!(check.verified, "{check:?}");
    assert!(check.signed_by.as_deref().is_some_and(|s| s.starts_with(SIGNER_NAME)));
    assert_eq!(check.signed_at, Some(at));
    let stamp = check.time_stamp.clone().expect("a time stamp");
    assert!(stamp.verified && stamp.time == at);
    assert!(stamp.authority.as_deref().is_some_and(|a| a.starts_with(TSA_NAME)));
    assert!(SIGNER_NAME.contains("SIMULATED") && TSA_NAME.contains("SIMULATED"), "labelled simulated");

    // OpenSSL verifies the CMS signature and, separately, the time-stamp token.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let ca = dir.path().join("simulated-ca.pem");
    std::fs::write(&ca, pem(signer.ca_certificate())).expect("written");
    assert!(openssl_verifies(&zfo, &ca, at));
    let (token, signature) = token_and_signature(&zfo);
    std::fs::write(dir.path().join("token.der"), &token).expect("written");
    let imprint = hex(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &signature).as_ref());
    let ca_path = ca.to_str().expect("UTF-8");
    assert!(
        openssl(
            &[
                "ts",
                "-verify",
                "-digest",
                &imprint,
                "-in",
                "token.der",
                "-token_in",
                "-CAfile",
                ca_path,
                "-partial_chain"
            ],
            dir.path(),
        ),
        "openssl ts -verify accepts the simulator's time stamp"
    );
    let wrong = hex(&[0u8; 32]);
    assert!(!openssl(
        &["ts", "-verify", "-digest", &wrong, "-in", "token.der", "-token_in", "-CAfile", ca_path, "-partial_chain"],
        dir.path(),
    ));

    // A time stamp for another signature: the imprint no longer matches.
    // The splice keeps every length field, so it needs two tokens of one
    // length; their lengths vary by a few bytes (the ECDSA signature's DER,
    // the serial's), so of 16 ZFOs two always share one. (Looking for one
    // of the first token's length failed when that length was the rare one.)
    let signed: Vec<_> = (0..16)
        .map(|i| {
            let zfo = signer.sign(format!("SIMULATED-ZFO\nanother {i}").as_bytes(), at);
            let token = token_and_signature(&zfo).0;
            (zfo, token)
        })
        .collect();
    let (base, other) = signed
        .iter()
        .enumerate()
        .find_map(|(i, a)| signed[i + 1..].iter().find(|b| b.1.len() == a.1.len()).map(|b| (a, b)))
        .expect("two of 16 tokens of one length");
    let spliced = splice(&base.0, &base.1, &other.1);
    let check = verify(&spliced, &signer.anchors(), at);
    assert!(!check.verified && check.reason.as_deref().is_some_and(|r| r.contains("another signature")), "{check:?}");
}

/// `openssl asn1parse`'s listing of a DER/BER file: per element its offset,
/// header length, content length (0 for indefinite), whether it is a
/// primitive OCTET STRING, and the line. We do not parse our own output.
fn asn1(bytes: &[u8]) -> Vec<(usize, usize, usize, bool, String)> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(dir.path().join("in.der"), bytes).expect("written");
    let out = Command::new("openssl")
        .args(["asn1parse", "-inform", "DER", "-in", "in.der"])
        .current_dir(dir.path())
        .output()
        .expect("openssl");
    String::from_utf8(out.stdout)
        .expect("text")
        .lines()
        .filter_map(|line| {
            // "  1234:d=5  hl=2 l=  71 prim: OCTET STRING ..."; other lines
            // (an OID's name continued, a dump) are skipped.
            let offset = line.split(':').next()?.trim().parse().ok()?;
            let field = |name: &str| line.split(name).nth(1).and_then(|s| s.split_whitespace().next());
            let hl = field("hl=")?.parse().ok()?;
            let l = field(" l=")?.parse().unwrap_or(0);
            let octets = line.contains("prim:") && line.contains("OCTET STRING");
            Some((offset, hl, l, octets, line.to_owned()))
        })
        .collect()
}

/// The time-stamp token (the unsigned attribute's value) and the signature
/// value (the last OCTET STRING before it) of a DER ZFO from the simulator.
fn token_and_signature(zfo: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let elements = asn1(zfo);
    let attribute = elements.iter().rposition(|e| e.4.contains(":id-smime-aa-timeStampToken")).expect("the attribute");
    // The attribute's SET follows the OID; the token is the SET's only element.
    let (offset, hl, l, _, _) = &elements[attribute + 2];
    let token = zfo[*offset..offset + hl + l].to_vec();
    let (offset, hl, l, _, _) = elements[..attribute].iter().rev().find(|e| e.3).expect("the signature value");
    (token, zfo[offset + hl..offset + hl + l].to_vec())
}

/// `zfo` with `old` replaced by `new` and the lengths around it fixed: only
/// for equal lengths, which the two simulated tokens have or the test says.
fn splice(zfo: &[u8], old: &[u8], new: &[u8]) -> Vec<u8> {
    assert_eq!(old.len(), new.len(), "the two tokens have the same length");
    let at = zfo.windows(old.len()).position(|w| w == old).expect("the token");
    let mut out = zfo.to_vec();
    out[at..at + old.len()].copy_from_slice(new);
    out
}

fn pem(der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).expect("ASCII")).collect();
    format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n", lines.join("\n"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
