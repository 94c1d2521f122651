//! What the portal reads from an X.509 certificate (RFC 5280 § 4.1) before
//! it files it: the serial number, the validity and the subject's common
//! name, parsed with the maintained `x509-cert` crate (strict DER: definite
//! lengths, no trailing bytes, the whole structure well formed).
//!
//! Before it files a qualified certificate the portal verifies it
//! ([`verify`]): the chain from the certificate through the intermediates the
//! citizen gave to one of the configured trust anchors (the qualified CAs of
//! the EU trusted list's Czech entries, `PORTAL_QUALIFIED_TRUST_ANCHORS`;
//! locally a committed test CA), every signature on the way (ECDSA P-256 and
//! P-384, RSA PKCS#1 v1.5 with SHA-256/384/512, verified with aws-lc-rs), the
//! intermediates' CA flag, key usage and validity, the certificate's own key
//! usage (digital signature or non-repudiation, and no CA), and that its
//! subject names the citizen (the common name, or given name and surname, as
//! the population register has them; case and spacing aside). The agency
//! still checks the qualified status itself.

use time::OffsetDateTime;
use x509_cert::Certificate;
use x509_cert::der::oid::ObjectIdentifier;
use x509_cert::der::oid::db::rfc4519::{COMMON_NAME, GIVEN_NAME, SURNAME};
use x509_cert::der::{Decode as _, Encode as _};
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage};
use x509_cert::time::Time;

/// What the portal reads from a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateInfo {
    /// Upper-case hex.
    pub serial_number: String,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub subject_name: Option<String>,
}

fn instant(time: Time) -> Option<OffsetDateTime> {
    let seconds = i64::try_from(time.to_unix_duration().as_secs()).ok()?;
    OffsetDateTime::from_unix_timestamp(seconds).ok()
}

/// Reads a DER certificate; `None` when it is not one.
pub fn read_certificate(der: &[u8]) -> Option<CertificateInfo> {
    let certificate = Certificate::from_der(der).ok()?;
    let tbs = certificate.tbs_certificate();
    let serial = tbs.serial_number().as_bytes();
    if serial.is_empty() {
        return None;
    }
    let validity = tbs.validity();
    // The first common name of the subject, whatever its string type, if
    // its bytes are UTF-8.
    let subject_name = tbs
        .subject()
        .iter()
        .find(|attribute| attribute.oid == COMMON_NAME)
        .and_then(|attribute| String::from_utf8(attribute.value.value().to_vec()).ok());
    Some(CertificateInfo {
        serial_number: serial.iter().map(|b| format!("{b:02X}")).collect(),
        not_before: instant(validity.not_before)?,
        not_after: instant(validity.not_after)?,
        subject_name,
    })
}

/// The certificates of a PEM text (one or more `CERTIFICATE` blocks), or of
/// one base64 DER certificate; `None` when it is neither.
pub fn certificates(input: &str) -> Option<Vec<Vec<u8>>> {
    use base64::Engine as _;
    let input = input.trim();
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let decode = |body: &str| {
        let compact: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        base64::engine::general_purpose::STANDARD.decode(compact).ok()
    };
    if !input.contains(BEGIN) {
        return decode(input).map(|der| vec![der]);
    }
    let mut out = Vec::new();
    let mut rest = input;
    while let Some(start) = rest.find(BEGIN) {
        let after = &rest[start + BEGIN.len()..];
        let end = after.find(END)?;
        out.push(decode(&after[..end])?);
        rest = &after[end + END.len()..];
    }
    (!out.is_empty() && rest.trim().is_empty()).then_some(out)
}

/// The qualified CAs a certificate must chain to.
#[derive(Debug, Clone, Default)]
pub struct TrustAnchors(Vec<Certificate>);

impl TrustAnchors {
    /// The anchors of a PEM bundle; `Err` names what is wrong with it.
    pub fn from_pem(pem: &str) -> Result<Self, String> {
        let ders = certificates(pem).ok_or("not a PEM bundle of certificates")?;
        Self::from_der(&ders)
    }

