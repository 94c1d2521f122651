//! The citizen's contacts for notices: one e-mail address and one mobile
//! number, each usable only once verified.
//!
//! Setting a contact sends a 6-digit code straight to it (through the channel,
//! not through preferences: the contact is not verified yet). The pending
//! contact and the code's salted SHA-256 live in `verification-<contact>` for
//! [`NotificationSettings::code_ttl`](crate::NotificationSettings); a new code
//! replaces the old. Every try counts before it is compared (so parallel
//! guesses cannot get past the limit); after
//! [`code_max_tries`](crate::NotificationSettings) tries the code is dead and a
//! new one is needed. At most
//! [`code_sends_per_hour`](crate::NotificationSettings) codes per citizen per
//! hour. A six-digit code is cheap to brute-force from its hash, so the hash
//! only keeps codes out of plain sight; the short life and the try limit are
//! what protect it.
//!
//! A verified contact is sealed in `contact-<email|phone>`; a pending one
//! does not replace it until verified. All values are sealed with the
//! citizen's key (owner = subject, document = the document id, field = `value`).

use std::time::Duration;

use aws_lc_rs::rand::SecureRandom as _;
use axum::http::StatusCode;
use portal_crypto::CryptoError;
use portal_host::{Failure, FieldViolation, Problem};
use portal_store::{BatchOp, NewDocument, StoreError};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::address::{EmailAddress, PhoneNumber};
use crate::channel::{Channel, ChannelError};
use crate::mail::OutgoingMail;
use crate::sms::OutgoingSms;
use crate::{COLLECTION, Notifications, rfc3339, sha256_hex, templates};

const SENDS_DOCUMENT: &str = "code-sends";
const PENDING_GRACE: Duration = Duration::from_secs(3600);

/// A contact as the citizen gave it, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Contact {
    Email(EmailAddress),
    Phone(PhoneNumber),
}

impl Contact {
    pub fn channel(&self) -> Channel {
        match self {
            Self::Email(_) => Channel::Email,
            Self::Phone(_) => Channel::Sms,
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Email(address) => address.as_str(),
            Self::Phone(number) => number.as_str(),
        }
    }

    /// Parses a stored (already checked) value for `channel`.
    pub fn parse(channel: Channel, value: &str) -> Option<Self> {
        match channel {
            Channel::Email => EmailAddress::parse(value).ok().map(Self::Email),
            Channel::Sms => PhoneNumber::parse(value).ok().map(Self::Phone),
        }
    }
}

pub fn contact_id(channel: Channel) -> String {
    format!("contact-{}", channel.contact_name())
}

pub fn verification_id(channel: Channel) -> String {
    format!("verification-{}", channel.contact_name())
}

