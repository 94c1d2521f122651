//! The `petitions` capability: ePetice (zákon 85/1990 Sb., o právu petičním,
//! §6a). Citizens write a petition, publish it, collect declarations of
//! support (the electronic replacement of a signature) from citizens logged in
//! with a level of assurance of at least substantial, close it, download the
//! extract of signatures (§4(1) data: name, surname, residence, with the
//! §4(2) data of the petition) and hand it over to the addressee's data box.
//! Officials of the Ministry of the Interior list petitions, see the ones the
//! burst detector flagged, block a petition that breaks §1(3)/(4) (§6a(5)) and
//! export statistics.
//!
//! **Unlinkable signatures.** A signature is stored under the signer id
//! `base64url(HMAC-SHA256(signer key, petition id ‖ 0x00 ‖ subject))`: the
//! store's create-only write on that id is what allows one signature per
//! person per petition, also under concurrent requests, and without the key
//! (Key Vault) the records can be linked neither to a person nor across
//! petitions. The signer's name and residence are sealed with a data key of
//! the petition (`owner = "petition-<id>"`), which only the extract opens.
//!
//! **Exact counts.** Each petition has [`PetitionsSettings::counter_shards`]
//! counter documents in its own partition. A signature is created (or
//! deleted) in one transactional batch with an `If-Match` increment (or
//! decrement) of the counter shard its signer id falls into, retried when
//! another signer raced it; the count is the sum of the shards, so it equals
//! the number of signature documents at every moment. Sharding spreads the
//! write contention of a busy petition (a single counter would serialise
//! every signature on one document's ETag). The shards also carry the `open`
//! flag: closing or blocking rewrites every shard in the same batch as the
//! petition, so a signature whose batch was prepared before the block fails
//! its precondition and then sees the petition closed: signing stops at once.
//!
//! Storage (collection [`COLLECTION`]):
//! - partition `petition-<id>`: the petition (`petition`), its counter shards
//!   (`counter-NN`) and its signatures (`sig-<signer id>`);
//! - partition [`catalogue::PARTITION`]: one entry per published petition,
//!   for the public list, the officials' list, statistics and the
//!   `ClosePetitions` timer (one partition, never a cross-partition scan);
//! - the creator's partition (subject id): `mine-<id>` (their petitions,
//!   drafts included) and `created-<date>` (the daily creation limit).
//!
//! Erasure: when a creator erases their account, `ErasePetitionsData` (queue
//! `erase-petitions`) deletes their drafts and list, and replaces the creator
//! of their published petitions by a tombstone ([`queue::erase_petitions_data`]).
//!
//! Blob storage: `petitions/<id>/attachment-<n>`, the petition's PDF
//! attachments, sealed for the creator while a draft and plain (public) once
//! published ([`attachments`]), and the sealed copies of a hand-over.
//!
//! Layout: [`http`] has one file per HTTP action, [`queue`] and [`timer`] one
//! file per function; [`functions`] below is the list the app serves. The
//! domain (no HTTP in it): [`service`] (loading and changing a petition with
//! its counter shards), [`catalogue`], [`counter`], [`signing`], [`closing`],
//! [`attachments`], [`extract`], [`handover`], [`officials`], [`events`].

pub mod attachments;
pub mod burst;
pub mod catalogue;
pub mod closing;
pub mod counter;
pub mod directory;
pub mod events;
pub mod export;
pub mod extract;
pub mod handover;
pub mod http;
pub mod model;
pub mod officials;
pub mod queue;
pub mod service;
pub mod signing;
pub mod timer;

use std::sync::Arc;

use portal_crypto::{CryptoError, Sealer};
use portal_host::{Failure, Function, Problem, op};
use portal_security::{AccessLog, SubjectId};
use portal_store::{BlobStore, Clock, DocumentStore, QueueStore, StoreError};

pub use model::COLLECTION;
pub use service::PetitionService;

/// The key of the signer ids. At least 32 bytes; in Azure it comes from Key
/// Vault through a Key Vault–referenced app setting.
#[derive(Clone)]
pub struct SignerKey {
    key: aws_lc_rs::hmac::Key,
    development: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the petition signer key must be at least 32 bytes")]
pub struct SignerKeyTooShort;

impl SignerKey {
    pub const MIN_LEN: usize = 32;

