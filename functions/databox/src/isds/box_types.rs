//! The port's types for boxes rather than messages: a box's state and
//! description, its credit and data vault, and how a box is searched for.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::BoxId;

/// `dbState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = DataBoxState)]
pub enum BoxState {
    /// 1: the only state that can receive messages.
    Accessible,
    /// 2 (and 6, which ISDS reports as 2): temporarily inaccessible.
    TemporarilyInaccessible,
    /// 3
    NotYetActive,
    /// 4
    PermanentlyInaccessible,
    /// 5
    Removed,
}

impl BoxState {
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            1 => Self::Accessible,
            2 | 6 => Self::TemporarilyInaccessible,
            3 => Self::NotYetActive,
            4 => Self::PermanentlyInaccessible,
            5 => Self::Removed,
            _ => return None,
        })
    }

    pub fn code(self) -> u8 {
        match self {
            Self::Accessible => 1,
            Self::TemporarilyInaccessible => 2,
            Self::NotYetActive => 3,
            Self::PermanentlyInaccessible => 4,
            Self::Removed => 5,
        }
    }
}

/// A data box as ISDS describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = DataBox)]
pub struct BoxInfo {
    pub id: BoxId,
    /// `dbType` code: 10 OVM, 20 PO, 30 PFO, 40 FO, …
    pub box_type: u8,
    pub state: BoxState,
    pub owner_name: String,
    pub address: Option<String>,
    /// Whether it accepts commercial messages.
    pub open_addressing: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreditInfo {
    /// `currentCredit`, in hellers (1/100 CZK).
    pub current_hellers: i64,
}

/// One change of a box's credit (`tCiRecord`, `DataBoxCreditInfo` with a
/// date range).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreditEvent {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// `ciEventType`: 1 charged (a top-up), 2 discharged, 3 message sent,
    /// 4 vault bought, 5 expired, 7 deleted message recovered.
    pub kind: u8,
    /// `ciCreditChange`, hellers (negative when spent).
    pub change_hellers: i64,
    /// `ciCreditAfter`, hellers.
    pub after_hellers: i64,
    /// `ciTransID`, for types 1 and 2: the top-up's transaction.
    pub transaction_id: Option<String>,
}

impl CreditEvent {
    pub const CHARGED: u8 = 1;
    pub const MESSAGE_SENT: u8 = 3;
}

/// The data vault (Datový trezor) of a box.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = DataVault)]
pub struct VaultInfo {
    /// `actDTType`: 0 none, 1 prepaid, 3 contractual, 4 trial, 6 special offer.
    pub vault_type: u8,
    pub capacity: Option<u32>,
    pub used: Option<u32>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub valid_from: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub valid_to: Option<OffsetDateTime>,
}

/// Who a personal box is looked for (`FindPersonalDataBox`): the citizen's
/// name and date of birth as the identity provider gave them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonQuery {
    pub first_name: String,
    pub last_name: String,
    pub birth_date: time::Date,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BoxSearch {
    Id(BoxId),
    /// Part of the owner's name; ISDS wants at least 3 characters.
    Name(String),
    /// A legal person's box (type PO) by its IČO: how the portal finds the
    /// box of a company its statutory body acts for.
    Ico(Ico),
}

/// IČO (identifikační číslo osoby): a legal person's 8 digits, the last a
/// check digit (weights 8 to 2, modulo 11).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ico(String);

impl Ico {
    pub fn parse(value: &str) -> Result<Self, &'static str> {
        let digits: Vec<u32> = value.chars().filter_map(|c| c.to_digit(10)).collect();
        if value.len() != 8 || digits.len() != 8 {
            return Err("an IČO is exactly 8 digits");
        }
        let sum: u32 = digits[..7].iter().zip((2..=8).rev()).map(|(d, w)| d * w).sum();
        let check = (11 - sum % 11) % 10;
        if digits[7] == check { Ok(Self(value.to_owned())) } else { Err("the IČO's check digit does not match") }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Ico {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::Ico;

    #[test]
    fn an_ico_is_eight_digits_with_its_check_digit() {
        // Check digits 8 (sum 135), 1 (sum divisible by 11), 7 and 0 (remainder 1).
        for valid in ["27074358", "00000001", "25596641", "00006947", "00000230"] {
            assert_eq!(Ico::parse(valid).map(|i| i.as_str().to_owned()), Ok(valid.to_owned()), "{valid}");
        }
        for invalid in ["27074359", "2707435", "270743588", "2707435a", " 7074358", "+7074358"] {
            assert!(Ico::parse(invalid).is_err(), "{invalid}");
        }
    }
}
