//! `GET /api/auth/login`: starts a login at the identity provider (NIA), or
//! at the development provider's page in local mode.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Redirect;
use portal_host::{Params, Problem};
use portal_store::NewDocument;
use serde_json::json;

use super::{
    LOGIN_TTL, LOGINS, LoginQuery, SetCookie, Shared, count_login_attempt, login_binding_cookie, random, sha256_b64,
};
use crate::{IdentityError, LoginProvider};

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "Login";

/// Sends the browser to the identity provider; the login comes back to
/// `LoginCallback`. A pending login lives 10 minutes and is bound to this
/// browser by the `__Host-portal_login` cookie.
#[utoipa::path(
    get,
    path = "/api/auth/login",
    operation_id = OPERATION,
    tag = "identity",
    params(LoginQuery),
    responses(
        (status = 303, description = "Přesměrování na přihlášení u poskytovatele identity (NIA).",
            headers(
                ("Location" = String, description = "Přihlašovací stránka poskytovatele identity."),
                ("Set-Cookie" = String, description = "Cookie __Host-portal_login, která váže rozběhnuté přihlášení k tomuto prohlížeči (10 minut)."),
            )),
        (status = 401, description = "Poskytovatel identity přihlášení odmítl.", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Příliš mnoho pokusů o přihlášení z této adresy; hlavička Retry-After říká, za kolik sekund.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(id): State<Shared>,
    headers: HeaderMap,
    Params(query): Params<LoginQuery>,
) -> Result<(Option<SetCookie>, Redirect), IdentityError> {
    count_login_attempt(&id, &headers)?;
    let return_to = query.return_to();
    let provider = match &id.provider {
        LoginProvider::Development => {
            let target = format!(
                "/api/auth/dev?returnTo={}",
                url::form_urlencoded::byte_serialize(return_to.as_bytes()).collect::<String>()
            );
            return Ok((None, Redirect::to(&target)));
        }
        LoginProvider::Oidc(provider) => provider,
    };
    let metadata = provider.metadata().await?;
    let (state, nonce) = (random(), random());
    let verifier = metadata.supports_pkce().then(random);
    let challenge = verifier.as_deref().map(sha256_b64);
    // The browser keeps the binding; the pending login only its hash.
    let binding = random();
    let body = json!({
        "nonce": nonce, "verifier": verifier, "returnTo": return_to, "browser": sha256_b64(&binding),
        "maxAge": query.max_age(),
    });
    let attempt = NewDocument::new(sha256_b64(&state), "attempt", body).with_ttl(LOGIN_TTL);
    id.documents.create(LOGINS, attempt).await?;
    let url = provider.authorization_url(&state, &nonce, challenge.as_deref(), query.max_age()).await?;
    Ok((Some(login_binding_cookie(&binding)), Redirect::to(&url)))
}
