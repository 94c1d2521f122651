//! `POST /api/delegations`: the principal invites somebody to act for them.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use portal_host::{Body, FieldViolation, Problem};
use portal_security::{Action, Citizen, Scope};
use serde::{Deserialize, Serialize};
use time::Date;
use time::macros::format_description;
use utoipa::ToSchema;

use super::{DelegationView, Shared};
use crate::MAX_DAYS;
use crate::grant::{self, Side};

/// What the principal allows and until when.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"scopes": ["databox-read"], "endsOn": "2027-01-06"}))]
pub struct NewDelegation {
    /// One or more scopes; petitions are never delegable.
    pub scopes: Vec<Scope>,
    /// The last day, YYYY-MM-DD: from today, at most a year ahead.
    pub ends_on: String,
}

/// The invitation: its code goes to the delegate (shown once, never stored).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Invitation {
    pub delegation: DelegationView,
    /// Give this code to the person you authorise; they accept it after
    /// signing in (`POST /api/delegations/{id}/accept`). Valid 7 days.
    pub code: String,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "CreateDelegation";

/// Invites somebody to act for the citizen in the chosen scopes until the chosen day.
#[utoipa::path(
    post,
    path = "/api/delegations",
    operation_id = OPERATION,
    tag = "delegation",
    request_body = NewDelegation,
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 201, description = "Pozvánka ke zmocnění je vytvořena.", body = Invitation),
    )
)]
pub async fn handler(
    State(d): State<Shared>,
    citizen: Citizen,
    Body(input): Body<NewDelegation>,
) -> Result<(StatusCode, Json<Invitation>), Problem> {
    let today = d.today();
    let mut errors = Vec::new();
    if input.scopes.is_empty() {
        errors.push(FieldViolation::new("scopes", "choose at least one scope"));
    }
    let ends_on = Date::parse(&input.ends_on, format_description!("[year]-[month]-[day]")).ok();
    match ends_on {
        None => errors.push(FieldViolation::new("endsOn", "a date YYYY-MM-DD")),
        Some(day) if day < today => errors.push(FieldViolation::new("endsOn", "today or later")),
        Some(day) if (day - today).whole_days() > MAX_DAYS - 1 => {
            errors.push(FieldViolation::new("endsOn", "at most a year ahead"));
        }
        Some(_) => {}
    }
    let (Some(ends_on), true) = (ends_on, errors.is_empty()) else { return Err(Problem::validation(errors)) };
    let mut scopes = input.scopes;
    scopes.sort_unstable();
    scopes.dedup();
    let (stored, code) = grant::invite(&d, &citizen.subject, scopes, ends_on).await?;
    d.access_log.record_own(&citizen, Action::Create, "delegation", &stored.id, "nové zmocnění (pozvánka)").await?;
    let delegation = DelegationView::of(&d, Side::Principal, &stored, String::new());
    Ok((StatusCode::CREATED, Json(Invitation { delegation, code })))
}