    pub fn new(bytes: &[u8]) -> Result<Self, SignerKeyTooShort> {
        if bytes.len() < Self::MIN_LEN {
            return Err(SignerKeyTooShort);
        }
        Ok(Self { key: aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, bytes), development: false })
    }

    /// A fixed, publicly known key for local mode and tests. Never for
    /// production: signer ids made with it can be linked by anyone who reads
    /// this source. [`Self::is_development`] lets the composition refuse it.
    pub fn development() -> Self {
        let mut key = Self::new(b"portal-petitions-development-signer-key-not-secret").unwrap_or_else(|_| {
            // The literal above is longer than MIN_LEN.
            unreachable!("the development key is long enough")
        });
        key.development = true;
        key
    }

    pub fn is_development(&self) -> bool {
        self.development
    }

    /// `base64url(HMAC-SHA256(key, petition id ‖ 0x00 ‖ subject))`, 43 characters.
    pub fn signer_id(&self, petition: &model::PetitionId, subject: &SubjectId) -> String {
        self.keyed(petition.as_str(), subject.as_str())
    }

    /// `base64url(HMAC-SHA256(key, context ‖ 0x00 ‖ value))`, 43 characters.
    pub fn keyed(&self, context: &str, value: &str) -> String {
        use base64::Engine as _;
        let mut hmac = aws_lc_rs::hmac::Context::with_key(&self.key);
        hmac.update(context.as_bytes());
        hmac.update(&[0]);
        hmac.update(value.as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hmac.sign().as_ref())
    }
}

impl std::fmt::Debug for SignerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignerKey").field("development", &self.development).finish_non_exhaustive()
    }
}

/// Settings of the capability.
#[derive(Debug, Clone)]
pub struct PetitionsSettings {
    /// The key of the signer ids (`PORTAL_PETITIONS_SIGNER_KEY`, from Key Vault).
    pub signer_key: SignerKey,
    /// Subject ids of the officials (Ministry of the Interior) who may use
    /// the module for officials.
    pub officials: Vec<String>,
    /// The Senate's data box id: a petition addressed there is watched for
    /// [`Self::senate_threshold`]. `None`: no petition counts as one to the Senate.
    pub senate_box_id: Option<String>,
    /// More than this many signatures put a petition to the Senate on the
    /// plenary's agenda (10,000).
    pub senate_threshold: u64,
    /// The latest end date a petition may have, in days after today.
    pub max_duration_days: u32,
    /// Petitions one citizen may create per day (Prague time).
    pub creations_per_day: u32,
    /// Signatures one citizen may give at once…
    pub sign_burst: u32,
    /// …and then this many a minute (per instance; a token bucket).
    pub sign_refill_per_minute: u32,
    /// More signatures on one petition within a minute than this is a burst:
    /// a warning in the log and the petition flagged for officials.
    pub burst_per_minute: u32,
    /// Counter shards of a petition published from now on.
    pub counter_shards: u32,
    /// The most a hand-over data message (extract and attachments) may carry,
    /// in bytes: ISDS's limit, which the data box capability checks with its
    /// `max_message_bytes` (the same value should be passed to both).
    pub hand_over_max_bytes: u64,
}

impl Default for PetitionsSettings {
    fn default() -> Self {
        Self {
            signer_key: SignerKey::development(),
            officials: Vec::new(),
            senate_box_id: None,
            senate_threshold: 10_000,
            max_duration_days: 365,
            creations_per_day: 5,
            sign_burst: 30,
            sign_refill_per_minute: 1,
            burst_per_minute: 300,
            counter_shards: 16,
            hand_over_max_bytes: 100_000_000,
        }
    }
}

/// The signer's §4(1) data: name, surname and residence (bydliště).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Signer {
    pub given_name: String,
    pub family_name: String,
    pub residence: String,
}

#[derive(Debug, thiserror::Error)]
#[error("the signer's details are unavailable")]
pub struct SignerDetailsError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

/// Where the signer's name and residence come from: the composition reads
/// them from the identity profile (NIA attributes).
#[async_trait::async_trait]
pub trait SignerDetails: Send + Sync + std::fmt::Debug {
    /// `None` when the identity does not carry them.
    async fn details(&self, subject: &SubjectId) -> Result<Option<Signer>, SignerDetailsError>;
}

