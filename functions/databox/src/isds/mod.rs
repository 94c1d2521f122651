//! The ISDS port: what the portal needs from the data box information system
//! (Informační systém datových schránek), in the system's own terms
//! (`czech-egov-domain.md` §1). Two adapters: [`soap`] speaks the published
//! web services (SOAP 1.1; SOAP 1.2 with MTOM/XOP for big messages, VoDZ;
//! schema v3.09, namespace `http://isds.czechpoint.cz/v20`) and is the
//! production adapter; [`simulator`] is deterministic and
//! clock-driven, for local mode and tests, and says so wherever a person can see it.

mod box_types;
mod content;
pub mod simulator;
pub mod soap;
mod types;
pub mod zfo_sign;
pub mod zfo_verify;

use async_trait::async_trait;
use axum::http::StatusCode;
use portal_host::{Failure, FieldViolation, Problem};
use time::{Date, OffsetDateTime};

pub use box_types::*;
pub use content::{Content, Stash};
pub(crate) use content::{OpenError, open_sealed, seal_into};
pub use types::*;

/// Why an ISDS call failed.
#[derive(Debug, thiserror::Error)]
pub enum IsdsError {
    /// The box or message does not exist (or is not this box's).
    #[error("not found in ISDS")]
    NotFound,
    /// ISDS refused the request; `code` is its `dmStatusCode`/`dbStatusCode`
    /// (e.g. `1214` for a recipient box that cannot receive).
    #[error("ISDS refused ({code}): {message}")]
    Refused { code: String, message: String },
    /// Our request breaks an ISDS rule, found before sending.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// ISDS is unreachable, timed out or answered 5xx: retrying can help.
    #[error("ISDS is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The answer did not match the schema.
    #[error("ISDS answered something that does not match its schema: {0}")]
    Protocol(String),
}

impl IsdsError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

/// What a citizen sees when ISDS fails them: an unknown message is a 404, a
/// refusal a 422 with ISDS's own words and code; an unreachable system or an
/// answer off its schema a 503 naming ISDS, nothing more.
impl Failure for IsdsError {
    fn is_retryable(&self) -> bool {
        IsdsError::is_retryable(self)
    }

    fn problem(&self) -> Problem {
        match self {
            Self::NotFound => Problem::not_found("no such data message in your box"),
            Self::Refused { code, message } => {
                Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "isds-refused", "ISDS refused the request")
                    .with_detail(format!("{message} (ISDS code {code})"))
            }
            Self::Invalid(rule) => Problem::validation(vec![FieldViolation::new("request", rule.clone())]),
            Self::Unavailable(_) | Self::Protocol(_) => Problem::unavailable("the data box system (ISDS)"),
        }
    }
}

pub type IsdsResult<T> = Result<T, IsdsError>;

/// What an adapter without the VoDZ services answers.
fn no_big_messages() -> IsdsError {
    IsdsError::Invalid("this ISDS adapter does not offer big messages (VoDZ)".into())
}

/// The operations the portal uses. Each takes the context of the box it acts
/// on ([`BoxContext`]: the citizen's box id, the access the owner granted, and
/// who acts), so no call can be made without naming the citizen's own box.
///
/// Which operations deliver (doručení, which starts the citizen's legal
/// deadlines; `docs/architecture.md`, "Data box: delivery and background
/// jobs"): downloading a received message that is still in status 4 (a
/// standard or a big one), and marking it downloaded. They take a
/// [`SessionContext`], which exists only in the citizen's own session; a timer
/// or queue function holds a plain [`BoxContext`] and cannot call them. Listing envelopes, state changes, box,
/// credit and vault information, uploading and sending do not deliver. The archive
/// downloads only messages ISDS has already delivered
/// ([`Isds::download_delivered`]).
#[async_trait]
pub trait Isds: Send + Sync + std::fmt::Debug {
    /// `GetListOfReceivedMessages` / `GetListOfSentMessages`: envelopes in a
    /// time range, optionally only some statuses, paged by offset (ISDS numbers
    /// from 1) and limit. Does not deliver.
    async fn list_messages(
        &self,
        ctx: &BoxContext,
        direction: Direction,
        query: &ListQuery,
    ) -> IsdsResult<Vec<MessageEnvelope>>;

    /// `SignedMessageDownload` (received) or `SignedSentMessageDownload` (sent):
    /// the ZFO, parsed into envelope and attachments. [`IsdsError::NotFound`]
    /// once ISDS has deleted the content (status 9). Downloading a received
    /// message in status 4 delivers it: only in the citizen's session. A big
    /// message (VoDZ) is refused here: [`Isds::download_big_message`].
    async fn download_message(
        &self,
        ctx: &SessionContext,
        direction: Direction,
        id: &MessageId,
    ) -> IsdsResult<SignedMessage>;

