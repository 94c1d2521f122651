//! The HTTP functions (routes relative to `/api`) and the two queue functions.
//!
//! | method | route | function |
//! |---|---|---|
//! | GET | `notifications?unread=true&continuation=…&pageSize=…` | `ListNotifications` |
//! | GET | `notifications/{id}` | `ShowNotification` |
//! | POST | `notifications/{id}/read` | `MarkNotificationRead` |
//! | GET, PUT | `me/notification-preferences` | `NotificationPreferences` |
//! | GET | `me/contacts` | `ListContacts` |
//! | PUT, DELETE | `me/contacts/{contact}` (`email`, `phone`) | `NotificationContact` |
//! | POST | `me/contacts/{contact}/verify` | `VerifyContact` |
//!
//! Every route needs a logged-in citizen; every read or change is in the
//! citizen's access log. Another citizen's notification id answers 404.

// Helpers here return `Result<_, Response>`: the error is the finished
// problem response, built once at the edge.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use portal_events::{ERASE_NOTIFICATIONS_QUEUE, NOTIFICATIONS_QUEUE};
use portal_host::{AuthLevel, FieldViolation, Function, Problem, QueueInvocation};
use portal_security::{AccessEntry, AccessOutcome, Action, Actor, Citizen, RateLimiter};
use portal_store::{FilterOp, NewDocument, Order, StoreError};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::address::{EmailAddress, PhoneNumber};
use crate::channel::Channel;
use crate::contacts::{self, Contact, ContactError};
use crate::dispatch::{self, RetryMessage};
use crate::erasure;
use crate::preferences::{self, Preferences};
use crate::{COLLECTION, Notifications, rfc3339};

type Shared = Arc<Notifications>;

pub fn functions(n: Shared) -> Vec<Function> {
    let (send_state, retry_state, erasure_state) = (n.clone(), n.clone(), n.clone());
    vec![
        Function::http("ListNotifications", "notifications", AuthLevel::Anonymous)
            .get(list)
            .with_state(n.clone())
            .build(),
        Function::http("ShowNotification", "notifications/{id}", AuthLevel::Anonymous)
            .get(show)
            .with_state(n.clone())
            .build(),
        Function::http("MarkNotificationRead", "notifications/{id}/read", AuthLevel::Anonymous)
            .post(mark_read)
            .with_state(n.clone())
            .build(),
        Function::http("NotificationPreferences", "me/notification-preferences", AuthLevel::Anonymous)
            .get(get_preferences)
            .put(put_preferences)
            .with_state(n.clone())
            .build(),
        Function::http("ListContacts", "me/contacts", AuthLevel::Anonymous)
            .get(list_contacts)
            .with_state(n.clone())
            .build(),
        Function::http("NotificationContact", "me/contacts/{contact}", AuthLevel::Anonymous)
            .put(set_contact)
            .delete(delete_contact)
            .with_state(n.clone())
            .build(),
        Function::http("VerifyContact", "me/contacts/{contact}/verify", AuthLevel::Anonymous)
            .post(verify_contact)
            .with_state(n)
            .build(),
        Function::queue(
            dispatch::SEND_FUNCTION,
            NOTIFICATIONS_QUEUE,
            move |invocation: QueueInvocation<portal_events::Event>| {
                let n = send_state.clone();
                async move { dispatch::send_notification(&n, &invocation.message).await }
            },
        ),
        Function::queue(
            dispatch::RETRY_FUNCTION,
            dispatch::RETRY_QUEUE,
            move |invocation: QueueInvocation<RetryMessage>| {
                let n = retry_state.clone();
                async move { dispatch::retry_notification(&n, &invocation.message).await }
            },
        ),
        Function::queue(
            erasure::FUNCTION,
            ERASE_NOTIFICATIONS_QUEUE,
            move |invocation: QueueInvocation<portal_events::Event>| {
                let n = erasure_state.clone();
                async move { erasure::erase(&n, &invocation.message).await }
            },
        ),
    ]
}

fn store_problem(error: &StoreError) -> Response {
    tracing::error!(error = %portal_host::runtime::error_chain(error), "store failure");
    Problem::unavailable("storage").into_response()
}

/// 400: the request names fields or values that do not exist.
fn bad_fields(errors: Vec<FieldViolation>) -> Response {
    let mut problem = Problem::validation(errors);
    problem.status = StatusCode::BAD_REQUEST.as_u16();
    problem.into_response()
}

