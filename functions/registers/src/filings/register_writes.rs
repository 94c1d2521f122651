//! Requests to write data into the population register (§ 3 of the
//! registers issue), each a filing: `POST /api/filings/register-writes` with
//! `{kind, ...}`. Everything is checked here, once, and every broken rule is
//! named with its field:
//!
//! - `delivery-address` (adresa pro doručování): a Czech address,
//!   structured: `street` (optional: small municipalities have none),
//!   `houseNumber` (č. p., 1–5 digits) with an optional `orientationNumber`
//!   (č. o., 1–3 digits and an optional letter), `municipality`, `postcode`
//!   (PSČ, 5 digits, a space after the third allowed); or instead of street
//!   and numbers a `poBox` (P. O. Box, 1–5 digits) at the post office of the
//!   postcode. Addresses abroad are not taken here (the register takes them
//!   at an office).
//! - `contact`: `email` and/or `phone` for the population register, by the
//!   notification capability's rules: an e-mail address of at most 254
//!   characters (a sane subset of RFC 5321); a phone number in E.164, `+420`
//!   with exactly 9 digits or the calling code of another EU member state.
//! - `qualified-certificate`: `certificate`, a PEM (`-----BEGIN
//!   CERTIFICATE-----`) or base64 DER X.509 certificate, read by
//!   [`super::certificate`] (the `x509-cert` crate); an expired or not yet valid certificate is refused.

use base64::Engine as _;
use portal_host::FieldViolation;
use portal_security::contact::{EmailAddress, PhoneNumber};
use serde_json::Value;
use time::OffsetDateTime;

use super::certificate;
use crate::gateway::{CertificateData, ContactData, DeliveryAddressData, FilingSubmission};

pub const KIND_RULE: &str = "one of delivery-address, contact, qualified-certificate";
pub const CERTIFICATE_RULE: &str = "a PEM (-----BEGIN CERTIFICATE-----, your certificate first, then its \
                                    intermediate CAs) or base64 DER X.509 certificate, at most 16 kB";

/// A validated request, ready to be filed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterWrite {
    pub submission: FilingSubmission,
    pub title: String,
    /// A qualified certificate's intermediate CAs as given (DER), for [`certificate::verify`].
    pub intermediates: Vec<Vec<u8>>,
}

fn text<'a>(body: &'a Value, field: &str) -> Result<Option<&'a str>, FieldViolation> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim())),
        Some(_) => Err(FieldViolation::new(field, "must be a string")),
    }
}

/// Parses the body; the error lists every broken rule.
pub fn parse(body: &Value, now: OffsetDateTime) -> Result<RegisterWrite, Vec<FieldViolation>> {
    if !body.is_object() {
        return Err(vec![FieldViolation::new("body", "a JSON object with kind and the kind's fields")]);
    }
    match body.get("kind").and_then(Value::as_str) {
        Some("delivery-address") => delivery_address(body),
        Some("contact") => contact(body),
        Some("qualified-certificate") => certificate(body, now),
        _ => Err(vec![FieldViolation::new("kind", KIND_RULE)]),
    }
}

fn field<T>(errors: &mut Vec<FieldViolation>, result: Result<T, FieldViolation>) -> Option<T> {
    result.map_err(|e| errors.push(e)).ok()
}

fn delivery_address(body: &Value) -> Result<RegisterWrite, Vec<FieldViolation>> {
    let mut errors = Vec::new();
    let name_ok = |s: &str, max: usize| {
        s.chars().count() <= max
            && s.chars().all(|c| c.is_alphanumeric() || " .,-/'()".contains(c))
            && s.chars().any(char::is_alphabetic)
    };
    let street = field(&mut errors, text(body, "street")).flatten();
    if let Some(street) = street
        && !name_ok(street, 100)
    {
        errors.push(FieldViolation::new("street", "at most 100 characters: letters, digits, spaces and . , - / ' ( )"));
    }
    let municipality = field(&mut errors, text(body, "municipality")).flatten();
    match municipality {
        None => errors.push(FieldViolation::new("municipality", "required: the municipality (obec), e.g. Praha 10")),
        Some(m) if !name_ok(m, 100) => errors.push(FieldViolation::new(
            "municipality",
            "at most 100 characters: letters, digits, spaces and . , - / ' ( )",
        )),
        Some(_) => {}
    }
    let postcode = field(&mut errors, text(body, "postcode")).flatten().map(|p| p.replace(' ', ""));
    match &postcode {
        None => errors.push(FieldViolation::new("postcode", "required: PSČ, 5 digits, e.g. 100 00")),
        Some(p) if !(p.len() == 5 && p.chars().all(|c| c.is_ascii_digit()) && !p.starts_with('0')) => errors.push(
            FieldViolation::new("postcode", "PSČ: 5 digits not starting with 0 (one space after the third allowed)"),
        ),
        Some(_) => {}
    }
    let number = |s: &str, max: usize| s.len() <= max && s.chars().all(|c| c.is_ascii_digit()) && !s.starts_with('0');
    let house = field(&mut errors, text(body, "houseNumber")).flatten();
    let orientation = field(&mut errors, text(body, "orientationNumber")).flatten();
    let po_box = field(&mut errors, text(body, "poBox")).flatten();
    if let Some(po_box) = po_box {
        if !number(po_box, 5) {
            errors.push(FieldViolation::new("poBox", "the P. O. Box number: 1-5 digits, not starting with 0"));
        }
        for (name, value) in [("street", street), ("houseNumber", house), ("orientationNumber", orientation)] {
            if value.is_some() {
                errors.push(FieldViolation::new(name, "must be empty with a P. O. Box: the box is the address"));
            }
        }
    } else {
        match house {
            None => errors.push(FieldViolation::new(
                "houseNumber",
                "required: číslo popisné (č. p.), 1-5 digits (or give a poBox instead of a street address)",
            )),
            Some(h) if !number(h, 5) => errors
                .push(FieldViolation::new("houseNumber", "číslo popisné (č. p.): 1-5 digits, not starting with 0")),
            Some(_) => {}
        }
        if let Some(o) = orientation {
            let digits: String = o.chars().take_while(char::is_ascii_digit).collect();
            let letter: String = o.chars().skip(digits.len()).collect();
            let ok = !digits.is_empty()
                && number(&digits, 3)
                && (letter.is_empty()
                    || (letter.chars().count() == 1 && letter.chars().all(|c| c.is_ascii_lowercase())));
            if !ok {
                errors.push(FieldViolation::new(
                    "orientationNumber",
                    "číslo orientační (č. o.): 1-3 digits and an optional lower-case letter, e.g. 12a",
                ));
            }
        }
    }
    let (Some(municipality), Some(postcode), true) = (municipality, postcode, errors.is_empty()) else {
        return Err(errors);
    };
    let data = DeliveryAddressData {
        street: street.map(str::to_owned),
        house_number: house.map(str::to_owned),
        orientation_number: orientation.map(str::to_owned),
        municipality: municipality.to_owned(),
        postcode,
        po_box: po_box.map(str::to_owned),
    };
    Ok(RegisterWrite {
        intermediates: Vec::new(),
        title: format!("Adresa pro doručování do registru obyvatel: {}", data.formatted()),
        submission: FilingSubmission::DeliveryAddress(data),
    })
}

