//! iCalendar (RFC 5545) output for the personal feed: one `VCALENDAR` with a
//! `VEVENT` per item.
//!
//! The text rules calendar apps are strict about:
//! - content lines end with CRLF (§3.1);
//! - lines longer than 75 octets are folded: CRLF and one space, never inside
//!   a UTF-8 character (§3.1: "a multi-octet sequence MUST NOT be split");
//! - TEXT values escape backslash, semicolon, comma and line breaks (§3.3.11);
//!   other control characters cannot appear in TEXT and are dropped;
//! - all-day items are `VALUE=DATE` with an exclusive `DTEND` (§3.6.1), so
//!   an item over several days spans them all; timed ones are local times of
//!   `TZID=Europe/Prague`, defined by the feed's own `VTIMEZONE` (§3.6.5: CET,
//!   CEST from the last Sunday of March to the last Sunday of October, the EU
//!   rule), so an app without a time-zone database shows them right;
//! - reminders are `VALARM`s (§3.6.6, `ACTION:DISPLAY`): an own event's
//!   `remindDaysBefore`, and the portal's reminder days for document expiries
//!   and deadlines, at 09:00 Prague time of the reminder day (at the start for
//!   timed events).
//!
//! **Nothing identifying leaves with a feed.** A subscribed calendar service
//! keeps the feed, so a document expiry says only the kind of document
//! ("Končí platnost dokladu: řidičský průkaz"), never its number, whatever
//! the title the source stored.

use time::{Date, Duration, OffsetDateTime, UtcOffset};

use crate::CalendarSettings;
use crate::item::{Listed, Origin};

/// The time zone every timed item is written in.
pub const TZID: &str = "Europe/Prague";

/// The longest content line, in octets, before it is folded.
pub const MAX_LINE_OCTETS: usize = 75;

/// Escapes a TEXT value (§3.3.11).
pub fn escape_text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("\\n");
            }
            '\n' => out.push_str("\\n"),
            '\t' => out.push('\t'),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Folds one content line (without its CRLF) at 75 octets: each further
/// physical line starts with a space and holds at most 74 octets of the
/// content, and a character is never split.
pub fn fold(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + line.len() / 24);
    let mut width = 0;
    for c in line.chars() {
        let len = c.len_utf8();
        if width + len > MAX_LINE_OCTETS {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += len;
    }
    out
}

/// Builds the text line by line.
#[derive(Debug, Default)]
pub struct Writer {
    out: String,
}

impl Writer {
    /// `name` may carry parameters (`DTSTART;VALUE=DATE`); `value` is written
    /// as given (escape TEXT values with [`escape_text`] first).
    pub fn line(&mut self, name: &str, value: &str) {
        self.out.push_str(&fold(&format!("{name}:{value}")));
        self.out.push_str("\r\n");
    }

    pub fn text(&mut self, name: &str, value: &str) {
        self.line(name, &escape_text(value));
    }

    pub fn finish(self) -> String {
        self.out
    }
}

const DATE: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year][month][day]");
const DATE_TIME: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");

/// `YYYYMMDD` (§3.3.4).
pub fn date_value(date: Date) -> String {
    date.format(DATE).unwrap_or_default()
}

/// `YYYYMMDDTHHMMSSZ` in UTC (§3.3.5, form #2).
pub fn utc_value(at: OffsetDateTime) -> String {
    at.to_offset(UtcOffset::UTC).format(DATE_TIME).unwrap_or_default()
}

const LOCAL_DATE_TIME: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year][month][day]T[hour][minute][second]");

/// `YYYYMMDDTHHMMSS` as Prague's wall-clock time (§3.3.5, form #3, with `TZID`).
pub fn prague_value(at: OffsetDateTime) -> String {
    at.to_offset(portal_host::prague::offset(at)).format(LOCAL_DATE_TIME).unwrap_or_default()
}

/// Europe/Prague as a `VTIMEZONE` (§3.6.5): CET and CEST with the EU rule
/// since 1996 (01:00 UTC on the last Sunday of March and October).
pub fn vtimezone(w: &mut Writer) {
    w.line("BEGIN", "VTIMEZONE");
    w.line("TZID", TZID);
    w.line("BEGIN", "DAYLIGHT");
    w.line("TZOFFSETFROM", "+0100");
    w.line("TZOFFSETTO", "+0200");
    w.line("TZNAME", "CEST");
    w.line("DTSTART", "19810329T020000");
    w.line("RRULE", "FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU");
    w.line("END", "DAYLIGHT");
    w.line("BEGIN", "STANDARD");
    w.line("TZOFFSETFROM", "+0200");
    w.line("TZOFFSETTO", "+0100");
    w.line("TZNAME", "CET");
    w.line("DTSTART", "19961027T030000");
    w.line("RRULE", "FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU");
    w.line("END", "STANDARD");
    w.line("END", "VTIMEZONE");
}

