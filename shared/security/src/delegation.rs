//! Acting for somebody else (zastoupení, zmocnění): the one question every
//! capability asks, "may this subject act for that owner in this scope now?",
//! answered by the delegation capability through [`Mandates`], which the app
//! puts in every request's extensions (like the [`Authenticator`](crate::Authenticator)).
//!
//! A delegate switches context per request with the `X-Acting-For: <grant>`
//! header; without it they act for themselves. A header, not a context kept in
//! the session: every request says whose data it touches, so a tab open on the
//! citizen's own data and a tab open on their mother's never mix, and a revoked
//! or expired grant fails on the very next request (the grant is checked each
//! time, nothing about it is cached in the session).
//!
//! Routes opt in by taking [`ActingFor<S>`] with the scope `S` they need
//! instead of [`Citizen`]; the [`Citizen`] extractor refuses a request that
//! carries `X-Acting-For` (403 `not-delegable`), so a route that has not opted
//! in can never act for another person by mistake. Petitions never opt in.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use async_trait::async_trait;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use portal_host::Problem;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::access_log::{AccessEntry, AccessLog, Actor};
use crate::citizen::{Citizen, authenticate};
use crate::subject::{Loa, SubjectId};

/// The header a delegate sends to act under a grant.
pub const ACTING_FOR_HEADER: &str = "x-acting-for";

/// What a grant may cover. Petitions (a political act) are never delegable,
/// so there is no scope for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    /// Read the data-box messages (přečíst zprávy datové schránky).
    DataboxRead,
    /// Send data-box messages.
    DataboxSend,
    /// Read documents.
    DocumentsRead,
    /// Upload, change and delete documents.
    DocumentsWrite,
    /// Ask for and read register extracts.
    Extracts,
    /// Read and make filings.
    Filings,
}

impl Scope {
    pub const ALL: [Scope; 6] = [
        Scope::DataboxRead,
        Scope::DataboxSend,
        Scope::DocumentsRead,
        Scope::DocumentsWrite,
        Scope::Extracts,
        Scope::Filings,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::DataboxRead => "databox-read",
            Self::DataboxSend => "databox-send",
            Self::DocumentsRead => "documents-read",
            Self::DocumentsWrite => "documents-write",
            Self::Extracts => "extracts",
            Self::Filings => "filings",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|scope| scope.as_str() == text)
    }

    /// In Czech, for the citizen.
    pub fn czech(self) -> &'static str {
        match self {
            Self::DataboxRead => "čtení zpráv datové schránky",
            Self::DataboxSend => "odesílání zpráv datové schránky",
            Self::DocumentsRead => "čtení dokumentů",
            Self::DocumentsWrite => "správa dokumentů",
            Self::Extracts => "výpisy z registrů",
            Self::Filings => "podání",
        }
    }
}

/// Why one person may act for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum GrantKind {
    /// An authorisation (zmocnění) one citizen gave another.
    Authorisation,
    /// A parent for their child under 18 (zákonný zástupce), from the
    /// population register.
    LegalRepresentative,
    /// A member of a company's statutory body (statutární orgán), from the
    /// register of persons.
    StatutoryBody,
}

/// A grant in force: who may act for whom, in what, until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mandate {
    /// The grant's id as the delegate sends it in `X-Acting-For`.
    pub grant: String,
    pub kind: GrantKind,
    /// Whose data the delegate touches.
    pub principal: SubjectId,
    /// The principal's name, for the delegate's access log.
    pub principal_name: String,
    /// The delegate's name, for the principal's access log.
    pub delegate_name: String,
    pub scopes: Vec<Scope>,
    pub ends_at: Option<OffsetDateTime>,
}

/// Why a grant does not let the delegate act now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MandateRefusal {
    /// No such grant for this delegate (never existed, or another person's).
    #[error("no grant '{0}' for you")]
    Unknown(String),
    #[error("the grant '{0}' was revoked")]
    Revoked(String),
    #[error("the grant '{0}' has ended")]
    Ended(String),
    #[error("the grant '{grant}' does not cover {}", .scope.as_str())]
    OutOfScope { grant: String, scope: Scope },
    #[error("the grants cannot be checked now")]
    Unavailable,
}

impl MandateRefusal {
    pub fn problem(&self) -> Problem {
        match self {
            Self::Unavailable => Problem::unavailable("delegations"),
            refusal => {
                let grant = match refusal {
                    Self::Unknown(grant) | Self::Revoked(grant) | Self::Ended(grant) => grant,
                    Self::OutOfScope { grant, .. } => grant,
                    Self::Unavailable => unreachable!("handled above"),
                };
                Problem::new(StatusCode::FORBIDDEN, "delegation-refused", "Not allowed for this person")
                    .with_detail(format!("{ACTING_FOR_HEADER} {grant}: {refusal}"))
            }
        }
    }
}

