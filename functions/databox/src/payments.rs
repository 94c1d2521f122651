//! Buying credit for commercial messages: a payment-gateway port (the real
//! gateway comes with the payments issue; only the simulator exists now) and
//! the credit system that tops up the box (Česká pošta's credit system, reached
//! through a port; simulated on top of the ISDS simulator).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use portal_store::Clock;
use time::OffsetDateTime;

use crate::isds::BoxId;
use crate::isds::simulator::IsdsSimulator;

#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    #[error("unknown payment")]
    Unknown,
    #[error("the payment service is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PaymentStatus {
    Pending,
    Paid,
    Declined,
    Expired,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentIntent {
    pub id: String,
    /// Where the citizen pays.
    pub pay_url: String,
}

#[async_trait]
pub trait PaymentGateway: Send + Sync + std::fmt::Debug {
    /// Starts a payment of `amount_hellers`; `id` is ours and names it everywhere.
    async fn create_intent(
        &self,
        id: &str,
        amount_hellers: i64,
        description: &str,
    ) -> Result<PaymentIntent, PaymentError>;
    /// The gateway's word on a payment: the source of truth for crediting.
    async fn status(&self, id: &str) -> Result<PaymentStatus, PaymentError>;
}

/// SIMULATOR: payments that the test or the local user settles by hand.
/// Unsettled intents expire after 30 minutes.
#[derive(Debug)]
pub struct SimulatedPaymentGateway {
    clock: Arc<dyn Clock>,
    intents: Mutex<HashMap<String, (PaymentStatus, OffsetDateTime)>>,
}

impl SimulatedPaymentGateway {
    const EXPIRY: time::Duration = time::Duration::minutes(30);

    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self { clock, intents: Mutex::new(HashMap::new()) }
    }

    /// Settles a pending payment as paid or declined (what the bank would do).
    pub fn settle(&self, id: &str, paid: bool) -> Result<(), PaymentError> {
        let mut intents = self.intents.lock().unwrap_or_else(|p| p.into_inner());
        let (status, _) = intents.get_mut(id).ok_or(PaymentError::Unknown)?;
        if *status == PaymentStatus::Pending {
            *status = if paid { PaymentStatus::Paid } else { PaymentStatus::Declined };
        }
        Ok(())
    }
}

#[async_trait]
impl PaymentGateway for SimulatedPaymentGateway {
    async fn create_intent(
        &self,
        id: &str,
        _amount_hellers: i64,
        _description: &str,
    ) -> Result<PaymentIntent, PaymentError> {
        let now = self.clock.now();
        self.intents
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(id.to_owned())
            .or_insert((PaymentStatus::Pending, now));
        Ok(PaymentIntent {
            id: id.to_owned(),
            pay_url: format!("/api/databox/credit/purchases/{id}/simulated-payment"),
        })
    }

    async fn status(&self, id: &str) -> Result<PaymentStatus, PaymentError> {
        let now = self.clock.now();
        let mut intents = self.intents.lock().unwrap_or_else(|p| p.into_inner());
        let (status, created) = intents.get_mut(id).ok_or(PaymentError::Unknown)?;
        if *status == PaymentStatus::Pending && now - *created > Self::EXPIRY {
            *status = PaymentStatus::Expired;
        }
        Ok(*status)
    }
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

/// Production placeholder until the payments issue brings the real gateway
/// and credit system: every purchase is refused as unavailable, clearly, and
/// nothing is simulated.
#[derive(Debug, Default)]
pub struct NotConnected;

#[derive(Debug, thiserror::Error)]
#[error("the payment gateway and the credit system are not connected in this deployment yet")]
struct NotConnectedError;

#[async_trait]
impl PaymentGateway for NotConnected {
    async fn create_intent(&self, _: &str, _: i64, _: &str) -> Result<PaymentIntent, PaymentError> {
        Err(PaymentError::Unavailable(Box::new(NotConnectedError)))
    }
    async fn status(&self, _: &str) -> Result<PaymentStatus, PaymentError> {
        Err(PaymentError::Unavailable(Box::new(NotConnectedError)))
    }
}

#[async_trait]
impl CreditSystem for NotConnected {
    async fn top_up(&self, _: &BoxId, _: i64, _: &str) -> Result<(), CreditError> {
        Err(CreditError::Unavailable(Box::new(NotConnectedError)))
    }
}
