//! Europe/Prague time without a time-zone database: UTC+1, and UTC+2 (summer
//! time, letní čas) from the last Sunday of March 01:00 UTC to the last Sunday
//! of October 01:00 UTC, the EU rule. The dates citizens and agencies count in
//! (deadlines, end dates, "today") are Prague's.

use time::{Date, Duration, Month, OffsetDateTime, UtcOffset};

/// Prague's offset from UTC at `now`.
pub fn offset(now: OffsetDateTime) -> UtcOffset {
    let utc = now.to_offset(UtcOffset::UTC);
    let year = utc.year();
    let summer = match (last_sunday(year, Month::March), last_sunday(year, Month::October)) {
        (Some(start), Some(end)) => {
            let start = start.midnight().assume_utc() + Duration::hours(1);
            let end = end.midnight().assume_utc() + Duration::hours(1);
            utc >= start && utc < end
        }
        _ => false,
    };
    UtcOffset::from_hms(if summer { 2 } else { 1 }, 0, 0).unwrap_or(UtcOffset::UTC)
}

/// The calendar date in Prague at `now`.
pub fn date(now: OffsetDateTime) -> Date {
    now.to_offset(offset(now)).date()
}

/// Time until the next Prague midnight (at least one second).
pub fn until_midnight(now: OffsetDateTime) -> std::time::Duration {
    let local = now.to_offset(offset(now));
    let next = local.date().next_day().map(|d| d.midnight().assume_offset(local.offset()));
    let seconds = next.map_or(3_600, |next| (next - local).whole_seconds()).max(1);
    std::time::Duration::from_secs(u64::try_from(seconds).unwrap_or(3_600))
}

fn last_sunday(year: i32, month: Month) -> Option<Date> {
    let last = Date::from_calendar_date(year, month, month.length(year)).ok()?;
    last.checked_sub(Duration::days(i64::from(last.weekday().number_days_from_sunday())))
}

#[cfg(test)]
mod tests {
    use time::macros::{date, datetime};

    use super::*;

    #[test]
    fn prague_dates_follow_summer_time() {
        assert_eq!(date(datetime!(2026-01-15 23:30 UTC)), date!(2026 - 01 - 16));
        assert_eq!(date(datetime!(2026-01-15 22:30 UTC)), date!(2026 - 01 - 15));
        assert_eq!(date(datetime!(2026-07-15 22:30 UTC)), date!(2026 - 07 - 16));
        assert_eq!(date(datetime!(2026-07-15 21:30 UTC)), date!(2026 - 07 - 15));
        // 2026: summer time from 29 March 01:00 UTC to 25 October 01:00 UTC.
        assert_eq!(date(datetime!(2026-03-28 22:30 UTC)), date!(2026 - 03 - 28));
        assert_eq!(date(datetime!(2026-10-24 22:30 UTC)), date!(2026 - 10 - 25));
    }

    #[test]
    fn the_offset_changes_at_one_in_the_morning_utc() {
        assert_eq!(offset(datetime!(2026-03-29 00:59 UTC)), UtcOffset::from_hms(1, 0, 0).expect("offset"));
        assert_eq!(offset(datetime!(2026-03-29 01:00 UTC)), UtcOffset::from_hms(2, 0, 0).expect("offset"));
        assert_eq!(offset(datetime!(2026-10-25 00:59 UTC)), UtcOffset::from_hms(2, 0, 0).expect("offset"));
        assert_eq!(offset(datetime!(2026-10-25 01:00 UTC)), UtcOffset::from_hms(1, 0, 0).expect("offset"));
    }

    #[test]
    fn midnight_is_prague_midnight() {
        assert_eq!(until_midnight(datetime!(2026-11-23 22:30 UTC)), std::time::Duration::from_secs(30 * 60));
        assert_eq!(until_midnight(datetime!(2026-07-15 21:00 UTC)), std::time::Duration::from_secs(60 * 60));
        assert_eq!(until_midnight(datetime!(2026-07-15 22:00 UTC)), std::time::Duration::from_secs(24 * 3_600));
    }
}
