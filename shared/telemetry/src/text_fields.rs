//! Text log lines (`PORTAL_LOG_FORMAT=text`, the local default), made with
//! less work than tracing's compact format for the same content (issue 18: the
//! request's span and line were a quarter of a health request's CPU):
//!
//! ```text
//! 2026-12-06T14:46:17.400647Z  INFO request: portal_host::runtime: request finished status=200 duration_ms=1 method=GET route=/api/health function=Health
//! ```
//!
//! - [`TextLine`] writes time, level, the spans' names, the target, the event's
//!   fields and then each span's fields, as the compact format does, in plain
//!   writes (no colour codes: a log file is not a terminal);
//! - [`TextFields`] formats fields as tracing's default does, without the ones
//!   that only instruct the exporter (`otel.name`, `otel.kind`,
//!   `otel.status_code`, and `http.response.status_code`, which the request's
//!   line has as `status`), and with control characters escaped in every value,
//!   so one record is one line whatever a value holds.

use std::fmt;
use std::fmt::Write as _;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, Writer};
use tracing_subscriber::fmt::time::{FormatTime as _, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormattedFields};
use tracing_subscriber::registry::{LookupSpan, SpanRef};

/// The event formatter of text logs.
#[derive(Debug, Default, Clone, Copy)]
pub struct TextLine;

impl<S, N> FormatEvent<S, N> for TextLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let meta = event.metadata();
        write_now(&mut writer)?;
        let level = match *meta.level() {
            tracing::Level::ERROR => " ERROR ",
            tracing::Level::WARN => "  WARN ",
            tracing::Level::INFO => "  INFO ",
            tracing::Level::DEBUG => " DEBUG ",
            tracing::Level::TRACE => " TRACE ",
        };
        writer.write_str(level)?;
        // The spans are walked once: kept here for their fields after the
        // event's (a second walk looks each up again), unless there are more.
        let mut spans: [Option<SpanRef<'_, S>>; KEPT_SPANS] = Default::default();
        let mut kept = 0;
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                writer.write_str(span.name())?;
                writer.write_char(':')?;
                if let Some(slot) = spans.get_mut(kept) {
                    *slot = Some(span);
                }
                kept += 1;
            }
            writer.write_char(' ')?;
        }
        writer.write_str(meta.target())?;
        writer.write_str(": ")?;
        ctx.format_fields(writer.by_ref(), event)?;
        if kept <= KEPT_SPANS {
            for span in spans.iter().flatten() {
                write_span_fields::<S, N>(&mut writer, span)?;
            }
        } else if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                write_span_fields::<S, N>(&mut writer, &span)?;
            }
        }
        writer.write_char('\n')
    }
}

/// The spans a line keeps from its one walk of the scope (a request's span and
/// the calls inside it).
const KEPT_SPANS: usize = 4;

/// ` fields` of `span`, when it has any.
fn write_span_fields<S, N>(writer: &mut Writer<'_>, span: &SpanRef<'_, S>) -> fmt::Result
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    let extensions = span.extensions();
    if let Some(fields) = extensions.get::<FormattedFields<N>>().filter(|fields| !fields.is_empty()) {
        writer.write_char(' ')?;
        writer.write_str(fields)?;
    }
    Ok(())
}

/// The line's time stamp as tracing's `SystemTime` writes it
/// (`2026-12-06T14:46:17.400647Z`), by hand for the years 1970–9999: its
/// general formatting (seven padded integers through `fmt`) was about a
/// fiftieth of a health request's CPU (issue 18). Another year, tracing's.
fn write_now(writer: &mut Writer<'_>) -> fmt::Result {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok();
    match since.and_then(stamp) {
        Some(stamp) => writer.write_str(std::str::from_utf8(&stamp).map_err(|_| fmt::Error)?),
        None => SystemTime.format_time(writer),
    }
}

/// `since` the Unix epoch as `YYYY-MM-DDTHH:MM:SS.ffffffZ`, for years up to 9999.
fn stamp(since: std::time::Duration) -> Option<[u8; 27]> {
    let seconds = since.as_secs();
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
    let mut put = |at: usize, width: usize, mut n: u64| {
        for i in (at..at + width).rev() {
            out[i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
    };
    put(0, 4, year);
    put(5, 2, month);
    put(8, 2, day);
    put(11, 2, of_day / 3_600);
    put(14, 2, of_day / 60 % 60);
    put(17, 2, of_day % 60);
    put(20, 6, u64::from(since.subsec_micros()));
    Some(out)
}

/// The field formatter of text logs.
#[derive(Debug, Default, Clone, Copy)]
pub struct TextFields;

/// Fields that only instruct the exporter, or repeat what the request's line
/// says (`status`).
fn for_exporter(field: &Field) -> bool {
    let name = field.name();
    name.starts_with("otel.") || name == "http.response.status_code"
}

impl<'writer> FormatFields<'writer> for TextFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'writer>, fields: R) -> fmt::Result {
        let mut visitor = Plain { writer: Gathered::new(writer), empty: true, result: Ok(()) };
        fields.record(&mut visitor);
        visitor.result.and_then(|()| visitor.writer.flush())
    }

    fn add_fields(
        &self,
        current: &'writer mut FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> fmt::Result {
        // Only a space before fields that are written.
        let mut added = String::new();
        self.format_fields(Writer::new(&mut added), fields)?;
        if !added.is_empty() {
            if !current.fields.is_empty() {
                current.fields.push(' ');
            }
            current.fields.push_str(&added);
        }
        Ok(())
    }
}

