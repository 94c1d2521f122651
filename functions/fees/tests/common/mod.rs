//! The fees capability on a testkit [`Harness`]: the simulated fee system
//! and payment gateway, the demo citizens' residences, and helpers to read
//! what the capability publishes.
#![allow(dead_code)]

use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use portal_events::{Event, FiledDocument, SealedContent};
use portal_fees::municipal::demo;
use portal_fees::{Fees, FeesSettings, Residence, ResidenceError, SimulatedFeeSystem, functions};
use portal_payments::{NotificationKey, SimulatedPaymentGateway};
use portal_security::SubjectId;
use portal_testkit::Harness;

/// Where the demo citizens live (the identity profile's addresses).
#[derive(Debug)]
pub struct DemoResidence;

#[async_trait]
impl Residence for DemoResidence {
    async fn address(&self, subject: &SubjectId) -> Result<Option<String>, ResidenceError> {
        Ok(match subject.as_str() {
            demo::JANA => Some("Vinohradská 1511/230, 100 00 Praha 10".into()),
            demo::JIRI => Some("náměstí Svobody 94/4, 602 00 Brno".into()),
            demo::LUDMILA => Some("Masarykovo náměstí 1, 591 01 Žďár nad Sázavou".into()),
            _ => None,
        })
    }
}

pub struct Portal {
    pub router: axum::Router,
    pub fees: Fees,
    pub gateway: Arc<SimulatedPaymentGateway>,
    pub fee_system: Arc<SimulatedFeeSystem>,
    pub harness: Harness,
}

impl std::ops::Deref for Portal {
    type Target = Harness;

    fn deref(&self) -> &Harness {
        &self.harness
    }
}

pub const SECRET: &[u8] = b"test-notification-secret";

pub fn portal_on(harness: Harness, settings: FeesSettings) -> Portal {
    let key = NotificationKey::new(SECRET);
    let gateway = Arc::new(portal_fees::simulated_gateway(harness.clock.clone(), key.clone()));
    let fee_system = Arc::new(SimulatedFeeSystem::new());
    let fees = Fees {
        fee_system: fee_system.clone(),
        residence: Arc::new(DemoResidence),
        payments: gateway.clone(),
        simulated_payments: Some(gateway.clone()),
        notification_key: key,
        documents: harness.documents.clone(),
        blobs: harness.store.clone(),
        queues: harness.store.clone(),
        sealer: harness.sealer.clone(),
        access_log: harness.access_log.clone(),
        clock: harness.clock.clone(),
        settings,
    };
    let router = harness.router(functions(fees.clone()));
    Portal { router, fees, gateway, fee_system, harness }
}

pub fn portal() -> Portal {
    portal_on(Harness::new(), FeesSettings::default())
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
    portal.fees.sealer.decrypt(subject, &filed.document_id, "content", &sealed).await.expect("decrypts")
}
