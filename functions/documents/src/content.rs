//! What a file is and how it leaves: the content checks of uploads (the
//! declared type must match the bytes), file names, and the
//! `Content-Disposition` of downloads ([`portal_host::download`], shared with
//! the other capabilities that serve files).

/// The types a citizen may upload by default; each has a content check in
/// [`content_matches`].
pub(crate) const UPLOAD_TYPES: [&str; 4] = ["application/pdf", "image/jpeg", "image/png", "text/plain"];

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// Whether `bytes` are what `media_type` (an essence such as
/// `application/pdf`) says they are: a PDF starts with `%PDF-`, a JPEG with
/// `FF D8 FF`, a PNG with its 8-byte signature, and plain text is valid UTF-8
/// without NUL. A type without a check never matches, so a type cannot be
/// allowed by configuration without being checked.
pub fn content_matches(media_type: &str, bytes: &[u8]) -> bool {
    match media_type {
        "application/pdf" => bytes.starts_with(b"%PDF-"),
        "image/jpeg" => bytes.starts_with(&[0xFF, 0xD8, 0xFF]),
        "image/png" => bytes.starts_with(PNG_SIGNATURE),
        "text/plain" => !bytes.contains(&0) && std::str::from_utf8(bytes).is_ok(),
        _ => false,
    }
}

/// The essence of a `Content-Type` value: `type/subtype`, lower case, without
/// parameters.
pub(crate) fn essence(content_type: &str) -> String {
    content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
}

/// Whether `value` is a syntactically valid media type essence (RFC 6838
/// restricted names), as filed documents must declare.
pub(crate) fn is_media_type(value: &str) -> bool {
    let token = |part: &str| {
        !part.is_empty()
            && part.len() <= 127
            && part.chars().all(|c| c.is_ascii_alphanumeric() || "!#$&^_.+-".contains(c))
    };
    matches!(value.split_once('/'), Some((kind, sub)) if token(kind) && token(sub))
}

/// The `Content-Type` a download is served with.
pub(crate) fn served_type(media_type: &str) -> String {
    // Uploaded text was checked to be UTF-8; say so, so no browser guesses.
    if media_type == "text/plain" { "text/plain; charset=utf-8".into() } else { media_type.to_owned() }
}

fn extension(media_type: &str) -> &'static str {
    match media_type {
        "application/pdf" => ".pdf",
        "image/jpeg" => ".jpg",
        "image/png" => ".png",
        "text/plain" => ".txt",
        _ => "",
    }
}

/// A file name as the citizen's browser sent it, made safe to keep and to
/// send back: no folders (`C:\Users\jana\zpráva.pdf` → `zpráva.pdf`), no
/// control characters, at most 255 characters; `dokument.<ext>` when nothing
/// is left.
pub(crate) fn clean_file_name(raw: &str, media_type: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base.chars().filter(|c| !c.is_control()).take(255).collect();
    let cleaned = cleaned.trim();
    if cleaned.is_empty() || cleaned.chars().all(|c| c == '.') {
        format!("dokument{}", extension(media_type))
    } else {
        cleaned.to_owned()
    }
}

/// The `Content-Disposition` of a download, with the Czech name intact in
/// `filename*` and an ASCII fallback; one definition for every capability.
pub use portal_host::download::content_disposition;

#[cfg(test)]
mod tests {
    use super::*;

    const PDF: &[u8] = b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n1 0 obj\n<<>>\nendobj\n%%EOF\n";
    const JPEG: &[u8] = &[0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00];
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR";

    #[test]
    fn each_type_is_recognised_by_its_own_bytes_only() {
        let samples: [(&str, &[u8]); 4] = [
            ("application/pdf", PDF),
            ("image/jpeg", JPEG),
            ("image/png", PNG),
            ("text/plain", "Dobrý den".as_bytes()),
        ];
        for (declared, _) in samples {
            for (actual, bytes) in samples {
                assert_eq!(
                    content_matches(declared, bytes),
                    declared == actual,
                    "{actual} content declared as {declared}"
                );
            }
        }
    }

    #[test]
    fn near_misses_are_refused() {
        assert!(!content_matches("application/pdf", b"%PDF"), "a truncated signature");
        assert!(!content_matches("application/pdf", b" %PDF-1.4"), "the signature must come first");
        assert!(!content_matches("image/png", &PNG[..7]), "seven of the eight signature bytes");
        assert!(!content_matches("image/jpeg", &[0xFF, 0xD8]), "two of the three JPEG bytes");
        assert!(!content_matches("text/plain", b"text\0with a NUL"), "NUL is not text");
        assert!(!content_matches("text/plain", b"\xC5"), "invalid UTF-8 (a lone lead byte)");
        assert!(!content_matches("text/plain", b"Latin-2 \xE8esky"), "ISO 8859-2 is not UTF-8");
        assert!(!content_matches("application/zip", b"PK\x03\x04"), "an unchecked type never matches");
    }

    #[test]
    fn content_types_reduce_to_their_essence() {
        assert_eq!(essence("Text/Plain; charset=UTF-8"), "text/plain");
        assert_eq!(essence(" application/pdf "), "application/pdf");
        assert!(is_media_type("application/vnd.software602.filler.form-xml-zip"));
        for bad in ["", "pdf", "text/", "/plain", "text/plain; x=1", "text/pl ain", "a/b/c"] {
            assert!(!is_media_type(bad), "{bad}");
        }
    }

    #[test]
    fn file_names_lose_folders_and_control_characters() {
        assert_eq!(clean_file_name("C:\\Users\\jana\\zpráva.pdf", "application/pdf"), "zpráva.pdf");
        assert_eq!(clean_file_name("../../etc/passwd", "text/plain"), "passwd");
        assert_eq!(clean_file_name("a\u{0}b\u{7}.txt", "text/plain"), "ab.txt");
        assert_eq!(clean_file_name("", "image/png"), "dokument.png");
        assert_eq!(clean_file_name("..", "application/pdf"), "dokument.pdf");
        assert_eq!(clean_file_name(&"é".repeat(300), "text/plain").chars().count(), 255);
    }
}
