//! `GET /api/calendar/feed/{token}`: PUBLIC, no session; the secret token in
//! the path is the credential. The citizen's calendar as iCalendar (RFC 5545).

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use portal_host::Problem;
use portal_security::{AccessEntry, Action, Actor};
use time::{Date, Duration};

use super::Shared;
use crate::ical;
use crate::item::Listed;

/// The blind-index purpose of the feed's event UIDs.
const UID_PURPOSE: &str = "calendar feed uid";

/// The feed carries items from this many days back.
const FEED_PAST_DAYS: i64 = 365;

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "CalendarFeed";

/// The calendar for a calendar app subscribed to the secret address.
#[utoipa::path(
    get,
    path = "/api/calendar/feed/{token}",
    operation_id = OPERATION,
    tag = "calendar",
    params(("token" = String, Path, description = "The feed's secret token, optionally followed by `.ics`.")),
    responses(
        (status = 200, description = "Kalendář ve formátu iCalendar.", content_type = "text/calendar", body = String),
        (status = 404, description = "Taková adresa odběru neexistuje (nebo byla zrušena).", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(State(calendar): State<Shared>, Path(token): Path<String>) -> Result<Response, Problem> {
    let token = token.strip_suffix(".ics").unwrap_or(&token);
    let owner = calendar.feed_owner(token).await?.ok_or_else(|| Problem::not_found("no such calendar feed"))?;
    let today = calendar.today();
    let from = today.checked_sub(Duration::days(FEED_PAST_DAYS)).unwrap_or(today);
    let to = Date::from_calendar_date(2100, time::Month::December, 31).unwrap_or(today);
    let items = calendar.items_between(owner.as_str(), from, to).await?;
    let entry = AccessEntry::new(
        Actor::System { job: "ical-feed".into() },
        Action::Read,
        "calendar-feed",
        "feed",
        "odběr kalendáře aplikací (iCalendar)",
    );
    calendar.access_log.record(&owner, entry).await?;
    // Each UID is a keyed HMAC (a blind index under a key derived from the
    // citizen's data key) of this feed and the item: stable between fetches of
    // one feed, unrelated between two feeds of the same citizen (a rotated
    // token starts afresh), and nobody can compute or link them without the
    // citizen's key, so never after erasure.
    let feed = crate::feed::sha256_hex(token);
    let mut uids = HashMap::with_capacity(items.len());
    for item in &items {
        let input = format!("{feed}\0{}", item.id);
        let index = calendar
            .sealer
            .blind_index(owner.as_str(), UID_PURPOSE, input.as_bytes())
            .await
            .map_err(crate::CalendarError::from)?;
        uids.insert(item.id.clone(), format!("{index}@portal-obcana"));
    }
    let uid_of = |item: &Listed| uids.get(&item.id).cloned().unwrap_or_default();
    let text = ical::calendar(&items, calendar.clock.now(), &calendar.settings, uid_of);
    let mut response = text.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/calendar; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    headers.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("inline; filename=\"kalendar.ics\""));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    Ok(response)
}
