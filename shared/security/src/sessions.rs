//! Sessions and bearer tokens. The secrets (cookie value, bearer token) are
//! random, handed to the client once, and stored only as their SHA-256, so a
//! copy of the store cannot be replayed as a login.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use portal_store::{Clock, DocumentStore, ETag, NewDocument, Query, StoreError};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::subject::{Loa, SubjectId};
use crate::{digest_hex, random_secret};

pub const COLLECTION: &str = "sessions";
const SESSION_ID: &str = "session";
const TOKEN_ID: &str = "token";

/// How long sessions live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTimes {
    /// Ends a session nobody used for this long.
    pub idle: Duration,
    /// Ends every session this long after login.
    pub absolute: Duration,
    /// Lifetime of a bearer token for the mobile apps.
    pub bearer: Duration,
    /// `last_seen` is written back at most this often (not on every request).
    pub touch_every: Duration,
    /// How long this instance answers from its own memory before it reads a
    /// session from the store again: the longest a revoke or an erasure made
    /// on another instance can go unseen here (on this instance it is at once).
    pub cache_for: Duration,
}

impl Default for SessionTimes {
    fn default() -> Self {
        Self {
            idle: Duration::from_secs(15 * 60),
            absolute: Duration::from_secs(8 * 3600),
            bearer: Duration::from_secs(10 * 60),
            touch_every: Duration::from_secs(60),
            cache_for: Duration::from_secs(5),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl portal_host::Failure for SessionError {
    fn is_retryable(&self) -> bool {
        match self {
            Self::Store(error) => error.is_retryable(),
        }
    }

    fn problem(&self) -> portal_host::Problem {
        portal_host::Problem::unavailable("sessions")
    }
}

/// A stored session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub subject: SubjectId,
    pub loa: Loa,
    /// `nia` or `development`.
    pub provider: String,
    /// Sent back by the client in `X-CSRF-Token` on state-changing requests.
    pub csrf_token: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When the citizen last proved who they are at the identity provider
    /// (the ID token's `auth_time`); absent in sessions started before it was
    /// recorded, which count from `created_at`.
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub last_seen: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// The partition of this session's record (SHA-256 of its secret).
    #[serde(skip)]
    pub key: String,
}

impl Session {
    /// When the citizen last authenticated at the identity provider.
    pub fn authenticated_at(&self) -> OffsetDateTime {
        self.auth_time.unwrap_or(self.created_at)
    }
}

/// What a login produced: the secret for the cookie and the stored session.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub secret: String,
    pub session: Session,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BearerToken {
    pub token: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenRecord {
    session_key: String,
    #[serde(with = "time::serde::rfc3339")]
    expires_at: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct Sessions {
    documents: Arc<dyn DocumentStore>,
    clock: Arc<dyn Clock>,
    times: SessionTimes,
    cache: Arc<SessionCache>,
}

/// Sessions this instance read from the store in the last
/// [`SessionTimes::cache_for`], by partition: a page of an authenticated
/// citizen costs no store read for its session. Revoke and erasure remove
/// the entries here at once; another instance's entries age out.
#[derive(Debug, Default)]
struct SessionCache {
    entries: RwLock<HashMap<String, Cached>>,
    /// Moves on at every forget: a request that began reading before a
    /// revoke cannot put back what the revoke removed.
    generation: AtomicU64,
}

#[derive(Debug, Clone)]
struct Cached {
    session: Session,
    etag: ETag,
    read_at: OffsetDateTime,
}

/// Past this many entries the cache drops what has aged out (and, if that is
/// not enough, everything): memory stays bounded whatever the traffic.
const CACHE_CAPACITY: usize = 50_000;

impl SessionCache {
    fn fresh(&self, key: &str, now: OffsetDateTime, cache_for: Duration) -> Option<Cached> {
        let entries = self.entries.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        entries.get(key).filter(|cached| now - cached.read_at < cache_for).cloned()
    }

    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Keeps `cached` unless something was forgotten since `generation` was read.
    fn put(&self, key: &str, cached: Cached, generation: u64, cache_for: Duration) {
        let mut entries = self.entries.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if entries.len() >= CACHE_CAPACITY && !entries.contains_key(key) {
            let now = cached.read_at;
            entries.retain(|_, entry| now - entry.read_at < cache_for);
            if entries.len() >= CACHE_CAPACITY {
                entries.clear();
            }
        }
        entries.insert(key.to_owned(), cached);
    }

    /// Drops an entry that turned out to be dead or stale (not a revoke).
    fn drop_entry(&self, key: &str) {
        self.entries.write().unwrap_or_else(std::sync::PoisonError::into_inner).remove(key);
    }

    /// Removes a revoked session, and any copy a request is about to put back.
    fn forget(&self, key: &str) {
        let mut entries = self.entries.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.remove(key);
    }

    fn forget_subject(&self, subject: &SubjectId) {
        let mut entries = self.entries.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.retain(|_, entry| &entry.session.subject != subject);
    }
}

fn session_partition(secret: &str) -> String {
    format!("s-{}", digest_hex(secret))
}

/// The partition that lists a subject's sessions (one document per session,
/// id = the session's partition), so erasure ends them all with one
/// partition read.
fn subject_partition(subject: &SubjectId) -> String {
    format!("u-{}", digest_hex(subject.as_str()))
}

fn token_partition(token: &str) -> String {
    format!("t-{}", digest_hex(token))
}

fn ttl_until(now: OffsetDateTime, end: OffsetDateTime) -> Duration {
    Duration::try_from(end - now).unwrap_or(Duration::ZERO).max(Duration::from_secs(1))
}

impl Sessions {
    pub fn new(documents: Arc<dyn DocumentStore>, clock: Arc<dyn Clock>, times: SessionTimes) -> Self {
        Self { documents, clock, times, cache: Arc::default() }
    }

    pub fn times(&self) -> SessionTimes {
        self.times
    }

    /// Starts a session after a successful login that authenticated now.
    pub async fn create(&self, subject: SubjectId, loa: Loa, provider: &str) -> Result<NewSession, SessionError> {
        self.create_authenticated(subject, loa, provider, None).await
    }

    /// Starts a session after a login whose authentication happened at
    /// `auth_time` (the provider's `auth_time`; `None`: now, and never later
    /// than now).
    pub async fn create_authenticated(
        &self,
        subject: SubjectId,
        loa: Loa,
        provider: &str,
        auth_time: Option<OffsetDateTime>,
    ) -> Result<NewSession, SessionError> {
        let now = self.clock.now();
        let auth_time = auth_time.map_or(now, |at| at.min(now));
        let secret = random_secret();
        let key = session_partition(&secret);
        let session = Session {
            subject,
            loa,
            provider: provider.to_owned(),
            csrf_token: random_secret(),
            created_at: now,
            auth_time: Some(auth_time),
            last_seen: now,
            expires_at: now + self.times.absolute,
            key: key.clone(),
        };
        let body = serde_json::to_value(&session).map_err(|e| StoreError::Invalid(e.to_string()))?;
        // The index entry first: a session never exists that erasure cannot find.
        let entry = NewDocument::new(subject_partition(&session.subject), key.clone(), serde_json::json!({}))
            .with_ttl(self.times.absolute);
        self.documents.upsert(COLLECTION, entry, None).await?;
        let doc = NewDocument::new(key, SESSION_ID, body).with_ttl(self.times.idle);
        self.documents.create(COLLECTION, doc).await?;
        Ok(NewSession { secret, session })
    }

    async fn load(&self, key: &str) -> Result<Option<(Session, ETag)>, SessionError> {
        let Some(doc) = self.documents.get(COLLECTION, key, SESSION_ID).await? else { return Ok(None) };
        let Ok(mut session) = serde_json::from_value::<Session>(doc.body) else {
            tracing::warn!("an unreadable session record was ignored");
            return Ok(None);
        };
        session.key = key.to_owned();
        Ok(Some((session, doc.etag)))
    }

    /// The live session for a cookie secret, touched if it has been idle for
    /// a while; `None` if it is unknown, idle too long or past its absolute end.
    pub async fn resolve(&self, secret: &str) -> Result<Option<Session>, SessionError> {
        self.resolve_key(&session_partition(secret)).await
    }

    async fn resolve_key(&self, key: &str) -> Result<Option<Session>, SessionError> {
        let generation = self.cache.generation();
        let now = self.clock.now();
        let (mut session, etag) = match self.cache.fresh(key, now, self.times.cache_for) {
            Some(cached) => (cached.session, cached.etag),
            None => {
                let Some((session, etag)) = self.load(key).await? else {
                    self.cache.drop_entry(key);
                    return Ok(None);
                };
                let cached = Cached { session: session.clone(), etag: etag.clone(), read_at: now };
                self.cache.put(key, cached, generation, self.times.cache_for);
                (session, etag)
            }
        };
        if now >= session.expires_at || now - session.last_seen >= self.times.idle {
            self.cache.drop_entry(key);
            return Ok(None);
        }
        if now - session.last_seen >= self.times.touch_every {
            session.last_seen = now;
            let ttl = self.times.idle.min(ttl_until(now, session.expires_at));
            let body = serde_json::to_value(&session).map_err(|e| StoreError::Invalid(e.to_string()))?;
            let doc = NewDocument::new(key, SESSION_ID, body).with_ttl(ttl);
            match self.documents.replace(COLLECTION, doc, &etag).await {
                Ok(etag) => {
                    let cached = Cached { session: session.clone(), etag, read_at: now };
                    self.cache.put(key, cached, generation, self.times.cache_for);
                }
                // Another request or instance touched it first: read it afresh next time.
                Err(StoreError::PreconditionFailed) => self.cache.drop_entry(key),
                // Revoked meanwhile, on this instance or another.
                Err(StoreError::NotFound) => {
                    self.cache.drop_entry(key);
                    return Ok(None);
                }
                Err(error) => return Err(error.into()),
            }
        }
        Ok(Some(session))
    }

    /// Ends a session; its bearer tokens die with it.
    pub async fn revoke(&self, session: &Session) -> Result<(), SessionError> {
        self.cache.forget(&session.key);
        let deleted = match self.documents.delete(COLLECTION, &session.key, SESSION_ID, None).await {
            Ok(()) | Err(StoreError::NotFound) => Ok(()),
            Err(error) => Err(error.into()),
        };
        self.cache.forget(&session.key);
        deleted
    }

    /// Ends every session of `subject` (and so every bearer token, which
    /// resolves through its session): erasure leaves no way in. One partition
    /// read of the subject's index, then a delete per session.
    pub async fn revoke_all(&self, subject: &SubjectId) -> Result<usize, SessionError> {
        self.cache.forget_subject(subject);
        let partition = subject_partition(subject);
        let mut keys = Vec::new();
        let mut continuation = None;
        loop {
            let page = self.documents.query(COLLECTION, &partition, Query::default().after(continuation)).await?;
            keys.extend(page.items.into_iter().map(|entry| entry.id));
            continuation = page.continuation;
            if continuation.is_none() {
                break;
            }
        }
        for key in &keys {
            for (p, id) in [(key.as_str(), SESSION_ID), (partition.as_str(), key.as_str())] {
                match self.documents.delete(COLLECTION, p, id, None).await {
                    Ok(()) | Err(StoreError::NotFound) => {}
                    Err(error) => return Err(error.into()),
                }
            }
        }
        // A request of this subject that read its session while the deletes ran
        // may have cached it: forget again now that the store holds none.
        self.cache.forget_subject(subject);
        let ended = keys.len();
        Ok(ended)
    }

    /// A short-lived bearer token for the mobile apps, bound to `session`.
    pub async fn issue_bearer(&self, session: &Session) -> Result<BearerToken, SessionError> {
        let now = self.clock.now();
        let token = random_secret();
        let expires_at = (now + self.times.bearer).min(session.expires_at);
        let record = TokenRecord { session_key: session.key.clone(), expires_at };
        let body = serde_json::to_value(&record).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let doc = NewDocument::new(token_partition(&token), TOKEN_ID, body).with_ttl(ttl_until(now, expires_at));
        self.documents.create(COLLECTION, doc).await?;
        Ok(BearerToken { token, expires_at })
    }

    /// The session behind a bearer token, if both are still alive.
    pub async fn resolve_bearer(&self, token: &str) -> Result<Option<Session>, SessionError> {
        let Some(doc) = self.documents.get(COLLECTION, &token_partition(token), TOKEN_ID).await? else {
            return Ok(None);
        };
        let Ok(record) = serde_json::from_value::<TokenRecord>(doc.body) else { return Ok(None) };
        if self.clock.now() >= record.expires_at {
            return Ok(None);
        }
        self.resolve_key(&record.session_key).await
    }
}

#[cfg(test)]
mod tests {
    use portal_store::ManualClock;
    use portal_store::embedded::EmbeddedStore;
    use time::macros::datetime;

    use super::*;

    fn sessions() -> (Sessions, Arc<ManualClock>, Arc<EmbeddedStore>) {
        let clock = Arc::new(ManualClock::new(datetime!(2026-11-23 08:00 UTC)));
        let store = Arc::new(EmbeddedStore::in_memory(clock.clone()).expect("store"));
        (Sessions::new(store.clone(), clock.clone(), SessionTimes::default()), clock, store)
    }

    fn jana() -> SubjectId {
        SubjectId::parse("jana-pseudonym").expect("valid")
    }

    #[tokio::test]
    async fn a_session_resolves_by_its_secret_only() {
        let (sessions, _, store) = sessions();
        let new = sessions.create(jana(), Loa::Substantial, "nia").await.expect("create");
        let found = sessions.resolve(&new.secret).await.expect("resolve").expect("live");
        assert_eq!((found.subject, found.loa), (jana(), Loa::Substantial));
        assert!(sessions.resolve("guessed").await.expect("resolve").is_none());
        let stored = portal_store::DocumentStore::get(store.as_ref(), COLLECTION, &new.session.key, SESSION_ID)
            .await
            .expect("get")
            .expect("stored");
        assert!(!stored.body.to_string().contains(&new.secret), "the secret itself is never stored");
        assert!(!new.session.key.contains(&new.secret));
    }

    #[tokio::test]
    async fn idle_sessions_end_after_15_minutes_and_activity_keeps_them() {
        let (sessions, clock, _) = sessions();
        let new = sessions.create(jana(), Loa::High, "nia").await.expect("create");
        for _ in 0..6 {
            clock.advance(Duration::from_secs(10 * 60));
            assert!(sessions.resolve(&new.secret).await.expect("resolve").is_some(), "used every 10 minutes");
        }
        clock.advance(Duration::from_secs(15 * 60));
        assert!(sessions.resolve(&new.secret).await.expect("resolve").is_none(), "idle for 15 minutes");
    }

    #[tokio::test]
    async fn every_session_ends_after_8_hours() {
        let (sessions, clock, _) = sessions();
        let new = sessions.create(jana(), Loa::High, "nia").await.expect("create");
        for _ in 0..47 {
            clock.advance(Duration::from_secs(10 * 60));
            assert!(sessions.resolve(&new.secret).await.expect("resolve").is_some());
        }
        clock.advance(Duration::from_secs(10 * 60));
        assert!(sessions.resolve(&new.secret).await.expect("resolve").is_none(), "8 hours after login");
    }

    #[tokio::test]
    async fn revoking_a_subject_ends_all_their_sessions_and_bearer_tokens_only() {
        let (sessions, _, _) = sessions();
        let first = sessions.create(jana(), Loa::Substantial, "nia").await.expect("create");
        let second = sessions.create(jana(), Loa::High, "development").await.expect("create");
        let bearer = sessions.issue_bearer(&second.session).await.expect("token");
        let jiri = sessions.create(SubjectId::parse("jiri").expect("valid"), Loa::High, "nia").await.expect("create");
        assert_eq!(sessions.revoke_all(&jana()).await.expect("revoke"), 2);
        for secret in [&first.secret, &second.secret] {
            assert!(sessions.resolve(secret).await.expect("resolve").is_none(), "session ended");
        }
        assert!(sessions.resolve_bearer(&bearer.token).await.expect("resolve").is_none(), "token ended");
        assert!(sessions.resolve(&jiri.secret).await.expect("resolve").is_some(), "another citizen stays in");
        assert_eq!(sessions.revoke_all(&jana()).await.expect("again"), 0, "idempotent");
    }

    #[tokio::test]
    async fn bearer_tokens_expire_and_die_with_their_session() {
        let (sessions, clock, _) = sessions();
        let new = sessions.create(jana(), Loa::Substantial, "nia").await.expect("create");
        let bearer = sessions.issue_bearer(&new.session).await.expect("token");
        assert!(sessions.resolve_bearer(&bearer.token).await.expect("resolve").is_some());
        clock.advance(Duration::from_secs(11 * 60));
        assert!(sessions.resolve_bearer(&bearer.token).await.expect("resolve").is_none(), "expired");

        let live = sessions.resolve(&new.secret).await.expect("resolve");
        assert!(live.is_some(), "the session outlives its token");
        let bearer = sessions.issue_bearer(&new.session).await.expect("token");
        sessions.revoke(&new.session).await.expect("logout");
        assert!(sessions.resolve_bearer(&bearer.token).await.expect("resolve").is_none(), "revoked with the session");
    }

    #[tokio::test]
    async fn a_revoke_is_seen_at_once_here_and_within_the_cache_time_on_another_instance() {
        let (here, clock, store) = sessions();
        let there = Sessions::new(store.clone(), clock.clone(), SessionTimes::default());
        let new = here.create(jana(), Loa::Substantial, "nia").await.expect("create");
        let bearer = here.issue_bearer(&new.session).await.expect("token");
        for sessions in [&here, &there] {
            assert!(sessions.resolve(&new.secret).await.expect("resolve").is_some(), "read and cached");
        }
        here.revoke_all(&jana()).await.expect("erase");
        assert!(here.resolve(&new.secret).await.expect("resolve").is_none(), "this instance forgot it at once");
        assert!(here.resolve_bearer(&bearer.token).await.expect("resolve").is_none());
        assert!(
            there.resolve(&new.secret).await.expect("resolve").is_some(),
            "the other instance answers from memory for up to cache_for (no store read)"
        );
        clock.advance(SessionTimes::default().cache_for);
        assert!(there.resolve(&new.secret).await.expect("resolve").is_none(), "and reads the store again after it");
        assert!(there.resolve_bearer(&bearer.token).await.expect("resolve").is_none());
    }

    #[tokio::test]
    async fn a_cached_session_still_ends_when_idle_and_its_touch_finds_a_revoke() {
        let (here, clock, store) = sessions();
        // Within the cache time but past `touch_every`: the touch's write finds no record.
        let long = SessionTimes { cache_for: Duration::from_secs(3600), ..SessionTimes::default() };
        let patient = Sessions::new(store.clone(), clock.clone(), long);
        let other = here.create(jana(), Loa::Substantial, "nia").await.expect("create");
        assert!(patient.resolve(&other.secret).await.expect("resolve").is_some());
        here.revoke(&other.session).await.expect("logout");
        clock.advance(long.touch_every);
        assert!(patient.resolve(&other.secret).await.expect("resolve").is_none(), "the touch saw the revoke");
        let third = patient.create(jana(), Loa::Substantial, "nia").await.expect("create");
        assert!(patient.resolve(&third.secret).await.expect("resolve").is_some());
        clock.advance(long.idle);
        assert!(patient.resolve(&third.secret).await.expect("resolve").is_none(), "idle ends it, cached or not");
    }
}
