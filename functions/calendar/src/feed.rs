//! The personal iCalendar feed: a secret URL a calendar app subscribes to
//! without logging in.
//!
//! The token is 32 random bytes (base64url); only its SHA-256 is stored:
//! - `feed-tokens` / `<hash>` → the owner (the lookup the public route uses);
//! - the owner's `feed` → which hash is current and since when.
//!
//! A token works only while both agree, so rotating or switching the feed off
//! invalidates the previous token at once, even if deleting its lookup
//! failed. Rotation writes the new lookup, then the owner's `feed`, then
//! deletes the old lookup; a crash in between leaves at most an orphan lookup
//! whose token nobody was ever given, and which does not resolve.

use aws_lc_rs::rand::SecureRandom as _;
use base64::Engine as _;
use portal_security::SubjectId;
use portal_store::{NewDocument, StoreError};
use serde_json::json;
use time::OffsetDateTime;

use crate::{COLLECTION, Calendar, CalendarError};

/// The partition of the token lookups.
pub const TOKENS_PARTITION: &str = "feed-tokens";
const OWNER_DOC: &str = "feed";

/// SHA-256, hex.
pub fn sha256_hex(text: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes());
    portal_store::lower_hex(digest.as_ref())
}

/// Whether `token` has the shape of a token this module hands out (43
/// base64url characters); anything else is not looked up at all.
pub fn is_token(token: &str) -> bool {
    token.len() == 43 && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The citizen's feed, as `GET calendar/feed` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedState {
    pub created_at: OffsetDateTime,
}

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("the system random number generator failed")]
    Random,
    #[error(transparent)]
    Calendar(#[from] CalendarError),
}

impl portal_host::Failure for FeedError {
    fn is_retryable(&self) -> bool {
        match self {
            Self::Random => false,
            Self::Calendar(error) => error.is_retryable(),
        }
    }

    fn problem(&self) -> portal_host::Problem {
        match self {
            Self::Random => portal_host::Problem::internal(),
            Self::Calendar(error) => portal_host::Failure::problem(error),
        }
    }
}

impl From<StoreError> for FeedError {
    fn from(error: StoreError) -> Self {
        Self::Calendar(error.into())
    }
}

impl Calendar {
    /// A new feed token for `owner`; the previous one stops working. Returns
    /// the token (shown once, never stored).
    pub async fn rotate_feed(&self, owner: &SubjectId) -> Result<String, FeedError> {
        let mut bytes = [0_u8; 32];
        aws_lc_rs::rand::SystemRandom::new().fill(&mut bytes).map_err(|_| FeedError::Random)?;
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let hash = sha256_hex(&token);
        let now = self.clock.now();
        let at = now.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
        let current = self.documents.get(COLLECTION, owner.as_str(), OWNER_DOC).await?;
        self.documents
            .create(
                COLLECTION,
                NewDocument::new(
                    TOKENS_PARTITION,
                    hash.clone(),
                    json!({"type": "calendar-feed-token", "owner": owner.as_str(), "createdAt": at}),
                ),
            )
            .await?;
        let feed = NewDocument::new(
            owner.as_str(),
            OWNER_DOC,
            json!({"type": "calendar-feed", "hash": hash, "createdAt": at}),
        );
        let written = match &current {
            Some(doc) => self.documents.replace(COLLECTION, feed, &doc.etag).await.map(drop),
            None => self.documents.create(COLLECTION, feed).await.map(drop),
        };
        if let Err(error) = written {
            // The new lookup is an orphan nobody holds the token of; remove it.
            let _ = self.documents.delete(COLLECTION, TOKENS_PARTITION, &hash, None).await;
            return Err(match error {
                StoreError::Conflict | StoreError::PreconditionFailed => CalendarError::Contended.into(),
                error => error.into(),
            });
        }
        if let Some(old) = current.as_ref().and_then(|doc| doc.body["hash"].as_str()) {
            delete_lookup(self, old).await?;
        }
        Ok(token)
    }

    /// Whether the citizen has a feed, and since when.
    pub async fn feed_state(&self, owner: &SubjectId) -> Result<Option<FeedState>, CalendarError> {
        let Some(doc) = self.documents.get(COLLECTION, owner.as_str(), OWNER_DOC).await? else { return Ok(None) };
        let created_at = doc.body["createdAt"]
            .as_str()
            .and_then(|t| OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok())
            .ok_or_else(|| CalendarError::Corrupt("feed without createdAt".into()))?;
        Ok(Some(FeedState { created_at }))
    }

    /// Switches the feed off; `false` if there was none.
    pub async fn delete_feed(&self, owner: &SubjectId) -> Result<bool, CalendarError> {
        let Some(doc) = self.documents.get(COLLECTION, owner.as_str(), OWNER_DOC).await? else { return Ok(false) };
        match self.documents.delete(COLLECTION, owner.as_str(), OWNER_DOC, Some(&doc.etag)).await {
            Ok(()) | Err(StoreError::NotFound) => {}
            Err(StoreError::PreconditionFailed) => return Err(CalendarError::Contended),
            Err(error) => return Err(error.into()),
        }
        if let Some(hash) = doc.body["hash"].as_str() {
            delete_lookup(self, hash).await?;
        }
        Ok(true)
    }

    /// The owner of a feed token, if it is current.
    pub async fn feed_owner(&self, token: &str) -> Result<Option<SubjectId>, CalendarError> {
        if !is_token(token) {
            return Ok(None);
        }
        let hash = sha256_hex(token);
        let Some(lookup) = self.documents.get(COLLECTION, TOKENS_PARTITION, &hash).await? else { return Ok(None) };
        let Some(owner) = lookup.body["owner"].as_str().and_then(|o| SubjectId::parse(o).ok()) else {
            return Ok(None);
        };
        let current = self.documents.get(COLLECTION, owner.as_str(), OWNER_DOC).await?;
        let is_current = current.is_some_and(|doc| {
            doc.body["hash"].as_str().is_some_and(|h| {
                aws_lc_rs::constant_time::verify_slices_are_equal(h.as_bytes(), hash.as_bytes()).is_ok()
            })
        });
        Ok(is_current.then_some(owner))
    }
}

async fn delete_lookup(calendar: &Calendar, hash: &str) -> Result<(), CalendarError> {
    match calendar.documents.delete(COLLECTION, TOKENS_PARTITION, hash, None).await {
        Ok(()) | Err(StoreError::NotFound) => Ok(()),
        Err(error) => Err(error.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_recognised_by_shape() {
        assert!(is_token(&"A".repeat(43)));
        assert!(is_token("abcdefghijklmnopqrstuvwxyz-_0123456789ABCDE"));
        assert!(!is_token(&"A".repeat(44)));
        assert!(!is_token(&format!("{}=", "A".repeat(42))));
        assert_eq!(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
