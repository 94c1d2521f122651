//! ZIP/ASiC attachments checked as ISDS checks them, against archives made by
//! independent tools: Python's `zipfile` (the test venv, `PORTAL_TEST_PYTHON`)
//! and Debian's Info-ZIP `zip` (an encrypted one, `zip -P`).

use std::path::Path;
use std::process::Command;

use portal_databox::containers;
use portal_databox::validate::{SendRequest, check};

/// Makes the archives with Python's zipfile into `dir`.
const MAKE: &str = r#"
import sys, zipfile, os
d = sys.argv[1]
def make(name, entries, compression=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(os.path.join(d, name), "w", compression) as z:
        for entry, data in entries:
            z.writestr(entry, data)
make("ok.zip", [("a/b/c/d/dopis.txt", "Dobrý den"), ("priloha.pdf", b"%PDF-1.4")])
make("ok.asice", [("mimetype", "application/vnd.etsi.asic-e+zip"), ("dokument.xml", "<a/>"),
                  ("META-INF/signatures.xml", "<s/>")], zipfile.ZIP_STORED)
make("thousand.zip", [(f"f{i}.txt", "x") for i in range(1000)])
make("too-many.zip", [(f"f{i}.txt", "x") for i in range(1001)])
make("too-deep.zip", [("a/b/c/d/e/dopis.txt", "x")])
inner = os.path.join(d, "inner.zip")
make("inner.zip", [("x.txt", "x")])
with zipfile.ZipFile(os.path.join(d, "nested.zip"), "w") as z:
    z.write(inner, "slozka/inner.zip")
    z.writestr("dopis.txt", "x")
with open(os.path.join(d, "plain.txt"), "w") as f:
    f.write("Dobrý den")
with open(os.path.join(d, "garbage.zip"), "wb") as f:
    f.write(b"this is not a zip at all")
"#;

fn file(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn containers_are_checked_as_isds_checks_them() {
    let Some(python) = portal_testkit::test_python() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let made = Command::new(&python).arg("-c").arg(MAKE).arg(dir.path()).status().expect("python runs");
    assert!(made.success(), "python made the archives");
    let encrypted = Command::new("zip")
        .current_dir(dir.path())
        .args(["-q", "-P", "tajne", "encrypted.zip", "plain.txt"])
        .status()
        .expect("Debian's zip is installed (the test command needs it)");
    assert!(encrypted.success());

    let pass = |name: &str| {
        let broken = containers::check(&file(dir.path(), name));
        assert!(broken.is_empty(), "{name}: {broken:?}");
    };
    let fail = |name: &str, rule: &str| {
        let broken = containers::check(&file(dir.path(), name));
        assert!(broken.iter().any(|b| b.contains(rule)), "{name}: expected {rule:?}, got {broken:?}");
        assert_eq!(broken.len(), 1, "{name}: only that rule: {broken:?}");
    };
    pass("ok.zip");
    pass("ok.asice");
    pass("thousand.zip");
    fail("too-many.zip", "at most 1000 entries");
    fail("too-deep.zip", "nested at most 4 deep");
    fail("nested.zip", "no container inside a container (slozka/inner.zip)");
    fail("encrypted.zip", "no encrypted entries");
    fail("garbage.zip", "not a readable ZIP");

    // In a message, the rule names the attachment's content.
    let request = SendRequest {
        recipient: Some("simmuhl".into()),
        subject: Some("Podklady".into()),
        files: vec![
            ("dopis.pdf".into(), "application/pdf".into(), bytes::Bytes::from_static(b"%PDF-1.4")),
            ("podklady.zip".into(), "application/zip".into(), bytes::Bytes::from(file(dir.path(), "nested.zip"))),
        ],
        ..SendRequest::default()
    };
    let errors = check(request, 20_000_000).expect_err("refused");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].field, "attachments[1].content");
}
