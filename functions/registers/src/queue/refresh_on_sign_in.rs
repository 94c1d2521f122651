//! Queue function `RefreshOnSignIn` (on [`portal_events::SIGNED_IN_QUEUE`]):
//! a citizen signed in, so their identity documents are fetched and their
//! expiries dated in the calendar ([`crate::my_data::refresh_on_sign_in`]).

use std::sync::Arc;

use portal_events::Event;
use portal_host::{Function, QueueInvocation};

use crate::{Registers, my_data};

/// The function's name.
pub const FUNCTION: &str = "RefreshOnSignIn";

/// `RefreshOnSignIn` on queue [`portal_events::SIGNED_IN_QUEUE`].
pub fn function(registers: Arc<Registers>) -> Function {
    Function::queue(FUNCTION, portal_events::SIGNED_IN_QUEUE, move |invocation: QueueInvocation<Event>| {
        let registers = registers.clone();
        async move {
            // Erasure is final: a late event for an erased citizen is dropped and recorded.
            registers.sealer.keys().refuse_erased(&invocation.message.subject).await?;
            my_data::refresh_on_sign_in(&registers, &invocation.message).await
        }
    })
}
