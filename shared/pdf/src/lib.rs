//! The portal's own PDF documents (simulated register extracts, petition
//! extracts, letters): text on A4 pages, line wrapping, as many pages as the
//! text needs, written with [krilla](https://docs.rs/krilla) 0.8.
//!
//! **Font.** Every glyph comes from DejaVu Sans 2.37 (one face, regular),
//! committed in `fonts/` with its licence (Bitstream Vera licence, DejaVu
//! changes in the public domain; the TTF and `copyright` of Debian's
//! `fonts-dejavu-core` 2.37-6). Glyphs and advances come from the font's own
//! tables (read with skrifa, krilla's font reader), one glyph per character.
//! krilla embeds a subset of the font with the glyphs used and a ToUnicode map, so any reader shows and extracts the text
//! exactly: Czech, Polish, German, Vietnamese, Greek, Cyrillic. A character
//! the font has no glyph for (CJK, for one) is written as U+FFFD "�" instead
//! of an invisible `.notdef` (which PDF/A forbids) and counted in the log.
//!
//! **PDF/A-2a and tagging.** krilla's PDF/A-2a validator runs at export; a
//! document that would break it is an error ([`PdfError`]), never a file. The
//! catalogue carries `/Lang (cs)`, the XMP metadata the title, producer and
//! creation date (Europe/Prague offset). The structure tree has the title
//! (`Title`), headings (`H2`), paragraphs and label–value fields (`P` with a
//! `Span` per line); the page numbers, footers and the repeated simulator
//! banner are artifacts (the banner is real content on the first page).
//!
//! **Times.** [`czech_time`] writes an instant as Prague's wall-clock time
//! (CET/CEST), the only time a Czech document shows.

use std::num::NonZeroU16;
use std::sync::LazyLock;

use krilla::configure::{Archival, ConfigurationBuilder, Validator};
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::{DateTime, Metadata};
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::Fill;
use krilla::surface::Surface;
use krilla::tagging::{Artifact, ArtifactType, ContentTag, Identifier, Node, SpanTag, Tag, TagGroup, TagTree};
use krilla::text::{Font, GlyphId, KrillaGlyph};
use krilla::{Document, SerializeSettings};
use time::{OffsetDateTime, UtcOffset};

static REGULAR_TTF: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");

/// The document language (the catalogue's `/Lang`).
pub const LANGUAGE: &str = "cs";

const PAGE_WIDTH: f32 = 595.0;
const PAGE_HEIGHT: f32 = 842.0;
const MARGIN: f32 = 56.0;
const LABEL_WIDTH: f32 = 160.0;
const BODY_SIZE: f32 = 10.0;
const LEADING: f32 = 14.0;
/// The footer's baseline, from the top of the page.
const FOOTER_Y: f32 = PAGE_HEIGHT - 36.0;
/// Shown for a character no font has a glyph for.
const REPLACEMENT: char = '\u{fffd}';

/// A font krilla draws with, and its glyphs and advances read with skrifa
/// (the same bytes). One glyph per character from the font's `cmap`, no
/// kerning or ligatures: what Czech documents need, without a shaper (krilla's
/// `simple-text` would bring rustybuzz, unmaintained: RUSTSEC-2026-0206).
struct Face {
    font: Font,
    data: &'static [u8],
    units_per_em: f32,
}

impl Face {
    fn load(data: &'static [u8]) -> Option<Self> {
        use skrifa::MetadataProvider as _;
        use skrifa::instance::{LocationRef, Size};
        let parsed = skrifa::FontRef::new(data).ok()?;
        let units_per_em = f32::from(parsed.metrics(Size::unscaled(), LocationRef::default()).units_per_em);
        Some(Self { font: Font::new(data.into(), 0)?, data, units_per_em })
    }

