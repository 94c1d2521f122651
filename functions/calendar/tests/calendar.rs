//! The calendar capability in process: own events with their validation
//! problems, system entries from the queue (replayed, moved, cancelled),
//! reminders on a manual clock (once each, a missed day caught up, stale ones
//! silent), and the iCalendar feed (public, rotated, access-logged, and parsed
//! by an independent implementation, Python's `icalendar`).

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use portal_calendar::queue::file_calendar_entry as entries;
use portal_calendar::{COLLECTION, Calendar, CalendarSettings, functions, reminders};
use portal_events::{CalendarEntry, Event, kinds};
use portal_host::InvocationError;
use portal_security::{AccessFilter, Actor, SubjectId};
use portal_store::DocumentStore;
use portal_store::embedded::EmbeddedStore;
use portal_testkit::{Harness, JANA, Login, PETR, START, anonymous, call, get, json_of, problem_fields, write};
use serde_json::{Value, json};
use time::macros::{date, datetime};
use time::{Date, OffsetDateTime};

struct Portal {
    router: Router,
    calendar: Calendar,
    harness: Harness,
}

impl std::ops::Deref for Portal {
    type Target = Harness;

    fn deref(&self) -> &Harness {
        &self.harness
    }
}

fn portal_at(start: OffsetDateTime) -> Portal {
    let harness = Harness::at(start);
    let calendar = Calendar {
        documents: harness.store.clone(),
        queues: harness.store.clone(),
        sealer: harness.sealer.clone(),
        access_log: harness.access_log.clone(),
        clock: harness.clock.clone(),
        settings: CalendarSettings { public_base_url: "https://portal.example".into(), ..CalendarSettings::default() },
    };
    let router = harness.router(functions(calendar.clone()));
    Portal { router, calendar, harness }
}

fn portal() -> Portal {
    portal_at(START)
}

async fn login(portal: &Portal, subject: &str) -> Login {
    portal.harness.login(subject).await
}

async fn drain(store: &EmbeddedStore, name: &str) -> Vec<Value> {
    portal_testkit::drain(store, name).await
}

fn entry_event(subject: &str, occurred_at: OffsetDateTime, entry: &CalendarEntry) -> Event {
    Event::new(
        kinds::DEEMED_DELIVERY_DATE,
        &format!("{}:{}", entry.entry_id, occurred_at.unix_timestamp()),
        subject,
        occurred_at,
        serde_json::to_value(entry).expect("entry"),
    )
}

fn licence(date: Date) -> CalendarEntry {
    CalendarEntry {
        entry_id: "expiry-EA123456".into(),
        kind: "document-expiry".into(),
        title: "Konec platnosti řidičského průkazu".into(),
        date,
        document: Some("driving-licence".into()),
        source: "registers".into(),
        source_ref: "EA123456".into(),
        cancelled: false,
    }
}

async fn file(portal: &Portal, event: &Event) {
    entries::file_calendar_entry(&portal.calendar, event).await.expect("filed");
}

async fn list(portal: &Portal, login: &Login, query: &str) -> Vec<Value> {
    let (status, _, body) = call(&portal.router, get(&format!("/api/calendar/events{query}"), login)).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    json_of(&body)["items"].as_array().cloned().unwrap_or_default()
}

fn fields(body: &[u8]) -> Vec<String> {
    problem_fields(body)
}

async fn access_kinds(portal: &Portal, subject: &str) -> Vec<(Actor, String)> {
    let page = portal
        .calendar
        .access_log
        .list(&SubjectId::parse(subject).expect("id"), &AccessFilter::default(), 500, None)
        .await
        .expect("log");
    page.items.into_iter().map(|e| (e.actor, e.resource_type)).collect()
}

