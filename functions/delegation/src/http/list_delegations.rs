//! `GET /api/delegations`: what the citizen gave, received, and whom they
//! represent by law.

use axum::Json;
use axum::extract::State;
use portal_host::Problem;
use portal_security::{Action, Citizen, Scope};
use serde::Serialize;
use utoipa::ToSchema;

use super::{DelegationView, Shared};
use crate::grant::{self, Side};
use crate::{representation_id, representation_in_force};

/// The citizen's delegations by role.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Delegations {
    /// Authorisations the citizen gave (invitations included).
    pub given: Vec<DelegationView>,
    /// Authorisations the citizen accepted.
    pub received: Vec<DelegationView>,
    /// Children and companies the citizen represents by law, from the registers.
    pub representations: Vec<DelegationView>,
    /// False when the registers could not be asked: `representations` is then
    /// empty for that reason, not because there are none.
    pub representations_known: bool,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "ListDelegations";

/// Lists the citizen's delegations.
#[utoipa::path(
    get,
    path = "/api/delegations",
    operation_id = OPERATION,
    tag = "delegation",
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Zmocnění a zastoupení.", body = Delegations),
    )
)]
pub async fn handler(State(d): State<Shared>, citizen: Citizen) -> Result<Json<Delegations>, Problem> {
    let mut given = Vec::new();
    let mut received = Vec::new();
    for (side, stored) in grant::of_subject(&d, &citizen.subject).await? {
        let (principal, delegate) = grant::names(&d, &stored.id, &stored.record).await?;
        match side {
            Side::Principal => given.push(DelegationView::of(&d, side, &stored, delegate)),
            Side::Delegate => received.push(DelegationView::of(&d, side, &stored, principal)),
        }
    }
    let today = d.today();
    let (known, found) = match d.register.of(&citizen.subject).await {
        Ok(found) => (true, found),
        Err(error) => {
            tracing::warn!(error = %error, "representations could not be read");
            (false, Vec::new())
        }
    };
    let representations = found
        .into_iter()
        .map(|r| DelegationView {
            id: representation_id(&citizen.subject, &r.principal),
            kind: r.kind,
            role: "representative".into(),
            counterpart: r.principal_name.clone(),
            scopes: Scope::ALL.to_vec(),
            state: if representation_in_force(&r, today) { "active" } else { "ended" }.into(),
            ends_on: None,
            revoked_at: None,
            simulated: r.simulated,
        })
        .collect();
    d.access_log.record_own(&citizen, Action::Read, "delegation", "*", "přehled zmocnění a zastoupení").await?;
    Ok(Json(Delegations { given, received, representations, representations_known: known }))
}
