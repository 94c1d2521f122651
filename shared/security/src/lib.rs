//! Who is asking, how sure we are, and a record of every touch of a
//! citizen's data.
//!
//! - [`SubjectId`] and [`Loa`]: the citizen's per-service pseudonym and the
//!   eIDAS level of assurance of their login;
//! - [`Sessions`]: opaque session ids and short-lived bearer tokens, stored by
//!   their SHA-256 only, with idle (15 min) and absolute (8 h) expiry;
//! - [`Citizen`]: the extractor every capability uses (401/403 problems, CSRF
//!   on state-changing requests, the minimal level, step-up for a recent login);
//! - [`RateLimiter`]: 429 with `Retry-After`;
//! - [`AccessLog`]: append-only, per citizen, readable by the citizen.

mod access_log;
mod citizen;
mod client_address;
pub mod contact;
pub mod delegation;
pub mod export;
mod rate_limit;
mod sessions;
mod subject;

pub use access_log::{
    AccessEntry, AccessFilter, AccessLog, AccessPage, AccessedItem, Action, Actor, Outcome as AccessOutcome,
};
pub use citizen::{
    AddressWriteLimit, Authenticator, CSRF_HEADER, Citizen, Credential, RequestWiring, SESSION_COOKIE, STEP_UP_MAX_AGE,
    cookie, reauthentication_required,
};
pub use client_address::{ClientAddressRule, UNKNOWN_CLIENT};
pub use delegation::{ACTING_FOR_HEADER, ActingFor, GrantKind, Mandate, MandateCheck, MandateRefusal, Mandates, Scope};
pub use rate_limit::RateLimiter;
pub use sessions::{BearerToken, NewSession, Session, SessionError, SessionTimes, Sessions};
pub use subject::{Loa, SubjectId, SubjectIdError};

/// SHA-256 of a secret, hex: how session ids and tokens are stored.
pub(crate) fn digest_hex(secret: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, secret.as_bytes());
    portal_store::lower_hex(digest.as_ref())
}

/// A fresh random secret: 32 bytes, base64url without padding.
pub(crate) fn random_secret() -> String {
    use aws_lc_rs::rand::SecureRandom as _;
    use base64::Engine as _;
    let mut bytes = [0_u8; 32];
    aws_lc_rs::rand::SystemRandom::new().fill(&mut bytes).unwrap_or_else(|_| {
        // The system RNG failing is not recoverable; refuse to hand out a weak secret.
        panic!("the system random number generator failed")
    });
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Constant-time equality for secrets.
pub(crate) fn same_secret(a: &str, b: &str) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a.as_bytes(), b.as_bytes()).is_ok()
}