#[tokio::test]
async fn own_events_are_created_listed_edited_and_deleted() {
    let portal = portal();
    let jana = login(&portal, JANA).await;
    let visit = json!({
        "title": "Návštěva úřadu", "date": "2026-12-01", "remindDaysBefore": 2,
        "description": "Vzít s sebou občanku", "location": "Praha 1"
    });
    let (status, _, body) = call(&portal.router, write(Method::POST, "/api/calendar/events", &jana, Some(visit))).await;
    assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&body));
    let visit = json_of(&body);
    let visit_id = visit["id"].as_str().expect("id").to_owned();
    assert!(visit_id.starts_with("event-"));
    assert_eq!(visit["editable"], true);
    let meeting = json!({"title": "Schůzka", "start": "2026-11-30T09:00:00+01:00", "end": "2026-11-30T10:00:00+01:00"});
    let (status, _, body) =
        call(&portal.router, write(Method::POST, "/api/calendar/events", &jana, Some(meeting))).await;
    assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&body));
    assert_eq!(json_of(&body)["start"], "2026-11-30T08:00:00Z", "times are kept in UTC");

    // Validation problems name each field and rule.
    let bad = json!({"title": "", "date": "2026-13-01", "remindDaysBefore": 99, "colour": "red"});
    let (status, headers, body) =
        call(&portal.router, write(Method::POST, "/api/calendar/events", &jana, Some(bad))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
    let mut named = fields(&body);
    named.sort();
    assert_eq!(named, ["colour", "date", "remindDaysBefore", "title"], "{}", String::from_utf8_lossy(&body));
    assert!(json_of(&body)["errors"][0]["rule"].as_str().is_some_and(|r| !r.is_empty()));
    let backwards = json!({"title": "x", "start": "2026-11-30T10:00:00Z", "end": "2026-11-30T09:00:00Z"});
    let (status, _, body) =
        call(&portal.router, write(Method::POST, "/api/calendar/events", &jana, Some(backwards))).await;
    assert_eq!((status, fields(&body)), (StatusCode::UNPROCESSABLE_ENTITY, vec!["end".to_owned()]));
    let not_json = Request::post("/api/calendar/events")
        .header(header::COOKIE, &jana.cookie)
        .header("x-csrf-token", &jana.csrf)
        .body(Body::from("title=x"))
        .expect("request");
    let (status, _, body) = call(&portal.router, not_json).await;
    assert_eq!((status, fields(&body)), (StatusCode::UNPROCESSABLE_ENTITY, vec!["body".to_owned()]));
    let no_csrf = Request::post("/api/calendar/events")
        .header(header::COOKIE, &jana.cookie)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(json!({"title": "x", "date": "2026-12-01"}).to_string()))
        .expect("request");
    assert_eq!(call(&portal.router, no_csrf).await.0, StatusCode::FORBIDDEN);
    assert_eq!(call(&portal.router, anonymous("/api/calendar/events")).await.0, StatusCode::UNAUTHORIZED);

    // Listed in date order, titles opened.
    let items = list(&portal, &jana, "").await;
    let titles: Vec<&str> = items.iter().filter_map(|i| i["title"].as_str()).collect();
    assert_eq!(titles, ["Schůzka", "Návštěva úřadu"]);
    assert_eq!(items[1]["location"], "Praha 1");
    assert_eq!(items[1]["remindDaysBefore"], 2);
    assert!(list(&portal, &jana, "?from=2026-12-02&to=2026-12-31").await.is_empty(), "the range filters");
    let (status, _, body) =
        call(&portal.router, get("/api/calendar/events?from=2026-01-01&to=2029-01-01", &jana)).await;
    assert_eq!((status, fields(&body)), (StatusCode::UNPROCESSABLE_ENTITY, vec!["to".to_owned()]));
    let (status, _, body) = call(&portal.router, get("/api/calendar/events?from=yesterday", &jana)).await;
    assert_eq!((status, fields(&body)), (StatusCode::UNPROCESSABLE_ENTITY, vec!["from".to_owned()]));

    // The personal fields are sealed at rest.
    let stored = portal.store.get(COLLECTION, JANA, &visit_id).await.expect("get").expect("stored");
    let text = stored.body.to_string();
    for secret in ["Návštěva", "úřadu", "občanku", "Praha 1"] {
        assert!(!text.contains(secret), "{secret} is not stored in the clear: {text}");
    }

    // Edit and delete.
    let changed = json!({"title": "Návštěva finančního úřadu", "date": "2026-12-02"});
    let path = format!("/api/calendar/events/{visit_id}");
    let (status, _, body) = call(&portal.router, write(Method::PUT, &path, &jana, Some(changed))).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let (status, _, body) = call(&portal.router, get(&path, &jana)).await;
    assert_eq!(status, StatusCode::OK);
    let shown = json_of(&body);
    assert_eq!(
        (shown["title"].as_str(), shown["date"].as_str()),
        (Some("Návštěva finančního úřadu"), Some("2026-12-02"))
    );
    assert!(shown.get("location").is_none(), "PUT replaces the whole event");
    let (status, _, body) =
        call(&portal.router, write(Method::PUT, &path, &jana, Some(json!({"title": "x", "date": "no"})))).await;
    assert_eq!((status, fields(&body)), (StatusCode::UNPROCESSABLE_ENTITY, vec!["date".to_owned()]));
    assert_eq!(call(&portal.router, write(Method::DELETE, &path, &jana, None)).await.0, StatusCode::NO_CONTENT);
    assert_eq!(call(&portal.router, get(&path, &jana)).await.0, StatusCode::NOT_FOUND);
    assert_eq!(call(&portal.router, write(Method::DELETE, &path, &jana, None)).await.0, StatusCode::NOT_FOUND);
    assert_eq!(list(&portal, &jana, "").await.len(), 1);

    let log = access_kinds(&portal, JANA).await;
    for kind in ["calendar-events", "calendar-event"] {
        assert!(
            log.iter().any(|(actor, k)| *actor == Actor::Citizen && k == kind),
            "{kind} in the access log: {log:?}"
        );
    }
}

#[tokio::test]
async fn the_own_event_limit_holds() {
    let mut portal = portal();
    portal.calendar.settings.max_events_per_citizen = 2;
    portal.router = portal.harness.router(functions(portal.calendar.clone()));
    let jana = login(&portal, JANA).await;
    let event = || Some(json!({"title": "x", "date": "2026-12-01"}));
    let mut ids = Vec::new();
    for _ in 0..2 {
        let (status, _, body) = call(&portal.router, write(Method::POST, "/api/calendar/events", &jana, event())).await;
        assert_eq!(status, StatusCode::CREATED);
        ids.push(json_of(&body)["id"].as_str().expect("id").to_owned());
    }
    let (status, _, body) = call(&portal.router, write(Method::POST, "/api/calendar/events", &jana, event())).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(json_of(&body)["type"], "/problems/calendar-full");
    let path = format!("/api/calendar/events/{}", ids[0]);
    assert_eq!(call(&portal.router, write(Method::DELETE, &path, &jana, None)).await.0, StatusCode::NO_CONTENT);
    let (status, _, _) = call(&portal.router, write(Method::POST, "/api/calendar/events", &jana, event())).await;
    assert_eq!(status, StatusCode::CREATED, "a deletion frees a place");
}

