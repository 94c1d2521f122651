//! The HTTP edge of the calendar, the queue function and the timer. Only here
//! are status codes chosen and problems written.

// Helpers here return `Result<_, Response>`: the error is the finished
// problem response, built once at the edge; boxing it would only add noise.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portal_events::{CALENDAR_QUEUE, ERASE_CALENDAR_QUEUE, Event};
use portal_host::{AuthLevel, FieldViolation, Function, InvocationError, Outcome, Problem, QueueInvocation};
use portal_security::{AccessEntry, Action, Actor, Citizen, SubjectId};
use portal_store::{BatchOp, ETag, NewDocument, StoreError};
use serde::Deserialize;
use serde_json::{Value, json};
use time::{Date, Duration};

use crate::feed::FeedError;
use crate::item::{self, ITEM_TYPE, Item, Origin, StoredItem, format_date, item_json, parse_date};
use crate::validate::{self, OwnEvent, When};
use crate::{COLLECTION, Calendar, CalendarError, entries, erasure, ical, reminders};

type Shared = Arc<Calendar>;

/// The longest range one list request may ask for.
const MAX_RANGE_DAYS: i64 = 731;
const COUNTER_ID: &str = "counter";
/// The feed carries items from this many days back.
const FEED_PAST_DAYS: i64 = 365;

pub fn functions(calendar: Shared) -> Vec<Function> {
    let s = calendar;
    let (queue_state, timer_state, erasure_state) = (s.clone(), s.clone(), s.clone());
    vec![
        Function::http("ListCalendarEvents", "calendar/events", AuthLevel::Anonymous)
            .get(list)
            .with_state(s.clone())
            .build(),
        Function::http("CreateCalendarEvent", "calendar/events", AuthLevel::Anonymous)
            .post(create)
            .with_state(s.clone())
            .build(),
        Function::http("ShowCalendarEvent", "calendar/events/{id}", AuthLevel::Anonymous)
            .get(show)
            .with_state(s.clone())
            .build(),
        Function::http("UpdateCalendarEvent", "calendar/events/{id}", AuthLevel::Anonymous)
            .put(update)
            .with_state(s.clone())
            .build(),
        Function::http("DeleteCalendarEvent", "calendar/events/{id}", AuthLevel::Anonymous)
            .delete(delete)
            .with_state(s.clone())
            .build(),
        Function::http("CreateCalendarFeed", "calendar/feed", AuthLevel::Anonymous)
            .post(rotate_feed)
            .with_state(s.clone())
            .build(),
        Function::http("ShowCalendarFeed", "calendar/feed", AuthLevel::Anonymous)
            .get(show_feed)
            .with_state(s.clone())
            .build(),
        Function::http("DeleteCalendarFeed", "calendar/feed", AuthLevel::Anonymous)
            .delete(delete_feed)
            .with_state(s.clone())
            .build(),
        // PUBLIC: no session; the secret token in the path is the credential.
        Function::http("CalendarFeed", "calendar/feed/{token}", AuthLevel::Anonymous)
            .get(feed)
            .with_state(s.clone())
            .build(),
        Function::queue(entries::FUNCTION, CALENDAR_QUEUE, move |invocation: QueueInvocation<Event>| {
            let calendar = queue_state.clone();
            async move { entries::file_calendar_entry(&calendar, &invocation.message).await }
        }),
        Function::queue(erasure::FUNCTION, ERASE_CALENDAR_QUEUE, move |invocation: QueueInvocation<Event>| {
            let calendar = erasure_state.clone();
            async move { erasure::erase(&calendar, &invocation.message).await }
        }),
        Function::timer(reminders::JOB, reminders::SCHEDULE, move |_| {
            let calendar = timer_state.clone();
            async move {
                let report = reminders::run(&calendar).await.map_err(|error| {
                    if error.is_retryable() {
                        InvocationError::retryable(error)
                    } else {
                        InvocationError::permanent(error)
                    }
                })?;
                Ok(Outcome::done().returning(serde_json::to_value(report).unwrap_or_default()))
            }
        }),
    ]
}

