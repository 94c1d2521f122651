//! `DELETE /api/delegations/{id}`: either side ends an authorisation.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use portal_host::Problem;
use portal_security::{AccessEntry, Action, Actor, Citizen};

use super::{Shared, no_such_grant};
use crate::grant::{self, Side};

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "RevokeDelegation";

/// Ends the authorisation at once, for the principal or the delegate; the
/// delegate's next request under it gets 403. Representation by law ends only
/// in the register.
#[utoipa::path(
    delete,
    path = "/api/delegations/{id}",
    operation_id = OPERATION,
    tag = "delegation",
    params(("id" = String, Path, description = "The delegation's id.")),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 204, description = "Zmocnění je zrušeno."),
        (status = 404, description = "Takové zmocnění nemáte.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Zastoupení ze zákona nelze zrušit v portálu; mění se v registru.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(State(d): State<Shared>, citizen: Citizen, Path(id): Path<String>) -> Result<StatusCode, Problem> {
    if id.starts_with("r-") && grant::valid_id(&id) {
        return Err(Problem::new(StatusCode::CONFLICT, "representation-by-law", "Representation by law")
            .with_detail("representation of a child or a company ends in the register, not here"));
    }
    let Some(stored) = grant::load(&d, &id).await? else { return Err(no_such_grant(&id)) };
    let side = if stored.record.principal == citizen.subject {
        Side::Principal
    } else if stored.record.delegate.as_ref() == Some(&citizen.subject) {
        Side::Delegate
    } else {
        return Err(no_such_grant(&id));
    };
    let principal = stored.record.principal.clone();
    let delegate = stored.record.delegate.clone();
    grant::revoke(&d, stored, side).await?;
    let entry = AccessEntry::new(Actor::Citizen, Action::Delete, "delegation", &id, "zrušení zmocnění");
    d.access_log.record(&citizen.subject, entry).await?;
    // The other side's log says it too (without naming who, which the grant already tells).
    let other = if side == Side::Principal { delegate } else { Some(principal) };
    if let Some(other) = other {
        let entry = AccessEntry::new(
            Actor::System { job: "RevokeDelegation".into() },
            Action::Delete,
            "delegation",
            &id,
            if side == Side::Principal { "zmocnitel zmocnění zrušil" } else { "zmocněnec zmocnění odmítl" },
        );
        d.access_log.record(&other, entry).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}
