//! Where a filing stands, and the history of how it got there.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

/// Where a filing stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FilingStatus {
    /// Created, the fee not paid yet: nothing went to the agency.
    AwaitingPayment,
    /// The fee was declined or the payment expired: nothing went to the
    /// agency, and nothing will.
    PaymentFailed,
    Submitted,
    Accepted,
    InProgress,
    Decided,
    Rejected,
}

impl FilingStatus {
    pub const RECORDABLE_RULE: &'static str = "one of submitted, accepted, in-progress, decided, rejected";

    /// The statuses another capability or the gateway may report.
    pub fn parse_recordable(value: &str) -> Option<Self> {
        match value {
            "submitted" => Some(Self::Submitted),
            "accepted" => Some(Self::Accepted),
            "in-progress" => Some(Self::InProgress),
            "decided" => Some(Self::Decided),
            "rejected" => Some(Self::Rejected),
            _ => None,
        }
    }

    /// The order of the steps: a status recorded late never takes the
    /// filing back to an earlier step.
    pub(crate) fn rank(self) -> u8 {
        match self {
            Self::AwaitingPayment => 0,
            Self::Submitted => 1,
            Self::Accepted => 2,
            Self::InProgress => 3,
            Self::Decided | Self::Rejected | Self::PaymentFailed => 4,
        }
    }

    /// Nothing follows: the agency decided or rejected, or it never got it.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Decided | Self::Rejected | Self::PaymentFailed)
    }

    pub fn czech_name(self) -> &'static str {
        match self {
            Self::AwaitingPayment => "čeká na zaplacení poplatku",
            Self::PaymentFailed => "poplatek nebyl zaplacen",
            Self::Submitted => "podáno",
            Self::Accepted => "přijato úřadem",
            Self::InProgress => "vyřizuje se",
            Self::Decided => "vyřízeno",
            Self::Rejected => "zamítnuto",
        }
    }
}

/// One step of a filing, when it happened, and the agency's note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = FilingStatusEntry)]
#[serde(rename_all = "camelCase")]
pub struct StatusEntry {
    pub status: FilingStatus,
    /// When it happened, as its source stamped it (an agency's clock, often
    /// in whole seconds): shown, never used to order.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The order in which the portal recorded it, from 1.
    #[serde(default)]
    pub seq: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}
