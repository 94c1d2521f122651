//! What the queue functions `SendNotification` (on `send-notification`,
//! message = a [`portal_events::Event`], see
//! [`crate::queue::send_notification`]) and `RetryNotification` (on
//! [`RETRY_QUEUE`], message = [`RetryMessage`], see
//! [`crate::queue::retry_notification`]) do.
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
//! duplicate retry message is a no-op: only one can claim the attempt). The
//! delays carry up to a quarter more of jitter, fixed per notification and
//! attempt. After the last attempt, or on a permanent failure, a
//! [`portal_host::PoisonRecord`] goes to [`POISON_QUEUE`] (its message is a
//! [`RetryMessage`] with `restart`, so replaying it tries the channel afresh)
//! and then the channel is marked `failed` (in that order: a crash between
//! gives a duplicate poison entry, never a lost one).
//!
//! **Passing faults** of the portal's own services (Cosmos DB throttled, Key
//! Vault unreachable) are retried by the host, never acknowledged: see
//! [`DispatchError`]'s `is_retryable`. One that hits after a channel was
//! claimed leaves it `sending` with a lease check scheduled, so the channel is
//! recovered even if the message itself is lost; a permanent one marks it
//! `failed`. **Outgoing mail** is limited per instance
//! ([`NotificationSettings::mail_per_minute`](crate::NotificationSettings)):
//! over the limit an e-mail waits on the retry queue without using an attempt.
//!
//! A message that is not a valid event (bad subject, empty id or kind) is a
//! permanent failure with the reason; an unknown kind, or a known kind whose
//! payload does not parse as its [`portal_events::Notice`], is not: it gets a
//! neutral text and a warning in the log.

use portal_events::Event;
use portal_host::Outcome;
use portal_security::{AccessEntry, Action, Actor, SubjectId};
use portal_store::{NewDocument, StoreError};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::channel::Channel;
use crate::contacts;
pub use crate::delivery::{POISON_QUEUE, RETRY_QUEUE, RetryMessage, SEND_FUNCTION};
use crate::delivery::{attempt_send, channel_state, enqueue, give_up_after_error, schedule_retry, with_channel};

use crate::preferences::{self, Preferences};
use crate::templates::{self, Rendered};
use crate::{COLLECTION, DispatchError, Notifications, rfc3339, sha256_hex};

pub const RETRY_FUNCTION: &str = "RetryNotification";

/// The spread added to a retry's delay ([`crate::delivery`]): up to a quarter
/// of `base`, fixed per notification and attempt.
pub fn retry_jitter(base: std::time::Duration, notification_id: &str, attempt: u32) -> std::time::Duration {
    crate::delivery::jitter(base, notification_id, attempt)
}

/// The notification document's id for an event: SHA-256 hex of the event id.
pub fn notification_id(event_id: &str) -> String {
    sha256_hex(event_id.as_bytes())
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

/// One channel's attempt a retry message asks for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Only {
    pub channel: Channel,
    pub attempt: u32,
    /// A replayed give-up: a `failed` channel starts again.
    pub restart: bool,
}

