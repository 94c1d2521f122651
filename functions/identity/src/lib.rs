//! The `identity` capability: login through NIA (or, in local mode only, the
//! development identity provider), sessions, logout, bearer tokens for the
//! mobile apps, and "my data": profile, export, erasure and the access log.

pub mod demo;
pub mod jose;
pub mod oidc;
pub mod profile;
mod routes;

pub use routes::{REWRAP_SCHEDULE, rewrap_data_keys};

use std::sync::Arc;

use portal_crypto::Sealer;
use portal_host::Function;
use portal_security::{AccessLog, RateLimiter, Sessions};
use portal_store::{Clock, DocumentStore, QueueStore};

/// Where logins come from.
#[derive(Debug, Clone)]
pub enum LoginProvider {
    /// NIA through OpenID Connect (production adapter).
    Oidc(Arc<oidc::Provider>),
    /// The development identity provider: a page listing demo citizens.
    /// Local mode only; the app refuses it anywhere else.
    Development,
}

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
}

pub fn functions(identity: Identity) -> Vec<Function> {
    routes::functions(Arc::new(identity))
}
