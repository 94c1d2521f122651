//! The local host: what the Azure Functions host does, for a laptop.
//!
//! It fires timers on their NCRONTAB schedules and delivers queue messages
//! (lease, dequeue count, at most `maxDequeueCount` deliveries, then
//! `<queue>-poison`), by POSTing the very envelopes the real host sends to the
//! handler over HTTP. Local runs therefore go through the production decoding,
//! routing and error mapping. Each step is a plain async method that tests call
//! with a manual clock; [`LocalHost::run`] only loops over them.

use std::sync::Arc;
use std::time::Duration;

use portal_host::envelope::host_side::{QueueMessageProperties, queue_invocation, timer_invocation};
use portal_host::envelope::{InvocationResponse, ScheduleStatus, TimerInfo, TimerSchedule};
use portal_host::function::{QUEUE_BINDING, TIMER_BINDING};
use portal_host::manifest::{QUEUE_SETTINGS, QueueSettings};
use portal_host::ncrontab::Schedule;
use portal_host::runtime::INVOCATION_SECRET_HEADER;
use portal_host::{Runtime, Trigger};
use portal_store::{Clock, DocumentStore, NewDocument, QueueName, QueueStore, ReceivedMessage, StoreError};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio::sync::{Notify, watch};

/// Where the local host keeps each timer's status between runs.
const TIMER_COLLECTION: &str = "localhost";
const TIMER_PARTITION: &str = "timers";
/// How long a delivered message stays leased: the function timeout.
const LEASE: Duration = Duration::from_secs(10 * 60);
/// A timer that fires later than this after its occurrence is past due.
const PAST_DUE_AFTER: time::Duration = time::Duration::seconds(5);

#[derive(Debug, Clone)]
struct TimerFunction {
    name: String,
    schedule: Schedule,
}

#[derive(Debug, Clone)]
pub struct QueueFunction {
    pub name: String,
    pub queue: QueueName,
}

/// What one delivery round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delivery {
    pub received: usize,
    pub succeeded: usize,
    pub retried: usize,
    pub poisoned: usize,
}

