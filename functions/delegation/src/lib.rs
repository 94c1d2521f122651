//! The `delegation` capability (zastoupení, zmocnění): who may act for whom.
//!
//! Three kinds of grant, one question. A parent represents their child under
//! 18 and a statutory body its company by law ([`register`]: read from the
//! registers on every use, never stored); a citizen authorises another
//! ([`grant`]: an invitation the delegate accepts after signing in, so the
//! principal never needs the delegate's personal data; chosen scopes; an end
//! at most a year ahead; revocable by either side). Every capability asks
//! [`Delegations`] through the [`Mandates`] port of `portal-security` (the
//! `ActingFor<scope>` extractor); no capability imports this one.
//!
//! Store (collection [`COLLECTION`]):
//! - partition `g-<random>` (the grant id), document `grant`: principal and
//!   delegate (subject ids), scopes, times, the invitation's SHA-256, and the
//!   two names, each sealed under its owner's key;
//! - partition `u-<sha256(subject)>`, one document per grant the subject gave
//!   or received (what `GET /api/delegations` lists and erasure ends);
//! - partition `ends-<YYYY-MM-DD>`, one document per grant ending that day,
//!   read by the timer `NotifyEndedDelegations` to tell the principal.
//!
//! Notices to the principal (events on the notifications queue, once each by
//! their ids): a new grant (`delegation.granted`, when the delegate accepts),
//! its first use (`delegation.first-use`) and its end (`delegation.ended`:
//! revoked by either side, or expired).

pub mod export;
pub mod grant;
pub mod http;
pub mod queue;
pub mod register;
pub mod timer;

use std::sync::Arc;

use async_trait::async_trait;
use axum::http::StatusCode;
use portal_crypto::{CryptoError, Sealer};
use portal_host::{Failure, Function, Problem, op};
use portal_security::{AccessLog, GrantKind, Mandate, MandateRefusal, Mandates, Scope, SubjectId};
use portal_store::{Clock, DocumentStore, QueueStore, StoreError};
use time::{Date, OffsetDateTime};

use crate::register::Representations;

/// The collection holding every grant.
pub const COLLECTION: &str = "delegations";

/// The longest an authorisation may run (the rule: at most a year).
pub const MAX_DAYS: i64 = 366;

/// A citizen's name as the identity provider gave it, for the other side's
/// access log and lists. Composed in the app from the identity profile.
#[async_trait]
pub trait Names: Send + Sync + std::fmt::Debug {
    async fn name(&self, subject: &SubjectId) -> Result<Option<String>, NamesUnavailable>;
}

#[derive(Debug, thiserror::Error)]
#[error("names cannot be read now: {0}")]
pub struct NamesUnavailable(pub String);

/// The capability's dependencies.
#[derive(Debug, Clone)]
pub struct Delegations {
    pub documents: Arc<dyn DocumentStore>,
    pub queues: Arc<dyn QueueStore>,
    pub sealer: Sealer,
    pub access_log: AccessLog,
    pub clock: Arc<dyn Clock>,
    pub names: Arc<dyn Names>,
    pub register: Arc<dyn Representations>,
}

impl Delegations {
    /// Today in the Czech Republic, the day end dates and birthdays count in.
    pub fn today(&self) -> Date {
        portal_host::prague::date(self.clock.now())
    }
}

/// What can go wrong below the HTTP edge.
#[derive(Debug, thiserror::Error)]
pub enum DelegationError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    Names(#[from] NamesUnavailable),
    #[error(transparent)]
    Register(#[from] register::RegisterUnavailable),
    #[error("the grant was changed at the same time")]
    Contended,
    #[error("a stored grant is malformed: {0}")]
    Corrupt(String),
}

impl Failure for DelegationError {
    fn is_retryable(&self) -> bool {
        match self {
            Self::Store(error) => error.is_retryable(),
            Self::Crypto(error) => error.is_retryable(),
            Self::Names(_) | Self::Register(_) | Self::Contended => true,
            Self::Corrupt(_) => false,
        }
    }

    fn problem(&self) -> Problem {
        match self {
            Self::Store(error) => error.problem(),
            Self::Crypto(error) => error.problem(),
            Self::Names(_) => Problem::unavailable("identity profiles"),
            Self::Register(_) => Problem::unavailable("base registers"),
            Self::Contended => Problem::new(StatusCode::CONFLICT, "conflict", "The grant was changed at the same time")
                .with_detail("reload and try again"),
            Self::Corrupt(_) => Problem::internal(),
        }
    }
}

/// The id under which a representation by law is sent in `X-Acting-For`:
/// stable, and telling nothing without the store.
pub fn representation_id(delegate: &SubjectId, principal: &SubjectId) -> String {
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        format!("representation\0{}\0{}", delegate.as_str(), principal.as_str()).as_bytes(),
    );
    let hex: String = portal_store::lower_hex(&digest.as_ref()[..12]);
    format!("r-{hex}")
}