/// Creates the notification of `event` unless it exists, then advances every
/// channel (or, for a retry, the one `only` names) as far as its status allows.
pub(crate) async fn run(n: &Notifications, event: &Event, only: Option<Only>) -> Result<Outcome, DispatchError> {
    let subject = check(event)?;
    // An event that is not a notice gets a neutral text; `render` logs why.
    let rendered = templates::render(event);
    let id = notification_id(&event.id);
    let created = ensure_created(n, event, &subject, &id, &rendered).await?;
    let mut outcome = Outcome::done().log(if created { "notification created" } else { "notification already exists" });
    let work: Vec<Only> = match only {
        Some(one) => vec![one],
        None => Channel::ALL.iter().map(|c| Only { channel: *c, attempt: 1, restart: false }).collect(),
    };
    for Only { channel, attempt, restart } in work {
        let step = advance(n, event, &subject, &id, Only { channel, attempt, restart }, &rendered).await?;
        outcome = outcome.log(format!("{}: {step}", channel.as_str()));
    }
    Ok(outcome)
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
    only: Only,
    now: OffsetDateTime,
) -> Step {
    let attempt = only.attempt;
    match status {
        "failed" if only.restart => Step::Claim,
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

async fn advance(
    n: &Notifications,
    event: &Event,
    subject: &SubjectId,
    id: &str,
    only: Only,
    rendered: &Rendered,
) -> Result<String, DispatchError> {
    let Only { channel, attempt, restart } = only;
    let owner = subject.as_str();
    for _ in 0..8 {
        let doc = n
            .documents
            .get(COLLECTION, owner, id)
            .await?
            .ok_or_else(|| DispatchError::Invalid("the notification vanished (erased?)".into()))?;
        let (status, attempts, mut state) = channel_state(&doc, channel);
        let now = n.clock.now();
        match decide(n, &status, attempts, &state, only, now) {
            Step::Done(why) => return Ok(why.into()),
            Step::CheckLater(wait) => {
                let check = RetryMessage { event: event.clone(), channel, attempt, restart: false };
                enqueue(n, RETRY_QUEUE, &check, Some(wait)).await?;
                return Ok("another delivery is sending; checking again when its lease ends".into());
            }
            Step::Reschedule => {
                schedule_retry(n, event, subject, id, channel, attempt).await?;
                return Ok(format!("retry {} scheduled again", attempt + 1));
            }
            Step::Claim => {
                // The outgoing mail limit: over it, the attempt waits (without
                // using up an attempt) for a token plus a spread of up to 15 s,
                // so a deferred crowd does not return in one second.
                if channel == Channel::Email
                    && let Err(wait) = n.mail_limit.check("outgoing-mail")
                {
                    let delay = wait + crate::delivery::jitter(std::time::Duration::from_secs(60), id, attempt);
                    let later = RetryMessage { event: event.clone(), channel, attempt, restart };
                    enqueue(n, RETRY_QUEUE, &later, Some(delay)).await?;
                    return Ok(format!(
                        "the outgoing mail limit is reached; attempt {attempt} waits {}s",
                        delay.as_secs()
                    ));
                }
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
                return match attempt_send(n, event, subject, id, channel, attempt, rendered).await {
                    Ok(step) => Ok(step),
                    Err(error) => Err(after_claim_failed(n, event, owner, id, channel, attempt, error).await),
                };
            }
        }
    }
    Err(DispatchError::Contended)
}

/// The channel is ours (`sending`) but the attempt broke before its result
/// was recorded. A passing fault (Key Vault, Cosmos DB, the queue) leaves
/// `sending` for the lease and schedules the check that recovers it when the
/// lease ends (if the queue is down too, the host's redelivery of this message
/// schedules it); the error goes back so the host retries the message. A
/// permanent one marks the channel `failed` with the reason, so nothing stays
/// `sending` for ever.
#[allow(clippy::too_many_arguments)]
async fn after_claim_failed(
    n: &Notifications,
    event: &Event,
    owner: &str,
    id: &str,
    channel: Channel,
    attempt: u32,
    error: DispatchError,
) -> DispatchError {
    use portal_host::Failure as _;
    if error.is_retryable() {
        let check = RetryMessage { event: event.clone(), channel, attempt, restart: false };
        if let Err(scheduling) = enqueue(n, RETRY_QUEUE, &check, Some(n.settings.sending_lease)).await {
            tracing::warn!(channel = channel.as_str(), error = %scheduling,
                "could not schedule the lease check; the redelivered message will");
        }
    } else if let Err(marking) = give_up_after_error(n, event, owner, id, channel, attempt, &error).await {
        tracing::error!(channel = channel.as_str(), error = %marking, "could not mark the channel failed");
    }
    error
}
