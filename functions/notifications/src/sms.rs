//! The SMS port: [`SmsGateway`].
//!
//! **No production SMS adapter exists yet.** The portal has no contract with
//! an SMS gateway (operator) at the time of writing, so production uses
//! [`SmsNotConnected`], which refuses every message with a permanent "not
//! connected" error. Because a phone number can only be verified by a code
//! sent over SMS, no citizen can switch SMS on in production until a real
//! adapter is written; the e-mail and in-portal channels are unaffected.
//! [`SimulatedSms`] (SIMULATOR) serves local mode and tests.
//!
//! Texts with Czech diacritics travel as UCS-2 (70 characters per segment)
//! unless the gateway transliterates; the templates keep SMS short for that
//! reason.

use std::sync::Mutex;

use async_trait::async_trait;

use crate::address::PhoneNumber;
use crate::channel::{ChannelError, Delivery};

/// One SMS: the number and a short text with no more personal data than the
/// notice needs (no message subjects, no sender names).
#[derive(Clone, PartialEq, Eq)]
pub struct OutgoingSms {
    pub to: PhoneNumber,
    pub text: String,
    /// Stable per notification (the gateway's idempotency key, where it has one).
    pub reference: String,
}

impl std::fmt::Debug for OutgoingSms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutgoingSms").field("reference", &self.reference).finish_non_exhaustive()
    }
}

#[async_trait]
pub trait SmsGateway: Send + Sync + std::fmt::Debug {
    async fn send(&self, sms: &OutgoingSms) -> Result<Delivery, ChannelError>;

    /// True for a simulator (shown to citizens next to delivery status).
    fn simulated(&self) -> bool {
        false
    }
}

/// Production until an SMS gateway is contracted: every send fails
/// permanently, saying so.
#[derive(Debug, Default, Clone, Copy)]
pub struct SmsNotConnected;

pub const NOT_CONNECTED: &str = "no SMS gateway is connected to the portal yet";

#[async_trait]
impl SmsGateway for SmsNotConnected {
    async fn send(&self, _: &OutgoingSms) -> Result<Delivery, ChannelError> {
        Err(ChannelError::Permanent(NOT_CONNECTED.into()))
    }
}

/// SIMULATOR: records every SMS in memory instead of sending it and reports
/// it delivered, as a gateway's delivery report would. It can be told to fail
/// the next N sends (temporarily or permanently) for tests.
#[derive(Debug, Default)]
pub struct SimulatedSms {
    sent: Mutex<Vec<OutgoingSms>>,
    failures: Mutex<Vec<ChannelError>>,
    attempts: Mutex<u64>,
}

impl SimulatedSms {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every SMS accepted so far, oldest first.
    pub fn sent(&self) -> Vec<OutgoingSms> {
        self.sent.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// How many times `send` was called, failures included.
    pub fn attempts(&self) -> u64 {
        *self.attempts.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The next `times` sends fail with `error`.
    pub fn fail_next(&self, times: usize, error: ChannelError) {
        let mut failures = self.failures.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        failures.extend(std::iter::repeat_n(error, times));
    }
}

#[async_trait]
impl SmsGateway for SimulatedSms {
    async fn send(&self, sms: &OutgoingSms) -> Result<Delivery, ChannelError> {
        *self.attempts.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) += 1;
        {
            let mut failures = self.failures.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if !failures.is_empty() {
                return Err(failures.remove(0));
            }
        }
        tracing::info!(reference = %sms.reference, "SIMULATOR: SMS not sent, kept in memory");
        self.sent.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(sms.clone());
        Ok(Delivery { delivered: true, reference: Some(format!("simulated:{}", sms.reference)) })
    }

    fn simulated(&self) -> bool {
        true
    }
}
