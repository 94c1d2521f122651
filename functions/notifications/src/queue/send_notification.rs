//! Queue function `SendNotification` (on `send-notification`): an event
//! becomes the citizen's notification, in the inbox and on every channel the
//! citizen chose ([`crate::dispatch`]).

use std::sync::Arc;

use portal_events::{Event, NOTIFICATIONS_QUEUE};
use portal_host::{Function, InvocationError, Outcome, QueueInvocation};

use crate::Notifications;
use crate::dispatch::{self, SEND_FUNCTION};

/// `SendNotification` on queue `send-notification`.
pub fn function(notifications: Arc<Notifications>) -> Function {
    Function::queue(SEND_FUNCTION, NOTIFICATIONS_QUEUE, move |invocation: QueueInvocation<Event>| {
        let notifications = notifications.clone();
        async move {
            // Erasure is final: a late event for an erased citizen is dropped and recorded.
            notifications.sealer.keys().refuse_erased(&invocation.message.subject).await?;
            send_notification(&notifications, &invocation.message).await
        }
    })
}

/// One delivery of an event: a message that is not a valid event fails
/// permanently; a passing store fault is retried.
pub async fn send_notification(n: &Notifications, event: &Event) -> Result<Outcome, InvocationError> {
    Ok(dispatch::run(n, event, None).await?)
}
