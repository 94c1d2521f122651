//! The `databox` capability: the citizen's window into ISDS (datové schránky).
//! Lists, shows and sends data messages, archives them before ISDS deletes
//! them, buys credit for commercial messages, warns before deemed delivery,
//! and takes requests to create a box. When a citizen erases their account,
//! `EraseDataboxData` (queue `erase-databox`) deletes the portal's records of
//! them ([`queue::erase_databox_data`]).
//!
//! Layout: [`http`] has one file per HTTP action, [`queue`] and [`timer`] one
//! file per function; [`functions`] below is the list the app serves. The
//! domain beside them: [`isds`] (the port, its SOAP adapter and simulator),
//! [`archive`], [`credit`], [`box_requests`], [`validate`], [`index`].

pub mod archive;
pub mod box_requests;
pub mod containers;
pub mod credit;
pub mod delivery;
pub mod events;
pub mod export;
pub mod http;
pub mod index;
pub mod isds;
pub mod payments;
pub mod queue;
pub mod reconcile;
pub mod sending;
pub mod spool;
pub mod timer;
pub mod validate;

use std::sync::Arc;

use portal_crypto::Sealer;
use portal_host::{AuthLevel, Failure, Function, Problem, op};
use portal_security::{AccessLog, SubjectId};
use portal_store::{BlobStore, Clock, DocumentStore, NewDocument, QueueStore, StoreError};
use serde_json::json;

use crate::isds::{Access, BoxContext, BoxId, Isds, SessionContext};
use crate::payments::{CreditSystem, PaymentGateway};

pub use index::COLLECTION;

/// ISDS's standard message (`CreateMessage`): at most 20 MB of files
/// (`czech-egov-domain.md` §1.7; counted as 20 000 000 bytes, the lower
/// reading of "20 MB").
pub const STANDARD_MESSAGE_BYTES: u64 = 20_000_000;

/// ISDS's limit for a message since 1 January 2024: 100 MB of files (counted
/// as 100 000 000 bytes). A message over [`STANDARD_MESSAGE_BYTES`] is a VoDZ
/// (velkoobjemová datová zpráva), sent through its own services
/// (`czech-egov-domain.md` §1.7). The default of
/// [`DataboxSettings::max_message_bytes`]; the operator plans more, so it is
/// a setting.
pub const ISDS_MESSAGE_LIMIT_BYTES: u64 = 100_000_000;

/// Settings of the capability.
#[derive(Debug, Clone)]
pub struct DataboxSettings {
    /// Archive messages delivered at least this many days ago (1–89; ISDS
    /// deletes content 90 days after delivery).
    pub archive_after_days: u32,
    /// The largest message the portal sends, all files together
    /// (`PORTAL_MAX_MESSAGE_MB`; default [`ISDS_MESSAGE_LIMIT_BYTES`]). Up to
    /// [`STANDARD_MESSAGE_BYTES`] a message goes by `CreateMessage`; above, it
    /// is a VoDZ and goes by `UploadAttachment` and `CreateBigMessage`
    /// ([`sending::deliver`]).
    pub max_message_bytes: u64,
    /// The amounts (CZK) a citizen may top up (`PORTAL_DATABOX_CREDIT_AMOUNTS_CZK`).
    pub credit_amounts_czk: Vec<u32>,
    /// Below this credit (hellers) after a change, the citizen is told
    /// (`PORTAL_DATABOX_CREDIT_LOW_CZK`).
    pub credit_low_hellers: i64,
    /// True when ISDS, payments and the credit system are simulators: shown in
    /// every answer that carries their data.
    pub simulated: bool,
}

impl DataboxSettings {
    /// The largest message sent: the setting.
    pub fn message_limit(&self) -> u64 {
        self.max_message_bytes
    }
}

impl Default for DataboxSettings {
    fn default() -> Self {
        Self {
            archive_after_days: 80,
            max_message_bytes: ISDS_MESSAGE_LIMIT_BYTES,
            credit_amounts_czk: vec![100, 200, 500, 1000],
            credit_low_hellers: 2_000,
            simulated: true,
        }
    }
}

/// Which data box belongs to which citizen: a port onto an authoritative
/// source ([`IsdsPersonDirectory`]: ISDS's `FindPersonalDataBox` by the
/// citizen's identity; the population register's box id would be another).
#[async_trait::async_trait]
pub trait BoxDirectory: Send + Sync + std::fmt::Debug {
    async fn box_of(&self, subject: &SubjectId) -> Option<BoxId>;

    /// The box of a legal person (a company its statutory body acts for):
    /// looked up on every use and never stored as a link, since a company is
    /// not a portal user whose box the jobs walk. Default: none.
    async fn company_box_of(&self, _subject: &SubjectId) -> Option<BoxId> {
        None
    }
}

/// Which subjects are legal persons, and their IČO: a port onto the register
/// of persons (ROS), composed in the app from the delegation capability's
/// registers.
#[async_trait::async_trait]
pub trait LegalPersons: Send + Sync + std::fmt::Debug {
    /// The IČO of `subject` when it is a legal person; `None` for a citizen,
    /// and when the register cannot say.
    async fn ico(&self, subject: &SubjectId) -> Option<isds::Ico>;
}

