//! The one record shape of every `<queue>-poison` queue.
//!
//! A queue message that fails for good (a permanent failure, or a passing
//! fault on its last try) is kept whole, with why, as a [`PoisonRecord`] in
//! `<queue>-poison`: the runtime's failure sink writes it, the local host
//! writes it when the handler never answered, and capabilities that give up
//! on their own (a notification channel after its last attempt) write it too.
//! `portal replay-poison <queue>` puts each record's `message` back on
//! `queue` unchanged.
//!
//! One exception stays outside our control: when the handler process does not
//! answer at all on the last try (it crashed, or the failure record itself
//! could not be kept), the Azure Functions host moves the raw message to the
//! poison queue. [`PoisonRecord::original`] reads both: a record gives its
//! message, anything else is that raw message.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A message that failed for good, whole, with its reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PoisonRecord {
    /// Always [`PoisonRecord::SHAPE`]: what tells a record from a raw message.
    pub shape: String,
    /// The queue the message belongs on (the poison queue is `<queue>-poison`).
    pub queue: String,
    /// The function that gave up on it.
    pub function: String,
    /// The id of the failed delivery, when it came from a queue.
    pub message_id: Option<String>,
    /// Why it failed (no personal data: error texts never carry any).
    pub reason: String,
    /// Deliveries or attempts made.
    pub dequeue_count: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The message text exactly as it was on `queue`.
    pub message: String,
}

impl PoisonRecord {
    pub const SHAPE: &'static str = "portal-poison-record/1";

    pub fn new(
        queue: &str,
        function: &str,
        reason: impl Into<String>,
        dequeue_count: u32,
        at: OffsetDateTime,
        message: impl Into<String>,
    ) -> Self {
        Self {
            shape: Self::SHAPE.into(),
            queue: queue.into(),
            function: function.into(),
            message_id: None,
            reason: reason.into(),
            dequeue_count,
            at,
            message: message.into(),
        }
    }

    /// The poison queue's name for `queue`.
    pub fn poison_queue(queue: &str) -> String {
        format!("{queue}-poison")
    }

    /// The record as queue message text (JSON).
    pub fn to_text(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// A poison queue's message as a record, if it is one.
    pub fn parse(text: &str) -> Option<Self> {
        serde_json::from_str::<Self>(text).ok().filter(|record| record.shape == Self::SHAPE)
    }

    /// What to put back on `queue` for one message of `<queue>-poison`: a
    /// record's message, or the host's raw copy as it is. A record that
    /// belongs to another queue is refused (it was put in the wrong place).
    pub fn original(text: &str, queue: &str) -> Result<String, String> {
        match Self::parse(text) {
            Some(record) if record.queue == queue => Ok(record.message),
            Some(record) => Err(format!("the record belongs to queue '{}', not '{queue}'", record.queue)),
            None => Ok(text.to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_gives_back_its_message_exactly_and_a_raw_message_is_itself() {
        let message = "{\"id\":\"e1\",\"text\":\"Dobrý den \\\"x\\\"\"}";
        let at = OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("time");
        let record = PoisonRecord::new("send-notification", "SendNotification", "boom", 5, at, message);
        let text = record.to_text();
        assert_eq!(PoisonRecord::parse(&text), Some(record));
        assert_eq!(PoisonRecord::original(&text, "send-notification").as_deref(), Ok(message));
        assert!(PoisonRecord::original(&text, "purchase-credit").is_err(), "a record for another queue");
        assert_eq!(PoisonRecord::original(message, "send-notification").as_deref(), Ok(message));
        let other_json = "{\"shape\":\"something else\",\"queue\":\"q\"}";
        assert_eq!(PoisonRecord::original(other_json, "q").as_deref(), Ok(other_json));
    }
}
