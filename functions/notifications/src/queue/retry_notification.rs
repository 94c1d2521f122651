//! Queue function `RetryNotification` (on `notification-retry`): one more
//! attempt on one channel, or a check after another delivery's `sending`
//! lease ([`crate::dispatch`]).

use std::sync::Arc;

use portal_host::{Function, InvocationError, Outcome, QueueInvocation};

use crate::Notifications;
use crate::dispatch::{self, RETRY_FUNCTION, RETRY_QUEUE, RetryMessage};

/// `RetryNotification` on queue `notification-retry`.
pub fn function(notifications: Arc<Notifications>) -> Function {
    Function::queue(RETRY_FUNCTION, RETRY_QUEUE, move |invocation: QueueInvocation<RetryMessage>| {
        let notifications = notifications.clone();
        async move {
            // Erasure is final: a late event for an erased citizen is dropped and recorded.
            notifications.sealer.keys().refuse_erased(&invocation.message.event.subject).await?;
            retry_notification(&notifications, &invocation.message).await
        }
    })
}

/// One retry message; an attempt number out of range fails permanently.
pub async fn retry_notification(n: &Notifications, message: &RetryMessage) -> Result<Outcome, InvocationError> {
    if message.attempt == 0 || message.attempt > n.settings.max_attempts() {
        return Err(InvocationError::permanent(format!(
            "attempt must be 1-{}, not {}",
            n.settings.max_attempts(),
            message.attempt
        )));
    }
    let only = dispatch::Only { channel: message.channel, attempt: message.attempt, restart: message.restart };
    Ok(dispatch::run(n, &message.event, Some(only)).await?)
}