fn contact_problem(error: &ContactError, channel: Channel) -> Response {
    match error {
        ContactError::TooManyCodes { retry_after } => RateLimiter::too_many(*retry_after),
        ContactError::NoPendingCode => Problem::new(StatusCode::CONFLICT, "no-pending-code", "No code is waiting")
            .with_detail(format!("set the {} first; a code is sent to it", channel.contact_name()))
            .into_response(),
        ContactError::Expired => {
            Problem::validation(vec![FieldViolation::new("code", "the code has expired; request a new one")])
                .into_response()
        }
        ContactError::Locked => Problem::validation(vec![FieldViolation::new(
            "code",
            "too many wrong codes: this code no longer works; request a new one",
        )])
        .into_response(),
        ContactError::WrongCode { tries_left } => {
            let rule = if *tries_left == 0 {
                "the code does not match; no tries left, request a new code".to_owned()
            } else {
                format!("the code does not match; {tries_left} tries left")
            };
            Problem::validation(vec![FieldViolation::new("code", rule)]).into_response()
        }
        ContactError::Busy => Problem::new(StatusCode::CONFLICT, "busy", "Another request is changing this contact")
            .with_detail("try again")
            .into_response(),
        ContactError::NotFound => Problem::not_found(format!("you have no {}", channel.contact_name())).into_response(),
        ContactError::Channel(reason) => {
            tracing::warn!(
                channel = channel.as_str(),
                reason = reason.reason(),
                "a verification code could not be sent"
            );
            Problem::unavailable(match channel {
                Channel::Email => "e-mail delivery",
                Channel::Sms => "SMS delivery",
            })
            .into_response()
        }
        ContactError::Store(error) => store_problem(error),
        ContactError::Crypto(error) => {
            tracing::error!(error = %error, "a contact could not be sealed or opened");
            Problem::internal().into_response()
        }
    }
}

async fn record(
    n: &Notifications,
    citizen: &Citizen,
    action: Action,
    kind: &str,
    id: &str,
    purpose: &str,
    ok: bool,
) -> Result<(), Response> {
    let mut entry = AccessEntry::new(Actor::Citizen, action, kind, id, purpose);
    if !ok {
        entry = entry.with_outcome(AccessOutcome::Failed);
    }
    n.access_log.record(&citizen.subject, entry).await.map_err(|e| store_problem(&e))
}

// ---------------------------------------------------------------- inbox

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListParams {
    #[serde(default)]
    unread: bool,
    continuation: Option<String>,
    page_size: Option<u32>,
}