/// Adds companies to a citizens' directory: a legal person's box is the one
/// ISDS's `FindDataBox` finds by its IČO (type PO), searched in `search_in`.
/// Exactly one box links; none or several link nothing. Citizens go to
/// `citizens`.
#[derive(Debug)]
pub struct IsdsCompanyDirectory {
    pub isds: Arc<dyn Isds>,
    pub companies: Arc<dyn LegalPersons>,
    pub search_in: Option<isds::BoxContext>,
    pub citizens: Arc<dyn BoxDirectory>,
}

#[async_trait::async_trait]
impl BoxDirectory for IsdsCompanyDirectory {
    async fn box_of(&self, subject: &SubjectId) -> Option<BoxId> {
        self.citizens.box_of(subject).await
    }

    async fn company_box_of(&self, subject: &SubjectId) -> Option<BoxId> {
        let ctx = self.search_in.as_ref()?;
        let ico = self.companies.ico(subject).await?;
        match self.isds.find_boxes(ctx, &isds::BoxSearch::Ico(ico)).await {
            Ok(found) if found.len() == 1 => found.into_iter().next().map(|info| info.id),
            Ok(found) => {
                tracing::info!(matches = found.len(), "no single data box for this company's IČO");
                None
            }
            Err(error) => {
                tracing::warn!(error = %error, "ISDS could not be searched for the company's data box");
                None
            }
        }
    }
}

/// SIMULATOR, for tests: the demo citizens' boxes straight from the ISDS
/// simulator's table. The app links through [`IsdsPersonDirectory`] instead
/// (ISDS's own search by the citizen's identity), in local mode too.
#[derive(Debug)]
pub struct SimulatedBoxDirectory(pub Arc<isds::simulator::IsdsSimulator>);

#[async_trait::async_trait]
impl BoxDirectory for SimulatedBoxDirectory {
    async fn box_of(&self, subject: &SubjectId) -> Option<BoxId> {
        // Subject ids percent-encode the pseudonym's slashes.
        self.0.box_of_person(&subject.as_str().replace("%2F", "/").replace("%25", "%"))
    }
}

/// The citizen's name and date of birth, as the identity provider gave them
/// (in the app: the identity profile, composed in `src/app.rs`).
#[async_trait::async_trait]
pub trait CitizenIdentities: Send + Sync + std::fmt::Debug {
    async fn person(&self, subject: &SubjectId) -> Option<isds::PersonQuery>;
}

/// Links a citizen to their box from ISDS itself, the authoritative source:
/// `FindPersonalDataBox` by the citizen's name and date of birth, searched in
/// `search_in` (the operator's own box; ISDS lets only some boxes search
/// personal ones). Exactly one personal box links; none or several link
/// nothing (the citizen is told no box is linked). Without a search context
/// (production until the operator's box is configured) nothing links.
#[derive(Debug)]
pub struct IsdsPersonDirectory {
    pub isds: Arc<dyn Isds>,
    pub identities: Arc<dyn CitizenIdentities>,
    pub search_in: Option<isds::BoxContext>,
}

