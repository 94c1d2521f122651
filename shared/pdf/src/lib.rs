//! A small PDF 1.4 writer for the portal's documents (extracts, petition lists): text only, A4 pages, line wrapping,
//! as many pages as the text needs. No dependency: the format's text subset
//! is a few hundred lines, and a generated extract must stay byte-for-byte
//! reproducible from its data.
//!
//! **Font and Czech characters.** The text is set in Helvetica, one of the
//! standard 14 fonts every PDF reader has, so nothing is embedded. Its Adobe
//! metrics (Helvetica.afm, 1997, 315 glyphs) include every glyph Czech needs
//! (`ecaron`, `scaron`, `ccaron`, `rcaron`, `zcaron`, `yacute`, `aacute`,
//! `iacute`, `eacute`, `uring`, `uacute`, `ncaron`, `tcaron`, `dcaron`,
//! `oacute` and their capitals), so no fallback glyph is needed. A simple
//! font addresses 256 codes: the font's `/Encoding` keeps WinAnsi for ASCII
//! and maps codes 128–178 through `/Differences` to those glyph names
//! ([`ENCODING`]). A reader's text extraction turns the glyph names back into
//! Unicode, so the extract's text stays searchable and copyable. Characters
//! outside the table are written as `?`.
//!
//! **Layout.** Widths come from the same AFM (for wrapping); the banner (for
//! simulator output) repeats at the top of every page, the footer numbers
//! the pages.

use std::fmt::Write as _;

use time::OffsetDateTime;

/// Codes 128… and the glyph each shows (in `/Differences` order).
pub const ENCODING: &[(char, &str, u16)] = &[
    ('ě', "ecaron", 556),
    ('Ě', "Ecaron", 667),
    ('š', "scaron", 500),
    ('Š', "Scaron", 667),
    ('č', "ccaron", 500),
    ('Č', "Ccaron", 722),
    ('ř', "rcaron", 333),
    ('Ř', "Rcaron", 722),
    ('ž', "zcaron", 500),
    ('Ž', "Zcaron", 611),
    ('ý', "yacute", 500),
    ('Ý', "Yacute", 667),
    ('á', "aacute", 556),
    ('Á', "Aacute", 667),
    ('í', "iacute", 278),
    ('Í', "Iacute", 278),
    ('é', "eacute", 556),
    ('É', "Eacute", 667),
    ('ů', "uring", 556),
    ('Ů', "Uring", 722),
    ('ú', "uacute", 556),
    ('Ú', "Uacute", 722),
    ('ň', "ncaron", 556),
    ('Ň', "Ncaron", 722),
    ('ť', "tcaron", 317),
    ('Ť', "Tcaron", 611),
    ('ď', "dcaron", 643),
    ('Ď', "Dcaron", 722),
    ('ó', "oacute", 556),
    ('Ó', "Oacute", 778),
    ('–', "endash", 556),
    ('—', "emdash", 1000),
    ('„', "quotedblbase", 333),
    ('“', "quotedblleft", 333),
    ('§', "section", 556),
    ('°', "degree", 400),
    ('ä', "adieresis", 556),
    ('ö', "odieresis", 556),
    ('ü', "udieresis", 556),
    ('Ä', "Adieresis", 667),
    ('Ö', "Odieresis", 778),
    ('Ü', "Udieresis", 722),
    ('ľ', "lcaron", 299),
    ('ĺ', "lacute", 222),
    ('ŕ', "racute", 333),
    ('ô', "ocircumflex", 556),
    ('•', "bullet", 350),
    ('’', "quoteright", 222),
    ('×', "multiply", 584),
    ('€', "Euro", 556),
    ('²', "twosuperior", 333),
];

/// Helvetica widths (1/1000 em) of ASCII 32–126.
const ASCII_WIDTHS: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556, 556, 556, 556, 556,
    556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833,
    722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, 333, 556, 556, 500, 556,
    556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334,
    260, 334, 584,
];

const PAGE_WIDTH: f32 = 595.0;
const PAGE_HEIGHT: f32 = 842.0;
const MARGIN: f32 = 56.0;
const LABEL_WIDTH: f32 = 160.0;
const BODY_SIZE: f32 = 10.5;
const LEADING: f32 = 14.0;
const FOOTER_Y: f32 = 36.0;

/// The byte a character is written as, and its width in 1/1000 em.
fn encode(c: char) -> (u8, u16) {
    let c = if c == '\u{a0}' { ' ' } else { c };
    if (' '..='~').contains(&c) {
        let code = c as u8;
        return (code, ASCII_WIDTHS[usize::from(code - 32)]);
    }
    match ENCODING.iter().position(|(ch, _, _)| *ch == c) {
        Some(i) => (128 + i as u8, ENCODING[i].2),
        None => (b'?', 556),
    }
}

