//! The `Citizen` extractor: every capability's way to know who is asking.
//!
//! Credentials: the `__Host-portal_session` cookie (browsers) or
//! `Authorization: Bearer <token>` (mobile apps). A cookie-authenticated
//! state-changing request must carry the session's CSRF token in
//! `X-CSRF-Token`. [`Citizen`] needs a substantial level of assurance; no act
//! of the portal needs high (eIDAS "high" is asked of no online act it offers),
//! so there is no extractor for it. Destructive and legal acts also need a
//! recent login: [`Citizen::require_recent_login`].

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portal_host::Problem;

use crate::rate_limit::RateLimiter;
use crate::sessions::{Session, Sessions};
use crate::subject::{Loa, SubjectId};

pub const SESSION_COOKIE: &str = "__Host-portal_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// What the extractor needs, put in every request's extensions by the app.
#[derive(Debug, Clone)]
pub struct Authenticator {
    pub sessions: Sessions,
    /// Limits state-changing requests per session.
    pub writes: Arc<RateLimiter>,
}

/// How to tell the client's address, and the limiter of state-changing
/// requests per address. State-changing requests count per session and, with
/// this, per client address too, so one address cannot spread its writes over
/// many sessions. The address is read only for a state-changing request.
#[derive(Debug, Clone)]
pub struct AddressWriteLimit {
    pub rule: crate::ClientAddressRule,
    pub limiter: Arc<RateLimiter>,
}

/// What the app gives every request for the extractors ([`Citizen`],
/// [`ActingFor`](crate::ActingFor)): the authenticator and, when the app has
/// them, the mandate check and the per-address write limit. One extension,
/// cloned as one `Arc`: each extension is an allocation and an insert into
/// the request's map (issue 18: three of them were a twentieth of a health
/// request's CPU, with the client's address read on every request).
#[derive(Debug, Clone)]
pub struct RequestWiring(Arc<Wiring>);

#[derive(Debug, Clone)]
struct Wiring {
    authenticator: Arc<Authenticator>,
    mandates: Option<crate::MandateCheck>,
    address_writes: Option<AddressWriteLimit>,
}

impl RequestWiring {
    pub fn new(authenticator: Arc<Authenticator>) -> Self {
        Self(Arc::new(Wiring { authenticator, mandates: None, address_writes: None }))
    }

    /// With the check of mandates (requests made on another's behalf).
    #[must_use]
    pub fn with_mandates(self, mandates: crate::MandateCheck) -> Self {
        let Wiring { authenticator, address_writes, .. } = Arc::unwrap_or_clone(self.0);
        Self(Arc::new(Wiring { authenticator, mandates: Some(mandates), address_writes }))
    }

    /// With the limit of state-changing requests per client address.
    #[must_use]
    pub fn with_address_writes(self, limit: AddressWriteLimit) -> Self {
        let Wiring { authenticator, mandates, .. } = Arc::unwrap_or_clone(self.0);
        Self(Arc::new(Wiring { authenticator, mandates, address_writes: Some(limit) }))
    }

    pub fn authenticator(&self) -> &Arc<Authenticator> {
        &self.0.authenticator
    }

    pub(crate) fn mandates(&self) -> Option<&crate::MandateCheck> {
        self.0.mandates.as_ref()
    }

    fn address_writes(&self) -> Option<&AddressWriteLimit> {
        self.0.address_writes.as_ref()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    Cookie,
    Bearer,
}

/// A logged-in citizen with at least a substantial level of assurance.
#[derive(Debug, Clone)]
pub struct Citizen {
    pub subject: SubjectId,
    pub loa: Loa,
    pub credential: Credential,
    pub session: Session,
}

/// How recent a login destructive and legal acts need (step-up): erasure,
/// register writes of a delivery address or qualified certificate, and the
/// officials' blocking and unblocking of a petition.
pub const STEP_UP_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(10 * 60);

/// The answer when a login is too old for the act: 401
/// `/problems/reauthentication-required`. The front end starts
/// `GET /api/auth/login?maxAge=600&returnTo=…`, which makes the identity
/// provider authenticate the citizen again (OIDC `max_age`), and retries.
pub fn reauthentication_required() -> Problem {
    Problem::new(StatusCode::UNAUTHORIZED, "reauthentication-required", "Log in again to continue").with_detail(
        format!(
            "this needs a login no older than {} s: log in again with GET /api/auth/login?maxAge={}",
            STEP_UP_MAX_AGE.as_secs(),
            STEP_UP_MAX_AGE.as_secs()
        ),
    )
}

impl Citizen {
    /// Whether the citizen authenticated at the identity provider within
    /// [`STEP_UP_MAX_AGE`] before `now`; else [`reauthentication_required`].
    pub fn require_recent_login(&self, now: time::OffsetDateTime) -> Result<(), Problem> {
        if now - self.session.authenticated_at() <= STEP_UP_MAX_AGE { Ok(()) } else { Err(reauthentication_required()) }
    }
}

fn unauthorized() -> Response {
    let mut response = Problem::new(StatusCode::UNAUTHORIZED, "unauthorized", "Log in to continue")
        .with_detail("no valid session or bearer token")
        .into_response();
    response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
    response
}

fn forbidden(kind: &str, detail: &str) -> Response {
    Problem::new(StatusCode::FORBIDDEN, kind, "Not allowed").with_detail(detail.to_owned()).into_response()
}

/// The value of a cookie in the `Cookie` headers.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token.trim())
}

