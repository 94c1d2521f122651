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
//!
//! A capability that sends the citizen to the gateway and back (municipal
//! fees) starts the payment with [`PaymentGateway::start_payment`], giving
//! the address the gateway returns the citizen to, and takes the gateway's
//! signed notifications ([`notification`]: HMAC-SHA256 over the timestamp and
//! the body, checked within a time window). The simulator models what a real
//! gateway does to such a capability: test cards that are declined, sessions
//! that expire by the clock, and notifications that arrive late, twice, or
//! before the citizen is back ([`SimulatedPaymentGateway::checkout`],
//! [`SimulatedPaymentGateway::take_notifications`],
//! [`SimulatedPaymentGateway::resend`]).

pub mod notification;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use portal_store::Clock;
use time::OffsetDateTime;

pub use notification::{GatewayNotification, NotificationError, NotificationKey, SignedNotification};

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

impl PaymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Paid => "paid",
            Self::Declined => "declined",
            Self::Expired => "expired",
        }
    }

    /// Paid, declined and expired never change again.
    pub fn is_final(self) -> bool {
        self != Self::Pending
    }
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

    /// Starts a payment like [`Self::create_payment`], and the gateway sends
    /// the citizen back to `return_url` when they are done (paid, declined
    /// or gone). Starting the same id again returns the same payment.
    async fn start_payment(
        &self,
        id: &str,
        amount_hellers: i64,
        description: &str,
        return_url: &str,
    ) -> Result<PaymentIntent, PaymentError> {
        let _ = return_url;
        self.create_payment(id, amount_hellers, description).await
    }
}

/// SIMULATOR of the payment gateway (see the module docs).
#[derive(Debug)]
pub struct SimulatedPaymentGateway {
    clock: Arc<dyn Clock>,
    /// The capability's local route where the citizen "pays", from the id.
    pay_path: fn(&str) -> String,
    payments: Mutex<HashMap<String, SimulatedPayment>>,
    /// Signs the notifications (the key the capability verifies with).
    key: NotificationKey,
    /// Notifications the gateway has sent and nobody has taken yet.
    outbox: Mutex<Vec<SignedNotification>>,
}

#[derive(Debug, Clone)]
struct SimulatedPayment {
    status: PaymentStatus,
    created: OffsetDateTime,
    amount_hellers: i64,
    return_url: Option<String>,
}

/// How a simulated checkout ended, and where the citizen goes next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutOutcome {
    pub status: PaymentStatus,
    /// The capability's return address, when the payment was started with one.
    pub return_url: Option<String>,
}

/// Test card numbers of the simulator (the card schemes' test numbers that
/// pass the Luhn check). Any other number that passes the check is paid; a
/// number that fails it is declined.
pub mod test_cards {
    /// Paid.
    pub const PAID: &str = "4242424242424242";
    /// Declined by the issuer.
    pub const DECLINED: &str = "4000000000000002";
    /// Declined: not enough money.
    pub const INSUFFICIENT_FUNDS: &str = "4000000000009995";
}

impl SimulatedPaymentGateway {
    pub const EXPIRY: time::Duration = time::Duration::minutes(30);
    /// Notifications kept for a caller that does not take them.
    pub const OUTBOX_LIMIT: usize = 1000;

    /// `pay_path` names the capability's local settle route for a payment id.
    pub fn new(clock: Arc<dyn Clock>, pay_path: fn(&str) -> String) -> Self {
        tracing::info!("SIMULATOR: payments go through a simulated payment gateway; no money moves");
        Self {
            clock,
            pay_path,
            payments: Mutex::new(HashMap::new()),
            key: NotificationKey::development(),
            outbox: Mutex::new(Vec::new()),
        }
    }