/// Writes `name=value` pairs as tracing's default visitor does (the message
/// bare, strings quoted), in plain writes: the default one paints every name
/// and `=` for a terminal even when colour is off. Control characters are
/// escaped in every value, line breaks included, so that no value a caller
/// sent can start a line of its own or drive a terminal.
struct Plain<'writer> {
    writer: Gathered<'writer>,
    empty: bool,
    result: fmt::Result,
}

/// What a [`Plain`] writes, gathered on the stack and handed to the writer in
/// one piece (more only past [`GATHERED`] bytes). A span's fields are written
/// into a `String` that starts empty: piece by piece it grew by doubling,
/// four or five reallocations for each request's span; in one piece it is
/// allocated once, at its size.
struct Gathered<'writer> {
    writer: Writer<'writer>,
    buffer: [u8; GATHERED],
    len: usize,
}

/// Bytes gathered before they go to the writer: a request's fields fit.
const GATHERED: usize = 256;

impl<'writer> Gathered<'writer> {
    fn new(writer: Writer<'writer>) -> Self {
        Self { writer, buffer: [0; GATHERED], len: 0 }
    }

    /// Hands what is gathered to the writer.
    fn flush(&mut self) -> fmt::Result {
        let gathered = std::mem::take(&mut self.len);
        // Only whole `str` pieces are gathered, so this is never an error.
        self.writer.write_str(std::str::from_utf8(&self.buffer[..gathered]).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Write for Gathered<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.len + s.len() > GATHERED {
            self.flush()?;
            if s.len() > GATHERED {
                return self.writer.write_str(s);
            }
        }
        self.buffer[self.len..self.len + s.len()].copy_from_slice(s.as_bytes());
        self.len += s.len();
        Ok(())
    }
}

impl Plain<'_> {
    /// Starts the field `name=` (just a space before the message); false when
    /// the field is not written.
    fn start(&mut self, field: &Field) -> bool {
        if self.result.is_err() || for_exporter(field) {
            return false;
        }
        if !std::mem::take(&mut self.empty) {
            self.result = self.writer.write_char(' ');
        }
        let name = field.name();
        if name != "message" {
            let name = name.strip_prefix("r#").unwrap_or(name);
            self.result =
                self.result.and_then(|()| self.writer.write_str(name)).and_then(|()| self.writer.write_char('='));
        }
        self.result.is_ok()
    }

    fn value(&mut self, value: fmt::Arguments<'_>) {
        self.result = fmt::write(&mut Escaped(&mut self.writer), value);
    }

    /// A value that holds no control character (a number, a bool), written
    /// as it is.
    fn plain(&mut self, value: &str) {
        self.result = self.writer.write_str(value);
    }
}

impl Visit for Plain<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if self.start(field) {
            if field.name() == "message" {
                self.value(format_args!("{value}"))
            } else {
                self.value(format_args!("{value:?}"))
            }
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if self.start(field) {
            self.plain(itoa::Buffer::new().format(value));
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if self.start(field) {
            self.plain(itoa::Buffer::new().format(value));
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        if self.start(field) {
            self.plain(if value { "true" } else { "false" });
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
    s.bytes().any(|b| b < 0x20 || b == 0x7f || b == 0xc2)
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
        let layer = tracing_subscriber::fmt::layer()
            .with_writer(logs.clone())
            .with_ansi(false)
            .event_format(TextLine)
            .fmt_fields(TextFields);
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
    fn fields_longer_than_what_is_gathered_come_whole_and_in_order() {
        let long = "ž".repeat(GATHERED);
        for (before, value) in [(GATHERED - 5, "abcdefghij"), (3, long.as_str()), (GATHERED - 1, long.as_str())] {
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
        // Every day of 1970-2400 at a time of day that moves, and the edges.
        let mut instants: Vec<std::time::Duration> = (0..157_000u64)
            .map(|day| {
                std::time::Duration::new(
                    day * 86_400 + (day * 7_919) % 86_400,
                    ((day * 104_729) % 1_000_000_000) as u32,
                )
            })
            .collect();
        instants.extend([std::time::Duration::ZERO, std::time::Duration::new(253_402_300_799, 999_999_999)]);
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
            let written = stamp(since).expect("a year before 10000");
            assert_eq!(std::str::from_utf8(&written).expect("ascii"), expected, "{since:?}");
        }
        assert_eq!(stamp(std::time::Duration::new(253_402_300_800, 0)), None, "the year 10000");
    }
}
