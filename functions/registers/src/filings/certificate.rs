//! Just enough DER (ITU-T X.690) to read an X.509 certificate's serial
//! number, validity and subject common name (RFC 5280 § 4.1):
//!
//! ```text
//! Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING }
//! TBSCertificate ::= SEQUENCE { [0] EXPLICIT version OPTIONAL, serialNumber INTEGER,
//!     signature AlgorithmIdentifier, issuer Name, validity Validity, subject Name, ... }
//! Validity ::= SEQUENCE { notBefore Time, notAfter Time }   -- UTCTime or GeneralizedTime
//! ```
//!
//! The portal checks that a certificate is one (structure, dates) before it
//! files it; the agency verifies the signature and the qualified status
//! against the EU trusted lists. Definite lengths only (DER), no trailing
//! bytes.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const OID: u8 = 0x06;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;
const VERSION_TAG: u8 = 0xA0;
/// id-at-commonName, 2.5.4.3.
const COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];

/// What the portal reads from a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateInfo {
    /// Upper-case hex.
    pub serial_number: String,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub subject_name: Option<String>,
}

/// One TLV: its tag, its content, and what follows it.
fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    if tag & 0x1F == 0x1F {
        return None; // high tag numbers do not occur in the fields read here
    }
    let (&first, mut rest) = rest.split_first()?;
    let length = if first < 0x80 {
        usize::from(first)
    } else {
        let count = usize::from(first & 0x7F);
        if count == 0 || count > 4 {
            return None; // indefinite lengths are not DER; > 4 GB is not a certificate
        }
        let (bytes, after) = rest.split_at_checked(count)?;
        rest = after;
        if bytes[0] == 0 {
            return None; // DER uses the shortest length
        }
        let length = bytes.iter().fold(0usize, |n, b| (n << 8) | usize::from(*b));
        if length < 0x80 {
            return None;
        }
        length
    };
    let (content, after) = rest.split_at_checked(length)?;
    Some((tag, content, after))
}

fn expect(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (found, content, rest) = element(input)?;
    (found == tag).then_some((content, rest))
}

fn digits(text: &[u8]) -> Option<u32> {
    if text.is_empty() || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(text.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0')))
}

/// `YYMMDDHHMMSSZ` (UTCTime: 50–99 → 19xx) or `YYYYMMDDHHMMSSZ`.
fn time_value(tag: u8, text: &[u8]) -> Option<OffsetDateTime> {
    let (year, rest) = match tag {
        UTC_TIME if text.len() == 13 => {
            let yy = i32::try_from(digits(&text[..2])?).ok()?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &text[2..])
        }
        GENERALIZED_TIME if text.len() == 15 => (i32::try_from(digits(&text[..4])?).ok()?, &text[4..]),
        _ => return None,
    };
    if rest.last() != Some(&b'Z') {
        return None;
    }
    let part = |i: usize| digits(&rest[i..i + 2]).and_then(|n| u8::try_from(n).ok());
    let date = Date::from_calendar_date(year, Month::try_from(part(0)?).ok()?, part(2)?).ok()?;
    let time = Time::from_hms(part(4)?, part(6)?, part(8)?).ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_utc())
}

fn common_name(mut name: &[u8]) -> Option<String> {
    while !name.is_empty() {
        let (set, rest) = expect(name, SET)?;
        name = rest;
        let mut attributes = set;
        while !attributes.is_empty() {
            let (attribute, rest) = expect(attributes, SEQUENCE)?;
            attributes = rest;
            let (oid, value) = expect(attribute, OID)?;
            if oid == COMMON_NAME {
                let (_, text, _) = element(value)?;
                return String::from_utf8(text.to_vec()).ok();
            }
        }
    }
    None
}

/// Reads a DER certificate; `None` when it is not one.
pub fn read_certificate(der: &[u8]) -> Option<CertificateInfo> {
    let (certificate, trailing) = expect(der, SEQUENCE)?;
    if !trailing.is_empty() {
        return None;
    }
    let (tbs, rest) = expect(certificate, SEQUENCE)?;
    let (_, rest) = expect(rest, SEQUENCE)?; // signatureAlgorithm
    let (_, rest) = expect(rest, BIT_STRING)?; // signatureValue
    if !rest.is_empty() {
        return None;
    }
    let mut fields = tbs;
    if fields.first() == Some(&VERSION_TAG) {
        fields = element(fields)?.2;
    }
    let (serial, fields) = expect(fields, INTEGER)?;
    if serial.is_empty() {
        return None;
    }
    let (_, fields) = expect(fields, SEQUENCE)?; // signature
    let (_, fields) = expect(fields, SEQUENCE)?; // issuer
    let (validity, fields) = expect(fields, SEQUENCE)?;
    let (subject, _) = expect(fields, SEQUENCE)?;
    let (tag, text, rest) = element(validity)?;
    let not_before = time_value(tag, text)?;
    let (tag, text, rest) = element(rest)?;
    let not_after = time_value(tag, text)?;
    if !rest.is_empty() {
        return None;
    }
    Some(CertificateInfo {
        serial_number: serial.iter().map(|b| format!("{b:02X}")).collect(),
        not_before,
        not_after,
        subject_name: common_name(subject),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        if content.len() < 0x80 {
            out.push(content.len() as u8);
        } else {
            out.push(0x82);
            out.extend_from_slice(&(content.len() as u16).to_be_bytes());
        }
        out.extend_from_slice(content);
        out
    }

    #[test]
    fn reads_serial_validity_and_common_name() {
        let cn = tlv(SET, &tlv(SEQUENCE, &[tlv(OID, COMMON_NAME), tlv(0x0C, "Jana Nováková".as_bytes())].concat()));
        let validity =
            tlv(SEQUENCE, &[tlv(UTC_TIME, b"260101000000Z"), tlv(GENERALIZED_TIME, b"20281231235959Z")].concat());
        let tbs = tlv(
            SEQUENCE,
            &[
                tlv(VERSION_TAG, &tlv(INTEGER, &[2])),
                tlv(INTEGER, &[0x01, 0xAB]),
                tlv(SEQUENCE, &tlv(OID, &[0x2A])),
                tlv(SEQUENCE, &cn),
                validity,
                tlv(SEQUENCE, &cn),
                tlv(SEQUENCE, &[0u8; 200]),
            ]
            .concat(),
        );
        let der = tlv(SEQUENCE, &[tbs, tlv(SEQUENCE, &tlv(OID, &[0x2A])), tlv(BIT_STRING, &[0, 1, 2])].concat());
        let info = read_certificate(&der).expect("a certificate");
        assert_eq!(info.serial_number, "01AB");
        assert_eq!(info.not_before, datetime!(2026-01-01 00:00 UTC));
        assert_eq!(info.not_after, datetime!(2028-12-31 23:59:59 UTC));
        assert_eq!(info.subject_name.as_deref(), Some("Jana Nováková"));
        let mut trailing = der.clone();
        trailing.push(0);
        assert_eq!(read_certificate(&trailing), None, "trailing bytes");
        assert_eq!(read_certificate(&der[..der.len() - 1]), None, "truncated");
        assert_eq!(read_certificate(b"\x30\x80\x00\x00"), None, "indefinite length");
    }
}
