//! A calendar item as stored: an own event (`event-<uuid>`) or a system entry
//! (`entry-<entry id>`), one document in the citizen's partition with
//! `type: "calendar-item"`. Dates and kinds stay readable (they are what the
//! store queries and the timer checks); what the citizen or the source wrote
//! (title, description, place) is sealed with the citizen's key, bound to the
//! document id and the field `content`.

use base64::Engine as _;
use portal_crypto::Opener;
use portal_store::{Document, FilterOp, Query, StoreError};
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::{COLLECTION, Calendar, CalendarError};

/// The fields the calendar's page filters on, for the store's filter index
/// ([`portal_store::DocumentStore::index_filters`]).
pub const FILTERED_FIELDS: &[&str] = &["type", "date", "endDate"];

/// `type` of an item document.
pub const ITEM_TYPE: &str = "calendar-item";
/// `type` of what remains of a cancelled system entry for a while, so an older
/// message delivered late cannot bring it back.
pub const CANCELLED_TYPE: &str = "calendar-entry-cancelled";

const DATE_FORMAT: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

/// `YYYY-MM-DD`.
///
/// Written by hand for the years 0–9999 (every date the calendar keeps), as
/// `time`'s format description does: its general machinery was a twentieth
/// of the calendar page's CPU, two dates an item (issue 18). The test below
/// checks every day of 1900–2100 against `time`.
pub fn format_date(date: Date) -> String {
    with_date_text(date, str::to_owned)
}

/// Runs `use_text` with [`format_date`]'s text, on the stack for the years
/// 0–9999.
pub fn with_date_text<T>(date: Date, use_text: impl FnOnce(&str) -> T) -> T {
    match iso_digits(date) {
        // Digits and dashes: ASCII, so always UTF-8.
        Some(digits) => use_text(std::str::from_utf8(&digits).unwrap_or_default()),
        None => use_text(&date.format(DATE_FORMAT).unwrap_or_default()),
    }
}

fn iso_digits(date: Date) -> Option<[u8; 10]> {
    let year = u16::try_from(date.year()).ok().filter(|year| *year <= 9999)?;
    let (month, day) = (u8::from(date.month()), date.day());
    let digit = |n: u16| b'0' + (n % 10) as u8;
    Some([
        digit(year / 1000),
        digit(year / 100),
        digit(year / 10),
        digit(year),
        b'-',
        digit(u16::from(month) / 10),
        digit(u16::from(month)),
        b'-',
        digit(u16::from(day) / 10),
        digit(u16::from(day)),
    ])
}

/// `YYYY-MM-DD`, strictly: ten characters, digits where digits go, a day
/// the month has.
pub fn parse_date(text: &str) -> Option<Date> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| {
        bytes[range].iter().try_fold(0u16, |n, &b| b.is_ascii_digit().then(|| n * 10 + u16::from(b - b'0')))
    };
    let year = i32::from(number(0..4)?);
    let month = time::Month::try_from(u8::try_from(number(5..7)?).ok()?).ok()?;
    let day = u8::try_from(number(8..10)?).ok()?;
    Date::from_calendar_date(year, month, day).ok()
}

/// Serde of a `YYYY-MM-DD` date field.
mod iso_date {
    use serde::{Deserializer, Serializer};
    use time::Date;

    pub fn serialize<S: Serializer>(date: &Date, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::format_date(*date))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Date, D::Error> {
        struct Iso;
        impl serde::de::Visitor<'_> for Iso {
            type Value = Date;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a date as YYYY-MM-DD")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Date, E> {
                super::parse_date(text).ok_or_else(|| E::invalid_value(serde::de::Unexpected::Str(text), &self))
            }
        }
        deserializer.deserialize_str(Iso)
    }
}

/// Whether the item is the citizen's own or came from another capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    Own,
    System,
}