/// The `TRIGGER` of a reminder `days` before an item (§3.8.6.3): for an
/// all-day item 09:00 on that day (relative to the start of the first day),
/// for a timed one that many days before its start.
pub fn alarm_trigger(days: u32, all_day: bool) -> String {
    match (all_day, days) {
        (true, 0) => "PT9H".to_owned(),
        (true, 1) => "-PT15H".to_owned(),
        (true, days) => format!("-P{}DT15H", days - 1),
        (false, 0) => "PT0S".to_owned(),
        (false, days) => format!("-P{days}D"),
    }
}

/// The reminder days of an item: its own for an own event, the portal's for
/// document expiries and deadlines (deemed delivery is warned about by the
/// data box itself), latest first.
pub fn reminder_days(item: &Listed, settings: &CalendarSettings) -> Vec<u32> {
    let mut days = match (item.stored.origin, item.stored.kind.as_str()) {
        (Origin::Own, _) => item.stored.remind_days_before.into_iter().collect(),
        (_, "document-expiry") => settings.reminder_days.clone(),
        (_, "petition-deadline" | "filing-deadline") => settings.deadline_reminder_days.clone(),
        _ => Vec::new(),
    };
    days.sort_unstable_by(|a, b| b.cmp(a));
    days.dedup();
    days
}

/// What a feed shows as an item's title: a document expiry names the kind of
/// document only.
pub fn summary(item: &Listed) -> String {
    match (item.stored.origin, item.stored.kind.as_str(), item.stored.document.as_deref()) {
        (Origin::System, "document-expiry", document) => match document.and_then(document_name) {
            Some(name) => format!("Končí platnost dokladu: {name}"),
            None => "Končí platnost dokladu".to_owned(),
        },
        _ => item.content.title.clone(),
    }
}

/// The category shown for an item's kind.
pub fn category(item: &Listed) -> &'static str {
    match (item.stored.origin, item.stored.kind.as_str()) {
        (Origin::Own, _) => "Vlastní událost",
        (_, "document-expiry") => "Konec platnosti dokladu",
        (_, "deemed-delivery") => "Fikce doručení datové zprávy",
        (_, "petition-deadline") => "Lhůta petice",
        (_, "filing-deadline") => "Lhůta k vyřízení podání",
        _ => "Portál občana",
    }
}

fn document_name(document: &str) -> Option<&'static str> {
    match document {
        "id-card" => Some("občanský průkaz"),
        "passport" => Some("cestovní pas"),
        "driving-licence" => Some("řidičský průkaz"),
        _ => None,
    }
}

