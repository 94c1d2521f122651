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
//!   driver points, vehicles and properties.
//!
//! Every read of a citizen's register data goes to their access log, cache
//! hits included. Simulator data is labelled in every answer and on every PDF.

pub mod extracts;
pub mod gateway;
pub mod my_data;
pub use portal_pdf as pdf;
pub mod render;
mod routes;
pub mod simulator;

use std::sync::Arc;
use std::time::Duration;

use portal_crypto::Sealer;
use portal_host::Function;
use portal_security::AccessLog;
use portal_store::{BlobStore, Clock, DocumentStore, QueueStore};

pub use gateway::http::{HttpGateway, HttpGatewayConfig};
pub use gateway::{GatewayError, RegistersGateway};
pub use my_data::refresh_calendar;

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
}

impl Default for RegistersSettings {
    fn default() -> Self {
        Self {
            simulated: true,
            cache_ttl: Duration::from_secs(5 * 60),
            max_attempts: 5,
            requeue_after: Duration::from_secs(10 * 60),
            inline_limit: portal_events::INLINE_CONTENT_LIMIT,
        }
    }
}

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
}

/// The SIMULATOR gateway for local mode: the production adapter's code
/// path, in process ([`HttpGateway::in_process`]).
pub fn simulated_gateway(clock: Arc<dyn Clock>) -> Arc<dyn RegistersGateway> {
    Arc::new(HttpGateway::in_process(simulator::router(clock)))
}

pub fn functions(registers: Registers) -> Vec<Function> {
    routes::functions(Arc::new(registers))
}

/// A folder per citizen that names no one: the SHA-256 of the subject (the
/// same rule as the data box archive).
pub fn citizen_folder(subject: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, subject.as_bytes());
    digest.as_ref().iter().take(16).map(|b| format!("{b:02x}")).collect()
}