/// The stored document of an item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredItem {
    #[serde(rename = "type")]
    pub doc_type: String,
    pub origin: Origin,
    /// `event` for own events; the entry's kind (`document-expiry`, ...) otherwise.
    pub kind: String,
    /// The first day (Czech calendar date).
    #[serde(with = "iso_date")]
    pub date: Date,
    /// The last day, inclusive (equal to `date` for one-day items).
    #[serde(with = "iso_date")]
    pub end_date: Date,
    pub all_day: bool,
    /// Timed events: start and end in UTC.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "time::serde::rfc3339::option")]
    pub start: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "time::serde::rfc3339::option")]
    pub end: Option<OffsetDateTime>,
    /// Own events: one reminder this many days before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remind_days_before: Option<u32>,
    /// System entries: the entry id the source gave.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry_id: Option<String>,
    /// Document expiry: `id-card`, `passport`, `driving-licence`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ref: Option<String>,
    /// System entries: the event that last set this entry, and when it
    /// happened (an older event never overwrites a newer one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "time::serde::rfc3339::option")]
    pub occurred_at: Option<OffsetDateTime>,
    /// Base64 of the sealed [`Content`].
    pub sealed: String,
    /// The reminder schedule documents written for this item.
    #[serde(default)]
    pub reminders: Vec<ReminderRef>,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// The sealed part of an item.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Content {
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

/// An item with its content opened.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub id: String,
    pub stored: StoredItem,
    pub content: Content,
}

/// An item as the lists show it (the page, the feed, the export): the fields
/// of its document they show, and its content opened.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    pub id: String,
    pub stored: Shown,
    pub content: Content,
}

/// The fields of a [`StoredItem`] that lists show. A page decodes each body
/// into these, not into a whole `StoredItem`: what only a change needs (the
/// reminder references, the source's event) is skipped without being copied,
/// and the sealed content is borrowed from the row and decoded from base64
/// straight into the buffer it is opened in (issue 18).
#[derive(Debug, Clone, PartialEq)]
pub struct Shown {
    pub origin: Origin,
    pub kind: String,
    pub date: Date,
    pub end_date: Date,
    pub all_day: bool,
    pub start: Option<OffsetDateTime>,
    pub end: Option<OffsetDateTime>,
    pub remind_days_before: Option<u32>,
    pub entry_id: Option<String>,
    pub document: Option<String>,
    pub source: Option<String>,
    pub updated_at: OffsetDateTime,
}

impl From<Item> for Listed {
    fn from(item: Item) -> Self {
        let Item { id, stored: s, content } = item;
        let stored = Shown {
            origin: s.origin,
            kind: s.kind,
            date: s.date,
            end_date: s.end_date,
            all_day: s.all_day,
            start: s.start,
            end: s.end,
            remind_days_before: s.remind_days_before,
            entry_id: s.entry_id,
            document: s.document,
            source: s.source,
            updated_at: s.updated_at,
        };
        Self { id, stored, content }
    }
}

/// A body as a list reads it: the fields of [`Shown`] (named and decoded as
/// in [`StoredItem`]) and the sealed content, borrowed from the body.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListedBody<'a> {
    origin: Origin,
    kind: String,
    #[serde(with = "iso_date")]
    date: Date,
    #[serde(with = "iso_date")]
    end_date: Date,
    all_day: bool,
    #[serde(default, with = "time::serde::rfc3339::option")]
    start: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    end: Option<OffsetDateTime>,
    #[serde(default)]
    remind_days_before: Option<u32>,
    #[serde(default)]
    entry_id: Option<String>,
    #[serde(default)]
    document: Option<String>,
    #[serde(default)]
    source: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
    #[serde(borrow)]
    sealed: std::borrow::Cow<'a, str>,
}

impl<'a> ListedBody<'a> {
    fn split(self) -> (Shown, std::borrow::Cow<'a, str>) {
        let shown = Shown {
            origin: self.origin,
            kind: self.kind,
            date: self.date,
            end_date: self.end_date,
            all_day: self.all_day,
            start: self.start,
            end: self.end,
            remind_days_before: self.remind_days_before,
            entry_id: self.entry_id,
            document: self.document,
            source: self.source,
            updated_at: self.updated_at,
        };
        (shown, self.sealed)
    }
}

/// The document id of a system entry. The characters a store id cannot hold
/// (and `%` and `|`, so the mapping stays one-to-one and reminder ids stay
/// readable) are percent-encoded.
pub fn entry_doc_id(entry_id: &str) -> String {
    let mut id = String::from("entry-");
    for c in entry_id.chars() {
        match c {
            '/' | '\\' | '?' | '#' | '%' | '|' => id.push_str(&format!("%{:02X}", c as u32)),
            c => id.push(c),
        }
    }
    id
}

