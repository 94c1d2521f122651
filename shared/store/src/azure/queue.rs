//! [`QueueStore`] on Azure Storage Queues with `azure_storage_queue`.
//!
//! Message texts travel base64-encoded (standard alphabet): the Functions host
//! reads queue triggers with `messageEncoding: base64` (host.json), so a message
//! this adapter sends is one a queue-triggered function can read, and the other
//! way round.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use azure_core::http::Url;
use azure_storage_queue::models::{
    QueueClientGetPropertiesResultHeaders as _, QueueClientReceiveMessagesOptions, QueueClientSendMessageOptions,
    QueueMessage, QueueServiceClientListQueuesOptions,
};
use azure_storage_queue::{QueueClient, QueueServiceClient, QueueServiceClientOptions};
use base64::Engine as _;
use futures::StreamExt as _;
use time::OffsetDateTime;

use super::{AzureSettings, SharedClients, storage_error};
use crate::error::{StoreError, StoreResult};
use crate::queue::{MESSAGE_TIME_TO_LIVE, QueueName, QueueStore, ReceivedMessage, check_message};

/// The most messages one receive may take (Azure's limit).
const MAX_RECEIVE: u32 = 32;
/// The longest visibility timeout Azure accepts.
const MAX_VISIBILITY: Duration = Duration::from_secs(7 * 24 * 3600);

/// Queues of one storage account.
pub struct AzureQueueStore {
    service: QueueServiceClient,
}

