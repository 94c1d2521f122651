//! `POST /api/delegations/{id}/accept`: the delegate, signed in, accepts an invitation.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use portal_host::{Body, Problem};
use portal_security::{Action, Citizen};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{DelegationView, Shared, no_such_grant};
use crate::grant::{self, AcceptRefusal, Side};

/// The code the principal gave.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Acceptance {
    pub code: String,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "AcceptDelegation";

/// Accepts the invitation: from now on the citizen may act for the principal
/// in its scopes, sending `X-Acting-For: <id>`.
#[utoipa::path(
    post,
    path = "/api/delegations/{id}/accept",
    operation_id = OPERATION,
    tag = "delegation",
    params(("id" = String, Path, description = "The delegation's id.")),
    request_body = Acceptance,
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Zmocnění je přijato.", body = DelegationView),
        (status = 404, description = "Taková platná pozvánka není (špatný kód, již přijatá jinou osobou nebo propadlá).", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Vlastní pozvánku přijmout nelze.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(d): State<Shared>,
    citizen: Citizen,
    Path(id): Path<String>,
    Body(input): Body<Acceptance>,
) -> Result<Json<DelegationView>, Problem> {
    if !grant::valid_id(&id) || input.code.len() > 64 {
        return Err(no_such_grant(&id));
    }
    let stored = match grant::accept(&d, &id, &input.code, &citizen.subject).await? {
        Ok(stored) => stored,
        Err(AcceptRefusal::Invalid) => return Err(no_such_grant(&id)),
        Err(AcceptRefusal::Own) => {
            return Err(Problem::new(StatusCode::CONFLICT, "own-delegation", "You cannot authorise yourself")
                .with_detail("give the code to the person you want to authorise"));
        }
    };
    let (principal, _) = grant::names(&d, &id, &stored.record).await?;
    d.access_log.record_own(&citizen, Action::Create, "delegation", &id, "přijetí zmocnění").await?;
    Ok(Json(DelegationView::of(&d, Side::Delegate, &stored, principal)))
}