    fn parsed(&self) -> Option<skrifa::FontRef<'static>> {
        skrifa::FontRef::new(self.data).ok()
    }

    fn has(&self, c: char) -> bool {
        use skrifa::MetadataProvider as _;
        c == ' ' || self.parsed().is_some_and(|f| f.charmap().map(c).is_some())
    }

    /// The glyphs of `text`, advances in em (krilla's normalised units).
    fn glyphs(&self, text: &str) -> Vec<KrillaGlyph> {
        use skrifa::MetadataProvider as _;
        use skrifa::instance::{LocationRef, Size};
        let Some(font) = self.parsed() else { return Vec::new() };
        let (charmap, metrics) = (font.charmap(), font.glyph_metrics(Size::unscaled(), LocationRef::default()));
        text.char_indices()
            .map(|(at, c)| {
                let id = charmap.map(c).unwrap_or_default();
                let advance = metrics.advance_width(id).unwrap_or(0.0) / self.units_per_em;
                KrillaGlyph::new(GlyphId::new(id.to_u32()), advance, 0.0, 0.0, 0.0, at..at + c.len_utf8(), None)
            })
            .collect()
    }

    /// The advance of `text` at `size` points.
    fn width(&self, text: &str, size: f32) -> f32 {
        self.glyphs(text).iter().map(|g| g.x_advance).sum::<f32>() * size
    }
}

/// One face for everything (titles and headings are larger, not bolder): a
/// second embedded subset would add some 9 kB to every document, and an
/// extract should stay small enough to travel inline in a queue message.
struct Fonts {
    regular: Face,
}

static FONTS: LazyLock<Option<Fonts>> = LazyLock::new(|| Some(Fonts { regular: Face::load(REGULAR_TTF)? }));

/// Why a document could not be written (a bug, never a passing fault).
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("the embedded fonts cannot be read")]
    Fonts,
    /// krilla refused the document (a PDF/A-2a rule, for one).
    #[error("the PDF cannot be written: {0}")]
    Export(String),
}

fn fonts() -> Result<&'static Fonts, PdfError> {
    FONTS.as_ref().ok_or(PdfError::Fonts)
}

/// `text` with every character the fonts cannot show replaced by U+FFFD.
fn printable(text: &str) -> String {
    let Ok(fonts) = fonts() else { return text.to_owned() };
    let mut missing = 0_usize;
    let out: String = text
        .chars()
        .map(|c| match c {
            '\u{a0}' | '\t' => ' ',
            c if c.is_control() => ' ',
            c if fonts.regular.has(c) => c,
            _ => {
                missing += 1;
                REPLACEMENT
            }
        })
        .collect();
    if missing > 0 {
        tracing::warn!(missing, "characters without a glyph in the PDF font are printed as U+FFFD");
    }
    out
}

