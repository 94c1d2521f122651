//! One channel's delivery status and its attempts: the state in the
//! notification document (`channels.<email|sms>`), one attempt through the
//! channel, the retry message for the next attempt ([`RETRY_QUEUE`]) and the
//! poison entry when the channel gives up ([`POISON_QUEUE`]). When an attempt
//! is made is decided by the dispatch module, which uses this one.

use portal_events::Event;
use portal_security::{AccessEntry, Action, Actor, SubjectId};
use portal_store::{Document, NewDocument, QueueName, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::channel::{Channel, ChannelError, Delivery};
use crate::contacts::{self, Contact};
use crate::mail::OutgoingMail;
use crate::sms::OutgoingSms;
use crate::templates::{self, Rendered};
use crate::{COLLECTION, DispatchError, Notifications, rfc3339};

/// The function that sends notifications; the access-log actor of a send.
pub const SEND_FUNCTION: &str = "SendNotification";

pub const RETRY_QUEUE: &str = "notification-retry";
/// The poison queue of [`RETRY_QUEUE`]: a channel that gives up puts a
/// [`portal_host::PoisonRecord`] here whose message is a [`RetryMessage`]
/// with `restart`, so `portal replay-poison notification-retry` tries the
/// channel afresh (after the cause is fixed).
pub const POISON_QUEUE: &str = "notification-retry-poison";

/// One more attempt on one channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetryMessage {
    pub event: Event,
    pub channel: Channel,
    /// The attempt this message makes (2, 3, …); the same number again for a
    /// check after a `sending` lease.
    pub attempt: u32,
    /// A replayed give-up: the channel, `failed` on any attempt, starts again
    /// at `attempt` (1).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub restart: bool,
}

pub(crate) fn channel_state(doc: &Document, channel: Channel) -> (String, u32, Map<String, Value>) {
    let state = doc.body["channels"][channel.as_str()].as_object().cloned().unwrap_or_default();
    let status = state.get("status").and_then(Value::as_str).unwrap_or("skipped").to_owned();
    let attempts = state.get("attempts").and_then(Value::as_u64).and_then(|a| u32::try_from(a).ok()).unwrap_or(0);
    (status, attempts, state)
}

pub(crate) fn with_channel(doc: &Document, channel: Channel, state: Map<String, Value>) -> Value {
    let mut body = doc.body.clone();
    body["channels"][channel.as_str()] = Value::Object(state);
    body
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
pub(crate) async fn attempt_send(
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
            let link = n.settings.link(&rendered.path);
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
            let delay = retry_delay(n, id, attempt);
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

/// The wait after failed attempt `attempt`: the setting's delay plus up to a
/// quarter more, spread per notification and attempt ("jitter"), so a relay
/// outage that deferred thousands of e-mails at once does not bring them all
/// back in the same second. The spread is a hash of the notification id and
/// the attempt, not a random draw, so a redelivered message schedules the same
/// time again.
pub(crate) fn retry_delay(n: &Notifications, id: &str, attempt: u32) -> std::time::Duration {
    let index = usize::try_from(attempt.saturating_sub(1)).unwrap_or(usize::MAX);
    let base = n.settings.retry_delays.get(index).or(n.settings.retry_delays.last()).copied().unwrap_or_default();
    base + jitter(base, id, attempt)
}

/// A share in `[0, base / 4)` of `base`, chosen by SHA-256 of `id` and `attempt`.
pub(crate) fn jitter(base: std::time::Duration, id: &str, attempt: u32) -> std::time::Duration {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, format!("{id}\0{attempt}").as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest.as_ref()[..8]);
    let share = u64::from_be_bytes(first) as f64 / (u64::MAX as f64 + 1.0);
    base.mul_f64(share / 4.0)
}

/// Puts the retry message for `failed_attempt + 1` on the retry queue, then
/// notes that it is scheduled.
pub(crate) async fn schedule_retry(
    n: &Notifications,
    event: &Event,
    subject: &SubjectId,
    id: &str,
    channel: Channel,
    failed_attempt: u32,
) -> Result<(), DispatchError> {
    let message = RetryMessage { event: event.clone(), channel, attempt: failed_attempt + 1, restart: false };
    enqueue(n, RETRY_QUEUE, &message, Some(retry_delay(n, id, failed_attempt))).await?;
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
    mark_failed(n, event, owner, id, channel, attempt, reason).await
}

/// An attempt broke for good on the portal's side (a contact that no longer
/// opens, a refused store write) after the channel was claimed.
pub(crate) async fn give_up_after_error(
    n: &Notifications,
    event: &Event,
    owner: &str,
    id: &str,
    channel: Channel,
    attempt: u32,
    error: &DispatchError,
) -> Result<(), DispatchError> {
    let reason = format!("the portal could not make the attempt: {error}");
    mark_failed(n, event, owner, id, channel, attempt, reason).await
}

#[allow(clippy::too_many_arguments)]
async fn mark_failed(
    n: &Notifications,
    event: &Event,
    owner: &str,
    id: &str,
    channel: Channel,
    attempt: u32,
    reason: String,
) -> Result<(), DispatchError> {
    let replay = RetryMessage { event: event.clone(), channel, attempt: 1, restart: true };
    let message = serde_json::to_string(&replay).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let record = portal_host::PoisonRecord::new(
        RETRY_QUEUE,
        crate::dispatch::RETRY_FUNCTION,
        reason.clone(),
        attempt,
        n.clock.now(),
        message,
    );
    enqueue_text(n, POISON_QUEUE, &record.to_text(), None).await?;
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

pub(crate) async fn enqueue<T: Serialize>(
    n: &Notifications,
    queue: &str,
    message: &T,
    delay: Option<std::time::Duration>,
) -> Result<(), DispatchError> {
    let text = serde_json::to_string(message).map_err(|e| StoreError::Invalid(e.to_string()))?;
    enqueue_text(n, queue, &text, delay).await
}

async fn enqueue_text(
    n: &Notifications,
    queue: &str,
    text: &str,
    delay: Option<std::time::Duration>,
) -> Result<(), DispatchError> {
    let queue = QueueName::parse(queue)?;
    let text = text.to_owned();
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