/// The delegation capability's answer to the one question.
#[async_trait]
pub trait Mandates: Send + Sync + fmt::Debug {
    /// The mandate `grant` gives `delegate` now for `scope`.
    async fn mandate(&self, delegate: &SubjectId, grant: &str, scope: Scope) -> Result<Mandate, MandateRefusal>;

    /// Tells the delegation capability a mandate was used (the principal is
    /// told of the first use). Best effort for the caller: failures are the
    /// capability's to retry, never the request's.
    async fn used(&self, mandate: &Mandate, purpose: &str);
}

/// The mandate check the app gives every request ([`RequestWiring::with_mandates`](crate::RequestWiring::with_mandates)).
#[derive(Debug, Clone)]
pub struct MandateCheck(pub Arc<dyn Mandates>);

/// A scope a route needs, as a type: `ActingFor<scope::DataboxRead>`.
pub trait ScopeMarker: Send + Sync + 'static {
    const SCOPE: Scope;
}

/// The scopes as types, for [`ActingFor`].
pub mod scope {
    use super::{Scope, ScopeMarker};

    macro_rules! markers {
        ($($name:ident),+) => {$(
            #[derive(Debug, Clone, Copy)]
            pub struct $name;
            impl ScopeMarker for $name {
                const SCOPE: Scope = Scope::$name;
            }
        )+};
    }

    markers!(DataboxRead, DataboxSend, DocumentsRead, DocumentsWrite, Extracts, Filings);
}

/// A logged-in citizen acting for themselves or, with `X-Acting-For`, for the
/// principal of a grant in force that covers `S`.
#[derive(Debug, Clone)]
pub struct ActingFor<S> {
    /// Who is logged in (the delegate, when a mandate is present).
    pub citizen: Citizen,
    /// The grant they act under; `None` when they act for themselves.
    pub mandate: Option<Mandate>,
    check: Option<MandateCheck>,
    scope: PhantomData<S>,
}

impl<S: ScopeMarker> ActingFor<S> {
    /// Whose data the request touches.
    pub fn owner(&self) -> &SubjectId {
        self.mandate.as_ref().map_or(&self.citizen.subject, |mandate| &mandate.principal)
    }

    /// The actor to record in the owner's access log: the citizen, or the
    /// delegate by name and grant.
    pub fn actor(&self) -> Actor {
        match &self.mandate {
            None => Actor::Citizen,
            Some(mandate) => Actor::Delegate { grant: mandate.grant.clone(), name: mandate.delegate_name.clone() },
        }
    }

    /// Records `entry` in the owner's access log and, under a mandate, in the
    /// delegate's own log too ("jednala za …"), and tells the delegation
    /// capability the mandate was used. The entry's actor is set here.
    pub async fn record(&self, log: &AccessLog, entry: AccessEntry) -> Result<(), portal_store::StoreError> {
        let owner_entry = AccessEntry { actor: self.actor(), ..entry.clone() };
        log.record(self.owner(), owner_entry).await?;
        if let Some(mandate) = &self.mandate {
            let own = AccessEntry {
                actor: Actor::OnBehalfOf { grant: mandate.grant.clone(), principal: mandate.principal_name.clone() },
                ..entry.clone()
            };
            log.record(&self.citizen.subject, own).await?;
            if let Some(check) = &self.check {
                check.0.used(mandate, &entry.purpose).await;
            }
        }
        Ok(())
    }
}

fn not_delegable() -> Response {
    Problem::new(StatusCode::FORBIDDEN, "not-delegable", "This cannot be done for another person")
        .with_detail(format!("this action is only for your own data: send it without {ACTING_FOR_HEADER}"))
        .into_response()
}

/// Whether the request asks to act for somebody else.
pub(crate) fn acting_for(parts: &Parts) -> Option<&str> {
    parts.headers.get(ACTING_FOR_HEADER).map(|value| value.to_str().unwrap_or(""))
}

/// The answer of [`Citizen`] to a request that carries `X-Acting-For`.
pub(crate) fn refuse_acting_for(parts: &Parts) -> Option<Response> {
    acting_for(parts).map(|_| not_delegable())
}

impl<St: Send + Sync, S: ScopeMarker> FromRequestParts<St> for ActingFor<S> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &St) -> Result<Self, Self::Rejection> {
        let citizen = authenticate(parts, Loa::Substantial).await?;
        let Some(grant) = acting_for(parts).map(str::to_owned) else {
            return Ok(Self { citizen, mandate: None, check: None, scope: PhantomData });
        };
        let Some(check) = parts.extensions.get::<crate::RequestWiring>().and_then(|w| w.mandates()).cloned() else {
            tracing::error!("the request's wiring has no mandate check: the app was wired without delegations");
            return Err(MandateRefusal::Unavailable.problem().into_response());
        };
        match check.0.mandate(&citizen.subject, &grant, S::SCOPE).await {
            Ok(mandate) => Ok(Self { citizen, mandate: Some(mandate), check: Some(check), scope: PhantomData }),
            Err(refusal) => Err(refusal.problem().into_response()),
        }
    }
}
