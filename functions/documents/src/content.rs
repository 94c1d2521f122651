//! What a file is and how it leaves: the content checks of uploads (the
//! declared type must match the bytes, down to the file's structure), the
//! rules for file names (the extension must fit the type, no program names),
//! and the `Content-Disposition` of downloads ([`portal_host::download`],
//! shared with the other capabilities that serve files).
//!
//! Structure checks use maintained parsers, each the leanest that reads the
//! whole structure: `lopdf` (a PDF's cross-reference table, trailer, every
//! object and the page tree), `png` (every chunk with its CRC, and the image
//! data decompressed row by row, so memory stays at one row) and `zune-jpeg`
//! (a JPEG's markers, frame, Huffman and quantisation tables up to the scan,
//! plus the end-of-image marker).

use std::io::Cursor;

/// The types a citizen may upload by default; each has a content check in
/// [`check_content`].
pub(crate) const UPLOAD_TYPES: [&str; 4] = ["application/pdf", "image/jpeg", "image/png", "text/plain"];

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// Whether `bytes` are what `media_type` says they are ([`check_content`]).
pub fn content_matches(media_type: &str, bytes: &[u8]) -> bool {
    check_content(media_type, bytes).is_ok()
}

/// Checks that `bytes` are what `media_type` (an essence such as
/// `application/pdf`) says they are, down to the structure: a PDF that
/// `lopdf` loads with at least one page, a PNG whose every chunk and row
/// decodes, a JPEG whose headers decode and that ends with its end marker,
/// plain text that is UTF-8 without NUL. A type without a check never
/// matches, so a type cannot be allowed by configuration without being
/// checked. The error is the rule broken, for the client.
pub fn check_content(media_type: &str, bytes: &[u8]) -> Result<(), String> {
    let fits = match media_type {
        "application/pdf" => bytes.starts_with(b"%PDF-") && pdf_structure(bytes),
        "image/jpeg" => bytes.starts_with(&[0xFF, 0xD8, 0xFF]) && jpeg_structure(bytes),
        "image/png" => bytes.starts_with(PNG_SIGNATURE) && png_structure(bytes),
        "text/plain" => !bytes.contains(&0) && std::str::from_utf8(bytes).is_ok(),
        _ => false,
    };
    if fits {
        Ok(())
    } else {
        Err(match media_type {
            "application/pdf" => "content is not a readable application/pdf (header, cross-reference table, trailer and at least one page)".into(),
            "image/jpeg" => "content is not a readable image/jpeg (markers, frame and tables, end marker)".into(),
            "image/png" => "content is not a readable image/png (every chunk and row of the image)".into(),
            other => format!("content is not {other}"),
        })
    }
}

/// The bytes of a JPEG's start an upload keeps for its header check: the
/// markers, frame and tables before the scan (EXIF, ICC and XMP segments
/// included) fit far inside.
const JPEG_HEAD: usize = 1024 * 1024;

/// [`check_content`] as an upload arrives, holding only what a type's check
/// needs: plain text is checked piece by piece (UTF-8 across piece
/// boundaries, no NUL) and a JPEG keeps its first [`JPEG_HEAD`] bytes and its
/// last two non-zero bytes, so neither holds the file. A PDF (`lopdf` needs
/// random access: the cross-reference table is at the end and objects point
/// anywhere) and a PNG (the `png` reader needs `Seek`) are held whole, up to
/// the upload limit, until [`finish`](Self::finish) checks their structure.
#[derive(Debug)]
pub(crate) struct StreamCheck {
    media_type: String,
    /// PDF and PNG: everything; JPEG: the head; text: an incomplete UTF-8 sequence.
    held: Vec<u8>,
    /// JPEG: the byte before the last non-zero byte, and that byte.
    jpeg_tail: (Option<u8>, Option<u8>),
    /// JPEG: the last byte seen.
    last: Option<u8>,
    seen: u64,
}

impl StreamCheck {
    pub(crate) fn new(media_type: &str) -> Self {
        Self { media_type: media_type.to_owned(), held: Vec::new(), jpeg_tail: (None, None), last: None, seen: 0 }
    }