#[tokio::test]
async fn system_entries_arrive_by_queue_once_and_cannot_be_edited() {
    let portal = portal();
    let jana = login(&portal, JANA).await;
    let deadline = CalendarEntry {
        entry_id: "filing-2026-001".into(),
        kind: "filing-deadline".into(),
        title: "Lhůta pro odpověď na podání".into(),
        date: date!(2026 - 12 - 10),
        document: None,
        source: "filings".into(),
        source_ref: "2026-001".into(),
        cancelled: false,
    };
    let first = entry_event(JANA, datetime!(2026-11-23 07:00 UTC), &deadline);
    for _ in 0..5 {
        file(&portal, &first).await;
    }
    // Once more the way the Functions host delivers it.
    let text = serde_json::to_string(&first).expect("json");
    let properties = portal_host::envelope::host_side::QueueMessageProperties {
        id: "m1".into(),
        pop_receipt: "p1".into(),
        dequeue_count: 1,
        insertion_time: datetime!(2026-11-23 07:00 UTC),
        expiration_time: datetime!(2026-11-30 07:00 UTC),
        next_visible_time: datetime!(2026-11-23 07:10 UTC),
    };
    let invocation = portal_host::envelope::host_side::queue_invocation(
        entries::FUNCTION,
        portal_host::function::QUEUE_BINDING,
        &text,
        &properties,
        datetime!(2026-11-23 08:00 UTC),
    );
    let request = Request::post("/FileCalendarEntry")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(serde_json::to_vec(&invocation).expect("json")))
        .expect("request");
    let (status, _, body) = call(&portal.router, request).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));

    let items = list(&portal, &jana, "").await;
    assert_eq!(items.len(), 1, "six deliveries, one entry: {items:?}");
    let item = &items[0];
    assert_eq!((item["origin"].as_str(), item["editable"].as_bool()), (Some("system"), Some(false)));
    assert_eq!((item["kind"].as_str(), item["date"].as_str()), (Some("filing-deadline"), Some("2026-12-10")));
    assert_eq!(item["title"], "Lhůta pro odpověď na podání");
    let id = item["id"].as_str().expect("id").to_owned();

    let path = format!("/api/calendar/events/{id}");
    let edit = Some(json!({"title": "x", "date": "2026-12-11"}));
    for request in [write(Method::PUT, &path, &jana, edit), write(Method::DELETE, &path, &jana, None)] {
        let (status, _, body) = call(&portal.router, request).await;
        assert_eq!(status, StatusCode::CONFLICT);
        let problem = json_of(&body);
        assert_eq!(problem["type"], "/problems/system-entry");
        assert!(problem["detail"].as_str().is_some_and(|d| d.contains("filings")), "{problem}");
    }

    // A newer publication moves it; an older one delivered late does not.
    let moved = CalendarEntry { date: date!(2026 - 12 - 17), ..deadline.clone() };
    file(&portal, &entry_event(JANA, datetime!(2026-11-23 07:30 UTC), &moved)).await;
    let late = CalendarEntry { date: date!(2026 - 12 - 1), ..deadline.clone() };
    file(&portal, &entry_event(JANA, datetime!(2026-11-23 06:00 UTC), &late)).await;
    let items = list(&portal, &jana, "").await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["date"], "2026-12-17");

    // Messages that can never be filed fail permanently.
    let broken =
        entry_event(JANA, datetime!(2026-11-23 07:00 UTC), &CalendarEntry { kind: "party".into(), ..deadline.clone() });
    let outcome = entries::file_calendar_entry(&portal.calendar, &broken).await;
    assert!(matches!(outcome, Err(InvocationError::Permanent(_))), "{outcome:?}");
    let mut shapeless = first.clone();
    shapeless.data = json!({"entryId": 5});
    assert!(matches!(
        entries::file_calendar_entry(&portal.calendar, &shapeless).await,
        Err(InvocationError::Permanent(_))
    ));
    let nobody = Event { subject: "a/b".into(), ..first.clone() };
    assert!(matches!(
        entries::file_calendar_entry(&portal.calendar, &nobody).await,
        Err(InvocationError::Permanent(_))
    ));

    // Cancelled: gone, and a late replay of the original does not bring it back.
    let cancel =
        entry_event(JANA, datetime!(2026-11-23 07:45 UTC), &CalendarEntry { cancelled: true, ..deadline.clone() });
    for _ in 0..3 {
        file(&portal, &cancel).await;
    }
    file(&portal, &first).await;
    assert!(list(&portal, &jana, "").await.is_empty(), "a cancelled entry is removed");
    assert_eq!(call(&portal.router, get(&path, &jana)).await.0, StatusCode::NOT_FOUND);
    let log = access_kinds(&portal, JANA).await;
    assert!(
        log.iter().any(|(actor, kind)| matches!(actor, Actor::System { job } if job == "FileCalendarEntry")
            && kind == "calendar-entry"),
        "{log:?}"
    );
}

