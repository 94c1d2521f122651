//! The registers capability on a testkit [`Harness`], shared by the
//! registers tests: the capability in process on the simulated gateway and
//! payments, the events it publishes, and the documents it files, opened.
#![allow(dead_code)]

pub mod certs;

use std::sync::Arc;

use base64::Engine as _;
use portal_events::{Event, FiledDocument, SealedContent};
use portal_registers::{Registers, RegistersGateway, RegistersSettings, functions, simulated_gateway};
use portal_testkit::Harness;

/// A demo citizen of the registers simulator (besides testkit's Jana and Jiří).
pub const LUDMILA: &str = "DEMO%2Fludmila-stastna-zdarska";

pub struct Portal {
    pub router: axum::Router,
    pub registers: Registers,
    pub harness: Harness,
}

impl std::ops::Deref for Portal {
    type Target = Harness;

    fn deref(&self) -> &Harness {
        &self.harness
    }
}

/// The capability on `harness`, with `gateway` or else the simulator on the
/// harness's clock, and the simulated payments.
pub fn portal_on(harness: Harness, settings: RegistersSettings, gateway: Option<Arc<dyn RegistersGateway>>) -> Portal {
    let payments = Arc::new(portal_registers::payments::simulated_gateway(harness.clock.clone()));
    let registers = Registers {
        gateway: gateway.unwrap_or_else(|| simulated_gateway(harness.clock.clone())),
        documents: harness.documents.clone(),
        blobs: harness.store.clone(),
        queues: harness.store.clone(),
        sealer: harness.sealer.clone(),
        access_log: harness.access_log.clone(),
        clock: harness.clock.clone(),
        settings,
        payments: payments.clone(),
        simulated_payments: Some(payments),
    };
    let router = harness.router(functions(registers.clone()));
    Portal { router, registers, harness }
}

/// In memory, with `settings` and `gateway`.
pub fn portal_with(settings: RegistersSettings, gateway: Option<Arc<dyn RegistersGateway>>) -> Portal {
    portal_on(Harness::new(), settings, gateway)
}

pub fn portal() -> Portal {
    portal_with(RegistersSettings::default(), None)
}

/// Every event on `queue`, taken off it.
pub async fn drain_events(portal: &Portal, queue: &str) -> Vec<Event> {
    portal.drain(queue).await.into_iter().map(|e| serde_json::from_value(e).expect("an event")).collect()
}

/// The plain content of a filed document (inline or blob).
pub async fn open_filed(portal: &Portal, subject: &str, filed: &FiledDocument) -> Vec<u8> {
    let sealed = match &filed.content {
        SealedContent::Inline { sealed } => base64::engine::general_purpose::STANDARD.decode(sealed).expect("base64"),
        SealedContent::Blob { path } => portal.blob(path).await.1,
    };
    portal.registers.sealer.decrypt(subject, &filed.document_id, "content", &sealed).await.expect("decrypts")
}
