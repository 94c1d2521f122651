//! The `fees` capability (Místní poplatky): the municipal fees of the
//! citizen's municipality (dog, waste, accommodation), paying them through
//! the payment gateway, and QR Platba for paying by bank transfer.
//!
//! - [`municipal`]: the port to the municipality's fee system (the catalogue
//!   of fees with rates, exemptions and due dates, and the citizen's
//!   obligations) and its SIMULATOR with data for the demo citizens'
//!   municipalities; [`Residence`] is the port that says where the citizen
//!   lives (composed in the app from the identity profile, so this
//!   capability never reads another one's data).
//! - [`payment`]: a payment of one obligation through the payment-gateway
//!   port (`portal-payments`): `POST /api/fees/{fee}/payments` starts it
//!   (the redirect to the gateway), the gateway returns the citizen to
//!   `GET /api/fees/payments/{payment}` (the return and the status) and
//!   notifies `POST /api/fees/payment-notifications` (signed, checked,
//!   replay-safe); either way the queue function `SettleFeePayment` (or the
//!   return itself) settles the payment once: the municipality is told, a
//!   receipt PDF goes to Documents, the citizen is notified.
//! - [`spayd`] and [`qr`]: `GET /api/fees/{fee}/qr` (the SPAYD 1.0 payload)
//!   and the QR image as PNG and SVG.
//!
//! When the citizen erases their account, `EraseFeesData` (on `erase-fees`)
//! deletes the payment records and their lookups ([`queue::erase_fees_data`]).
//!
//! Layout: [`http`] has one file per HTTP action, [`queue`] one file per
//! function; [`functions`] below is the list the app serves.

pub mod export;
pub mod http;
pub mod municipal;
pub mod payment;
pub mod qr;
pub mod queue;
pub mod receipt;
pub mod spayd;

use std::sync::Arc;

use portal_crypto::{CryptoError, Sealer};
use portal_host::{Failure, Function, Problem, op};
use portal_payments::{NotificationKey, PaymentError, PaymentGateway, SimulatedPaymentGateway};
use portal_security::AccessLog;
use portal_store::{BlobStore, Clock, DocumentStore, QueueStore, StoreError};

pub use municipal::{FeeSystem, FeeSystemError, FeesNotConnected, Residence, ResidenceError, SimulatedFeeSystem};

/// The collection of payment records (citizen partitions), the payment
/// lookup for notifications and the notification nonces.
pub const COLLECTION: &str = "fees";

/// The local SIMULATOR's checkout route for a payment.
pub fn simulated_checkout_path(payment: &str) -> String {
    format!("/api/fees/payments/{payment}/simulated-checkout")
}

/// SIMULATOR: the payment gateway for local mode and tests; the citizen pays
/// with a test card at `POST /api/fees/payments/{id}/simulated-checkout`.
pub fn simulated_gateway(clock: Arc<dyn Clock>, key: NotificationKey) -> SimulatedPaymentGateway {
    SimulatedPaymentGateway::new(clock, simulated_checkout_path).with_notification_key(key)
}

/// Settings of the capability.
#[derive(Debug, Clone)]
pub struct FeesSettings {
    /// True when the fee system is the SIMULATOR: answers, QR messages and
    /// receipts say so.
    pub simulated: bool,
    /// The portal's public address: the gateway returns the citizen to
    /// `<public_base_url>/api/fees/payments/<id>`.
    pub public_base_url: String,
    /// Sealed receipts up to this size travel inline in the event to
    /// Documents; larger ones go through blob storage.
    pub inline_limit: usize,
}

impl Default for FeesSettings {
    fn default() -> Self {
        Self {
            simulated: true,
            public_base_url: "http://localhost:7071".into(),
            inline_limit: portal_events::INLINE_CONTENT_LIMIT,
        }
    }
}