/// An e-mail address for the population register, by the portal's one rule.
fn email(input: &str) -> Result<String, &'static str> {
    EmailAddress::parse(input).map(|address| address.as_str().to_owned())
}

/// A phone number for the population register (E.164, EU), by the portal's one rule.
fn phone(input: &str) -> Result<String, &'static str> {
    PhoneNumber::parse(input).map(|number| number.as_str().to_owned())
}

fn contact(body: &Value) -> Result<RegisterWrite, Vec<FieldViolation>> {
    let mut errors = Vec::new();
    let email = field(&mut errors, text(body, "email"))
        .flatten()
        .and_then(|e| email(e).map_err(|rule| errors.push(FieldViolation::new("email", rule))).ok());
    let phone = field(&mut errors, text(body, "phone"))
        .flatten()
        .and_then(|p| phone(p).map_err(|rule| errors.push(FieldViolation::new("phone", rule))).ok());
    if errors.is_empty() && email.is_none() && phone.is_none() {
        errors.push(FieldViolation::new("email", "give an e-mail address, a phone number or both"));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let what = match (&email, &phone) {
        (Some(_), Some(_)) => "e-mail a telefon",
        (Some(_), None) => "e-mail",
        _ => "telefon",
    };
    Ok(RegisterWrite {
        intermediates: Vec::new(),
        title: format!("Kontaktní údaje do registru obyvatel: {what}"),
        submission: FilingSubmission::Contact(ContactData { email, phone }),
    })
}

fn certificate(body: &Value, now: OffsetDateTime) -> Result<RegisterWrite, Vec<FieldViolation>> {
    let bad = |rule: String| vec![FieldViolation::new("certificate", rule)];
    let input = match text(body, "certificate") {
        Ok(Some(input)) if input.len() <= 16 * 1024 => input,
        Ok(None) => return Err(bad(format!("required: {CERTIFICATE_RULE}"))),
        _ => return Err(bad(CERTIFICATE_RULE.to_owned())),
    };
    let Some(mut chain) = certificate::certificates(input) else { return Err(bad(CERTIFICATE_RULE.to_owned())) };
    let der = chain.remove(0);
    let Some(info) = certificate::read_certificate(&der) else {
        return Err(bad(
            "not an X.509 certificate: the DER structure (certificate, validity) could not be read".to_owned()
        ));
    };
    let day = |at: OffsetDateTime| at.date().to_string();
    if now > info.not_after {
        return Err(bad(format!("the certificate expired on {}: enter a valid one", day(info.not_after))));
    }
    if now < info.not_before {
        return Err(bad(format!("the certificate is not valid before {}", day(info.not_before))));
    }
    let who = info.subject_name.clone().map_or_else(String::new, |name| format!(" ({name})"));
    Ok(RegisterWrite {
        intermediates: chain,
        title: format!("Zápis kvalifikovaného certifikátu č. {}{who}", info.serial_number),
        submission: FilingSubmission::QualifiedCertificate(CertificateData {
            certificate: base64::engine::general_purpose::STANDARD.encode(&der),
            serial_number: info.serial_number,
            not_before: info.not_before,
            not_after: info.not_after,
            subject_name: info.subject_name,
        }),
    })
}

#[cfg(test)]
mod tests {
    use portal_security::contact::{EMAIL_RULE, PHONE_CZ_RULE, PHONE_EU_RULE, PHONE_RULE};

    use super::*;

    #[test]
    fn contacts_follow_the_notification_rules() {
        assert_eq!(phone("+420 601 123 456").as_deref(), Ok("+420601123456"));
        assert_eq!(phone("+42060112345"), Err(PHONE_CZ_RULE));
        assert_eq!(phone("+12025550123"), Err(PHONE_EU_RULE));
        assert_eq!(phone("601123456"), Err(PHONE_RULE));
        assert_eq!(email("Jana@Example.CZ").as_deref(), Ok("Jana@example.cz"));
        assert_eq!(email(&format!("{}@example.cz", "a".repeat(250))), Err(EMAIL_RULE));
        assert_eq!(email("jana@example"), Err(EMAIL_RULE));
    }
}
