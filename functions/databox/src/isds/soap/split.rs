//! A signed message's XML split as it streams: the files' base64
//! (`dmEncodedContent`) decoded on the way out, piece by piece, and the rest
//! of the document (the skeleton: envelope, file attributes, small
//! `dmXMLContent`) kept, each `dmEncodedContent` in it holding only its
//! file's number. The skeleton is then parsed as the whole document would be
//! ([`super::records::signed_message`]), so it is the real XML reader that
//! checks it is well formed; this splitter only has to find where markup
//! starts and ends (tags with quoted attributes, comments, CDATA, processing
//! instructions) and never holds a file's text.
//!
//! Inside `dmEncodedContent` what the reader of the whole document reads as
//! its text is accepted: base64 and whitespace, the character references of
//! whitespace (folded lines), CDATA sections, comments and processing
//! instructions; an element there is refused.

use std::collections::VecDeque;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::isds::{IsdsError, IsdsResult};

/// The most the skeleton may hold: a message's envelope and file list, and
/// any `dmXMLContent` (kept whole, as the standard download keeps it).
const SKELETON_MAX: usize = 32 * 1024 * 1024;
/// Base64 text decoded at a time (a multiple of 4).
const DECODE_AT: usize = 64 * 1024;

/// What the splitter gives besides the skeleton.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Piece {
    /// The `n`th `dmEncodedContent` starts.
    Start(usize),
    /// Decoded bytes of the file started last.
    Bytes(Vec<u8>),
    /// The file started last ends.
    End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Text,
    Markup,
    Encoded,
    /// A character reference inside `dmEncodedContent`.
    Reference,
    /// A CDATA section inside `dmEncodedContent`.
    CData,
    /// The `]` of a CDATA section's end seen so far (one or two).
    CDataEnd(u8),
}

pub(super) struct Splitter {
    skeleton: Vec<u8>,
    state: State,
    /// The markup being read, from its `<`.
    markup: Vec<u8>,
    quote: Option<u8>,
    /// Inside a `dmEncodedContent`: the markup met there must close it (a
    /// comment, processing instruction or CDATA section is read through).
    in_file: bool,
    files: usize,
    reference: Vec<u8>,
    text: Vec<u8>,
    padded: bool,
}

fn protocol(what: &str) -> IsdsError {
    IsdsError::Protocol(format!("the signed message: {what}"))
}

impl Splitter {
    pub(super) fn new() -> Self {
        Self {
            skeleton: Vec::new(),
            state: State::Text,
            markup: Vec::new(),
            quote: None,
            in_file: false,
            files: 0,
            reference: Vec::new(),
            text: Vec::with_capacity(DECODE_AT + 4),
            padded: false,
        }
    }

    fn start_markup(&mut self) {
        self.state = State::Markup;
        self.markup.clear();
        self.quote = None;
    }

    /// Takes the next bytes of the document; what they hold of the files
    /// goes to `out`.
    pub(super) fn push(&mut self, mut input: &[u8], out: &mut VecDeque<Piece>) -> IsdsResult<()> {
        while !input.is_empty() {
            match self.state {
                State::Text => {
                    let end = input.iter().position(|&b| b == b'<').unwrap_or(input.len());
                    self.keep(&input[..end])?;
                    if end < input.len() {
                        self.start_markup();
                    }
                    input = &input[end..];
                }
                State::Markup => {
                    let byte = input[0];
                    input = &input[1..];
                    self.markup.push(byte);
                    if self.markup.len() > SKELETON_MAX {
                        return Err(protocol("a markup is too long"));
                    }
                    if self.in_file && self.markup == b"<![CDATA[" {
                        self.state = State::CData;
                    } else if self.markup_ends(byte) {
                        self.end_markup(out)?;
                    }
                }
                State::Encoded => {
                    let end = input.iter().position(|&b| b == b'<' || b == b'&').unwrap_or(input.len());
                    self.decode(&input[..end], out)?;
                    input = &input[end..];
                    match input.first() {
                        Some(b'<') => self.start_markup(),
                        Some(_) => {
                            self.state = State::Reference;
                            self.reference.clear();
                            input = &input[1..];
                        }
                        None => {}
                    }
                }
                State::Reference => {
                    let byte = input[0];
                    input = &input[1..];
                    if byte != b';' {
                        self.reference.push(byte);
                        if self.reference.len() > 6 {
                            return Err(protocol("dmEncodedContent holds a reference that is not whitespace"));
                        }
                        continue;
                    }
                    let whitespace = matches!(
                        self.reference.to_ascii_lowercase().as_slice(),
                        b"#9" | b"#10" | b"#13" | b"#32" | b"#x9" | b"#xa" | b"#xd" | b"#x20"
                    );
                    if !whitespace {
                        return Err(protocol("dmEncodedContent holds a reference that is not whitespace"));
                    }
                    self.state = State::Encoded;
                }
                State::CData => {
                    let end = input.iter().position(|&b| b == b']').unwrap_or(input.len());
                    self.decode(&input[..end], out)?;
                    input = &input[end..];
                    if !input.is_empty() {
                        self.state = State::CDataEnd(1);
                        input = &input[1..];
                    }
                }
                State::CDataEnd(seen) => {
                    let byte = input[0];
                    input = &input[1..];
                    self.state = match (seen, byte) {
                        (1, b']') => State::CDataEnd(2),
                        (2, b'>') => State::Encoded,
                        _ => return Err(protocol("dmEncodedContent is not base64")),
                    };
                }
            }
        }
        Ok(())
    }