    /// Takes the next piece; an error (the rule broken) as soon as it shows.
    pub(crate) fn push(&mut self, piece: &[u8]) -> Result<(), String> {
        self.seen += piece.len() as u64;
        match self.media_type.as_str() {
            "text/plain" => {
                if piece.contains(&0) {
                    return Err(format!("content is not {}", self.media_type));
                }
                self.held.extend_from_slice(piece);
                match std::str::from_utf8(&self.held) {
                    Ok(_) => self.held.clear(),
                    // A sequence cut by the piece boundary: wait for the rest.
                    Err(error) if error.error_len().is_none() && self.held.len() - error.valid_up_to() < 4 => {
                        self.held.drain(..error.valid_up_to());
                    }
                    Err(_) => return Err(format!("content is not {}", self.media_type)),
                }
            }
            "image/jpeg" => {
                let room = JPEG_HEAD.saturating_sub(self.held.len()).min(piece.len());
                self.held.extend_from_slice(&piece[..room]);
                if let Some(at) = piece.iter().rposition(|b| *b != 0) {
                    let before = if at > 0 { Some(piece[at - 1]) } else { self.last };
                    self.jpeg_tail = (before, Some(piece[at]));
                }
                if let Some(last) = piece.last() {
                    self.last = Some(*last);
                }
            }
            _ => self.held.extend_from_slice(piece),
        }
        Ok(())
    }

    /// The end of the upload: the structure checks that need it all.
    pub(crate) fn finish(self) -> Result<(), String> {
        match self.media_type.as_str() {
            "text/plain" if self.held.is_empty() => Ok(()),
            "text/plain" => Err(format!("content is not {}", self.media_type)),
            "image/jpeg" => {
                let ends = self.jpeg_tail == (Some(0xFF), Some(0xD9));
                let mut decoder = zune_jpeg::JpegDecoder::new(Cursor::new(&self.held));
                if self.held.starts_with(&[0xFF, 0xD8, 0xFF]) && decoder.decode_headers().is_ok() && ends {
                    Ok(())
                } else {
                    check_content(&self.media_type, b"")
                }
            }
            _ => check_content(&self.media_type, &self.held),
        }
    }
}

fn pdf_structure(bytes: &[u8]) -> bool {
    // A complete file ends with `%%EOF` (readers look for it in the last
    // 1024 bytes); then lenient loading, as readers open PDFs, with lopdf's
    // limit on what one compressed stream may inflate to: a file with no
    // loadable trailer or no page is not a document.
    let tail = &bytes[bytes.len().saturating_sub(1024)..];
    if !tail.windows(5).any(|w| w == b"%%EOF") {
        return false;
    }
    match lopdf::Document::load_mem(bytes) {
        Ok(document) => !document.get_pages().is_empty(),
        Err(_) => false,
    }
}

/// The most memory one PNG row may need while it is checked (a 64 Mpx wide
/// RGBA16 row is far below); the decoder refuses images that need more.
const PNG_DECODE_LIMIT: usize = 64 * 1024 * 1024;

fn png_structure(bytes: &[u8]) -> bool {
    let decoder = png::Decoder::new_with_limits(Cursor::new(bytes), png::Limits { bytes: PNG_DECODE_LIMIT });
    let Ok(mut reader) = decoder.read_info() else { return false };
    loop {
        match reader.next_row() {
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(_) => return false,
        }
    }
    reader.finish().is_ok()
}

fn jpeg_structure(bytes: &[u8]) -> bool {
    let mut decoder = zune_jpeg::JpegDecoder::new(Cursor::new(bytes));
    if decoder.decode_headers().is_err() {
        return false;
    }
    // Cameras and scanners may pad after the end marker; nothing else follows it.
    let end = bytes.iter().rposition(|b| *b != 0).unwrap_or(0);
    end >= 1 && bytes[end - 1] == 0xFF && bytes[end] == 0xD9
}

/// File extensions that name programs or scripts Windows, macOS or a browser
/// would run or install: such names are refused whatever the content, so the
/// portal never serves back a `setup.exe`.
const PROGRAM_EXTENSIONS: &[&str] = &[
    "exe",
    "com",
    "bat",
    "cmd",
    "scr",
    "pif",
    "cpl",
    "msi",
    "msp",
    "msix",
    "appx",
    "dll",
    "sys",
    "drv",
    "js",
    "jse",
    "vbs",
    "vbe",
    "wsf",
    "wsh",
    "ws",
    "hta",
    "ps1",
    "psm1",
    "psd1",
    "ps1xml",
    "lnk",
    "url",
    "reg",
    "inf",
    "jar",
    "apk",
    "app",
    "dmg",
    "pkg",
    "sh",
    "bash",
    "command",
    "scf",
    "gadget",
    "application",
    "chm",
    "iso",
    "img",
    "vhd",
    "vhdx",
    "xll",
    "library-ms",
    "settingcontent-ms",
];