#[derive(Debug, Clone)]
pub struct Petitions {
    pub documents: Arc<dyn DocumentStore>,
    pub blobs: Arc<dyn BlobStore>,
    pub queues: Arc<dyn QueueStore>,
    pub sealer: Sealer,
    pub access_log: AccessLog,
    pub clock: Arc<dyn Clock>,
    pub signer_details: Arc<dyn SignerDetails>,
    /// Whether an addressee's box is a public authority's (the ISDS port).
    pub directory: Arc<dyn directory::AddresseeDirectory>,
    pub settings: PetitionsSettings,
}

/// What can go wrong inside the capability, below the HTTP edge.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("a stored petition document is not readable: {0}")]
    Corrupt(String),
    #[error("concurrent writers kept changing the petition")]
    Contended,
    #[error(transparent)]
    Details(#[from] SignerDetailsError),
    #[error(transparent)]
    Pdf(#[from] portal_pdf::PdfError),
    #[error(transparent)]
    Directory(#[from] directory::DirectoryError),
}

/// A passing fault is retried (timer) or answered 503 (HTTP); a document
/// this code cannot read is a 500 that says nothing internal.
impl Failure for ServiceError {
    fn is_retryable(&self) -> bool {
        match self {
            Self::Store(error) => error.is_retryable(),
            Self::Crypto(error) => error.is_retryable(),
            Self::Contended | Self::Details(_) | Self::Directory(_) => true,
            Self::Corrupt(_) | Self::Pdf(_) => false,
        }
    }

    fn problem(&self) -> Problem {
        match self {
            Self::Details(_) => Problem::unavailable("the identity profile"),
            Self::Directory(_) => Problem::unavailable("the data box directory (ISDS)"),
            error if error.is_retryable() => Problem::unavailable("petitions storage"),
            _ => Problem::internal(),
        }
    }
}

pub(crate) fn corrupt(error: impl std::fmt::Display) -> ServiceError {
    ServiceError::Corrupt(error.to_string())
}

/// How often a read-modify-write is tried when other writers keep winning.
pub(crate) const MAX_ATTEMPTS: usize = 50;

/// Every function of the capability: the HTTP routes, the timer
/// `ClosePetitions` and the queue functions `RecordPetitionHandOver` and
/// `ErasePetitionsData`.
///
/// `PetitionAttachment` and `MyPetitionSignature` answer two methods each
/// (GET and DELETE on one route); the DELETE handlers are added to the
/// function declared from the GET's operation.
pub fn functions(petitions: Petitions) -> Vec<Function> {
    let s = Arc::new(PetitionService::new(petitions));
    vec![
        Function::api(op!(http::list_petitions)).with_state(s.clone()).build(),
        Function::api(op!(http::create_petition)).with_state(s.clone()).build(),
        Function::api(op!(http::show_petition)).with_state(s.clone()).build(),
        Function::api(op!(http::edit_petition)).with_state(s.clone()).build(),
        Function::api(op!(http::add_attachment))
            .with_body_limit(http::add_attachment::UPLOAD_BODY_LIMIT)
            .with_state(s.clone())
            .build(),
        // GET is PUBLIC for a published petition; DELETE needs the creator.
        Function::api(op!(http::download_attachment)).also(op!(http::delete_attachment)).with_state(s.clone()).build(),
        Function::api(op!(http::publish_petition)).with_state(s.clone()).build(),
        Function::api(op!(http::close_petition)).with_state(s.clone()).build(),
        Function::api(op!(http::sign_petition)).with_state(s.clone()).build(),
        Function::api(op!(http::my_signature)).also(op!(http::withdraw_signature)).with_state(s.clone()).build(),
        Function::api(op!(http::extract_csv)).with_state(s.clone()).build(),
        Function::api(op!(http::extract_pdf)).with_state(s.clone()).build(),
        Function::api(op!(http::hand_over_petition)).with_state(s.clone()).build(),
        Function::api(op!(http::list_my_petitions)).with_state(s.clone()).build(),
        Function::api(op!(http::show_my_petition)).with_state(s.clone()).build(),
        Function::api(op!(http::official_list_petitions)).with_state(s.clone()).build(),
        Function::api(op!(http::official_petition_stats)).with_state(s.clone()).build(),
        Function::api(op!(http::block_petition)).with_state(s.clone()).build(),
        Function::api(op!(http::unblock_petition)).with_state(s.clone()).build(),
        timer::close_petitions::function(s.clone()),
        queue::record_petition_hand_over::function(s.clone()),
        queue::erase_petitions_data::function(s),
    ]
}
