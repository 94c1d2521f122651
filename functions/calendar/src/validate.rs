//! An own event as the citizen sends it (`POST`/`PUT calendar/events`),
//! checked once at the edge; every broken rule becomes one violation naming
//! the field.
//!
//! ```json
//! {"title": "Návštěva úřadu", "date": "2026-12-23", "remindDaysBefore": 1}
//! {"title": "Dovolená", "date": "2026-12-23", "endDate": "2026-12-31"}
//! {"title": "Schůzka", "start": "2026-12-23T09:00:00+01:00", "end": "2026-12-23T10:00:00+01:00",
//!  "description": "…", "location": "Praha 1"}
//! ```

use portal_host::FieldViolation;
use serde_json::Value;
use time::{Date, Duration, OffsetDateTime, UtcOffset};

use crate::item::{Content, parse_date};
use crate::reminders::MAX_REMIND_DAYS_BEFORE;

pub const MAX_TITLE: usize = 200;
pub const MAX_DESCRIPTION: usize = 2000;
pub const MAX_LOCATION: usize = 200;
/// The longest an own event may last.
pub const MAX_SPAN_DAYS: i64 = 366;
const FIELDS: [&str; 9] =
    ["title", "date", "endDate", "start", "end", "allDay", "description", "location", "remindDaysBefore"];

/// When an own event happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Whole days, `first..=last`.
    AllDay { first: Date, last: Date },
    /// From `start` to `end` (UTC); `first` and `last` are the days as the
    /// citizen wrote them (in their offset).
    Timed { start: OffsetDateTime, end: OffsetDateTime, first: Date, last: Date },
}

impl When {
    pub fn first(&self) -> Date {
        match *self {
            Self::AllDay { first, .. } | Self::Timed { first, .. } => first,
        }
    }

    pub fn last(&self) -> Date {
        match *self {
            Self::AllDay { last, .. } | Self::Timed { last, .. } => last,
        }
    }
}

/// A checked own event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnEvent {
    pub content: Content,
    pub when: When,
    pub remind_days_before: Option<u32>,
}

fn text(
    body: &Value,
    field: &'static str,
    max: usize,
    allow_newlines: bool,
    errors: &mut Vec<FieldViolation>,
) -> Option<String> {
    let rule = if allow_newlines {
        format!("a string of at most {max} characters")
    } else {
        format!("a string of at most {max} characters without control characters")
    };
    match &body[field] {
        Value::Null => None,
        Value::String(s) => {
            let bad_char = s.chars().any(|c| c.is_control() && !(allow_newlines && matches!(c, '\n' | '\r' | '\t')));
            if s.chars().count() > max || bad_char {
                errors.push(FieldViolation::new(field, rule));
                None
            } else {
                Some(s.trim().to_owned()).filter(|s| !s.is_empty())
            }
        }
        _ => {
            errors.push(FieldViolation::new(field, rule));
            None
        }
    }
}

fn in_supported_years(date: Date) -> bool {
    (2000..=2100).contains(&date.year())
}