#[async_trait::async_trait]
impl BoxDirectory for IsdsPersonDirectory {
    async fn box_of(&self, subject: &SubjectId) -> Option<BoxId> {
        let ctx = self.search_in.as_ref()?;
        let person = self.identities.person(subject).await?;
        match self.isds.find_personal_boxes(ctx, &person).await {
            Ok(found) if found.len() == 1 => found.into_iter().next(),
            Ok(found) => {
                tracing::info!(matches = found.len(), "no single personal data box for this citizen");
                None
            }
            Err(error) => {
                tracing::warn!(error = %error, "ISDS could not be searched for the citizen's data box");
                None
            }
        }
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
    /// ISDS's box management, for requests to create a box.
    pub management: Arc<dyn box_requests::BoxManagement>,
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

/// Why the citizen's data box is not known.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("no data box is linked to this citizen")]
    NoBox,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Failure for LinkError {
    fn is_retryable(&self) -> bool {
        match self {
            Self::NoBox => false,
            Self::Store(error) => error.is_retryable(),
        }
    }

    fn problem(&self) -> Problem {
        match self {
            Self::NoBox => {
                Problem::not_found("no data box is linked to you; you can request one at /api/databox/box-requests")
            }
            Self::Store(error) => error.problem(),
        }
    }
}

impl Databox {
    /// The citizen's box: the stored link, or the directory's answer (stored
    /// and indexed for the jobs on first use). A company's box (its
    /// statutory body acting for it) is the directory's answer each time.
    pub async fn box_of(&self, subject: &SubjectId) -> Result<BoxId, LinkError> {
        if let Some(doc) = self.documents.get(COLLECTION, subject.as_str(), "link").await?
            && let Some(id) = doc.body["boxId"].as_str().and_then(|id| BoxId::parse(id).ok())
        {
            return Ok(id);
        }
        if let Some(id) = self.directory.company_box_of(subject).await {
            return Ok(id);
        }
        let id = self.directory.box_of(subject).await.ok_or(LinkError::NoBox)?;
        self.link_box(subject.as_str(), &id).await?;
        Ok(id)
    }

    /// Stores the link of `subject` to box `id` (create-only) and indexes the
    /// citizen for the jobs. Safe to repeat.
    pub async fn link_box(&self, subject: &str, id: &BoxId) -> Result<(), StoreError> {
        let link = NewDocument::new(subject, "link", json!({"type": "box-link", "boxId": id.as_str()}));
        match self.documents.create(COLLECTION, link).await {
            Ok(_) | Err(StoreError::Conflict) => {}
            Err(error) => return Err(error),
        }
        index::register(self.documents.as_ref(), subject).await
    }

    /// How the portal reaches citizens' boxes: the hosted records-system
    /// access in production, the simulator's boxes in local mode.
    pub fn access(&self) -> Access {
        if self.settings.simulated { Access::Simulated } else { Access::HostedRecordsSystem }
    }

    /// The citizen's box, in their own session: the context the delivering
    /// operations need.
    pub async fn session_context(&self, citizen: &portal_security::Citizen) -> Result<SessionContext, LinkError> {
        self.session_context_of(&citizen.subject, citizen).await
    }

    /// The box of `owner` in `citizen`'s session: the citizen's own, or the
    /// box of a person they act for under a grant (`ActingFor`), which the
    /// grant's scope already allowed.
    pub async fn session_context_of(
        &self,
        owner: &SubjectId,
        citizen: &portal_security::Citizen,
    ) -> Result<SessionContext, LinkError> {
        let box_id = self.box_of(owner).await?;
        Ok(SessionContext::new(box_id, self.access(), citizen))
    }

    /// Where a big message's ZFO and files go while `owner`'s request or job
    /// uses them: blobs sealed under the owner's key, deleted when the
    /// message is dropped ([`isds::Stash`]).
    pub fn stash(&self, owner: &str) -> isds::Stash {
        isds::Stash::sealed(self.blobs.clone(), self.sealer.clone(), owner, self.clock.now())
    }

    /// The citizen's box for a timer or queue function `job`: cannot deliver.
    pub async fn job_context(&self, subject: &SubjectId, job: &'static str) -> Result<BoxContext, LinkError> {
        let box_id = self.box_of(subject).await?;
        Ok(BoxContext::for_job(box_id, self.access(), job))
    }

    /// Whether the citizen has automatic archiving on (default: on).
    pub async fn auto_archive(&self, subject: &str) -> Result<bool, StoreError> {
        let settings = self.documents.get(COLLECTION, subject, "settings").await?;
        Ok(settings.is_none_or(|doc| doc.body["autoArchive"].as_bool().unwrap_or(true)))
    }
}

/// Every function of the capability: the HTTP routes, the queue functions
/// `PurchaseCredit`, `SendDataMessageOnBehalf` and `EraseDataboxData`, and the
/// timers `ArchiveExpiringMessages`, `WarnBeforeDeemedDelivery`,
/// `AdvanceDataBoxRequests` and `ReconcileDataboxCredit`.
pub fn functions(databox: Databox) -> Vec<Function> {
    let s = Arc::new(databox);
    // A message may carry up to the ISDS limit in attachments, plus the form.
    let upload_limit = usize::try_from(s.settings.message_limit()).unwrap_or(usize::MAX).saturating_add(1_000_000);
    vec![
        Function::api(op!(http::list_messages)).with_state(s.clone()).build(),
        Function::api(op!(http::send_message)).with_state(s.clone()).with_body_limit(upload_limit).build(),
        Function::api(op!(http::show_message)).with_state(s.clone()).build(),
        Function::api(op!(http::download_attachment)).with_state(s.clone()).build(),
        Function::api(op!(http::download_zfo)).with_state(s.clone()).build(),
        Function::api(op!(http::mark_read)).with_state(s.clone()).build(),
        Function::api(op!(http::box_info)).with_state(s.clone()).build(),
        Function::api(op!(http::find_boxes)).with_state(s.clone()).build(),
        Function::api(op!(http::change_settings)).with_state(s.clone()).build(),
        Function::api(op!(http::request_box)).with_state(s.clone()).build(),
        Function::api(op!(http::show_box_request)).with_state(s.clone()).build(),
        Function::api(op!(http::buy_credit)).with_state(s.clone()).build(),
        Function::api(op!(http::show_purchase)).with_state(s.clone()).build(),
        Function::api(op!(http::settle_simulated_payment)).with_state(s.clone()).build(),
        Function::api(op!(http::archive_now)).with_state(s.clone()).build(),
        Function::api(op!(http::archive_status)).with_state(s.clone()).with_auth(AuthLevel::Function).build(),
        timer::archive_expiring_messages::function(s.clone()),
        timer::warn_before_deemed_delivery::function(s.clone()),
        timer::advance_data_box_requests::function(s.clone()),
        reconcile::function(s.clone()),
        queue::purchase_credit::function(s.clone()),
        queue::send_data_message_on_behalf::function(s.clone()),
        queue::erase_databox_data::function(s),
    ]
}
