//! SIMULATOR: ZFOs signed the way ISDS signs them, by a simulated certification
//! authority, so that local mode and the tests verify real signatures with the
//! same code as production ([`super::zfo_verify`]).
//!
//! The simulated CA issues two certificates, both named SIMULATED: one for
//! "ISDS" (the message signer) and one for its time-stamping authority. A ZFO
//! is a CMS `SignedData` (RFC 5652) of the content with the signed attributes
//! `content-type`, `signing-time` and `message-digest`, ECDSA P-256 with
//! SHA-256, and the unsigned attribute `id-aa-timeStampToken`: an RFC 3161
//! token (`TSTInfo` imprinting the SHA-256 of the signature value, with the
//! ESS `signing-certificate-v2` attribute RFC 3161 §2.4.2 asks for). The
//! encoding is DER; ISDS's own ZFOs are BER, and the tests cover both.
//!
//! The keys are fixed and public, written below: nothing signed by them has
//! any legal effect, and a signature by them is only ever accepted when the
//! simulator's CA is the configured trust anchor (local mode and tests).
//! Fixed keys keep an archived simulated ZFO verifiable after a restart; the
//! certificates are made once per process from them.

use std::sync::OnceLock;

use aws_lc_rs::digest;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair as _};
use base64::Engine as _;
use der::Encode;
use der::asn1::{GeneralizedTime, ObjectIdentifier, OctetString, UtcTime, Utf8StringRef};
use time::OffsetDateTime;

use super::zfo_verify::TrustAnchors;

/// SEC1 private keys (P-256) of the simulated CA, "ISDS" and its time-stamping
/// authority. PUBLIC ON PURPOSE: simulator only.
const CA_KEY: &str = "MHcCAQEEIJNPRYkzX65UiP6suAWe3HmDkSWqNAU8TiPbJMNj7rJ5oAoGCCqGSM49AwEHoUQDQgAE7vFH+bqjzF6cBMmQr5bRFl4jE073Y43UUGZD3II5rcYeQGDJ3/k+9flBYyqe3jk6hASQayGflbQGw6q51UVemw==";
const ISDS_KEY: &str = "MHcCAQEEIDk+mGs8WAYg8nEgTy8Zyn1fV6t7yv+NLZV/xEhw6A4eoAoGCCqGSM49AwEHoUQDQgAE5P77bbqsbVVBJq5pnSQuyyhdPH9H10g8dOOfG4p4Cy3HQVWUT4n5sYCQuo7YFPBLDiQizekH6dVJyaaQtq/Clg==";
const TSA_KEY: &str = "MHcCAQEEIKPQvLOU4EnzhwJsUXpZUS+Y8KYqffIk344zSN4qqgCKoAoGCCqGSM49AwEHoUQDQgAEX8W5oFACgNtHJkl+WHtWqsZI55zrEDbMwDDd3QO4RRGf30frWcZWoTLVgtU10Eb0paY2rLKdPBTrjK+rMLdS+w==";

/// The names the citizen sees in `signedBy` and the time stamp's authority.
pub const CA_NAME: &str = "SIMULOVANÁ certifikační autorita ISDS (SIMULATED)";
pub const SIGNER_NAME: &str = "Informační systém datových schránek – SIMULÁTOR, bez právních účinků (SIMULATED)";
pub const TSA_NAME: &str = "SIMULOVANÁ časová razítka ISDS (SIMULATED)";
const ORGANIZATION: &str = "Portál občana – místní režim (SIMULATED)";