#[tokio::test]
async fn another_citizens_items_are_not_found() {
    let portal = portal();
    let jana = login(&portal, JANA).await;
    let petr = login(&portal, PETR).await;
    let (_, _, body) = call(
        &portal.router,
        write(Method::POST, "/api/calendar/events", &jana, Some(json!({"title": "Soukromé", "date": "2026-12-01"}))),
    )
    .await;
    let own = json_of(&body)["id"].as_str().expect("id").to_owned();
    file(&portal, &entry_event(JANA, datetime!(2026-11-23 07:00 UTC), &licence(date!(2027 - 03 - 01)))).await;
    let system = list(&portal, &jana, "?from=2026-11-01&to=2027-12-31")
        .await
        .iter()
        .find(|i| i["origin"] == "system")
        .and_then(|i| i["id"].as_str().map(str::to_owned))
        .expect("system entry");
    for id in [&own, &system] {
        let path = format!("/api/calendar/events/{id}");
        assert_eq!(call(&portal.router, get(&path, &petr)).await.0, StatusCode::NOT_FOUND, "{id}");
        let edit = Some(json!({"title": "x", "date": "2026-12-01"}));
        assert_eq!(call(&portal.router, write(Method::PUT, &path, &petr, edit)).await.0, StatusCode::NOT_FOUND);
        assert_eq!(call(&portal.router, write(Method::DELETE, &path, &petr, None)).await.0, StatusCode::NOT_FOUND);
    }
    assert!(list(&portal, &petr, "?from=2026-11-01&to=2027-12-31").await.is_empty());
    assert_eq!(list(&portal, &jana, "?from=2026-11-01&to=2027-12-31").await.len(), 2, "still there");
    for junk in ["counter", "feed", "event-..", "entry-%2F"] {
        let path = format!("/api/calendar/events/{junk}");
        assert_eq!(call(&portal.router, get(&path, &jana)).await.0, StatusCode::NOT_FOUND, "{junk}");
    }
}

fn reminders_of(events: &[Value], kind: &str) -> Vec<Value> {
    events.iter().filter(|e| e["type"] == kind).cloned().collect()
}

async fn set_day(portal: &Portal, at: OffsetDateTime) {
    portal.clock.set(at);
}

#[tokio::test]
async fn document_expiry_reminds_30_days_7_days_and_on_the_day_once_each() {
    let portal = portal_at(datetime!(2026-11-22 10:00 UTC));
    let expiry = licence(date!(2026 - 12 - 23));
    file(&portal, &entry_event(JANA, datetime!(2026-11-22 09:00 UTC), &expiry)).await;
    reminders::run(&portal.calendar).await.expect("run");
    assert!(drain(&portal.store, "send-notification").await.is_empty(), "nothing due 31 days before");

    // 30 days before: twice the timer, one reminder.
    set_day(&portal, datetime!(2026-11-23 07:00 UTC)).await;
    let pending = portal
        .store
        .get(COLLECTION, "reminders-2026-11-23", &format!("{JANA}|entry-expiry-EA123456|30"))
        .await
        .expect("get")
        .expect("the schedule document sits in the day's partition");
    let first = reminders::run(&portal.calendar).await.expect("run");
    let second = reminders::run(&portal.calendar).await.expect("run again");
    assert_eq!((first.sent, second.sent), (1, 0), "{first:?} {second:?}");
    let events = drain(&portal.store, "send-notification").await;
    assert_eq!(events.len(), 1, "{events:?}");
    let reminder = &events[0];
    let fixed_id = format!("calendar.expiry-reminder:{JANA}:expiry-EA123456:2026-12-23:30");
    assert_eq!(reminder["id"], fixed_id.as_str());
    assert_eq!(reminder["type"], kinds::EXPIRY_REMINDER);
    assert_eq!(reminder["subject"], JANA);
    assert_eq!(reminder["data"]["daysLeft"], 30);
    assert_eq!(reminder["data"]["date"], "2026-12-23");
    assert_eq!(reminder["data"]["entryId"], "expiry-EA123456");
    assert_eq!(reminder["data"]["document"], "driving-licence");
    assert_eq!(reminder["data"]["title"], "Konec platnosti řidičského průkazu");

    // A crash between publishing and marking: the replay publishes the same
    // id (the notifications capability drops it), never another one; once
    // marked, nothing more.
    assert_eq!(reminders::fire(&portal.calendar, &pending).await.expect("replay"), reminders::Fired::Sent);
    let replayed = drain(&portal.store, "send-notification").await;
    assert_eq!(replayed.len(), 1);
    assert_eq!(replayed[0]["id"], fixed_id.as_str());
    assert_eq!(reminders::run(&portal.calendar).await.expect("run").sent, 0);
    assert!(drain(&portal.store, "send-notification").await.is_empty());

    // The days between remind of nothing; 7 days before and on the day, once each.
    for day in [datetime!(2026-11-24 07:00 UTC), datetime!(2026-12-10 07:00 UTC)] {
        set_day(&portal, day).await;
        reminders::run(&portal.calendar).await.expect("run");
    }
    assert!(drain(&portal.store, "send-notification").await.is_empty());
    for (day, days) in [(datetime!(2026-12-16 07:00 UTC), 7), (datetime!(2026-12-23 07:00 UTC), 0)] {
        set_day(&portal, day).await;
        reminders::run(&portal.calendar).await.expect("run");
        reminders::run(&portal.calendar).await.expect("run again");
        let events = reminders_of(&drain(&portal.store, "send-notification").await, kinds::EXPIRY_REMINDER);
        assert_eq!(events.len(), 1, "{days} days before: {events:?}");
        assert_eq!(events[0]["id"], format!("calendar.expiry-reminder:{JANA}:expiry-EA123456:2026-12-23:{days}"));
        assert_eq!(events[0]["data"]["daysLeft"], days);
    }
    let log = access_kinds(&portal, JANA).await;
    assert!(log.iter().any(|(actor, _)| matches!(actor, Actor::System { job } if job == "SendReminders")));
}

