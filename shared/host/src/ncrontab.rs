//! NCRONTAB schedules, as the Functions timer trigger reads them:
//! six fields, `{second} {minute} {hour} {day} {month} {day-of-week}`, in UTC.
//!
//! Day-of-week counts 0 = Sunday … 6 = Saturday (7 is Sunday too), as in
//! classic cron and NCrontab, unlike the Rust `cron` crate. Names (`Mon-Fri`,
//! `Jan`) are accepted. As in NCrontab, a time must match both the day-of-month
//! and the day-of-week field.

use std::fmt;
use std::str::FromStr;

use time::{Date, Duration, Month, OffsetDateTime, Time};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid NCRONTAB schedule '{schedule}': {reason}")]
pub struct ScheduleError {
    schedule: String,
    reason: String,
}

/// A parsed six-field schedule.
#[derive(Clone, PartialEq, Eq)]
pub struct Schedule {
    text: String,
    seconds: u64,
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
}

const MONTH_NAMES: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const DAY_NAMES: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

struct FieldSpec {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
    name_base: u32,
}

const FIELDS: [FieldSpec; 6] = [
    FieldSpec { name: "second", min: 0, max: 59, names: &[], name_base: 0 },
    FieldSpec { name: "minute", min: 0, max: 59, names: &[], name_base: 0 },
    FieldSpec { name: "hour", min: 0, max: 23, names: &[], name_base: 0 },
    FieldSpec { name: "day", min: 1, max: 31, names: &[], name_base: 0 },
    FieldSpec { name: "month", min: 1, max: 12, names: &MONTH_NAMES, name_base: 1 },
    FieldSpec { name: "day-of-week", min: 0, max: 7, names: &DAY_NAMES, name_base: 0 },
];

fn parse_value(spec: &FieldSpec, text: &str) -> Result<u32, String> {
    let lower = text.to_ascii_lowercase();
    if let Some(index) = spec.names.iter().position(|name| *name == lower) {
        return Ok(spec.name_base + index as u32);
    }
    let value: u32 = text.parse().map_err(|_| format!("'{text}' is not a valid {}", spec.name))?;
    if value < spec.min || value > spec.max {
        return Err(format!("{} {value} is outside {}-{}", spec.name, spec.min, spec.max));
    }
    Ok(value)
}

fn parse_field(spec: &FieldSpec, text: &str) -> Result<u64, String> {
    let mut bits = 0_u64;
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => {
                let step: u32 =
                    step.parse().map_err(|_| format!("step '{step}' in the {} field is not a number", spec.name))?;
                if step == 0 {
                    return Err(format!("step 0 in the {} field", spec.name));
                }
                (range, step)
            }
            None => (item, 1),
        };
        let (start, end) = if range == "*" {
            (spec.min, if spec.name == "day-of-week" { 6 } else { spec.max })
        } else if let Some((a, b)) = range.split_once('-') {
            let (a, b) = (parse_value(spec, a)?, parse_value(spec, b)?);
            if a > b {
                return Err(format!("range {a}-{b} in the {} field runs backwards", spec.name));
            }
            (a, b)
        } else {
            let start = parse_value(spec, range)?;
            // `5/15` means "from 5, every 15", as in NCrontab.
            (start, if item.contains('/') { spec.max } else { start })
        };
        let mut value = start;
        while value <= end {
            bits |= 1 << value;
            value += step;
        }
    }
    if spec.name == "day-of-week" && bits & (1 << 7) != 0 {
        bits = (bits & !(1 << 7)) | 1; // 7 is Sunday
    }
    Ok(bits)
}

impl Schedule {
    pub fn parse(text: &str) -> Result<Self, ScheduleError> {
        let error = |reason: String| ScheduleError { schedule: text.to_owned(), reason };
        let parts: Vec<&str> = text.split_whitespace().collect();
        if parts.len() != 6 {
            return Err(error(format!(
                "expected 6 fields (second minute hour day month day-of-week), found {}",
                parts.len()
            )));
        }
        let mut masks = [0_u64; 6];
        for ((mask, spec), part) in masks.iter_mut().zip(&FIELDS).zip(&parts) {
            *mask = parse_field(spec, part).map_err(error)?;
        }
        let schedule = Self {
            text: parts.join(" "),
            seconds: masks[0],
            minutes: masks[1],
            hours: masks[2],
            days: masks[3],
            months: masks[4],
            weekdays: masks[5],
        };
        // Reject schedules that never fire, such as 30 February.
        let probe = Date::from_calendar_date(2000, Month::January, 1)
            .map_err(|e| error(e.to_string()))?
            .midnight()
            .assume_utc();
        if schedule.next_after(probe).is_none() {
            return Err(error("it never fires".into()));
        }
        Ok(schedule)
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The first occurrence strictly after `after`, in UTC; `None` if there is
    /// none within the next 30 years.
    pub fn next_after(&self, after: OffsetDateTime) -> Option<OffsetDateTime> {
        let after = after.to_offset(time::UtcOffset::UTC);
        let mut t = after.replace_nanosecond(0).ok()? + Duration::SECOND;
        let limit = after + Duration::days(366 * 30);
        let has = |mask: u64, value: u8| mask & (1 << value) != 0;
        while t <= limit {
            if !has(self.months, u8::from(t.month())) {
                let (year, month) = if t.month() == Month::December {
                    (t.year() + 1, Month::January)
                } else {
                    (t.year(), t.month().next())
                };
                t = Date::from_calendar_date(year, month, 1).ok()?.midnight().assume_utc();
                continue;
            }
            if !has(self.days, t.day()) || !has(self.weekdays, t.weekday().number_days_from_sunday()) {
                t = t.date().next_day()?.midnight().assume_utc();
                continue;
            }
            if !has(self.hours, t.hour()) {
                t = t.replace_time(Time::from_hms(t.hour(), 0, 0).ok()?) + Duration::HOUR;
                continue;
            }
            if !has(self.minutes, t.minute()) {
                t = t.replace_time(Time::from_hms(t.hour(), t.minute(), 0).ok()?) + Duration::MINUTE;
                continue;
            }
            if !has(self.seconds, t.second()) {
                t += Duration::SECOND;
                continue;
            }
            return Some(t);
        }
        None
    }

    /// Whether the schedule fires at most once a minute; the host's default
    /// for `useMonitor` (and so for a non-null `ScheduleStatus`) follows this.
    pub fn is_monitored_by_default(&self) -> bool {
        self.seconds.count_ones() <= 1
    }
}

impl FromStr for Schedule {
    type Err = ScheduleError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Schedule({:?})", self.text)
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    fn next(schedule: &str, after: OffsetDateTime) -> OffsetDateTime {
        Schedule::parse(schedule).expect("valid").next_after(after).expect("fires")
    }