/// Whether a representation by law is in force on `today`.
pub fn representation_in_force(representation: &register::Representation, today: Date) -> bool {
    match representation.kind {
        GrantKind::LegalRepresentative => representation.born.is_some_and(|born| today < eighteenth_birthday(born)),
        GrantKind::StatutoryBody => representation.in_office_until.is_none_or(|last| today <= last),
        GrantKind::Authorisation => false,
    }
}

/// The day a person born on `born` comes of age (29 February → 1 March).
pub fn eighteenth_birthday(born: Date) -> Date {
    let year = born.year() + 18;
    Date::from_calendar_date(year, born.month(), born.day())
        .unwrap_or_else(|_| Date::from_calendar_date(year, time::Month::March, 1).unwrap_or(born))
}

impl Delegations {
    /// The representation `grant` names for `delegate`, if the register has it.
    async fn representation(
        &self,
        delegate: &SubjectId,
        grant: &str,
    ) -> Result<Option<register::Representation>, DelegationError> {
        let all = self.register.of(delegate).await?;
        Ok(all.into_iter().find(|r| representation_id(delegate, &r.principal) == grant))
    }

    async fn check(&self, delegate: &SubjectId, grant: &str, scope: Scope) -> Result<Mandate, MandateRefusal> {
        let unavailable = |error: DelegationError| {
            tracing::warn!(error = %error, "a grant could not be checked");
            MandateRefusal::Unavailable
        };
        if grant.starts_with("r-") {
            let Some(representation) = self.representation(delegate, grant).await.map_err(unavailable)? else {
                return Err(MandateRefusal::Unknown(grant.to_owned()));
            };
            if !representation_in_force(&representation, self.today()) {
                return Err(MandateRefusal::Ended(grant.to_owned()));
            }
            let delegate_name = self.names.name(delegate).await.map_err(|e| unavailable(e.into()))?;
            return Ok(Mandate {
                grant: grant.to_owned(),
                kind: representation.kind,
                principal: representation.principal,
                principal_name: representation.principal_name,
                delegate_name: delegate_name.unwrap_or_default(),
                scopes: Scope::ALL.to_vec(),
                ends_at: None,
            });
        }
        let Some(stored) = grant::load(self, grant).await.map_err(unavailable)? else {
            return Err(MandateRefusal::Unknown(grant.to_owned()));
        };
        let record = &stored.record;
        if record.delegate.as_ref() != Some(delegate) {
            return Err(MandateRefusal::Unknown(grant.to_owned()));
        }
        if record.revoked_at.is_some() {
            return Err(MandateRefusal::Revoked(grant.to_owned()));
        }
        if self.clock.now() >= record.ends_at {
            return Err(MandateRefusal::Ended(grant.to_owned()));
        }
        if !record.scopes.contains(&scope) {
            return Err(MandateRefusal::OutOfScope { grant: grant.to_owned(), scope });
        }
        let names = grant::names(self, grant, record).await.map_err(unavailable)?;
        Ok(Mandate {
            grant: grant.to_owned(),
            kind: GrantKind::Authorisation,
            principal: record.principal.clone(),
            principal_name: names.0,
            delegate_name: names.1,
            scopes: record.scopes.clone(),
            ends_at: Some(record.ends_at),
        })
    }
}

#[async_trait]
impl Mandates for Delegations {
    async fn mandate(&self, delegate: &SubjectId, grant: &str, scope: Scope) -> Result<Mandate, MandateRefusal> {
        self.check(delegate, grant, scope).await
    }

    async fn used(&self, mandate: &Mandate, purpose: &str) {
        if mandate.kind != GrantKind::Authorisation {
            return;
        }
        if let Err(error) = grant::first_use(self, mandate, purpose).await {
            // The use itself stands; the next use tries the notice again.
            tracing::warn!(error = %error, "the first use of a grant could not be recorded");
        }
    }
}

/// The instant an authorisation ending on `day` ends: the next Prague midnight.
pub fn end_of_day(day: Date) -> OffsetDateTime {
    let next = day.next_day().unwrap_or(day).midnight();
    next.assume_offset(portal_host::prague::offset(next.assume_utc()))
}

/// Every function of the capability: the HTTP routes, the queue function
/// `EraseDelegationsData` and the timer `NotifyEndedDelegations`.
pub fn functions(delegations: Arc<Delegations>) -> Vec<Function> {
    let s = delegations;
    vec![
        Function::api(op!(http::create_delegation)).with_state(s.clone()).build(),
        Function::api(op!(http::list_delegations)).with_state(s.clone()).build(),
        Function::api(op!(http::accept_delegation)).with_state(s.clone()).build(),
        Function::api(op!(http::revoke_delegation)).with_state(s.clone()).build(),
        Function::api(op!(http::simulate_leaving_office)).with_state(s.clone()).build(),
        queue::erase_delegations_data::function(s.clone()),
        timer::notify_ended_delegations::function(s),
    ]
}
