//! The `identity` capability: login through NIA (or, in local mode only, the
//! development identity provider), sessions, logout, bearer tokens for the
//! mobile apps, and "my data": profile, export, erasure and the access log.
//!
//! Layout: [`http`] has one file per HTTP action, [`timer`] one file per
//! function; [`functions`] below is the list the app serves.

pub mod demo;
pub mod export;
pub mod exports;
pub mod http;
pub mod jose;
pub mod oidc;
pub mod profile;
pub mod queue;
pub mod return_to;
pub mod timer;

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use portal_crypto::{CryptoError, Sealer};
use portal_host::{Failure, Function, Problem, op};
use portal_security::{AccessLog, ClientAddressRule, RateLimiter, SessionError, Sessions};
use portal_store::{Clock, DocumentStore, QueueStore, StoreError};

use crate::oidc::OidcError;
use crate::profile::ProfileError;

/// Where logins come from.
#[derive(Debug, Clone)]
pub enum LoginProvider {
    /// NIA through OpenID Connect (production adapter).
    Oidc(Arc<oidc::Provider>),
    /// The development identity provider: a page listing demo citizens.
    /// Local mode only; the app refuses it anywhere else.
    Development,
}

/// The capability's dependencies.
#[derive(Debug, Clone)]
pub struct Identity {
    pub provider: LoginProvider,
    pub documents: Arc<dyn DocumentStore>,
    /// Where the signed-in event goes (`portal_events::SIGNED_IN_QUEUE`).
    pub queues: Arc<dyn QueueStore>,
    pub sessions: Sessions,
    pub access_log: AccessLog,
    pub sealer: Sealer,
    pub clock: Arc<dyn Clock>,
    /// Limits login attempts per client address.
    pub logins: Arc<RateLimiter>,
    /// Where a request's client address comes from (the proxies' entries,
    /// never the client's own).
    pub client_addresses: ClientAddressRule,
    /// The citizen's exports: the job, its archive, and every capability's
    /// part (see [`exports`]).
    pub exports: Arc<exports::Exports>,
}

/// What the identity functions answer when they do not go on.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    Profile(#[from] ProfileError),
    #[error(transparent)]
    Export(#[from] exports::ExportJobError),
    /// The identity provider, or our checks of what it sent, did not complete
    /// the login.
    #[error(transparent)]
    Login(#[from] OidcError),
    /// Too many login attempts from one client address.
    #[error("too many login attempts; try again in {} s", .retry_after.as_secs())]
    TooManyLogins { retry_after: Duration },
    /// A refusal the handler words itself (validation, not found, …).
    #[error("{0}")]
    Refused(Problem),
}

impl From<Problem> for IdentityError {
    fn from(problem: Problem) -> Self {
        Self::Refused(problem)
    }
}

impl IdentityError {
    /// The login was refused, with the reason a citizen may read.
    pub(crate) fn login_refused(status: StatusCode, detail: impl Into<String>) -> Self {
        Self::Refused(Problem::new(status, "login-refused", "The login was refused").with_detail(detail))
    }
}

impl Failure for IdentityError {
    fn is_retryable(&self) -> bool {
        match self {
            Self::Store(error) => error.is_retryable(),
            Self::Crypto(error) => error.is_retryable(),
            Self::Session(error) => Failure::is_retryable(error),
            Self::Profile(ProfileError::Store(error)) => error.is_retryable(),
            Self::Profile(ProfileError::Crypto(error)) => error.is_retryable(),
            Self::Profile(ProfileError::Corrupt) => false,
            Self::Export(error) => error.is_retryable(),
            Self::Login(error) => matches!(error, OidcError::Unreachable(_)),
            Self::TooManyLogins { .. } => true,
            Self::Refused(problem) => problem.status == 503,
        }
    }

    /// Whatever fails in the stores, the keys or the sessions answers 503
    /// `storage`: the citizen can only try again later.
    fn problem(&self) -> Problem {
        match self {
            Self::Store(_) | Self::Crypto(_) | Self::Session(_) | Self::Profile(_) => Problem::unavailable("storage"),
            Self::Export(error) if error.is_retryable() => Problem::unavailable("storage"),
            Self::Export(_) => Problem::internal(),
            Self::Login(OidcError::Unreachable(_)) => Problem::unavailable("identity provider"),
            Self::Login(error @ OidcError::LoaTooLow(_)) => {
                Self::login_refused(StatusCode::FORBIDDEN, error.to_string()).problem()
            }
            Self::Login(error) => Self::login_refused(StatusCode::UNAUTHORIZED, error.to_string()).problem(),
            Self::TooManyLogins { retry_after } => {
                Problem::new(StatusCode::TOO_MANY_REQUESTS, "rate-limited", "Too many requests")
                    .with_detail(format!("try again in {} s", retry_after.as_secs()))
            }
            Self::Refused(problem) => problem.clone(),
        }
    }
}

/// A refused login is logged with its reason (never a token); a 5xx with its
/// whole cause chain (by `Problem::from`); a rate limit answers 429 with
/// `Retry-After`.
impl IntoResponse for IdentityError {
    fn into_response(self) -> Response {
        match self {
            Self::TooManyLogins { retry_after } => RateLimiter::too_many(retry_after),
            Self::Refused(problem) => problem.into_response(),
            Self::Login(ref error) if !matches!(error, OidcError::Unreachable(_)) => {
                tracing::warn!(reason = %error, "login refused");
                Problem::from(self).into_response()
            }
            other => Problem::from(other).into_response(),
        }
    }
}

/// Every function of the capability: login, session and "my data" over HTTP,
/// and the timer `RewrapDataKeys`.
pub fn functions(identity: Identity) -> Vec<Function> {
    let s = Arc::new(identity);
    vec![
        Function::api(op!(http::login)).with_state(s.clone()).build(),
        Function::api(op!(http::login_callback)).with_state(s.clone()).build(),
        Function::api(op!(http::logout)).with_state(s.clone()).build(),
        Function::api(op!(http::current_session)).build(),
        Function::api(op!(http::bearer_token)).with_state(s.clone()).build(),
        Function::api(op!(http::dev_login_page)).with_state(s.clone()).build(),
        Function::api(op!(http::dev_login)).with_state(s.clone()).build(),
        Function::api(op!(http::me)).with_state(s.clone()).build(),
        Function::api(op!(http::erase_me)).with_state(s.clone()).build(),
        Function::api(op!(http::export_me)).with_state(s.clone()).build(),
        Function::api(op!(http::my_access_log)).with_state(s.clone()).build(),
        Function::api(op!(http::request_export)).with_state(s.clone()).build(),
        Function::api(op!(http::show_export)).with_state(s.clone()).build(),
        Function::api(op!(http::download_export)).with_state(s.clone()).build(),
        queue::build_export::function(s.exports.clone()),
        timer::rewrap_data_keys::function(s),
    ]
}
