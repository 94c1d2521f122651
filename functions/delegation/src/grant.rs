//! Authorisations (zmocnění) in the store: an invitation the principal makes,
//! the delegate's acceptance, revocation by either side, the first use and
//! the end. Every change is one conditional write of the grant's document
//! (its ETag), so two requests at once cannot both win; the per-subject
//! index entries and the end-day entry are written before the grant refers to
//! them, so nothing exists that erasure or the timer cannot find.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use portal_events::{Notice, publish_notice};
use portal_security::{Mandate, Scope, SubjectId};
use portal_store::{ETag, NewDocument, Query, StoreError};
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::{COLLECTION, DelegationError, Delegations};

const GRANT_ID: &str = "grant";
/// An invitation not accepted within this time lapses.
pub const INVITATION_DAYS: i64 = 7;

/// Who ended a grant early.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Side {
    Principal,
    Delegate,
}

/// The stored grant.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    pub principal: SubjectId,
    pub delegate: Option<SubjectId>,
    pub scopes: Vec<Scope>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// The end the principal chose (the end of that day in Prague).
    #[serde(with = "time::serde::rfc3339")]
    pub ends_at: OffsetDateTime,
    pub ends_on: String,
    /// SHA-256 of the invitation code, until it is accepted.
    pub invitation: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub invitation_expires_at: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub accepted_at: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
    #[serde(default)]
    pub revoked_by: Option<Side>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub first_used_at: Option<OffsetDateTime>,
    /// Whether the principal was told the grant ended.
    #[serde(default)]
    pub end_notified: bool,
    /// The principal's name, sealed under the principal's key.
    pub principal_name: String,
    /// The delegate's name, sealed under the delegate's key (after acceptance).
    #[serde(default)]
    pub delegate_name: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Stored {
    pub id: String,
    pub record: Record,
    pub etag: ETag,
}

/// The partition listing a subject's grants.
pub fn subject_partition(subject: &SubjectId) -> String {
    format!("u-{}", sha256_hex(subject.as_str()))
}

pub fn ends_partition(day: Date) -> String {
    format!("ends-{day}")
}

pub fn sha256_hex(text: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes());
    portal_store::lower_hex(digest.as_ref())
}

fn random(bytes: usize) -> String {
    use aws_lc_rs::rand::SecureRandom as _;
    let mut buffer = vec![0_u8; bytes];
    aws_lc_rs::rand::SystemRandom::new()
        .fill(&mut buffer)
        .unwrap_or_else(|_| panic!("the system random number generator failed"));
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buffer)
}

fn corrupt(error: serde_json::Error) -> DelegationError {
    DelegationError::Corrupt(error.to_string())
}