fn problem(error: &CalendarError) -> Response {
    tracing::error!(error = %portal_host::runtime::error_chain(error), "calendar request failed");
    match error {
        CalendarError::Contended => {
            Problem::new(StatusCode::CONFLICT, "conflict", "The item was changed at the same time")
                .with_detail("reload and try again")
                .into_response()
        }
        CalendarError::Store(_) => Problem::unavailable("storage").into_response(),
        CalendarError::Crypto(e) if e.is_retryable() => Problem::unavailable("the key service").into_response(),
        CalendarError::Crypto(_) | CalendarError::Corrupt(_) => Problem::internal().into_response(),
    }
}

fn store_problem(error: StoreError) -> Response {
    problem(&CalendarError::Store(error))
}

fn not_found() -> Response {
    Problem::not_found("no such item in your calendar").into_response()
}

fn system_entry(item: &Item) -> Response {
    let source = item.stored.source.as_deref().unwrap_or("another service");
    Problem::new(StatusCode::CONFLICT, "system-entry", "This calendar entry cannot be changed")
        .with_detail(format!(
            "this entry comes from {source} and cannot be edited or deleted; it changes when {source} changes it"
        ))
        .into_response()
}

async fn record(calendar: &Calendar, subject: &SubjectId, entry: AccessEntry) -> Result<(), Response> {
    calendar.access_log.record(subject, entry).await.map_err(store_problem)
}

fn citizen_entry(action: Action, kind: &str, id: &str, purpose: &str) -> AccessEntry {
    AccessEntry::new(Actor::Citizen, action, kind, id, purpose)
}

#[derive(Debug, Deserialize)]
struct ListParams {
    from: Option<String>,
    to: Option<String>,
}

async fn list(
    State(calendar): State<Shared>,
    citizen: Citizen,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Response {
    let Ok(Query(params)) = params else {
        return Problem::validation(vec![FieldViolation::new("query", "from and to are dates YYYY-MM-DD")])
            .into_response();
    };
    let today = calendar.today();
    let mut errors = Vec::new();
    let mut day = |field: &'static str, value: Option<String>, default: i64| match value {
        None => today.checked_add(Duration::days(default)),
        Some(text) => {
            let parsed = parse_date(&text);
            if parsed.is_none() {
                errors.push(FieldViolation::new(field, "a date YYYY-MM-DD"));
            }
            parsed
        }
    };
    let (from, to) = (day("from", params.from, -30), day("to", params.to, 365));
    let (Some(from), Some(to)) = (from, to) else { return Problem::validation(errors).into_response() };
    if to < from {
        return Problem::validation(vec![FieldViolation::new("to", "must not be before from")]).into_response();
    }
    if to - from > Duration::days(MAX_RANGE_DAYS) {
        return Problem::validation(vec![FieldViolation::new(
            "to",
            format!("at most {MAX_RANGE_DAYS} days after from"),
        )])
        .into_response();
    }
    let items = match calendar.items_between(citizen.subject.as_str(), from, to).await {
        Ok(items) => items,
        Err(error) => return problem(&error),
    };
    let range = format!("{}..{}", format_date(from), format_date(to));
    if let Err(response) = record(
        &calendar,
        &citizen.subject,
        citizen_entry(Action::Read, "calendar-events", &range, "zobrazení kalendáře"),
    )
    .await
    {
        return response;
    }
    let items: Vec<Value> = items.iter().map(item_json).collect();
    Json(json!({"from": format_date(from), "to": format_date(to), "items": items})).into_response()
}

fn body_of(body: Result<Json<Value>, JsonRejection>) -> Result<OwnEvent, Response> {
    let Ok(Json(body)) = body else {
        return Err(Problem::validation(vec![FieldViolation::new(
            "body",
            "a JSON object (Content-Type: application/json)",
        )])
        .into_response());
    };
    validate::own_event(&body).map_err(|errors| Problem::validation(errors).into_response())
}

