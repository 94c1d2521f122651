//! Queue function `SettleFeePayment` (on [`payment::SETTLE_QUEUE`]): the
//! gateway notified a payment; settle it ([`payment::settle`]: ask the
//! gateway, move the record once, tell the municipality, file the receipt).
//! A payment the gateway still has pending is left as it is (the citizen's
//! return or the next notification settles it).

use std::sync::Arc;

use portal_host::{Function, InvocationError, Outcome, QueueInvocation};
use portal_security::SubjectId;

use crate::payment::{self, SettleMessage};
use crate::{Fees, FeesError};

/// `SettleFeePayment` on queue `settle-fee-payment`.
pub fn function(fees: Arc<Fees>) -> Function {
    Function::queue(
        payment::SETTLE_FUNCTION,
        payment::SETTLE_QUEUE,
        move |invocation: QueueInvocation<SettleMessage>| {
            let fees = fees.clone();
            async move {
                // Erasure is final: a late message for an erased citizen is dropped and recorded.
                fees.sealer.keys().refuse_erased(&invocation.message.subject).await?;
                settle_fee_payment(&fees, &invocation.message).await
            }
        },
    )
}

/// One delivery.
pub async fn settle_fee_payment(fees: &Fees, message: &SettleMessage) -> Result<Outcome, InvocationError> {
    let subject = SubjectId::parse(message.subject.clone()).map_err(|_| FeesError::Malformed("subject".into()))?;
    let id = payment::parse_payment_id(&message.payment_id).ok_or_else(|| FeesError::Malformed("paymentId".into()))?;
    let record = payment::settle(fees, &subject, &id).await?;
    Ok(Outcome::done().log(format!("payment {:?}", record.state)))
}