#[derive(Debug, thiserror::Error)]
pub enum ContactError {
    #[error("too many codes requested")]
    TooManyCodes { retry_after: Duration },
    #[error("no code was requested for this contact, or it was already used")]
    NoPendingCode { channel: Channel },
    #[error("the code has expired")]
    Expired,
    #[error("too many wrong codes")]
    Locked,
    #[error("the code does not match")]
    WrongCode { tries_left: u32 },
    #[error("another try of the same code is being checked")]
    Busy,
    #[error("no such contact")]
    NotFound { channel: Channel },
    #[error("the code could not be sent")]
    Channel {
        channel: Channel,
        #[source]
        error: ChannelError,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

impl Failure for ContactError {
    fn is_retryable(&self) -> bool {
        match self {
            Self::Busy => true,
            Self::Channel { error, .. } => error.is_temporary(),
            Self::Store(error) => error.is_retryable(),
            Self::Crypto(error) => error.is_retryable(),
            _ => false,
        }
    }

    /// The problem a citizen sees. `TooManyCodes` also needs `Retry-After`,
    /// which the HTTP edge adds.
    fn problem(&self) -> Problem {
        let code = |rule: &str| Problem::validation(vec![FieldViolation::new("code", rule)]);
        match self {
            Self::TooManyCodes { retry_after } => {
                Problem::new(StatusCode::TOO_MANY_REQUESTS, "rate-limited", "Too many requests")
                    .with_detail(format!("try again in {} s", retry_after.as_secs()))
            }
            Self::NoPendingCode { channel } => {
                Problem::new(StatusCode::CONFLICT, "no-pending-code", "No code is waiting")
                    .with_detail(format!("set the {} first; a code is sent to it", channel.contact_name()))
            }
            Self::Expired => code("the code has expired; request a new one"),
            Self::Locked => code("too many wrong codes: this code no longer works; request a new one"),
            Self::WrongCode { tries_left: 0 } => code("the code does not match; no tries left, request a new code"),
            Self::WrongCode { tries_left } => code(&format!("the code does not match; {tries_left} tries left")),
            Self::Busy => Problem::new(StatusCode::CONFLICT, "busy", "Another request is changing this contact")
                .with_detail("try again"),
            Self::NotFound { channel } => Problem::not_found(format!("you have no {}", channel.contact_name())),
            Self::Channel { channel: Channel::Email, .. } => Problem::unavailable("e-mail delivery"),
            Self::Channel { channel: Channel::Sms, .. } => Problem::unavailable("SMS delivery"),
            Self::Store(error) => error.problem(),
            Self::Crypto(error) => error.problem(),
        }
    }
}

/// A contact as shown to its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactView {
    pub channel: Channel,
    pub verified: Option<(String, OffsetDateTime)>,
    pub pending: Option<(String, OffsetDateTime)>,
}

fn code_hash(salt: &str, subject: &str, channel: Channel, code: &str) -> String {
    sha256_hex(format!("{salt}\n{subject}\n{}\n{code}", channel.as_str()).as_bytes())
}

fn random_bytes<const N: usize>() -> Result<[u8; N], ContactError> {
    let mut bytes = [0_u8; N];
    aws_lc_rs::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| ContactError::Crypto(CryptoError::Malformed("the system random number generator failed")))?;
    Ok(bytes)
}

/// A uniformly random six-digit code (rejection sampling, no modulo bias).
fn new_code() -> Result<String, ContactError> {
    loop {
        let value = u32::from_be_bytes(random_bytes::<4>()?);
        // 4_294_000_000 is the largest multiple of 1_000_000 below 2^32.
        if value < 4_294_000_000 {
            return Ok(format!("{:06}", value % 1_000_000));
        }
    }
}

fn parse_time(value: &Value) -> Option<OffsetDateTime> {
    value.as_str().and_then(|s| OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok())
}

/// The citizen's verified value for `channel`, unsealed.
pub async fn verified(n: &Notifications, subject: &str, channel: Channel) -> Result<Option<Contact>, ContactError> {
    let id = contact_id(channel);
    let Some(doc) = n.documents.get(COLLECTION, subject, &id).await? else { return Ok(None) };
    let Some(sealed) = doc.body["value"].as_str() else { return Ok(None) };
    let value = n.unseal(subject, &id, "value", sealed).await?;
    Ok(Contact::parse(channel, &value))
}

/// Both contacts, verified and pending, unsealed.
pub async fn view(n: &Notifications, subject: &str) -> Result<Vec<ContactView>, ContactError> {
    let mut views = Vec::new();
    let now = n.clock.now();
    for channel in Channel::ALL {
        let mut view = ContactView { channel, verified: None, pending: None };
        let id = contact_id(channel);
        if let Some(doc) = n.documents.get(COLLECTION, subject, &id).await?
            && let Some(sealed) = doc.body["value"].as_str()
        {
            let value = n.unseal(subject, &id, "value", sealed).await?;
            let at = parse_time(&doc.body["verifiedAt"]).unwrap_or(OffsetDateTime::UNIX_EPOCH);
            view.verified = Some((value, at));
        }
        let id = verification_id(channel);
        if let Some(doc) = n.documents.get(COLLECTION, subject, &id).await?
            && let Some(sealed) = doc.body["value"].as_str()
            && let Some(expires) = parse_time(&doc.body["expiresAt"]).filter(|at| *at > now)
        {
            let value = n.unseal(subject, &id, "value", sealed).await?;
            view.pending = Some((value, expires));
        }
        views.push(view);
    }
    Ok(views)
}