#[tokio::test]
async fn a_missed_day_is_caught_up_and_stale_reminders_stay_silent() {
    let portal = portal_at(datetime!(2026-11-20 07:00 UTC));
    let expiry = licence(date!(2026 - 12 - 23));
    file(&portal, &entry_event(JANA, datetime!(2026-11-20 06:00 UTC), &expiry)).await;
    reminders::run(&portal.calendar).await.expect("run");

    // The timer did not run on 23 November; the next run catches it up.
    set_day(&portal, datetime!(2026-11-25 07:00 UTC)).await;
    let report = reminders::run(&portal.calendar).await.expect("run");
    assert_eq!(report.sent, 1, "{report:?}");
    let events = drain(&portal.store, "send-notification").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["id"], format!("calendar.expiry-reminder:{JANA}:expiry-EA123456:2026-12-23:30"));
    assert_eq!(events[0]["data"]["daysLeft"], 28, "the days that are really left");

    // Renewed: the old date's reminders stay silent, even one a crash left
    // behind (put back here by hand), and the new date's come.
    let week_before = "reminders-2026-12-16";
    let left_behind = portal
        .store
        .get(COLLECTION, week_before, &format!("{JANA}|entry-expiry-EA123456|7"))
        .await
        .expect("get")
        .expect("scheduled");
    let renewed = licence(date!(2036 - 12 - 23));
    file(&portal, &entry_event(JANA, datetime!(2026-11-25 08:00 UTC), &renewed)).await;
    assert!(portal.store.get(COLLECTION, week_before, &left_behind.id).await.expect("get").is_none(), "cleaned up");
    portal
        .store
        .create(
            COLLECTION,
            portal_store::NewDocument::new(week_before, left_behind.id.clone(), left_behind.body.clone()),
        )
        .await
        .expect("put back");
    set_day(&portal, datetime!(2026-12-16 07:00 UTC)).await;
    let report = reminders::run(&portal.calendar).await.expect("run");
    assert_eq!((report.sent, report.stale), (0, 1), "{report:?}");
    set_day(&portal, datetime!(2026-12-23 07:00 UTC)).await;
    reminders::run(&portal.calendar).await.expect("run");
    assert!(drain(&portal.store, "send-notification").await.is_empty(), "nothing for the old date");

    // An own event with a reminder, moved after it was scheduled: only the new
    // date reminds.
    set_day(&portal, datetime!(2027-01-04 07:00 UTC)).await;
    let jana = login(&portal, JANA).await;
    let (status, _, body) = call(
        &portal.router,
        write(
            Method::POST,
            "/api/calendar/events",
            &jana,
            Some(json!({"title": "Podat daňové přiznání", "date": "2027-01-10", "remindDaysBefore": 3})),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let id = json_of(&body)["id"].as_str().expect("id").to_owned();
    let moved = Some(json!({"title": "Podat daňové přiznání", "date": "2027-01-12", "remindDaysBefore": 3}));
    let (status, _, _) =
        call(&portal.router, write(Method::PUT, &format!("/api/calendar/events/{id}"), &jana, moved)).await;
    assert_eq!(status, StatusCode::OK);
    set_day(&portal, datetime!(2027-01-07 07:00 UTC)).await;
    reminders::run(&portal.calendar).await.expect("run");
    assert!(drain(&portal.store, "send-notification").await.is_empty(), "not for the old date");
    set_day(&portal, datetime!(2027-01-09 07:00 UTC)).await;
    reminders::run(&portal.calendar).await.expect("run");
    let events = drain(&portal.store, "send-notification").await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["type"], kinds::DEADLINE_REMINDER);
    assert_eq!(events[0]["id"], format!("calendar.deadline-reminder:{JANA}:{id}:2027-01-12:3"));
    assert_eq!(events[0]["data"]["title"], "Podat daňové přiznání");

    // Cancelled: its reminders never fire.
    file(&portal, &entry_event(JANA, datetime!(2027-01-09 08:00 UTC), &CalendarEntry { cancelled: true, ..renewed }))
        .await;
    set_day(&portal, datetime!(2036-11-23 07:00 UTC)).await;
    reminders::run(&portal.calendar).await.expect("run");
    set_day(&portal, datetime!(2036-12-23 07:00 UTC)).await;
    reminders::run(&portal.calendar).await.expect("run");
    assert!(drain(&portal.store, "send-notification").await.is_empty(), "a cancelled entry reminds of nothing");
}

#[tokio::test]
async fn an_entry_filed_late_reminds_only_of_what_is_still_ahead() {
    let portal = portal_at(datetime!(2026-11-23 12:00 UTC));
    reminders::run(&portal.calendar).await.expect("the morning run");
    // Expires in 3 days: the 30- and 7-day reminders have passed.
    let soon = CalendarEntry {
        entry_id: "expiry-ID1".into(),
        document: Some("id-card".into()),
        ..licence(date!(2026 - 11 - 26))
    };
    file(&portal, &entry_event(JANA, datetime!(2026-11-23 11:00 UTC), &soon)).await;
    // Expires today, filed after the morning run: reminded on the day, at once.
    let today = CalendarEntry {
        entry_id: "expiry-P1".into(),
        document: Some("passport".into()),
        ..licence(date!(2026 - 11 - 23))
    };
    for _ in 0..3 {
        file(&portal, &entry_event(JANA, datetime!(2026-11-23 11:00 UTC), &today)).await;
    }
    let events = drain(&portal.store, "send-notification").await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["id"], format!("calendar.expiry-reminder:{JANA}:expiry-P1:2026-11-23:0"));
    for day in 24..=26 {
        set_day(
            &portal,
            OffsetDateTime::new_utc(
                Date::from_calendar_date(2026, time::Month::November, day).expect("day"),
                time::Time::MIDNIGHT,
            ) + time::Duration::hours(7),
        )
        .await;
        reminders::run(&portal.calendar).await.expect("run");
    }
    let events = drain(&portal.store, "send-notification").await;
    let ids: Vec<&str> = events.iter().filter_map(|e| e["id"].as_str()).collect();
    assert_eq!(ids, [format!("calendar.expiry-reminder:{JANA}:expiry-ID1:2026-11-26:0")], "only the day itself");
}

