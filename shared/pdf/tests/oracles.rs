//! The PDFs checked by readers that are not ours: pypdf (from the test
//! Python, `PORTAL_TEST_PYTHON`) extracts the text exactly, Unicode beyond
//! Czech included, and reads the catalogue's language and the PDF/A
//! identification; poppler's `pdffonts` (Debian `poppler-utils`) lists every
//! font as embedded. Without them the checks skip, unless
//! `PORTAL_REQUIRE_EMULATORS=1` says every outside check must run.

use portal_pdf::PdfDocument;
use time::macros::datetime;

const WORLD: &str = "Łódź, Straße, Nguyễn, Ελλάδα";

fn require() -> bool {
    std::env::var("PORTAL_REQUIRE_EMULATORS").as_deref() == Ok("1")
}

fn sample() -> Vec<u8> {
    let mut doc = PdfDocument::new(format!("Petice: {WORLD}")).footer("ePetice · petice 0123 · výpis");
    doc.heading("Podpisy");
    doc.field("Adresát", "Městský úřad Horní Lhota (datová schránka simmuhl)");
    for i in 1..=120 {
        doc.paragraph(format!("{i}. Jiří Dvořák, {WORLD}, Příliš žluťoučký kůň úpěl ďábelské ódy"));
    }
    doc.render("Portál občana", datetime!(2026-07-01 08:00 UTC)).expect("a PDF/A-2a file")
}

fn write(pdf: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("sample.pdf");
    std::fs::write(&path, pdf).expect("write");
    (dir, path)
}

const READ: &str = r#"
import json, sys, pypdf
r = pypdf.PdfReader(sys.argv[1], strict=True)
root = r.trailer["/Root"]
xmp = r.xmp_metadata
print(json.dumps({
    "text": "\n".join(p.extract_text() for p in r.pages),
    "pages": len(r.pages),
    "lang": str(root.get("/Lang")),
    "marked": bool(root.get("/MarkInfo", {}).get("/Marked")),
    "structure": "/StructTreeRoot" in root,
    "pdfa": [xmp.get_element("", "http://www.aiim.org/pdfa/ns/id/", "part") is not None] if xmp else [],
    "title": str(r.metadata.title),
    "created": str(r.metadata.get("/CreationDate")),
}))
"#;

#[test]
fn pypdf_reads_every_character_back_with_the_language_and_the_structure() {
    let python = match std::env::var("PORTAL_TEST_PYTHON") {
        Ok(python) if !python.trim().is_empty() => python,
        _ if require() => panic!("PORTAL_REQUIRE_EMULATORS=1 but PORTAL_TEST_PYTHON is not set"),
        _ => return println!("PORTAL_TEST_PYTHON is not set: skipping the pypdf check"),
    };
    let (_dir, path) = write(&sample());
    let output = std::process::Command::new(python).arg("-c").arg(READ).arg(&path).output().expect("python");
    assert!(output.status.success(), "pypdf opens it in strict mode: {}", String::from_utf8_lossy(&output.stderr));
    let read: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    let text = read["text"].as_str().expect("text");
    assert!(text.contains(&format!("Petice: {WORLD}")), "{text}");
    assert!(text.contains(&format!("120. Jiří Dvořák, {WORLD}")), "the last line, exactly: {text}");
    assert!(text.contains("ePetice · petice 0123"), "the footer's middle dot: {text}");
    assert!(!text.contains('?') && !text.contains('\u{fffd}'), "no replaced characters: {text}");
    assert!(read["pages"].as_u64().is_some_and(|n| n > 1), "{read}");
    assert_eq!(read["lang"], "cs");
    assert_eq!(read["marked"], true, "tagged");
    assert_eq!(read["structure"], true, "a structure tree");
    assert_eq!(read["pdfa"], serde_json::json!([true]), "PDF/A identification in the XMP metadata");
    assert_eq!(read["title"], format!("Petice: {WORLD}"));
    assert_eq!(read["created"], "D:20260701100000+02'00", "Prague's summer time");
}

#[test]
fn pdffonts_lists_every_font_embedded() {
    let (_dir, path) = write(&sample());
    let output = match std::process::Command::new("pdffonts").arg(&path).output() {
        Ok(output) => output,
        Err(_) if require() => panic!("PORTAL_REQUIRE_EMULATORS=1 but pdffonts (poppler-utils) is not installed"),
        Err(_) => return println!("pdffonts is not installed: skipping"),
    };
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let listing = String::from_utf8_lossy(&output.stdout).into_owned();
    let fonts: Vec<&str> = listing.lines().skip(2).filter(|l| !l.trim().is_empty()).collect();
    assert!(!fonts.is_empty(), "{listing}");
    for font in fonts {
        // name type encoding emb sub uni ...: the columns after the encoding.
        let columns: Vec<&str> = font.split_whitespace().collect();
        let flags = &columns[columns.len() - 5..columns.len() - 2];
        assert_eq!(flags, ["yes", "yes", "yes"], "embedded, subset, with a ToUnicode map: {font}");
        assert!(font.contains("DejaVuSans"), "{font}");
    }
}