/// Counts one code send against the hourly limit, or says how long to wait.
async fn take_send_slot(n: &Notifications, subject: &str) -> Result<(), ContactError> {
    let now = n.clock.now();
    let hour = time::Duration::HOUR;
    for _ in 0..5 {
        let current = n.documents.get(COLLECTION, subject, SENDS_DOCUMENT).await?;
        let mut recent: Vec<i64> = current
            .as_ref()
            .and_then(|doc| doc.body["at"].as_array())
            .map(|times| {
                times.iter().filter_map(Value::as_i64).filter(|t| *t > (now - hour).unix_timestamp()).collect()
            })
            .unwrap_or_default();
        recent.sort_unstable();
        let limit = usize::try_from(n.settings.code_sends_per_hour).unwrap_or(usize::MAX);
        if recent.len() >= limit {
            let oldest = recent.first().copied().unwrap_or_else(|| now.unix_timestamp());
            let wait = (oldest + hour.whole_seconds() - now.unix_timestamp()).max(1);
            return Err(ContactError::TooManyCodes { retry_after: Duration::from_secs(wait.unsigned_abs()) });
        }
        recent.push(now.unix_timestamp());
        let doc = NewDocument::new(subject, SENDS_DOCUMENT, json!({"type": "code-sends", "at": recent}))
            .with_ttl(Duration::from_secs(3600));
        let written = match &current {
            Some(current) => n.documents.replace(COLLECTION, doc, &current.etag).await,
            None => n.documents.create(COLLECTION, doc).await,
        };
        match written {
            Ok(_) => return Ok(()),
            Err(StoreError::PreconditionFailed | StoreError::Conflict | StoreError::NotFound) => continue,
            Err(error) => return Err(error.into()),
        }
    }
    Err(ContactError::Busy)
}

/// A code on its way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeSent {
    pub expires: OffsetDateTime,
    /// SIMULATOR only: when the channel is a simulator nothing reaches the
    /// citizen, so the code is handed back for local use. Never set by a
    /// production adapter.
    pub simulated_code: Option<String>,
}

/// Records `contact` as pending and sends it a fresh code.
pub async fn request_code(n: &Notifications, subject: &str, contact: &Contact) -> Result<CodeSent, ContactError> {
    take_send_slot(n, subject).await?;
    let channel = contact.channel();
    let code = new_code()?;
    let salt = sha256_hex(&random_bytes::<16>()?);
    let now = n.clock.now();
    let ttl = n.settings.code_ttl;
    let expires = now + ttl;
    let id = verification_id(channel);
    let body = json!({
        "type": "contact-verification",
        "channel": channel.as_str(),
        "value": n.seal(subject, &id, "value", contact.as_str()).await?,
        "salt": salt,
        "codeHash": code_hash(&salt, subject, channel, &code),
        "tries": 0,
        "sentAt": rfc3339(now),
        "expiresAt": rfc3339(expires),
    });
    // Kept an hour past its expiry so that a late try is told "expired"
    // rather than "no code", then removed by the store.
    let keep = ttl + PENDING_GRACE;
    n.documents.upsert(COLLECTION, NewDocument::new(subject, &id, body).with_ttl(keep), None).await?;
    let minutes = ttl.as_secs().div_ceil(60);
    let reference = format!("verify-{}", &salt[..16]);
    let (sent, simulated) = match contact {
        Contact::Email(address) => {
            let (subject_line, text, html) = templates::verification_email(&code, minutes);
            let mail = OutgoingMail {
                from: n.settings.from_address.clone(),
                to: address.clone(),
                subject: subject_line,
                text,
                html,
                message_id: format!("<{reference}@{}>", n.settings.mail_domain()),
            };
            (n.mailer.send(&mail).await, n.mailer.simulated())
        }
        Contact::Phone(number) => {
            let sms = OutgoingSms { to: number.clone(), text: templates::verification_sms(&code, minutes), reference };
            (n.sms.send(&sms).await, n.sms.simulated())
        }
    };
    if let Err(error) = sent {
        // The code never arrived: remove it so that the citizen is not asked for it.
        if let Err(cleanup) = n.documents.delete(COLLECTION, subject, &id, None).await {
            tracing::warn!(error = %cleanup, "an unsent verification code could not be removed; it expires on its own");
        }
        return Err(ContactError::Channel { channel, error });
    }
    Ok(CodeSent { expires, simulated_code: simulated.then_some(code) })
}