/// Whether a path id can name an item at all (anything else is a 404).
pub fn is_item_id(id: &str) -> bool {
    (id.starts_with("event-") || id.starts_with("entry-"))
        && id.len() <= 255
        && !id.contains(['/', '\\', '?', '#'])
        && !id.chars().any(char::is_control)
}

/// A new own event's id.
pub fn new_event_id() -> String {
    format!("event-{}", uuid::Uuid::new_v4().simple())
}

impl StoredItem {
    pub fn from_document(doc: &Document) -> Result<Self, CalendarError> {
        <Self as serde::Deserialize>::deserialize(&doc.body).map_err(|e| CalendarError::Corrupt(e.to_string()))
    }

    pub fn to_body(&self) -> Result<serde_json::Value, CalendarError> {
        serde_json::to_value(self).map_err(|e| CalendarError::Corrupt(e.to_string()))
    }
}

impl Calendar {
    /// Seals an item's content for `(owner, doc_id, "content")`.
    pub async fn seal(&self, owner: &str, doc_id: &str, content: &Content) -> Result<String, CalendarError> {
        let plain = serde_json::to_vec(content).map_err(|e| CalendarError::Corrupt(e.to_string()))?;
        let sealed = self.sealer.encrypt(owner, doc_id, "content", &plain).await?;
        Ok(base64::engine::general_purpose::STANDARD.encode(sealed))
    }

    /// Opens what [`seal`](Self::seal) made.
    pub async fn open(&self, owner: &str, doc_id: &str, sealed: &str) -> Result<Content, CalendarError> {
        open_with(&mut self.sealer.opener(owner), doc_id, sealed).await
    }

    /// One item of the owner, opened; `None` if there is none (or the id
    /// names a cancelled entry).
    pub async fn load_item(&self, owner: &str, id: &str) -> Result<Option<(Item, portal_store::ETag)>, CalendarError> {
        let Some(doc) = self.documents.get(COLLECTION, owner, id).await? else { return Ok(None) };
        if doc.body["type"] != ITEM_TYPE {
            return Ok(None);
        }
        let stored = StoredItem::from_document(&doc)?;
        let content = self.open(owner, id, &stored.sealed).await?;
        Ok(Some((Item { id: doc.id, stored, content }, doc.etag)))
    }

    /// The owner's items that touch the days `from..=to`, opened, in date order.
    pub async fn items_between(&self, owner: &str, from: Date, to: Date) -> Result<Vec<Listed>, CalendarError> {
        let mut unopened = Vec::new();
        let mut continuation = None;
        loop {
            let query = Query::default()
                .filter("type", FilterOp::Eq, ITEM_TYPE)
                .filter("endDate", FilterOp::Ge, format_date(from))
                .filter("date", FilterOp::Le, format_date(to))
                // No order asked of the store: every page is read and the
                // items sorted below, so the store need not sort them too.
                .page_size(500)
                .after(continuation.take());
            // Each body decoded as the store reads it, the sealed content
            // straight from its base64 into the buffer it is opened in.
            let mut corrupt = None;
            let mut each = |id: &str, body: &str| match Unopened::decode(id, body) {
                Ok(item) => {
                    unopened.push(item);
                    Ok(())
                }
                Err(error) => {
                    corrupt = Some(error);
                    Err(StoreError::Invalid("a calendar item does not decode".into()))
                }
            };
            let next = self.documents.query_each(COLLECTION, owner, query, &mut each).await;
            if let Some(error) = corrupt {
                return Err(error);
            }
            match next? {
                Some(next) => continuation = Some(next),
                None => break,
            }
        }
        let mut opener = self.sealer.opener(owner);
        let mut items = Vec::with_capacity(unopened.len());
        for Unopened { id, stored, ciphertext } in unopened {
            let content = open_bytes(&mut opener, &id, ciphertext).await?;
            items.push(Listed { id, stored, content });
        }
        // Ids are unique, so an unstable sort orders alike, without a buffer.
        items.sort_unstable_by(|a, b| {
            (a.stored.date, a.stored.start, &a.id).cmp(&(b.stored.date, b.stored.start, &b.id))
        });
        Ok(items)
    }
}