    pub fn from_der(ders: &[Vec<u8>]) -> Result<Self, String> {
        let parsed: Result<Vec<_>, _> = ders.iter().map(|der| Certificate::from_der(der)).collect();
        parsed.map(Self).map_err(|e| format!("a trust anchor is not an X.509 certificate: {e}"))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// SIMULATOR: the test CA committed for local mode (`testdata/`), whose key is
/// public: a certificate it issued proves nothing outside a laptop.
pub const LOCAL_TEST_CA_PEM: &str = include_str!("../../testdata/qualified-test-ca.pem");

/// Why a certificate is not accepted; each says the rule for the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    NotACertificate,
    /// No trust anchors are configured: nothing can be verified.
    NoAnchors,
    /// No chain of valid signatures leads to a trust anchor.
    Untrusted,
    /// An intermediate is not a CA, cannot sign certificates or is not valid now.
    BadIntermediate,
    /// The certificate is a CA's, or its key may not sign.
    KeyUsage,
    /// The subject is somebody else (the name it carries).
    NotTheCitizen(Option<String>),
}

impl Refusal {
    pub fn rule(&self) -> String {
        match self {
            Self::NotACertificate => "not an X.509 certificate".into(),
            Self::NoAnchors => "qualified certificates cannot be verified here: no qualified CA is configured".into(),
            Self::Untrusted => "a certificate issued by a qualified CA (the EU trusted list's Czech providers): \
                                its chain does not lead to one with valid signatures; give the intermediate \
                                certificates after yours in the PEM"
                .into(),
            Self::BadIntermediate => "a chain of CA certificates valid today".into(),
            Self::KeyUsage => {
                "a personal signing certificate (key usage digital signature or non-repudiation, not a CA)".into()
            }
            Self::NotTheCitizen(name) => format!(
                "your own certificate: it is issued to {}, not to you as the population register names you",
                name.as_deref().unwrap_or("someone else")
            ),
        }
    }
}

fn attribute(certificate: &Certificate, oid: ObjectIdentifier) -> Option<String> {
    certificate
        .tbs_certificate()
        .subject()
        .iter()
        .find(|attribute| attribute.oid == oid)
        .and_then(|attribute| String::from_utf8(attribute.value.value().to_vec()).ok())
}

fn normalized(name: &str) -> String {
    name.split_whitespace().map(str::to_lowercase).collect::<Vec<_>>().join(" ")
}

fn valid_at(certificate: &Certificate, now: OffsetDateTime) -> bool {
    let validity = certificate.tbs_certificate().validity();
    match (instant(validity.not_before), instant(validity.not_after)) {
        (Some(from), Some(to)) => from <= now && now <= to,
        _ => false,
    }
}

/// Whether `issuer`'s key made `certificate`'s signature.
fn signed_by(certificate: &Certificate, issuer: &Certificate) -> bool {
    use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
    let Ok(tbs) = certificate.tbs_certificate().to_der() else { return false };
    let Some(signature) = certificate.signature().as_bytes() else { return false };
    let spki = issuer.tbs_certificate().subject_public_key_info();
    let Some(key) = spki.subject_public_key.as_bytes() else { return false };
    let curve = spki.algorithm.parameters.as_ref().and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
    let curve = curve.map(|oid| oid.to_string());
    let algorithm: &'static dyn VerificationAlgorithm =
        match (certificate.signature_algorithm().oid.to_string().as_str(), curve.as_deref()) {
            // ecdsa-with-SHA256 / SHA384 on prime256v1 / secp384r1
            ("1.2.840.10045.4.3.2", Some("1.2.840.10045.3.1.7")) => &signature::ECDSA_P256_SHA256_ASN1,
            ("1.2.840.10045.4.3.2", Some("1.3.132.0.34")) => &signature::ECDSA_P384_SHA256_ASN1,
            ("1.2.840.10045.4.3.3", Some("1.2.840.10045.3.1.7")) => &signature::ECDSA_P256_SHA384_ASN1,
            ("1.2.840.10045.4.3.3", Some("1.3.132.0.34")) => &signature::ECDSA_P384_SHA384_ASN1,
            // sha256/384/512WithRSAEncryption
            ("1.2.840.113549.1.1.11", _) => &signature::RSA_PKCS1_2048_8192_SHA256,
            ("1.2.840.113549.1.1.12", _) => &signature::RSA_PKCS1_2048_8192_SHA384,
            ("1.2.840.113549.1.1.13", _) => &signature::RSA_PKCS1_2048_8192_SHA512,
            _ => return false,
        };
    UnparsedPublicKey::new(algorithm, key).verify(&tbs, signature).is_ok()
}

fn is_ca(certificate: &Certificate) -> bool {
    let tbs = certificate.tbs_certificate();
    let ca = matches!(tbs.get_extension::<BasicConstraints>(), Ok(Some((_, constraints))) if constraints.ca);
    let signs = match tbs.get_extension::<KeyUsage>() {
        Ok(Some((_, usage))) => usage.key_cert_sign(),
        Ok(None) => true,
        Err(_) => false,
    };
    ca && signs
}

/// Verifies a citizen's certificate (DER) with the `intermediates` they gave
/// against `anchors` at `now`, and that it names the citizen (`given_name`,
/// `family_name` as the population register has them).
pub fn verify(
    leaf: &[u8],
    intermediates: &[Vec<u8>],
    anchors: &TrustAnchors,
    now: OffsetDateTime,
    given_name: &str,
    family_name: &str,
) -> Result<(), Refusal> {
    if anchors.is_empty() {
        return Err(Refusal::NoAnchors);
    }
    let certificate = Certificate::from_der(leaf).map_err(|_| Refusal::NotACertificate)?;
    let tbs = certificate.tbs_certificate();
    let signs =
        matches!(tbs.get_extension::<KeyUsage>(), Ok(Some((_, u))) if u.digital_signature() || u.non_repudiation());
    let ca = matches!(tbs.get_extension::<BasicConstraints>(), Ok(Some((_, c))) if c.ca);
    if !signs || ca {
        return Err(Refusal::KeyUsage);
    }
    let intermediates: Vec<Certificate> =
        intermediates.iter().filter_map(|der| Certificate::from_der(der).ok()).collect();
    let mut current = &certificate;
    let mut trusted = false;
    for _ in 0..=intermediates.len() {
        let issuer = current.tbs_certificate().issuer();
        if anchors
            .0
            .iter()
            .any(|a| a.tbs_certificate().subject() == issuer && signed_by(current, a) && valid_at(a, now))
        {
            trusted = true;
            break;
        }
        let Some(next) =
            intermediates.iter().find(|c| c.tbs_certificate().subject() == issuer && signed_by(current, c))
        else {
            break;
        };
        if !is_ca(next) || !valid_at(next, now) {
            return Err(Refusal::BadIntermediate);
        }
        current = next;
    }
    if !trusted {
        return Err(Refusal::Untrusted);
    }
    let common = attribute(&certificate, COMMON_NAME);
    let citizen = normalized(&format!("{given_name} {family_name}"));
    let by_common_name = common.as_deref().is_some_and(|cn| normalized(cn) == citizen);
    let by_parts = attribute(&certificate, GIVEN_NAME).is_some_and(|g| normalized(&g) == normalized(given_name))
        && attribute(&certificate, SURNAME).is_some_and(|s| normalized(&s) == normalized(family_name));
    if !(by_common_name || by_parts) {
        return Err(Refusal::NotTheCitizen(common));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const SEQUENCE: u8 = 0x30;
    const SET: u8 = 0x31;
    const INTEGER: u8 = 0x02;
    const BIT_STRING: u8 = 0x03;
    const OID: u8 = 0x06;
    const UTC_TIME: u8 = 0x17;
    const GENERALIZED_TIME: u8 = 0x18;
    const VERSION_TAG: u8 = 0xA0;
    /// id-at-commonName, 2.5.4.3.
    const CN: &[u8] = &[0x55, 0x04, 0x03];
    /// ecdsa-with-SHA256, 1.2.840.10045.4.3.2.
    const ALGORITHM: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02];

    /// One DER element, with the shortest length form as DER requires.
    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        match content.len() {
            n if n < 0x80 => out.push(n as u8),
            n if n < 0x100 => out.extend_from_slice(&[0x81, n as u8]),
            n => {
                out.push(0x82);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
        }
        out.extend_from_slice(content);
        out
    }

    #[test]
    fn reads_serial_validity_and_common_name() {
        let cn = tlv(SET, &tlv(SEQUENCE, &[tlv(OID, CN), tlv(0x0C, "Jana Nováková".as_bytes())].concat()));
        let algorithm = tlv(SEQUENCE, &tlv(OID, ALGORITHM));
        let validity =
            tlv(SEQUENCE, &[tlv(UTC_TIME, b"260101000000Z"), tlv(GENERALIZED_TIME, b"20281231235959Z")].concat());
        let tbs = tlv(
            SEQUENCE,
            &[
                tlv(VERSION_TAG, &tlv(INTEGER, &[2])),
                tlv(INTEGER, &[0x01, 0xAB]),
                algorithm.clone(),
                tlv(SEQUENCE, &cn),
                validity,
                tlv(SEQUENCE, &cn),
                tlv(SEQUENCE, &[algorithm.clone(), tlv(BIT_STRING, &[0u8; 200])].concat()),
            ]
            .concat(),
        );
        let der = tlv(SEQUENCE, &[tbs, algorithm, tlv(BIT_STRING, &[0, 1, 2])].concat());
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

    /// A certificate OpenSSL made (`openssl req -x509 -newkey ec -utf8 -subj
    /// "/C=CZ/O=Testovací CA/CN=Jana Nováková" -days 730`); the expected
    /// values are what `openssl x509 -noout -serial -dates -subject` printed.
    const OPENSSL_CERTIFICATE: &str = "\
        MIIB0zCCAXmgAwIBAgIUeK7tdXCSVPMgwsrGnlUrw5XR934wCgYIKoZIzj0EAwIw\
        PzELMAkGA1UEBhMCQ1oxFjAUBgNVBAoMDVRlc3RvdmFjw60gQ0ExGDAWBgNVBAMM\
        D0phbmEgTm92w6Frb3bDoTAeFw0yNjEyMDYwNDI3NDlaFw0yODEyMDUwNDI3NDla\
        MD8xCzAJBgNVBAYTAkNaMRYwFAYDVQQKDA1UZXN0b3ZhY8OtIENBMRgwFgYDVQQD\
        DA9KYW5hIE5vdsOha292w6EwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAARBIgwE\
        u26Es9p3MGv0MBaMSur47Q/gfItYP+9/VXy9uY4nFYzosr8mm0hM7oBr3yh208rQ\
        3aCreHyI49GikOK0o1MwUTAdBgNVHQ4EFgQUrLWpGOzn8GYSReHmJIoxVlVGku8w\
        HwYDVR0jBBgwFoAUrLWpGOzn8GYSReHmJIoxVlVGku8wDwYDVR0TAQH/BAUwAwEB\
        /zAKBggqhkjOPQQDAgNIADBFAiEAp3av2TtHfo5y56vnlpGufEsR4/reaqCF4loq\
        Uz2nfwkCIB90DS13WhLuChCkK598uDp5drd24T4dwbqMzEAQILlH";

    #[test]
    fn reads_what_openssl_reads_from_its_own_certificate() {
        use base64::Engine as _;
        let der = base64::engine::general_purpose::STANDARD.decode(OPENSSL_CERTIFICATE).expect("base64");
        let info = read_certificate(&der).expect("a certificate");
        assert_eq!(info.serial_number, "78AEED75709254F320C2CAC69E552BC395D1F77E");
        assert_eq!(info.not_before, datetime!(2026-12-06 04:27:49 UTC));
        assert_eq!(info.not_after, datetime!(2028-12-05 04:27:49 UTC));
        assert_eq!(info.subject_name.as_deref(), Some("Jana Nováková"));
    }
}
