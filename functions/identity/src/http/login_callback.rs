//! `GET /api/auth/callback`: the identity provider sends the citizen back
//! with a code; the portal exchanges it, checks the ID token and starts a
//! session.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use portal_host::{FieldViolation, Params, Problem};
use portal_store::StoreError;
use serde::Deserialize;
use utoipa::IntoParams;

use portal_security::cookie;

use super::{
    LOGIN_BINDING_COOKIE, LOGINS, SetCookie, Shared, SignedIn, clear_login_binding, count_login_attempt,
    safe_return_to, sha256_b64, start_session,
};
use crate::{IdentityError, LoginProvider};

/// What the identity provider sends back.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    /// The authorization code.
    code: Option<String>,
    /// The state the login started with.
    state: Option<String>,
    /// Set when the provider did not complete the login.
    error: Option<String>,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "LoginCallback";

/// Completes a login: one use per started login, only in the browser that
/// started it (the `__Host-portal_login` cookie), the ID token checked
/// (signature, issuer, audience, nonce, expiry, level of assurance).
#[utoipa::path(
    get,
    path = "/api/auth/callback",
    operation_id = OPERATION,
    tag = "identity",
    params(CallbackQuery),
    responses(
        (status = 303, description = "Přihlášeno: relace je v cookie a prohlížeč se vrací, odkud přišel.",
            headers(
                ("Location" = String, description = "Stránka portálu, na kterou se občan vrací."),
                ("Set-Cookie" = String, description = "Cookie relace __Host-portal_session."),
            )),
        (status = 400, description = "Neznámé nebo prošlé přihlášení, již dokončené, nebo zahájené v jiném prohlížeči.", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Přihlášení bylo odmítnuto (poskytovatel je nedokončil, nebo token neprošel kontrolou).", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Úroveň záruky přihlášení je nižší než značná.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Tento portál se přihlašuje přes vývojového poskytovatele.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Chybí `code` nebo `state`.", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Příliš mnoho pokusů o přihlášení z této adresy; hlavička Retry-After říká, za kolik sekund.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(id): State<Shared>,
    headers: HeaderMap,
    Params(query): Params<CallbackQuery>,
) -> Result<(SetCookie, SignedIn), IdentityError> {
    count_login_attempt(&id, &headers)?;
    let LoginProvider::Oidc(provider) = &id.provider else {
        return Err(Problem::not_found("this portal logs in through the development provider").into());
    };
    if let Some(error) = query.error {
        tracing::warn!(%error, "the identity provider returned an error");
        return Err(IdentityError::login_refused(
            StatusCode::UNAUTHORIZED,
            "the identity provider did not complete the login",
        ));
    }
    let (Some(code), Some(state)) = (query.code, query.state) else {
        return Err(Problem::validation(vec![
            FieldViolation::new("code", "required"),
            FieldViolation::new("state", "required"),
        ])
        .into());
    };
    // The attempt is single use: read it, then delete it with its ETag.
    let key = sha256_b64(&state);
    let Some(attempt) = id.documents.get(LOGINS, &key, "attempt").await? else {
        return Err(IdentityError::login_refused(StatusCode::BAD_REQUEST, "unknown or expired state"));
    };
    // Only the browser that started this login may complete it; checked
    // before the attempt is used up, so a forged callback cannot spend it.
    let expected = attempt.body["browser"].as_str().unwrap_or_default();
    let sent = cookie(&headers, LOGIN_BINDING_COOKIE).map(sha256_b64).unwrap_or_default();
    if expected.is_empty()
        || aws_lc_rs::constant_time::verify_slices_are_equal(sent.as_bytes(), expected.as_bytes()).is_err()
    {
        return Err(IdentityError::login_refused(StatusCode::BAD_REQUEST, "this login was started in another browser"));
    }
    match id.documents.delete(LOGINS, &key, "attempt", Some(&attempt.etag)).await {
        Ok(()) => {}
        Err(StoreError::NotFound | StoreError::PreconditionFailed) => {
            return Err(IdentityError::login_refused(StatusCode::BAD_REQUEST, "this login was already completed"));
        }
        Err(error) => return Err(error.into()),
    }
    let nonce = attempt.body["nonce"].as_str().unwrap_or_default().to_owned();
    let verifier = attempt.body["verifier"].as_str().map(str::to_owned);
    let return_to = safe_return_to(attempt.body["returnTo"].as_str());
    let id_token = provider.exchange(&code, verifier.as_deref()).await?;
    let max_age = attempt.body["maxAge"].as_u64().and_then(|v| u32::try_from(v).ok());
    let login = provider.verify_login(&id_token, &nonce, max_age).await?;
    let signed_in =
        start_session(&id, login.subject, login.loa, "nia", &login.claims, &return_to, login.auth_time).await?;
    Ok((clear_login_binding(), signed_in))
}
