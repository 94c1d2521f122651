//! The gateway's signed notifications (webhooks).
//!
//! **Scheme.** The gateway POSTs a JSON body ([`GatewayNotification`]) with
//! the header [`SIGNATURE_HEADER`]: `t=<unix seconds>,v1=<hex>`, where the hex
//! is HMAC-SHA256 under the shared secret of the bytes `<t>.<body>`. This is
//! the scheme Stripe documents for its webhooks ("Stripe-Signature", verify
//! manually: timestamp + `.` + raw body, HMAC-SHA256, several `v1` entries
//! allowed while a secret rotates), which the portal requires of whichever
//! gateway is contracted; a gateway with another documented scheme gets its
//! own verifier behind the same [`GatewayNotification`].
//!
//! **Replay.** The timestamp is signed, so a captured notification is good
//! only within [`TOLERANCE`] of the receiver's clock; within the window the
//! receiver remembers the notification's `id` (its nonce) and takes it once.
//! A notification is never trusted for the money itself: the receiver asks
//! the gateway for the payment's status (the source of truth) before acting.

use aws_lc_rs::hmac;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::PaymentStatus;

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "gateway-signature";

/// How far a notification's timestamp may be from the receiver's clock.
pub const TOLERANCE: time::Duration = time::Duration::minutes(5);

/// What the gateway tells: a payment's status changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayNotification {
    /// The notification's own id, the same when the gateway sends the same
    /// fact again (`<payment>:<status>`): the receiver's nonce.
    pub id: String,
    pub payment_id: String,
    pub status: PaymentStatus,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A notification as it travels: the raw body and the signature header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedNotification {
    pub body: String,
    pub signature: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotificationError {
    #[error("the signature header is missing or malformed")]
    Malformed,
    #[error("the signature does not match the body")]
    BadSignature,
    #[error("the notification's timestamp is outside the accepted window")]
    OutsideWindow,
    #[error("the signed body is not a notification")]
    Body,
}

/// The shared secret of the notifications.
#[derive(Clone)]
pub struct NotificationKey {
    key: hmac::Key,
}

impl std::fmt::Debug for NotificationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NotificationKey(..)")
    }
}

impl NotificationKey {
    /// The secret the simulator and local mode share: public, never for
    /// production (configuration refuses an empty secret there).
    pub const DEVELOPMENT_SECRET: &'static [u8] = b"portal-development-payment-notifications";

    pub fn new(secret: &[u8]) -> Self {
        Self { key: hmac::Key::new(hmac::HMAC_SHA256, secret) }
    }

    pub fn development() -> Self {
        Self::new(Self::DEVELOPMENT_SECRET)
    }

    /// The signature header of `body` sent at `at`.
    pub fn sign(&self, body: &[u8], at: OffsetDateTime) -> String {
        let t = at.unix_timestamp();
        let tag = hmac::sign(&self.key, &signed_bytes(t, body));
        format!("t={t},v1={}", portal_store::lower_hex(tag.as_ref()))
    }

    /// A notification of `payment`'s `status`, signed at `at`.
    pub fn notify(&self, payment: &str, status: PaymentStatus, at: OffsetDateTime) -> SignedNotification {
        let note = GatewayNotification {
            id: format!("{payment}:{}", status.as_str()),
            payment_id: payment.to_owned(),
            status,
            created_at: at,
        };
        let body = serde_json::to_string(&note).unwrap_or_default();
        SignedNotification { signature: self.sign(body.as_bytes(), at), body }
    }

