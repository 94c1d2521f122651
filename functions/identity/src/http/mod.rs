use std::sync::Arc;

use axum::Form;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portal_crypto::{KEYS_COLLECTION, TOMBSTONE_ID};
use portal_events::{ERASURE_QUEUES, Event, kinds};
use portal_host::{AuthLevel, FieldViolation, Function, InvocationError, Outcome, Problem};
use portal_security::{
    AccessEntry, AccessFilter, AccessOutcome, Action, Actor, Citizen, Loa, RateLimiter, SESSION_COOKIE, SubjectId,
};
use portal_store::{NewDocument, StoreError};
use serde::Deserialize;
use serde_json::json;
use time::OffsetDateTime;

use crate::oidc::OidcError;
use crate::profile::{self, Profile};
use crate::{Identity, LoginProvider, demo};

type Shared = Arc<Identity>;

/// Pending logins: state → nonce, PKCE verifier and where to return.
const LOGINS: &str = "logins";
const LOGIN_TTL: std::time::Duration = std::time::Duration::from_secs(10 * 60);

pub fn functions(identity: Shared) -> Vec<Function> {
    let s = identity;
    vec![
        Function::http("Login", "auth/login", AuthLevel::Anonymous).get(login).with_state(s.clone()).build(),
        Function::http("LoginCallback", "auth/callback", AuthLevel::Anonymous)
            .get(callback)
            .with_state(s.clone())
            .build(),
        Function::http("Logout", "auth/logout", AuthLevel::Anonymous).post(logout).with_state(s.clone()).build(),
        Function::http("CurrentSession", "auth/session", AuthLevel::Anonymous).get(session).build(),
        Function::http("BearerToken", "auth/token", AuthLevel::Anonymous)
            .post(bearer_token)
            .with_state(s.clone())
            .build(),
        Function::http("DevLoginPage", "auth/dev", AuthLevel::Anonymous).get(dev_page).with_state(s.clone()).build(),
        Function::http("DevLogin", "auth/dev/login", AuthLevel::Anonymous)
            .post(dev_login)
            .with_state(s.clone())
            .build(),
        Function::http("Me", "me", AuthLevel::Anonymous).get(me).with_state(s.clone()).build(),
        Function::http("EraseMe", "me", AuthLevel::Anonymous).delete(erase_me).with_state(s.clone()).build(),
        Function::http("ExportMe", "me/export", AuthLevel::Anonymous).get(export_me).with_state(s.clone()).build(),
        Function::http("MyAccessLog", "me/access-log", AuthLevel::Anonymous)
            .get(access_log)
            .with_state(s.clone())
            .build(),
        Function::timer("RewrapDataKeys", REWRAP_SCHEDULE, move |_| {
            let identity = s.clone();
            async move { rewrap_data_keys(&identity).await }
        }),
    ]
}

/// Daily at 03:15 UTC: after a key-encryption key rotation, every citizen's
/// data key is rewrapped under the newest version (no data is re-encrypted).
pub const REWRAP_SCHEDULE: &str = "0 15 3 * * *";

/// One run of `RewrapDataKeys`; idempotent (a second run rewraps nothing).
pub async fn rewrap_data_keys(identity: &Identity) -> Result<Outcome, InvocationError> {
    let report = identity.sealer.keys().rewrap_all().await.map_err(|error| {
        if error.is_retryable() { InvocationError::retryable(error) } else { InvocationError::permanent(error) }
    })?;
    tracing::info!(report.rewrapped, report.already_current, report.missing, report.failed, "data keys rewrapped");
    Ok(Outcome::done().returning(json!({
        "rewrapped": report.rewrapped,
        "alreadyCurrent": report.already_current,
        "missing": report.missing,
        "failed": report.failed,
    })))
}

fn random() -> String {
    use aws_lc_rs::rand::SecureRandom as _;
    let mut bytes = [0_u8; 32];
    if aws_lc_rs::rand::SystemRandom::new().fill(&mut bytes).is_err() {
        panic!("the system random number generator failed");
    }
    URL_SAFE_NO_PAD.encode(bytes)
}

fn sha256_b64(text: &str) -> String {
    URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes()).as_ref())
}