/// Whether `id` has the shape of a grant id (checked before any store read).
pub fn valid_id(id: &str) -> bool {
    id.len() <= 64
        && (id.starts_with("g-") || id.starts_with("r-"))
        && id[2..].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub async fn load(d: &Delegations, id: &str) -> Result<Option<Stored>, DelegationError> {
    if !id.starts_with("g-") || !valid_id(id) {
        return Ok(None);
    }
    let Some(doc) = d.documents.get(COLLECTION, id, GRANT_ID).await? else { return Ok(None) };
    let record = serde_json::from_value(doc.body).map_err(corrupt)?;
    Ok(Some(Stored { id: id.to_owned(), record, etag: doc.etag }))
}

async fn seal(
    d: &Delegations,
    owner: &SubjectId,
    grant: &str,
    field: &str,
    text: &str,
) -> Result<String, DelegationError> {
    Ok(B64.encode(d.sealer.encrypt(owner.as_str(), grant, field, text.as_bytes()).await?))
}

async fn open(
    d: &Delegations,
    owner: &SubjectId,
    grant: &str,
    field: &str,
    sealed: &str,
) -> Result<String, DelegationError> {
    let bytes = B64.decode(sealed).map_err(|e| DelegationError::Corrupt(e.to_string()))?;
    let plain = d.sealer.decrypt(owner.as_str(), grant, field, &bytes).await?;
    String::from_utf8(plain).map_err(|e| DelegationError::Corrupt(e.to_string()))
}

/// The principal's and the delegate's names (empty where a key is shredded).
pub async fn names(d: &Delegations, id: &str, record: &Record) -> Result<(String, String), DelegationError> {
    let readable = |result: Result<String, DelegationError>| match result {
        Ok(name) => Ok(name),
        Err(DelegationError::Crypto(error)) if !portal_host::Failure::is_retryable(&error) => Ok(String::new()),
        Err(error) => Err(error),
    };
    let principal = readable(open(d, &record.principal, id, "principalName", &record.principal_name).await)?;
    let delegate = match (&record.delegate, &record.delegate_name) {
        (Some(delegate), Some(sealed)) => readable(open(d, delegate, id, "delegateName", sealed).await)?,
        _ => String::new(),
    };
    Ok((principal, delegate))
}

/// A new invitation: the grant without a delegate, and its code (shown once).
pub async fn invite(
    d: &Delegations,
    principal: &SubjectId,
    scopes: Vec<Scope>,
    ends_on: Date,
) -> Result<(Stored, String), DelegationError> {
    let now = d.clock.now();
    let id = format!("g-{}", random(12));
    let code = random(18);
    let name = d.names.name(principal).await?.unwrap_or_default();
    let record = Record {
        principal: principal.clone(),
        delegate: None,
        scopes,
        created_at: now,
        ends_at: crate::end_of_day(ends_on),
        ends_on: ends_on.to_string(),
        invitation: Some(sha256_hex(&code)),
        invitation_expires_at: now + time::Duration::days(INVITATION_DAYS),
        accepted_at: None,
        revoked_at: None,
        revoked_by: None,
        first_used_at: None,
        end_notified: false,
        principal_name: seal(d, principal, &id, "principalName", &name).await?,
        delegate_name: None,
    };
    // The index and end-day entries first: no grant exists that they miss.
    index(d, principal, &id, Side::Principal).await?;
    let end = NewDocument::new(ends_partition(ends_on), id.clone(), serde_json::json!({"grant": id}));
    d.documents.upsert(COLLECTION, end, None).await?;
    let body = serde_json::to_value(&record).map_err(corrupt)?;
    let etag = d.documents.create(COLLECTION, NewDocument::new(id.clone(), GRANT_ID, body)).await?;
    Ok((Stored { id, record, etag }, code))
}

async fn index(d: &Delegations, subject: &SubjectId, id: &str, side: Side) -> Result<(), DelegationError> {
    let entry = NewDocument::new(subject_partition(subject), id, serde_json::json!({"side": side}));
    d.documents.upsert(COLLECTION, entry, None).await?;
    Ok(())
}

async fn replace(d: &Delegations, stored: &Stored, record: Record) -> Result<Stored, DelegationError> {
    let body = serde_json::to_value(&record).map_err(corrupt)?;
    match d.documents.replace(COLLECTION, NewDocument::new(stored.id.clone(), GRANT_ID, body), &stored.etag).await {
        Ok(etag) => Ok(Stored { id: stored.id.clone(), record, etag }),
        Err(StoreError::PreconditionFailed | StoreError::NotFound) => Err(DelegationError::Contended),
        Err(error) => Err(error.into()),
    }
}

/// Why an acceptance was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcceptRefusal {
    /// No such invitation, a wrong code, or lapsed: told apart to nobody.
    Invalid,
    /// The principal cannot accept their own invitation.
    Own,
}

pub async fn accept(
    d: &Delegations,
    id: &str,
    code: &str,
    delegate: &SubjectId,
) -> Result<Result<Stored, AcceptRefusal>, DelegationError> {
    let Some(stored) = load(d, id).await? else { return Ok(Err(AcceptRefusal::Invalid)) };
    let now = d.clock.now();
    let record = &stored.record;
    let matches = record.invitation.as_deref().is_some_and(|hash| same(hash, &sha256_hex(code)));
    if record.delegate.as_ref() == Some(delegate) && record.revoked_at.is_none() {
        // Accepted already by this delegate: the same answer again.
        return Ok(Ok(stored));
    }
    if !matches || record.delegate.is_some() || record.revoked_at.is_some() || now >= record.invitation_expires_at {
        return Ok(Err(AcceptRefusal::Invalid));
    }
    if &record.principal == delegate {
        return Ok(Err(AcceptRefusal::Own));
    }
    let name = d.names.name(delegate).await?.unwrap_or_default();
    index(d, delegate, id, Side::Delegate).await?;
    let mut accepted = record.clone();
    accepted.delegate = Some(delegate.clone());
    accepted.accepted_at = Some(now);
    accepted.invitation = None;
    accepted.delegate_name = Some(seal(d, delegate, id, "delegateName", &name).await?);
    let stored = replace(d, &stored, accepted).await?;
    let scopes = stored.record.scopes.iter().map(|s| s.czech().to_owned()).collect();
    let notice = Notice::DelegationGranted(portal_events::DelegationGranted {
        grant: id.to_owned(),
        delegate: name,
        scopes,
        ends_on: stored.record.ends_on.clone(),
    });
    publish_notice(d.queues.as_ref(), &notice, id, record.principal.as_str(), now).await?;
    Ok(Ok(stored))
}

