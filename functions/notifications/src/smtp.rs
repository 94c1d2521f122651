//! The production e-mail adapter: SMTP through lettre's
//! `AsyncSmtpTransport<Tokio1Executor>` (rustls on aws-lc-rs, the platform's
//! certificate verifier, a connection pool).
//!
//! TLS modes ([`SmtpTls`]):
//! - `Implicit`: SMTPS, TLS from the first byte (port 465);
//! - `StartTls`: plain connect, then `STARTTLS`, which is **required** (a
//!   server that does not offer it is refused, never used in clear);
//! - `None`: no encryption at all. Only for a relay on the same host or a
//!   local test server, and only when the lead's configuration says the
//!   environment is local; never in production, where credentials and
//!   citizens' addresses would cross the network in clear.
//!
//! An extra root certificate (PEM) can be trusted beside the platform's roots,
//! for a private relay or the test server; the server name checked against
//! the certificate is a setting of its own, so the host may be an IP address.
//!
//! Failures map to [`ChannelError`]: SMTP 5xx replies are permanent, 4xx
//! replies, timeouts, connection and TLS failures temporary. The reason names
//! the class and the reply code only: servers echo addresses in their replies.

use std::time::Duration;

use async_trait::async_trait;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, header};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};

use crate::channel::{ChannelError, Delivery};
use crate::mail::{Mailer, OutgoingMail};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// SMTPS (TLS from the first byte), usually port 465.
    Implicit,
    /// `STARTTLS`, required; usually port 587.
    StartTls,
    /// No TLS: local relays and test servers only (see the module docs).
    None,
}

#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    /// A PEM certificate (or several) trusted as roots beside the platform's.
    pub extra_root_ca_pem: Option<String>,
    /// The name the server's certificate must carry; defaults to `host`.
    pub tls_server_name: Option<String>,
    /// For connecting and for each SMTP command.
    pub timeout: Duration,
}

impl SmtpSettings {
    pub fn new(host: impl Into<String>, port: u16, tls: SmtpTls) -> Self {
        Self {
            host: host.into(),
            port,
            tls,
            username: None,
            password: None,
            extra_root_ca_pem: None,
            tls_server_name: None,
            timeout: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SmtpSetupError {
    #[error("the extra root certificate is not valid PEM")]
    Certificate(#[source] lettre::transport::smtp::Error),
    #[error("the TLS parameters could not be built")]
    Tls(#[source] lettre::transport::smtp::Error),
    #[error("SMTP credentials need both a username and a password")]
    Credentials,
}

/// Sends e-mail through an SMTP relay. Cheap to share: the transport keeps a
/// pool of connections.
#[derive(Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    host: String,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpMailer").field("host", &self.host).finish_non_exhaustive()
    }
}

impl SmtpMailer {
    pub fn new(settings: &SmtpSettings) -> Result<Self, SmtpSetupError> {
        let server_name = settings.tls_server_name.clone().unwrap_or_else(|| settings.host.clone());
        let tls_parameters = || -> Result<TlsParameters, SmtpSetupError> {
            let mut builder = TlsParameters::builder(server_name.clone());
            if let Some(pem) = &settings.extra_root_ca_pem {
                let certificate = Certificate::from_pem(pem.as_bytes()).map_err(SmtpSetupError::Certificate)?;
                builder = builder.add_root_certificate(certificate);
            }
            builder.build().map_err(SmtpSetupError::Tls)
        };
        let tls = match settings.tls {
            SmtpTls::Implicit => Tls::Wrapper(tls_parameters()?),
            SmtpTls::StartTls => Tls::Required(tls_parameters()?),
            SmtpTls::None => Tls::None,
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(settings.host.clone())
            .port(settings.port)
            .tls(tls)
            .timeout(Some(settings.timeout));
        match (&settings.username, &settings.password) {
            (Some(user), Some(password)) => {
                builder = builder.credentials(Credentials::new(user.clone(), password.expose_secret().to_owned()));
            }
            (None, None) => {}
            _ => return Err(SmtpSetupError::Credentials),
        }
        Ok(Self { transport: builder.build(), host: settings.host.clone() })
    }
}

/// `Auto-Submitted: auto-generated` (RFC 3834): tells mail servers and
/// clients not to send vacation replies to a machine.
#[derive(Debug, Clone)]
struct AutoSubmitted;

impl header::Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-generated".to_owned())
    }
}

/// The MIME message: From, To, Subject (RFC 2047 encoded by lettre, so Czech
/// diacritics survive), Message-ID, Date, Auto-Submitted, and a
/// multipart/alternative body with text/plain and text/html.
pub fn build_message(mail: &OutgoingMail) -> Result<Message, ChannelError> {
    let from: Mailbox = mail
        .from
        .parse()
        .map_err(|_| ChannelError::Permanent("the From address setting is not a valid mailbox".into()))?;
    let to: Mailbox = mail
        .to
        .as_str()
        .parse()
        .map_err(|_| ChannelError::Permanent("the recipient address is not accepted by the mail library".into()))?;
    Message::builder()
        .from(from)
        .to(to)
        .subject(mail.subject.clone())
        .message_id(Some(mail.message_id.clone()))
        .date_now()
        .header(AutoSubmitted)
        .multipart(MultiPart::alternative_plain_html(mail.text.clone(), mail.html.clone()))
        .map_err(|_| ChannelError::Permanent("the message could not be built".into()))
}

fn classify(error: &lettre::transport::smtp::Error) -> ChannelError {
    let code = error.status().map(|code| format!(" {code}")).unwrap_or_default();
    if error.is_permanent() {
        ChannelError::Permanent(format!("the mail server refused the message (SMTP{code})"))
    } else if error.is_transient() {
        ChannelError::Temporary(format!("the mail server deferred the message (SMTP{code})"))
    } else if error.is_timeout() {
        ChannelError::Temporary("the mail server did not answer in time".into())
    } else if error.is_tls() {
        ChannelError::Temporary("the TLS connection to the mail server failed".into())
    } else {
        ChannelError::Temporary("the mail server could not be reached".into())
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    #[tracing::instrument(skip_all, fields(message_id = %mail.message_id, smtp.host = %self.host))]
    async fn send(&self, mail: &OutgoingMail) -> Result<Delivery, ChannelError> {
        let message = build_message(mail)?;
        match self.transport.send(message).await {
            Ok(response) => {
                tracing::info!(code = %response.code(), "the mail server accepted the message");
                Ok(Delivery::accepted())
            }
            Err(error) => {
                let classified = classify(&error);
                if error.is_response() {
                    // Servers echo addresses in their replies: log the class and code only.
                    tracing::warn!(reason = classified.reason(), "the mail server refused or deferred the message");
                } else {
                    tracing::warn!(error = %portal_host::runtime::error_chain(&error), reason = classified.reason(), "sending e-mail failed");
                }
                Err(classified)
            }
        }
    }
}