/// The extensions a name may end with for each type; the first is added to a
/// name without one.
fn extensions(media_type: &str) -> &'static [&'static str] {
    match media_type {
        "application/pdf" => &["pdf"],
        "image/jpeg" => &["jpg", "jpeg", "jpe", "jfif"],
        "image/png" => &["png"],
        "text/plain" => &["txt", "text"],
        _ => &[],
    }
}

fn extension(media_type: &str) -> String {
    extensions(media_type).first().map(|e| format!(".{e}")).unwrap_or_default()
}

/// Checks an uploaded file's (cleaned) name against its type: no program
/// name, and an extension that fits the type; a name without an extension
/// gets the type's. Returns the name to keep, or the rule broken.
pub(crate) fn name_for_type(file_name: &str, media_type: &str) -> Result<String, String> {
    let allowed = extensions(media_type);
    let Some((_, ext)) = file_name.rsplit_once('.').filter(|(stem, ext)| !stem.is_empty() && !ext.is_empty()) else {
        return Ok(format!("{file_name}{}", extension(media_type)));
    };
    let ext = ext.to_lowercase();
    if PROGRAM_EXTENSIONS.contains(&ext.as_str()) {
        return Err(format!(
            "names of programs and scripts (.{ext}) are refused; rename the file to .{}",
            allowed.first().copied().unwrap_or("txt")
        ));
    }
    if allowed.contains(&ext.as_str()) {
        return Ok(file_name.to_owned());
    }
    if allowed.is_empty() {
        return Ok(file_name.to_owned());
    }
    Err(format!(
        "the name's extension .{ext} does not fit {media_type}; use {}",
        allowed.iter().map(|e| format!(".{e}")).collect::<Vec<_>>().join(", ")
    ))
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

/// A file name as the citizen's browser sent it, made safe to keep and to
/// send back: no folders (`C:\Users\jana\zpráva.pdf` → `zpráva.pdf`), no
/// control characters, at most 255 characters; `dokument.<ext>` when nothing
/// is left.
pub(crate) fn clean_file_name(raw: &str, media_type: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    // No control characters, and no bidirectional overrides that make
    // `zprávaexe.pdf` display as something else (U+202A-U+202E, U+2066-U+2069).
    let cleaned: String = base
        .chars()
        .filter(|c| {
            !c.is_control() && !matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}')
        })
        .take(255)
        .collect();
    // Windows drops trailing dots and spaces: `setup.exe. ` is `setup.exe`.
    let cleaned = cleaned.trim().trim_end_matches(['.', ' ']);
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

    // Made by Pillow and pypdf (tests/fixtures/make_uploads.py), not by the portal.
    const PDF: &[u8] = include_bytes!("../tests/fixtures/scan.pdf");
    const JPEG: &[u8] = include_bytes!("../tests/fixtures/photo.jpg");
    const PNG: &[u8] = include_bytes!("../tests/fixtures/chart.png");

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
    fn a_right_header_on_the_wrong_body_is_refused() {
        let mut fake_pdf = b"%PDF-1.7\n".to_vec();
        fake_pdf.extend_from_slice(b"MZ\x90\x00 This program cannot be run in DOS mode.\n%%EOF\n");
        assert!(!content_matches("application/pdf", &fake_pdf), "an executable behind a PDF header");
        assert!(!content_matches("application/pdf", b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n1 0 obj\n<<>>\nendobj\n%%EOF\n"));
        assert!(!content_matches("application/pdf", &PDF[..PDF.len() / 2]), "half a PDF");
        let mut no_pages = PDF.to_vec();
        let at = no_pages.windows(7).position(|w| w == b"/Kids [").expect("a page tree");
        no_pages[at + 1] = b'X'; // `/Xids`: the page tree lists no page
        assert!(!content_matches("application/pdf", &no_pages), "a PDF without a page");
        assert!(!content_matches("image/png", &PNG[..PNG.len() - 20]), "a PNG cut short");
        let mut bad_crc = PNG.to_vec();
        bad_crc[30] ^= 0xFF; // inside IHDR: its CRC no longer matches
        assert!(!content_matches("image/png", &bad_crc), "a damaged chunk");
        assert!(!content_matches("image/jpeg", &JPEG[..JPEG.len() - 2]), "a JPEG without its end marker");
        assert!(!content_matches("image/jpeg", &[0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0]));
        let mut padded = JPEG.to_vec();
        padded.extend_from_slice(&[0, 0, 0]);
        assert!(content_matches("image/jpeg", &padded), "zero padding after the end marker is allowed");
    }

    /// The streamed check says what the whole check says, whatever the pieces.
    fn streamed(media_type: &str, bytes: &[u8], step: usize) -> bool {
        let mut check = StreamCheck::new(media_type);
        bytes.chunks(step).all(|piece| check.push(piece).is_ok()) && check.finish().is_ok()
    }

    #[test]
    fn the_streamed_check_agrees_with_the_whole_one() {
        let mut padded = JPEG.to_vec();
        padded.extend_from_slice(&[0, 0, 0]);
        let mut cut_jpeg = JPEG.to_vec();
        cut_jpeg.truncate(JPEG.len() - 2);
        let czech = "Příliš žluťoučký kůň úpěl ďábelské ódy 🐎\n".repeat(50);
        let samples: [(&str, &[u8]); 11] = [
            ("application/pdf", PDF),
            ("application/pdf", &PDF[..PDF.len() / 2]),
            ("image/jpeg", JPEG),
            ("image/jpeg", &padded),
            ("image/jpeg", &cut_jpeg),
            ("image/png", PNG),
            ("image/png", &PNG[..PNG.len() - 20]),
            ("text/plain", czech.as_bytes()),
            ("text/plain", b"text\0with a NUL"),
            ("text/plain", b"ends inside a character \xC5"),
            ("text/plain", b"Latin-2 \xE8esky"),
        ];
        for (media_type, bytes) in samples {
            for step in [1, 2, 3, 7, 4096, bytes.len().max(1)] {
                assert_eq!(
                    streamed(media_type, bytes, step),
                    content_matches(media_type, bytes),
                    "{media_type}, {} bytes in pieces of {step}",
                    bytes.len()
                );
            }
        }
        for (declared, bytes) in [("image/jpeg", PNG), ("text/plain", JPEG), ("image/png", JPEG)] {
            assert!(!streamed(declared, bytes, 1000), "{declared}");
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
    fn names_must_fit_the_type_and_never_name_a_program() {
        assert_eq!(name_for_type("zpráva.PDF", "application/pdf").as_deref(), Ok("zpráva.PDF"));
        assert_eq!(name_for_type("foto.jpeg", "image/jpeg").as_deref(), Ok("foto.jpeg"));
        assert_eq!(name_for_type("sken", "application/pdf").as_deref(), Ok("sken.pdf"), "the type's extension added");
        assert_eq!(name_for_type(".profile", "text/plain").as_deref(), Ok(".profile.txt"));
        for program in
            ["setup.exe", "faktura.pdf.exe", "RUN.BAT", "x.cmd", "a.com", "s.scr", "m.js", "v.vbs", "i.msi", "p.ps1"]
        {
            let refused = name_for_type(program, "application/pdf").expect_err(program);
            assert!(refused.contains("programs"), "{program}: {refused}");
        }
        let refused = name_for_type("obrazek.png", "application/pdf").expect_err("png name for a pdf");
        assert!(refused.contains(".png") && refused.contains(".pdf"), "{refused}");
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
    fn file_names_lose_folders_control_characters_and_disguises() {
        assert_eq!(clean_file_name("C:\\Users\\jana\\zpráva.pdf", "application/pdf"), "zpráva.pdf");
        assert_eq!(clean_file_name("../../etc/passwd", "text/plain"), "passwd");
        assert_eq!(clean_file_name("a\u{0}b\u{7}.txt", "text/plain"), "ab.txt");
        assert_eq!(clean_file_name("", "image/png"), "dokument.png");
        assert_eq!(clean_file_name("..", "application/pdf"), "dokument.pdf");
        assert_eq!(clean_file_name(&"é".repeat(300), "text/plain").chars().count(), 255);
        assert_eq!(clean_file_name("setup.exe. .", "application/pdf"), "setup.exe", "Windows' trailing dots");
        assert_eq!(clean_file_name("faktura\u{202E}fdp.exe", "application/pdf"), "fakturafdp.exe", "no RTL override");
    }
}
