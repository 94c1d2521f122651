//! The `notifications` capability: tells citizens what other capabilities
//! publish (a new data message, a document about to expire, a credit purchase)
//! in the in-portal inbox, always, and by e-mail and SMS when the citizen has
//! verified a contact and wants that category on that channel (Portál
//! občana's expiry notices: free, by e-mail and SMS, EU numbers allowed, the
//! citizen enters the contacts and switches the service on).
//!
//! - [`http`]: one file per HTTP function: the inbox (`ListNotifications`,
//!   `ShowNotification`, `MarkNotificationRead`), the preferences
//!   (`NotificationPreferences`) and the contacts (`ListContacts`,
//!   `NotificationContact`, `VerifyContact`);
//! - [`queue`]: one file per queue function: `SendNotification` (on
//!   [`portal_events::NOTIFICATIONS_QUEUE`]) and `RetryNotification` (on
//!   [`dispatch::RETRY_QUEUE`]), which [`dispatch`] drives: one notification
//!   per event id, delivery status per channel, retries with backoff, the
//!   poison queue at the end; and `EraseNotificationsData` (on
//!   `erase-notifications`), which deletes everything of a citizen who erased
//!   their account;
//! - [`contacts`]: e-mail and phone, sealed, verified by a 6-digit code;
//! - [`preferences`]: categories × channels;
//! - [`templates`]: the Czech texts (minijinja templates under `templates/`);
//! - ports [`mail::Mailer`] ([`smtp::SmtpMailer`], [`mail::SimulatedMailer`])
//!   and [`sms::SmsGateway`] ([`sms::SimulatedSms`], and
//!   [`sms::SmsNotConnected`] for production: no SMS gateway exists yet).
//!
//! Everything lives in collection [`COLLECTION`], partitioned by the citizen's
//! subject id. [`functions`] is the list the app serves.

/// The contact rules are shared with the registers capability.
pub use portal_security::contact as address;
pub mod channel;
pub mod contacts;
mod delivery;
pub mod dispatch;
pub mod export;
pub mod http;
pub mod mail;
pub mod preferences;
pub mod queue;
pub mod sms;
pub mod smtp;
pub mod templates;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use contacts::ContactError;
use portal_crypto::{CryptoError, Sealer};
use portal_host::{Failure, Function, op};
use portal_security::{AccessLog, RateLimiter};
use portal_store::{Clock, DocumentStore, QueueStore, StoreError};

pub use channel::{Channel, ChannelError, Delivery};
pub use mail::{Mailer, OutgoingMail, SimulatedMailer};
pub use sms::{OutgoingSms, SimulatedSms, SmsGateway, SmsNotConnected};
pub use smtp::{SmtpMailer, SmtpSettings, SmtpTls};

pub const COLLECTION: &str = "notifications";

/// Settings of the capability.
#[derive(Debug, Clone)]
pub struct NotificationSettings {
    /// The e-mails' `From` (a mailbox, RFC 5322), e.g.
    /// `Portál občana <noreply@portal.gov.cz>`. Its domain also names the
    /// `Message-ID`s.
    pub from_address: String,
    /// The portal's public address, for links in e-mails (no trailing slash).
    pub portal_url: String,
    /// The waits before the 2nd, 3rd, … attempt after a temporary channel
    /// failure; a channel gets `retry_delays.len() + 1` attempts in all.
    pub retry_delays: Vec<Duration>,
    /// How long a verification code is valid.
    pub code_ttl: Duration,
    /// Tries per code (right or wrong); after this many wrong ones a new code
    /// is needed.
    pub code_max_tries: u32,
    /// Codes a citizen may have sent per hour, e-mail and SMS together.
    pub code_sends_per_hour: u32,
    /// A channel found `sending` for longer than this is taken to have
    /// crashed mid-send and is sent again (at most one duplicate).
    pub sending_lease: Duration,
    /// Inbox entries per page when the client does not say.
    pub page_size: u32,
    /// E-mails one instance hands to the relay per minute (its burst too);
    /// over it, a notification's e-mail waits in the retry queue without
    /// using up an attempt (`PORTAL_MAIL_PER_MINUTE`).
    pub mail_per_minute: u32,
}

impl Default for NotificationSettings {
    fn default() -> Self {
        Self {
            from_address: "Portál občana <noreply@portal.gov.cz>".into(),
            portal_url: "http://localhost:7071".into(),
            retry_delays: vec![
                Duration::from_secs(60),
                Duration::from_secs(5 * 60),
                Duration::from_secs(30 * 60),
                Duration::from_secs(2 * 3600),
            ],
            code_ttl: Duration::from_secs(15 * 60),
            code_max_tries: 5,
            code_sends_per_hour: 5,
            sending_lease: Duration::from_secs(5 * 60),
            page_size: 20,
            mail_per_minute: 600,
        }
    }
}

impl NotificationSettings {
    /// Checks what can be checked at start-up; the message names the setting.
    pub fn check(&self) -> Result<(), String> {
        if self.from_address.parse::<lettre::message::Mailbox>().is_err() {
            return Err(format!("from_address '{}' is not a mailbox like 'Name <user@domain>'", self.from_address));
        }
        if !(self.portal_url.starts_with("https://") || self.portal_url.starts_with("http://")) {
            return Err("portal_url must be an http(s) URL".into());
        }
        if self.code_max_tries == 0 || self.code_sends_per_hour == 0 || self.code_ttl.is_zero() {
            return Err("code_max_tries, code_sends_per_hour and code_ttl must be positive".into());
        }
        if self.mail_per_minute == 0 {
            return Err("mail_per_minute must be positive".into());
        }
        Ok(())
    }

