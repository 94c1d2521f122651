//! The two kinds of contact a citizen can give, parsed once at the edge:
//! [`EmailAddress`] and [`PhoneNumber`], with the rules a problem response
//! names. One definition for every capability that takes contacts
//! (notifications verifies them; registers files them into the population
//! register), so a number accepted in one place is accepted in the other.

use std::fmt;

/// An e-mail address that passes a sane subset of RFC 5321: at most 254
/// characters, a dot-atom local part of at most 64 characters, and a domain of
/// at least two dot-separated labels (letters, digits, hyphens, 1–63 characters
/// each, no leading or trailing hyphen, an alphabetic or `xn--` top level).
/// Quoted local parts and address literals are refused: no citizen needs them
/// and mail relays handle them poorly. The domain is lowercased.
#[derive(Clone, PartialEq, Eq)]
pub struct EmailAddress(String);

/// The rule an address broke, in words a developer can act on.
pub const EMAIL_RULE: &str = "an e-mail address like jana@example.cz: at most 254 characters, local part of letters, digits and .!#$%&'*+/=?^_`{|}~- (no leading, trailing or double dots, at most 64), a domain with at least two labels";

impl EmailAddress {
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        let input = input.trim();
        if input.is_empty() || input.len() > 254 {
            return Err(EMAIL_RULE);
        }
        let Some((local, domain)) = input.rsplit_once('@') else { return Err(EMAIL_RULE) };
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local.chars().all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = domain.len() <= 253
            && labels.len() >= 2
            && labels.iter().all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            })
            && labels.last().is_some_and(|tld| {
                tld.len() >= 2 && (tld.chars().all(|c| c.is_ascii_alphabetic()) || tld.starts_with("xn--"))
            });
        if !(local_ok && domain_ok) {
            return Err(EMAIL_RULE);
        }
        Ok(Self(format!("{local}@{}", domain.to_ascii_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Addresses are personal data: debug output never shows them.
impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EmailAddress(…)")
    }
}

/// The calling codes of the member states of the European Union. SMS go to
/// Czech numbers and to numbers of other member states (the portal's own
/// rule for expiry notices); anything else is refused.
pub const EU_CALLING_CODES: [&str; 27] = [
    "420", // Czechia
    "421", // Slovakia
    "43",  // Austria
    "32",  // Belgium
    "359", // Bulgaria
    "385", // Croatia
    "357", // Cyprus
    "45",  // Denmark
    "372", // Estonia
    "358", // Finland
    "33",  // France
    "49",  // Germany
    "30",  // Greece
    "36",  // Hungary
    "353", // Ireland
    "39",  // Italy
    "371", // Latvia
    "370", // Lithuania
    "352", // Luxembourg
    "356", // Malta
    "31",  // Netherlands
    "48",  // Poland
    "351", // Portugal
    "40",  // Romania
    "386", // Slovenia
    "34",  // Spain
    "46",  // Sweden
];

/// A mobile number in E.164 form: `+`, then 8–15 digits, starting with the
/// calling code of an EU member state; a Czech number (`+420`) has exactly 9
/// digits after the code. Spaces are dropped on input.
#[derive(Clone, PartialEq, Eq)]
pub struct PhoneNumber(String);

pub const PHONE_RULE: &str = "an E.164 number: '+' then 8-15 digits (spaces allowed), e.g. +420601123456";
pub const PHONE_CZ_RULE: &str = "a Czech number is +420 followed by exactly 9 digits";
pub const PHONE_EU_RULE: &str =
    "only numbers of EU member states are accepted (+420 Czechia, +421 Slovakia, +49 Germany, ...)";

impl PhoneNumber {
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        let compact: String = input.chars().filter(|c| *c != ' ').collect();
        let Some(digits) = compact.strip_prefix('+') else { return Err(PHONE_RULE) };
        if !(8..=15).contains(&digits.len()) || !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(PHONE_RULE);
        }
        if let Some(national) = digits.strip_prefix("420") {
            return if national.len() == 9 { Ok(Self(compact)) } else { Err(PHONE_CZ_RULE) };
        }
        if EU_CALLING_CODES.iter().any(|code| digits.starts_with(code)) {
            Ok(Self(compact))
        } else {
            Err(PHONE_EU_RULE)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `+420 *** *** 456`: enough for the citizen to recognise the number.
    pub fn masked(&self) -> String {
        let tail: String = self.0.chars().rev().take(3).collect::<Vec<_>>().into_iter().rev().collect();
        format!("…{tail}")
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PhoneNumber(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_addresses_follow_a_sane_rfc_5321_subset() {
        for good in ["jana@example.cz", "jana.novakova+portal@Mail.Example.CZ", "a@b.xn--p1ai", "o'brien@x.ie"] {
            assert!(EmailAddress::parse(good).is_ok(), "{good}");
        }
        assert_eq!(EmailAddress::parse(" Jana@Example.CZ ").map(|a| a.0), Ok("Jana@example.cz".to_owned()));
        let long_local = format!("{}@example.cz", "a".repeat(65));
        let too_long = format!("{}@{}.cz", "a".repeat(60), "b".repeat(200));
        for bad in [
            "",
            "jana",
            "jana@",
            "@example.cz",
            "jana@example",
            "jana@@example.cz",
            "ja na@example.cz",
            ".jana@example.cz",
            "ja..na@example.cz",
            "jana@-example.cz",
            "jana@example.c",
            "jana@example.123",
            "\"jana\"@example.cz",
            "jana@[127.0.0.1]",
            "jana@exa_mple.cz",
            "jana@example.cz\r\nBcc: x@y.cz",
            long_local.as_str(),
            too_long.as_str(),
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn phone_numbers_are_e164_in_the_eu() {
        assert_eq!(PhoneNumber::parse("+420 601 123 456").map(|p| p.0), Ok("+420601123456".to_owned()));
        assert!(PhoneNumber::parse("+421901123456").is_ok(), "Slovakia");
        assert!(PhoneNumber::parse("+4915112345678").is_ok(), "Germany");
        assert!(PhoneNumber::parse("+35312345678").is_ok(), "Ireland");
        assert_eq!(PhoneNumber::parse("+42060112345"), Err(PHONE_CZ_RULE), "8 digits after +420");
        assert_eq!(PhoneNumber::parse("+4206011234567"), Err(PHONE_CZ_RULE), "10 digits after +420");
        assert_eq!(PhoneNumber::parse("+447911123456"), Err(PHONE_EU_RULE), "United Kingdom");
        assert_eq!(PhoneNumber::parse("+12025550123"), Err(PHONE_EU_RULE), "United States");
        assert_eq!(PhoneNumber::parse("+41791234567"), Err(PHONE_EU_RULE), "Switzerland");
        for bad in ["420601123456", "+420-601-123-456", "+1234567", "+1234567890123456", "", "+"] {
            assert_eq!(PhoneNumber::parse(bad), Err(PHONE_RULE), "{bad}");
        }
        assert_eq!(PhoneNumber::parse("+420601123456").map(|p| p.masked()), Ok("…456".to_owned()));
    }
}
