use std::fmt;

use serde::{Deserialize, Serialize};

/// The citizen's identifier in the portal: the pseudonym NIA issues per service
/// provider (`PersonIdentifier`). Never the birth number. It partitions every
/// personal record.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SubjectId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a subject id is 1-200 printable characters without '/', '\\', '?' or '#'")]
pub struct SubjectIdError;

impl SubjectId {
    pub fn parse(value: impl Into<String>) -> Result<Self, SubjectIdError> {
        let value = value.into();
        let ok = !value.is_empty()
            && value.len() <= 200
            && !value.contains(['/', '\\', '?', '#'])
            && !value.chars().any(char::is_control)
            && value.trim() == value;
        if ok { Ok(Self(value)) } else { Err(SubjectIdError) }
    }

    /// From NIA's `PersonIdentifier` (eIDAS form `CZ/CZ/<pseudonym>`): the
    /// characters a store key cannot hold (`/ \ ? # %`) are percent-encoded, so
    /// the mapping is one-to-one and readable.
    pub fn from_person_identifier(raw: &str) -> Result<Self, SubjectIdError> {
        let mut encoded = String::with_capacity(raw.len());
        for c in raw.chars() {
            match c {
                '/' | '\\' | '?' | '#' | '%' => encoded.push_str(&format!("%{:02X}", c as u32)),
                c => encoded.push(c),
            }
        }
        Self::parse(encoded)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for SubjectId {
    type Error = SubjectIdError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl From<SubjectId> for String {
    fn from(value: SubjectId) -> Self {
        value.0
    }
}

/// Pseudonyms are personal data: logs show a short fingerprint only.
impl fmt::Debug for SubjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SubjectId({})", &crate::digest_hex(&self.0)[..12])
    }
}

/// eIDAS level of assurance (úroveň záruky): low, substantial, high.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Loa {
    Low,
    Substantial,
    High,
}

impl Loa {
    pub const LOW_URI: &'static str = "http://eidas.europa.eu/LoA/low";
    pub const SUBSTANTIAL_URI: &'static str = "http://eidas.europa.eu/LoA/substantial";
    pub const HIGH_URI: &'static str = "http://eidas.europa.eu/LoA/high";

    /// From an `acr` claim: the eIDAS URIs, or the bare level names.
    pub fn from_acr(acr: &str) -> Option<Self> {
        match acr {
            Self::LOW_URI | "low" => Some(Self::Low),
            Self::SUBSTANTIAL_URI | "substantial" => Some(Self::Substantial),
            Self::HIGH_URI | "high" => Some(Self::High),
            _ => None,
        }
    }

    /// From an ID token's `acr`: only the exact eIDAS LoA URIs; a bare level
    /// name, another case or any other text is no level at all.
    pub fn from_eidas_uri(acr: &str) -> Option<Self> {
        match acr {
            Self::LOW_URI => Some(Self::Low),
            Self::SUBSTANTIAL_URI => Some(Self::Substantial),
            Self::HIGH_URI => Some(Self::High),
            _ => None,
        }
    }

    pub fn as_uri(self) -> &'static str {
        match self {
            Self::Low => Self::LOW_URI,
            Self::Substantial => Self::SUBSTANTIAL_URI,
            Self::High => Self::HIGH_URI,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Substantial => "substantial",
            Self::High => "high",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_ids_are_checked_and_not_logged() {
        let id = SubjectId::parse("CZ/CZ/abc").err();
        assert_eq!(id, Some(SubjectIdError), "slashes would break partition keys");
        let id = SubjectId::parse("7f3e9a0c-pseudonym").expect("valid");
        assert!(!format!("{id:?}").contains("pseudonym"), "Debug hides the pseudonym");
        for bad in ["", " padded ", "a\nb", &"x".repeat(201)] {
            assert!(SubjectId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn eidas_person_identifiers_become_store_safe() {
        let id = SubjectId::from_person_identifier("CZ/CZ/7f3e%9a").expect("valid");
        assert_eq!(id.as_str(), "CZ%2FCZ%2F7f3e%259a");
        let other = SubjectId::from_person_identifier("CZ%2FCZ%2F7f3e%9a").expect("valid");
        assert_ne!(id, other, "the mapping is one-to-one");
    }

    #[test]
    fn levels_order_and_parse() {
        assert!(Loa::Low < Loa::Substantial && Loa::Substantial < Loa::High);
        assert_eq!(Loa::from_acr("http://eidas.europa.eu/LoA/high"), Some(Loa::High));
        assert_eq!(Loa::from_acr("urn:something:else"), None);
    }
}