/// The whole feed. `uid_of` gives each item a stable UID that reveals
/// nothing of the citizen.
pub fn calendar(
    items: &[Listed],
    now: OffsetDateTime,
    settings: &CalendarSettings,
    uid_of: impl Fn(&Listed) -> String,
) -> String {
    let mut w = Writer::default();
    w.line("BEGIN", "VCALENDAR");
    w.line("VERSION", "2.0");
    w.line("PRODID", "-//Portal obcana//Kalendar 1.0//CS");
    w.line("CALSCALE", "GREGORIAN");
    w.line("METHOD", "PUBLISH");
    w.text("X-WR-CALNAME", "Portál občana – kalendář");
    w.line("X-WR-TIMEZONE", "Europe/Prague");
    w.line("REFRESH-INTERVAL;VALUE=DURATION", "PT6H");
    w.line("X-PUBLISHED-TTL", "PT6H");
    vtimezone(&mut w);
    let stamp = utc_value(now);
    for item in items {
        let s = &item.stored;
        w.line("BEGIN", "VEVENT");
        w.line("UID", &uid_of(item));
        w.line("DTSTAMP", &stamp);
        w.line("LAST-MODIFIED", &utc_value(s.updated_at));
        match (s.all_day, s.start, s.end) {
            (false, Some(start), Some(end)) => {
                w.line(&format!("DTSTART;TZID={TZID}"), &prague_value(start));
                w.line(&format!("DTEND;TZID={TZID}"), &prague_value(end));
            }
            _ => {
                let after = s.end_date.checked_add(Duration::days(1)).unwrap_or(s.end_date);
                w.line("DTSTART;VALUE=DATE", &date_value(s.date));
                w.line("DTEND;VALUE=DATE", &date_value(after));
            }
        }
        let title = summary(item);
        w.text("SUMMARY", &title);
        let description = match s.origin {
            Origin::Own => item.content.description.clone(),
            Origin::System => {
                let mut text = category(item).to_owned();
                if let Some(name) = s.document.as_deref().and_then(document_name) {
                    text.push_str(&format!(": {name}"));
                }
                if let Some(source) = &s.source {
                    text.push_str(&format!("\nZdroj: {source}"));
                }
                Some(text)
            }
        };
        if let Some(description) = description.filter(|d| !d.is_empty()) {
            w.text("DESCRIPTION", &description);
        }
        if let Some(location) = item.content.location.as_deref().filter(|l| !l.is_empty()) {
            w.text("LOCATION", location);
        }
        w.text("CATEGORIES", category(item));
        w.line("TRANSP", "TRANSPARENT");
        let all_day = !matches!((s.all_day, s.start, s.end), (false, Some(_), Some(_)));
        for days in reminder_days(item, settings) {
            w.line("BEGIN", "VALARM");
            w.line("ACTION", "DISPLAY");
            w.line("TRIGGER", &alarm_trigger(days, all_day));
            w.text("DESCRIPTION", &title);
            w.line("END", "VALARM");
        }
        w.line("END", "VEVENT");
    }
    w.line("END", "VCALENDAR");
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Unfolds as a parser would: CRLF followed by one space or tab goes away.
    fn unfold(text: &str) -> String {
        text.replace("\r\n ", "").replace("\r\n\t", "")
    }

    #[test]
    fn text_values_escape_backslash_semicolon_comma_and_newlines() {
        assert_eq!(escape_text(r"a\b;c,d"), r"a\\b\;c\,d");
        assert_eq!(escape_text("one\ntwo\r\nthree\rfour"), r"one\ntwo\nthree\nfour");
        assert_eq!(escape_text("bell\u{7}gone\ttab"), "bellgone\ttab");
        assert_eq!(escape_text("Řidičský průkaz"), "Řidičský průkaz");
    }

    #[test]
    fn short_lines_are_not_folded() {
        let line = format!("SUMMARY:{}", "x".repeat(67));
        assert_eq!(line.len(), 75);
        assert_eq!(fold(&line), line);
    }

    #[test]
    fn long_lines_fold_at_75_octets_and_unfold_to_the_original() {
        let line = format!("DESCRIPTION:{}", "abcdefghij".repeat(30));
        let folded = fold(&line);
        let physical: Vec<&str> = folded.split("\r\n").collect();
        assert!(physical.len() > 4);
        assert_eq!(physical[0].len(), 75);
        for (i, part) in physical.iter().enumerate() {
            assert!(part.len() <= 75, "line {i} has {} octets", part.len());
            if i > 0 {
                assert!(part.starts_with(' '));
            }
        }
        assert_eq!(unfold(&folded), line);
    }

    #[test]
    fn folding_never_splits_a_multi_byte_character() {
        // "SUMMARY:" is 8 octets; 33 two-octet letters make 74, so the 34th
        // (octets 75-76) would straddle the limit and must move whole.
        let line = format!("SUMMARY:{}", "ř".repeat(80));
        let folded = fold(&line);
        let physical: Vec<&str> = folded.split("\r\n").collect();
        assert_eq!(physical[0].len(), 74, "the fold comes before the character, not inside it");
        assert_eq!(physical[1].len(), 75);
        for part in &physical {
            assert!(part.len() <= 75);
            assert!(std::str::from_utf8(part.as_bytes()).is_ok());
        }
        assert_eq!(unfold(&folded), line);
        // Three- and four-octet characters at the boundary too.
        for filler in ["€", "😀", "a€"] {
            let line = format!("SUMMARY:{}", filler.repeat(60));
            let folded = fold(&line);
            assert!(folded.split("\r\n").all(|p| p.len() <= 75), "{filler}");
            assert_eq!(unfold(&folded), line, "{filler}");
        }
    }

    #[test]
    fn alarms_ring_at_nine_on_the_reminder_day_of_an_all_day_item() {
        assert_eq!(alarm_trigger(0, true), "PT9H");
        assert_eq!(alarm_trigger(1, true), "-PT15H", "the day before at 09:00");
        assert_eq!(alarm_trigger(7, true), "-P6DT15H", "seven days before at 09:00");
        assert_eq!(alarm_trigger(0, false), "PT0S");
        assert_eq!(alarm_trigger(2, false), "-P2D");
    }

    #[test]
    fn timed_items_are_prague_wall_clock_times() {
        use time::macros::datetime;
        assert_eq!(prague_value(datetime!(2026-12-23 08:00 UTC)), "20261223T090000");
        assert_eq!(prague_value(datetime!(2026-07-01 08:00 UTC)), "20260701T100000");
    }

    #[test]
    fn writer_ends_every_line_with_crlf() {
        let mut w = Writer::default();
        w.line("BEGIN", "VCALENDAR");
        w.text("SUMMARY", "a,b");
        let text = w.finish();
        assert_eq!(text, "BEGIN:VCALENDAR\r\nSUMMARY:a\\,b\r\n");
    }
}