async fn feed_text(portal: &Portal, url: &str) -> (StatusCode, axum::http::HeaderMap, String) {
    let path = url.strip_prefix("https://portal.example").expect("the public base URL");
    let (status, headers, body) = call(&portal.router, anonymous(path)).await;
    (status, headers, String::from_utf8(body).expect("utf-8"))
}

const LONG_TITLE: &str =
    "Příliš žluťoučký kůň úpěl ďábelské ódy; čárka, středník; a zpětné lomítko \\ – ať se řádek zalomí";

/// Jana's calendar with the items the feed tests expect.
async fn feed_calendar(portal: &Portal, jana: &Login) {
    for body in [
        json!({"title": LONG_TITLE, "date": "2026-12-24", "description": "první řádek\ndruhý řádek"}),
        json!({"title": "Schůzka", "start": "2026-11-30T09:00:00+01:00", "end": "2026-11-30T10:30:00+01:00", "location": "Úřad, Praha", "remindDaysBefore": 1}),
        json!({"title": "Dovolená", "date": "2026-12-28", "endDate": "2027-01-03", "remindDaysBefore": 2}),
    ] {
        let (status, _, _) = call(&portal.router, write(Method::POST, "/api/calendar/events", jana, Some(body))).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    // The registers once titled expiries with the document's number: the feed must not carry it.
    let numbered = CalendarEntry { title: "Řidičský průkaz č. EL482915".into(), ..licence(date!(2027 - 03 - 01)) };
    file(portal, &entry_event(JANA, datetime!(2026-11-23 07:00 UTC), &numbered)).await;
}

async fn new_feed(portal: &Portal, login: &Login) -> String {
    let (status, headers, body) = call(&portal.router, write(Method::POST, "/api/calendar/feed", login, None)).await;
    assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&body));
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    json_of(&body)["url"].as_str().expect("url").to_owned()
}

