//! The `databox` capability: the citizen's window into ISDS (datové schránky).
//! Lists, shows and sends data messages, archives them before ISDS deletes
//! them, buys credit for commercial messages, warns before deemed delivery,
//! and takes requests to create a box. When a citizen erases their account,
//! `EraseDataboxData` (queue `erase-databox`) deletes the portal's records of
//! them ([`erasure`]).

pub mod archive;
pub mod credit;
pub mod erasure;
pub mod events;
pub mod index;
pub mod isds;
pub mod on_behalf;
pub mod payments;
mod routes;
pub mod validate;
pub mod warnings;

use std::sync::Arc;

use portal_crypto::Sealer;
use portal_host::Function;
use portal_security::{AccessLog, SubjectId};
use portal_store::{BlobStore, Clock, DocumentStore, NewDocument, QueueStore, StoreError};
use serde_json::json;

use crate::isds::{BoxId, Isds};
use crate::payments::{CreditSystem, PaymentGateway};

pub use index::COLLECTION;

/// Settings of the capability.
#[derive(Debug, Clone)]
pub struct DataboxSettings {
    /// Archive messages delivered at least this many days ago (1–89; ISDS
    /// deletes content 90 days after delivery).
    pub archive_after_days: u32,
    /// The largest message ISDS accepts (100 MB since 2024).
    pub max_message_bytes: u64,
    /// The amounts (CZK) a citizen may top up.
    pub credit_amounts_czk: Vec<u32>,
    /// Below this credit (hellers) after a change, the citizen is told.
    pub credit_low_hellers: i64,
    /// True when ISDS, payments and the credit system are simulators: shown in
    /// every answer that carries their data.
    pub simulated: bool,
}

impl Default for DataboxSettings {
    fn default() -> Self {
        Self {
            archive_after_days: 80,
            max_message_bytes: 100_000_000,
            credit_amounts_czk: vec![100, 200, 500, 1000],
            credit_low_hellers: 2_000,
            simulated: true,
        }
    }
}

/// Which data box belongs to which citizen. In production the link comes
/// from the population register (the registers issue); the simulator knows
/// the demo citizens' boxes.
#[async_trait::async_trait]
pub trait BoxDirectory: Send + Sync + std::fmt::Debug {
    async fn box_of(&self, subject: &SubjectId) -> Option<BoxId>;
}

/// SIMULATOR: the demo citizens' boxes, as the ISDS simulator knows them.
#[derive(Debug)]
pub struct SimulatedBoxDirectory(pub Arc<isds::simulator::IsdsSimulator>);

#[async_trait::async_trait]
impl BoxDirectory for SimulatedBoxDirectory {
    async fn box_of(&self, subject: &SubjectId) -> Option<BoxId> {
        // Subject ids percent-encode the pseudonym's slashes.
        self.0.box_of_person(&subject.as_str().replace("%2F", "/").replace("%25", "%"))
    }
}

/// No directory yet: citizens link their box explicitly.
#[derive(Debug, Default)]
pub struct NoDirectory;

#[async_trait::async_trait]
impl BoxDirectory for NoDirectory {
    async fn box_of(&self, _: &SubjectId) -> Option<BoxId> {
        None
    }
}

#[derive(Debug, Clone)]
pub struct Databox {
    pub isds: Arc<dyn Isds>,
    pub directory: Arc<dyn BoxDirectory>,
    pub payments: Arc<dyn PaymentGateway>,
    pub credit: Arc<dyn CreditSystem>,
    pub documents: Arc<dyn DocumentStore>,
    pub blobs: Arc<dyn BlobStore>,
    pub queues: Arc<dyn QueueStore>,
    pub sealer: Sealer,
    pub access_log: AccessLog,
    pub clock: Arc<dyn Clock>,
    pub settings: DataboxSettings,
    /// Local mode only: lets the citizen settle a simulated payment by hand.
    pub simulated_payments: Option<Arc<payments::SimulatedPaymentGateway>>,
}

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("no data box is linked to this citizen")]
    NoBox,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Databox {
    /// The citizen's box: the stored link, or the directory's answer (stored
    /// and indexed for the jobs on first use).
    pub async fn box_of(&self, subject: &SubjectId) -> Result<BoxId, LinkError> {
        if let Some(doc) = self.documents.get(COLLECTION, subject.as_str(), "link").await?
            && let Some(id) = doc.body["boxId"].as_str().and_then(|id| BoxId::parse(id).ok())
        {
            return Ok(id);
        }
        let id = self.directory.box_of(subject).await.ok_or(LinkError::NoBox)?;
        let link = NewDocument::new(subject.as_str(), "link", json!({"type": "box-link", "boxId": id.as_str()}));
        match self.documents.create(COLLECTION, link).await {
            Ok(_) | Err(StoreError::Conflict) => {}
            Err(error) => return Err(error.into()),
        }
        index::register(self.documents.as_ref(), subject.as_str()).await?;
        Ok(id)
    }

    /// Whether the citizen has automatic archiving on (default: on).
    pub async fn auto_archive(&self, subject: &str) -> Result<bool, StoreError> {
        let settings = self.documents.get(COLLECTION, subject, "settings").await?;
        Ok(settings.is_none_or(|doc| doc.body["autoArchive"].as_bool().unwrap_or(true)))
    }
}

pub fn functions(databox: Databox) -> Vec<Function> {
    routes::functions(Arc::new(databox))
}
