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
    async fn top_up(&self, box_id: &BoxId, hellers: i64, transaction_id: &str) -> Result<(), CreditError> {
        if !self.done.lock().unwrap_or_else(|p| p.into_inner()).insert(transaction_id.to_owned()) {
            return Ok(());
        }
        self.isds.top_up_credit(box_id, hellers).map_err(|e| CreditError::Refused(e.to_string()))
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
