//! Text log lines (`PORTAL_LOG_FORMAT=text`, the local default), the content
//! of tracing's compact format in a layer of our own (issue 18: the request's
//! span and line were a quarter of a health request's CPU):
//!
//! ```text
//! 2026-12-06T14:46:17.400647Z  INFO request: portal_host::edge: request finished status=200 duration_ms=1 method="GET" route="/api/health" function="Health"
//! ```
//!
//! - [`TextLayer`] writes time, level, the spans' names, the target, the
//!   event's fields and then each span's fields, in plain writes (no colour
//!   codes: a log file is not a terminal), into one buffer a thread and one
//!   write to the log writer a line;
//! - a span's fields are formatted once, when it starts or records, into a
//!   string of its own, and copied into each line written inside it;
//! - fields are formatted as tracing's default does (the message bare, strings
//!   quoted), without the ones that only instruct the exporter (`otel.name`,
//!   `otel.kind`, `otel.status_code`, and `http.response.status_code`, which
//!   the request's line has as `status`), and with control characters escaped
//!   in every value, so one record is one line whatever a value holds.
//!
//! tracing-subscriber's `fmt` layer did the same through its generic pieces: a
//! formatter per field through `fmt`, the span's fields in a string grown
//! piece by piece, a walk of the spans from the root through a vector, and
//! the time stamp's date worked out for every line. With export off, that was
//! most of the 6,800 instructions a health request's span and line cost.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io::Write as _;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime as _, SystemTime};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::{LookupSpan, SpanRef};

/// The layer of text logs, writing its lines to `W`.
#[derive(Debug)]
pub struct TextLayer<W> {
    make_writer: W,
}

impl<W> TextLayer<W> {
    pub fn new(make_writer: W) -> Self {
        Self { make_writer }
    }
}

/// A span's fields as its lines write them, kept in its extensions.
struct SpanText(String);

/// Room made for a span's fields when the first is written: a request's fit.
const SPAN_TEXT: usize = 128;

/// A line buffer kept bigger than this (a huge field once) is let go.
const LINE_KEPT: usize = 16 * 1024;

impl<S, W> Layer<S> for TextLayer<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'writer> MakeWriter<'writer> + 'static,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut text = String::new();
        attrs.record(&mut Plain::new(&mut text, SPAN_TEXT));
        if let Some(span) = ctx.span(id).filter(|_| !text.is_empty()) {
            span.extensions_mut().insert(SpanText(text));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        // Most records are for the exporter alone (the status): nothing
        // written, the span not looked up.
        let mut added = String::new();
        values.record(&mut Plain::new(&mut added, 0));
        let Some(span) = ctx.span(id).filter(|_| !added.is_empty()) else { return };
        let mut extensions = span.extensions_mut();
        match extensions.get_mut::<SpanText>() {
            Some(SpanText(text)) => {
                text.push(' ');
                text.push_str(&added);
            }
            None => extensions.insert(SpanText(added)),
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        thread_local! {
            static LINE: RefCell<String> = const { RefCell::new(String::new()) };
        }
        LINE.with(|line| match line.try_borrow_mut() {
            Ok(mut line) => {
                line.clear();
                self.write_line(&mut line, event, &ctx);
                if line.capacity() > LINE_KEPT {
                    *line = String::new();
                }
            }
            // An event logged while a value of this thread's line is being
            // formatted (tracing drops those today; no panic if it ever
            // does not).
            Err(_) => self.write_line(&mut String::new(), event, &ctx),
        });
    }
}