/// One timer invocation the local host made.
#[derive(Debug, Clone, PartialEq)]
pub struct TimerRun {
    pub function: String,
    pub past_due: bool,
    pub succeeded: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredStatus {
    #[serde(with = "time::serde::rfc3339")]
    last: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    next: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    last_updated: OffsetDateTime,
}

#[derive(Debug)]
pub struct LocalHost {
    handler: String,
    client: reqwest::Client,
    queues: Arc<dyn QueueStore>,
    documents: Arc<dyn DocumentStore>,
    clock: Arc<dyn Clock>,
    settings: QueueSettings,
    timers: Vec<TimerFunction>,
    queue_functions: Vec<QueueFunction>,
    /// The runtime's invocation secret, sent on every invocation.
    invocation_secret: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum LocalHostError {
    #[error("queue '{queue}' of function {function} is not a valid queue name")]
    BadQueue { function: String, queue: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl LocalHost {
    /// A local host for the queue and timer functions of `runtime`, calling
    /// the handler at `handler` (`http://127.0.0.1:7071`).
    pub fn new(
        handler: &str,
        runtime: &Runtime,
        queues: Arc<dyn QueueStore>,
        documents: Arc<dyn DocumentStore>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, LocalHostError> {
        let mut timers = Vec::new();
        let mut queue_functions = Vec::new();
        for function in runtime.functions() {
            match &function.trigger {
                Trigger::Timer { schedule, .. } => {
                    timers.push(TimerFunction { name: function.name.clone(), schedule: schedule.clone() })
                }
                Trigger::Queue { queue, .. } => queue_functions.push(QueueFunction {
                    name: function.name.clone(),
                    queue: QueueName::parse(queue.clone()).map_err(|_| LocalHostError::BadQueue {
                        function: function.name.clone(),
                        queue: queue.clone(),
                    })?,
                }),
                Trigger::Http { .. } => {}
            }
        }
        Ok(Self {
            handler: handler.trim_end_matches('/').to_owned(),
            client: reqwest::Client::builder().timeout(LEASE + Duration::from_secs(60)).build().unwrap_or_default(),
            queues,
            documents,
            clock,
            settings: QUEUE_SETTINGS,
            timers,
            queue_functions,
            invocation_secret: runtime.invocation_secret().map(str::to_owned),
        })
    }

    pub fn queue_functions(&self) -> &[QueueFunction] {
        &self.queue_functions
    }

    /// Creates every trigger queue and its poison queue.
    pub async fn prepare(&self) -> Result<(), StoreError> {
        for function in &self.queue_functions {
            self.queues.ensure(&function.queue).await?;
            if let Some(poison) = function.queue.poison() {
                self.queues.ensure(&poison).await?;
            }
        }
        Ok(())
    }

    /// POSTs an envelope to `/{function}`; `Ok` only for a 2xx answer whose
    /// body is a response envelope, as the real host requires.
    async fn invoke(
        &self,
        function: &str,
        body: &portal_host::envelope::InvocationRequest,
    ) -> Result<InvocationResponse, String> {
        let mut request = self
            .client
            .post(format!("{}/{function}", self.handler))
            .header("X-Azure-Functions-HostVersion", "portal-local-host")
            .header("X-Azure-Functions-InvocationId", uuid::Uuid::new_v4().to_string())
            .header("User-Agent", "Azure-Functions-Host/portal-local-host");
        if let Some(secret) = &self.invocation_secret {
            request = request.header(INVOCATION_SECRET_HEADER, secret);
        }
        let response =
            request.json(body).send().await.map_err(|error| format!("the handler did not answer: {error}"))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("the handler answered {status}"));
        }
        let bytes = response.bytes().await.map_err(|error| format!("reading the response failed: {error}"))?;
        serde_json::from_slice(&bytes)
            .map_err(|_| "Invalid HttpResponseMessage: the body is not a response envelope".to_owned())
    }

    /// One delivery round for one queue function: receive a batch, invoke each
    /// message, then delete it, make it visible again after the visibility
    /// timeout, or move it to the poison queue after the last try.
    pub async fn deliver(&self, function: &QueueFunction) -> Result<Delivery, StoreError> {
        let messages = self.queues.receive(&function.queue, self.settings.batch_size, LEASE).await?;
        let mut delivery = Delivery { received: messages.len(), ..Delivery::default() };
        let outcomes =
            futures::future::join_all(messages.iter().map(|message| self.deliver_one(function, message))).await;
        for outcome in outcomes {
            match outcome? {
                Settled::Done => delivery.succeeded += 1,
                Settled::Retry => delivery.retried += 1,
                Settled::Poisoned => delivery.poisoned += 1,
            }
        }
        Ok(delivery)
    }

    async fn deliver_one(&self, function: &QueueFunction, message: &ReceivedMessage) -> Result<Settled, StoreError> {
        let properties = QueueMessageProperties {
            id: message.id.clone(),
            pop_receipt: message.pop_receipt.clone(),
            dequeue_count: message.dequeue_count,
            insertion_time: message.inserted_at,
            expiration_time: message.expires_at,
            next_visible_time: message.next_visible,
        };
        let envelope = queue_invocation(&function.name, QUEUE_BINDING, &message.text, &properties, self.clock.now());
        match self.invoke(&function.name, &envelope).await {
            Ok(response) => {
                for line in &response.logs {
                    tracing::info!(function = %function.name, message_id = %message.id, "{line}");
                }
                match self.queues.delete(&function.queue, &message.id, &message.pop_receipt).await {
                    Ok(()) | Err(StoreError::NotFound) => Ok(Settled::Done),
                    Err(error) => Err(error),
                }
            }
            Err(reason) if message.dequeue_count >= self.settings.max_dequeue_count => {
                let Some(poison) = function.queue.poison() else {
                    tracing::error!(function = %function.name, message_id = %message.id, %reason, "message failed its last try and has no poison queue");
                    return Ok(Settled::Retry);
                };
                // Copy first, then delete: a crash in between leaves a duplicate
                // in the poison queue, never a lost message. The copy is the one
                // poison-record shape: the message whole, with why.
                let mut record = portal_host::PoisonRecord::new(
                    function.queue.as_str(),
                    &function.name,
                    reason.clone(),
                    message.dequeue_count,
                    self.clock.now(),
                    message.text.clone(),
                );
                record.message_id = Some(message.id.clone());
                self.queues.send(&poison, &record.to_text(), None).await?;
                match self.queues.delete(&function.queue, &message.id, &message.pop_receipt).await {
                    Ok(()) | Err(StoreError::NotFound) => {}
                    Err(error) => return Err(error),
                }
                tracing::error!(function = %function.name, message_id = %message.id, dequeue_count = message.dequeue_count,
                    poison_queue = %poison, %reason, "message moved to the poison queue");
                Ok(Settled::Poisoned)
            }
            Err(reason) => {
                tracing::warn!(function = %function.name, message_id = %message.id, dequeue_count = message.dequeue_count,
                    %reason, "delivery failed; the message will be retried");
                let delay = Duration::from_secs(u64::from(self.settings.visibility_timeout_secs));
                match self.queues.release(&function.queue, &message.id, &message.pop_receipt, delay).await {
                    Ok(_) | Err(StoreError::NotFound) => Ok(Settled::Retry),
                    Err(error) => Err(error),
                }
            }
        }
    }

    async fn load_status(&self, name: &str) -> Result<Option<StoredStatus>, StoreError> {
        let doc = self.documents.get(TIMER_COLLECTION, TIMER_PARTITION, name).await?;
        Ok(doc.and_then(|doc| serde_json::from_value(doc.body).ok()))
    }

    async fn save_status(&self, name: &str, status: &StoredStatus) -> Result<(), StoreError> {
        let body = serde_json::to_value(status).map_err(|error| StoreError::Invalid(error.to_string()))?;
        self.documents.upsert(TIMER_COLLECTION, NewDocument::new(TIMER_PARTITION, name, body), None).await.map(drop)
    }

    /// Fires every timer whose occurrence has come, once, and returns what ran
    /// and when the next timer is due. A timer seen for the first time only
    /// gets its schedule recorded (`runOnStartup` is false); one whose
    /// occurrence passed while nothing ran fires once with `IsPastDue`.
    pub async fn fire_due_timers(&self) -> Result<(Vec<TimerRun>, Option<OffsetDateTime>), StoreError> {
        let mut runs = Vec::new();
        let mut earliest: Option<OffsetDateTime> = None;
        for timer in &self.timers {
            let now = self.clock.now();
            let Some(next_after_now) = timer.schedule.next_after(now) else { continue };
            let status = match self.load_status(&timer.name).await? {
                None => {
                    let status = StoredStatus { last: now, next: next_after_now, last_updated: now };
                    self.save_status(&timer.name, &status).await?;
                    status
                }
                Some(status) if status.next <= now => {
                    let past_due = now - status.next > PAST_DUE_AFTER;
                    let updated = StoredStatus { last: now, next: next_after_now, last_updated: now };
                    let info = TimerInfo {
                        schedule: Some(TimerSchedule { adjust_for_dst: true }),
                        schedule_status: timer.schedule.is_monitored_by_default().then_some(ScheduleStatus {
                            last: status.last,
                            next: next_after_now,
                            last_updated: now,
                        }),
                        is_past_due: past_due,
                    };
                    let envelope = timer_invocation(&timer.name, TIMER_BINDING, &info, now);
                    // Invoke first, record after: a crash in between runs the
                    // occurrence again at the next start (at least once, as the
                    // real host does), so timer handlers are idempotent.
                    let result = self.invoke(&timer.name, &envelope).await;
                    if let Err(reason) = &result {
                        tracing::warn!(function = %timer.name, %reason, "timer invocation failed; it runs again at its next occurrence");
                    }
                    self.save_status(&timer.name, &updated).await?;
                    runs.push(TimerRun { function: timer.name.clone(), past_due, succeeded: result.is_ok() });
                    updated
                }
                Some(status) => status,
            };
            earliest = Some(earliest.map_or(status.next, |e| e.min(status.next)));
        }
        Ok((runs, earliest))
    }

    /// Runs timers and queue delivery until `shutdown` turns true; the round
    /// in progress finishes first.
    pub async fn run(self: Arc<Self>, shutdown: watch::Receiver<bool>, activity: Option<Arc<Notify>>) {
        if let Err(error) = self.prepare().await {
            tracing::error!(error = %error, "the local host could not create its queues");
        }
        let mut tasks = Vec::new();
        tasks.push(tokio::spawn(Arc::clone(&self).timer_loop(shutdown.clone())));
        for function in self.queue_functions.clone() {
            tasks.push(tokio::spawn(Arc::clone(&self).queue_loop(function, shutdown.clone(), activity.clone())));
        }
        for task in tasks {
            let _ = task.await;
        }
    }

    async fn timer_loop(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        while !*shutdown.borrow() {
            let wait = match self.fire_due_timers().await {
                Ok((_, Some(next))) => {
                    (next - self.clock.now()).clamp(time::Duration::ZERO, time::Duration::minutes(1))
                }
                Ok((_, None)) => time::Duration::minutes(1),
                Err(error) => {
                    tracing::error!(error = %error, "timer round failed");
                    time::Duration::seconds(5)
                }
            };
            let wait = Duration::try_from(wait).unwrap_or(Duration::from_secs(1));
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    async fn queue_loop(
        self: Arc<Self>,
        function: QueueFunction,
        mut shutdown: watch::Receiver<bool>,
        activity: Option<Arc<Notify>>,
    ) {
        let idle = Duration::from_secs(u64::from(self.settings.max_polling_interval_secs));
        let no_activity = Arc::new(Notify::new());
        let activity = activity.unwrap_or(no_activity);
        while !*shutdown.borrow() {
            // Register for a wake-up before looking, so a message sent while we
            // look is not missed.
            let notified = activity.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match self.deliver(&function).await {
                Ok(delivery) if delivery.received > 0 => continue,
                Ok(_) => {}
                Err(error) => tracing::error!(function = %function.name, error = %error, "queue round failed"),
            }
            tokio::select! {
                () = notified => {}
                () = tokio::time::sleep(idle) => {}
                _ = shutdown.changed() => {}
            }
        }
    }
}

enum Settled {
    Done,
    Retry,
    Poisoned,
}
