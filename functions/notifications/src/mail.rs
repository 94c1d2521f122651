//! The e-mail port: [`Mailer`], with two adapters:
//! - [`crate::smtp::SmtpMailer`] (production): SMTP over TLS through lettre;
//! - [`SimulatedMailer`] (SIMULATOR, local mode and tests): sends nothing,
//!   keeps the messages in memory and logs that nothing left the machine.

use std::sync::Mutex;

use async_trait::async_trait;

use crate::address::EmailAddress;
use crate::channel::{ChannelError, Delivery};

/// One e-mail, rendered: the capability fills in every field, the adapter
/// only carries it.
#[derive(Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    /// `Portál občana <noreply@portal.gov.cz>` (the setting).
    pub from: String,
    pub to: EmailAddress,
    /// Czech, one line.
    pub subject: String,
    pub text: String,
    /// Already escaped: the HTML templates escape every inserted value ([`crate::templates`]).
    pub html: String,
    /// `<…@domain>`: stable per notification and channel, so a resend is
    /// recognisable as the same message by mail clients.
    pub message_id: String,
}

impl std::fmt::Debug for OutgoingMail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutgoingMail").field("message_id", &self.message_id).finish_non_exhaustive()
    }
}

#[async_trait]
pub trait Mailer: Send + Sync + std::fmt::Debug {
    async fn send(&self, mail: &OutgoingMail) -> Result<Delivery, ChannelError>;

    /// True for a simulator (shown to citizens next to delivery status).
    fn simulated(&self) -> bool {
        false
    }
}

/// SIMULATOR: an e-mail "sent" here goes nowhere. It is kept in memory for
/// inspection (tests, the local developer) and a log line says nothing was
/// sent. It can be told to fail the next sends.
#[derive(Debug, Default)]
pub struct SimulatedMailer {
    sent: Mutex<Vec<OutgoingMail>>,
    failures: Mutex<Vec<ChannelError>>,
}

impl SimulatedMailer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every mail accepted so far, oldest first.
    pub fn sent(&self) -> Vec<OutgoingMail> {
        self.sent.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// The next `times` sends fail with `error`.
    pub fn fail_next(&self, times: usize, error: ChannelError) {
        let mut failures = self.failures.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        failures.extend(std::iter::repeat_n(error, times));
    }
}

#[async_trait]
impl Mailer for SimulatedMailer {
    async fn send(&self, mail: &OutgoingMail) -> Result<Delivery, ChannelError> {
        {
            let mut failures = self.failures.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if !failures.is_empty() {
                return Err(failures.remove(0));
            }
        }
        tracing::info!(message_id = %mail.message_id, "SIMULATOR: e-mail not sent, kept in memory");
        self.sent.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(mail.clone());
        Ok(Delivery { delivered: false, reference: Some(format!("simulated:{}", mail.message_id)) })
    }

    fn simulated(&self) -> bool {
        true
    }
}