/// The width of `text` at `size` points in the regular face.
pub fn text_width(text: &str, size: f32) -> f32 {
    fonts().map_or(0.0, |f| f.regular.width(text, size))
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

/// `23. 11. 2026 9:00`: the instant as Prague's wall-clock time.
pub fn czech_time(at: OffsetDateTime) -> String {
    let local = at.to_offset(prague_offset(at));
    format!("{}. {}. {} {}:{:02}", local.day(), u8::from(local.month()), local.year(), local.hour(), local.minute())
}

/// Europe/Prague's offset at `at`: CET, and CEST from the last Sunday of March
/// 01:00 UTC to the last Sunday of October 01:00 UTC (the EU rule).
pub fn prague_offset(at: OffsetDateTime) -> UtcOffset {
    let utc = at.to_offset(UtcOffset::UTC);
    let last_sunday = |month: time::Month| {
        let last = time::Date::from_calendar_date(utc.year(), month, month.length(utc.year())).ok()?;
        last.checked_sub(time::Duration::days(i64::from(last.weekday().number_days_from_sunday())))
    };
    let summer = match (last_sunday(time::Month::March), last_sunday(time::Month::October)) {
        (Some(start), Some(end)) => {
            let hour = time::Duration::hours(1);
            utc >= start.midnight().assume_utc() + hour && utc < end.midnight().assume_utc() + hour
        }
        _ => false,
    };
    UtcOffset::from_hms(if summer { 2 } else { 1 }, 0, 0).unwrap_or(UtcOffset::UTC)
}

#[derive(Debug, Clone, PartialEq)]
enum Block {
    Title(String),
    Heading(String),
    Paragraph(String),
    Field(String, String),
    Gap,
}

/// One line of text placed on a page (`y` is its baseline from the top).
#[derive(Debug, Clone, PartialEq)]
struct Placed {
    x: f32,
    y: f32,
    size: f32,
    grey: bool,
    text: String,
    /// The block (structure element) the line belongs to.
    block: usize,
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
    /// `title` goes to the document metadata and the first page.
    pub fn new(title: impl Into<String>) -> Self {
        let title = printable(&title.into());
        Self { blocks: vec![Block::Title(title.clone())], title, banner: None, footer: String::new() }
    }

    /// A banner repeated at the top of every page (simulator output).
    #[must_use]
    pub fn banner(mut self, text: impl Into<String>) -> Self {
        self.banner = Some(printable(&text.into()));
        self
    }

    /// Small print at the bottom of every page, before the page number.
    #[must_use]
    pub fn footer(mut self, text: impl Into<String>) -> Self {
        self.footer = printable(&text.into());
        self
    }

    pub fn heading(&mut self, text: impl Into<String>) {
        self.blocks.push(Block::Gap);
        self.blocks.push(Block::Heading(printable(&text.into())));
    }

    pub fn paragraph(&mut self, text: impl Into<String>) {
        self.blocks.push(Block::Paragraph(printable(&text.into())));
    }

    /// A labelled value, label on the left.
    pub fn field(&mut self, label: impl Into<String>, value: impl Into<String>) {
        self.blocks.push(Block::Field(printable(&label.into()), printable(&value.into())));
    }

    pub fn gap(&mut self) {
        self.blocks.push(Block::Gap);
    }

    /// Lays the blocks out on pages.
    fn layout(&self) -> Vec<Vec<Placed>> {
        let top = if self.banner.is_some() { MARGIN + 34.0 } else { MARGIN };
        let bottom = PAGE_HEIGHT - MARGIN - 10.0;
        let text_width = PAGE_WIDTH - 2.0 * MARGIN;
        let mut pages: Vec<Vec<Placed>> = vec![Vec::new()];
        let mut y = top;
        let place = |pages: &mut Vec<Vec<Placed>>, y: &mut f32, lines: Vec<Placed>, height: f32| {
            if *y + height > bottom && !pages.last().is_none_or(Vec::is_empty) {
                pages.push(Vec::new());
                *y = top;
            }
            let base = *y;
            if let Some(page) = pages.last_mut() {
                page.extend(lines.into_iter().map(|mut p| {
                    p.y += base;
                    p
                }));
            }
            *y += height;
        };
        let line = |x: f32, y: f32, size: f32, grey: bool, text: String, block: usize| Placed {
            x,
            y,
            size,
            grey,
            text,
            block,
        };
        for (block, content) in self.blocks.iter().enumerate() {
            match content {
                Block::Title(text) | Block::Heading(text) => {
                    let (size, step) = if matches!(content, Block::Title(_)) { (17.0, 22.0) } else { (13.0, 17.0) };
                    let lines = wrap(text, size, text_width);
                    let height = lines.len() as f32 * step + 6.0;
                    let placed = lines
                        .into_iter()
                        .enumerate()
                        .map(|(i, text)| line(MARGIN, size + i as f32 * step, size, false, text, block))
                        .collect();
                    place(&mut pages, &mut y, placed, height);
                }
                Block::Paragraph(text) => {
                    // Paragraph lines may split across pages one by one.
                    for text in wrap(text, BODY_SIZE, text_width) {
                        let placed = vec![line(MARGIN, BODY_SIZE, BODY_SIZE, false, text, block)];
                        place(&mut pages, &mut y, placed, LEADING);
                    }
                }
                Block::Field(label, value) => {
                    let labels = wrap(label, BODY_SIZE, LABEL_WIDTH - 8.0);
                    let values = wrap(value, BODY_SIZE, text_width - LABEL_WIDTH);
                    let rows = labels.len().max(values.len());
                    let mut placed = Vec::new();
                    for (i, text) in labels.into_iter().enumerate() {
                        placed.push(line(MARGIN, BODY_SIZE + i as f32 * LEADING, BODY_SIZE, true, text, block));
                    }
                    for (i, text) in values.into_iter().enumerate() {
                        let x = MARGIN + LABEL_WIDTH;
                        placed.push(line(x, BODY_SIZE + i as f32 * LEADING, BODY_SIZE, false, text, block));
                    }
                    place(&mut pages, &mut y, placed, rows as f32 * LEADING + 2.0);
                }
                Block::Gap => y += 8.0,
            }
        }
        pages
    }

    /// The PDF/A-2a file. `producer` and `created` go to the metadata (the
    /// same inputs give the same bytes).
    pub fn render(&self, producer: &str, created: OffsetDateTime) -> Result<Vec<u8>, PdfError> {
        let fonts = fonts()?;
        let configuration = ConfigurationBuilder::new()
            .set_validator(Validator::A(Archival::A2_A))
            .finish()
            .map_err(|e| PdfError::Export(format!("{e:?}")))?;
        let settings = SerializeSettings { configuration, enable_tagging: true, ..SerializeSettings::default() };
        let mut document = Document::new_with(settings);
        let pages = self.layout();
        let count = pages.len();
        // Identifiers of each block's lines, in reading order.
        let mut groups: Vec<Vec<Identifier>> = vec![Vec::new(); self.blocks.len()];
        let mut banner_id = None;
        for (index, page) in pages.iter().enumerate() {
            let settings =
                PageSettings::from_wh(PAGE_WIDTH, PAGE_HEIGHT).ok_or_else(|| PdfError::Export("page size".into()))?;
            let mut page_writer = document.start_page_with(settings);
            let mut surface = page_writer.surface();
            if let Some(banner) = &self.banner {
                let tag = if index == 0 {
                    ContentTag::Span(SpanTag::empty())
                } else {
                    ContentTag::Artifact(Artifact::new(ArtifactType::Header, None))
                };
                let id = surface.start_tagged(tag);
                fill(&mut surface, (255, 219, 219));
                if let Some(rect) = Rect::from_xywh(MARGIN - 6.0, MARGIN - 6.0, PAGE_WIDTH - 2.0 * MARGIN + 12.0, 24.0)
                {
                    let mut path = PathBuilder::new();
                    path.push_rect(rect);
                    if let Some(path) = path.finish() {
                        surface.draw_path(&path);
                    }
                }
                fill(&mut surface, (153, 0, 0));
                draw(&mut surface, &fonts.regular, MARGIN, MARGIN + 10.0, 11.0, banner);
                surface.end_tagged();
                if index == 0 {
                    banner_id = Some(id);
                }
            }
            for placed in page {
                let id = surface.start_tagged(ContentTag::Span(SpanTag::empty()));
                fill(&mut surface, if placed.grey { (89, 89, 89) } else { (0, 0, 0) });
                // A space ends every line, so a reader keeps the words apart.
                draw(&mut surface, &fonts.regular, placed.x, placed.y, placed.size, &format!("{} ", placed.text));
                surface.end_tagged();
                if let Some(group) = groups.get_mut(placed.block) {
                    group.push(id);
                }
            }
            let footer = if self.footer.is_empty() {
                format!("Strana {} z {count}", index + 1)
            } else {
                format!("{} • Strana {} z {count}", self.footer, index + 1)
            };
            surface.start_tagged(ContentTag::Artifact(Artifact::new(ArtifactType::Footer, None)));
            fill(&mut surface, (89, 89, 89));
            for (i, line) in wrap(&footer, 8.0, PAGE_WIDTH - 2.0 * MARGIN).into_iter().enumerate() {
                draw(&mut surface, &fonts.regular, MARGIN, FOOTER_Y + i as f32 * 10.0, 8.0, &line);
            }
            surface.end_tagged();
            surface.finish();
            page_writer.finish();
        }

        let mut tree = TagTree::new().with_lang(Some(LANGUAGE.to_owned()));
        if let Some(id) = banner_id {
            tree.push(TagGroup::with_children(Tag::P, vec![Node::Leaf(id)]));
        }
        let h2 = NonZeroU16::new(2).unwrap_or(NonZeroU16::MIN);
        for (block, ids) in self.blocks.iter().zip(groups) {
            if ids.is_empty() {
                continue;
            }
            let children: Vec<Node> = ids.into_iter().map(Node::Leaf).collect();
            let group = match block {
                Block::Title(_) => TagGroup::with_children(Tag::Title, children),
                Block::Heading(text) => TagGroup::with_children(Tag::Hn(h2, Some(text.clone())), children),
                _ => TagGroup::with_children(Tag::P, children),
            };
            tree.push(group);
        }
        document.set_tag_tree(tree);
        document.set_metadata(
            Metadata::new()
                .title(self.title.clone())
                .producer(producer.to_owned())
                .creator(producer.to_owned())
                .language(LANGUAGE.to_owned())
                .creation_date(pdf_date(created)),
        );
        document.finish().map_err(|e| PdfError::Export(format!("{e:?}")))
    }
}

fn fill(surface: &mut Surface<'_>, (r, g, b): (u8, u8, u8)) {
    surface.set_fill(Some(Fill {
        paint: krilla::color::rgb::Color::new(r, g, b).into(),
        opacity: NormalizedF32::ONE,
        rule: Default::default(),
    }));
}

fn draw(surface: &mut Surface<'_>, face: &Face, x: f32, y: f32, size: f32, text: &str) {
    let glyphs = face.glyphs(text);
    surface.draw_glyphs(Point::from_xy(x, y), &glyphs, face.font.clone(), text, size, false);
}

/// The creation date as Prague's local time with its offset.
fn pdf_date(at: OffsetDateTime) -> DateTime {
    let offset = prague_offset(at);
    let local = at.to_offset(offset);
    DateTime::new(u16::try_from(local.year()).unwrap_or(2000))
        .month(u8::from(local.month()))
        .day(local.day())
        .hour(local.hour())
        .minute(local.minute())
        .second(local.second())
        .utc_offset_hour(offset.whole_hours())
        .utc_offset_minute(0)
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
        doc.render("Portál občana", datetime!(2026-11-23 08:00 UTC)).expect("a PDF")
    }

    #[test]
    fn a_long_document_is_pdf_a_and_the_same_inputs_give_the_same_bytes() {
        let pdf = sample(200);
        assert!(pdf.starts_with(b"%PDF-1.7"), "{:?}", String::from_utf8_lossy(&pdf[..10]));
        let text = String::from_utf8_lossy(&pdf);
        assert!(text.contains("pdfaid:part=\"2\"") || text.contains("<pdfaid:part>2</pdfaid:part>"), "PDF/A-2");
        if let Ok(dir) = std::env::var("PORTAL_PDF_SAMPLE_DIR") {
            let _ = std::fs::write(std::path::Path::new(&dir).join("sample.pdf"), &pdf);
        }
        assert_eq!(sample(200), pdf, "the same inputs give the same bytes");
    }

    #[test]
    fn wrapping_keeps_every_word_and_characters_without_a_glyph_become_replacement_marks() {
        let text = "Příliš žluťoučký kůň úpěl ďábelské ódy ".repeat(20);
        let lines = wrap(&text, 10.0, 200.0);
        assert!(lines.len() > 5);
        assert!(lines.iter().all(|l| text_width(l, 10.0) <= 200.0));
        assert_eq!(lines.join(" ").split_whitespace().count(), text.split_whitespace().count());
        assert_eq!(wrap(&"x".repeat(300), 10.0, 100.0).concat(), "x".repeat(300), "long words break");
        assert_eq!(printable("Łódź, Nguyễn, Ελλάδα, 漢"), "Łódź, Nguyễn, Ελλάδα, \u{fffd}");
    }

    #[test]
    fn prague_time_follows_summer_time() {
        assert_eq!(czech_time(datetime!(2026-11-23 08:00 UTC)), "23. 11. 2026 9:00");
        assert_eq!(czech_time(datetime!(2026-07-01 22:30 UTC)), "2. 7. 2026 0:30");
        assert_eq!(czech_time(datetime!(2026-03-29 00:59 UTC)), "29. 3. 2026 1:59");
        assert_eq!(czech_time(datetime!(2026-03-29 01:00 UTC)), "29. 3. 2026 3:00");
    }
}
