//! The payment-gateway port: one port for the one outside system, used by
//! every capability that takes money (the data box's credit, the fees of
//! filings such as the driving licence). Each capability keeps its own
//! payments and settles them through its own queue; this crate is only the
//! gateway.
//!
//! - [`SimulatedPaymentGateway`]: SIMULATOR for local mode and tests. A
//!   payment stays pending until the citizen (local mode only, through the
//!   capability's `…/simulated-payment` route) or a test settles it; an
//!   unsettled payment expires after 30 minutes of the injected clock.
//!   Deterministic.
//! - [`PaymentsNotConnected`]: production until a real payment gateway is
//!   contracted. Every call fails with [`PaymentError::NotConnected`] and the
//!   capability answers 503 "payments are not connected yet": nothing is
//!   pretended.
//!
//! The payment id is the portal's: it names the payment at the gateway, in the
//! capability's queue message and in its records.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use portal_store::Clock;
use time::OffsetDateTime;

#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    #[error("unknown payment")]
    Unknown,
    #[error("no payment gateway is connected in this deployment yet")]
    NotConnected,
    #[error("the payment gateway is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl PaymentError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

/// Not connected and unavailable are both 503 to a client (naming the
/// payment gateway, nothing more); an unknown payment is a 404.
impl portal_host::Failure for PaymentError {
    fn is_retryable(&self) -> bool {
        PaymentError::is_retryable(self)
    }

    fn problem(&self) -> portal_host::Problem {
        match self {
            Self::Unknown => portal_host::Problem::not_found("no such payment"),
            Self::NotConnected | Self::Unavailable(_) => portal_host::Problem::unavailable("the payment gateway"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PaymentStatus {
    Pending,
    Paid,
    Declined,
    Expired,
}

/// A started payment: where the citizen pays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentIntent {
    pub id: String,
    pub pay_url: String,
}

#[async_trait]
pub trait PaymentGateway: Send + Sync + std::fmt::Debug {
    /// Starts a payment of `amount_hellers` (1 Kč = 100 haléřů) named `id`.
    /// Starting the same id again returns the same payment.
    async fn create_payment(
        &self,
        id: &str,
        amount_hellers: i64,
        description: &str,
    ) -> Result<PaymentIntent, PaymentError>;
    /// The gateway's word on a payment: the only source of truth for
    /// crediting or moving a filing on.
    async fn status(&self, id: &str) -> Result<PaymentStatus, PaymentError>;
}

/// SIMULATOR of the payment gateway (see the module docs).
#[derive(Debug)]
pub struct SimulatedPaymentGateway {
    clock: Arc<dyn Clock>,
    /// The capability's local route where the citizen "pays", from the id.
    pay_path: fn(&str) -> String,
    payments: Mutex<HashMap<String, (PaymentStatus, OffsetDateTime)>>,
}

impl SimulatedPaymentGateway {
    pub const EXPIRY: time::Duration = time::Duration::minutes(30);

    /// `pay_path` names the capability's local settle route for a payment id.
    pub fn new(clock: Arc<dyn Clock>, pay_path: fn(&str) -> String) -> Self {
        tracing::info!("SIMULATOR: payments go through a simulated payment gateway; no money moves");
        Self { clock, pay_path, payments: Mutex::new(HashMap::new()) }
    }

    /// Settles a pending payment as paid or declined (what the bank would do).
    pub fn settle(&self, id: &str, paid: bool) -> Result<(), PaymentError> {
        let mut payments = self.payments.lock().unwrap_or_else(|p| p.into_inner());
        let (status, _) = payments.get_mut(id).ok_or(PaymentError::Unknown)?;
        if *status == PaymentStatus::Pending {
            *status = if paid { PaymentStatus::Paid } else { PaymentStatus::Declined };
        }
        Ok(())
    }
}

#[async_trait]
impl PaymentGateway for SimulatedPaymentGateway {
    async fn create_payment(&self, id: &str, _: i64, _: &str) -> Result<PaymentIntent, PaymentError> {
        let now = self.clock.now();
        self.payments
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(id.to_owned())
            .or_insert((PaymentStatus::Pending, now));
        Ok(PaymentIntent { id: id.to_owned(), pay_url: (self.pay_path)(id) })
    }

    async fn status(&self, id: &str) -> Result<PaymentStatus, PaymentError> {
        let now = self.clock.now();
        let mut payments = self.payments.lock().unwrap_or_else(|p| p.into_inner());
        let (status, created) = payments.get_mut(id).ok_or(PaymentError::Unknown)?;
        if *status == PaymentStatus::Pending && now - *created > Self::EXPIRY {
            *status = PaymentStatus::Expired;
        }
        Ok(*status)
    }
}

/// Production until a payment gateway is connected: refuses, clearly.
#[derive(Debug, Default)]
pub struct PaymentsNotConnected;

#[async_trait]
impl PaymentGateway for PaymentsNotConnected {
    async fn create_payment(&self, _: &str, _: i64, _: &str) -> Result<PaymentIntent, PaymentError> {
        Err(PaymentError::NotConnected)
    }

    async fn status(&self, _: &str) -> Result<PaymentStatus, PaymentError> {
        Err(PaymentError::NotConnected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portal_store::ManualClock;
    use time::macros::datetime;

    #[tokio::test]
    async fn simulated_payments_settle_once_and_expire_by_the_clock() {
        let clock = Arc::new(ManualClock::new(datetime!(2026-11-23 08:00 UTC)));
        let gateway = SimulatedPaymentGateway::new(clock.clone(), |id| format!("/api/filings/{id}/simulated-payment"));
        let intent = gateway.create_payment("p1", 5_000, "fee").await.expect("created");
        assert_eq!(intent.pay_url, "/api/filings/p1/simulated-payment");
        assert_eq!(gateway.status("p1").await.ok(), Some(PaymentStatus::Pending));
        gateway.settle("p1", true).expect("settled");
        gateway.settle("p1", false).expect("a second settlement changes nothing");
        assert_eq!(gateway.status("p1").await.ok(), Some(PaymentStatus::Paid));
        gateway.create_payment("p2", 5_000, "fee").await.expect("created");
        clock.advance(std::time::Duration::from_secs(31 * 60));
        assert_eq!(gateway.status("p2").await.ok(), Some(PaymentStatus::Expired));
        assert!(matches!(gateway.status("nope").await, Err(PaymentError::Unknown)));
        assert!(matches!(PaymentsNotConnected.status("p1").await, Err(PaymentError::NotConnected)));
    }
}