/// The width of `text` at `size` points.
pub fn text_width(text: &str, size: f32) -> f32 {
    text.chars().map(|c| f32::from(encode(c).1)).sum::<f32>() * size / 1000.0
}

/// Breaks `text` into lines no wider than `width` at `size`: at spaces, and
/// inside words only when one word alone is too wide.
pub fn wrap(text: &str, size: f32, width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        for word in paragraph.split(' ').filter(|w| !w.is_empty()) {
            let candidate = if line.is_empty() { word.to_owned() } else { format!("{line} {word}") };
            if text_width(&candidate, size) <= width {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            for c in word.chars() {
                if !line.is_empty() && text_width(&format!("{line}{c}"), size) > width {
                    lines.push(std::mem::take(&mut line));
                }
                line.push(c);
            }
        }
        lines.push(line);
    }
    lines
}

#[derive(Debug, Clone, PartialEq)]
enum Block {
    Title(String),
    Heading(String),
    Paragraph(String),
    Field(String, String),
    Gap,
}

/// One text placed on a page.
#[derive(Debug, Clone, PartialEq)]
struct Placed {
    x: f32,
    y: f32,
    size: f32,
    grey: bool,
    text: String,
}

/// A text document to be written as a PDF.
#[derive(Debug, Clone, PartialEq)]
pub struct PdfDocument {
    title: String,
    banner: Option<String>,
    footer: String,
    blocks: Vec<Block>,
}

impl PdfDocument {
    /// `title` goes to the document information and the first page.
    pub fn new(title: impl Into<String>) -> Self {
        let title = title.into();
        Self { blocks: vec![Block::Title(title.clone())], title, banner: None, footer: String::new() }
    }

    /// A banner repeated at the top of every page (simulator output).
    #[must_use]
    pub fn banner(mut self, text: impl Into<String>) -> Self {
        self.banner = Some(text.into());
        self
    }

    /// Small print at the bottom of every page, before the page number.
    #[must_use]
    pub fn footer(mut self, text: impl Into<String>) -> Self {
        self.footer = text.into();
        self
    }

    pub fn heading(&mut self, text: impl Into<String>) {
        self.blocks.push(Block::Gap);
        self.blocks.push(Block::Heading(text.into()));
    }

    pub fn paragraph(&mut self, text: impl Into<String>) {
        self.blocks.push(Block::Paragraph(text.into()));
    }

    /// A labelled value, label on the left.
    pub fn field(&mut self, label: impl Into<String>, value: impl Into<String>) {
        self.blocks.push(Block::Field(label.into(), value.into()));
    }

    pub fn gap(&mut self) {
        self.blocks.push(Block::Gap);
    }

    /// Lays the blocks out on pages.
    fn layout(&self) -> Vec<Vec<Placed>> {
        let top = if self.banner.is_some() { PAGE_HEIGHT - MARGIN - 34.0 } else { PAGE_HEIGHT - MARGIN };
        let bottom = MARGIN + 10.0;
        let text_width = PAGE_WIDTH - 2.0 * MARGIN;
        let mut pages: Vec<Vec<Placed>> = vec![Vec::new()];
        let mut y = top;
        let place = |pages: &mut Vec<Vec<Placed>>, y: &mut f32, lines: Vec<Placed>, height: f32| {
            if *y - height < bottom && !pages.last().is_none_or(Vec::is_empty) {
                pages.push(Vec::new());
                *y = top;
            }
            let base = *y;
            if let Some(page) = pages.last_mut() {
                page.extend(lines.into_iter().map(|mut p| {
                    p.y = base - p.y;
                    p
                }));
            }
            *y -= height;
        };
        for block in &self.blocks {
            match block {
                Block::Title(text) => {
                    let lines = wrap(text, 17.0, text_width);
                    let height = lines.len() as f32 * 22.0 + 8.0;
                    let placed = lines
                        .into_iter()
                        .enumerate()
                        .map(|(i, text)| Placed { x: MARGIN, y: 17.0 + i as f32 * 22.0, size: 17.0, grey: false, text })
                        .collect();
                    place(&mut pages, &mut y, placed, height);
                }
                Block::Heading(text) => {
                    let lines = wrap(text, 13.0, text_width);
                    let height = lines.len() as f32 * 17.0 + 4.0;
                    let placed = lines
                        .into_iter()
                        .enumerate()
                        .map(|(i, text)| Placed { x: MARGIN, y: 13.0 + i as f32 * 17.0, size: 13.0, grey: false, text })
                        .collect();
                    place(&mut pages, &mut y, placed, height);
                }
                Block::Paragraph(text) => {
                    // Paragraph lines may split across pages one by one.
                    for line in wrap(text, BODY_SIZE, text_width) {
                        let placed = vec![Placed { x: MARGIN, y: BODY_SIZE, size: BODY_SIZE, grey: false, text: line }];
                        place(&mut pages, &mut y, placed, LEADING);
                    }
                }
                Block::Field(label, value) => {
                    let labels = wrap(label, BODY_SIZE, LABEL_WIDTH - 8.0);
                    let values = wrap(value, BODY_SIZE, text_width - LABEL_WIDTH);
                    let rows = labels.len().max(values.len());
                    let mut placed = Vec::new();
                    for (i, text) in labels.into_iter().enumerate() {
                        placed.push(Placed {
                            x: MARGIN,
                            y: BODY_SIZE + i as f32 * LEADING,
                            size: BODY_SIZE,
                            grey: true,
                            text,
                        });
                    }
                    for (i, text) in values.into_iter().enumerate() {
                        let x = MARGIN + LABEL_WIDTH;
                        placed.push(Placed {
                            x,
                            y: BODY_SIZE + i as f32 * LEADING,
                            size: BODY_SIZE,
                            grey: false,
                            text,
                        });
                    }
                    place(&mut pages, &mut y, placed, rows as f32 * LEADING + 2.0);
                }
                Block::Gap => y -= 8.0,
            }
        }
        pages
    }