    #[test]
    fn every_five_minutes() {
        assert_eq!(next("0 */5 * * * *", datetime!(2026-11-23 10:02:30 UTC)), datetime!(2026-11-23 10:05:00 UTC));
        assert_eq!(next("0 */5 * * * *", datetime!(2026-11-23 10:05:00 UTC)), datetime!(2026-11-23 10:10:00 UTC));
    }

    #[test]
    fn weekdays_count_from_sunday_zero() {
        // 2026-11-21 is a Saturday: the next 09:30 on Monday-Friday is Monday the 23rd.
        assert_eq!(next("0 30 9 * * 1-5", datetime!(2026-11-21 12:00 UTC)), datetime!(2026-11-23 09:30 UTC));
        assert_eq!(next("0 30 9 * * Mon-Fri", datetime!(2026-11-21 12:00 UTC)), datetime!(2026-11-23 09:30 UTC));
        // Friday evening skips the weekend too.
        assert_eq!(next("0 30 9 * * 1-5", datetime!(2026-11-27 18:00 UTC)), datetime!(2026-11-30 09:30 UTC));
        // 0 and 7 are both Sunday.
        assert_eq!(next("0 0 0 * * 0", datetime!(2026-11-23 00:00 UTC)), datetime!(2026-11-29 00:00 UTC));
        assert_eq!(next("0 0 0 * * 7", datetime!(2026-11-23 00:00 UTC)), datetime!(2026-11-29 00:00 UTC));
    }

    #[test]
    fn month_and_day_roll_over_years() {
        assert_eq!(next("0 0 3 1 Jan *", datetime!(2026-11-23 00:00 UTC)), datetime!(2027-01-01 03:00 UTC));
        assert_eq!(next("0 0 0 29 2 *", datetime!(2026-03-01 00:00 UTC)), datetime!(2028-02-29 00:00 UTC));
    }

    #[test]
    fn lists_ranges_and_steps() {
        let s = Schedule::parse("0,30 15-17/2 * * * *").expect("valid");
        let first = s.next_after(datetime!(2026-11-23 10:00 UTC)).expect("fires");
        assert_eq!(first, datetime!(2026-11-23 10:15:00 UTC));
        assert_eq!(s.next_after(first), Some(datetime!(2026-11-23 10:15:30 UTC)));
        assert_eq!(s.next_after(datetime!(2026-11-23 10:15:30 UTC)), Some(datetime!(2026-11-23 10:17:00 UTC)));
    }

    #[test]
    fn day_of_month_and_weekday_must_both_match() {
        // Friday the 13th: the next one after 2026-11-23 is 2027-08-13.
        assert_eq!(next("0 0 12 13 * 5", datetime!(2026-11-23 00:00 UTC)), datetime!(2027-08-13 12:00 UTC));
    }

    #[test]
    fn bad_schedules_say_why() {
        for (bad, why) in [
            ("0 */5 * * *", "expected 6 fields"),
            ("60 * * * * *", "second 60 is outside"),
            ("0 0 0 30 2 *", "never fires"),
            ("0 0 0 * * Funday", "not a valid day-of-week"),
            ("0 */0 * * * *", "step 0"),
            ("0 5-1 * * * *", "runs backwards"),
        ] {
            let error = Schedule::parse(bad).expect_err(bad).to_string();
            assert!(error.contains(why), "{bad}: {error}");
        }
    }

    #[test]
    fn sub_minute_schedules_are_not_monitored_by_default() {
        assert!(Schedule::parse("0 */5 * * * *").expect("valid").is_monitored_by_default());
        assert!(!Schedule::parse("*/10 * * * * *").expect("valid").is_monitored_by_default());
    }
}