#[tokio::test]
async fn the_feed_works_without_a_session_and_stops_after_rotation() {
    let portal = portal();
    let jana = login(&portal, JANA).await;
    feed_calendar(&portal, &jana).await;
    let (_, _, body) = call(&portal.router, get("/api/calendar/feed", &jana)).await;
    assert_eq!(json_of(&body), json!({"exists": false}));
    assert_eq!(
        call(
            &portal.router,
            Request::post("/api/calendar/feed")
                .header(header::COOKIE, &jana.cookie)
                .body(Body::empty())
                .expect("request")
        )
        .await
        .0,
        StatusCode::FORBIDDEN,
        "rotation is a write: CSRF applies"
    );

    let url = new_feed(&portal, &jana).await;
    assert!(url.starts_with("https://portal.example/api/calendar/feed/") && url.ends_with(".ics"), "{url}");
    let (status, headers, text) = feed_text(&portal, &url).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(headers[header::CONTENT_TYPE], "text/calendar; charset=utf-8");
    assert_eq!(headers[header::CACHE_CONTROL], "private, no-store");
    assert!(text.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"), "{text}");
    assert!(text.ends_with("END:VCALENDAR\r\n"));
    for line in text.split_terminator("\r\n") {
        assert!(line.len() <= 75, "folded at 75 octets: {line:?}");
        assert!(!line.contains('\n') && !line.contains('\r'), "CRLF only: {line:?}");
    }
    for needle in ["PRODID:", "CALSCALE:GREGORIAN", "METHOD:PUBLISH", "X-WR-CALNAME:Portál občana – kalendář"] {
        assert!(text.contains(needle), "{needle}");
    }
    let unfolded = text.replace("\r\n ", "");
    assert_eq!(unfolded.matches("BEGIN:VEVENT").count(), 4);
    assert_eq!(unfolded.matches("BEGIN:VTIMEZONE\r\nTZID:Europe/Prague\r\n").count(), 1);
    assert!(
        unfolded
            .contains(&format!("SUMMARY:{}", LONG_TITLE.replace('\\', "\\\\").replace(';', "\\;").replace(',', "\\,")))
    );
    assert!(unfolded.contains("DTSTART;VALUE=DATE:20261224\r\nDTEND;VALUE=DATE:20261225"));
    assert!(
        unfolded.contains("DTSTART;TZID=Europe/Prague:20261130T090000\r\nDTEND;TZID=Europe/Prague:20261130T103000")
    );
    assert!(unfolded.contains("DTSTART;VALUE=DATE:20261228\r\nDTEND;VALUE=DATE:20270104"), "several days");
    assert!(unfolded.contains("DESCRIPTION:první řádek\\ndruhý řádek"));
    assert!(unfolded.contains("LOCATION:Úřad\\, Praha"));
    assert!(unfolded.contains("CATEGORIES:Konec platnosti dokladu"));
    assert!(!unfolded.contains(JANA) && !unfolded.contains("jana"), "the feed does not carry the pseudonym");
    let without_suffix = url.trim_end_matches(".ics");
    assert_eq!(feed_text(&portal, without_suffix).await.0, StatusCode::OK);
    // UIDs are stable between fetches.
    let uids = |text: &str| -> Vec<String> {
        text.replace("\r\n ", "").lines().filter(|l| l.starts_with("UID:")).map(str::to_owned).collect()
    };
    assert_eq!(uids(&feed_text(&portal, &url).await.2), uids(&text));

    let log = access_kinds(&portal, JANA).await;
    assert!(
        log.iter().any(
            |(actor, kind)| matches!(actor, Actor::System { job } if job == "ical-feed") && kind == "calendar-feed"
        ),
        "each fetch is in the owner's access log: {log:?}"
    );
    let (_, _, body) = call(&portal.router, get("/api/calendar/feed", &jana)).await;
    let state = json_of(&body);
    assert_eq!(state["exists"], true);
    assert!(state["createdAt"].is_string());
    assert!(!String::from_utf8_lossy(&body).contains(url.rsplit('/').next().unwrap_or("x").trim_end_matches(".ics")));

    // Rotation: the old token stops at once, the new one works.
    let rotated = new_feed(&portal, &jana).await;
    assert_ne!(rotated, url);
    let (status, headers, _) = feed_text(&portal, &url).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
    let (status, _, rotated_text) = feed_text(&portal, &rotated).await;
    assert_eq!(status, StatusCode::OK);
    // UIDs are keyed per feed: the new feed's events cannot be linked to the old one's.
    let (before, after) = (uids(&text), uids(&rotated_text));
    assert_eq!(after.len(), before.len(), "the same events");
    assert!(after.iter().all(|uid| !before.contains(uid)), "no UID survives a rotation: {before:?} {after:?}");
    // Switched off: nothing works.
    assert_eq!(
        call(&portal.router, write(Method::DELETE, "/api/calendar/feed", &jana, None)).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(feed_text(&portal, &rotated).await.0, StatusCode::NOT_FOUND);
    let (_, _, body) = call(&portal.router, get("/api/calendar/feed", &jana)).await;
    assert_eq!(json_of(&body), json!({"exists": false}));
    for junk in ["nonsense.ics", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.ics"] {
        assert_eq!(
            call(&portal.router, anonymous(&format!("/api/calendar/feed/{junk}"))).await.0,
            StatusCode::NOT_FOUND
        );
    }
    // Each citizen's feed is their own.
    let petr = login(&portal, PETR).await;
    let petrs = new_feed(&portal, &petr).await;
    let (status, _, text) = feed_text(&portal, &petrs).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(text.matches("BEGIN:VEVENT").count(), 0);
}

/// The interpreter of a Python environment with `icalendar`; `None` skips
/// the test unless `PORTAL_REQUIRE_EMULATORS=1`.
fn python() -> Option<String> {
    match std::env::var("PORTAL_TEST_PYTHON") {
        Ok(value) if !value.trim().is_empty() => Some(value),
        _ if std::env::var("PORTAL_REQUIRE_EMULATORS").as_deref() == Ok("1") => {
            panic!("PORTAL_REQUIRE_EMULATORS=1 but PORTAL_TEST_PYTHON is not set (a Python with `icalendar` installed)")
        }
        _ => {
            println!("independent iCalendar parser not configured: skipping (PORTAL_TEST_PYTHON is not set)");
            None
        }
    }
}

const PARSE_WITH_ICALENDAR: &str = r#"
import json, sys
import icalendar
cal = icalendar.Calendar.from_ical(open(sys.argv[1], "rb").read())
events = []
for event in cal.walk("VEVENT"):
    events.append({
        "summary": str(event.get("summary")),
        "start": event.decoded("dtstart").isoformat(),
        "end": event.decoded("dtend").isoformat(),
        "uid": str(event.get("uid")),
        "description": str(event.get("description", "")),
        "location": str(event.get("location", "")),
        "tzid": str(event["dtstart"].params.get("tzid", "")),
        "alarms": sorted(
            (a.decoded("trigger").total_seconds(), str(a.get("action"))) for a in event.walk("VALARM")
        ),
    })
zones = {}
for tz in cal.walk("VTIMEZONE"):
    zone = tz.to_tz()
    import datetime
    zones[str(tz["tzid"])] = [
        zone.utcoffset(datetime.datetime(2026, 1, 15, 12)).total_seconds(),
        zone.utcoffset(datetime.datetime(2026, 7, 15, 12)).total_seconds(),
        zone.utcoffset(datetime.datetime(2026, 10, 25, 1, 30)).total_seconds(),
        zone.utcoffset(datetime.datetime(2026, 10, 25, 3, 30)).total_seconds(),
    ]
print(json.dumps({"name": str(cal.get("x-wr-calname")), "version": str(cal.get("version")), "events": events,
                  "zones": zones}))
"#;

#[tokio::test]
async fn the_feed_parses_with_python_icalendar() {
    let Some(python) = python() else { return };
    let portal = portal();
    let jana = login(&portal, JANA).await;
    feed_calendar(&portal, &jana).await;
    let url = new_feed(&portal, &jana).await;
    let (status, _, text) = feed_text(&portal, &url).await;
    assert_eq!(status, StatusCode::OK);
    let dir = tempfile::tempdir().expect("tempdir");
    let (ics, script) = (dir.path().join("feed.ics"), dir.path().join("parse.py"));
    std::fs::write(&ics, text.as_bytes()).expect("write feed");
    std::fs::write(&script, PARSE_WITH_ICALENDAR).expect("write script");
    let output = std::process::Command::new(&python).arg(&script).arg(&ics).output().expect("run python");
    assert!(output.status.success(), "python failed: {}", String::from_utf8_lossy(&output.stderr));
    let parsed: Value = serde_json::from_slice(&output.stdout).expect("json from python");
    assert_eq!(parsed["version"], "2.0");
    assert_eq!(parsed["name"], "Portál občana – kalendář");
    let events = parsed["events"].as_array().expect("events");
    assert_eq!(events.len(), 4, "{parsed}");
    // Europe/Prague as the feed defines it: CET, CEST in summer, back to CET on the last Sunday of October.
    assert_eq!(parsed["zones"]["Europe/Prague"], json!([3600.0, 7200.0, 7200.0, 3600.0]), "{parsed}");
    let find = |summary: &str| {
        events.iter().find(|e| e["summary"] == summary).unwrap_or_else(|| panic!("{summary} in {parsed}"))
    };
    let long = find(LONG_TITLE);
    assert_eq!((long["start"].as_str(), long["end"].as_str()), (Some("2026-12-24"), Some("2026-12-25")));
    assert_eq!(long["description"], "první řádek\ndruhý řádek");
    assert_eq!(long["alarms"], json!([]), "no reminder asked for");
    let meeting = find("Schůzka");
    assert_eq!(meeting["tzid"], "Europe/Prague");
    assert_eq!(meeting["start"], "2026-11-30T09:00:00+01:00");
    assert_eq!(meeting["end"], "2026-11-30T10:30:00+01:00");
    assert_eq!(meeting["location"], "Úřad, Praha");
    assert_eq!(meeting["alarms"], json!([[-86400.0, "DISPLAY"]]), "a day before its start");
    let holiday = find("Dovolená");
    assert_eq!((holiday["start"].as_str(), holiday["end"].as_str()), (Some("2026-12-28"), Some("2027-01-04")));
    assert_eq!(holiday["alarms"], json!([[-(86400.0 + 15.0 * 3600.0), "DISPLAY"]]), "two days before at 09:00");
    assert!(!text.contains("EL482915"), "no document number in the feed: {text}");
    let expiry = find("Končí platnost dokladu: řidičský průkaz");
    assert_eq!((expiry["start"].as_str(), expiry["end"].as_str()), (Some("2027-03-01"), Some("2027-03-02")));
    // The portal's reminders of an expiry: 30 and 7 days before at 09:00, and 09:00 on the day.
    let day = 86400.0;
    assert_eq!(
        expiry["alarms"],
        json!([
            [-(29.0 * day + 15.0 * 3600.0), "DISPLAY"],
            [-(6.0 * day + 15.0 * 3600.0), "DISPLAY"],
            [9.0 * 3600.0, "DISPLAY"]
        ])
    );
    let mut uids: Vec<&str> = events.iter().filter_map(|e| e["uid"].as_str()).collect();
    uids.sort_unstable();
    uids.dedup();
    assert_eq!(uids.len(), 4, "UIDs are unique");
}

#[tokio::test]
async fn erasure_deletes_a_citizens_calendar_reminders_and_feed_and_a_replay_succeeds() {
    use portal_store::Query;
    let portal = portal();
    let jana = login(&portal, JANA).await;
    let petr = login(&portal, PETR).await;
    let at = datetime!(2026-11-23 08:00 UTC);
    file(&portal, &entry_event(JANA, at, &licence(date!(2026 - 12 - 23)))).await;
    file(&portal, &entry_event(PETR, at, &licence(date!(2026 - 12 - 23)))).await;
    let visit = json!({"title": "Návštěva úřadu", "date": "2026-12-01", "remindDaysBefore": 2});
    let (status, _, _) = call(&portal.router, write(Method::POST, "/api/calendar/events", &jana, Some(visit))).await;
    assert_eq!(status, StatusCode::CREATED);
    let jana_feed = new_feed(&portal, &jana).await;
    let petr_feed = new_feed(&portal, &petr).await;
    let days = ["reminders-2026-11-29", "reminders-2026-12-16", "reminders-2026-12-23"];
    let schedules = |owner: &'static str| {
        let store = portal.store.clone();
        async move {
            let mut ids = Vec::new();
            for day in days {
                let page = store.query(COLLECTION, day, Query::default().page_size(1000)).await.expect("query");
                ids.extend(page.items.into_iter().map(|d| d.id).filter(|id| id.starts_with(&format!("{owner}|"))));
            }
            ids
        }
    };
    assert_eq!(schedules(JANA).await.len(), 3, "her licence reminders and her own event's reminder");

    portal.calendar.sealer.keys().shred(JANA).await.expect("the erasure shreds her key first");

    let event = Event::new(kinds::ERASED, &format!("{JANA}:1795420800"), JANA, at, json!({}));
    for _ in 0..2 {
        portal_calendar::queue::erase_calendar_data::erase(&portal.calendar, &event).await.expect("erased");
    }
    let left = portal.store.query(COLLECTION, JANA, Query::default()).await.expect("query");
    assert!(left.items.is_empty(), "nothing of hers is left: {:?}", left.items);
    assert!(schedules(JANA).await.is_empty(), "her reminder schedules are gone");
    let tokens = portal.store.query(COLLECTION, "feed-tokens", Query::default()).await.expect("query");
    assert_eq!(tokens.items.len(), 1, "only Petr's feed lookup is left");
    assert_eq!(feed_text(&portal, &jana_feed).await.0, StatusCode::NOT_FOUND);
    assert_eq!(feed_text(&portal, &petr_feed).await.0, StatusCode::OK, "Petr's feed is untouched");
    assert_eq!(schedules(PETR).await.len(), 2, "Petr's reminders are untouched");
    assert_eq!(list(&portal, &petr, "").await.len(), 1, "Petr's entry is untouched");
}