/// The public part of a channel's delivery status.
fn delivery_json(state: &Value) -> Value {
    let keep = [
        "status",
        "attempts",
        "reason",
        "queuedAt",
        "lastAttemptAt",
        "nextAttemptAt",
        "sentAt",
        "deliveredAt",
        "failedAt",
        "simulated",
    ];
    let map: Map<String, Value> = state
        .as_object()
        .map(|o| o.iter().filter(|(k, _)| keep.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    Value::Object(map)
}

async fn item_json(
    n: &Notifications,
    owner: &str,
    doc: &portal_store::Document,
    detail: bool,
) -> Result<Value, Response> {
    let open = |field: &'static str| async move {
        let sealed = doc.body[field].as_str().unwrap_or_default();
        n.unseal(owner, &doc.id, field, sealed).await.map_err(|error| {
            tracing::error!(error = %error, "a notification could not be opened");
            Problem::internal().into_response()
        })
    };
    let title = open("title").await?;
    let body = open("body").await?;
    let path = doc.body["path"].as_str().unwrap_or("/");
    let mut item = json!({
        "id": doc.id,
        "kind": doc.body["kind"],
        "category": doc.body["category"],
        "title": title,
        "body": body,
        "link": n.settings.link(path),
        "occurredAt": doc.body["occurredAt"],
        "createdAt": doc.body["createdAt"],
        "read": doc.body["read"].as_bool().unwrap_or(false),
        "readAt": doc.body.get("readAt").cloned().unwrap_or(Value::Null),
    });
    if detail {
        let channels = &doc.body["channels"];
        item["delivery"] = json!({
            "inbox": delivery_json(&channels["inbox"]),
            "email": delivery_json(&channels["email"]),
            "sms": delivery_json(&channels["sms"]),
        });
    }
    Ok(item)
}

async fn list(
    State(n): State<Shared>,
    citizen: Citizen,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Response {
    let Ok(Query(params)) = params else {
        return bad_fields(vec![FieldViolation::new(
            "query",
            "unread is true|false, pageSize a number 1-100, continuation the token of the previous page",
        )]);
    };
    let page_size = params.page_size.unwrap_or(n.settings.page_size);
    if !(1..=100).contains(&page_size) {
        return bad_fields(vec![FieldViolation::new("pageSize", "must be 1-100")]);
    }
    let owner = citizen.subject.as_str();
    let mut query = portal_store::Query::default()
        .filter("type", FilterOp::Eq, "notification")
        .order_by("sortKey", Order::Descending)
        .page_size(page_size)
        .after(params.continuation);
    if params.unread {
        query = query.filter("read", FilterOp::Eq, false);
    }
    let page = match n.documents.query(COLLECTION, owner, query).await {
        Ok(page) => page,
        Err(StoreError::Invalid(_)) => {
            return bad_fields(vec![FieldViolation::new("continuation", "not a token this API issued")]);
        }
        Err(error) => return store_problem(&error),
    };
    let mut items = Vec::with_capacity(page.items.len());
    for doc in &page.items {
        match item_json(&n, owner, doc, false).await {
            Ok(item) => items.push(item),
            Err(response) => return response,
        }
    }
    if let Err(response) =
        record(&n, &citizen, Action::Read, "notification-list", "inbox", "list my notifications", true).await
    {
        return response;
    }
    Json(json!({"items": items, "continuation": page.continuation})).into_response()
}

fn is_notification_id(id: &str) -> bool {
    id.len() == 64 && id.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
}

async fn load(n: &Notifications, owner: &str, id: &str) -> Result<portal_store::Document, Response> {
    let not_found = || Problem::not_found("no such notification").into_response();
    if !is_notification_id(id) {
        return Err(not_found());
    }
    match n.documents.get(COLLECTION, owner, id).await {
        Ok(Some(doc)) if doc.body["type"] == "notification" => Ok(doc),
        Ok(_) => Err(not_found()),
        Err(error) => Err(store_problem(&error)),
    }
}

async fn show(State(n): State<Shared>, citizen: Citizen, Path(id): Path<String>) -> Response {
    let owner = citizen.subject.as_str();
    let doc = match load(&n, owner, &id).await {
        Ok(doc) => doc,
        Err(response) => return response,
    };
    let item = match item_json(&n, owner, &doc, true).await {
        Ok(item) => item,
        Err(response) => return response,
    };
    if let Err(response) = record(&n, &citizen, Action::Read, "notification", &id, "show a notification", true).await {
        return response;
    }
    Json(item).into_response()
}

async fn mark_read(State(n): State<Shared>, citizen: Citizen, Path(id): Path<String>) -> Response {
    let owner = citizen.subject.as_str();
    let mut read_at = None;
    for _ in 0..5 {
        let doc = match load(&n, owner, &id).await {
            Ok(doc) => doc,
            Err(response) => return response,
        };
        if doc.body["read"] == true {
            read_at = Some(doc.body["readAt"].clone());
            break;
        }
        let now = Value::from(rfc3339(n.clock.now()));
        let mut body = doc.body.clone();
        body["read"] = Value::Bool(true);
        body["readAt"] = now.clone();
        match n.documents.replace(COLLECTION, NewDocument::new(owner, &id, body), &doc.etag).await {
            Ok(_) => {
                read_at = Some(now);
                break;
            }
            Err(StoreError::PreconditionFailed) => continue,
            Err(error) => return store_problem(&error),
        }
    }
    let Some(read_at) = read_at else {
        return Problem::new(StatusCode::CONFLICT, "busy", "The notification is changing")
            .with_detail("try again")
            .into_response();
    };
    if let Err(response) =
        record(&n, &citizen, Action::Update, "notification", &id, "mark a notification as read", true).await
    {
        return response;
    }
    Json(json!({"id": id, "read": true, "readAt": read_at})).into_response()
}

// ---------------------------------------------------------- preferences

const INBOX_NOTE: &str =
    "Oznámení v Portálu občana se zobrazují vždy a vypnout je nelze. E-mail a SMS posíláme jen na ověřené kontakty.";

async fn preferences_json(n: &Notifications, owner: &str, preferences: &Preferences) -> Result<Value, Response> {
    let mut verified = Map::new();
    for channel in Channel::ALL {
        let present = match n.documents.get(COLLECTION, owner, &contacts::contact_id(channel)).await {
            Ok(doc) => doc.is_some(),
            Err(error) => return Err(store_problem(&error)),
        };
        verified.insert(channel.as_str().into(), json!({"contactVerified": present}));
    }
    Ok(json!({
        "inbox": {"enabled": true, "alwaysOn": true},
        "categories": preferences.categories_json(),
        "channels": verified,
        "note": INBOX_NOTE,
    }))
}

async fn stored_preferences(
    n: &Notifications,
    owner: &str,
) -> Result<(Preferences, Option<portal_store::ETag>), Response> {
    match n.documents.get(COLLECTION, owner, preferences::DOCUMENT_ID).await {
        Ok(Some(doc)) => Ok((Preferences::from_stored(&doc.body), Some(doc.etag))),
        Ok(None) => Ok((Preferences::default(), None)),
        Err(error) => Err(store_problem(&error)),
    }
}

async fn get_preferences(State(n): State<Shared>, citizen: Citizen) -> Response {
    let owner = citizen.subject.as_str();
    let (preferences, _) = match stored_preferences(&n, owner).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let body = match preferences_json(&n, owner, &preferences).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    if let Err(response) = record(
        &n,
        &citizen,
        Action::Read,
        "notification-preferences",
        "preferences",
        "show my notification preferences",
        true,
    )
    .await
    {
        return response;
    }
    Json(body).into_response()
}

async fn put_preferences(
    State(n): State<Shared>,
    citizen: Citizen,
    body: Result<Json<Value>, JsonRejection>,
) -> Response {
    let Ok(Json(change)) = body else {
        return bad_fields(vec![FieldViolation::new(
            "body",
            "JSON {\"categories\": {\"databox\": {\"email\": true, \"sms\": false}, ...}}",
        )]);
    };
    let owner = citizen.subject.as_str();
    let mut saved = None;
    for _ in 0..5 {
        let (mut preferences, etag) = match stored_preferences(&n, owner).await {
            Ok(found) => found,
            Err(response) => return response,
        };
        if let Err(errors) = preferences.apply(&change) {
            return bad_fields(errors);
        }
        let doc = NewDocument::new(owner, preferences::DOCUMENT_ID, preferences.to_stored());
        let written = match &etag {
            Some(etag) => n.documents.replace(COLLECTION, doc, etag).await,
            None => n.documents.create(COLLECTION, doc).await,
        };
        match written {
            Ok(_) => {
                saved = Some(preferences);
                break;
            }
            Err(StoreError::PreconditionFailed | StoreError::Conflict | StoreError::NotFound) => continue,
            Err(error) => return store_problem(&error),
        }
    }
    let Some(preferences) = saved else {
        return Problem::new(StatusCode::CONFLICT, "busy", "The preferences are changing")
            .with_detail("try again")
            .into_response();
    };
    let body = match preferences_json(&n, owner, &preferences).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    if let Err(response) = record(
        &n,
        &citizen,
        Action::Update,
        "notification-preferences",
        "preferences",
        "change my notification preferences",
        true,
    )
    .await
    {
        return response;
    }
    Json(body).into_response()
}

// ------------------------------------------------------------- contacts

fn value_key(channel: Channel) -> &'static str {
    match channel {
        Channel::Email => "address",
        Channel::Sms => "number",
    }
}

fn parse_contact_path(contact: &str) -> Result<Channel, Response> {
    Channel::from_contact(contact).ok_or_else(|| Problem::not_found("contacts are 'email' and 'phone'").into_response())
}

async fn list_contacts(State(n): State<Shared>, citizen: Citizen) -> Response {
    let owner = citizen.subject.as_str();
    let views = match contacts::view(&n, owner).await {
        Ok(views) => views,
        Err(error) => return contact_problem(&error, Channel::Email),
    };
    let mut body = Map::new();
    for view in views {
        let key = value_key(view.channel);
        let value = match (&view.verified, &view.pending) {
            (None, None) => Value::Null,
            _ => json!({
                key: view.verified.as_ref().map(|(v, _)| v.clone()),
                "verified": view.verified.is_some(),
                "verifiedAt": view.verified.as_ref().map(|(_, at)| rfc3339(*at)),
                "pending": view.pending.as_ref().map(|(v, expires)| json!({key: v, "codeExpiresAt": rfc3339(*expires)})),
            }),
        };
        body.insert(view.channel.contact_name().into(), value);
    }
    if let Err(response) =
        record(&n, &citizen, Action::Read, "contact", "all", "show my contacts for notices", true).await
    {
        return response;
    }
    Json(Value::Object(body)).into_response()
}

async fn set_contact(
    State(n): State<Shared>,
    citizen: Citizen,
    Path(contact): Path<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> Response {
    let channel = match parse_contact_path(&contact) {
        Ok(channel) => channel,
        Err(response) => return response,
    };
    let key = value_key(channel);
    let raw = body.ok().and_then(|Json(body)| {
        body.get(key).or_else(|| body.get("address")).and_then(Value::as_str).map(str::to_owned)
    });
    let Some(raw) = raw else {
        return bad_fields(vec![FieldViolation::new(key, "required, a string")]);
    };
    let parsed = match channel {
        Channel::Email => EmailAddress::parse(&raw).map(Contact::Email),
        Channel::Sms => PhoneNumber::parse(&raw).map(Contact::Phone),
    };
    let contact = match parsed {
        Ok(contact) => contact,
        Err(rule) => return Problem::validation(vec![FieldViolation::new(key, rule)]).into_response(),
    };
    let owner = citizen.subject.as_str();
    let result = contacts::request_code(&n, owner, &contact).await;
    if let Err(response) = record(
        &n,
        &citizen,
        Action::Update,
        "contact",
        channel.contact_name(),
        "set a contact for notices and send it a verification code",
        result.is_ok(),
    )
    .await
    {
        return response;
    }
    let sent = match result {
        Ok(sent) => sent,
        Err(error) => return contact_problem(&error, channel),
    };
    let minutes = n.settings.code_ttl.as_secs().div_ceil(60);
    let mut body = json!({
        "contact": channel.contact_name(),
        "pending": {key: contact.as_str(), "codeExpiresAt": rfc3339(sent.expires)},
        "detail": format!("Ověřovací kód jsme poslali na zadaný kontakt. Zadejte jej do {minutes} minut."),
    });
    if let Some(code) = sent.simulated_code {
        body["simulated"] = Value::Bool(true);
        body["simulatedCode"] = Value::from(code);
        body["notice"] =
            Value::from("SIMULATOR: nothing was sent; the code is shown here because the channel is simulated");
    }
    (StatusCode::ACCEPTED, Json(body)).into_response()
}

#[derive(Debug, Deserialize)]
struct VerifyBody {
    code: String,
}

async fn verify_contact(
    State(n): State<Shared>,
    citizen: Citizen,
    Path(contact): Path<String>,
    body: Result<Json<VerifyBody>, JsonRejection>,
) -> Response {
    let channel = match parse_contact_path(&contact) {
        Ok(channel) => channel,
        Err(response) => return response,
    };
    let code = match body {
        Ok(Json(body)) if body.code.trim().len() == 6 && body.code.trim().chars().all(|c| c.is_ascii_digit()) => {
            body.code
        }
        _ => return Problem::validation(vec![FieldViolation::new("code", "the 6 digits we sent you")]).into_response(),
    };
    let owner = citizen.subject.as_str();
    let result = contacts::verify(&n, owner, channel, &code).await;
    if let Err(response) = record(
        &n,
        &citizen,
        Action::Update,
        "contact",
        channel.contact_name(),
        "verify a contact for notices",
        result.is_ok(),
    )
    .await
    {
        return response;
    }
    match result {
        Ok(()) => Json(json!({"contact": channel.contact_name(), "verified": true})).into_response(),
        Err(error) => contact_problem(&error, channel),
    }
}

async fn delete_contact(State(n): State<Shared>, citizen: Citizen, Path(contact): Path<String>) -> Response {
    let channel = match parse_contact_path(&contact) {
        Ok(channel) => channel,
        Err(response) => return response,
    };
    let result = contacts::remove(&n, citizen.subject.as_str(), channel).await;
    if let Err(response) = record(
        &n,
        &citizen,
        Action::Delete,
        "contact",
        channel.contact_name(),
        "remove a contact for notices",
        result.is_ok(),
    )
    .await
    {
        return response;
    }
    match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => contact_problem(&error, channel),
    }
}