    /// The end of the document: the skeleton.
    pub(super) fn finish(self) -> IsdsResult<Vec<u8>> {
        if self.state != State::Text {
            return Err(protocol("the document ends inside markup"));
        }
        Ok(self.skeleton)
    }

    fn keep(&mut self, bytes: &[u8]) -> IsdsResult<()> {
        if self.skeleton.len() + bytes.len() > SKELETON_MAX {
            return Err(protocol("the envelope and file list are too long"));
        }
        self.skeleton.extend_from_slice(bytes);
        Ok(())
    }

    /// Whether `byte`, just added, ends the markup.
    fn markup_ends(&mut self, byte: u8) -> bool {
        let markup = &self.markup[..];
        for (open, close) in [(&b"<!--"[..], &b"-->"[..]), (b"<![CDATA[", b"]]>"), (b"<?", b"?>")] {
            if markup.len() < open.len() && open.starts_with(markup) {
                return false;
            }
            if markup.starts_with(open) {
                return markup.len() >= open.len() + close.len() - 1 && markup.ends_with(close);
            }
        }
        match (self.quote, byte) {
            (None, b'"' | b'\'') => {
                self.quote = Some(byte);
                false
            }
            (Some(quote), _) if quote == byte => {
                self.quote = None;
                false
            }
            (None, b'>') => true,
            _ => false,
        }
    }

    fn end_markup(&mut self, out: &mut VecDeque<Piece>) -> IsdsResult<()> {
        let markup = std::mem::take(&mut self.markup);
        let is_tag = !matches!(markup.get(1), Some(b'/' | b'!' | b'?'));
        let start = if is_tag { 1 } else { 2 }.min(markup.len());
        let name_end = markup[start..]
            .iter()
            .position(|b| b.is_ascii_whitespace() || *b == b'/' || *b == b'>')
            .map_or(markup.len(), |p| p + start);
        let local = markup[start..name_end].rsplit(|b| *b == b':').next().unwrap_or_default();
        let encoded = local == b"dmEncodedContent";
        if self.in_file {
            if markup.starts_with(b"<!--") || markup.starts_with(b"<?") {
                self.state = State::Encoded;
            } else if markup.starts_with(b"</") && encoded {
                self.flush(true, out)?;
                out.push_back(Piece::End);
                self.in_file = false;
                self.keep(&markup)?;
                self.state = State::Text;
            } else {
                return Err(protocol("dmEncodedContent holds an element"));
            }
        } else {
            self.keep(&markup)?;
            self.state = State::Text;
            if is_tag && encoded && !markup.ends_with(b"/>") {
                let n = self.files;
                self.files += 1;
                self.keep(n.to_string().as_bytes())?;
                out.push_back(Piece::Start(n));
                self.padded = false;
                self.text.clear();
                self.in_file = true;
                self.state = State::Encoded;
            }
        }
        self.markup = markup;
        self.markup.clear();
        Ok(())
    }

