//! The notifications' HTTP functions, one file per action (routes under
//! `/api`), and what they share:
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
//! Query strings and preferences that name fields or values that do not
//! exist answer 400; contact values and codes that break a rule answer 422.

pub mod change_preferences;
pub mod delete_contact;
pub mod list_contacts;
pub mod list_notifications;
pub mod mark_notification_read;
pub mod set_contact;
pub mod show_notification;
pub mod show_preferences;
pub mod verify_contact;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use portal_host::{FieldViolation, Problem};
use portal_security::{AccessEntry, AccessOutcome, Action, Actor, Citizen, RateLimiter};
use portal_store::{Document, ETag, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::channel::Channel;
use crate::contacts::{self, ContactError};
use crate::preferences::{self, Preferences};
use crate::{COLLECTION, Notifications};

pub(crate) type Shared = Arc<Notifications>;

/// 400: the request names fields or values that do not exist.
pub(crate) fn bad_fields(errors: Vec<FieldViolation>) -> Problem {
    let mut problem = Problem::validation(errors);
    problem.status = StatusCode::BAD_REQUEST.as_u16();
    problem
}

// ---------------------------------------------------------------- inbox

/// A notification in the citizen's inbox.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationItem {
    /// 64 hexadecimal digits.
    pub id: String,
    /// What happened, as the service that published it names it.
    #[schema(example = "databox.new-message")]
    pub kind: Option<String>,
    /// The preference category: `databox`, `calendar`, `documents`, `registers`, `filings`, `petitions`, `account` or `other`.
    #[schema(example = "databox")]
    pub category: Option<String>,
    #[schema(example = "Nová zpráva v datové schránce")]
    pub title: String,
    pub body: String,
    /// The portal page the notification is about.
    #[schema(example = "https://portal.gov.cz/datova-schranka")]
    pub link: String,
    /// When it happened, RFC 3339.
    pub occurred_at: Option<String>,
    /// When the notification was made, RFC 3339.
    pub created_at: Option<String>,
    pub read: bool,
    pub read_at: Option<String>,
    /// How each channel fared (only when one notification is shown).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery: Option<DeliveryStatus>,
}

/// The delivery of a notification on each channel.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryStatus {
    pub inbox: ChannelDelivery,
    pub email: ChannelDelivery,
    pub sms: ChannelDelivery,
}

/// One channel's delivery: `queued`, `sending`, `retrying`, `sent`,
/// `delivered`, `failed` or `skipped`, with its attempts and times (RFC 3339).
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChannelDelivery {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "sent")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
    /// Why it was skipped, is retried or failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queued_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_attempt_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_at: Option<String>,
    /// True when the channel is a simulator: nothing left the portal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub simulated: Option<bool>,
}

impl ChannelDelivery {
    /// The public part of a stored channel state.
    fn of(state: &Value) -> Self {
        serde_json::from_value(state.clone()).unwrap_or_default()
    }
}

fn is_notification_id(id: &str) -> bool {
    id.len() == 64 && id.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
}

/// The citizen's notification `id`, or 404.
pub(crate) async fn load(n: &Notifications, owner: &str, id: &str) -> Result<Document, Problem> {
    let not_found = || Problem::not_found("no such notification");
    if !is_notification_id(id) {
        return Err(not_found());
    }
    match n.documents.get(COLLECTION, owner, id).await? {
        Some(doc) if doc.body["type"] == "notification" => Ok(doc),
        _ => Err(not_found()),
    }
}

/// A stored notification as the citizen sees it, its texts opened.
pub(crate) async fn item(
    n: &Notifications,
    owner: &str,
    doc: &Document,
    detail: bool,
) -> Result<NotificationItem, Problem> {
    let text = |field: &str| doc.body[field].as_str().map(str::to_owned);
    let open = |field: &'static str| n.unseal(owner, &doc.id, field, doc.body[field].as_str().unwrap_or_default());
    let title = open("title").await?;
    let body = open("body").await?;
    let path = doc.body["path"].as_str().unwrap_or("/");
    let delivery = detail.then(|| {
        let channels = &doc.body["channels"];
        DeliveryStatus {
            inbox: ChannelDelivery::of(&channels["inbox"]),
            email: ChannelDelivery::of(&channels["email"]),
            sms: ChannelDelivery::of(&channels["sms"]),
        }
    });
    Ok(NotificationItem {
        id: doc.id.clone(),
        kind: text("kind"),
        category: text("category"),
        title,
        body,
        link: n.settings.link(path),
        occurred_at: text("occurredAt"),
        created_at: text("createdAt"),
        read: doc.body["read"].as_bool().unwrap_or(false),
        read_at: text("readAt"),
        delivery,
    })
}

