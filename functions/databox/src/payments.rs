//! Buying credit for commercial messages: the shared payment-gateway port
//! (`portal-payments`; only its simulator exists now) and the credit system
//! that tops up the box (Česká pošta's credit system, reached through a port;
//! simulated on top of the ISDS simulator).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use portal_store::Clock;

use crate::isds::BoxId;
use crate::isds::simulator::IsdsSimulator;

pub use portal_payments::{
    PaymentError, PaymentGateway, PaymentIntent, PaymentStatus, PaymentsNotConnected, SimulatedPaymentGateway,
};

/// SIMULATOR: the payment gateway for local mode and tests; the citizen
/// settles at `POST /api/databox/credit/purchases/{id}/simulated-payment`.
pub fn simulated_gateway(clock: Arc<dyn Clock>) -> SimulatedPaymentGateway {
    SimulatedPaymentGateway::new(clock, |id| format!("/api/databox/credit/purchases/{id}/simulated-payment"))
}

#[derive(Debug, thiserror::Error)]
pub enum CreditError {
    #[error("the credit system is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("the credit system refused: {0}")]
    Refused(String),
}

#[async_trait]
pub trait CreditSystem: Send + Sync + std::fmt::Debug {
    /// Adds `hellers` to the box's credit. Idempotent by `transaction_id`: the
    /// same transaction never tops up twice.
    async fn top_up(&self, box_id: &BoxId, hellers: i64, transaction_id: &str) -> Result<(), CreditError>;
}

/// SIMULATOR: tops up the simulated box, once per transaction id.
#[derive(Debug)]
pub struct SimulatedCreditSystem {
    isds: Arc<IsdsSimulator>,
    done: Mutex<HashSet<String>>,
}

impl SimulatedCreditSystem {
    pub fn new(isds: Arc<IsdsSimulator>) -> Self {
        Self { isds, done: Mutex::new(HashSet::new()) }
    }
}

#[async_trait]
impl CreditSystem for SimulatedCreditSystem {
    /// The transaction is recorded as done only after the top-up succeeded
    /// (the lock is held across both, so a concurrent repeat waits and then
    /// sees it done): a failed top-up is tried again by the next delivery.
    async fn top_up(&self, box_id: &BoxId, hellers: i64, transaction_id: &str) -> Result<(), CreditError> {
        let mut done = self.done.lock().unwrap_or_else(|p| p.into_inner());
        if done.contains(transaction_id) {
            return Ok(());
        }
        self.isds
            .top_up_credit_with(box_id, hellers, Some(transaction_id))
            .map_err(|e| CreditError::Refused(e.to_string()))?;
        done.insert(transaction_id.to_owned());
        Ok(())
    }
}

/// Production placeholder for the credit system until it is connected: every
/// top-up is refused as unavailable, clearly, and nothing is simulated. (The
/// payment gateway's own placeholder is [`PaymentsNotConnected`].)
#[derive(Debug, Default)]
pub struct NotConnected;

#[derive(Debug, thiserror::Error)]
#[error("the credit system is not connected in this deployment yet")]
struct NotConnectedError;

#[async_trait]
impl CreditSystem for NotConnected {
    async fn top_up(&self, _: &BoxId, _: i64, _: &str) -> Result<(), CreditError> {
        Err(CreditError::Unavailable(Box::new(NotConnectedError)))
    }
}

#[cfg(test)]
mod tests {
    use portal_store::ManualClock;
    use time::macros::datetime;

    use super::*;
    use crate::isds::simulator::{JANA_BOX_FOR_TESTS, SimulatorSettings};

    #[tokio::test]
    async fn a_failed_top_up_is_not_recorded_as_done() {
        let clock = Arc::new(ManualClock::new(datetime!(2026-03-02 09:00 UTC)));
        let isds = Arc::new(IsdsSimulator::seeded(clock, SimulatorSettings::default()));
        let credit = SimulatedCreditSystem::new(isds.clone());
        let jana = BoxId::parse(JANA_BOX_FOR_TESTS).expect("box");
        // A top-up ISDS refuses (not positive) is not remembered…
        assert!(credit.top_up(&jana, 0, "tx-1").await.is_err());
        // …so the same transaction, delivered again with the amount, tops up.
        credit.top_up(&jana, 500, "tx-1").await.expect("top up");
        credit.top_up(&jana, 500, "tx-1").await.expect("repeat");
        assert_eq!(isds.credit_of(&jana), Some(5000 + 500), "once");
    }
}
