//! The identity capability's HTTP functions, one file per action, and what
//! the login actions share: the pending-login records, the session cookie,
//! and starting a session whichever provider vouched for the citizen.

pub mod bearer_token;
pub mod current_session;
pub mod dev_login;
pub mod dev_login_page;
pub mod download_export;
pub mod erase_me;
pub mod export_me;
pub mod login;
pub mod login_callback;
pub mod logout;
pub mod me;
pub mod my_access_log;
pub mod request_export;
pub mod show_export;

use std::sync::Arc;

use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::response::{AppendHeaders, Redirect};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portal_security::{AccessEntry, Action, Actor, Loa, SESSION_COOKIE, SubjectId};
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use crate::profile::{self, Profile};
use crate::return_to::ReturnPath;
use crate::{Identity, IdentityError};

pub(crate) type Shared = Arc<Identity>;

/// Pending logins: state → nonce, PKCE verifier and where to return.
pub(crate) const LOGINS: &str = "logins";
pub(crate) const LOGIN_TTL: std::time::Duration = std::time::Duration::from_secs(10 * 60);

/// Where the citizen goes after logging in.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct LoginQuery {
    /// A path of this site to return to after the login (default `/`);
    /// anything else is ignored.
    #[param(example = "/api/me")]
    return_to: Option<String>,
    /// Step-up: the identity provider must have authenticated the citizen
    /// at most this many seconds ago (OIDC `max_age`); the front end sends
    /// `600` after a `/problems/reauthentication-required` answer.
    #[param(example = 600, maximum = 86400)]
    max_age: Option<u32>,
}

impl LoginQuery {
    /// Only paths of this site (see [`ReturnPath`]); anything else is `/`.
    pub(crate) fn return_to(&self) -> String {
        safe_return_to(self.return_to.as_deref())
    }

    /// The requested `max_age`, at most a day.
    pub(crate) fn max_age(&self) -> Option<u32> {
        self.max_age.map(|seconds| seconds.min(86_400))
    }
}

/// Only paths of this site (see [`ReturnPath`]); anything else is `/`.
pub(crate) fn safe_return_to(value: Option<&str>) -> String {
    ReturnPath::or_root(value).as_str().to_owned()
}

/// One login attempt more from the client's address, as the portal's own
/// proxies report it (see [`portal_security::ClientAddressRule`]); too many is
/// a 429.
pub(crate) fn count_login_attempt(id: &Identity, headers: &HeaderMap) -> Result<(), IdentityError> {
    let address = id.client_addresses.client_address(headers);
    id.logins.check(&address).map_err(|retry_after| IdentityError::TooManyLogins { retry_after })
}

/// Whether a form post comes from this site (login CSRF): a browser says
/// where a request comes from in `Sec-Fetch-Site` or `Origin`, and a
/// cross-site one is refused. A request with neither is not from a browser
/// (curl, a test), and no browser can be made to send it. The rule of Go's
/// `http.CrossOriginProtection`; `Origin` is compared with `Host`.
pub(crate) fn same_origin(headers: &HeaderMap) -> bool {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(site) = text("sec-fetch-site") {
        return matches!(site, "same-origin" | "none");
    }
    let Some(origin) = text("origin") else { return true };
    let (Ok(origin), Some(host)) = (url::Url::parse(origin), text("host")) else { return false };
    let authority = match (origin.host_str(), origin.port()) {
        (Some(name), Some(port)) => format!("{name}:{port}"),
        (Some(name), None) => name.to_owned(),
        (None, _) => return false,
    };
    authority.eq_ignore_ascii_case(host)
}

pub(crate) fn random() -> String {
    use aws_lc_rs::rand::SecureRandom as _;
    let mut bytes = [0_u8; 32];
    if aws_lc_rs::rand::SystemRandom::new().fill(&mut bytes).is_err() {
        panic!("the system random number generator failed");
    }
    URL_SAFE_NO_PAD.encode(bytes)
}

