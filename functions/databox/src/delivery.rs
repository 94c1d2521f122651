//! When a message counts as delivered (doručení) in ISDS, as the law counts it.
//!
//! Zákon č. 300/2008 Sb., § 17 odst. 3: a document delivered into a data box
//! is delivered (doručen) the moment a person authorised to read it logs in
//! to the box. § 17 odst. 4: if nobody does so within 10 days from the day
//! the document was delivered into the box (dodání), it is deemed delivered
//! on the last day of that period (fikce doručení). The period is counted in
//! whole days as the day after dodání is day 1 (správní řád § 40 odst. 1 a),
//! in Prague's calendar: the tenth day is the date of dodání plus ten days,
//! and ISDS switches the message to status 5 at the start of that day,
//! 00:00 Europe/Prague (`czech-egov-domain.md` §1.6). A sender may exclude
//! substitute delivery (`dmAllowSubstDelivery = false`, courts): then there is
//! no deemed delivery.

use portal_host::prague;
use time::{Duration, OffsetDateTime};

/// The period of § 17 odst. 4, in days.
pub const DEEMED_AFTER_DAYS: i64 = 10;

/// The moment a message delivered into the box at `dodani` is deemed
/// delivered: 00:00 Prague time of the tenth day after the day of dodání.
pub fn deemed_delivery_at(dodani: OffsetDateTime) -> OffsetDateTime {
    let tenth_day = prague::date(dodani) + Duration::days(DEEMED_AFTER_DAYS);
    // Prague's offset at 00:00 UTC of that date is the offset of its local
    // midnight: summer time changes at 01:00 UTC.
    let offset = prague::offset(tenth_day.midnight().assume_utc());
    tenth_day.midnight().assume_offset(offset)
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn the_tenth_day_starts_at_prague_midnight() {
        // Dodána 1 Mar 2026 14:00 Prague (13:00 UTC): deemed 11 Mar 00:00 Prague = 10 Mar 23:00 UTC.
        assert_eq!(deemed_delivery_at(datetime!(2026-03-01 13:00 UTC)), datetime!(2026-03-10 23:00 UTC));
        // Late evening UTC is already the next Prague day: 23:30 UTC on 1 Mar is 2 Mar in Prague.
        assert_eq!(deemed_delivery_at(datetime!(2026-03-01 23:30 UTC)), datetime!(2026-03-11 23:00 UTC));
        // Across the change to summer time (29 Mar 2026): midnight is UTC+2.
        assert_eq!(deemed_delivery_at(datetime!(2026-03-25 10:00 UTC)), datetime!(2026-04-03 22:00 UTC));
        // Not 240 hours: a message delivered just after midnight waits less than 10 × 24 h.
        let early = datetime!(2026-06-01 00:30 +02:00);
        assert_eq!(deemed_delivery_at(early), datetime!(2026-06-11 00:00 +02:00));
        assert!(deemed_delivery_at(early) - early < Duration::days(10));
    }
}