    /// `SignedMessageDownload` of a received message ISDS has already
    /// delivered (status 5, 6, 7 or 10): what the archive uses.
    /// `SignedBigMessageDownload` when the envelope said it is a big message
    /// ([`DeliveredMessage::is_big`]).
    /// A big message's ZFO and files go into `stash`.
    async fn download_delivered(
        &self,
        ctx: &BoxContext,
        message: &DeliveredMessage,
        stash: &Stash,
    ) -> IsdsResult<SignedMessage>;

    /// `CreateMessage`: sends; ISDS assigns the id. Does not deliver anything
    /// to the sender's box.
    async fn send_message(&self, ctx: &BoxContext, message: &OutgoingMessage) -> IsdsResult<MessageId>;

    /// `UploadAttachment` (VoDZ, `/DS/vodz`): ISDS keeps one file of a big
    /// message and answers its id and hashes. The content is streamed to ISDS
    /// as it comes; nothing is sent to anyone yet.
    async fn upload_attachment(&self, ctx: &BoxContext, upload: AttachmentUpload) -> IsdsResult<UploadedAttachment> {
        let _ = (ctx, upload);
        Err(no_big_messages())
    }

    /// `CreateBigMessage` (VoDZ): sends a big message made of `message`'s
    /// envelope and the files uploaded before, in order (the first is the only
    /// `main`); `message.attachments` are not sent again. ISDS assigns the id.
    /// Does not deliver anything to the sender's box.
    async fn create_big_message(
        &self,
        ctx: &BoxContext,
        message: &OutgoingMessage,
        files: &[BigFile],
    ) -> IsdsResult<MessageId> {
        let _ = (ctx, message, files);
        Err(no_big_messages())
    }

    /// `SignedBigMessageDownload` (received) or `SignedSentBigMessageDownload`
    /// (sent): [`Isds::download_message`] for a big message (VoDZ, the
    /// envelope's `big`), with the same delivering rule: a received message in
    /// status 4 is delivered by it, so only in the citizen's session. The
    /// ZFO and the files go into `stash` as they are opened (sealed blobs
    /// under the citizen's key), so a message of 100 MB is never held whole.
    async fn download_big_message(
        &self,
        ctx: &SessionContext,
        direction: Direction,
        id: &MessageId,
        stash: &Stash,
    ) -> IsdsResult<SignedMessage> {
        let _ = (ctx, direction, id, stash);
        Err(no_big_messages())
    }

    /// `MarkMessageAsDownloaded`: delivers and marks read; only in the
    /// citizen's session.
    async fn mark_downloaded(&self, ctx: &SessionContext, id: &MessageId) -> IsdsResult<()>;

    /// `GetMessageStateChanges` in a time range. Does not deliver.
    async fn state_changes(
        &self,
        ctx: &BoxContext,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> IsdsResult<Vec<StateChange>>;

    /// `GetOwnerInfoFromLogin` on the box the context names: id, type, state, owner.
    async fn box_info(&self, ctx: &BoxContext) -> IsdsResult<BoxInfo>;

    /// `DataBoxCreditInfo`: the credit for commercial messages, in hellers (haléře).
    async fn credit_info(&self, ctx: &BoxContext) -> IsdsResult<CreditInfo>;

    /// `DataBoxCreditInfo` with a date range (`ciFromDate`, `ciTodate`,
    /// inclusive): the credit's changes on those days, oldest first.
    async fn credit_history(&self, ctx: &BoxContext, from: Date, to: Date) -> IsdsResult<Vec<CreditEvent>>;

    /// `DTInfo`: the data vault (Datový trezor).
    async fn vault_info(&self, ctx: &BoxContext) -> IsdsResult<VaultInfo>;

    /// `FindPersonalDataBox`: the personal boxes (FO, PFO) of a person by
    /// name and date of birth, searched in `ctx` (a box allowed to search
    /// personal boxes: the operator's own). Their ids.
    async fn find_personal_boxes(&self, ctx: &BoxContext, person: &PersonQuery) -> IsdsResult<Vec<BoxId>>;

    /// `FindDataBox` by id or (part of) a name, for choosing a recipient,
    /// searched in the citizen's box context.
    async fn find_boxes(&self, ctx: &BoxContext, query: &BoxSearch) -> IsdsResult<Vec<BoxInfo>>;

    /// The certification authorities this adapter's ZFOs must chain to
    /// ([`zfo_verify`]): PostSignum's, configured, for ISDS; the simulator's
    /// own CA for the simulator. Default: none, so nothing verifies.
    fn zfo_trust(&self) -> zfo_verify::TrustAnchors {
        zfo_verify::TrustAnchors::none()
    }
}