fn same(a: &str, b: &str) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a.as_bytes(), b.as_bytes()).is_ok()
}

/// Ends a grant early; `by` is the side that asked. Idempotent.
pub async fn revoke(d: &Delegations, stored: Stored, by: Side) -> Result<Stored, DelegationError> {
    if stored.record.revoked_at.is_some() {
        return Ok(stored);
    }
    let now = d.clock.now();
    let mut revoked = stored.record.clone();
    revoked.revoked_at = Some(now);
    revoked.revoked_by = Some(by);
    let stored = replace(d, &stored, revoked).await?;
    tell_end(d, stored).await
}

/// Tells the principal the grant ended (once: the notice's id is the grant's),
/// for an accepted grant, and marks it told.
pub async fn tell_end(d: &Delegations, stored: Stored) -> Result<Stored, DelegationError> {
    let record = &stored.record;
    if record.end_notified || record.accepted_at.is_none() {
        return Ok(stored);
    }
    let (_, delegate) = names(d, &stored.id, record).await?;
    let reason = match record.revoked_by {
        Some(Side::Principal) => "revoked-by-principal",
        Some(Side::Delegate) => "revoked-by-delegate",
        None => "expired",
    };
    let notice = Notice::DelegationEnded(portal_events::DelegationEnded {
        grant: stored.id.clone(),
        delegate,
        reason: reason.into(),
    });
    publish_notice(d.queues.as_ref(), &notice, &stored.id, record.principal.as_str(), d.clock.now()).await?;
    let mut told = record.clone();
    told.end_notified = true;
    replace(d, &stored, told).await
}

/// Records the first use of an authorisation and tells the principal (once).
pub async fn first_use(d: &Delegations, mandate: &Mandate, purpose: &str) -> Result<(), DelegationError> {
    let Some(stored) = load(d, &mandate.grant).await? else { return Ok(()) };
    if stored.record.first_used_at.is_some() {
        return Ok(());
    }
    let now = d.clock.now();
    let notice = Notice::DelegationFirstUse(portal_events::DelegationFirstUse {
        grant: stored.id.clone(),
        delegate: mandate.delegate_name.clone(),
        purpose: purpose.to_owned(),
    });
    publish_notice(d.queues.as_ref(), &notice, &stored.id, stored.record.principal.as_str(), now).await?;
    let mut used = stored.record.clone();
    used.first_used_at = Some(now);
    match replace(d, &stored, used).await {
        // Another request recorded it first; the notice's id keeps it single.
        Ok(_) | Err(DelegationError::Contended) => Ok(()),
        Err(error) => Err(error),
    }
}

/// Every grant the subject gave or received, by index entry.
pub async fn of_subject(d: &Delegations, subject: &SubjectId) -> Result<Vec<(Side, Stored)>, DelegationError> {
    let partition = subject_partition(subject);
    let mut found = Vec::new();
    let mut continuation = None;
    loop {
        let page = d.documents.query(COLLECTION, &partition, Query::default().after(continuation)).await?;
        for entry in page.items {
            let side: Side = serde_json::from_value(entry.body["side"].clone()).map_err(corrupt)?;
            if let Some(stored) = load(d, &entry.id).await? {
                let own = match side {
                    Side::Principal => &stored.record.principal == subject,
                    Side::Delegate => stored.record.delegate.as_ref() == Some(subject),
                };
                if own {
                    found.push((side, stored));
                }
            }
        }
        continuation = page.continuation;
        if continuation.is_none() {
            break;
        }
    }
    found.sort_by_key(|(_, stored)| std::cmp::Reverse(stored.record.created_at));
    Ok(found)
}
