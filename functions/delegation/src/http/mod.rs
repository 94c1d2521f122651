//! The delegation capability's HTTP functions, one file per action, and the
//! view they share.

pub mod accept_delegation;
pub mod create_delegation;
pub mod list_delegations;
pub mod revoke_delegation;
pub mod simulate_leaving_office;

use std::sync::Arc;

use axum::http::StatusCode;
use portal_host::Problem;
use portal_security::{GrantKind, Scope};
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use utoipa::ToSchema;

use crate::Delegations;
use crate::grant::{Side, Stored};

pub(crate) type Shared = Arc<Delegations>;

/// A grant as either side sees it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DelegationView {
    /// The grant's id: what the delegate sends in `X-Acting-For`.
    #[schema(example = "g-3q2c9XbTtH1vQm0a")]
    pub id: String,
    pub kind: GrantKind,
    /// `principal` (you gave it), `delegate` (you received it) or
    /// `representative` (you represent this person or company by law).
    pub role: String,
    /// The other side's name (empty until an invitation is accepted).
    pub counterpart: String,
    pub scopes: Vec<Scope>,
    /// `invited`, `active`, `revoked`, `ended` or `lapsed` (an invitation nobody accepted in time).
    pub state: String,
    /// The last day, YYYY-MM-DD (absent for representation by law).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ends_on: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
    /// True where the fact comes from a simulated register (local mode).
    pub simulated: bool,
}

impl DelegationView {
    pub(crate) fn of(d: &Delegations, side: Side, stored: &Stored, counterpart: String) -> Self {
        let record = &stored.record;
        let now = d.clock.now();
        let state = if record.revoked_at.is_some() {
            "revoked"
        } else if now >= record.ends_at {
            "ended"
        } else if record.delegate.is_some() {
            "active"
        } else if now >= record.invitation_expires_at {
            "lapsed"
        } else {
            "invited"
        };
        Self {
            id: stored.id.clone(),
            kind: GrantKind::Authorisation,
            role: match side {
                Side::Principal => "principal",
                Side::Delegate => "delegate",
            }
            .into(),
            counterpart,
            scopes: record.scopes.clone(),
            state: state.into(),
            ends_on: Some(record.ends_on.clone()),
            revoked_at: record.revoked_at.and_then(|at| at.format(&Rfc3339).ok()),
            simulated: false,
        }
    }
}

pub(crate) fn no_such_grant(id: &str) -> Problem {
    Problem::new(StatusCode::NOT_FOUND, "not-found", "No such delegation")
        .with_detail(format!("you have no delegation '{id}'"))
}