const ID_DATA: &str = "1.2.840.113549.1.7.1";
const ID_SIGNED_DATA: &str = "1.2.840.113549.1.7.2";
const ID_CONTENT_TYPE: &str = "1.2.840.113549.1.9.3";
const ID_MESSAGE_DIGEST: &str = "1.2.840.113549.1.9.4";
const ID_SIGNING_TIME: &str = "1.2.840.113549.1.9.5";
const ID_TIME_STAMP_TOKEN: &str = "1.2.840.113549.1.9.16.2.14";
const ID_SIGNING_CERTIFICATE_V2: &str = "1.2.840.113549.1.9.16.2.47";
const ID_CT_TST_INFO: &str = "1.2.840.113549.1.9.16.1.4";
const SHA256: &str = "2.16.840.1.101.3.4.2.1";
const ECDSA_WITH_SHA256: &str = "1.2.840.10045.4.3.2";
const EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const PRIME256V1: &str = "1.2.840.10045.3.1.7";
/// The simulated authority's policy: under IANA's enterprise number for
/// documentation use (32473, RFC 5612), never a real policy.
const SIMULATED_TSA_POLICY: &str = "1.3.6.1.4.1.32473.1";

/// One party of the simulated PKI: its key and certificate (DER).
struct Party {
    key: EcdsaKeyPair,
    certificate: Vec<u8>,
    name: Vec<u8>,
    serial: u8,
}

/// The simulated CA with its two certificates.
pub struct SimulatedSigner {
    ca: Party,
    isds: Party,
    tsa: Party,
}

impl std::fmt::Debug for SimulatedSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SimulatedSigner(SIMULATED)")
    }
}

/// The process's simulated signer (made on first use).
pub fn simulated_signer() -> &'static SimulatedSigner {
    static SIGNER: OnceLock<SimulatedSigner> = OnceLock::new();
    SIGNER.get_or_init(SimulatedSigner::new)
}

impl SimulatedSigner {
    fn new() -> Self {
        let key = |b64: &str| {
            let der = base64::engine::general_purpose::STANDARD.decode(b64).expect("a fixed base64 key");
            EcdsaKeyPair::from_private_key_der(&ECDSA_P256_SHA256_ASN1_SIGNING, &der).expect("a fixed P-256 key")
        };
        let ca_name = name(CA_NAME);
        let ca_key = key(CA_KEY);
        let ca_cert = certificate(1, &ca_name, &ca_name, &ca_key, &ca_key, Role::Authority);
        let ca = Party { key: ca_key, certificate: ca_cert, name: ca_name, serial: 1 };
        let issue = |serial: u8, subject: &str, b64: &str, role: Role| {
            let key = key(b64);
            let name = name(subject);
            let certificate = certificate(serial, &ca.name, &name, &key, &ca.key, role);
            Party { key, certificate, name, serial }
        };
        let isds = issue(2, SIGNER_NAME, ISDS_KEY, Role::Seal);
        let tsa = issue(3, TSA_NAME, TSA_KEY, Role::TimeStamping);
        Self { ca, isds, tsa }
    }

    /// The simulated CA as the only trust anchor.
    pub fn anchors(&self) -> TrustAnchors {
        TrustAnchors::from_der(&[&self.ca.certificate]).expect("the simulator's own certificate")
    }

    /// The simulated CA's certificate (DER), for tests that hand it to another verifier.
    pub fn ca_certificate(&self) -> &[u8] {
        &self.ca.certificate
    }

    /// A ZFO of `content`, signed and time-stamped at `at`.
    pub fn sign(&self, content: &[u8], at: OffsetDateTime) -> Vec<u8> {
        let signer_info = signer_info(&self.isds, &self.ca, oid(ID_DATA), content, at, |signature| {
            // The time stamp over the signature value (RFC 3161 Appendix A).
            let token = self.time_stamp(signature, at);
            attribute(ID_TIME_STAMP_TOKEN, &token)
        });
        signed_data(1, oid(ID_DATA), content, &self.isds.certificate, &signer_info)
    }

    /// An RFC 3161 time-stamp token over `signature`.
    fn time_stamp(&self, signature: &[u8], at: OffsetDateTime) -> Vec<u8> {
        let imprint = digest::digest(&digest::SHA256, signature);
        let serial = uint(&imprint.as_ref()[..8]);
        let tst_info = seq(&[
            &uint(&[1]),
            &oid(SIMULATED_TSA_POLICY),
            &seq(&[&algorithm(SHA256), &octets(imprint.as_ref())]),
            &serial,
            &generalized_time(at),
        ]);
        let info = signer_info(&self.tsa, &self.ca, oid(ID_CT_TST_INFO), &tst_info, at, |_| Vec::new());
        signed_data(3, oid(ID_CT_TST_INFO), &tst_info, &self.tsa.certificate, &info)
    }
}

