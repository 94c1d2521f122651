//! The notifications capability in process, on the embedded store with a
//! manual clock and simulated channels: events become inbox entries and
//! e-mails/SMS as the citizen's preferences and verified contacts allow;
//! replays send once; retries go through the retry queue with backoff and
//! end in the poison queue; contacts are verified by code.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use portal_crypto::{CitizenKeys, Sealer};
use portal_events::{Event, kinds};
use portal_host::InvocationError;
use portal_host::PoisonRecord;
use portal_notifications::dispatch::{self, POISON_QUEUE, RETRY_QUEUE};
use portal_notifications::queue::send_notification;
use portal_notifications::{
    COLLECTION, ChannelError, NotificationSettings, Notifications, SimulatedMailer, SimulatedSms, functions,
};
use portal_store::{Clock, DocumentStore, QueueName, QueueStore};
use portal_testkit::faults::{FaultyDocuments, FaultyKeys, Op};
use portal_testkit::{Harness, JANA, Login, PETR, anonymous, call_json, get, queue_delivery, write};
use serde_json::{Value, json};
use time::macros::datetime;

struct Portal {
    router: Router,
    notifications: Notifications,
    mailer: Arc<SimulatedMailer>,
    sms: Arc<SimulatedSms>,
    harness: Harness,
}

impl Portal {
    fn router_for(&self, notifications: Notifications) -> Router {
        self.harness.router(functions(notifications))
    }
}

impl std::ops::Deref for Portal {
    type Target = Harness;

    fn deref(&self) -> &Harness {
        &self.harness
    }
}

fn portal() -> Portal {
    let harness = Harness::new();
    let mailer = Arc::new(SimulatedMailer::new());
    let sms = Arc::new(SimulatedSms::new());
    let notifications = Notifications {
        documents: harness.documents.clone(),
        queues: harness.store.clone(),
        sealer: harness.sealer.clone(),
        access_log: harness.access_log.clone(),
        clock: harness.clock.clone(),
        mailer: mailer.clone(),
        sms: sms.clone(),
        mail_limit: Notifications::mail_limiter(&NotificationSettings::default(), harness.clock.clone()),
        settings: NotificationSettings::default(),
    };
    let router = harness.router(functions(notifications.clone()));
    Portal { router, notifications, mailer, sms, harness }
}

/// Delivers a queue message the way the Functions host does: the envelope,
/// POSTed to `/{function}`.
async fn deliver(portal: &Portal, function: &str, text: &str) -> (StatusCode, Value) {
    let (status, _, body) = call_json(&portal.router, queue_delivery(function, text, portal.clock.now())).await;
    (status, body)
}

