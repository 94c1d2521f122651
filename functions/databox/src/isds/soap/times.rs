//! Times as ISDS writes them (`xs:dateTime`, `xs:date`) and as it wants them.

use time::format_description::well_known::Rfc3339;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

use crate::isds::{IsdsError, IsdsResult};

/// An `xs:dateTime` for a request, in UTC with an explicit `Z`.
pub(super) fn format_time(time: OffsetDateTime) -> IsdsResult<String> {
    time.to_offset(UtcOffset::UTC).format(&Rfc3339).map_err(|_| IsdsError::Invalid("a time is out of range".into()))
}

/// An `xs:dateTime` from ISDS: `YYYY-MM-DDThh:mm:ss[.f…][Z|±hh:mm]`. No zone
/// means UTC, as libdatovka reads it (`timestring2static_timeval`).
pub(super) fn datetime(name: &str, value: &str) -> IsdsResult<OffsetDateTime> {
    parse_datetime(value).ok_or_else(|| IsdsError::Protocol(format!("{name} is not an xs:dateTime")))
}

fn parse_datetime(value: &str) -> Option<OffsetDateTime> {
    let (date, rest) = value.split_once('T')?;
    let date = parse_date(date)?;
    let clock = rest.get(..8)?.as_bytes();
    if clock[2] != b':' || clock[5] != b':' {
        return None;
    }
    let hour = two_digits(&clock[0..2])?;
    let minute = two_digits(&clock[3..5])?;
    let second = two_digits(&clock[6..8])?;
    let mut rest = &rest[8..];
    let mut nanos = 0u32;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        for (i, b) in fraction.bytes().take(digits).enumerate() {
            if i < 9 {
                nanos = nanos * 10 + u32::from(b - b'0');
            }
        }
        nanos *= 10u32.pow(9u32.saturating_sub(u32::try_from(digits).ok()?));
        rest = &fraction[digits..];
    }
    let offset = parse_offset(rest)?;
    let time = Time::from_hms_nano(hour, minute, second, nanos).ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_offset(offset))
}

/// An `xs:date` (the vault's validity) as the start of that day in UTC; a
/// zone suffix, if any, is read past.
pub(super) fn day_start(name: &str, value: &str) -> IsdsResult<OffsetDateTime> {
    let parsed = value.get(..10).and_then(parse_date).filter(|_| parse_offset(&value[10..]).is_some());
    parsed
        .map(|date| date.midnight().assume_utc())
        .ok_or_else(|| IsdsError::Protocol(format!("{name} is not an xs:date")))
}

fn parse_date(value: &str) -> Option<Date> {
    let bytes = value.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let year: i32 = value[0..4].parse().ok()?;
    let month = Month::try_from(two_digits(&bytes[5..7])?).ok()?;
    Date::from_calendar_date(year, month, two_digits(&bytes[8..10])?).ok()
}

fn parse_offset(value: &str) -> Option<UtcOffset> {
    match value.as_bytes() {
        [] | [b'Z'] => Some(UtcOffset::UTC),
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let hours = i8::try_from(two_digits(&[*h1, *h2])?).ok()?;
            let minutes = i8::try_from(two_digits(&[*m1, *m2])?).ok()?;
            let sign = if *sign == b'-' { -1 } else { 1 };
            UtcOffset::from_hms(sign * hours, sign * minutes, 0).ok()
        }
        _ => None,
    }
}

fn two_digits(bytes: &[u8]) -> Option<u8> {
    match bytes {
        [a, b] if a.is_ascii_digit() && b.is_ascii_digit() => Some((a - b'0') * 10 + (b - b'0')),
        _ => None,
    }
}
