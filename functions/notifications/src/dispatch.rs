//! Queue functions `SendNotification` (on `send-notification`, message = a
//! [`portal_events::Event`]) and `RetryNotification` (on
//! [`RETRY_QUEUE`], message = [`RetryMessage`]).
//!
//! **One notification per event.** The notification document's id is the
//! SHA-256 (hex) of the event id, in the citizen's partition, created
//! create-only: the inbox entry (sealed title and body) and, per channel, a
//! delivery status. A replayed event finds it and does nothing new.
//!
//! **Per channel** (`email`, `sms`) the status moves
//! `queued → sending → sent | delivered`, or through `retrying` after a
//! temporary failure, or to `failed` (with the reason), or is `skipped` when
//! the citizen does not want that category on that channel or has no
//! verified contact. Each step is an ETag-guarded write, so of two deliveries
//! of the same message only one claims an attempt.
//!
//! **Write order.** `sending` (with the attempt number and time) is recorded
//! *before* the channel is called and the result right after. A crash between
//! the call and the record leaves `sending`; when the message comes back and
//! the status is older than [`sending_lease`](crate::NotificationSettings), the
//! attempt is made again: **at worst one duplicate e-mail or SMS**, never a
//! lost one. A `sending` status younger than the lease belongs to a delivery
//! in flight; a check message is scheduled for when the lease ends, so a
//! crash there is also picked up.
//!
//! **Retries.** A temporary failure on attempt *n* records `retrying`, then
//! puts a [`RetryMessage`] for attempt *n + 1* on [`RETRY_QUEUE`] with the
//! visibility delay `retry_delays[n - 1]` (1 min, 5 min, 30 min, 2 h), then
//! notes that the retry is scheduled; the original message is acknowledged. A
//! crash before the note makes the redelivered message schedule it again (a
//! duplicate retry message is a no-op: only one can claim the attempt). After
//! the last attempt, or on a permanent failure, the message goes to
//! [`POISON_QUEUE`] as `{event, channel, reason, attempts}` and then the
//! channel is marked `failed` (in that order: a crash between gives a
//! duplicate poison entry, never a lost one).
//!
//! A message that is not a valid event (bad subject, empty id or kind) is a
//! permanent failure with the reason; an unknown kind is not: it gets a
//! neutral text and a warning in the log.

use portal_crypto::CryptoError;
use portal_events::Event;
use portal_host::{InvocationError, Outcome};
use portal_security::{AccessEntry, Action, Actor, SubjectId};
use portal_store::{Document, NewDocument, QueueName, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::channel::{Channel, ChannelError, Delivery};
use crate::contacts::{self, Contact, ContactError};
use crate::mail::OutgoingMail;
use crate::preferences::{self, Preferences};
use crate::sms::OutgoingSms;
use crate::templates::{self, Rendered};
use crate::{COLLECTION, Notifications, rfc3339, sha256_hex};

pub const SEND_FUNCTION: &str = "SendNotification";
pub const RETRY_FUNCTION: &str = "RetryNotification";
pub const RETRY_QUEUE: &str = "notification-retry";
/// The host's poison queue of `send-notification`; channel failures are
/// written here as `{event, channel, reason, attempts}`.
pub const POISON_QUEUE: &str = "send-notification-poison";

/// One more attempt on one channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetryMessage {
    pub event: Event,
    pub channel: Channel,
    /// The attempt this message makes (2, 3, …); the same number again for a
    /// check after a `sending` lease.
    pub attempt: u32,
}

/// What [`POISON_QUEUE`] receives when a channel gives up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoisonMessage {
    pub event: Event,
    pub channel: Channel,
    pub reason: String,
    pub attempts: u32,
}

/// The notification document's id for an event: SHA-256 hex of the event id.
pub fn notification_id(event_id: &str) -> String {
    sha256_hex(event_id.as_bytes())
}

#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error("the event is invalid: {0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("the notification changed under every try")]
    Contended,
}

impl From<ContactError> for DispatchError {
    fn from(error: ContactError) -> Self {
        match error {
            ContactError::Store(error) => Self::Store(error),
            ContactError::Crypto(error) => Self::Crypto(error),
            other => Self::Invalid(other.to_string()),
        }
    }
}