/// A `SignerInfo` (RFC 5652 §5.3) of `party` over `content`; `unsigned`
/// makes the unsigned attributes from the signature value (empty: none).
fn signer_info(
    party: &Party,
    ca: &Party,
    content_type: Vec<u8>,
    content: &[u8],
    at: OffsetDateTime,
    unsigned: impl FnOnce(&[u8]) -> Vec<u8>,
) -> Vec<u8> {
    let message_digest = digest::digest(&digest::SHA256, content);
    let mut attributes =
        vec![attribute(ID_CONTENT_TYPE, &content_type), attribute(ID_MESSAGE_DIGEST, &octets(message_digest.as_ref()))];
    if content_type == oid(ID_CT_TST_INFO) {
        // ESS signing-certificate-v2: SEQUENCE { SEQUENCE OF ESSCertIDv2 { certHash } } (SHA-256 is the default).
        let cert_hash = digest::digest(&digest::SHA256, &party.certificate);
        attributes.push(attribute(ID_SIGNING_CERTIFICATE_V2, &seq(&[&seq(&[&seq(&[&octets(cert_hash.as_ref())])])])));
    } else {
        attributes.push(attribute(ID_SIGNING_TIME, &utc_time(at)));
    }
    // DER: a SET OF is sorted by its elements' encodings.
    attributes.sort();
    let signed_attrs = tlv(0x31, &attributes.concat());
    let signature = party.key.sign(&SystemRandom::new(), &signed_attrs).expect("ECDSA signing");
    let unsigned = unsigned(signature.as_ref());
    let mut fields = vec![
        uint(&[1]),
        seq(&[&ca.name, &uint(&[party.serial])]),
        algorithm(SHA256),
        tlv(0xA0, &attributes.concat()),
        algorithm(ECDSA_WITH_SHA256),
        octets(signature.as_ref()),
    ];
    if !unsigned.is_empty() {
        fields.push(tlv(0xA1, &unsigned));
    }
    tlv(0x30, &fields.concat())
}

/// `ContentInfo { id-signedData, [0] SignedData }` with one certificate and one signer.
fn signed_data(version: u8, content_type: Vec<u8>, content: &[u8], certificate: &[u8], signer_info: &[u8]) -> Vec<u8> {
    let signed_data = seq(&[
        &uint(&[version]),
        &tlv(0x31, &algorithm(SHA256)),
        &seq(&[&content_type, &tlv(0xA0, &octets(content))]),
        &tlv(0xA0, certificate),
        &tlv(0x31, signer_info),
    ]);
    seq(&[&oid(ID_SIGNED_DATA), &tlv(0xA0, &signed_data)])
}

#[derive(Clone, Copy)]
enum Role {
    Authority,
    Seal,
    TimeStamping,
}