    /// The PDF file. `created` is the creation date in the document
    /// information (the same inputs give the same bytes).
    pub fn render(&self, producer: &str, created: OffsetDateTime) -> Vec<u8> {
        let pages = self.layout();
        let count = pages.len();
        // Objects: 1 catalog, 2 pages, 3 font, 4 encoding, 5 info, then a
        // page and its content stream per page.
        let mut objects: Vec<Vec<u8>> = Vec::new();
        let kids: Vec<String> = (0..count).map(|i| format!("{} 0 R", 6 + 2 * i)).collect();
        objects.push(b"<< /Type /Catalog /Pages 2 0 R >>".to_vec());
        objects.push(format!("<< /Type /Pages /Kids [{}] /Count {count} >>", kids.join(" ")).into_bytes());
        objects.push(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding 4 0 R >>".to_vec());
        let differences: Vec<String> = ENCODING.iter().map(|(_, name, _)| format!("/{name}")).collect();
        objects.push(
            format!(
                "<< /Type /Encoding /BaseEncoding /WinAnsiEncoding /Differences [128 {}] >>",
                differences.join(" ")
            )
            .into_bytes(),
        );
        objects.push(
            format!(
                "<< /Title {} /Producer {} /CreationDate ({}) >>",
                utf16_text(&self.title),
                utf16_text(producer),
                pdf_date(created)
            )
            .into_bytes(),
        );
        for (index, page) in pages.iter().enumerate() {
            let content = self.page_content(page, index + 1, count);
            objects.push(
                format!(
                    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_WIDTH} {PAGE_HEIGHT}] \
                     /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>",
                    7 + 2 * index
                )
                .into_bytes(),
            );
            let mut stream = format!("<< /Length {} >>\nstream\n", content.len()).into_bytes();
            stream.extend_from_slice(&content);
            stream.extend_from_slice(b"\nendstream");
            objects.push(stream);
        }

        let mut out: Vec<u8> = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec();
        let mut offsets = Vec::with_capacity(objects.len());
        for (i, body) in objects.iter().enumerate() {
            offsets.push(out.len());
            out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
            out.extend_from_slice(body);
            out.extend_from_slice(b"\nendobj\n");
        }
        let xref = out.len();
        let mut table = format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1);
        for offset in offsets {
            let _ = writeln!(table, "{offset:010} 00000 n ");
        }
        let id = document_id(&out);
        let _ = write!(
            table,
            "trailer\n<< /Size {} /Root 1 0 R /Info 5 0 R /ID [<{id}> <{id}>] >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        );
        out.extend_from_slice(table.as_bytes());
        out
    }

    fn page_content(&self, page: &[Placed], number: usize, count: usize) -> Vec<u8> {
        let mut content = Vec::new();
        if let Some(banner) = &self.banner {
            let (x, y, h) = (MARGIN - 6.0, PAGE_HEIGHT - MARGIN - 22.0, 24.0);
            let w = PAGE_WIDTH - 2.0 * MARGIN + 12.0;
            content.extend_from_slice(format!("q 1 0.86 0.86 rg {x} {y} {w} {h} re f Q\n").as_bytes());
            text(&mut content, MARGIN, y + 8.0, 11.0, Some((0.6, 0.0, 0.0)), banner);
        }
        for p in page {
            let colour = p.grey.then_some((0.35, 0.35, 0.35));
            text(&mut content, p.x, p.y, p.size, colour, &p.text);
        }
        let footer = if self.footer.is_empty() {
            format!("Strana {number} z {count}")
        } else {
            format!("{} • Strana {number} z {count}", self.footer)
        };
        text(&mut content, MARGIN, FOOTER_Y, 8.0, Some((0.35, 0.35, 0.35)), &footer);
        content
    }
}

