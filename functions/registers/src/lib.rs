//! The `registers` capability (Údaje, výpisy): what the state's registers
//! hold about the citizen, and extracts from them as PDF documents.
//!
//! - [`gateway`]: the registers gateway port (contract:
//!   `docs/registers-gateway.openapi.yaml`), its production adapter over
//!   mutual TLS, and in-process mode against the [`simulator`];
//! - [`extracts`]: extracts as jobs. `POST /api/registers/extracts` records a
//!   job and queues it; the queue function `FetchExtract` asks the gateway,
//!   renders the PDF ([`pdf`], [`render`]), seals it and hands it to
//!   Documents with a notification, exactly once per job;
//! - [`my_data`]: `GET /api/me/registers` (population register, and the
//!   register of persons for entrepreneurs), cached briefly, and the identity
//!   documents' expiry dates sent to the calendar;
//! - the odometer check (`GET /api/registers/odometer`) and direct lookups of
//!   driver points, vehicles and properties;
//! - [`filings`]: filings (Podání): one model for everything the citizen
//!   files, register writes and the driving licence application through the
//!   gateway, filings reported by other capabilities (queue `RecordFiling`),
//!   the agency's legal deadline in the calendar, the timer
//!   `CheckFilingDeadlines` and the reminder (urgence); fees through the
//!   [`payments`] port.
//!
//! When the citizen erases their account, the queue function
//! `EraseRegistersData` (on `erase-registers`) deletes all of it
//! ([`queue::erase_registers_data`]).
//!
//! Layout: [`http`] has one file per HTTP action, [`queue`] and [`timer`] one
//! file per function; [`functions`] below is the list the app serves.
//!
//! Every read of a citizen's register data goes to their access log, cache
//! hits included. Simulator data is labelled in every answer and on every PDF.

pub mod export;
pub mod extracts;
pub mod filings;
pub mod gateway;
pub mod http;
pub mod my_data;
pub mod payments;
pub use portal_pdf as pdf;
pub mod queue;
pub mod render;
pub mod simulator;
pub mod timer;

use std::sync::Arc;
use std::time::Duration;

use portal_crypto::Sealer;
use portal_host::{Function, op};
use portal_security::AccessLog;
use portal_store::{BlobStore, Clock, DocumentStore, QueueStore};

pub use gateway::http::{HttpGateway, HttpGatewayConfig};
pub use gateway::{GatewayError, RegistersGateway};
pub use my_data::refresh_calendar;
pub use payments::{PaymentGateway, PaymentsNotConnected, SimulatedPaymentGateway};

/// The document collection: extract jobs and the short-lived cache, each in
/// the citizen's partition.
pub const COLLECTION: &str = "registers";

/// Settings of the capability.
#[derive(Debug, Clone)]
pub struct RegistersSettings {
    /// True when the gateway is the SIMULATOR: answers and PDFs say so.
    pub simulated: bool,
    /// How long `GET /api/me/registers` serves the citizen's data from the
    /// sealed cache before asking the registers again.
    pub cache_ttl: Duration,
    /// After this many tries of one extract job (each a queue delivery), a
    /// job whose gateway is still unavailable is marked failed and the
    /// citizen is told. At most the host's `maxDequeueCount` (5), so the job
    /// fails before its message is poisoned.
    pub max_attempts: u32,
    /// A job still `queued` this long after its message was sent is queued
    /// again when the citizen looks at it (a crash between recording the job
    /// and queueing it).
    pub requeue_after: Duration,
    /// Sealed PDFs up to this size travel inline in the event to Documents;
    /// larger ones go through blob storage.
    pub inline_limit: usize,
    /// How many days back the deadline timer looks for deadlines that
    /// passed (a missed run is caught up within this window).
    pub deadline_lookback_days: u32,
    /// The driving licence fee by reason (whole Kč).
    pub licence_fees: filings::licence::LicenceFees,
    /// The licence photo's limits (35 × 45 mm at 300 dpi; 20 kB – 5 MB).
    pub photo_rules: filings::jpeg::PhotoRules,
    /// The qualified CAs a qualified certificate must chain to
    /// (`PORTAL_QUALIFIED_TRUST_ANCHORS`); by default, as with the simulator,
    /// the committed test CA ([`filings::certificate::LOCAL_TEST_CA_PEM`]).
    pub qualified_trust_anchors: filings::certificate::TrustAnchors,
}