/// A listed item as read, its content not yet opened.
struct Unopened {
    id: String,
    stored: Shown,
    ciphertext: Vec<u8>,
}

impl Unopened {
    fn decode(id: &str, body: &str) -> Result<Self, CalendarError> {
        let body: ListedBody<'_> = serde_json::from_str(body).map_err(|e| CalendarError::Corrupt(e.to_string()))?;
        let (stored, sealed) = body.split();
        Ok(Self { id: id.to_owned(), stored, ciphertext: decode_sealed(&sealed)? })
    }
}

fn decode_sealed(sealed: &str) -> Result<Vec<u8>, CalendarError> {
    base64::engine::general_purpose::STANDARD
        .decode(sealed)
        .map_err(|_| CalendarError::Corrupt("sealed content is not base64".into()))
}

/// Opens an item's sealed content with the owner's opener, in the buffer its
/// base64 is decoded into.
async fn open_with(opener: &mut Opener<'_>, doc_id: &str, sealed: &str) -> Result<Content, CalendarError> {
    open_bytes(opener, doc_id, decode_sealed(sealed)?).await
}

/// Opens a sealed content's bytes in place.
async fn open_bytes(opener: &mut Opener<'_>, doc_id: &str, ciphertext: Vec<u8>) -> Result<Content, CalendarError> {
    let plain = opener.decrypt_owned(doc_id, "content", ciphertext).await?;
    serde_json::from_slice(&plain).map_err(|e| CalendarError::Corrupt(e.to_string()))
}

/// The item as the API shows it.
pub fn item_json(item: &Listed) -> serde_json::Value {
    let s = &item.stored;
    let mut value = serde_json::json!({
        "id": item.id,
        "origin": s.origin,
        "kind": s.kind,
        "title": item.content.title,
        "date": format_date(s.date),
        "endDate": format_date(s.end_date),
        "allDay": s.all_day,
        "editable": s.origin == Origin::Own,
    });
    let rfc3339 = &time::format_description::well_known::Rfc3339;
    let optional = [
        ("start", s.start.and_then(|t| t.format(rfc3339).ok())),
        ("end", s.end.and_then(|t| t.format(rfc3339).ok())),
        ("description", item.content.description.clone()),
        ("location", item.content.location.clone()),
        ("document", s.document.clone()),
        ("source", s.source.clone()),
        ("entryId", s.entry_id.clone()),
    ];
    for (name, field) in optional {
        if let Some(field) = field {
            value[name] = serde_json::Value::from(field);
        }
    }
    if let Some(days) = s.remind_days_before {
        value["remindDaysBefore"] = serde_json::Value::from(days);
    }
    value
}

/// Where a reminder's schedule document lives; kept in the item so a change
/// or a cancellation can remove them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReminderRef {
    pub partition: String,
    pub id: String,
}

