//! What the portal reads from an X.509 certificate (RFC 5280 § 4.1) before
//! it files it: the serial number, the validity and the subject's common
//! name, parsed with the maintained `x509-cert` crate (strict DER: definite
//! lengths, no trailing bytes, the whole structure well formed).
//!
//! The portal checks that a certificate is one (structure, dates) before it
//! files it; the agency verifies the signature and the qualified status
//! against the EU trusted lists.

use time::OffsetDateTime;
use x509_cert::Certificate;
use x509_cert::der::Decode as _;
use x509_cert::der::oid::db::rfc4519::COMMON_NAME;
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