impl Default for RegistersSettings {
    fn default() -> Self {
        Self {
            simulated: true,
            cache_ttl: Duration::from_secs(5 * 60),
            max_attempts: 5,
            requeue_after: Duration::from_secs(10 * 60),
            inline_limit: portal_events::INLINE_CONTENT_LIMIT,
            deadline_lookback_days: 60,
            licence_fees: filings::licence::LicenceFees::default(),
            photo_rules: filings::jpeg::PhotoRules::default(),
            qualified_trust_anchors: filings::certificate::TrustAnchors::from_pem(
                filings::certificate::LOCAL_TEST_CA_PEM,
            )
            .unwrap_or_default(),
        }
    }
}

/// The capability's dependencies.
#[derive(Debug, Clone)]
pub struct Registers {
    pub gateway: Arc<dyn RegistersGateway>,
    pub documents: Arc<dyn DocumentStore>,
    pub blobs: Arc<dyn BlobStore>,
    pub queues: Arc<dyn QueueStore>,
    pub sealer: Sealer,
    pub access_log: AccessLog,
    pub clock: Arc<dyn Clock>,
    pub settings: RegistersSettings,
    /// Fees of filings: [`SimulatedPaymentGateway`] in local mode,
    /// [`PaymentsNotConnected`] in production until a gateway is connected.
    pub payments: Arc<dyn PaymentGateway>,
    /// Local mode only: the same simulator as `payments`, so the citizen can
    /// settle a simulated payment by hand (`POST
    /// /api/filings/{id}/simulated-payment`); `None` elsewhere (404).
    pub simulated_payments: Option<Arc<SimulatedPaymentGateway>>,
}

/// The SIMULATOR gateway for local mode: the production adapter's code
/// path, in process ([`HttpGateway::in_process`]).
pub fn simulated_gateway(clock: Arc<dyn Clock>) -> Arc<dyn RegistersGateway> {
    Arc::new(HttpGateway::in_process(simulator::router(clock)))
}

/// Every function of the capability: the HTTP routes of registers and
/// filings, the queue functions `FetchExtract`, `RefreshOnSignIn`,
/// `EraseRegistersData`, `RecordFiling` and `SettleFilingPayment`, and the
/// timer `CheckFilingDeadlines`.
pub fn functions(registers: Registers) -> Vec<Function> {
    let s = Arc::new(registers);
    // The licence photo (at most `max_bytes`) and the rest of the form.
    let photo_limit = s.settings.photo_rules.max_bytes.saturating_add(256 * 1024);
    vec![
        Function::api(op!(http::request_extract)).with_state(s.clone()).build(),
        Function::api(op!(http::list_extracts)).with_state(s.clone()).build(),
        Function::api(op!(http::show_extract)).with_state(s.clone()).build(),
        Function::api(op!(http::check_odometer)).with_state(s.clone()).build(),
        Function::api(op!(http::my_driver_points)).with_state(s.clone()).build(),
        Function::api(op!(http::my_vehicles)).with_state(s.clone()).build(),
        Function::api(op!(http::my_properties)).with_state(s.clone()).build(),
        Function::api(op!(http::my_register_data)).with_state(s.clone()).build(),
        queue::fetch_extract::function(s.clone()),
        queue::refresh_on_sign_in::function(s.clone()),
        queue::erase_registers_data::function(s.clone()),
        Function::api(op!(http::list_filings)).with_state(s.clone()).build(),
        Function::api(op!(http::show_filing)).with_state(s.clone()).build(),
        Function::api(op!(http::request_register_write)).with_state(s.clone()).build(),
        Function::api(op!(http::apply_for_driving_licence)).with_body_limit(photo_limit).with_state(s.clone()).build(),
        Function::api(op!(http::urge_filing)).with_state(s.clone()).build(),
        Function::api(op!(http::settle_simulated_filing_payment)).with_state(s.clone()).build(),
        queue::record_filing::function(s.clone()),
        queue::settle_filing_payment::function(s.clone()),
        timer::check_filing_deadlines::function(s),
    ]
}

/// A folder per citizen that names no one: the SHA-256 of the subject (the
/// same rule as the data box archive).
pub fn citizen_folder(subject: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, subject.as_bytes());
    portal_store::lower_hex(&digest.as_ref()[..16])
}