/// The calendar date in Europe/Prague at `now` (the EU summer-time rule, no
/// time-zone database).
pub use portal_host::prague::date as prague_date;

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn entry_ids_map_one_to_one_onto_store_ids() {
        assert_eq!(entry_doc_id("deemed-ab12cd3-1"), "entry-deemed-ab12cd3-1");
        assert_eq!(entry_doc_id("a/b|c%"), "entry-a%2Fb%7Cc%25");
        assert_ne!(entry_doc_id("a%2Fb"), entry_doc_id("a/b"));
        assert!(is_item_id(&entry_doc_id("a/b?c#d")));
        assert!(!is_item_id("counter"));
        assert!(!is_item_id("feed"));
    }

    #[test]
    fn dates_are_written_and_read_as_time_writes_and_reads_them_every_day_of_two_centuries() {
        let mut day = date!(1900 - 01 - 01);
        while day <= date!(2100 - 12 - 31) {
            let by_time = day.format(DATE_FORMAT).expect("time formats it");
            assert_eq!(format_date(day), by_time);
            assert_eq!(parse_date(&by_time), Some(day));
            assert_eq!(parse_date(&by_time), Date::parse(&by_time, DATE_FORMAT).ok());
            day = day.next_day().expect("a next day");
        }
    }

    /// A list decodes a body into [`Shown`] and the sealed text; both must
    /// agree with the whole [`StoredItem`] the body was written from, for an
    /// own timed event and a system entry with everything a list skips.
    #[test]
    fn a_listed_body_shows_what_the_stored_item_holds() {
        use time::macros::datetime;
        let own = StoredItem {
            doc_type: ITEM_TYPE.into(),
            origin: Origin::Own,
            kind: "event".into(),
            date: date!(2026 - 12 - 23),
            end_date: date!(2026 - 12 - 24),
            all_day: false,
            start: Some(datetime!(2026-12-23 17:00 UTC)),
            end: Some(datetime!(2026-12-24 09:30 UTC)),
            remind_days_before: Some(2),
            entry_id: None,
            document: None,
            source: None,
            source_ref: None,
            event_id: None,
            occurred_at: None,
            sealed: "UENFAQ+/AAVsb2NhbA==".into(),
            reminders: vec![ReminderRef { partition: "reminders-2026-12-21".into(), id: "a|b|2".into() }],
            updated_at: datetime!(2026-12-07 14:17:40.999931321 UTC),
        };
        let entry = StoredItem {
            origin: Origin::System,
            kind: "document-expiry".into(),
            all_day: true,
            start: None,
            end: None,
            remind_days_before: None,
            entry_id: Some("document-expiry-id-card-1".into()),
            document: Some("id-card".into()),
            source: Some("registers".into()),
            source_ref: Some("e4ab".into()),
            event_id: Some("registers.document-expiry:1".into()),
            occurred_at: Some(datetime!(2026-12-07 14:17:40.997669565 UTC)),
            ..own.clone()
        };
        for stored in [own, entry] {
            let text = serde_json::to_string(&stored.to_body().expect("body")).expect("text");
            let body: ListedBody<'_> = serde_json::from_str(&text).expect("a list reads it");
            let (shown, sealed) = body.split();
            assert_eq!(sealed, stored.sealed);
            assert!(matches!(sealed, std::borrow::Cow::Borrowed(_)), "the sealed text is borrowed, not copied");
            let item = Item { id: "event-1".into(), stored, content: Content::default() };
            assert_eq!(Listed { id: "event-1".into(), stored: shown, content: Content::default() }, Listed::from(item));
        }
    }

    /// What a page reads of a body: the shown fields and the ciphertext's
    /// bytes; a body that is not an item, or whose sealed text is not
    /// base64, is `Corrupt` (the page answers 500, never half a list).
    #[test]
    fn an_unopened_item_decodes_its_sealed_bytes_or_says_what_is_wrong() {
        let body = r#"{"allDay":true,"date":"2026-12-23","endDate":"2026-12-23","kind":"event","origin":"own",
            "reminders":[],"sealed":"UENFAQ==","type":"calendar-item","updatedAt":"2026-12-07T14:17:40Z"}"#;
        let item = Unopened::decode("event-1", body).expect("an item");
        assert_eq!(
            (item.id.as_str(), item.stored.kind.as_str(), item.stored.date),
            ("event-1", "event", date!(2026 - 12 - 23))
        );
        assert_eq!(item.ciphertext, b"PCE\x01");
        let not_base64 = body.replace("UENFAQ==", "not base64!");
        assert!(matches!(Unopened::decode("event-1", &not_base64), Err(CalendarError::Corrupt(_))));
        let no_date = body.replace(r#""date":"2026-12-23","#, "");
        assert!(matches!(Unopened::decode("event-1", &no_date), Err(CalendarError::Corrupt(_))));
    }

    #[test]
    fn dates_parse_strictly() {
        assert_eq!(parse_date("2026-12-23"), Some(date!(2026 - 12 - 23)));
        assert_eq!(parse_date("2026-02-30"), None);
        assert_eq!(parse_date("2026-1-3"), None);
        assert_eq!(format_date(date!(2026 - 01 - 03)), "2026-01-03");
        assert_eq!(format_date(date!(0987 - 06 - 05)), "0987-06-05");
        assert_eq!(format_date(date!(-0001 - 12 - 31)), date!(-0001 - 12 - 31).format(DATE_FORMAT).expect("time"));
        for bad in
            ["2026-13-01", "2026-00-10", "2026-04-31", "2026-12-3x", "+026-12-23", "2026/12/23", "2026-12-2\u{e9}"]
        {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }
}