/// The stored form of a checked own event.
async fn stored_event(
    calendar: &Calendar,
    owner: &str,
    id: &str,
    event: &OwnEvent,
) -> Result<StoredItem, CalendarError> {
    let (start, end) = match event.when {
        When::Timed { start, end, .. } => (Some(start), Some(end)),
        When::AllDay { .. } => (None, None),
    };
    let mut stored = StoredItem {
        doc_type: ITEM_TYPE.into(),
        origin: Origin::Own,
        kind: "event".into(),
        date: event.when.first(),
        end_date: event.when.last(),
        all_day: matches!(event.when, When::AllDay { .. }),
        start,
        end,
        remind_days_before: event.remind_days_before,
        entry_id: None,
        document: None,
        source: None,
        source_ref: None,
        event_id: None,
        occurred_at: None,
        sealed: calendar.seal(owner, id, &event.content).await?,
        reminders: Vec::new(),
        updated_at: calendar.clock.now(),
    };
    stored.reminders = reminders::refs_for(&calendar.settings, owner, id, &stored, calendar.today());
    Ok(stored)
}

/// Reminder housekeeping after a write the citizen already has an answer
/// for: a failure here is logged, and the next timer run covers today.
async fn settle_quietly(calendar: &Calendar, stored: &StoredItem, previous: &[reminders::ReminderRef]) {
    if let Err(error) = reminders::settle(calendar, stored, previous).await {
        tracing::warn!(error = %portal_host::runtime::error_chain(&error), "reminders of an event not settled yet");
    }
}

async fn create(
    State(calendar): State<Shared>,
    citizen: Citizen,
    body: Result<Json<Value>, JsonRejection>,
) -> Response {
    let event = match body_of(body) {
        Ok(event) => event,
        Err(response) => return response,
    };
    let owner = citizen.subject.as_str();
    let id = item::new_event_id();
    let stored = match stored_event(&calendar, owner, &id, &event).await {
        Ok(stored) => stored,
        Err(error) => return problem(&error),
    };
    let body = match stored.to_body() {
        Ok(body) => body,
        Err(error) => return problem(&error),
    };
    // Schedule documents first: without the item they never fire.
    if let Err(error) = reminders::schedule(&calendar, owner, &id, &stored).await {
        return problem(&error);
    }
    // The event and the counter in one batch, so the limit holds under
    // concurrent requests.
    let mut created = false;
    for _ in 0..5 {
        let counter = match calendar.documents.get(COLLECTION, owner, COUNTER_ID).await {
            Ok(counter) => counter,
            Err(error) => return store_problem(error),
        };
        let count = counter.as_ref().and_then(|c| c.body["own"].as_u64()).unwrap_or(0);
        if count >= u64::from(calendar.settings.max_events_per_citizen) {
            let _ = reminders::remove(&calendar, &stored.reminders).await;
            return Problem::new(StatusCode::CONFLICT, "calendar-full", "Your calendar is full")
                .with_detail(format!(
                    "you can keep at most {} own events; delete some first",
                    calendar.settings.max_events_per_citizen
                ))
                .into_response();
        }
        let counter_doc = NewDocument::new(owner, COUNTER_ID, json!({"type": "calendar-counter", "own": count + 1}));
        let counter_op = match counter {
            Some(doc) => BatchOp::Replace { doc: counter_doc, if_match: doc.etag },
            None => BatchOp::Create(counter_doc),
        };
        let ops = vec![BatchOp::Create(NewDocument::new(owner, id.clone(), body.clone())), counter_op];
        match calendar.documents.batch(COLLECTION, owner, ops).await {
            Ok(_) => {
                created = true;
                break;
            }
            Err(StoreError::PreconditionFailed | StoreError::Conflict) => continue,
            Err(error) => return store_problem(error),
        }
    }
    if !created {
        return problem(&CalendarError::Contended);
    }
    if let Err(response) = record(
        &calendar,
        &citizen.subject,
        citizen_entry(Action::Create, "calendar-event", &id, "nová událost v kalendáři"),
    )
    .await
    {
        return response;
    }
    settle_quietly(&calendar, &stored, &[]).await;
    let item = Item { id, stored, content: event.content };
    (StatusCode::CREATED, Json(item_json(&item))).into_response()
}

