//! The ISDS port: what the portal needs from the data box information system
//! (Informační systém datových schránek), in the system's own terms
//! (`czech-egov-domain.md` §1). Two adapters: [`soap`] speaks the published
//! SOAP 1.1 web services (schema v3.09, namespace `http://isds.czechpoint.cz/v20`)
//! and is the production adapter; [`simulator`] is deterministic and
//! clock-driven, for local mode and tests, and says so wherever a person can see it.

pub mod simulator;
pub mod soap;
mod types;

use async_trait::async_trait;
use axum::http::StatusCode;
use portal_host::{Failure, FieldViolation, Problem};
use time::OffsetDateTime;

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

/// The operations the portal uses, each acting on one data box (the
/// citizen's own). The adapter authenticates as configured (user name and
/// password, or a certificate); the box id selects whose box.
#[async_trait]
pub trait Isds: Send + Sync + std::fmt::Debug {
    /// `GetListOfReceivedMessages` / `GetListOfSentMessages`: envelopes in a
    /// time range, optionally only some statuses, paged by offset (ISDS numbers
    /// from 1) and limit.
    async fn list_messages(
        &self,
        box_id: &BoxId,
        direction: Direction,
        query: &ListQuery,
    ) -> IsdsResult<Vec<MessageEnvelope>>;

    /// `SignedMessageDownload` (received) or `SignedSentMessageDownload` (sent):
    /// the ZFO, parsed into envelope and attachments. [`IsdsError::NotFound`]
    /// once ISDS has deleted the content (status 9).
    async fn download_message(&self, box_id: &BoxId, direction: Direction, id: &MessageId)
    -> IsdsResult<SignedMessage>;

    /// `CreateMessage`: sends; ISDS assigns the id.
    async fn send_message(&self, box_id: &BoxId, message: &OutgoingMessage) -> IsdsResult<MessageId>;

    /// `MarkMessageAsDownloaded`.
    async fn mark_downloaded(&self, box_id: &BoxId, id: &MessageId) -> IsdsResult<()>;

    /// `GetMessageStateChanges` in a time range.
    async fn state_changes(
        &self,
        box_id: &BoxId,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> IsdsResult<Vec<StateChange>>;

    /// `GetOwnerInfoFromLogin` / `FindDataBox` on the own box: id, type, state, owner.
    async fn box_info(&self, box_id: &BoxId) -> IsdsResult<BoxInfo>;

    /// `DataBoxCreditInfo`: the credit for commercial messages, in hellers (haléře).
    async fn credit_info(&self, box_id: &BoxId) -> IsdsResult<CreditInfo>;

    /// `DTInfo`: the data vault (Datový trezor).
    async fn vault_info(&self, box_id: &BoxId) -> IsdsResult<VaultInfo>;

    /// `FindDataBox` by id or (part of) a name, for choosing a recipient.
    async fn find_boxes(&self, query: &BoxSearch) -> IsdsResult<Vec<BoxInfo>>;
}