async fn send_event(portal: &Portal, event: &Event) -> Value {
    let (status, body) = deliver(portal, "SendNotification", &serde_json::to_string(event).expect("event")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// Receives every visible retry message and delivers it to `RetryNotification`
/// as the host would, deleting it on success. Returns how many there were.
async fn drain_retries(portal: &Portal) -> usize {
    let queue = QueueName::parse(RETRY_QUEUE).expect("queue");
    let messages = match portal.store.receive(&queue, 16, Duration::from_secs(600)).await {
        Ok(messages) => messages,
        Err(portal_store::StoreError::NotFound) => return 0,
        Err(error) => panic!("receive: {error}"),
    };
    for message in &messages {
        let (status, body) = deliver(portal, "RetryNotification", &message.text).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        QueueStore::delete(portal.store.as_ref(), &queue, &message.id, &message.pop_receipt).await.expect("delete");
    }
    messages.len()
}

fn new_message(subject: &str, key: &str) -> Event {
    Event::new(
        kinds::NEW_MESSAGE,
        key,
        subject,
        datetime!(2026-11-23 07:59 UTC),
        json!({"messageId": "4711", "sender": "Finanční úřad <Praha>", "subject": "Výzva k podání přiznání"}),
    )
}

fn expiry(subject: &str) -> Event {
    Event::new(
        kinds::EXPIRY_REMINDER,
        "id-card:2026-12-23:30",
        subject,
        datetime!(2026-11-23 06:00 UTC),
        json!({"document": "id-card", "date": "2026-12-23", "daysLeft": 30}),
    )
}

/// The six digits of the last code the simulated channels carried.
fn last_code(text: &str) -> String {
    let digits: Vec<char> = text.chars().collect();
    digits
        .windows(6)
        .map(|w| w.iter().collect::<String>())
        .find(|w| w.chars().all(|c| c.is_ascii_digit()))
        .expect("a six-digit code in the text")
}

async fn verify_email(portal: &Portal, login: &Login, address: &str) {
    let (status, _, body) = call_json(
        &portal.router,
        write(Method::PUT, "/api/me/contacts/email", login, Some(json!({"address": address}))),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let mail = portal.mailer.sent().last().cloned().expect("a code e-mail");
    assert_eq!(mail.to.as_str(), address);
    let code = last_code(&mail.text);
    assert_eq!(body["simulatedCode"], code.as_str(), "the simulator hands the code back, labelled");
    let (status, _, body) = call_json(
        &portal.router,
        write(Method::POST, "/api/me/contacts/email/verify", login, Some(json!({"code": code}))),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn verify_phone(portal: &Portal, login: &Login, number: &str) {
    let (status, _, body) =
        call_json(&portal.router, write(Method::PUT, "/api/me/contacts/phone", login, Some(json!({"number": number}))))
            .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let sms = portal.sms.sent().last().cloned().expect("a code SMS");
    let code = last_code(&sms.text);
    let (status, _, body) = call_json(
        &portal.router,
        write(Method::POST, "/api/me/contacts/phone/verify", login, Some(json!({"code": code}))),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn set_preferences(portal: &Portal, login: &Login, change: Value) {
    let (status, _, body) =
        call_json(&portal.router, write(Method::PUT, "/api/me/notification-preferences", login, Some(change))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn detail(portal: &Portal, login: &Login, event: &Event) -> Value {
    let id = dispatch::notification_id(&event.id);
    let (status, _, body) = call_json(&portal.router, get(&format!("/api/notifications/{id}"), login)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

#[tokio::test]
async fn a_new_message_reaches_the_inbox_and_a_verified_email_only() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    let petr = portal.login(PETR).await;
    verify_email(&portal, &jana, "jana@example.cz").await;
    let codes_sent = portal.mailer.sent().len();

    send_event(&portal, &new_message(JANA, "BOX1:4711")).await;
    send_event(&portal, &new_message(PETR, "BOX2:4712")).await;

    let mails = portal.mailer.sent();
    assert_eq!(mails.len(), codes_sent + 1, "one e-mail: Jana's; Petr has no verified e-mail");
    let mail = mails.last().expect("mail");
    assert_eq!(mail.to.as_str(), "jana@example.cz");
    assert_eq!(mail.subject, "Nová zpráva v datové schránce");
    assert_eq!(mail.from, "Portál občana <noreply@portal.gov.cz>");
    assert!(mail.text.contains("Finanční úřad <Praha>"), "{}", mail.text);
    assert!(mail.text.contains("http://localhost:7071/datova-schranka"), "{}", mail.text);
    assert!(mail.html.contains("Finanční úřad &lt;Praha&gt;") && !mail.html.contains("<Praha>"), "{}", mail.html);
    let id = dispatch::notification_id("databox.new-message:BOX1:4711");
    assert_eq!(mail.message_id, format!("<{id}.email@portal.gov.cz>"));

    let (status, _, inbox) = call_json(&portal.router, get("/api/notifications", &jana)).await;
    assert_eq!(status, StatusCode::OK, "{inbox}");
    let items = inbox["items"].as_array().expect("items");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["title"], "Nová zpráva v datové schránce");
    assert_eq!(items[0]["read"], false);
    assert_eq!(items[0]["id"], id.as_str());
    let jana_detail = detail(&portal, &jana, &new_message(JANA, "BOX1:4711")).await;
    assert_eq!(jana_detail["delivery"]["inbox"]["status"], "delivered");
    assert_eq!(jana_detail["delivery"]["email"]["status"], "sent");
    assert_eq!(jana_detail["delivery"]["email"]["attempts"], 1);
    assert_eq!(jana_detail["delivery"]["email"]["simulated"], true);
    assert_eq!(jana_detail["delivery"]["sms"]["status"], "skipped", "SMS is off by default");

    let (_, _, petr_inbox) = call_json(&portal.router, get("/api/notifications", &petr)).await;
    assert_eq!(petr_inbox["items"].as_array().map(Vec::len), Some(1), "the inbox is always on");
    let petr_detail = detail(&portal, &petr, &new_message(PETR, "BOX2:4712")).await;
    assert_eq!(petr_detail["delivery"]["email"]["status"], "skipped");
    assert_eq!(petr_detail["delivery"]["email"]["reason"], "no verified contact");

    // The stored document keeps title and body sealed.
    let stored = portal.store.get(COLLECTION, JANA, &id).await.expect("get").expect("stored");
    let raw = stored.body.to_string();
    assert!(!raw.contains("Finanční") && !raw.contains("Nová zpráva"), "sealed at rest: {raw}");
    let contact = portal.store.get(COLLECTION, JANA, "contact-email").await.expect("get").expect("contact");
    assert!(!contact.body.to_string().contains("jana@example.cz"), "contacts are sealed at rest");

    // Unread filter and marking as read.
    let (status, _, body) =
        call_json(&portal.router, write(Method::POST, &format!("/api/notifications/{id}/read"), &jana, None)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, _, unread) = call_json(&portal.router, get("/api/notifications?unread=true", &jana)).await;
    assert_eq!(unread["items"].as_array().map(Vec::len), Some(0));
    let (_, _, all) = call_json(&portal.router, get("/api/notifications", &jana)).await;
    assert_eq!(all["items"][0]["read"], true);

    let log = portal.access_entries(JANA).await;
    let kinds: Vec<&str> = log.iter().map(|e| e.resource_type.as_str()).collect();
    for kind in ["contact", "notification", "notification-list", "notification-contact"] {
        assert!(kinds.contains(&kind), "{kind} is in the access log: {kinds:?}");
    }
}

#[tokio::test]
async fn a_replayed_event_sends_each_channel_once_and_sms_carries_no_subject_or_sender() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    verify_email(&portal, &jana, "jana@example.cz").await;
    verify_phone(&portal, &jana, "+420 601 123 456").await;
    set_preferences(&portal, &jana, json!({"categories": {"databox": {"sms": true}}})).await;
    let (mails, texts) = (portal.mailer.sent().len(), portal.sms.sent().len());

    let event = new_message(JANA, "BOX1:4711");
    // Ten deliveries at once (interleaved at every store call), then more one by one.
    futures::future::join_all((0..10).map(|_| send_event(&portal, &event))).await;
    for _ in 0..3 {
        send_event(&portal, &event).await;
    }
    portal.clock.advance(Duration::from_secs(10 * 60));
    drain_retries(&portal).await; // any "check after the lease" messages of the concurrent ones
    let jana = portal.login(JANA).await;
    assert_eq!(portal.mailer.sent().len(), mails + 1, "one e-mail for ten deliveries");
    assert_eq!(portal.sms.sent().len(), texts + 1, "one SMS for ten deliveries");
    let (_, _, inbox) = call_json(&portal.router, get("/api/notifications", &jana)).await;
    assert_eq!(inbox["items"].as_array().map(Vec::len), Some(1), "one inbox entry");

    let sms = portal.sms.sent().last().cloned().expect("sms");
    assert_eq!(sms.to.as_str(), "+420601123456");
    assert!(sms.text.chars().count() <= 160, "{}", sms.text);
    for personal in ["Finanční", "Praha", "Výzva", "přiznání", "4711"] {
        assert!(!sms.text.contains(personal), "the SMS carries {personal}: {}", sms.text);
    }
    assert!(sms.text.contains("datové schránce"), "{}", sms.text);
    let detail = detail(&portal, &jana, &event).await;
    assert_eq!(detail["delivery"]["sms"]["status"], "delivered", "the simulator reports delivery");
}

#[tokio::test]
async fn preferences_have_defaults_and_refuse_unknown_fields_by_name() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    let (status, _, body) = call_json(&portal.router, get("/api/me/notification-preferences", &jana)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["inbox"]["alwaysOn"], true);
    assert!(body["note"].as_str().is_some_and(|n| n.contains("vždy")), "{body}");
    for category in ["databox", "calendar", "documents", "registers", "petitions", "account"] {
        assert_eq!(body["categories"][category], json!({"email": true, "sms": false}), "{category}");
    }
    assert_eq!(body["channels"]["email"]["contactVerified"], false);

    let refused = [
        (json!({"categories": {"weather": {"email": true}}}), "categories.weather"),
        (json!({"categories": {"databox": {"fax": true}}}), "categories.databox.fax"),
        (json!({"categories": {"databox": {"inbox": false}}}), "categories.databox.inbox"),
        (json!({"categories": {"databox": {"email": "yes"}}}), "categories.databox.email"),
        (json!({"inbox": false}), "inbox"),
        (json!({"colour": "blue"}), "colour"),
    ];
    for (change, field) in refused {
        let (status, headers, body) = call_json(
            &portal.router,
            write(Method::PUT, "/api/me/notification-preferences", &jana, Some(change.clone())),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{change}: {body}");
        assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
        let fields: Vec<&str> =
            body["errors"].as_array().expect("errors").iter().filter_map(|e| e["field"].as_str()).collect();
        assert_eq!(fields, [field], "{change}");
    }
    let (status, _, _) = call_json(
        &portal.router,
        Request::put("/api/me/notification-preferences")
            .header(header::COOKIE, &jana.cookie)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(r#"{"categories": {}}"#))
            .expect("request"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a write without the CSRF token is refused");

    set_preferences(&portal, &jana, json!({"categories": {"calendar": {"sms": true, "email": false}}})).await;
    let (_, _, body) = call_json(&portal.router, get("/api/me/notification-preferences", &jana)).await;
    assert_eq!(body["categories"]["calendar"], json!({"email": false, "sms": true}));
    assert_eq!(body["categories"]["databox"], json!({"email": true, "sms": false}), "others unchanged");

    // A category switched off sends no e-mail even with a verified address.
    verify_email(&portal, &jana, "jana@example.cz").await;
    let before = portal.mailer.sent().len();
    send_event(&portal, &expiry(JANA)).await;
    assert_eq!(portal.mailer.sent().len(), before);
    let detail = detail(&portal, &jana, &expiry(JANA)).await;
    assert_eq!(detail["delivery"]["email"]["status"], "skipped");
    assert_eq!(detail["title"], "Blíží se konec platnosti dokladu: občanský průkaz");
}

#[tokio::test]
async fn contacts_are_verified_by_code_with_limits() {
    let portal = portal();
    let jana = portal.login(JANA).await;

    let (status, _, body) = call_json(
        &portal.router,
        write(Method::PUT, "/api/me/contacts/email", &jana, Some(json!({"address": "jana@"}))),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errors"][0]["field"], "address");
    let (status, _, body) = call_json(
        &portal.router,
        write(Method::PUT, "/api/me/contacts/phone", &jana, Some(json!({"number": "+447911123456"}))),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["errors"][0]["rule"].as_str().is_some_and(|r| r.contains("EU member states")), "{body}");
    let (status, _, body) = call_json(
        &portal.router,
        write(Method::PUT, "/api/me/contacts/phone", &jana, Some(json!({"number": "+42060112345"}))),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["errors"][0]["rule"].as_str().is_some_and(|r| r.contains("9 digits")), "{body}");
    let (status, _, _) =
        call_json(&portal.router, write(Method::PUT, "/api/me/contacts/fax", &jana, Some(json!({"address": "x"}))))
            .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(portal.mailer.sent().is_empty() && portal.sms.sent().is_empty(), "nothing sent for bad input");

    // A code to the new address, five wrong tries lock it, even the right one then fails.
    let (status, _, body) = call_json(
        &portal.router,
        write(Method::PUT, "/api/me/contacts/email", &jana, Some(json!({"address": "jana@example.cz"}))),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let code = last_code(&portal.mailer.sent()[0].text);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for tries_left in (0..5).rev() {
        let (status, _, body) = call_json(
            &portal.router,
            write(Method::POST, "/api/me/contacts/email/verify", &jana, Some(json!({"code": wrong}))),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["errors"][0]["field"], "code");
        if tries_left > 0 {
            assert!(
                body["errors"][0]["rule"].as_str().is_some_and(|r| r.contains(&format!("{tries_left} tries left")))
            );
        }
    }
    let (status, _, body) = call_json(
        &portal.router,
        write(Method::POST, "/api/me/contacts/email/verify", &jana, Some(json!({"code": code}))),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "locked: {body}");
    assert!(body["errors"][0]["rule"].as_str().is_some_and(|r| r.contains("request a new one")), "{body}");
    let (_, _, contacts) = call_json(&portal.router, get("/api/me/contacts", &jana)).await;
    assert_eq!(contacts["email"]["verified"], false, "{contacts}");
    assert_eq!(contacts["email"]["pending"]["address"], "jana@example.cz");

    // A new code, the right one: verified.
    let (status, _, _) = call_json(
        &portal.router,
        write(Method::PUT, "/api/me/contacts/email", &jana, Some(json!({"address": "jana@example.cz"}))),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let code = last_code(&portal.mailer.sent()[1].text);
    let (status, _, body) = call_json(
        &portal.router,
        write(Method::POST, "/api/me/contacts/email/verify", &jana, Some(json!({"code": code}))),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, _, contacts) = call_json(&portal.router, get("/api/me/contacts", &jana)).await;
    assert_eq!(contacts["email"]["address"], "jana@example.cz");
    assert_eq!(contacts["email"]["verified"], true);
    assert_eq!(contacts["phone"], Value::Null);
    let (status, _, _) = call_json(
        &portal.router,
        write(Method::POST, "/api/me/contacts/email/verify", &jana, Some(json!({"code": code}))),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "a code works once");

    // Expiry: a code older than 15 minutes no longer works.
    let (status, _, _) = call_json(
        &portal.router,
        write(Method::PUT, "/api/me/contacts/phone", &jana, Some(json!({"number": "+421901123456"}))),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let code = last_code(&portal.sms.sent()[0].text);
    assert!(!portal.sms.sent()[0].text.contains("jana"), "the SMS carries the code only");
    portal.clock.advance(Duration::from_secs(15 * 60 + 1));
    let jana = portal.login(JANA).await; // sessions idle out after 15 minutes
    let (status, _, body) = call_json(
        &portal.router,
        write(Method::POST, "/api/me/contacts/phone/verify", &jana, Some(json!({"code": code}))),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["errors"][0]["rule"].as_str().is_some_and(|r| r.contains("expired")), "{body}");
    let (_, _, contacts) = call_json(&portal.router, get("/api/me/contacts", &jana)).await;
    assert_eq!(contacts["phone"], Value::Null, "an expired pending number is not shown");

    // Sends per hour: 3 so far; two more pass, the sixth is refused with Retry-After.
    portal.clock.advance(Duration::from_secs(60));
    for _ in 0..2 {
        let (status, _, _) = call_json(
            &portal.router,
            write(Method::PUT, "/api/me/contacts/phone", &jana, Some(json!({"number": "+421901123456"}))),
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED);
    }
    let (status, headers, body) = call_json(
        &portal.router,
        write(Method::PUT, "/api/me/contacts/phone", &jana, Some(json!({"number": "+421901123456"}))),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    let retry_after: u64 = headers[header::RETRY_AFTER].to_str().expect("ascii").parse().expect("seconds");
    assert!((1..=3600).contains(&retry_after), "{retry_after}");

    // Removing a contact.
    let (status, _, _) = call_json(&portal.router, write(Method::DELETE, "/api/me/contacts/email", &jana, None)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, _, contacts) = call_json(&portal.router, get("/api/me/contacts", &jana)).await;
    assert_eq!(contacts["email"], Value::Null);
    let (status, _, _) = call_json(&portal.router, write(Method::DELETE, "/api/me/contacts/email", &jana, None)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_sms_failing_twice_is_delivered_on_the_third_attempt_through_the_retry_queue() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    verify_phone(&portal, &jana, "+420601123456").await;
    set_preferences(&portal, &jana, json!({"categories": {"calendar": {"sms": true}}})).await;
    let before = portal.sms.attempts();
    portal.sms.fail_next(2, ChannelError::Temporary("the gateway timed out".into()));

    let event = expiry(JANA);
    send_event(&portal, &event).await;
    let status = detail(&portal, &jana, &event).await;
    assert_eq!(status["delivery"]["sms"]["status"], "retrying", "{status}");
    assert_eq!(status["delivery"]["sms"]["attempts"], 1);
    assert_eq!(status["delivery"]["sms"]["reason"], "the gateway timed out");

    portal.clock.advance(Duration::from_secs(59));
    assert_eq!(drain_retries(&portal).await, 0, "the retry waits its delay (1 min and up to a quarter more)");
    portal.clock.advance(Duration::from_secs(17));
    assert_eq!(drain_retries(&portal).await, 1);
    let status = detail(&portal, &jana, &event).await;
    assert_eq!(status["delivery"]["sms"]["status"], "retrying");
    assert_eq!(status["delivery"]["sms"]["attempts"], 2);

    portal.clock.advance(Duration::from_secs(4 * 60 + 59));
    assert_eq!(drain_retries(&portal).await, 0, "the second retry waits 5 min (and up to 75 s more)");
    portal.clock.advance(Duration::from_secs(77));
    assert_eq!(drain_retries(&portal).await, 1);
    let status = detail(&portal, &jana, &event).await;
    assert_eq!(status["delivery"]["sms"]["status"], "delivered", "{status}");
    assert_eq!(status["delivery"]["sms"]["attempts"], 3);
    assert_eq!(portal.sms.attempts() - before, 3);
    let sms = portal.sms.sent().last().cloned().expect("sms");
    assert!(sms.text.contains("občanského průkazu") && sms.text.contains("23. 12. 2026"), "{}", sms.text);

    // Replaying the original and the retries changes nothing.
    send_event(&portal, &event).await;
    portal.clock.advance(Duration::from_secs(3 * 3600));
    assert_eq!(drain_retries(&portal).await, 0);
    assert_eq!(portal.sms.attempts() - before, 3);
}

#[tokio::test]
async fn an_sms_failing_always_ends_failed_with_its_reason_in_the_poison_queue() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    verify_phone(&portal, &jana, "+420601123456").await;
    set_preferences(&portal, &jana, json!({"categories": {"calendar": {"sms": true}}})).await;
    portal.sms.fail_next(100, ChannelError::Temporary("the gateway timed out".into()));

    let event = expiry(JANA);
    send_event(&portal, &event).await;
    for wait in [60, 5 * 60, 30 * 60, 2 * 3600] {
        portal.clock.advance(Duration::from_secs(wait * 5 / 4 + 1));
        assert_eq!(drain_retries(&portal).await, 1, "one retry after {wait} s and its jitter");
    }
    portal.clock.advance(Duration::from_secs(24 * 3600));
    assert_eq!(drain_retries(&portal).await, 0, "no retry after the last attempt");
    let jana = portal.login(JANA).await; // sessions idle out after 15 minutes
    let status = detail(&portal, &jana, &event).await;
    let sms = &status["delivery"]["sms"];
    assert_eq!(sms["status"], "failed", "{status}");
    assert_eq!(sms["attempts"], 5);
    assert!(sms["reason"].as_str().is_some_and(|r| r.contains("the gateway timed out")), "{sms}");
    assert_eq!(status["delivery"]["inbox"]["status"], "delivered", "the inbox has it anyway");

    let poison = QueueName::parse(POISON_QUEUE).expect("queue");
    let messages = portal.store.receive(&poison, 16, Duration::from_secs(60)).await.expect("poison");
    assert_eq!(messages.len(), 1);
    let record = PoisonRecord::parse(&messages[0].text).expect("the one poison record shape");
    assert_eq!((record.queue.as_str(), record.function.as_str()), (RETRY_QUEUE, "RetryNotification"));
    assert_eq!(record.dequeue_count, 5);
    assert!(record.reason.contains("timed out"), "{record:?}");
    let message: Value = serde_json::from_str(&record.message).expect("the retry message, whole");
    assert_eq!(message["event"]["id"], event.id.as_str());
    assert_eq!(message["channel"], "sms");
    assert_eq!(message["restart"], true);
}

#[tokio::test]
async fn a_replayed_give_up_tries_the_channel_afresh_once() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    verify_email(&portal, &jana, "jana@example.cz").await;
    portal.mailer.fail_next(1, ChannelError::Permanent("the mail server refused the message (SMTP 550)".into()));
    let event = new_message(JANA, "BOX1:77");
    send_event(&portal, &event).await;
    let sent = portal.mailer.sent().len();
    let records = portal.drain(POISON_QUEUE).await;
    assert_eq!(records.len(), 1, "the give-up is kept whole");
    let record: PoisonRecord = serde_json::from_value(records[0].clone()).expect("record");

    // The operator fixed the relay and replays: the message goes back on its queue unchanged.
    let original = PoisonRecord::original(&record.to_text(), RETRY_QUEUE).expect("its own queue");
    for _ in 0..2 {
        let (status, body) = deliver(&portal, "RetryNotification", &original).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    assert_eq!(portal.mailer.sent().len(), sent + 1, "sent once, though replayed twice");
    let status = detail(&portal, &jana, &event).await;
    assert_eq!(status["delivery"]["email"]["status"], "sent", "{status}");
    assert_eq!(status["delivery"]["email"]["attempts"], 1, "a fresh start");
}

/// The notifications capability over `documents` and a key wrapper that
/// fails when told, with the same simulated channels and queues as `portal`.
fn faulty(portal: &Portal, documents: Arc<dyn DocumentStore>, keys: Arc<FaultyKeys>) -> Router {
    let citizen_keys = Arc::new(CitizenKeys::new(documents.clone(), keys, portal.clock.clone()));
    let notifications = Notifications {
        documents: documents.clone(),
        sealer: Sealer::new(citizen_keys),
        access_log: portal_security::AccessLog::new(documents, portal.clock.clone()),
        ..portal.notifications.clone()
    };
    portal.router_for(notifications)
}

#[tokio::test]
async fn a_passing_key_vault_fault_is_retried_not_dropped() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    verify_email(&portal, &jana, "jana@example.cz").await;
    let sent = portal.mailer.sent().len();
    let keys = Arc::new(FaultyKeys::new(portal.key_file.clone()));
    // A fresh keyring (an instance that has not cached Jana's key yet) behind a Key Vault that is down.
    let router = faulty(&portal, portal.documents.clone(), keys.clone());
    keys.down(1);
    let event = new_message(JANA, "BOX1:88");
    let text = serde_json::to_string(&event).expect("event");
    let (status, _, _) = call_json(&router, queue_delivery("SendNotification", &text, portal.clock.now())).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "not acknowledged: the host delivers it again");
    assert_eq!(keys.pending(), 0, "the fault was met");
    let (status, _, body) = call_json(&router, queue_delivery("SendNotification", &text, portal.clock.now())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(portal.mailer.sent().len(), sent + 1, "the e-mail went on the redelivery");
}

#[tokio::test]
async fn a_channel_left_sending_by_a_passing_store_fault_is_recovered_after_its_lease() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    verify_email(&portal, &jana, "jana@example.cz").await;
    let sent = portal.mailer.sent().len();
    let store = Arc::new(FaultyDocuments::new(portal.documents.clone()));
    // The contact is read once to create the notification, then again to send:
    // the second read (after `sending` is recorded) meets a throttled Cosmos DB.
    store.fail(1, 1, |call| call.op == Op::Get && call.id == Some("contact-email"));
    let keys = Arc::new(FaultyKeys::new(portal.key_file.clone()));
    let router = faulty(&portal, store.clone(), keys);
    let event = new_message(JANA, "BOX1:99");
    let text = serde_json::to_string(&event).expect("event");
    let (status, _, _) = call_json(&router, queue_delivery("SendNotification", &text, portal.clock.now())).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "retried, not acknowledged");
    assert_eq!(store.failed(), 1);
    let id = dispatch::notification_id(&event.id);
    let doc = portal.store.get(COLLECTION, JANA, &id).await.expect("get").expect("doc");
    assert_eq!(doc.body["channels"]["email"]["status"], "sending", "claimed before the fault");

    // Even if the message itself is never delivered again (it ran out of
    // tries), the check the failed attempt scheduled recovers the channel.
    assert_eq!(portal.mailer.sent().len(), sent);
    assert_eq!(drain_retries(&portal).await, 0, "the check waits for the lease to end");
    portal.clock.advance(Duration::from_secs(5 * 60));
    assert_eq!(drain_retries(&portal).await, 1, "the lease check is due");
    assert_eq!(portal.mailer.sent().len(), sent + 1, "sent exactly once after the lease");
    // A redelivery of the original now changes nothing.
    let (status, _, body) = call_json(&router, queue_delivery("SendNotification", &text, portal.clock.now())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(portal.mailer.sent().len(), sent + 1);
    let doc = portal.store.get(COLLECTION, JANA, &id).await.expect("get").expect("doc");
    assert_eq!(doc.body["channels"]["email"]["status"], "sent");
}

#[tokio::test]
async fn outgoing_mail_over_the_limit_waits_without_using_an_attempt() {
    let mut portal = portal();
    let settings = NotificationSettings { mail_per_minute: 1, ..NotificationSettings::default() };
    portal.notifications.mail_limit = Notifications::mail_limiter(&settings, portal.clock.clone());
    portal.router = portal.router_for(portal.notifications.clone());
    let jana = portal.login(JANA).await;
    let petr = portal.login(PETR).await;
    verify_email(&portal, &jana, "jana@example.cz").await;
    verify_email(&portal, &petr, "petr@example.cz").await;
    let sent = portal.mailer.sent().len();
    send_event(&portal, &new_message(JANA, "BOX1:1")).await;
    let second = new_message(PETR, "BOX2:1");
    send_event(&portal, &second).await;
    assert_eq!(portal.mailer.sent().len(), sent + 1, "one a minute");
    let status = detail(&portal, &petr, &second).await;
    assert_eq!(status["delivery"]["email"]["status"], "queued", "{status}");
    assert_eq!(status["delivery"]["email"]["attempts"], 0, "no attempt used up");
    portal.clock.advance(Duration::from_secs(60 + 16));
    assert_eq!(drain_retries(&portal).await, 1);
    assert_eq!(portal.mailer.sent().len(), sent + 2, "sent when the limit allows");
}

#[test]
fn retry_delays_spread_up_to_a_quarter_and_repeat_for_the_same_notification() {
    let base = Duration::from_secs(60);
    let spread: std::collections::BTreeSet<u128> =
        (0..200).map(|i| dispatch::retry_jitter(base, &format!("n{i}"), 1).as_millis()).collect();
    assert!(spread.len() > 150, "different notifications come back at different times: {}", spread.len());
    assert!(spread.iter().all(|ms| *ms < 15_000), "at most a quarter of the delay");
    assert!(spread.iter().any(|ms| *ms < 3_000) && spread.iter().any(|ms| *ms > 12_000), "over the whole range");
    assert_eq!(dispatch::retry_jitter(base, "n1", 2), dispatch::retry_jitter(base, "n1", 2), "repeatable");
}

#[tokio::test]
async fn a_permanent_channel_failure_is_not_retried() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    verify_email(&portal, &jana, "jana@example.cz").await;
    portal.mailer.fail_next(1, ChannelError::Permanent("the mail server refused the message (SMTP 550)".into()));
    let event = new_message(JANA, "BOX1:1");
    send_event(&portal, &event).await;
    let status = detail(&portal, &jana, &event).await;
    assert_eq!(status["delivery"]["email"]["status"], "failed");
    assert_eq!(status["delivery"]["email"]["attempts"], 1);
    portal.clock.advance(Duration::from_secs(3 * 3600));
    assert_eq!(drain_retries(&portal).await, 0);
    let jana = portal.login(JANA).await;
    let status = detail(&portal, &jana, &event).await;
    assert_eq!(status["delivery"]["email"]["status"], "failed", "still failed, never retried");
    assert!(status["delivery"]["email"]["reason"].as_str().is_some_and(|r| r.contains("SMTP 550")), "{status}");
}

#[tokio::test]
async fn another_citizens_notification_is_not_found() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    let petr = portal.login(PETR).await;
    let event = new_message(JANA, "BOX1:4711");
    send_event(&portal, &event).await;
    let id = dispatch::notification_id(&event.id);
    let (status, _, body) = call_json(&portal.router, get(&format!("/api/notifications/{id}"), &petr)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, _, _) =
        call_json(&portal.router, write(Method::POST, &format!("/api/notifications/{id}/read"), &petr, None)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, _, inbox) = call_json(&portal.router, get("/api/notifications", &petr)).await;
    assert_eq!(inbox["items"].as_array().map(Vec::len), Some(0));
    for bad in ["contact-email", "preferences", "..%2F..", "ZZ"] {
        let (status, _, _) = call_json(&portal.router, get(&format!("/api/notifications/{bad}"), &jana)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{bad}");
    }
    let (status, _, _) = call_json(&portal.router, anonymous("/api/notifications")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_inbox_pages_newest_first() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    for i in 0..5 {
        send_event(&portal, &new_message(JANA, &format!("BOX1:{i}"))).await;
        portal.clock.advance(Duration::from_secs(1));
    }
    let (_, _, first) = call_json(&portal.router, get("/api/notifications?pageSize=2", &jana)).await;
    assert_eq!(first["items"][0]["id"], dispatch::notification_id("databox.new-message:BOX1:4").as_str());
    let mut seen: Vec<String> = first["items"].as_array().expect("items").iter().map(|i| i["id"].to_string()).collect();
    let mut continuation = first["continuation"].as_str().map(str::to_owned);
    while let Some(token) = continuation {
        let (status, _, page) =
            call_json(&portal.router, get(&format!("/api/notifications?pageSize=2&continuation={token}"), &jana)).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        seen.extend(page["items"].as_array().expect("items").iter().map(|i| i["id"].to_string()));
        continuation = page["continuation"].as_str().map(str::to_owned);
    }
    assert_eq!(seen.len(), 5);
    let (status, _, body) = call_json(&portal.router, get("/api/notifications?continuation=garbage", &jana)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["errors"][0]["field"], "continuation");
    let (status, _, _) = call_json(&portal.router, get("/api/notifications?pageSize=0", &jana)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn invalid_messages_fail_permanently_and_unknown_kinds_get_a_generic_text() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    let mut bad = new_message(JANA, "x");
    bad.subject = "a/b".into();
    let result = send_notification::send_notification(&portal.notifications, &bad).await;
    assert!(matches!(&result, Err(InvocationError::Permanent(e)) if e.to_string().contains("subject")), "{result:?}");
    bad.subject = JANA.into();
    bad.id = String::new();
    assert!(matches!(
        send_notification::send_notification(&portal.notifications, &bad).await,
        Err(InvocationError::Permanent(_))
    ));
    // Through the host protocol: not an event at all → acknowledged (200), recorded as permanent.
    let (status, _) = deliver(&portal, "SendNotification", r#"{"hello": "world"}"#).await;
    assert_eq!(status, StatusCode::OK);

    let odd = Event::new("weather.storm", "1", JANA, datetime!(2026-11-23 08:00 UTC), json!({"where": "Brno"}));
    send_event(&portal, &odd).await;
    let status = detail(&portal, &jana, &odd).await;
    assert_eq!(status["title"], "Nové oznámení");
    assert_eq!(status["category"], "other");
}

#[tokio::test]
async fn a_crash_after_sending_sends_at_most_once_more() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    verify_email(&portal, &jana, "jana@example.cz").await;
    let event = new_message(JANA, "BOX1:4711");
    send_event(&portal, &event).await;
    let sent = portal.mailer.sent().len();

    // As if the process died after the relay took the mail but before `sent`
    // was recorded: the channel still says `sending`.
    let id = dispatch::notification_id(&event.id);
    let doc = portal.store.get(COLLECTION, JANA, &id).await.expect("get").expect("doc");
    let mut body = doc.body.clone();
    body["channels"]["email"]["status"] = json!("sending");
    body["channels"]["email"]["sendingSince"] = json!("2026-11-23T08:00:00Z");
    portal
        .store
        .replace(COLLECTION, portal_store::NewDocument::new(JANA, &id, body), &doc.etag)
        .await
        .expect("replace");

    // The redelivered message, inside the lease: nothing is sent now, a check is scheduled.
    send_event(&portal, &event).await;
    assert_eq!(portal.mailer.sent().len(), sent);
    assert_eq!(drain_retries(&portal).await, 0, "the check waits for the lease to end");
    portal.clock.advance(Duration::from_secs(5 * 60));
    assert_eq!(drain_retries(&portal).await, 1);
    assert_eq!(portal.mailer.sent().len(), sent + 1, "at worst one duplicate");
    for _ in 0..5 {
        send_event(&portal, &event).await;
    }
    portal.clock.advance(Duration::from_secs(3600));
    assert_eq!(drain_retries(&portal).await, 0);
    assert_eq!(portal.mailer.sent().len(), sent + 1, "and no more");
    let jana = portal.login(JANA).await;
    let status = detail(&portal, &jana, &event).await;
    assert_eq!(status["delivery"]["email"]["status"], "sent");
}

#[tokio::test]
async fn erasure_deletes_a_citizens_inbox_contacts_and_preferences_and_a_replay_succeeds() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    let petr = portal.login(PETR).await;
    verify_email(&portal, &jana, "jana@example.cz").await;
    verify_email(&portal, &petr, "petr@example.cz").await;
    set_preferences(&portal, &jana, json!({"categories": {"databox": {"sms": true}}})).await;
    send_event(&portal, &new_message(JANA, "BOX1:4711")).await;
    send_event(&portal, &new_message(PETR, "BOX2:4712")).await;

    let at = portal.clock.now();
    portal.notifications.sealer.keys().shred(JANA).await.expect("the erasure shreds her key first");
    let event = Event::new(kinds::ERASED, &format!("{JANA}:{}", at.unix_timestamp()), JANA, at, json!({}));
    let text = serde_json::to_string(&event).expect("event");
    for _ in 0..2 {
        let (status, body) = deliver(&portal, "EraseNotificationsData", &text).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let left = portal.store.query("notifications", JANA, portal_store::Query::default()).await.expect("query");
    assert!(left.items.is_empty(), "nothing of hers is left: {:?}", left.items);
    let (_, _, inbox) = call_json(&portal.router, get("/api/notifications", &petr)).await;
    assert_eq!(inbox["items"].as_array().map(Vec::len), Some(1), "Petr's inbox is untouched: {inbox}");
    let (_, _, contacts) = call_json(&portal.router, get("/api/me/contacts", &petr)).await;
    assert!(contacts.to_string().contains("petr@example.cz"), "Petr's contact is untouched: {contacts}");
}