/// The citizen's item behind a path id: 404 for anything not theirs.
async fn load(calendar: &Calendar, citizen: &Citizen, id: &str) -> Result<(Item, ETag), Response> {
    if !item::is_item_id(id) {
        return Err(not_found());
    }
    match calendar.load_item(citizen.subject.as_str(), id).await {
        Ok(Some(found)) => Ok(found),
        Ok(None) => Err(not_found()),
        Err(error) => Err(problem(&error)),
    }
}

async fn show(State(calendar): State<Shared>, citizen: Citizen, Path(id): Path<String>) -> Response {
    let (item, _) = match load(&calendar, &citizen, &id).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    if let Err(response) =
        record(&calendar, &citizen.subject, citizen_entry(Action::Read, "calendar-event", &id, "zobrazení události"))
            .await
    {
        return response;
    }
    Json(item_json(&item)).into_response()
}

async fn update(
    State(calendar): State<Shared>,
    citizen: Citizen,
    Path(id): Path<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> Response {
    let (old, etag) = match load(&calendar, &citizen, &id).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    if old.stored.origin != Origin::Own {
        return system_entry(&old);
    }
    let event = match body_of(body) {
        Ok(event) => event,
        Err(response) => return response,
    };
    let owner = citizen.subject.as_str();
    let stored = match stored_event(&calendar, owner, &id, &event).await {
        Ok(stored) => stored,
        Err(error) => return problem(&error),
    };
    let body = match stored.to_body() {
        Ok(body) => body,
        Err(error) => return problem(&error),
    };
    if let Err(error) = reminders::schedule(&calendar, owner, &id, &stored).await {
        return problem(&error);
    }
    match calendar.documents.replace(COLLECTION, NewDocument::new(owner, id.clone(), body), &etag).await {
        Ok(_) => {}
        Err(StoreError::PreconditionFailed | StoreError::NotFound) => return problem(&CalendarError::Contended),
        Err(error) => return store_problem(error),
    }
    if let Err(response) =
        record(&calendar, &citizen.subject, citizen_entry(Action::Update, "calendar-event", &id, "úprava události"))
            .await
    {
        return response;
    }
    settle_quietly(&calendar, &stored, &old.stored.reminders).await;
    Json(item_json(&Item { id, stored, content: event.content })).into_response()
}

async fn delete(State(calendar): State<Shared>, citizen: Citizen, Path(id): Path<String>) -> Response {
    let (old, _) = match load(&calendar, &citizen, &id).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    if old.stored.origin != Origin::Own {
        return system_entry(&old);
    }
    let owner = citizen.subject.as_str();
    if let Err(error) = reminders::remove(&calendar, &old.stored.reminders).await {
        return problem(&error);
    }
    let mut deleted = false;
    for _ in 0..5 {
        let counter = match calendar.documents.get(COLLECTION, owner, COUNTER_ID).await {
            Ok(counter) => counter,
            Err(error) => return store_problem(error),
        };
        let mut ops = vec![BatchOp::Delete { id: id.clone(), if_match: None }];
        if let Some(counter) = counter {
            let count = counter.body["own"].as_u64().unwrap_or(0).saturating_sub(1);
            ops.push(BatchOp::Replace {
                doc: NewDocument::new(owner, COUNTER_ID, json!({"type": "calendar-counter", "own": count})),
                if_match: counter.etag,
            });
        }
        match calendar.documents.batch(COLLECTION, owner, ops).await {
            Ok(_) => {
                deleted = true;
                break;
            }
            // Deleted by a concurrent request: the end state is the same.
            Err(StoreError::NotFound) => return StatusCode::NO_CONTENT.into_response(),
            Err(StoreError::PreconditionFailed | StoreError::Conflict) => continue,
            Err(error) => return store_problem(error),
        }
    }
    if !deleted {
        return problem(&CalendarError::Contended);
    }
    if let Err(response) =
        record(&calendar, &citizen.subject, citizen_entry(Action::Delete, "calendar-event", &id, "smazání události"))
            .await
    {
        return response;
    }
    StatusCode::NO_CONTENT.into_response()
}

fn feed_problem(error: &FeedError) -> Response {
    match error {
        FeedError::Random => {
            tracing::error!("the system random number generator failed");
            Problem::internal().into_response()
        }
        FeedError::Calendar(error) => problem(error),
    }
}

async fn rotate_feed(State(calendar): State<Shared>, citizen: Citizen) -> Response {
    let token = match calendar.rotate_feed(&citizen.subject).await {
        Ok(token) => token,
        Err(error) => return feed_problem(&error),
    };
    if let Err(response) = record(
        &calendar,
        &citizen.subject,
        citizen_entry(Action::Create, "calendar-feed", "feed", "nová adresa odběru kalendáře"),
    )
    .await
    {
        return response;
    }
    let base = calendar.settings.public_base_url.trim_end_matches('/');
    let url = format!("{base}/api/calendar/feed/{token}.ics");
    let mut response = (StatusCode::CREATED, Json(json!({"url": url}))).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn show_feed(State(calendar): State<Shared>, citizen: Citizen) -> Response {
    let state = match calendar.feed_state(&citizen.subject).await {
        Ok(state) => state,
        Err(error) => return problem(&error),
    };
    if let Err(response) = record(
        &calendar,
        &citizen.subject,
        citizen_entry(Action::Read, "calendar-feed", "feed", "stav odběru kalendáře"),
    )
    .await
    {
        return response;
    }
    match state {
        Some(state) => Json(json!({
            "exists": true,
            "createdAt": state.created_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
        }))
        .into_response(),
        None => Json(json!({"exists": false})).into_response(),
    }
}

async fn delete_feed(State(calendar): State<Shared>, citizen: Citizen) -> Response {
    let existed = match calendar.delete_feed(&citizen.subject).await {
        Ok(existed) => existed,
        Err(error) => return problem(&error),
    };
    if existed
        && let Err(response) = record(
            &calendar,
            &citizen.subject,
            citizen_entry(Action::Delete, "calendar-feed", "feed", "zrušení odběru kalendáře"),
        )
        .await
    {
        return response;
    }
    StatusCode::NO_CONTENT.into_response()
}

/// PUBLIC: the iCalendar feed behind a secret token (`<token>.ics` or `<token>`).
async fn feed(State(calendar): State<Shared>, Path(token): Path<String>) -> Response {
    let token = token.strip_suffix(".ics").unwrap_or(&token);
    let owner = match calendar.feed_owner(token).await {
        Ok(Some(owner)) => owner,
        Ok(None) => return Problem::not_found("no such calendar feed").into_response(),
        Err(error) => return problem(&error),
    };
    let today = calendar.today();
    let from = today.checked_sub(Duration::days(FEED_PAST_DAYS)).unwrap_or(today);
    let to = Date::from_calendar_date(2100, time::Month::December, 31).unwrap_or(today);
    let items = match calendar.items_between(owner.as_str(), from, to).await {
        Ok(items) => items,
        Err(error) => return problem(&error),
    };
    let entry = AccessEntry::new(
        Actor::System { job: "ical-feed".into() },
        Action::Read,
        "calendar-feed",
        "feed",
        "odběr kalendáře aplikací (iCalendar)",
    );
    if let Err(response) = record(&calendar, &owner, entry).await {
        return response;
    }
    let uid_of = |item: &Item| {
        let digest = crate::feed::sha256_hex(&format!("{}|{}", owner.as_str(), item.id));
        format!("{}@portal-obcana", &digest[..32])
    };
    let text = ical::calendar(&items, calendar.clock.now(), uid_of);
    let mut response = text.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/calendar; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    headers.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("inline; filename=\"kalendar.ics\""));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}