impl<W> TextLayer<W>
where
    W: for<'writer> MakeWriter<'writer> + 'static,
{
    fn write_line<S>(&self, line: &mut String, event: &Event<'_>, ctx: &Context<'_, S>)
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let meta = event.metadata();
        push_now(line);
        line.push_str(match *meta.level() {
            tracing::Level::ERROR => " ERROR ",
            tracing::Level::WARN => "  WARN ",
            tracing::Level::INFO => "  INFO ",
            tracing::Level::DEBUG => " DEBUG ",
            tracing::Level::TRACE => " TRACE ",
        });
        // The spans, walked once from the event up: the nearest few in place,
        // any further ones (rare) in a vector.
        let mut near: [Option<SpanRef<'_, S>>; KEPT_SPANS] = Default::default();
        let mut far = Vec::new();
        for (at, span) in ctx.event_scope(event).into_iter().flatten().enumerate() {
            match near.get_mut(at) {
                Some(slot) => *slot = Some(span),
                None => far.push(span),
            }
        }
        let from_root = || far.iter().rev().chain(near.iter().rev().flatten());
        let mut any = false;
        for span in from_root() {
            line.push_str(span.name());
            line.push(':');
            any = true;
        }
        if any {
            line.push(' ');
        }
        line.push_str(meta.target());
        line.push_str(": ");
        event.record(&mut Plain::new(line, 0));
        for span in from_root() {
            if let Some(SpanText(text)) = span.extensions().get::<SpanText>() {
                line.push(' ');
                line.push_str(text);
            }
        }
        line.push('\n');
        // A line that cannot be written (stderr closed) is lost, as with
        // tracing's own layer.
        let _ = self.make_writer.make_writer_for(meta).write_all(line.as_bytes());
    }
}

/// The spans a line keeps in place from its one walk of the scope (a
/// request's span and the calls inside it).
const KEPT_SPANS: usize = 4;

/// The line's time stamp as tracing's `SystemTime` writes it
/// (`2026-12-06T14:46:17.400647Z`), by hand for the years 1970–9999, the date
/// and time of day worked out once a second for each thread: tracing's general
/// formatting (seven padded integers through `fmt`) was about a fiftieth of a
/// health request's CPU (issue 18). Another year, tracing's.
fn push_now(line: &mut String) {
    thread_local! {
        static LAST: Cell<Option<(u64, [u8; 27])>> = const { Cell::new(None) };
    }
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok();
    let stamp = since.and_then(|since| LAST.with(|last| stamp_from(since, last)));
    match stamp.as_ref().map(|stamp| std::str::from_utf8(stamp)) {
        Some(Ok(stamp)) => line.push_str(stamp),
        _ => {
            let _ = SystemTime.format_time(&mut Writer::new(line));
        }
    }
}

/// The stamp of `since`, from `last` (a second and its stamp, the last this
/// thread wrote) when it is in the same second.
fn stamp_from(since: std::time::Duration, last: &Cell<Option<(u64, [u8; 27])>>) -> Option<[u8; 27]> {
    let seconds = since.as_secs();
    let mut stamp = match last.get() {
        Some((second, stamp)) if second == seconds => stamp,
        _ => {
            let stamp = stamp(seconds)?;
            last.set(Some((seconds, stamp)));
            stamp
        }
    };
    put_digits(&mut stamp, 20, 6, u64::from(since.subsec_micros()));
    Some(stamp)
}