impl DispatchError {
    fn into_invocation(self) -> InvocationError {
        let retryable = match &self {
            Self::Store(error) => error.is_retryable(),
            Self::Contended => true,
            Self::Crypto(CryptoError::Shredded) | Self::Invalid(_) => false,
            Self::Crypto(_) => false,
        };
        if retryable { InvocationError::retryable(self) } else { InvocationError::permanent(self) }
    }
}

/// Checks the envelope: a store-safe subject, an id and a kind.
fn check(event: &Event) -> Result<SubjectId, DispatchError> {
    if event.id.trim().is_empty() || event.id.len() > 1024 {
        return Err(DispatchError::Invalid("id must be 1-1024 characters".into()));
    }
    if event.kind.trim().is_empty() || event.kind.len() > 128 {
        return Err(DispatchError::Invalid("type must be 1-128 characters".into()));
    }
    SubjectId::parse(event.subject.clone())
        .map_err(|_| DispatchError::Invalid("subject is not a citizen's subject id".into()))
}

/// The queue function `SendNotification`.
pub async fn send_notification(n: &Notifications, event: &Event) -> Result<Outcome, InvocationError> {
    run(n, event, None).await.map_err(DispatchError::into_invocation)
}

/// The queue function `RetryNotification`.
pub async fn retry_notification(n: &Notifications, message: &RetryMessage) -> Result<Outcome, InvocationError> {
    if message.attempt == 0 || message.attempt > n.settings.max_attempts() {
        return Err(InvocationError::permanent(format!(
            "attempt must be 1-{}, not {}",
            n.settings.max_attempts(),
            message.attempt
        )));
    }
    run(n, &message.event, Some((message.channel, message.attempt))).await.map_err(DispatchError::into_invocation)
}

async fn run(n: &Notifications, event: &Event, only: Option<(Channel, u32)>) -> Result<Outcome, DispatchError> {
    let subject = check(event)?;
    let rendered = templates::render(event);
    if !rendered.known {
        tracing::warn!(kind = %event.kind, "no template for this event kind; a generic notice is used");
    }
    let id = notification_id(&event.id);
    let created = ensure_created(n, event, &subject, &id, &rendered).await?;
    let mut outcome = Outcome::done().log(if created { "notification created" } else { "notification already exists" });
    let work: Vec<(Channel, u32)> = match only {
        Some(one) => vec![one],
        None => Channel::ALL.iter().map(|c| (*c, 1)).collect(),
    };
    for (channel, attempt) in work {
        let step = advance(n, event, &subject, &id, channel, attempt, &rendered).await?;
        outcome = outcome.log(format!("{}: {step}", channel.as_str()));
    }
    Ok(outcome)
}

fn channel_state(doc: &Document, channel: Channel) -> (String, u32, Map<String, Value>) {
    let state = doc.body["channels"][channel.as_str()].as_object().cloned().unwrap_or_default();
    let status = state.get("status").and_then(Value::as_str).unwrap_or("skipped").to_owned();
    let attempts = state.get("attempts").and_then(Value::as_u64).and_then(|a| u32::try_from(a).ok()).unwrap_or(0);
    (status, attempts, state)
}

fn with_channel(doc: &Document, channel: Channel, state: Map<String, Value>) -> Value {
    let mut body = doc.body.clone();
    body["channels"][channel.as_str()] = Value::Object(state);
    body
}

