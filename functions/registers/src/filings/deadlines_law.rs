//! The agency's legal deadline to answer a filing (lhůta pro vyřízení), one
//! rule per kind in one table ([`RULES`]), and how such a deadline is
//! counted (zákon č. 500/2004 Sb., správní řád, § 40 odst. 1): the period
//! starts the day after the filing; a period in days ends on its last day,
//! and when that day is a Saturday, a Sunday or a public holiday the last day
//! is the next working day. Dates are Prague's (Europe/Prague, without a
//! time-zone database: the EU summer-time rule).

use time::{Date, Duration, Month, OffsetDateTime, Weekday};

/// How long the agency has for one kind of filing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeadlineRule {
    pub kind: &'static str,
    pub days: i64,
    /// Counted in working days rather than calendar days.
    pub working_days: bool,
    /// The legal source, shown to the citizen.
    pub source: &'static str,
}

/// The table of legal deadlines by filing kind.
pub const RULES: &[DeadlineRule] = &[
    // Requests to write data into the population register are handled by an
    // administrative body without undue delay, at the latest within 30 days
    // (zákon č. 500/2004 Sb., správní řád, § 71 odst. 3).
    DeadlineRule { kind: "delivery-address", days: 30, working_days: false, source: "správní řád, § 71 odst. 3" },
    DeadlineRule { kind: "contact", days: 30, working_days: false, source: "správní řád, § 71 odst. 3" },
    DeadlineRule {
        kind: "qualified-certificate", days: 30, working_days: false, source: "správní řád, § 71 odst. 3"
    },
    // The office issues the driving licence within 20 days of the application
    // (zákon č. 361/2000 Sb., o provozu na pozemních komunikacích, § 111).
    DeadlineRule { kind: "driving-licence", days: 20, working_days: false, source: "zákon č. 361/2000 Sb., § 111" },
    // The addressee answers a petition within 30 days (zákon č. 85/1990 Sb.,
    // o právu petičním, § 5 odst. 4).
    DeadlineRule {
        kind: "petition-hand-over",
        days: 30,
        working_days: false,
        source: "zákon č. 85/1990 Sb., o právu petičním, § 5 odst. 4",
    },
    // The Ministry of the Interior sets up a data box on request within
    // 3 working days (zákon č. 300/2008 Sb., § 3 odst. 3 and § 4 odst. 3).
    DeadlineRule {
        kind: "data-box-request",
        days: 3,
        working_days: true,
        source: "zákon č. 300/2008 Sb., o elektronických úkonech, § 3 a 4",
    },
];

pub fn rule(kind: &str) -> Option<&'static DeadlineRule> {
    RULES.iter().find(|rule| rule.kind == kind)
}

/// The last day of the agency's deadline for a filing of `kind` made at
/// `filed_at`, or `None` for a kind without a rule.
pub fn deadline(kind: &str, filed_at: OffsetDateTime) -> Option<Date> {
    let rule = rule(kind)?;
    let start = prague_date(filed_at);
    if rule.working_days {
        let mut day = start;
        let mut left = rule.days;
        while left > 0 {
            day = day.next_day()?;
            if is_working_day(day) {
                left -= 1;
            }
        }
        return Some(day);
    }
    let mut day = start.checked_add(Duration::days(rule.days))?;
    while !is_working_day(day) {
        day = day.next_day()?;
    }
    Some(day)
}

/// The calendar date in Europe/Prague at `now`: the day a filing was made
/// and the day a deadline is compared with.
pub use portal_host::prague::date as prague_date;

/// Easter Sunday (the anonymous Gregorian algorithm).
fn easter(year: i32) -> Option<Date> {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = u8::try_from((h + l - 7 * m + 114) / 31).ok()?;
    let day = u8::try_from((h + l - 7 * m + 114) % 31 + 1).ok()?;
    Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()
}

/// Public holidays of the Czech Republic (zákon č. 245/2000 Sb.): the fixed
/// ones, Good Friday and Easter Monday.
pub fn is_public_holiday(day: Date) -> bool {
    const FIXED: [(u8, u8); 11] =
        [(1, 1), (5, 1), (5, 8), (7, 5), (7, 6), (9, 28), (10, 28), (11, 17), (12, 24), (12, 25), (12, 26)];
    if FIXED.contains(&(u8::from(day.month()), day.day())) {
        return true;
    }
    easter(day.year()).is_some_and(|easter| day == easter - Duration::days(2) || day == easter + Duration::days(1))
}

pub fn is_working_day(day: Date) -> bool {
    !matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday) && !is_public_holiday(day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn deadlines_end_on_a_working_day() {
        assert_eq!(easter(2026), Some(date!(2026 - 04 - 05)));
        assert_eq!(easter(2025), Some(date!(2025 - 04 - 20)));
        assert!(is_public_holiday(date!(2026 - 04 - 03)), "Good Friday");
        assert!(is_public_holiday(date!(2026 - 04 - 06)), "Easter Monday");
        // 23 Nov 2026 + 30 days = 23 Dec 2026, a Wednesday.
        assert_eq!(deadline("contact", datetime!(2026-11-23 08:00 UTC)), Some(date!(2026 - 12 - 23)));
        // 24 Nov 2026 + 30 = 24 Dec (holiday), 25, 26 (holidays), 27 (Sunday) → 28 Dec.
        assert_eq!(deadline("contact", datetime!(2026-11-24 08:00 UTC)), Some(date!(2026 - 12 - 28)));
        // 3 working days from Friday 20 Nov 2026: 23, 24, 25 Nov.
        assert_eq!(deadline("data-box-request", datetime!(2026-11-20 10:00 UTC)), Some(date!(2026 - 11 - 25)));
        // Late evening UTC is already the next day in Prague.
        assert_eq!(prague_date(datetime!(2026-07-15 22:30 UTC)), date!(2026 - 07 - 16));
        assert_eq!(deadline("unknown", datetime!(2026-11-23 08:00 UTC)), None);
    }
}
