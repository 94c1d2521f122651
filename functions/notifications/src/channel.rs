//! What every outside delivery channel (e-mail, SMS) answers: a delivery, or
//! an error that says whether trying again later can help.

use serde::{Deserialize, Serialize};

/// The channels a notification may travel through besides the in-portal
/// inbox, which is always on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Email,
    Sms,
}

impl Channel {
    pub const ALL: [Channel; 2] = [Channel::Email, Channel::Sms];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Sms => "sms",
        }
    }

    /// `email` or `sms`, as clients and documents name them. (`phone` is the
    /// contact's name for the SMS channel, see [`Channel::from_contact`].)
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "email" => Some(Self::Email),
            "sms" => Some(Self::Sms),
            _ => None,
        }
    }

    /// The contact routes name the contacts `email` and `phone`.
    pub fn from_contact(name: &str) -> Option<Self> {
        match name {
            "email" => Some(Self::Email),
            "phone" => Some(Self::Sms),
            _ => None,
        }
    }

    pub fn contact_name(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Sms => "phone",
        }
    }
}

/// A channel accepted the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// True when the channel reports the message delivered to the recipient
    /// (an SMS delivery report); false when it was only accepted for delivery
    /// (an SMTP relay's `250`).
    pub delivered: bool,
    /// The channel's own reference, if it gives one (never personal data).
    pub reference: Option<String>,
}

impl Delivery {
    pub fn accepted() -> Self {
        Self { delivered: false, reference: None }
    }
}

/// Why a channel did not take a message. The reason is shown to the citizen
/// in the notification's delivery status and written to the poison queue, so
/// adapters put no personal data (addresses, message texts) in it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    /// Trying again later may help (a timeout, a 4xx SMTP reply, a gateway
    /// that is down).
    #[error("temporary failure: {0}")]
    Temporary(String),
    /// It will never work (the address is refused, the channel is not connected).
    #[error("permanent failure: {0}")]
    Permanent(String),
}

impl ChannelError {
    pub fn is_temporary(&self) -> bool {
        matches!(self, Self::Temporary(_))
    }

    pub fn reason(&self) -> &str {
        match self {
            Self::Temporary(reason) | Self::Permanent(reason) => reason,
        }
    }
}