    /// Base64 text of the current file, whitespace skipped.
    fn decode(&mut self, text: &[u8], out: &mut VecDeque<Piece>) -> IsdsResult<()> {
        for &byte in text {
            if byte.is_ascii_whitespace() {
                continue;
            }
            if self.padded && byte != b'=' {
                return Err(protocol("dmEncodedContent is not base64 (data after its padding)"));
            }
            self.padded |= byte == b'=';
            self.text.push(byte);
            if self.text.len() >= DECODE_AT {
                self.flush(false, out)?;
            }
        }
        Ok(())
    }

    /// Decodes the text held: all of it at the file's end, else what fills
    /// whole groups of four.
    fn flush(&mut self, last: bool, out: &mut VecDeque<Piece>) -> IsdsResult<()> {
        let whole = if last { self.text.len() } else { self.text.len() / 4 * 4 };
        if whole == 0 {
            return Ok(());
        }
        let decoded = BASE64.decode(&self.text[..whole]).map_err(|_| protocol("dmEncodedContent is not base64"))?;
        self.text.drain(..whole);
        if !decoded.is_empty() {
            out.push_back(Piece::Bytes(decoded));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(document: &[u8], size: usize) -> IsdsResult<(Vec<u8>, Vec<Vec<u8>>)> {
        let mut splitter = Splitter::new();
        let mut out = VecDeque::new();
        for piece in document.chunks(size.max(1)) {
            splitter.push(piece, &mut out)?;
        }
        let skeleton = splitter.finish()?;
        let mut files: Vec<Vec<u8>> = Vec::new();
        for piece in out {
            match piece {
                Piece::Start(n) => {
                    assert_eq!(n, files.len());
                    files.push(Vec::new());
                }
                Piece::Bytes(bytes) => files.last_mut().expect("a file").extend(bytes),
                Piece::End => {}
            }
        }
        Ok((skeleton, files))
    }

    #[test]
    fn files_come_out_decoded_and_the_rest_is_kept_however_the_document_is_cut() {
        let a: Vec<u8> = (0..70_000u32).map(|i| (i * 13 % 256) as u8).collect();
        let a64 = BASE64.encode(&a);
        let folded = a64.as_bytes().chunks(76).map(|c| std::str::from_utf8(c).expect("ascii")).collect::<Vec<_>>();
        let document = format!(
            "<?xml version=\"1.0\"?><!-- <p:dmEncodedContent> --><r xmlns:p=\"x\" a='>'><p:dmFile d=\"a>b\">\
             <p:dmEncodedContent>{}</p:dmEncodedContent></p:dmFile><![CDATA[<p:dmEncodedContent>]]>\
             <p:dmEncodedContent/><dmEncodedContent xml:space=\"preserve\">QU<!-- c -->JD&#xD;&#10;<![CDATA[\r\nRE\nVG]]></dmEncodedContent></r>",
            folded.join("\r\n")
        );
        let skeleton = "<?xml version=\"1.0\"?><!-- <p:dmEncodedContent> --><r xmlns:p=\"x\" a='>'><p:dmFile d=\"a>b\">\
             <p:dmEncodedContent>0</p:dmEncodedContent></p:dmFile><![CDATA[<p:dmEncodedContent>]]>\
             <p:dmEncodedContent/><dmEncodedContent xml:space=\"preserve\">1</dmEncodedContent></r>";
        for size in [1, 2, 3, 7, 64, 4096, 65_536, document.len()] {
            let (kept, files) = split(document.as_bytes(), size).expect("split");
            assert_eq!(String::from_utf8(kept).expect("utf-8"), skeleton, "pieces of {size}");
            assert_eq!(files.len(), 2);
            assert!(files[0] == a, "pieces of {size}");
            assert_eq!(files[1], b"ABCDEF");
        }
    }

    #[test]
    fn markup_or_bad_base64_inside_a_file_is_refused() {
        for bad in [
            "<r><dmEncodedContent>QUJD<x/></dmEncodedContent></r>",
            "<r><dmEncodedContent>QUJD<![CDATA[QU]x]]></dmEncodedContent></r>",
            "<r><dmEncodedContent>QQ==QUJD</dmEncodedContent></r>",
            "<r><dmEncodedContent>QQ=</dmEncodedContent></r>",
            "<r><dmEncodedContent>QU&amp;JD</dmEncodedContent></r>",
            "<r><dmEncodedContent>QU*D</dmEncodedContent></r>",
            "<r><dmEncodedContent>QUJD</dmEncodedContent",
        ] {
            assert!(split(bad.as_bytes(), 3).is_err(), "{bad}");
        }
    }
}