/// An X.509 v3 certificate (RFC 5280 §4.1), ECDSA with SHA-256, valid
/// 2000–2099.
fn certificate(
    serial: u8,
    issuer: &[u8],
    subject: &[u8],
    key: &EcdsaKeyPair,
    issuer_key: &EcdsaKeyPair,
    role: Role,
) -> Vec<u8> {
    let spki = seq(&[&seq(&[&oid(EC_PUBLIC_KEY), &oid(PRIME256V1)]), &bit_string(key.public_key().as_ref())]);
    let critical = |id: &str, value: &[u8]| seq(&[&oid(id), &[0x01, 0x01, 0xFF], &octets(value)]);
    let extensions = match role {
        // basicConstraints cA; keyUsage keyCertSign, cRLSign.
        Role::Authority => {
            vec![critical("2.5.29.19", &seq(&[&[0x01, 0x01, 0xFF]])), critical("2.5.29.15", &[0x03, 0x02, 0x01, 0x06])]
        }
        // keyUsage digitalSignature, nonRepudiation.
        Role::Seal => vec![critical("2.5.29.15", &[0x03, 0x02, 0x06, 0xC0])],
        // … and extendedKeyUsage timeStamping only (RFC 3161 §2.3).
        Role::TimeStamping => vec![
            critical("2.5.29.15", &[0x03, 0x02, 0x06, 0xC0]),
            critical("2.5.29.37", &seq(&[&oid("1.3.6.1.5.5.7.3.8")])),
        ],
    };
    let validity = seq(&[
        &utc_time(time::macros::datetime!(2000-01-01 00:00 UTC)),
        &generalized_time(time::macros::datetime!(2099-12-31 23:59:59 UTC)),
    ]);
    let tbs = seq(&[
        &tlv(0xA0, &uint(&[2])),
        &uint(&[serial]),
        &algorithm_without_parameters(ECDSA_WITH_SHA256),
        issuer,
        &validity,
        subject,
        &spki,
        &tlv(0xA3, &seq(&extensions.iter().map(Vec::as_slice).collect::<Vec<_>>())),
    ]);
    let signature = issuer_key.sign(&SystemRandom::new(), &tbs).expect("ECDSA signing");
    seq(&[&tbs, &algorithm_without_parameters(ECDSA_WITH_SHA256), &bit_string(signature.as_ref())])
}

/// `C=CZ, O=…, CN=…`.
fn name(common_name: &str) -> Vec<u8> {
    let part = |id: &str, value: Vec<u8>| tlv(0x31, &seq(&[&oid(id), &value]));
    let utf8 = |text: &str| Utf8StringRef::new(text).expect("UTF-8").to_der().expect("DER");
    seq(&[
        &part("2.5.4.6", tlv(0x13, b"CZ")),
        &part("2.5.4.10", utf8(ORGANIZATION)),
        &part("2.5.4.3", utf8(common_name)),
    ])
}

fn attribute(id: &str, value: &[u8]) -> Vec<u8> {
    seq(&[&oid(id), &tlv(0x31, value)])
}

/// An AlgorithmIdentifier of a digest, with NULL parameters (as ISDS writes them).
fn algorithm(id: &str) -> Vec<u8> {
    seq(&[&oid(id), &[0x05, 0x00]])
}

/// ECDSA's AlgorithmIdentifier has no parameters (RFC 5758 §3.2).
fn algorithm_without_parameters(id: &str) -> Vec<u8> {
    seq(&[&oid(id)])
}

fn oid(dotted: &str) -> Vec<u8> {
    <ObjectIdentifier>::new(dotted).expect("a valid OID").to_der().expect("DER")
}

fn octets(bytes: &[u8]) -> Vec<u8> {
    OctetString::new(bytes).expect("an OCTET STRING").to_der().expect("DER")
}

/// A non-negative INTEGER from big-endian bytes.
fn uint(bytes: &[u8]) -> Vec<u8> {
    der::asn1::Uint::new(bytes).expect("an INTEGER").to_der().expect("DER")
}

fn bit_string(bytes: &[u8]) -> Vec<u8> {
    let mut content = vec![0];
    content.extend_from_slice(bytes);
    tlv(0x03, &content)
}

fn utc_time(at: OffsetDateTime) -> Vec<u8> {
    let seconds = std::time::Duration::from_secs(u64::try_from(at.unix_timestamp()).unwrap_or(0));
    UtcTime::from_unix_duration(seconds).expect("a time UTCTime holds").to_der().expect("DER")
}

fn generalized_time(at: OffsetDateTime) -> Vec<u8> {
    let seconds = std::time::Duration::from_secs(u64::try_from(at.unix_timestamp()).unwrap_or(0));
    GeneralizedTime::from_unix_duration(seconds).expect("a GeneralizedTime").to_der().expect("DER")
}

fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

/// One DER tag-length-value with a definite length.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}
