use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::error::{StoreError, StoreResult};

/// A queue name as Azure Storage accepts it: 3–63 characters of lowercase
/// letters, digits and single hyphens, starting and ending with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct QueueName(String);

impl QueueName {
    pub fn parse(name: impl Into<String>) -> StoreResult<Self> {
        let name = name.into();
        let ok = (3..=63).contains(&name.len())
            && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !name.starts_with('-')
            && !name.ends_with('-')
            && !name.contains("--");
        if ok { Ok(Self(name)) } else { Err(StoreError::Invalid(format!("'{name}' is not a valid queue name"))) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `<queue>-poison`, where the Functions host moves messages that failed
    /// `maxDequeueCount` times; `None` if that name would be too long.
    pub fn poison(&self) -> Option<Self> {
        if self.0.ends_with("-poison") {
            return None;
        }
        Self::parse(format!("{}-poison", self.0)).ok()
    }
}

impl fmt::Display for QueueName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A message taken from a queue under a lease: invisible to other receivers
/// until `next_visible`, deleted only with its `pop_receipt`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedMessage {
    pub id: String,
    pub pop_receipt: String,
    pub text: String,
    /// How many times the message has been received, this time included.
    pub dequeue_count: u32,
    pub inserted_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub next_visible: OffsetDateTime,
}

/// The largest message text, in bytes (Azure's 64 KiB less base64 overhead).
pub const MAX_MESSAGE_BYTES: usize = 48 * 1024;

/// How long a message lives unreceived (Azure's default).
pub const MESSAGE_TIME_TO_LIVE: Duration = Duration::from_secs(7 * 24 * 3600);

/// At-least-once queues. Consumers must be idempotent: a message whose lease
/// runs out is delivered again.
#[async_trait]
pub trait QueueStore: Send + Sync + fmt::Debug {
    /// Creates the queue if it does not exist.
    async fn ensure(&self, queue: &QueueName) -> StoreResult<()>;

    /// Adds a message, invisible for `delay` if given. Returns its id.
    async fn send(&self, queue: &QueueName, text: &str, delay: Option<Duration>) -> StoreResult<String>;

    /// Takes up to `max` visible messages and hides them for `visibility`.
    async fn receive(&self, queue: &QueueName, max: u32, visibility: Duration) -> StoreResult<Vec<ReceivedMessage>>;

    /// Makes a leased message visible again after `delay` (a failed delivery).
    /// Returns the new pop receipt.
    async fn release(&self, queue: &QueueName, id: &str, pop_receipt: &str, delay: Duration) -> StoreResult<String>;

    /// Removes a message; [`StoreError::NotFound`] if the receipt is stale.
    async fn delete(&self, queue: &QueueName, id: &str, pop_receipt: &str) -> StoreResult<()>;

    /// About how many messages the queue holds, invisible (leased or delayed)
    /// ones included; [`StoreError::NotFound`] if the queue does not exist.
    /// Azure's figure may lag behind, never below the real count.
    async fn approximate_count(&self, queue: &QueueName) -> StoreResult<u64>;

    /// Every queue of the account, by name (operators' views: poison-queue depth).
    async fn list_queues(&self) -> StoreResult<Vec<QueueName>>;

    async fn ping(&self) -> StoreResult<()>;
}

pub(crate) fn check_message(text: &str) -> StoreResult<()> {
    if text.len() > MAX_MESSAGE_BYTES {
        return Err(StoreError::Invalid(format!("a queue message holds at most {MAX_MESSAGE_BYTES} bytes")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_names_follow_azure_rules() {
        assert!(QueueName::parse("send-notification").is_ok());
        for bad in ["ab", "Upper", "-lead", "trail-", "dou--ble", &"q".repeat(64)] {
            assert!(QueueName::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(QueueName::parse("abc").ok().and_then(|q| q.poison()).map(|q| q.0), Some("abc-poison".into()));
        assert_eq!(QueueName::parse("abc-poison").ok().and_then(|q| q.poison()), None);
    }
}