/// Checks the body of `POST`/`PUT calendar/events`.
pub fn own_event(body: &Value) -> Result<OwnEvent, Vec<FieldViolation>> {
    let mut errors = Vec::new();
    let Some(object) = body.as_object() else {
        return Err(vec![FieldViolation::new("body", "a JSON object")]);
    };
    for key in object.keys().filter(|k| !FIELDS.contains(&k.as_str())) {
        errors.push(FieldViolation::new(key.clone(), "unknown field"));
    }

    let title = match &body["title"] {
        Value::String(s)
            if !s.trim().is_empty() && s.trim().chars().count() <= MAX_TITLE && !s.chars().any(char::is_control) =>
        {
            Some(s.trim().to_owned())
        }
        _ => {
            errors.push(FieldViolation::new(
                "title",
                format!("required, 1-{MAX_TITLE} characters without control characters"),
            ));
            None
        }
    };
    let description = text(body, "description", MAX_DESCRIPTION, true, &mut errors);
    let location = text(body, "location", MAX_LOCATION, false, &mut errors);

    let remind_days_before = match &body["remindDaysBefore"] {
        Value::Null => None,
        value => match value.as_u64().and_then(|d| u32::try_from(d).ok()).filter(|d| *d <= MAX_REMIND_DAYS_BEFORE) {
            Some(days) => Some(days),
            None => {
                errors.push(FieldViolation::new(
                    "remindDaysBefore",
                    format!("a whole number of days from 0 to {MAX_REMIND_DAYS_BEFORE}"),
                ));
                None
            }
        },
    };
    let all_day = match &body["allDay"] {
        Value::Null => None,
        Value::Bool(b) => Some(*b),
        _ => {
            errors.push(FieldViolation::new("allDay", "true or false"));
            None
        }
    };

    let date_rule = "a date YYYY-MM-DD in the years 2000-2100";
    let time_rule = "an RFC 3339 date-time with an offset (2026-12-23T09:00:00+01:00) in the years 2000-2100";
    let date = match &body["date"] {
        Value::Null => None,
        value => match value.as_str().and_then(parse_date).filter(|d| in_supported_years(*d)) {
            Some(date) => Some(Some(date)),
            None => {
                errors.push(FieldViolation::new("date", date_rule));
                Some(None)
            }
        },
    };
    let end_date = match &body["endDate"] {
        Value::Null => None,
        value => match value.as_str().and_then(parse_date).filter(|d| in_supported_years(*d)) {
            Some(date) => Some(Some(date)),
            None => {
                errors.push(FieldViolation::new("endDate", date_rule));
                Some(None)
            }
        },
    };
    let moment = |field: &'static str, errors: &mut Vec<FieldViolation>| match &body[field] {
        Value::Null => None,
        value => match value
            .as_str()
            .and_then(|s| OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok())
            .filter(|t| in_supported_years(t.date()))
        {
            Some(at) => Some(Some(at)),
            None => {
                errors.push(FieldViolation::new(field, time_rule));
                Some(None)
            }
        },
    };
    let start = moment("start", &mut errors);
    let end = moment("end", &mut errors);

    if end_date.is_some() && date.is_none() {
        errors.push(FieldViolation::new("endDate", "the last day of an all-day event given by date"));
    }
    let when = match (date, start, end) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            errors.push(FieldViolation::new("date", "give either date or start and end, not both"));
            None
        }
        (Some(date), None, None) => {
            if all_day == Some(false) {
                errors.push(FieldViolation::new("allDay", "an event with only a date is all-day; give start and end"));
            }
            match (date, end_date) {
                (Some(first), None) => Some(When::AllDay { first, last: first }),
                (Some(first), Some(Some(last))) if last < first => {
                    errors.push(FieldViolation::new("endDate", "must not be before date"));
                    None
                }
                (Some(first), Some(Some(last))) if last - first > Duration::days(MAX_SPAN_DAYS) => {
                    errors.push(FieldViolation::new("endDate", format!("at most {MAX_SPAN_DAYS} days after date")));
                    None
                }
                (Some(first), Some(Some(last))) => Some(When::AllDay { first, last }),
                _ => None,
            }
        }
        (None, None, None) => {
            errors.push(FieldViolation::new("date", "required: a date, or start and end"));
            None
        }
        (None, Some(_), None) => {
            errors.push(FieldViolation::new("end", "required with start"));
            None
        }
        (None, None, Some(_)) => {
            errors.push(FieldViolation::new("start", "required with end"));
            None
        }
        (None, Some(start), Some(end)) => match (start, end) {
            (Some(start), Some(end)) if end < start => {
                errors.push(FieldViolation::new("end", "must not be before start"));
                None
            }
            (Some(start), Some(end)) if end - start > Duration::days(MAX_SPAN_DAYS) => {
                errors.push(FieldViolation::new("end", format!("at most {MAX_SPAN_DAYS} days after start")));
                None
            }
            (Some(start), Some(end)) => {
                let (first, last) = (start.date(), end.date());
                if all_day == Some(true) {
                    Some(When::AllDay { first, last })
                } else {
                    Some(When::Timed {
                        start: start.to_offset(UtcOffset::UTC),
                        end: end.to_offset(UtcOffset::UTC),
                        first,
                        last,
                    })
                }
            }
            _ => None,
        },
    };

    match (title, when) {
        (Some(title), Some(when)) if errors.is_empty() => {
            Ok(OwnEvent { content: Content { title, description, location }, when, remind_days_before })
        }
        _ => Err(errors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::{date, datetime};

    fn fields(body: Value) -> Vec<String> {
        match own_event(&body) {
            Ok(_) => Vec::new(),
            Err(errors) => errors.into_iter().map(|e| e.field).collect(),
        }
    }

    #[test]
    fn an_all_day_event_may_last_several_days() {
        let event =
            own_event(&json!({"title": "Dovolená", "date": "2026-12-23", "endDate": "2027-01-02"})).expect("valid");
        assert_eq!(event.when, When::AllDay { first: date!(2026 - 12 - 23), last: date!(2027 - 01 - 02) });
        assert_eq!(fields(json!({"title": "x", "date": "2026-12-23", "endDate": "2026-12-22"})), ["endDate"]);
        assert_eq!(fields(json!({"title": "x", "date": "2026-12-23", "endDate": "2028-12-22"})), ["endDate"]);
        assert_eq!(fields(json!({"title": "x", "endDate": "2026-12-23"})), ["endDate", "date"]);
        assert_eq!(fields(json!({"title": "x", "date": "2026-12-23", "endDate": "x"})), ["endDate"]);
    }

    #[test]
    fn an_all_day_event_needs_a_title_and_a_date() {
        let event = own_event(&json!({"title": " Úřad ", "date": "2026-12-23", "remindDaysBefore": 1})).expect("valid");
        assert_eq!(event.content.title, "Úřad");
        assert_eq!(event.when, When::AllDay { first: date!(2026 - 12 - 23), last: date!(2026 - 12 - 23) });
        assert_eq!(event.remind_days_before, Some(1));
        assert_eq!(fields(json!({"date": "2026-12-23"})), ["title"]);
        assert_eq!(fields(json!({"title": "x"})), ["date"]);
        assert_eq!(fields(json!({"title": "x", "date": "23.12.2026"})), ["date"]);
        assert_eq!(fields(json!({"title": "x".repeat(201), "date": "2026-12-23"})), ["title"]);
        assert_eq!(fields(json!({"title": "x", "date": "2026-12-23", "colour": "red"})), ["colour"]);
    }

    #[test]
    fn a_timed_event_has_start_and_end_in_order() {
        let event = own_event(&json!({
            "title": "Schůzka", "start": "2026-12-23T09:00:00+01:00", "end": "2026-12-23T10:30:00+01:00"
        }))
        .expect("valid");
        assert_eq!(
            event.when,
            When::Timed {
                start: datetime!(2026-12-23 08:00 UTC),
                end: datetime!(2026-12-23 09:30 UTC),
                first: date!(2026 - 12 - 23),
                last: date!(2026 - 12 - 23)
            }
        );
        let backwards = json!({"title": "x", "start": "2026-12-23T10:00:00Z", "end": "2026-12-23T09:00:00Z"});
        assert_eq!(fields(backwards), ["end"]);
        assert_eq!(fields(json!({"title": "x", "start": "2026-12-23T10:00:00Z"})), ["end"]);
        assert_eq!(fields(json!({"title": "x", "date": "2026-12-23", "start": "2026-12-23T10:00:00Z"})), ["date"]);
        assert_eq!(
            fields(json!({"title": "x", "start": "2026-12-23 10:00", "end": "2026-12-23T11:00:00Z"})),
            ["start"]
        );
    }

    #[test]
    fn optional_fields_have_limits() {
        let base = |extra: Value| {
            let mut body = json!({"title": "x", "date": "2026-12-23"});
            for (k, v) in extra.as_object().expect("object") {
                body[k] = v.clone();
            }
            fields(body)
        };
        assert_eq!(base(json!({"remindDaysBefore": 61})), ["remindDaysBefore"]);
        assert_eq!(base(json!({"remindDaysBefore": -1})), ["remindDaysBefore"]);
        assert!(base(json!({"remindDaysBefore": 60})).is_empty());
        assert_eq!(base(json!({"description": "d".repeat(2001)})), ["description"]);
        assert!(base(json!({"description": "line one\nline two"})).is_empty());
        assert_eq!(base(json!({"location": "a\nb"})), ["location"]);
        assert_eq!(base(json!({"allDay": false})), ["allDay"]);
        assert_eq!(fields(json!([1])), ["body"]);
    }
}