pub(crate) fn sha256_b64(text: &str) -> String {
    URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes()).as_ref())
}

/// A `Set-Cookie` header added to a response.
pub(crate) type SetCookie = AppendHeaders<[(HeaderName, HeaderValue); 1]>;

fn session_cookie(secret: &str, max_age: std::time::Duration) -> SetCookie {
    let value =
        format!("{SESSION_COOKIE}={secret}; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age={}", max_age.as_secs());
    AppendHeaders([(
        header::SET_COOKIE,
        HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("")),
    )])
}

/// The cookie binding a pending login to the browser that started it: its
/// value is random, the pending login keeps only its SHA-256, and the callback
/// must bring the cookie whose hash matches (login CSRF: a callback URL started
/// in one browser and opened in another is refused).
pub(crate) const LOGIN_BINDING_COOKIE: &str = "__Host-portal_login";

/// Sets the login binding for the pending login's lifetime.
pub(crate) fn login_binding_cookie(binding: &str) -> SetCookie {
    let value = format!(
        "{LOGIN_BINDING_COOKIE}={binding}; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age={}",
        LOGIN_TTL.as_secs()
    );
    AppendHeaders([(
        header::SET_COOKIE,
        HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("")),
    )])
}

/// Ends the login binding once the callback used it.
pub(crate) fn clear_login_binding() -> SetCookie {
    AppendHeaders([(
        header::SET_COOKIE,
        HeaderValue::from_static("__Host-portal_login=; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=0"),
    )])
}

/// Ends the browser's session cookie.
pub(crate) fn clear_cookie() -> SetCookie {
    AppendHeaders([(
        header::SET_COOKIE,
        HeaderValue::from_static("__Host-portal_session=; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=0"),
    )])
}

/// A started session: the cookie, and back to where the citizen was going.
pub type SignedIn = (SetCookie, Redirect);

/// The same session, whichever provider vouched for the citizen.
pub(crate) async fn start_session(
    id: &Identity,
    subject: SubjectId,
    loa: Loa,
    provider: &str,
    claims: &Profile,
    return_to: &str,
    auth_time: Option<OffsetDateTime>,
) -> Result<SignedIn, IdentityError> {
    profile::save(id.documents.as_ref(), &id.sealer, &subject, claims).await?;
    let new = id.sessions.create_authenticated(subject.clone(), loa, provider, auth_time).await?;
    let entry =
        AccessEntry::new(Actor::Citizen, Action::Login, "session", "login", &format!("login through {provider}"));
    id.access_log.record(&subject, entry).await?;
    tracing::info!(provider, loa = loa.as_str(), "login succeeded");
    announce_sign_in(id, &subject).await;
    Ok((session_cookie(&new.secret, id.sessions.times().absolute), Redirect::to(return_to)))
}

/// Tells the capabilities that refresh a citizen's data at sign-in (registers:
/// identity documents for the expiry reminders). Once a day at most: the id
/// holds the date, and consumers drop repeats. A failure here must not fail the
/// login: it is logged, and the next day's sign-in tries again.
async fn announce_sign_in(id: &Identity, subject: &SubjectId) {
    let now = id.clock.now();
    let event = portal_events::Event::new(
        portal_events::kinds::SIGNED_IN,
        &format!("{}:{}", subject.as_str(), now.date()),
        subject.as_str(),
        now,
        json!({}),
    );
    if let Err(error) = portal_events::publish(id.queues.as_ref(), portal_events::SIGNED_IN_QUEUE, &event).await {
        tracing::warn!(error = %error, "the signed-in event could not be published");
    }
}

/// The level of assurance of a login (úroveň záruky), as eIDAS names it.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LevelOfAssurance {
    Low,
    Substantial,
    High,
}

impl From<Loa> for LevelOfAssurance {
    fn from(loa: Loa) -> Self {
        match loa {
            Loa::Low => Self::Low,
            Loa::Substantial => Self::Substantial,
            Loa::High => Self::High,
        }
    }
}

pub(crate) fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}