/// Creates the notification (inbox entry and channel statuses) unless it
/// exists. True if this call created it.
async fn ensure_created(
    n: &Notifications,
    event: &Event,
    subject: &SubjectId,
    id: &str,
    rendered: &Rendered,
) -> Result<bool, DispatchError> {
    let owner = subject.as_str();
    if n.documents.get(COLLECTION, owner, id).await?.is_some() {
        return Ok(false);
    }
    let now = n.clock.now();
    let stored = n.documents.get(COLLECTION, owner, preferences::DOCUMENT_ID).await?;
    let preferences = stored.map(|doc| Preferences::from_stored(&doc.body)).unwrap_or_default();
    let category = preferences::category_of(event.category());
    let mut channels = Map::new();
    channels.insert("inbox".into(), json!({"status": "delivered", "deliveredAt": rfc3339(now)}));
    for channel in Channel::ALL {
        let state = if !preferences.allows(category, channel) {
            json!({"status": "skipped", "reason": "not chosen in the notification preferences", "attempts": 0})
        } else if n.documents.get(COLLECTION, owner, &contacts::contact_id(channel)).await?.is_none() {
            json!({"status": "skipped", "reason": "no verified contact", "attempts": 0})
        } else {
            json!({"status": "queued", "attempts": 0, "queuedAt": rfc3339(now)})
        };
        channels.insert(channel.as_str().into(), state);
    }
    let body = json!({
        "type": "notification",
        "kind": event.kind,
        "category": category.unwrap_or("other"),
        "occurredAt": rfc3339(event.occurred_at),
        "createdAt": rfc3339(now),
        "sortKey": i64::try_from(now.unix_timestamp_nanos()).unwrap_or(i64::MAX),
        "read": false,
        "title": n.seal(owner, id, "title", &rendered.title).await?,
        "body": n.seal(owner, id, "body", &rendered.body).await?,
        "path": rendered.path,
        "channels": channels,
    });
    match n.documents.create(COLLECTION, NewDocument::new(owner, id, body)).await {
        Ok(_) => {}
        Err(StoreError::Conflict) => return Ok(false),
        Err(error) => return Err(error.into()),
    }
    let entry = AccessEntry::new(
        Actor::System { job: SEND_FUNCTION.into() },
        Action::Create,
        "notification",
        id,
        "a notice for you in the portal's inbox",
    );
    n.access_log.record(subject, entry).await?;
    Ok(true)
}