/// The capability's dependencies.
#[derive(Debug, Clone)]
pub struct Fees {
    /// The municipalities' fee systems ([`SimulatedFeeSystem`] locally).
    pub fee_system: Arc<dyn FeeSystem>,
    /// Where the citizen lives (their municipality).
    pub residence: Arc<dyn Residence>,
    /// The payment gateway: the simulator locally, not connected in
    /// production until a gateway is contracted (503, nothing pretended).
    pub payments: Arc<dyn PaymentGateway>,
    /// Local mode only: the same simulator as `payments`, for the simulated
    /// checkout route; `None` elsewhere (404).
    pub simulated_payments: Option<Arc<SimulatedPaymentGateway>>,
    /// Verifies the gateway's notifications.
    pub notification_key: NotificationKey,
    pub documents: Arc<dyn DocumentStore>,
    pub blobs: Arc<dyn BlobStore>,
    pub queues: Arc<dyn QueueStore>,
    pub sealer: Sealer,
    pub access_log: AccessLog,
    pub clock: Arc<dyn Clock>,
    pub settings: FeesSettings,
}

/// What can go wrong below the HTTP edge.
#[derive(Debug, thiserror::Error)]
pub enum FeesError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    Payment(#[from] PaymentError),
    #[error(transparent)]
    FeeSystem(#[from] FeeSystemError),
    #[error(transparent)]
    Residence(#[from] ResidenceError),
    /// Another writer changed the record first; trying again sees it.
    #[error("the payment record was changed concurrently")]
    Contended,
    #[error("the message is not usable: {0}")]
    Malformed(String),
    /// The receipt PDF cannot be made (a bug or a broken font): permanent.
    #[error("the receipt cannot be rendered: {0}")]
    Receipt(String),
    #[error("a stored fees document is not readable: {0}")]
    Corrupt(String),
}

impl Failure for FeesError {
    fn is_retryable(&self) -> bool {
        match self {
            Self::Store(e) => e.is_retryable() || matches!(e, StoreError::PreconditionFailed),
            Self::Crypto(e) => e.is_retryable(),
            Self::Payment(e) => e.is_retryable(),
            Self::FeeSystem(e) => e.is_retryable(),
            Self::Residence(e) => e.is_retryable(),
            Self::Contended => true,
            Self::Malformed(_) | Self::Corrupt(_) | Self::Receipt(_) => false,
        }
    }

    /// 503 naming what is unavailable when trying later can help (payments,
    /// the municipality, storage, the key service), else 500.
    fn problem(&self) -> Problem {
        match self {
            Self::Payment(PaymentError::NotConnected) => Problem::unavailable("payments are not connected yet"),
            Self::Payment(PaymentError::Unavailable(_)) => Problem::unavailable("the payment gateway"),
            Self::FeeSystem(FeeSystemError::Unavailable(_)) => Problem::unavailable("the municipality's fee system"),
            Self::Residence(ResidenceError::Unavailable(_)) => Problem::unavailable("the citizen's profile"),
            Self::Store(_) | Self::Contended => Problem::unavailable("storage"),
            Self::Crypto(e) if e.is_retryable() => Problem::unavailable("the key service"),
            _ => Problem::internal(),
        }
    }
}

pub(crate) fn corrupt(error: impl std::fmt::Display) -> FeesError {
    FeesError::Corrupt(error.to_string())
}

/// Every function of the capability: the HTTP routes, the queue functions
/// `SettleFeePayment` and `EraseFeesData`.
pub fn functions(fees: Fees) -> Vec<Function> {
    let s = Arc::new(fees);
    vec![
        Function::api(op!(http::list_fees)).with_state(s.clone()).build(),
        Function::api(op!(http::pay_fee)).with_state(s.clone()).build(),
        Function::api(op!(http::show_fee_payment)).with_state(s.clone()).build(),
        Function::api(op!(http::fee_payment_notification)).with_body_limit(16 * 1024).with_state(s.clone()).build(),
        Function::api(op!(http::simulated_fee_checkout)).with_state(s.clone()).build(),
        Function::api(op!(http::fee_qr)).with_state(s.clone()).build(),
        Function::api(op!(http::fee_qr_png)).with_state(s.clone()).build(),
        Function::api(op!(http::fee_qr_svg)).with_state(s.clone()).build(),
        queue::settle_fee_payment::function(s.clone()),
        queue::erase_fees_data::function(s),
    ]
}

/// A folder per citizen that names no one: the SHA-256 of the subject (the
/// rule of the other capabilities).
pub fn citizen_folder(subject: &str) -> String {
    sha256_hex(subject)[..32].to_owned()
}

pub(crate) fn sha256_hex(text: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes());
    portal_store::lower_hex(digest.as_ref())
}