// ---------------------------------------------------------- preferences

const INBOX_NOTE: &str =
    "Oznámení v Portálu občana se zobrazují vždy a vypnout je nelze. E-mail a SMS posíláme jen na ověřené kontakty.";

/// The citizen's notification preferences.
#[derive(Debug, Serialize, ToSchema)]
pub struct PreferencesView {
    pub inbox: InboxSetting,
    /// Category (`databox`, `calendar`, `documents`, `registers`, `filings`, `petitions`, `account`) → channels.
    pub categories: BTreeMap<String, ChannelChoice>,
    /// Channel (`email`, `sms`) → whether its contact is verified.
    pub channels: BTreeMap<String, ContactState>,
    /// A sentence for the citizen about what cannot be switched off.
    pub note: String,
}

/// The in-portal inbox: always on.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InboxSetting {
    pub enabled: bool,
    pub always_on: bool,
}

/// Whether a category goes out by e-mail and by SMS.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelChoice {
    pub email: bool,
    pub sms: bool,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContactState {
    pub contact_verified: bool,
}

/// The stored preferences (the defaults when there are none) with their ETag.
pub(crate) async fn stored_preferences(
    n: &Notifications,
    owner: &str,
) -> Result<(Preferences, Option<ETag>), StoreError> {
    Ok(match n.documents.get(COLLECTION, owner, preferences::DOCUMENT_ID).await? {
        Some(doc) => (Preferences::from_stored(&doc.body), Some(doc.etag)),
        None => (Preferences::default(), None),
    })
}

/// The preferences as the citizen sees them, with which contacts are verified.
pub(crate) async fn preferences_view(
    n: &Notifications,
    owner: &str,
    preferences: &Preferences,
) -> Result<PreferencesView, StoreError> {
    let mut channels = BTreeMap::new();
    for channel in Channel::ALL {
        let present = n.documents.get(COLLECTION, owner, &contacts::contact_id(channel)).await?.is_some();
        channels.insert(channel.as_str().to_owned(), ContactState { contact_verified: present });
    }
    let categories = preferences
        .choices()
        .map(|(category, email, sms)| (category.to_owned(), ChannelChoice { email, sms }))
        .collect();
    Ok(PreferencesView {
        inbox: InboxSetting { enabled: true, always_on: true },
        categories,
        channels,
        note: INBOX_NOTE.to_owned(),
    })
}

// ------------------------------------------------------------- contacts

/// A contact route's refusal: a problem, with `Retry-After` when the citizen
/// asked for too many codes.
#[derive(Debug)]
pub struct Refused {
    problem: Problem,
    retry_after: Option<Duration>,
}

impl From<Problem> for Refused {
    fn from(problem: Problem) -> Self {
        Self { problem, retry_after: None }
    }
}

impl From<ContactError> for Refused {
    fn from(error: ContactError) -> Self {
        let retry_after = match &error {
            ContactError::TooManyCodes { retry_after } => Some(*retry_after),
            _ => None,
        };
        Self { problem: error.into(), retry_after }
    }
}

impl From<StoreError> for Refused {
    fn from(error: StoreError) -> Self {
        Problem::from(error).into()
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self.retry_after {
            Some(wait) => RateLimiter::too_many(wait),
            None => self.problem.into_response(),
        }
    }
}

/// The channel a contact path names (`email`, `phone`), or 404.
pub(crate) fn channel_of(contact: &str) -> Result<Channel, Problem> {
    Channel::from_contact(contact).ok_or_else(|| Problem::not_found("contacts are 'email' and 'phone'"))
}

/// The key of a contact's value in bodies: `address` or `number`.
pub(crate) fn value_key(channel: Channel) -> &'static str {
    match channel {
        Channel::Email => "address",
        Channel::Sms => "number",
    }
}

/// A change of a contact, in the citizen's access log with whether it worked.
pub(crate) async fn record_contact_change(
    n: &Notifications,
    citizen: &Citizen,
    action: Action,
    channel: Channel,
    purpose: &str,
    succeeded: bool,
) -> Result<(), StoreError> {
    let mut entry = AccessEntry::new(Actor::Citizen, action, "contact", channel.contact_name(), purpose);
    if !succeeded {
        entry = entry.with_outcome(AccessOutcome::Failed);
    }
    n.access_log.record(&citizen.subject, entry).await
}

/// A pending e-mail address, waiting for its code.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PendingEmail {
    #[schema(example = "jana@example.cz")]
    pub address: String,
    pub code_expires_at: String,
}

/// A pending phone number, waiting for its code.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PendingPhone {
    #[schema(example = "+420601123456")]
    pub number: String,
    pub code_expires_at: String,
}