    /// Signs notifications with `key` instead of the development key.
    pub fn with_notification_key(mut self, key: NotificationKey) -> Self {
        self.key = key;
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, SimulatedPayment>> {
        self.payments.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Settles a pending payment as paid or declined (what the bank would do).
    pub fn settle(&self, id: &str, paid: bool) -> Result<(), PaymentError> {
        let status = if paid { PaymentStatus::Paid } else { PaymentStatus::Declined };
        self.finish(id, status).map(drop)
    }

    /// The citizen pays with `card` at the gateway's page. A session older
    /// than [`Self::EXPIRY`] has expired; a finished payment stays as it
    /// ended (paying twice pays once). Each change sends one notification.
    pub fn checkout(&self, id: &str, card: &str) -> Result<CheckoutOutcome, PaymentError> {
        let digits: String = card.chars().filter(|c| !c.is_whitespace()).collect();
        let status = if digits == test_cards::DECLINED || digits == test_cards::INSUFFICIENT_FUNDS || !luhn(&digits) {
            PaymentStatus::Declined
        } else {
            PaymentStatus::Paid
        };
        self.finish(id, status)
    }

    /// Moves a pending payment to `status` (or to expired, if its session
    /// ran out first) and sends the notification of the change.
    fn finish(&self, id: &str, status: PaymentStatus) -> Result<CheckoutOutcome, PaymentError> {
        let now = self.clock.now();
        let mut payments = self.lock();
        let payment = payments.get_mut(id).ok_or(PaymentError::Unknown)?;
        if payment.status == PaymentStatus::Pending {
            payment.status = if now - payment.created > Self::EXPIRY { PaymentStatus::Expired } else { status };
            let signed = self.key.notify(id, payment.status, now);
            self.send(signed);
        }
        Ok(CheckoutOutcome { status: payment.status, return_url: payment.return_url.clone() })
    }

    /// Expires every pending payment whose session ran out, notifying each
    /// once (a real gateway's timeout notification).
    pub fn expire_due(&self) {
        let now = self.clock.now();
        let mut payments = self.lock();
        for (id, payment) in payments.iter_mut() {
            if payment.status == PaymentStatus::Pending && now - payment.created > Self::EXPIRY {
                payment.status = PaymentStatus::Expired;
                let signed = self.key.notify(id, payment.status, now);
                self.send(signed);
            }
        }
    }

    /// Keeps a sent notification until it is taken; a capability that never
    /// takes them (credit, filings settle by hand) keeps the newest
    /// [`Self::OUTBOX_LIMIT`].
    fn send(&self, signed: SignedNotification) {
        let mut outbox = self.outbox.lock().unwrap_or_else(|p| p.into_inner());
        if outbox.len() >= Self::OUTBOX_LIMIT {
            outbox.remove(0);
        }
        outbox.push(signed);
    }

    /// The notifications sent since the last call, oldest first. Delivering
    /// them is the caller's choice: late, twice, or before the return.
    pub fn take_notifications(&self) -> Vec<SignedNotification> {
        std::mem::take(&mut *self.outbox.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// The gateway sends the notification of a finished payment again (a
    /// retry): the same notification id, signed now.
    pub fn resend(&self, id: &str) -> Result<SignedNotification, PaymentError> {
        let payments = self.lock();
        let payment = payments.get(id).ok_or(PaymentError::Unknown)?;
        Ok(self.key.notify(id, payment.status, self.clock.now()))
    }

    /// The amount a payment was started with.
    pub fn amount_hellers(&self, id: &str) -> Option<i64> {
        self.lock().get(id).map(|p| p.amount_hellers)
    }

    fn create(&self, id: &str, amount_hellers: i64, return_url: Option<&str>) -> PaymentIntent {
        let now = self.clock.now();
        self.lock().entry(id.to_owned()).or_insert_with(|| SimulatedPayment {
            status: PaymentStatus::Pending,
            created: now,
            amount_hellers,
            return_url: return_url.map(str::to_owned),
        });
        PaymentIntent { id: id.to_owned(), pay_url: (self.pay_path)(id) }
    }
}

/// The Luhn check of a card number (12 to 19 digits).
fn luhn(digits: &str) -> bool {
    if !(12..=19).contains(&digits.len()) || !digits.chars().all(|c| c.is_ascii_digit()) {
        return false;
    }
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let d2 = d * 2;
                if d2 > 9 { d2 - 9 } else { d2 }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[async_trait]
impl PaymentGateway for SimulatedPaymentGateway {
    async fn create_payment(&self, id: &str, amount_hellers: i64, _: &str) -> Result<PaymentIntent, PaymentError> {
        Ok(self.create(id, amount_hellers, None))
    }

    async fn start_payment(
        &self,
        id: &str,
        amount_hellers: i64,
        _: &str,
        return_url: &str,
    ) -> Result<PaymentIntent, PaymentError> {
        Ok(self.create(id, amount_hellers, Some(return_url)))
    }

    async fn status(&self, id: &str) -> Result<PaymentStatus, PaymentError> {
        let now = self.clock.now();
        let mut payments = self.lock();
        let payment = payments.get_mut(id).ok_or(PaymentError::Unknown)?;
        if payment.status == PaymentStatus::Pending && now - payment.created > Self::EXPIRY {
            payment.status = PaymentStatus::Expired;
            let signed = self.key.notify(id, payment.status, now);
            self.send(signed);
        }
        Ok(payment.status)
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

    #[tokio::test]
    async fn checkout_declines_test_cards_expires_sessions_and_notifies_once_per_change() {
        let clock = Arc::new(ManualClock::new(datetime!(2026-11-23 08:00 UTC)));
        let gateway = SimulatedPaymentGateway::new(clock.clone(), |id| format!("/pay/{id}"));
        let key = NotificationKey::development();
        for id in ["ok", "no", "poor", "typo", "late"] {
            gateway.start_payment(id, 150_000, "fee", &format!("/back/{id}")).await.expect("started");
        }
        let paid = gateway.checkout("ok", test_cards::PAID).expect("checkout");
        assert_eq!(paid, CheckoutOutcome { status: PaymentStatus::Paid, return_url: Some("/back/ok".into()) });
        assert_eq!(gateway.checkout("ok", test_cards::DECLINED).expect("again").status, PaymentStatus::Paid);
        assert_eq!(gateway.checkout("no", test_cards::DECLINED).expect("checkout").status, PaymentStatus::Declined);
        let poor = gateway.checkout("poor", test_cards::INSUFFICIENT_FUNDS).expect("checkout");
        assert_eq!(poor.status, PaymentStatus::Declined);
        assert_eq!(gateway.checkout("typo", "4242424242424241").expect("checkout").status, PaymentStatus::Declined);
        clock.advance(std::time::Duration::from_secs(31 * 60));
        assert_eq!(gateway.checkout("late", test_cards::PAID).expect("checkout").status, PaymentStatus::Expired);
        let sent = gateway.take_notifications();
        let told: Vec<(String, PaymentStatus)> = sent
            .iter()
            .map(|n| {
                // Each checked at the moment it was sent (the older ones are outside the window now).
                let t: i64 = n.signature[2..].split(',').next().and_then(|t| t.parse().ok()).expect("t=");
                let sent = OffsetDateTime::from_unix_timestamp(t).expect("time");
                let note = key.verify(&n.signature, n.body.as_bytes(), sent).expect("verifies");
                (note.payment_id, note.status)
            })
            .collect();
        assert_eq!(
            told,
            [
                ("ok".to_owned(), PaymentStatus::Paid),
                ("no".to_owned(), PaymentStatus::Declined),
                ("poor".to_owned(), PaymentStatus::Declined),
                ("typo".to_owned(), PaymentStatus::Declined),
                ("late".to_owned(), PaymentStatus::Expired),
            ]
        );
        assert!(gateway.take_notifications().is_empty(), "taken once");
        let again = gateway.resend("ok").expect("resend");
        assert_eq!(
            key.verify(&sent[0].signature, sent[0].body.as_bytes(), clock.now()),
            Err(NotificationError::OutsideWindow),
            "31 minutes later the first one is a replay"
        );
        let first = key.verify(&sent[0].signature, sent[0].body.as_bytes(), datetime!(2026-11-23 08:00 UTC));
        let first = first.expect("verifies");
        let second = key.verify(&again.signature, again.body.as_bytes(), clock.now()).expect("verifies");
        assert_eq!(first.id, second.id, "a resend is the same notification");
    }

    #[test]
    fn the_luhn_check_knows_the_test_cards() {
        assert!(luhn(test_cards::PAID) && luhn(test_cards::DECLINED) && luhn(test_cards::INSUFFICIENT_FUNDS));
        assert!(!luhn("4242424242424241") && !luhn("42") && !luhn("4242x24242424242"));
    }
}