fn state_changing(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

pub(crate) async fn authenticate(parts: &Parts, minimum: Loa) -> Result<Citizen, Response> {
    let Some(wiring) = parts.extensions.get::<RequestWiring>() else {
        tracing::error!("the RequestWiring extension is missing: the app was wired without it");
        return Err(Problem::internal().into_response());
    };
    let auth = wiring.authenticator();
    let (credential, session) = if let Some(token) = bearer(&parts.headers) {
        (Credential::Bearer, auth.sessions.resolve_bearer(token).await)
    } else if let Some(secret) = cookie(&parts.headers, SESSION_COOKIE) {
        (Credential::Cookie, auth.sessions.resolve(secret).await)
    } else {
        return Err(unauthorized());
    };
    let session = match session {
        Ok(Some(session)) => session,
        Ok(None) => return Err(unauthorized()),
        Err(error) => {
            tracing::error!(error = %error, "session lookup failed");
            return Err(Problem::unavailable("sessions").into_response());
        }
    };
    if state_changing(&parts.method) {
        // Bearer tokens are not sent by browsers on their own, so only cookie
        // sessions need the synchronizer token.
        if credential == Credential::Cookie {
            let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
            if !crate::same_secret(sent, &session.csrf_token) {
                tracing::warn!("state-changing request without a valid CSRF token");
                return Err(forbidden("csrf", "the X-CSRF-Token header is missing or wrong"));
            }
        }
        if let Err(retry_after) = auth.writes.check(&session.key) {
            return Err(RateLimiter::too_many(retry_after));
        }
        if let Some(limit) = wiring.address_writes()
            && let Err(retry_after) = limit.limiter.check(&limit.rule.client_address(&parts.headers))
        {
            return Err(RateLimiter::too_many(retry_after));
        }
    }
    if session.loa < minimum {
        return Err(forbidden(
            "level-of-assurance",
            &format!("this needs a login with level of assurance '{}' or higher", minimum.as_str()),
        ));
    }
    Ok(Citizen { subject: session.subject.clone(), loa: session.loa, credential, session })
}

impl<S: Send + Sync> FromRequestParts<S> for Citizen {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let citizen = authenticate(parts, Loa::Substantial).await?;
        // A route that acts for another person takes `ActingFor` instead.
        match crate::delegation::refuse_acting_for(parts) {
            Some(refusal) => Err(refusal),
            None => Ok(citizen),
        }
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::sessions::Session;

    fn citizen(created_at: time::OffsetDateTime, auth_time: Option<time::OffsetDateTime>) -> Citizen {
        let session: Session = serde_json::from_value(serde_json::json!({
            "subject": "DEMO%2Fjana", "loa": "substantial", "provider": "nia", "csrfToken": "t",
            "createdAt": "2026-03-01T08:00:00Z", "lastSeen": "2026-03-01T08:00:00Z",
            "expiresAt": "2026-03-01T16:00:00Z",
        }))
        .map(|session: Session| Session { created_at, auth_time, ..session })
        .expect("a stored session");
        Citizen { subject: session.subject.clone(), loa: session.loa, credential: Credential::Cookie, session }
    }

    #[test]
    fn a_login_older_than_ten_minutes_needs_reauthentication() {
        let at = datetime!(2026-03-01 08:00 UTC);
        let fresh = citizen(at, Some(at));
        assert!(fresh.require_recent_login(at + time::Duration::minutes(10)).is_ok());
        let problem = fresh.require_recent_login(at + time::Duration::minutes(11)).expect_err("too old");
        assert_eq!((problem.status, problem.kind.as_str()), (401, "/problems/reauthentication-required"));
        // The provider's auth_time counts, not when the session started.
        let reused = citizen(at + time::Duration::minutes(30), Some(at));
        assert!(reused.require_recent_login(at + time::Duration::minutes(31)).is_err());
        // A session stored before auth_time was recorded counts from its start.
        let legacy = citizen(at, None);
        assert!(legacy.require_recent_login(at + time::Duration::minutes(5)).is_ok());
        assert!(legacy.require_recent_login(at + time::Duration::minutes(15)).is_err());
    }
}