    /// The domain of the From address, for `Message-ID`s.
    pub fn mail_domain(&self) -> &str {
        self.from_address
            .rsplit_once('@')
            .map(|(_, domain)| domain.trim_end_matches('>').trim())
            .filter(|d| !d.is_empty())
            .unwrap_or("portal.gov.cz")
    }

    pub fn link(&self, path: &str) -> String {
        format!("{}{}", self.portal_url.trim_end_matches('/'), path)
    }

    pub fn max_attempts(&self) -> u32 {
        u32::try_from(self.retry_delays.len()).unwrap_or(u32::MAX - 1).saturating_add(1)
    }
}

#[derive(Debug, Clone)]
pub struct Notifications {
    pub documents: Arc<dyn DocumentStore>,
    pub queues: Arc<dyn QueueStore>,
    pub sealer: Sealer,
    pub access_log: AccessLog,
    pub clock: Arc<dyn Clock>,
    pub mailer: Arc<dyn Mailer>,
    pub sms: Arc<dyn SmsGateway>,
    pub settings: NotificationSettings,
    /// The outgoing mail limit of this instance ([`NotificationSettings::mail_per_minute`]).
    pub mail_limit: Arc<RateLimiter>,
}

impl Notifications {
    /// The outgoing mail limit for `settings` on `clock`.
    pub fn mail_limiter(settings: &NotificationSettings, clock: Arc<dyn Clock>) -> Arc<RateLimiter> {
        Arc::new(RateLimiter::new(settings.mail_per_minute, settings.mail_per_minute, clock))
    }

    /// Seals `text` for (owner, document, field); base64 for the JSON body.
    pub(crate) async fn seal(
        &self,
        owner: &str,
        document: &str,
        field: &str,
        text: &str,
    ) -> Result<String, CryptoError> {
        let sealed = self.sealer.encrypt(owner, document, field, text.as_bytes()).await?;
        Ok(base64::engine::general_purpose::STANDARD.encode(sealed))
    }

    /// Opens what [`seal`](Self::seal) made.
    pub(crate) async fn unseal(
        &self,
        owner: &str,
        document: &str,
        field: &str,
        sealed: &str,
    ) -> Result<String, CryptoError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(sealed)
            .map_err(|_| CryptoError::Malformed("the sealed field is not base64"))?;
        let plain = self.sealer.decrypt(owner, document, field, &bytes).await?;
        String::from_utf8(plain).map_err(|_| CryptoError::Malformed("the sealed field is not UTF-8"))
    }
}

/// Why sending a notification did not finish.
#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error("the event is invalid: {0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("the notification changed under every try")]
    Contended,
}

impl From<ContactError> for DispatchError {
    fn from(error: ContactError) -> Self {
        match error {
            ContactError::Store(error) => Self::Store(error),
            ContactError::Crypto(error) => Self::Crypto(error),
            other => Self::Invalid(other.to_string()),
        }
    }
}

impl Failure for DispatchError {
    /// A passing store or key-service fault (throttled Cosmos DB, Key Vault
    /// unreachable) or a lost race can pass; an invalid event, or sealed text
    /// that does not open (a shredded key), cannot.
    fn is_retryable(&self) -> bool {
        match self {
            Self::Store(error) => error.is_retryable(),
            Self::Crypto(error) => error.is_retryable(),
            Self::Contended => true,
            Self::Invalid(_) => false,
        }
    }
}

/// Every function of the capability: the HTTP functions of the inbox,
/// preferences and contacts, and the queue functions `SendNotification`,
/// `RetryNotification` and `EraseNotificationsData`.
///
/// `NotificationPreferences` (GET and PUT) and `NotificationContact` (PUT and
/// DELETE) answer two methods each: the second is an operation of its own
/// (`ChangeNotificationPreferences`, `DeleteNotificationContact`) on the
/// same function.
pub fn functions(notifications: Notifications) -> Vec<Function> {
    let s = Arc::new(notifications);
    vec![
        Function::api(op!(http::list_notifications)).with_state(s.clone()).build(),
        Function::api(op!(http::show_notification)).with_state(s.clone()).build(),
        Function::api(op!(http::mark_notification_read)).with_state(s.clone()).build(),
        Function::api(op!(http::show_preferences)).also(op!(http::change_preferences)).with_state(s.clone()).build(),
        Function::api(op!(http::list_contacts)).with_state(s.clone()).build(),
        Function::api(op!(http::set_contact)).also(op!(http::delete_contact)).with_state(s.clone()).build(),
        Function::api(op!(http::verify_contact)).with_state(s.clone()).build(),
        queue::send_notification::function(s.clone()),
        queue::retry_notification::function(s.clone()),
        queue::erase_notifications_data::function(s),
    ]
}

/// SHA-256 of `text`, lowercase hex.
pub(crate) fn sha256_hex(text: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text);
    portal_store::lower_hex(digest.as_ref())
}

pub(crate) fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}