impl fmt::Debug for AzureQueueStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzureQueueStore").field("service", &self.service.url().as_str()).finish()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the queue service answered without {0}")]
struct MissingProperty(&'static str);

fn encode(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// The text of a received message. A message that is not base64 of UTF-8
/// (written by some other tool) is passed on as it is.
fn decode(id: &str, raw: String) -> String {
    match base64::engine::general_purpose::STANDARD.decode(raw.trim()).map(String::from_utf8) {
        Ok(Ok(text)) => text,
        _ => {
            tracing::warn!(message_id = id, "queue message is not base64-encoded UTF-8; passing it on unchanged");
            raw
        }
    }
}

/// Whole seconds, rounded up, within Azure's limits.
fn seconds(duration: Duration, min: u64) -> i32 {
    let secs = duration.min(MAX_VISIBILITY).as_secs() + u64::from(duration.subsec_nanos() > 0);
    i32::try_from(secs.max(min)).unwrap_or(i32::MAX)
}

fn required<T>(value: Option<T>, what: &'static str) -> StoreResult<T> {
    value.ok_or_else(|| StoreError::backend(MissingProperty(what)))
}

impl AzureQueueStore {
    /// The queue service at `settings.queue_service_url` (no trailing slash).
    pub async fn connect(settings: &AzureSettings) -> StoreResult<Self> {
        let shared = SharedClients::build(settings).await?;
        Self::connect_with(settings, &shared)
    }

    pub(crate) fn connect_with(settings: &AzureSettings, shared: &SharedClients) -> StoreResult<Self> {
        // With a trailing slash the queue client would address `//<queue>`.
        let url = Url::parse(settings.queue_service_url.trim_end_matches('/'))
            .map_err(|_| StoreError::Invalid(format!("'{}' is not a queue service URL", settings.queue_service_url)))?;
        let options = QueueServiceClientOptions { client_options: shared.client_options.clone(), ..Default::default() };
        let service = QueueServiceClient::new(url, Some(shared.credential.clone()), Some(options))
            .map_err(StoreError::backend)?;
        Ok(Self { service })
    }

    fn queue(&self, queue: &QueueName) -> StoreResult<QueueClient> {
        self.service.queue_client(queue.as_str()).map_err(StoreError::backend)
    }
}

#[async_trait]
impl QueueStore for AzureQueueStore {
    #[tracing::instrument(
        name = "store.queue.count",
        skip_all,
        fields(
            backend = "azure_queue", queue = %queue,
            otel.kind = "client",
            dependency.type = "Azure queue",
            server.address = self.service.url().host_str().unwrap_or_default(),
            dependency.result = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        )
    )]
    async fn approximate_count(&self, queue: &QueueName) -> StoreResult<u64> {
        let response = self.queue(queue)?.get_properties(None).await.map_err(storage_error)?;
        let count = response.approximate_messages_count().map_err(StoreError::backend)?;
        Ok(count.map_or(0, |count| u64::try_from(count).unwrap_or(0)))
    }

    #[tracing::instrument(
        name = "store.queue.list",
        skip_all,
        fields(
            backend = "azure_queue",
            otel.kind = "client",
            dependency.type = "Azure queue",
            server.address = self.service.url().host_str().unwrap_or_default(),
            dependency.result = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        )
    )]
    async fn list_queues(&self) -> StoreResult<Vec<QueueName>> {
        let mut pages = self.service.list_queues(None).map_err(storage_error)?.into_pages();
        let mut names = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(storage_error)?.into_model().map_err(StoreError::backend)?;
            // Queues this code could not have created (other tools' names) are skipped.
            names.extend(page.queue_items.into_iter().filter_map(|item| QueueName::parse(item.name?).ok()));
        }
        Ok(names)
    }

    #[tracing::instrument(
        name = "store.queue.ensure",
        skip_all,
        fields(
            backend = "azure_queue", queue = %queue,
            otel.kind = "client",
            dependency.type = "Azure queue",
            server.address = self.service.url().host_str().unwrap_or_default(),
            dependency.result = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        )
    )]
    async fn ensure(&self, queue: &QueueName) -> StoreResult<()> {
        match self.queue(queue)?.create(None).await.map_err(storage_error) {
            // 409 QueueAlreadyExists: there, with other metadata. Fine.
            Ok(_) | Err(StoreError::Conflict) => Ok(()),
            Err(error) => Err(error),
        }
    }

    #[tracing::instrument(
        name = "store.queue.send",
        skip_all,
        fields(
            backend = "azure_queue", queue = %queue,
            otel.kind = "client",
            dependency.type = "Azure queue",
            server.address = self.service.url().host_str().unwrap_or_default(),
            dependency.result = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        )
    )]
    async fn send(&self, queue: &QueueName, text: &str, delay: Option<Duration>) -> StoreResult<String> {
        check_message(text)?;
        let message = QueueMessage { message_text: Some(encode(text)) };
        let options = QueueClientSendMessageOptions {
            visibility_timeout: delay.map(|delay| seconds(delay, 0)),
            message_time_to_live: Some(seconds(MESSAGE_TIME_TO_LIVE, 1)),
            ..Default::default()
        };
        let sent = self
            .queue(queue)?
            .send_message(message.try_into().map_err(StoreError::backend)?, Some(options))
            .await
            .map_err(storage_error)?
            .into_model()
            .map_err(StoreError::backend)?
            .into_message()
            .map_err(StoreError::backend)?;
        required(sent.message_id, "a message id")
    }

    #[tracing::instrument(
        name = "store.queue.receive",
        skip_all,
        fields(
            backend = "azure_queue", queue = %queue, received = tracing::field::Empty,
            otel.kind = "client",
            dependency.type = "Azure queue",
            server.address = self.service.url().host_str().unwrap_or_default(),
            dependency.result = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        )
    )]
    async fn receive(&self, queue: &QueueName, max: u32, visibility: Duration) -> StoreResult<Vec<ReceivedMessage>> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let options = QueueClientReceiveMessagesOptions {
            number_of_messages: Some(i32::try_from(max.min(MAX_RECEIVE)).unwrap_or(1)),
            visibility_timeout: Some(seconds(visibility, 1)),
            ..Default::default()
        };
        let received = self
            .queue(queue)?
            .receive_messages(Some(options))
            .await
            .map_err(storage_error)?
            .into_model()
            .map_err(StoreError::backend)?
            .items
            .unwrap_or_default();
        tracing::Span::current().record("received", received.len());
        received
            .into_iter()
            .map(|message| {
                let id = required(message.message_id, "a message id")?;
                let text = decode(&id, message.message_text.unwrap_or_default());
                Ok(ReceivedMessage {
                    pop_receipt: required(message.pop_receipt, "a pop receipt")?,
                    text,
                    dequeue_count: u32::try_from(message.dequeue_count.unwrap_or(1)).unwrap_or(u32::MAX),
                    inserted_at: required::<OffsetDateTime>(message.insertion_time, "an insertion time")?,
                    expires_at: required(message.expiration_time, "an expiration time")?,
                    next_visible: required(message.time_next_visible, "a next-visible time")?,
                    id,
                })
            })
            .collect()
    }

    #[tracing::instrument(
        name = "store.queue.release",
        skip_all,
        fields(
            backend = "azure_queue", queue = %queue,
            otel.kind = "client",
            dependency.type = "Azure queue",
            server.address = self.service.url().host_str().unwrap_or_default(),
            dependency.result = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        )
    )]
    async fn release(&self, queue: &QueueName, id: &str, pop_receipt: &str, delay: Duration) -> StoreResult<String> {
        if id.is_empty() || pop_receipt.is_empty() {
            return Err(StoreError::NotFound);
        }
        let response =
            self.queue(queue)?.update_message(id, pop_receipt, seconds(delay, 0), None).await.map_err(storage_error)?;
        required(response.headers().get_optional_string(&"x-ms-popreceipt".into()), "a new pop receipt")
    }

    #[tracing::instrument(
        name = "store.queue.delete",
        skip_all,
        fields(
            backend = "azure_queue", queue = %queue,
            otel.kind = "client",
            dependency.type = "Azure queue",
            server.address = self.service.url().host_str().unwrap_or_default(),
            dependency.result = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        )
    )]
    async fn delete(&self, queue: &QueueName, id: &str, pop_receipt: &str) -> StoreResult<()> {
        if id.is_empty() || pop_receipt.is_empty() {
            return Err(StoreError::NotFound);
        }
        self.queue(queue)?.delete_message(id, pop_receipt, None).await.map(drop).map_err(storage_error)
    }

    #[tracing::instrument(
        name = "store.ping",
        skip_all,
        fields(
            backend = "azure_queue",
            otel.kind = "client",
            dependency.type = "Azure queue",
            server.address = self.service.url().host_str().unwrap_or_default(),
            dependency.result = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        )
    )]
    async fn ping(&self) -> StoreResult<()> {
        let options = QueueServiceClientListQueuesOptions { maxresults: Some(1), ..Default::default() };
        let mut pages = self.service.list_queues(Some(options)).map_err(storage_error)?.into_pages();
        match pages.next().await {
            Some(page) => page.map(drop).map_err(storage_error),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_travel_as_standard_base64() {
        assert_eq!(encode("Dobrý den"), "RG9icsO9IGRlbg==");
        assert_eq!(decode("m", "RG9icsO9IGRlbg==".into()), "Dobrý den");
        assert_eq!(decode("m", "not base64!".into()), "not base64!");
    }

    #[test]
    fn durations_become_whole_seconds_within_limits() {
        assert_eq!(seconds(Duration::from_millis(1500), 1), 2);
        assert_eq!(seconds(Duration::ZERO, 1), 1);
        assert_eq!(seconds(Duration::ZERO, 0), 0);
        assert_eq!(seconds(Duration::from_secs(30 * 24 * 3600), 1), 7 * 24 * 3600);
    }
}
