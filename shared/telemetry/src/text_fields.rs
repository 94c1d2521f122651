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
//!   `otel.status_code`): they repeat what the line already says.

use std::fmt;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::field::{RecordFields, VisitOutput as _};
use tracing_subscriber::fmt::format::{DefaultVisitor, FormatEvent, FormatFields, Writer};
use tracing_subscriber::fmt::time::{FormatTime as _, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

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
        SystemTime.format_time(&mut writer)?;
        let level = match *meta.level() {
            tracing::Level::ERROR => " ERROR ",
            tracing::Level::WARN => "  WARN ",
            tracing::Level::INFO => "  INFO ",
            tracing::Level::DEBUG => " DEBUG ",
            tracing::Level::TRACE => " TRACE ",
        };
        writer.write_str(level)?;
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                writer.write_str(span.name())?;
                writer.write_char(':')?;
            }
            writer.write_char(' ')?;
        }
        writer.write_str(meta.target())?;
        writer.write_str(": ")?;
        ctx.format_fields(writer.by_ref(), event)?;
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let extensions = span.extensions();
                if let Some(fields) = extensions.get::<FormattedFields<N>>().filter(|fields| !fields.is_empty()) {
                    writer.write_char(' ')?;
                    writer.write_str(fields)?;
                }
            }
        }
        writer.write_char('\n')
    }
}

/// The field formatter of text logs.
#[derive(Debug, Default, Clone, Copy)]
pub struct TextFields;

fn for_exporter(field: &Field) -> bool {
    field.name().starts_with("otel.")
}

impl<'writer> FormatFields<'writer> for TextFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'writer>, fields: R) -> fmt::Result {
        let mut visitor = Skip(DefaultVisitor::new(writer, true));
        fields.record(&mut visitor);
        visitor.0.finish()
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

struct Skip<V>(V);

impl<V: Visit> Visit for Skip<V> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        if !for_exporter(field) {
            self.0.record_f64(field, value);
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        if !for_exporter(field) {
            self.0.record_i64(field, value);
        }
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        if !for_exporter(field) {
            self.0.record_u64(field, value);
        }
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        if !for_exporter(field) {
            self.0.record_bool(field, value);
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if !for_exporter(field) {
            self.0.record_str(field, value);
        }
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if !for_exporter(field) {
            self.0.record_error(field, value);
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if !for_exporter(field) {
            self.0.record_debug(field, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;

    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_text_line_has_time_level_span_target_and_fields_but_not_the_exporters() {
        let lines = Lines::default();
        let writer = lines.clone();
        let layer = tracing_subscriber::fmt::layer()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .event_format(TextLine)
            .fmt_fields(TextFields);
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
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
        let text = String::from_utf8(lines.0.lock().expect("lock").clone()).expect("utf-8");
        let (time, rest) = text.split_once(' ').expect("time first");
        time::OffsetDateTime::parse(time, &time::format_description::well_known::Rfc3339).expect("an RFC 3339 time");
        assert_eq!(
            rest,
            " INFO request: portal_telemetry::text_fields::tests: request finished status=503 \
             method=\"GET\" route=\"/api/health\" http.response.status_code=503\n",
        );
    }
}
