//! The registers gateway port: what the portal needs from the base registers
//! (základní registry) and the agency registers behind them.
//!
//! The source registers stay in the government's data centres; the cloud
//! reaches them through one gateway that speaks JSON over HTTPS with mutual
//! TLS. Its contract is `docs/registers-gateway.openapi.yaml` (at the
//! repository root); the types here are that contract in Rust, decoded once at the
//! edge:
//!
//! | operation | register | path |
//! |---|---|---|
//! | [`RegistersGateway::person`] | ROB (registr obyvatel) | `GET /v1/person` |
//! | [`RegistersGateway::entrepreneur`] | ROS (registr osob) | `GET /v1/entrepreneur` |
//! | [`RegistersGateway::criminal_record`] | Rejstřík trestů | `GET /v1/criminal-record` |
//! | [`RegistersGateway::trade_register`] | Živnostenský rejstřík | `GET /v1/trade-register` |
//! | [`RegistersGateway::driver_points`] | Registr řidičů (bodové hodnocení) | `GET /v1/driver-points` |
//! | [`RegistersGateway::vehicles`] | Registr silničních vozidel | `GET /v1/vehicles` |
//! | [`RegistersGateway::odometer`] | Kontrola tachometru (STK and emission checks) | `GET /v1/odometer` |
//! | [`RegistersGateway::properties`] | Katastr nemovitostí | `GET /v1/properties` |
//! | [`RegistersGateway::submit_filing`] | the agency behind the register (writes, applications) | `POST /v1/filings` |
//! | [`RegistersGateway::filing_status`] | the same | `GET /v1/filings/{reference}` |
//!
//! A person is addressed by an opaque identifier the gateway understands, sent
//! in the `X-Subject-Id` header (never in the URL, which proxies log): in
//! production it is NIA's pseudonym for the portal, the citizen's
//! [`SubjectId`]; the gateway maps it to the register's own identifiers (AIFO).
//! Every call carries `X-Request-Id`: the gateway uses it for tracing and to
//! answer a repeated request with the same result (an extract job passes its
//! job id, so a retried job does not ask the register twice).
//!
//! Adapters: [`http::HttpGateway`] (production, mutual TLS; also run in
//! process against the simulator, see [`http::HttpGateway::in_process`]) and
//! [`crate::simulator`] (SIMULATOR: the contract served by an axum router with
//! deterministic data for the demo citizens).

pub mod http;
mod records;
mod submissions;

use std::fmt;

use async_trait::async_trait;
use axum::http::StatusCode;
use portal_host::{Failure, Problem};
use portal_security::SubjectId;

pub use records::*;
pub use submissions::*;

/// Why a gateway call failed.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The register holds no such record for this person (no entrepreneur
    /// record, no vehicle with this VIN, an unknown person).
    #[error("not found in the register")]
    NotFound,
    /// The gateway or the register refused the request (403/409/422): asking
    /// again will not help. `kind` is the problem type the gateway sent.
    #[error("the register refused the request ({status} {kind})")]
    Refused { status: u16, kind: String, detail: Option<String> },
    /// Unreachable, timed out, or 502/503/504 after the adapter's retries:
    /// retrying later can help.
    #[error("the registers gateway is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Our request was wrong (400), or the answer does not match the contract.
    #[error("invalid request or answer: {0}")]
    Invalid(String),
}

impl GatewayError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

pub type GatewayResult<T> = Result<T, GatewayError>;

/// The `X-Request-Id` of a call: 1–64 characters of letters, digits, `-`,
/// `_`, `.` and `:`. The same id asks the gateway for the same answer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestId(String);

impl RequestId {
    pub fn parse(value: &str) -> Result<Self, GatewayError> {
        let ok = !value.is_empty()
            && value.len() <= 64
            && value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
        if ok { Ok(Self(value.to_owned())) } else { Err(GatewayError::Invalid("request id".into())) }
    }

    /// A fresh random id, for lookups that need no idempotency.
    pub fn random() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a client sees when a lookup in the registers fails.
impl Failure for GatewayError {
    fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }

    fn problem(&self) -> Problem {
        match self {
            Self::NotFound => Problem::not_found("the register holds no record for you"),
            Self::Refused { .. } => {
                Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "register-refused", "The register refused the request")
            }
            Self::Unavailable(_) => Problem::unavailable("the registers"),
            Self::Invalid(_) => Problem::internal(),
        }
    }
}

/// The operations the portal uses. Each takes the request id the gateway
/// deduplicates and traces by; person operations take the citizen's subject
/// id, which the gateway resolves.
#[async_trait]
pub trait RegistersGateway: Send + Sync + fmt::Debug {
    /// ROB: the person's data.
    async fn person(&self, request: &RequestId, subject: &SubjectId) -> GatewayResult<PersonRecord>;
    /// ROS: the person's entrepreneur record; [`GatewayError::NotFound`] if
    /// they are not an entrepreneur.
    async fn entrepreneur(&self, request: &RequestId, subject: &SubjectId) -> GatewayResult<EntrepreneurRecord>;
    /// The criminal record extract (also "no record").
    async fn criminal_record(&self, request: &RequestId, subject: &SubjectId) -> GatewayResult<CriminalRecordExtract>;
    /// The trade register extract; [`GatewayError::NotFound`] for a
    /// person without trade licences.
    async fn trade_register(&self, request: &RequestId, subject: &SubjectId) -> GatewayResult<TradeRegisterExtract>;
    async fn driver_points(&self, request: &RequestId, subject: &SubjectId) -> GatewayResult<DriverPoints>;
    async fn vehicles(&self, request: &RequestId, subject: &SubjectId) -> GatewayResult<Vehicles>;
    /// Not personal: a vehicle's readings, for anyone who has its last
    /// inspection protocol number.
    async fn odometer(
        &self,
        request: &RequestId,
        vin: &Vin,
        protocol: &ProtocolNumber,
    ) -> GatewayResult<OdometerHistory>;
    async fn properties(&self, request: &RequestId, subject: &SubjectId) -> GatewayResult<Properties>;
    /// The extract of `kind` (`person`, `criminal-record`, `trade-register`,
    /// `driver-points`, `vehicles`, `properties`) as the register issued it:
    /// its own PDF with the issuing authority's electronic seal, which the
    /// portal stores as received.
    async fn sealed_extract(
        &self,
        request: &RequestId,
        subject: &SubjectId,
        kind: &str,
    ) -> GatewayResult<SealedExtract>;
    /// Files a request with the agency behind the register (a write: new
    /// delivery address, contacts, a qualified certificate; a driving licence
    /// application). `idempotency_key` names the filing: the gateway answers
    /// a repeated key with the first receipt, so the call may be retried.
    async fn submit_filing(
        &self,
        request: &RequestId,
        subject: &SubjectId,
        idempotency_key: &RequestId,
        submission: &FilingSubmission,
    ) -> GatewayResult<FilingReceipt>;
    /// Where a filing stands; [`GatewayError::NotFound`] for a reference
    /// that is not this person's.
    async fn filing_status(
        &self,
        request: &RequestId,
        subject: &SubjectId,
        reference: &str,
    ) -> GatewayResult<FilingProgress>;
}