    /// Checks the signature header against the raw body and the clock, then
    /// reads the body. Any `v1` entry may match (rotation); the comparison
    /// is constant-time.
    pub fn verify(
        &self,
        header: &str,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<GatewayNotification, NotificationError> {
        let mut timestamp = None;
        let mut tags = Vec::new();
        for part in header.split(',') {
            let (name, value) = part.trim().split_once('=').ok_or(NotificationError::Malformed)?;
            match name {
                "t" => timestamp = Some(value.parse::<i64>().map_err(|_| NotificationError::Malformed)?),
                "v1" => tags.push(unhex(value).ok_or(NotificationError::Malformed)?),
                _ => {}
            }
        }
        let t = timestamp.ok_or(NotificationError::Malformed)?;
        if tags.is_empty() {
            return Err(NotificationError::Malformed);
        }
        let message = signed_bytes(t, body);
        if !tags.iter().any(|tag| hmac::verify(&self.key, &message, tag).is_ok()) {
            return Err(NotificationError::BadSignature);
        }
        let sent = OffsetDateTime::from_unix_timestamp(t).map_err(|_| NotificationError::OutsideWindow)?;
        if (now - sent).abs() > TOLERANCE {
            return Err(NotificationError::OutsideWindow);
        }
        serde_json::from_slice(body).map_err(|_| NotificationError::Body)
    }
}

fn signed_bytes(t: i64, body: &[u8]) -> Vec<u8> {
    let mut message = format!("{t}.").into_bytes();
    message.extend_from_slice(body);
    message
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || text.len() > 128 {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const AT: OffsetDateTime = datetime!(2026-11-23 08:00 UTC);

    #[test]
    fn a_signed_notification_verifies_and_every_tampering_is_refused() {
        let key = NotificationKey::new(b"secret");
        let signed = key.notify("p1", PaymentStatus::Paid, AT);
        let note = key.verify(&signed.signature, signed.body.as_bytes(), AT).expect("verifies");
        assert_eq!((note.id.as_str(), note.status), ("p1:paid", PaymentStatus::Paid));

        let forged = signed.body.replace("paid", "declined");
        assert_eq!(key.verify(&signed.signature, forged.as_bytes(), AT), Err(NotificationError::BadSignature));
        let other = NotificationKey::new(b"other");
        assert_eq!(other.verify(&signed.signature, signed.body.as_bytes(), AT), Err(NotificationError::BadSignature));
        // The timestamp is signed: moving it breaks the signature.
        let moved = signed.signature.replacen(&format!("t={}", AT.unix_timestamp()), "t=1", 1);
        assert_eq!(key.verify(&moved, signed.body.as_bytes(), AT), Err(NotificationError::BadSignature));
        for header in ["", "t=1", "v1=00", "t=x,v1=00", "t=1,v1=zz", "garbage"] {
            assert_eq!(key.verify(header, signed.body.as_bytes(), AT), Err(NotificationError::Malformed), "{header}");
        }
        // Outside the window, either way.
        let late = AT + TOLERANCE + time::Duration::seconds(1);
        assert_eq!(key.verify(&signed.signature, signed.body.as_bytes(), late), Err(NotificationError::OutsideWindow));
        let early = AT - TOLERANCE - time::Duration::seconds(1);
        assert_eq!(key.verify(&signed.signature, signed.body.as_bytes(), early), Err(NotificationError::OutsideWindow));
        // A rotated secret: either v1 may match.
        let both = format!(
            "{},v1={}",
            other.sign(signed.body.as_bytes(), AT),
            &signed.signature[signed.signature.len() - 64..]
        );
        assert!(key.verify(&both, signed.body.as_bytes(), AT).is_ok());
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // RFC 4231 test case 2 fixes HMAC-SHA256 itself; this fixes the message layout:
        // key "Jefe", message "1.what do ya want for nothing?" computed independently
        // (python3 -c 'import hmac,hashlib;print(hmac.new(b"Jefe",b"1.what do ya want for nothing?",hashlib.sha256).hexdigest())').
        let key = NotificationKey::new(b"Jefe");
        let at = OffsetDateTime::from_unix_timestamp(1).expect("time");
        let header = key.sign(b"what do ya want for nothing?", at);
        assert_eq!(header, format!("t=1,v1={}", EXPECTED_JEFE));
    }

    const EXPECTED_JEFE: &str = "a9049465ce89cfb8e9aac62333abda66f80e3403f51f57f6bae3c3a4485eca38";
}
