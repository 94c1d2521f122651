//! Queue function `SettleFilingPayment` (on
//! [`licence::SETTLE_QUEUE`]): a filing's fee settled at the payment gateway,
//! so the filing moves on ([`licence::settle_filing_payment`]).

use std::sync::Arc;

use portal_host::{Function, QueueInvocation};

use crate::Registers;
use crate::filings::licence::{self, SettleMessage};

/// `SettleFilingPayment` on queue [`licence::SETTLE_QUEUE`].
pub fn function(registers: Arc<Registers>) -> Function {
    Function::queue(
        licence::SETTLE_FUNCTION,
        licence::SETTLE_QUEUE,
        move |invocation: QueueInvocation<SettleMessage>| {
            let registers = registers.clone();
            async move {
                // Erasure is final: a late event for an erased citizen is dropped and recorded.
                registers.sealer.keys().refuse_erased(&invocation.message.subject).await?;
                licence::settle_filing_payment(&registers, &invocation.message).await
            }
        },
    )
}
