//! The fees of filings (správní poplatky, e.g. the driving licence fee) go
//! through the shared payment-gateway port (`portal-payments`); this module
//! names the SIMULATOR's settle route for filings.

use std::sync::Arc;

pub use portal_payments::{
    PaymentError, PaymentGateway, PaymentIntent, PaymentStatus, PaymentsNotConnected, SimulatedPaymentGateway,
};
use portal_store::Clock;

/// SIMULATOR: the gateway for local mode and tests; the citizen settles at
/// `POST /api/filings/{id}/simulated-payment`.
pub fn simulated_gateway(clock: Arc<dyn Clock>) -> SimulatedPaymentGateway {
    SimulatedPaymentGateway::new(clock, |id| format!("/api/filings/{id}/simulated-payment"))
}