/// Only paths of this site: no scheme, no `//host`, no backslashes.
fn safe_return_to(value: Option<&str>) -> String {
    match value {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') && path.len() <= 512 => {
            path.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// The client's address as the front door reports it, for rate limits.
fn client_address(headers: &HeaderMap) -> String {
    headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|| "direct".to_owned())
}

fn session_cookie(secret: &str, max_age: std::time::Duration) -> HeaderValue {
    let value =
        format!("{SESSION_COOKIE}={secret}; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age={}", max_age.as_secs());
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn clear_cookie() -> HeaderValue {
    HeaderValue::from_static("__Host-portal_session=; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=0")
}

fn store_problem(error: &(dyn std::error::Error + 'static)) -> Response {
    tracing::error!(error = %portal_host::runtime::error_chain(error), "store failure");
    Problem::unavailable("storage").into_response()
}

fn login_refused(status: StatusCode, detail: String) -> Response {
    Problem::new(status, "login-refused", "The login was refused").with_detail(detail).into_response()
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LoginQuery {
    return_to: Option<String>,
}

async fn login(State(id): State<Shared>, headers: HeaderMap, Query(query): Query<LoginQuery>) -> Response {
    if let Err(wait) = id.logins.check(&client_address(&headers)) {
        return RateLimiter::too_many(wait);
    }
    let return_to = safe_return_to(query.return_to.as_deref());
    let provider = match &id.provider {
        LoginProvider::Development => {
            let target = format!(
                "/api/auth/dev?returnTo={}",
                url::form_urlencoded::byte_serialize(return_to.as_bytes()).collect::<String>()
            );
            return Redirect::to(&target).into_response();
        }
        LoginProvider::Oidc(provider) => provider,
    };
    let metadata = match provider.metadata().await {
        Ok(metadata) => metadata,
        Err(error) => return oidc_problem(&error),
    };
    let (state, nonce) = (random(), random());
    let verifier = metadata.supports_pkce().then(random);
    let challenge = verifier.as_deref().map(sha256_b64);
    let body = json!({"nonce": nonce, "verifier": verifier, "returnTo": return_to});
    let attempt = NewDocument::new(sha256_b64(&state), "attempt", body).with_ttl(LOGIN_TTL);
    if let Err(error) = id.documents.create(LOGINS, attempt).await {
        return store_problem(&error);
    }
    match provider.authorization_url(&state, &nonce, challenge.as_deref()).await {
        Ok(url) => Redirect::to(&url).into_response(),
        Err(error) => oidc_problem(&error),
    }
}

fn oidc_problem(error: &OidcError) -> Response {
    match error {
        OidcError::Unreachable(_) => {
            tracing::error!(error = %portal_host::runtime::error_chain(error), "the identity provider is unreachable");
            Problem::unavailable("identity provider").into_response()
        }
        OidcError::LoaTooLow(_) => {
            tracing::warn!(reason = %error, "login refused");
            login_refused(StatusCode::FORBIDDEN, error.to_string())
        }
        _ => {
            tracing::warn!(reason = %error, "login refused");
            login_refused(StatusCode::UNAUTHORIZED, error.to_string())
        }
    }
}

#[derive(Debug, Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

async fn callback(State(id): State<Shared>, headers: HeaderMap, Query(query): Query<CallbackQuery>) -> Response {
    if let Err(wait) = id.logins.check(&client_address(&headers)) {
        return RateLimiter::too_many(wait);
    }
    let LoginProvider::Oidc(provider) = &id.provider else {
        return Problem::not_found("this portal logs in through the development provider").into_response();
    };
    if let Some(error) = query.error {
        tracing::warn!(%error, "the identity provider returned an error");
        return login_refused(StatusCode::UNAUTHORIZED, "the identity provider did not complete the login".into());
    }
    let (Some(code), Some(state)) = (query.code, query.state) else {
        return Problem::validation(vec![
            FieldViolation::new("code", "required"),
            FieldViolation::new("state", "required"),
        ])
        .into_response();
    };
    // The attempt is single use: read it, then delete it with its ETag.
    let key = sha256_b64(&state);
    let attempt = match id.documents.get(LOGINS, &key, "attempt").await {
        Ok(Some(attempt)) => attempt,
        Ok(None) => return login_refused(StatusCode::BAD_REQUEST, "unknown or expired state".into()),
        Err(error) => return store_problem(&error),
    };
    match id.documents.delete(LOGINS, &key, "attempt", Some(&attempt.etag)).await {
        Ok(()) => {}
        Err(StoreError::NotFound | StoreError::PreconditionFailed) => {
            return login_refused(StatusCode::BAD_REQUEST, "this login was already completed".into());
        }
        Err(error) => return store_problem(&error),
    }
    let nonce = attempt.body["nonce"].as_str().unwrap_or_default().to_owned();
    let verifier = attempt.body["verifier"].as_str().map(str::to_owned);
    let return_to = safe_return_to(attempt.body["returnTo"].as_str());
    let id_token = match provider.exchange(&code, verifier.as_deref()).await {
        Ok(token) => token,
        Err(error) => return oidc_problem(&error),
    };
    let login = match provider.verify(&id_token, &nonce).await {
        Ok(login) => login,
        Err(error) => return oidc_problem(&error),
    };
    start_session(&id, login.subject, login.loa, "nia", &login.claims, &return_to).await
}

/// The same session, whichever provider vouched for the citizen.
async fn start_session(
    id: &Identity,
    subject: SubjectId,
    loa: Loa,
    provider: &str,
    claims: &Profile,
    return_to: &str,
) -> Response {
    if let Err(error) = profile::save(id.documents.as_ref(), &id.sealer, &subject, claims).await {
        return store_problem(&error);
    }
    let new = match id.sessions.create(subject.clone(), loa, provider).await {
        Ok(new) => new,
        Err(error) => return store_problem(&error),
    };
    let entry =
        AccessEntry::new(Actor::Citizen, Action::Login, "session", "login", &format!("login through {provider}"));
    if let Err(error) = id.access_log.record(&subject, entry).await {
        return store_problem(&error);
    }
    tracing::info!(provider, loa = loa.as_str(), "login succeeded");
    announce_sign_in(id, &subject).await;
    let mut response = Redirect::to(return_to).into_response();
    response.headers_mut().append(header::SET_COOKIE, session_cookie(&new.secret, id.sessions.times().absolute));
    response
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

async fn logout(State(id): State<Shared>, citizen: Citizen) -> Response {
    if let Err(error) = id.sessions.revoke(&citizen.session).await {
        return store_problem(&error);
    }
    let entry = AccessEntry::new(Actor::Citizen, Action::Logout, "session", "logout", "logout");
    if let Err(error) = id.access_log.record(&citizen.subject, entry).await {
        return store_problem(&error);
    }
    let end_session = match &id.provider {
        LoginProvider::Oidc(provider) if citizen.session.provider == "nia" => provider.end_session_url().await,
        _ => None,
    };
    let mut response = Json(json!({"loggedOut": true, "endSessionUrl": end_session})).into_response();
    response.headers_mut().append(header::SET_COOKIE, clear_cookie());
    response
}

async fn session(citizen: Citizen) -> Json<serde_json::Value> {
    Json(json!({
        "loa": citizen.loa,
        "provider": citizen.session.provider,
        "csrfToken": citizen.session.csrf_token,
        "expiresAt": citizen.session.expires_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
    }))
}

async fn bearer_token(State(id): State<Shared>, citizen: Citizen) -> Response {
    match id.sessions.issue_bearer(&citizen.session).await {
        Ok(token) => (StatusCode::CREATED, Json(token)).into_response(),
        Err(error) => store_problem(&error),
    }
}

async fn dev_page(State(id): State<Shared>, Query(query): Query<LoginQuery>) -> Response {
    if !matches!(id.provider, LoginProvider::Development) {
        return Problem::not_found("the development identity provider is off").into_response();
    }
    let return_to = safe_return_to(query.return_to.as_deref());
    let mut rows = String::new();
    for citizen in demo::DEMO_CITIZENS {
        let mut buttons = String::new();
        for loa in [Loa::Low, Loa::Substantial, Loa::High] {
            buttons.push_str(&format!(r#"<button name="loa" value="{loa}">{loa}</button> "#, loa = loa.as_str()));
        }
        rows.push_str(&format!(
            r#"<li><form method="post" action="/api/auth/dev/login"><input type="hidden" name="citizen" value="{login}"><input type="hidden" name="returnTo" value="{ret}"><strong>{given} {family}</strong> ({about}) {buttons}</form></li>"#,
            login = citizen.login,
            ret = html_escape(&return_to),
            given = citizen.given_name,
            family = citizen.family_name,
            about = citizen.about,
        ));
    }
    Html(format!(
        r#"<!doctype html><html lang="cs"><meta charset="utf-8"><title>Vývojové přihlášení (SIMULATOR)</title>
<h1>Development identity provider: SIMULATOR, not NIA</h1>
<p>Local mode only. Choose a demo citizen and the level of assurance of the login. Low is refused, as by the real portal.</p>
<ul>{rows}</ul></html>"#
    ))
    .into_response()
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DevLoginForm {
    citizen: String,
    loa: String,
    return_to: Option<String>,
}

async fn dev_login(State(id): State<Shared>, headers: HeaderMap, Form(form): Form<DevLoginForm>) -> Response {
    if !matches!(id.provider, LoginProvider::Development) {
        return Problem::not_found("the development identity provider is off").into_response();
    }
    if let Err(wait) = id.logins.check(&client_address(&headers)) {
        return RateLimiter::too_many(wait);
    }
    let Some(citizen) = demo::find(&form.citizen) else {
        return Problem::validation(vec![FieldViolation::new("citizen", "must be one of the demo citizens")])
            .into_response();
    };
    let Some(loa) = Loa::from_acr(&form.loa) else {
        return Problem::validation(vec![FieldViolation::new("loa", "must be low, substantial or high")])
            .into_response();
    };
    if loa < Loa::Substantial {
        return login_refused(StatusCode::FORBIDDEN, "the level of assurance 'low' is below substantial".into());
    }
    let Ok(subject) = SubjectId::from_person_identifier(citizen.person_identifier) else {
        return Problem::internal().into_response();
    };
    start_session(&id, subject, loa, "development", &citizen.profile(), &safe_return_to(form.return_to.as_deref()))
        .await
}

async fn me(State(id): State<Shared>, citizen: Citizen) -> Response {
    let profile = profile::load(id.documents.as_ref(), &id.sealer, &citizen.subject).await;
    let entry = AccessEntry::new(Actor::Citizen, Action::Read, "profile", "profile", "show my data (GET /api/me)");
    let entry = if profile.is_ok() { entry } else { entry.with_outcome(AccessOutcome::Failed) };
    if let Err(error) = id.access_log.record(&citizen.subject, entry).await {
        return store_problem(&error);
    }
    match profile {
        Ok(profile) => Json(json!({
            "subject": citizen.subject.as_str(),
            "loa": citizen.loa,
            "profile": profile.unwrap_or_default(),
        }))
        .into_response(),
        Err(error) => store_problem(&error),
    }
}

async fn export_me(State(id): State<Shared>, citizen: Citizen) -> Response {
    let profile = match profile::load(id.documents.as_ref(), &id.sealer, &citizen.subject).await {
        Ok(profile) => profile,
        Err(error) => return store_problem(&error),
    };
    let mut log = Vec::new();
    let mut continuation = None;
    loop {
        match id.access_log.list(&citizen.subject, &AccessFilter::default(), 500, continuation.take()).await {
            Ok(page) => {
                log.extend(page.items);
                match page.continuation {
                    Some(next) => continuation = Some(next),
                    None => break,
                }
            }
            Err(error) => return store_problem(&error),
        }
    }
    let entry =
        AccessEntry::new(Actor::Citizen, Action::Export, "profile", "export", "export of everything held about me");
    if let Err(error) = id.access_log.record(&citizen.subject, entry).await {
        return store_problem(&error);
    }
    let exported_at =
        OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
    let mut response = Json(json!({
        "exportedAt": exported_at,
        "subject": citizen.subject.as_str(),
        "profile": profile,
        "accessLog": log,
    }))
    .into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"my-data.json\""));
    response
}

#[derive(Debug, Deserialize)]
struct EraseBody {
    confirm: Option<String>,
}

/// Erasure: the citizen's data key is destroyed (crypto-shredding), so none of
/// their sealed records or blobs open again on any store; the profile record
/// and the session go too. The access log keeps the entry of the erasure.
async fn erase_me(State(id): State<Shared>, citizen: Citizen, body: Option<Json<EraseBody>>) -> Response {
    if body.and_then(|Json(b)| b.confirm).as_deref() != Some("DELETE MY DATA") {
        return Problem::validation(vec![FieldViolation::new("confirm", "must be the text 'DELETE MY DATA'")])
            .into_response();
    }
    if let Err(error) = id.sealer.keys().shred(citizen.subject.as_str()).await {
        return store_problem(&error);
    }
    if let Err(error) = profile::delete(id.documents.as_ref(), &citizen.subject).await {
        return store_problem(&error);
    }
    let entry = AccessEntry::new(Actor::Citizen, Action::Delete, "citizen", "all", "erasure at the citizen's request");
    if let Err(error) = id.access_log.record(&citizen.subject, entry).await {
        return store_problem(&error);
    }
    // The other capabilities delete their plain metadata on these events. A
    // failure answers 503: the shred has happened, and a retry (the session
    // is still valid) shreds again harmlessly and republishes the same event.
    if let Err(error) = publish_erasure(&id, &citizen.subject).await {
        tracing::error!(error = %portal_host::runtime::error_chain(&error), "erasure events not published");
        return Problem::new(StatusCode::SERVICE_UNAVAILABLE, "erasure-incomplete", "Erasure started")
            .with_detail("erasure started; try again")
            .into_response();
    }
    if let Err(error) = id.sessions.revoke(&citizen.session).await {
        return store_problem(&error);
    }
    tracing::info!("citizen data erased by crypto-shredding");
    let mut response = Json(json!({"erased": true})).into_response();
    response.headers_mut().append(header::SET_COOKIE, clear_cookie());
    response
}

/// Publishes `account.erased` to every capability's erasure queue. The id
/// names the moment of the shred, read from the key tombstone (which a repeated
/// shred leaves as it is), so a retried erasure publishes the very same event
/// and consumers see one erasure.
async fn publish_erasure(id: &Identity, subject: &SubjectId) -> Result<(), StoreError> {
    let tombstone = id.documents.get(KEYS_COLLECTION, subject.as_str(), TOMBSTONE_ID).await?;
    let erased_at = tombstone
        .and_then(|doc| doc.body.get("shredded").and_then(|v| v.as_str()).map(str::to_owned))
        .and_then(|text| OffsetDateTime::parse(&text, &time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| id.clock.now());
    let key = format!("{}:{}", subject.as_str(), erased_at.unix_timestamp());
    let event = Event::new(kinds::ERASED, &key, subject.as_str(), erased_at, json!({}));
    for queue in ERASURE_QUEUES {
        portal_events::publish(id.queues.as_ref(), queue, &event).await?;
    }
    Ok(())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AccessLogQuery {
    resource_type: Option<String>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    from: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    to: Option<OffsetDateTime>,
    #[serde(default)]
    newest_first: bool,
    page_size: Option<u32>,
    continuation: Option<String>,
}

async fn access_log(
    State(id): State<Shared>,
    citizen: Citizen,
    query: Result<Query<AccessLogQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(query)) = query else {
        return Problem::validation(vec![FieldViolation::new(
            "query",
            "from/to must be RFC 3339 times; pageSize a number",
        )])
        .into_response();
    };
    let page_size = query.page_size.unwrap_or(50);
    if !(1..=200).contains(&page_size) {
        return Problem::validation(vec![FieldViolation::new("pageSize", "must be 1-200")]).into_response();
    }
    let filter = AccessFilter {
        resource_type: query.resource_type,
        from: query.from,
        to: query.to,
        newest_first: query.newest_first,
    };
    match id.access_log.list(&citizen.subject, &filter, page_size, query.continuation).await {
        Ok(page) => Json(page).into_response(),
        Err(StoreError::Invalid(_)) => {
            Problem::validation(vec![FieldViolation::new("continuation", "is not a token this API issued")])
                .into_response()
        }
        Err(error) => store_problem(&error),
    }
}