/// Appends one line of text at (x, y).
fn text(content: &mut Vec<u8>, x: f32, y: f32, size: f32, colour: Option<(f32, f32, f32)>, line: &str) {
    let (r, g, b) = colour.unwrap_or((0.0, 0.0, 0.0));
    content.extend_from_slice(format!("BT {r} {g} {b} rg /F1 {size} Tf 1 0 0 1 {x:.2} {y:.2} Tm (").as_bytes());
    for c in line.chars() {
        let (code, _) = encode(c);
        if matches!(code, b'(' | b')' | b'\\') {
            content.push(b'\\');
        }
        content.push(code);
    }
    content.extend_from_slice(b") Tj ET\n");
}

/// A text string in UTF-16BE with a byte-order mark, as a hex string.
fn utf16_text(text: &str) -> String {
    let mut hex = String::from("<FEFF");
    for unit in text.encode_utf16() {
        let _ = write!(hex, "{unit:04X}");
    }
    hex.push('>');
    hex
}

/// `D:YYYYMMDDHHmmSSZ`.
fn pdf_date(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "D:{:04}{:02}{:02}{:02}{:02}{:02}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

/// The file identifier: the first 16 bytes of SHA-256 of the body.
fn document_id(body: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, body);
    digest.as_ref().iter().take(16).map(|b| format!("{b:02X}")).collect()
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    fn sample(paragraphs: usize) -> Vec<u8> {
        let mut doc =
            PdfDocument::new("Výpis z evidence Rejstříku trestů").banner("SIMULÁTOR — nejde o skutečný výpis");
        doc.field("Jméno a příjmení", "Ludmila Šťastná Žďárská");
        for i in 0..paragraphs {
            doc.paragraph(format!("{i}: Příliš žluťoučký kůň úpěl ďábelské ódy (a \\ závorky)."));
        }
        doc.render("Portál občana", datetime!(2026-11-23 08:00 UTC))
    }

    #[test]
    fn the_cross_reference_table_points_at_every_object() {
        let pdf = sample(200);
        let tail = String::from_utf8_lossy(&pdf[pdf.len() - 40..]).into_owned();
        let start: usize = tail
            .rsplit("startxref\n")
            .next()
            .and_then(|t| t.lines().next())
            .and_then(|n| n.parse().ok())
            .expect("startxref");
        assert!(pdf[start..].starts_with(b"xref\n"), "startxref points at the table");
        let text = String::from_utf8_lossy(&pdf[start..]).into_owned();
        let table = text.as_str();
        let count: usize =
            table.lines().nth(1).and_then(|l| l.split(' ').nth(1)).and_then(|n| n.parse().ok()).expect("size");
        assert!(count > 9, "several pages: {count} objects");
        for (number, line) in table.lines().skip(3).take(count - 1).enumerate() {
            assert_eq!(line.len(), 19, "entries are 20 bytes with the newline");
            let offset: usize = line[..10].parse().expect("offset");
            assert!(pdf[offset..].starts_with(format!("{} 0 obj", number + 1).as_bytes()), "object {}", number + 1);
        }
        assert_eq!(sample(200), pdf, "the same inputs give the same bytes");
    }

    #[test]
    fn czech_letters_use_the_differences_and_wrapping_keeps_every_word() {
        assert_eq!(encode('ř'), (134, 333));
        assert_eq!(encode('A'), (b'A', 667));
        assert_eq!(encode('漢').0, b'?');
        let text = "Příliš žluťoučký kůň úpěl ďábelské ódy ".repeat(20);
        let lines = wrap(&text, 10.5, 200.0);
        assert!(lines.len() > 5);
        assert!(lines.iter().all(|l| text_width(l, 10.5) <= 200.0));
        assert_eq!(lines.join(" ").split_whitespace().count(), text.split_whitespace().count());
        assert_eq!(wrap(&"x".repeat(300), 10.5, 100.0).concat(), "x".repeat(300), "long words break");
    }
}