/// `seconds` since the Unix epoch as `YYYY-MM-DDTHH:MM:SS.000000Z`, for years
/// up to 9999.
fn stamp(seconds: u64) -> Option<[u8; 27]> {
    let (days, of_day) = (seconds / 86_400, seconds % 86_400);
    // Days to a civil date (H. Hinnant's algorithm), from 1970 on.
    let z = days + 719_468;
    let (era, day_of_era) = (z / 146_097, z % 146_097);
    let year_of_era = (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 { shifted_month + 3 } else { shifted_month - 9 };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    if year > 9999 {
        return None;
    }
    let mut out = *b"0000-00-00T00:00:00.000000Z";
    put_digits(&mut out, 0, 4, year);
    put_digits(&mut out, 5, 2, month);
    put_digits(&mut out, 8, 2, day);
    put_digits(&mut out, 11, 2, of_day / 3_600);
    put_digits(&mut out, 14, 2, of_day / 60 % 60);
    put_digits(&mut out, 17, 2, of_day % 60);
    Some(out)
}

/// `n` in `width` decimal digits at `at`.
fn put_digits(out: &mut [u8; 27], at: usize, width: usize, mut n: u64) {
    for digit in out[at..at + width].iter_mut().rev() {
        *digit = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

/// Fields that only instruct the exporter, or repeat what the request's line
/// says (`status`).
fn for_exporter(field: &Field) -> bool {
    let name = field.name();
    // Most names start with neither letter: one comparison.
    match name.as_bytes().first() {
        Some(b'o') => name.starts_with("otel."),
        Some(b'h') => name == "http.response.status_code",
        _ => false,
    }
}

/// Writes `name=value` pairs as tracing's default visitor does (the message
/// bare, strings quoted) onto the end of a string. Control characters are
/// escaped in every value, line breaks included, so that no value a caller
/// sent can start a line of its own or drive a terminal.
struct Plain<'out> {
    out: &'out mut String,
    /// Whether a field was written (a space goes before the next).
    written: bool,
    /// Room made before the first field (a span's text starts empty).
    reserve: usize,
}

impl<'out> Plain<'out> {
    fn new(out: &'out mut String, reserve: usize) -> Self {
        Self { out, written: false, reserve }
    }

    /// Starts the field `name=` (just a space before the message); false when
    /// the field is not written.
    fn start(&mut self, field: &Field) -> bool {
        if for_exporter(field) {
            return false;
        }
        if std::mem::replace(&mut self.written, true) {
            self.out.push(' ');
        } else {
            self.out.reserve(self.reserve);
        }
        let name = field.name();
        if name != "message" {
            self.out.push_str(name.strip_prefix("r#").unwrap_or(name));
            self.out.push('=');
        }
        true
    }

    fn value(&mut self, value: fmt::Arguments<'_>) {
        // Only a value's own `Debug` or `Display` can fail; what it wrote stays.
        let _ = fmt::write(&mut Escaped(&mut *self.out), value);
    }
}

/// Whether `Debug` writes `s` as it is between quotes: printable ASCII
/// without `"` and `\`, nearly every string a log line gets (a route, a
/// method, an id).
fn quotes_as_it_is(s: &str) -> bool {
    // Every byte looked at, without stopping early: the loop is vectorised.
    s.bytes().fold(true, |plain, b| plain & ((0x20..0x7f).contains(&b) & (b != b'"') & (b != b'\\')))
}

impl Visit for Plain<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if self.start(field) {
            if field.name() == "message" {
                if may_hold_control(value) {
                    self.value(format_args!("{value}"))
                } else {
                    self.out.push_str(value);
                }
            } else if quotes_as_it_is(value) {
                self.out.push('"');
                self.out.push_str(value);
                self.out.push('"');
            } else {
                self.value(format_args!("{value:?}"))
            }
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if self.start(field) {
            self.out.push_str(itoa::Buffer::new().format(value));
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if self.start(field) {
            self.out.push_str(itoa::Buffer::new().format(value));
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        if self.start(field) {
            self.out.push_str(if value { "true" } else { "false" });
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if self.start(field) {
            self.value(format_args!("{value}"));
            let mut source = value.source();
            while let Some(error) = source {
                self.value(format_args!(": {error}"));
                source = error.source();
            }
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.start(field) {
            self.value(format_args!("{value:?}"));
        }
    }
}

/// Control characters written as `\x..` or `\u{..}` (tab excepted); a piece
/// without one, nearly every piece, in one write.
struct Escaped<'a, W>(&'a mut W);

fn is_control(c: char) -> bool {
    c != '\t' && (c.is_ascii_control() || ('\u{80}'..='\u{9f}').contains(&c))
}

/// Whether `s` may hold a control character: a byte below 0x20 or 0x7f (the
/// ASCII ones), or 0xc2 (the first byte of U+0080–U+009F). A byte scan, where
/// a scan of `char`s decoded each one (a twentieth of a health request's
/// instructions went to it).
fn may_hold_control(s: &str) -> bool {
    s.bytes().fold(false, |found, b| found | (b < 0x20) | (b == 0x7f) | (b == 0xc2))
}

impl<W: fmt::Write> fmt::Write for Escaped<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if !may_hold_control(s) {
            return self.0.write_str(s);
        }
        let mut rest = s;
        while let Some(at) = rest.find(is_control) {
            self.0.write_str(&rest[..at])?;
            let c = rest[at..].chars().next().unwrap_or_default();
            if c.is_ascii() {
                write!(self.0, "\\x{:02x}", u32::from(c))?;
            } else {
                write!(self.0, "\\u{{{:x}}}", u32::from(c))?;
            }
            rest = &rest[at + c.len_utf8()..];
        }
        self.0.write_str(rest)
    }
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;

    /// What `emit` logs, as text lines.
    fn text_of(emit: impl FnOnce()) -> String {
        let logs = portal_testkit::LogBuffer::default();
        let layer = TextLayer::new(logs.clone());
        tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), emit);
        logs.text()
    }

    #[test]
    fn a_text_line_has_time_level_span_target_and_fields_but_not_the_exporters() {
        let text = text_of(|| {
            let span = tracing::info_span!(
                "request",
                method = "GET",
                route = "/api/health",
                otel.name = "Health",
                otel.kind = "server",
                otel.status_code = tracing::field::Empty,
                http.response.status_code = tracing::field::Empty,
            );
            span.record("otel.status_code", "ERROR");
            span.record("http.response.status_code", 503);
            tracing::info!(parent: &span, status = 503, "request finished");
        });
        let (time, rest) = text.split_once(' ').expect("time first");
        time::OffsetDateTime::parse(time, &time::format_description::well_known::Rfc3339).expect("an RFC 3339 time");
        assert_eq!(
            rest,
            " INFO request: portal_telemetry::text_fields::tests: request finished status=503 \
             method=\"GET\" route=\"/api/health\"\n",
        );
    }

    #[test]
    fn no_value_breaks_the_line_or_reaches_the_terminal() {
        #[derive(Debug, thiserror::Error)]
        #[error("outer\nfailure")]
        struct Outer(#[source] std::io::Error);

        let error = Outer(std::io::Error::other("inner\u{1b}[31m"));
        let text = text_of(|| {
            let path = "/a\r\nb\u{85}";
            tracing::warn!(path = %path, quoted = path, error = &error as &(dyn std::error::Error + 'static), "forged\nline\tkept");
        });
        assert_eq!(text.lines().count(), 1, "one line: {text:?}");
        let (_, rest) = text.split_once("  WARN ").expect("the level");
        assert_eq!(
            rest,
            "portal_telemetry::text_fields::tests: forged\\x0aline\tkept path=/a\\x0d\\x0ab\\u{85} \
             quoted=\"/a\\r\\nb\\u{85}\" error=outer\\x0afailure: inner\\x1b[31m\n",
        );
    }

    #[test]
    fn fields_longer_than_the_room_made_come_whole_and_in_order() {
        let long = "ž".repeat(SPAN_TEXT);
        for (before, value) in [(SPAN_TEXT - 5, "abcdefghij"), (3, long.as_str()), (SPAN_TEXT - 1, long.as_str())] {
            let pad = "p".repeat(before);
            let text = text_of(|| {
                let span = tracing::info_span!("request", pad = %pad, value = %value, last = 7);
                tracing::info!(parent: &span, first = %value, "done");
            });
            let (_, rest) = text.split_once(" INFO ").expect("the level");
            assert_eq!(
                rest,
                format!(
                    "request: portal_telemetry::text_fields::tests: done first={value} pad={pad} value={value} last=7\n"
                ),
            );
        }
    }

    #[test]
    fn fields_recorded_later_follow_the_spans_first_ones_and_the_exporters_add_nothing() {
        let text = text_of(|| {
            let quiet = tracing::info_span!("quiet", later = tracing::field::Empty, otel.kind = "server");
            let span =
                tracing::info_span!(parent: &quiet, "request", method = "GET", invocation_id = tracing::field::Empty);
            span.record("invocation_id", "abc-1");
            quiet.record("otel.kind", "client");
            tracing::info!(parent: &span, "before");
            quiet.record("later", 5);
            tracing::info!(parent: &span, "after");
        });
        let rests: Vec<&str> = text.lines().map(|line| line.split_once(" INFO ").expect("the level").1).collect();
        assert_eq!(
            rests,
            [
                "quiet:request: portal_telemetry::text_fields::tests: before method=\"GET\" invocation_id=\"abc-1\"",
                "quiet:request: portal_telemetry::text_fields::tests: after later=5 method=\"GET\" invocation_id=\"abc-1\"",
            ]
        );
    }

    #[test]
    fn with_a_filter_of_its_own_a_line_shows_only_the_spans_it_lets_through() {
        // As when exporting: the text layer keeps its own filter, and spans it
        // filters out are neither named nor their fields written.
        let logs = portal_testkit::LogBuffer::default();
        let filter: tracing_subscriber::filter::Targets = "info".parse().expect("directive");
        let layer = tracing_subscriber::Layer::with_filter(TextLayer::new(logs.clone()), filter);
        tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
            let outer = tracing::info_span!("request", route = "/api/x").entered();
            let inner = tracing::debug_span!("detail", secret_step = 3).entered();
            tracing::info!(n = 1, "inside");
            drop((inner, outer));
        });
        let text = logs.text();
        let (_, rest) = text.split_once(" INFO ").expect("the level");
        assert_eq!(rest, "request: portal_telemetry::text_fields::tests: inside n=1 route=\"/api/x\"\n");
    }

    #[test]
    fn a_value_that_logs_while_it_is_formatted_leaves_the_line_whole() {
        /// A value that logs when it is formatted.
        struct Loud;
        impl fmt::Debug for Loud {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                tracing::warn!(inner = 1, "while formatting");
                f.write_str("loud")
            }
        }
        // tracing drops an event raised inside the subscriber on the same
        // thread; the line being written is not disturbed.
        let text = text_of(|| tracing::info!(value = ?Loud, "outer"));
        let rests: Vec<&str> = text.lines().map(|line| line.split_once(' ').expect("the time").1).collect();
        assert_eq!(rests, [" INFO portal_telemetry::text_fields::tests: outer value=loud"]);
    }

    #[test]
    fn strings_quoted_as_they_are_are_what_debug_writes() {
        let mut samples: Vec<String> = (0..=0x7f_u8).map(|byte| format!("a{}b", char::from(byte))).collect();
        samples.extend(["", "GET", "/api/echo/{name}", "a b=c", "ž", "\u{85}"].map(String::from));
        for sample in &samples {
            if quotes_as_it_is(sample) {
                assert_eq!(format!("{sample:?}"), format!("\"{sample}\""), "{sample:?}");
            }
        }
        assert!(["", "GET", "/api/echo/{name}", "a b=c"].into_iter().all(quotes_as_it_is), "the usual ones");
    }

    #[test]
    fn nested_spans_come_from_the_root_with_their_fields_however_deep() {
        for depth in [1, 2, KEPT_SPANS, KEPT_SPANS + 1, KEPT_SPANS + 3] {
            let text = text_of(|| {
                let spans: Vec<_> = (0..depth)
                    .map(|level| {
                        let span = tracing::info_span!("s", level, odd = level % 2 == 1, below = -(level as i64));
                        let entered = span.clone().entered();
                        (span, entered)
                    })
                    .collect();
                tracing::info!(n = 7_u64, "deep");
                drop(spans);
            });
            let (_, rest) = text.split_once(" INFO ").expect("the level");
            let names = "s:".repeat(depth);
            let fields: String = (0..depth)
                .map(|level| format!(" level={level} odd={} below={}", level % 2 == 1, -(level as i64)))
                .collect();
            assert_eq!(rest, format!("{names} portal_telemetry::text_fields::tests: deep n=7{fields}\n"), "{depth}");
        }
    }

    #[test]
    fn the_byte_scan_finds_every_control_character() {
        for c in (0..=0x10ffff_u32).filter_map(char::from_u32) {
            let text = format!("a{c}b");
            assert!(!is_control(c) || may_hold_control(&text), "{c:?} is missed");
        }
    }

    #[test]
    fn time_stamps_are_written_as_tracing_writes_them() {
        // Every day of 1970-2400 at a time of day that moves, later in the
        // same second and in the next (the second is kept), and the edges.
        let mut instants = Vec::new();
        for day in 0..157_000u64 {
            let at =
                std::time::Duration::new(day * 86_400 + (day * 7_919) % 86_400, ((day * 104_729) % 999_000_000) as u32);
            let later = std::time::Duration::new(at.as_secs(), at.subsec_nanos() + 1_000 * (day % 997) as u32);
            instants.extend([at, later, at + std::time::Duration::from_secs(1)]);
        }
        instants.extend([std::time::Duration::ZERO, std::time::Duration::new(253_402_300_799, 999_999_999)]);
        let last = Cell::new(None);
        for since in instants {
            let by_time = time::OffsetDateTime::from(std::time::UNIX_EPOCH + since);
            let expected = format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
                by_time.year(),
                u8::from(by_time.month()),
                by_time.day(),
                by_time.hour(),
                by_time.minute(),
                by_time.second(),
                by_time.microsecond()
            );
            let written = stamp_from(since, &last).expect("a year before 10000");
            assert_eq!(std::str::from_utf8(&written).expect("ascii"), expected, "{since:?}");
        }
        assert_eq!(stamp(253_402_300_800), None, "the year 10000");
        let after = std::time::Duration::new(253_402_300_800, 0);
        assert_eq!(stamp_from(after, &last), None, "the year 10000, after 9999 was kept");
    }
}
