//! Delegation's part of the citizen's export (`portal_security::export`):
//! `delegations.json` with
//! - `given`: every authorisation the citizen gave (invitations included),
//! - `received`: every authorisation the citizen accepted,
//!
//! each with its scopes, state, dates (created, invitation expiry, accepted,
//! the last day, revoked and by whom, first used, whether the end was told)
//! and the other side's name opened from its seal (empty where that person
//! erased their account, or before an invitation is accepted);
//! - `representations`: whom the citizen represents by law (a child, a
//!   company), as the register port answers today: the portal never stores
//!   these, so the export shows the register's current answer, and
//!   `representationsKnown: false` when the register could not be asked
//!   (production has no relationship queries yet: see `register`).
//!
//! The invitation code's hash is not exported (it is a secret of the
//! delegate's, and gone once accepted).
//!
//! Like every source it only reads: the export as a whole is in the access
//! log (requested, downloaded), so this part writes no line of its own and
//! a rebuilt archive is the same archive.

use portal_security::export::{ExportError, ExportFuture, ExportPart, ExportSource};
use portal_security::{GrantKind, Scope, SubjectId};
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::grant::{self, Side, Stored};
use crate::http::DelegationView;
use crate::{DelegationError, Delegations, representation_id, representation_in_force};

/// One authorisation, as either side holds it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ExportedGrant {
    #[serde(flatten)]
    view: DelegationView,
    created_at: Option<String>,
    invitation_expires_at: Option<String>,
    accepted_at: Option<String>,
    revoked_by: Option<Side>,
    first_used_at: Option<String>,
    end_notified: bool,
}

/// A representation by law, from the register.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ExportedRepresentation {
    id: String,
    kind: GrantKind,
    principal_name: String,
    scopes: Vec<Scope>,
    state: &'static str,
    /// A child's date of birth (the representation ends at 18).
    born: Option<String>,
    /// A statutory body's last day in office, when the register has one.
    in_office_until: Option<String>,
    simulated: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ExportedDelegations {
    given: Vec<ExportedGrant>,
    received: Vec<ExportedGrant>,
    representations: Vec<ExportedRepresentation>,
    representations_known: bool,
}

fn time(at: Option<OffsetDateTime>) -> Option<String> {
    at.and_then(|at| at.format(&Rfc3339).ok())
}

impl ExportSource for Delegations {
    fn name(&self) -> &'static str {
        "delegation"
    }

    fn export<'a>(&'a self, subject: &'a SubjectId) -> ExportFuture<'a> {
        Box::pin(async move {
            let delegations = self.export_delegations(subject).await.map_err(|error| ExportError::of(&error))?;
            Ok(vec![ExportPart::json("delegations.json", &delegations)?])
        })
    }
}

impl Delegations {
    async fn export_delegations(&self, subject: &SubjectId) -> Result<ExportedDelegations, DelegationError> {
        let mut given = Vec::new();
        let mut received = Vec::new();
        for (side, stored) in grant::of_subject(self, subject).await? {
            let (principal, delegate) = grant::names(self, &stored.id, &stored.record).await?;
            match side {
                Side::Principal => given.push(self.exported(side, &stored, delegate)),
                Side::Delegate => received.push(self.exported(side, &stored, principal)),
            }
        }
        let today = self.today();
        let (known, found) = match self.register.of(subject).await {
            Ok(found) => (true, found),
            Err(error) => {
                tracing::warn!(error = %error, "representations could not be read for the export");
                (false, Vec::new())
            }
        };
        let representations = found
            .into_iter()
            .map(|r| ExportedRepresentation {
                id: representation_id(subject, &r.principal),
                kind: r.kind,
                state: if representation_in_force(&r, today) { "active" } else { "ended" },
                principal_name: r.principal_name,
                scopes: Scope::ALL.to_vec(),
                born: r.born.map(|d| d.to_string()),
                in_office_until: r.in_office_until.map(|d| d.to_string()),
                simulated: r.simulated,
            })
            .collect();
        Ok(ExportedDelegations { given, received, representations, representations_known: known })
    }

    fn exported(&self, side: Side, stored: &Stored, counterpart: String) -> ExportedGrant {
        let record = &stored.record;
        ExportedGrant {
            view: DelegationView::of(self, side, stored, counterpart),
            created_at: time(Some(record.created_at)),
            invitation_expires_at: time(Some(record.invitation_expires_at)),
            accepted_at: time(record.accepted_at),
            revoked_by: record.revoked_by,
            first_used_at: time(record.first_used_at),
            end_notified: record.end_notified,
        }
    }
}