/// What to do with one channel for one attempt, decided from its status.
enum Step {
    Done(&'static str),
    Claim,
    Reschedule,
    CheckLater(std::time::Duration),
}

fn decide(
    n: &Notifications,
    status: &str,
    attempts: u32,
    state: &Map<String, Value>,
    attempt: u32,
    now: OffsetDateTime,
) -> Step {
    match status {
        "queued" if attempts == 0 && attempt == 1 => Step::Claim,
        "retrying" if attempts + 1 == attempt => Step::Claim,
        "retrying" if attempts == attempt && state.get("retryScheduled") != Some(&Value::Bool(true)) => {
            Step::Reschedule
        }
        "sending" if attempts == attempt => {
            let since = state
                .get("sendingSince")
                .and_then(Value::as_str)
                .and_then(|s| OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok());
            let lease_end = since.map_or(now, |since| since + n.settings.sending_lease);
            if lease_end <= now { Step::Claim } else { Step::CheckLater((lease_end - now).unsigned_abs()) }
        }
        "sent" | "delivered" => Step::Done("already sent"),
        "failed" => Step::Done("already failed"),
        "skipped" => Step::Done("skipped"),
        _ => Step::Done("nothing to do for this attempt"),
    }
}

#[allow(clippy::too_many_arguments)]
async fn advance(
    n: &Notifications,
    event: &Event,
    subject: &SubjectId,
    id: &str,
    channel: Channel,
    attempt: u32,
    rendered: &Rendered,
) -> Result<String, DispatchError> {
    let owner = subject.as_str();
    for _ in 0..8 {
        let doc = n
            .documents
            .get(COLLECTION, owner, id)
            .await?
            .ok_or_else(|| DispatchError::Invalid("the notification vanished (erased?)".into()))?;
        let (status, attempts, mut state) = channel_state(&doc, channel);
        let now = n.clock.now();
        match decide(n, &status, attempts, &state, attempt, now) {
            Step::Done(why) => return Ok(why.into()),
            Step::CheckLater(wait) => {
                let check = RetryMessage { event: event.clone(), channel, attempt };
                enqueue(n, RETRY_QUEUE, &check, Some(wait)).await?;
                return Ok("another delivery is sending; checking again when its lease ends".into());
            }
            Step::Reschedule => {
                schedule_retry(n, event, subject, id, channel, attempt).await?;
                return Ok(format!("retry {} scheduled again", attempt + 1));
            }
            Step::Claim => {
                state.insert("status".into(), "sending".into());
                state.insert("attempts".into(), attempt.into());
                state.insert("sendingSince".into(), rfc3339(now).into());
                state.insert("lastAttemptAt".into(), rfc3339(now).into());
                state.remove("retryScheduled");
                state.remove("nextAttemptAt");
                let body = with_channel(&doc, channel, state);
                match n.documents.replace(COLLECTION, NewDocument::new(owner, id, body), &doc.etag).await {
                    Ok(_) => {}
                    Err(StoreError::PreconditionFailed) => continue,
                    Err(error) => return Err(error.into()),
                }
                return attempt_send(n, event, subject, id, channel, attempt, rendered).await;
            }
        }
    }
    Err(DispatchError::Contended)
}

/// Applies `change` to the channel's state if it is still `expected` on
/// `attempt`; re-reads on ETag races. False if the state moved on.
async fn update_channel(
    n: &Notifications,
    owner: &str,
    id: &str,
    channel: Channel,
    expected: &str,
    attempt: u32,
    change: impl Fn(&mut Map<String, Value>),
) -> Result<bool, DispatchError> {
    for _ in 0..8 {
        let Some(doc) = n.documents.get(COLLECTION, owner, id).await? else { return Ok(false) };
        let (status, attempts, mut state) = channel_state(&doc, channel);
        if status != expected || attempts != attempt {
            return Ok(false);
        }
        change(&mut state);
        let body = with_channel(&doc, channel, state);
        match n.documents.replace(COLLECTION, NewDocument::new(owner, id, body), &doc.etag).await {
            Ok(_) => return Ok(true),
            Err(StoreError::PreconditionFailed) => continue,
            Err(error) => return Err(error.into()),
        }
    }
    Err(DispatchError::Contended)
}

#[allow(clippy::too_many_arguments)]
async fn attempt_send(
    n: &Notifications,
    event: &Event,
    subject: &SubjectId,
    id: &str,
    channel: Channel,
    attempt: u32,
    rendered: &Rendered,
) -> Result<String, DispatchError> {
    let owner = subject.as_str();
    let Some(contact) = contacts::verified(n, owner, channel).await? else {
        update_channel(n, owner, id, channel, "sending", attempt, |state| {
            state.insert("status".into(), "skipped".into());
            state.insert("reason".into(), "the contact was removed before sending".into());
            state.remove("sendingSince");
        })
        .await?;
        return Ok("skipped: the contact was removed".into());
    };
    n.access_log
        .record(
            subject,
            AccessEntry::new(
                Actor::System { job: SEND_FUNCTION.into() },
                Action::Read,
                "notification-contact",
                channel.contact_name(),
                "sending you a notice you asked for",
            ),
        )
        .await?;
    let (result, simulated) = match &contact {
        Contact::Email(address) => {
            let link = n.settings.link(rendered.path);
            let (text, html) = templates::email_bodies(&rendered.title, &rendered.body, &link);
            let mail = OutgoingMail {
                from: n.settings.from_address.clone(),
                to: address.clone(),
                subject: rendered.title.clone(),
                text,
                html,
                message_id: format!("<{id}.email@{}>", n.settings.mail_domain()),
            };
            (n.mailer.send(&mail).await, n.mailer.simulated())
        }
        Contact::Phone(number) => {
            let sms = OutgoingSms { to: number.clone(), text: rendered.sms.clone(), reference: id.to_owned() };
            (n.sms.send(&sms).await, n.sms.simulated())
        }
    };
    let now = rfc3339(n.clock.now());
    match result {
        Ok(Delivery { delivered, reference }) => {
            let status = if delivered { "delivered" } else { "sent" };
            update_channel(n, owner, id, channel, "sending", attempt, |state| {
                state.insert("status".into(), status.into());
                state.insert(if delivered { "deliveredAt" } else { "sentAt" }.into(), now.clone().into());
                state.remove("sendingSince");
                state.remove("reason");
                if let Some(reference) = &reference {
                    state.insert("reference".into(), reference.clone().into());
                }
                if simulated {
                    state.insert("simulated".into(), true.into());
                }
            })
            .await?;
            Ok(format!("{status} on attempt {attempt}"))
        }
        Err(error) if error.is_temporary() && attempt < n.settings.max_attempts() => {
            let reason = error.reason().to_owned();
            let delay = retry_delay(n, attempt);
            let next = rfc3339(n.clock.now() + delay);
            let recorded = update_channel(n, owner, id, channel, "sending", attempt, |state| {
                state.insert("status".into(), "retrying".into());
                state.insert("reason".into(), reason.clone().into());
                state.insert("nextAttemptAt".into(), next.clone().into());
                state.insert("retryScheduled".into(), false.into());
                state.remove("sendingSince");
            })
            .await?;
            if recorded {
                schedule_retry(n, event, subject, id, channel, attempt).await?;
            }
            Ok(format!("attempt {attempt} failed temporarily ({reason}); retry scheduled"))
        }
        Err(error) => {
            give_up(n, event, owner, id, channel, attempt, &error).await?;
            Ok(format!("failed after {attempt} attempt(s): {}", error.reason()))
        }
    }
}

fn retry_delay(n: &Notifications, attempt: u32) -> std::time::Duration {
    let index = usize::try_from(attempt.saturating_sub(1)).unwrap_or(usize::MAX);
    n.settings.retry_delays.get(index).or(n.settings.retry_delays.last()).copied().unwrap_or_default()
}

/// Puts the retry message for `failed_attempt + 1` on the retry queue, then
/// notes that it is scheduled.
async fn schedule_retry(
    n: &Notifications,
    event: &Event,
    subject: &SubjectId,
    id: &str,
    channel: Channel,
    failed_attempt: u32,
) -> Result<(), DispatchError> {
    let message = RetryMessage { event: event.clone(), channel, attempt: failed_attempt + 1 };
    enqueue(n, RETRY_QUEUE, &message, Some(retry_delay(n, failed_attempt))).await?;
    update_channel(n, subject.as_str(), id, channel, "retrying", failed_attempt, |state| {
        state.insert("retryScheduled".into(), true.into());
    })
    .await?;
    Ok(())
}

/// The last attempt failed, or the failure is permanent: the poison queue
/// first, then `failed`.
async fn give_up(
    n: &Notifications,
    event: &Event,
    owner: &str,
    id: &str,
    channel: Channel,
    attempt: u32,
    error: &ChannelError,
) -> Result<(), DispatchError> {
    let reason = if error.is_temporary() {
        format!("{} (gave up after {attempt} attempts)", error.reason())
    } else {
        error.reason().to_owned()
    };
    let poison = PoisonMessage { event: event.clone(), channel, reason: reason.clone(), attempts: attempt };
    enqueue(n, POISON_QUEUE, &poison, None).await?;
    let now = rfc3339(n.clock.now());
    update_channel(n, owner, id, channel, "sending", attempt, |state| {
        state.insert("status".into(), "failed".into());
        state.insert("reason".into(), reason.clone().into());
        state.insert("failedAt".into(), now.clone().into());
        state.remove("sendingSince");
    })
    .await?;
    tracing::warn!(channel = channel.as_str(), attempts = attempt, reason = %reason, "a notification channel failed for good");
    Ok(())
}

async fn enqueue<T: Serialize>(
    n: &Notifications,
    queue: &str,
    message: &T,
    delay: Option<std::time::Duration>,
) -> Result<(), DispatchError> {
    let queue = QueueName::parse(queue)?;
    let text = serde_json::to_string(message).map_err(|e| StoreError::Invalid(e.to_string()))?;
    match n.queues.send(&queue, &text, delay).await {
        Err(StoreError::NotFound) => {
            n.queues.ensure(&queue).await?;
            n.queues.send(&queue, &text, delay).await?;
        }
        other => {
            other?;
        }
    }
    Ok(())
}