/// Checks `code` for the pending contact of `channel`; on a match the contact
/// becomes the verified one.
pub async fn verify(n: &Notifications, subject: &str, channel: Channel, code: &str) -> Result<(), ContactError> {
    let id = verification_id(channel);
    let Some(doc) = n.documents.get(COLLECTION, subject, &id).await? else {
        return Err(ContactError::NoPendingCode { channel });
    };
    let now = n.clock.now();
    if parse_time(&doc.body["expiresAt"]).is_none_or(|at| at <= now) {
        return Err(ContactError::Expired);
    }
    let max = n.settings.code_max_tries;
    let tries = u32::try_from(doc.body["tries"].as_u64().unwrap_or(u64::MAX)).unwrap_or(u32::MAX);
    if tries >= max {
        return Err(ContactError::Locked);
    }
    // The try counts before the comparison: of parallel tries, one wins.
    let mut counted = doc.body.clone();
    counted["tries"] = Value::from(tries + 1);
    let ttl = doc.ttl.unwrap_or(n.settings.code_ttl + PENDING_GRACE);
    let etag =
        match n.documents.replace(COLLECTION, NewDocument::new(subject, &id, counted).with_ttl(ttl), &doc.etag).await {
            Ok(etag) => etag,
            Err(StoreError::PreconditionFailed | StoreError::NotFound) => return Err(ContactError::Busy),
            Err(error) => return Err(error.into()),
        };
    let salt = doc.body["salt"].as_str().unwrap_or_default();
    let expected = doc.body["codeHash"].as_str().unwrap_or_default();
    let given = code_hash(salt, subject, channel, code.trim());
    if aws_lc_rs::constant_time::verify_slices_are_equal(given.as_bytes(), expected.as_bytes()).is_err() {
        return Err(ContactError::WrongCode { tries_left: max.saturating_sub(tries + 1) });
    }
    let value = n.unseal(subject, &id, "value", doc.body["value"].as_str().unwrap_or_default()).await?;
    let contact = contact_id(channel);
    let body = json!({
        "type": "contact",
        "channel": channel.as_str(),
        "value": n.seal(subject, &contact, "value", &value).await?,
        "verifiedAt": rfc3339(now),
    });
    let ops = vec![
        BatchOp::Upsert { doc: NewDocument::new(subject, contact, body), if_match: None },
        BatchOp::Delete { id: id.clone(), if_match: Some(etag) },
    ];
    match n.documents.batch(COLLECTION, subject, ops).await {
        Ok(_) => Ok(()),
        Err(StoreError::PreconditionFailed | StoreError::NotFound) => Err(ContactError::Busy),
        Err(error) => Err(error.into()),
    }
}

/// Removes the contact of `channel`, verified or pending.
pub async fn remove(n: &Notifications, subject: &str, channel: Channel) -> Result<(), ContactError> {
    let ops = [contact_id(channel), verification_id(channel)];
    let mut removed = false;
    for id in ops {
        match n.documents.delete(COLLECTION, subject, &id, None).await {
            Ok(()) => removed = true,
            Err(StoreError::NotFound) => {}
            Err(error) => return Err(error.into()),
        }
    }
    if removed { Ok(()) } else { Err(ContactError::NotFound { channel }) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits_and_hashes_bind_everything() {
        for _ in 0..100 {
            let code = new_code().expect("rng");
            assert_eq!(code.len(), 6);
            assert!(code.chars().all(|c| c.is_ascii_digit()));
        }
        let base = code_hash("salt", "A", Channel::Email, "123456");
        assert_eq!(base.len(), 64);
        assert_ne!(base, code_hash("salt2", "A", Channel::Email, "123456"));
        assert_ne!(base, code_hash("salt", "B", Channel::Email, "123456"));
        assert_ne!(base, code_hash("salt", "A", Channel::Sms, "123456"));
        assert_ne!(base, code_hash("salt", "A", Channel::Email, "123457"));
    }
}
