//! `POST /api/auth/dev/login`: logs a demo citizen in (local mode only), as
//! a NIA login would.

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use portal_host::{FieldViolation, Problem};
use portal_security::{Loa, SubjectId};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{Shared, SignedIn, count_login_attempt, safe_return_to, same_origin, start_session};
use crate::{IdentityError, LoginProvider, demo};

/// The form of the development provider's page.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DevLoginForm {
    /// A demo citizen's login: `jana`, `jiri`, `ludmila` or `petr`.
    #[schema(example = "jana")]
    citizen: String,
    /// `low` (refused), `substantial` or `high`.
    #[schema(example = "substantial")]
    loa: String,
    /// A path of this site to return to (default `/`).
    return_to: Option<String>,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "DevLogin";

/// Starts a session for a demo citizen at the chosen level of assurance.
#[utoipa::path(
    post,
    path = "/api/auth/dev/login",
    operation_id = OPERATION,
    tag = "identity",
    request_body(content = DevLoginForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Přihlášeno: relace je v cookie a prohlížeč se vrací, odkud přišel.",
            headers(
                ("Location" = String, description = "Stránka portálu, na kterou se občan vrací."),
                ("Set-Cookie" = String, description = "Cookie relace __Host-portal_session."),
            )),
        (status = 403, description = "Úroveň záruky `low` portál nepřijímá, nebo formulář odeslala jiná stránka než portál (Origin, Sec-Fetch-Site).", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Vývojový poskytovatel identity je vypnutý (mimo lokální režim).", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Tělo není formulář application/x-www-form-urlencoded.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Neznámý ukázkový občan nebo úroveň záruky.", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Příliš mnoho pokusů o přihlášení z této adresy; hlavička Retry-After říká, za kolik sekund.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(id): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<DevLoginForm>,
) -> Result<SignedIn, IdentityError> {
    if !matches!(id.provider, LoginProvider::Development) {
        return Err(Problem::not_found("the development identity provider is off").into());
    }
    if !same_origin(&headers) {
        tracing::warn!("a cross-site development login was refused");
        return Err(IdentityError::login_refused(StatusCode::FORBIDDEN, "the login form was sent from another site"));
    }
    count_login_attempt(&id, &headers)?;
    let Some(citizen) = demo::find(&form.citizen) else {
        return Err(
            Problem::validation(vec![FieldViolation::new("citizen", "must be one of the demo citizens")]).into()
        );
    };
    let Some(loa) = Loa::from_acr(&form.loa) else {
        return Err(Problem::validation(vec![FieldViolation::new("loa", "must be low, substantial or high")]).into());
    };
    if loa < Loa::Substantial {
        return Err(IdentityError::login_refused(
            StatusCode::FORBIDDEN,
            "the level of assurance 'low' is below substantial",
        ));
    }
    let Ok(subject) = SubjectId::from_person_identifier(citizen.person_identifier) else {
        return Err(Problem::internal().into());
    };
    start_session(
        &id,
        subject,
        loa,
        "development",
        &citizen.profile(),
        &safe_return_to(form.return_to.as_deref()),
        None,
    )
    .await
}
