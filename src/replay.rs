//! `portal replay-poison <queue>`: puts every message of `<queue>-poison`
//! back on `<queue>`, after the cause of the failures was fixed.
//!
//! Each poison message is a [`portal_host::PoisonRecord`] (the message whole,
//! with why it failed) or, when the handler never answered on the last try,
//! the Functions host's raw copy; either way the original text goes back
//! unchanged. Put first, delete after: a crash between leaves a duplicate
//! (consumers are idempotent), never a loss. A record that names another queue
//! is left where it is and counted.

use std::time::Duration;

use portal_host::PoisonRecord;
use portal_store::{QueueName, QueueStore, StoreError};

/// How long a poison message being replayed stays invisible to others.
const LEASE: Duration = Duration::from_secs(5 * 60);

/// What one replay did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Replayed {
    /// Messages put back on the queue.
    pub replayed: usize,
    /// Records that belong to another queue, left in the poison queue.
    pub left: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("'{0}' is not a queue name")]
    BadQueue(String),
    #[error("'{0}' is a poison queue; name the queue its messages go back to")]
    PoisonName(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Moves every message of `<queue>-poison` back to `queue`.
pub async fn replay_poison(queues: &dyn QueueStore, queue: &str) -> Result<Replayed, ReplayError> {
    if queue.ends_with("-poison") {
        return Err(ReplayError::PoisonName(queue.to_owned()));
    }
    let target = QueueName::parse(queue).map_err(|_| ReplayError::BadQueue(queue.to_owned()))?;
    let poison = QueueName::parse(PoisonRecord::poison_queue(queue))
        .map_err(|_| ReplayError::BadQueue(PoisonRecord::poison_queue(queue)))?;
    let mut done = Replayed::default();
    let mut seen = std::collections::HashSet::new();
    loop {
        let batch = match queues.receive(&poison, 32, LEASE).await {
            Ok(batch) => batch,
            Err(StoreError::NotFound) => return Ok(done),
            Err(error) => return Err(error.into()),
        };
        // Messages left behind stay leased for LEASE, so a second pass over
        // them cannot happen in this run; `seen` guards against it anyway.
        let fresh: Vec<_> = batch.into_iter().filter(|m| seen.insert(m.id.clone())).collect();
        if fresh.is_empty() {
            return Ok(done);
        }
        for message in fresh {
            match PoisonRecord::original(&message.text, queue) {
                Ok(original) => {
                    queues.send(&target, &original, None).await?;
                    match queues.delete(&poison, &message.id, &message.pop_receipt).await {
                        Ok(()) | Err(StoreError::NotFound) => {}
                        Err(error) => return Err(error.into()),
                    }
                    done.replayed += 1;
                }
                Err(why) => {
                    tracing::warn!(message_id = %message.id, %why, "poison record left in place");
                    done.left += 1;
                }
            }
        }
    }
}
