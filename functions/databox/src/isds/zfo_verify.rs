//! Is this ZFO genuinely ISDS's? Verifies the CMS signature of a data
//! message (or delivery receipt) and the time stamp ISDS adds to it.
//!
//! A ZFO is a CMS `ContentInfo` (RFC 5652 §3) holding `SignedData` (§5): the
//! message XML as `eContent`, one `SignerInfo` by the certificate of the
//! "Informační systém datových schránek" (a qualified electronic seal from
//! PostSignum), and, as the unsigned attribute `id-aa-timeStampToken`, an
//! RFC 3161 time-stamp token over that signature (RFC 3161 Appendix A).
//! ISDS writes it in BER with indefinite lengths (every sample from the ISDS
//! test environment that libdatovka and Datovka keep does), so it is read
//! with the RustCrypto `cms` crate in BER mode (`der`'s `from_ber`).
//!
//! What is checked, in this order; the first failure is the `reason`:
//! 1. the structure: `SignedData` with embedded content, exactly one signer;
//! 2. the signed attributes (RFC 5652 §5.3, §11): `content-type` equals the
//!    `eContentType`, `message-digest` equals the digest of the content;
//! 3. the signature over the DER of the signed attributes (§5.4), with the
//!    signer certificate's key (RSA PKCS#1 v1.5 or ECDSA, through aws-lc-rs);
//! 4. the time stamp, when there is one: the token's own signature (1–3
//!    again), its `TSTInfo` message imprint equals the hash of the ZFO's
//!    signature value, and the time-stamping certificate has the
//!    `id-kp-timeStamping` extended key usage (RFC 3161 §2.3);
//! 5. the certificates: the signer's and the time-stamping authority's each
//!    chain, by name and signature, through the certificates the ZFO carries
//!    to one of the configured trust anchors ([`TrustAnchors`], the
//!    PostSignum certification authorities in production), every certificate
//!    valid at the time of the time stamp (or now, without one); an issuer
//!    must be a CA (basic constraints) allowed to sign certificates.
//!
//! Revocation (CRL, OCSP) is not checked: the portal has no way out to
//! PostSignum's CRLs from the functions; the time stamp pins the moment, and
//! ISDS signed the message itself moments before it handed it over.

use std::fmt;

use aws_lc_rs::{digest, signature};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{EncapsulatedContentInfo, SignerIdentifier, SignerInfo, SignerInfos};
use der::asn1::{ObjectIdentifier, OctetString};
use der::{Any, Decode, Encode, EncodingRules, Reader, Sequence, Tag, Tagged};
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;
use x509_cert::Certificate;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectKeyIdentifier};

use super::soap::der::{ContentWalker, Walked, ZfoError};

const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const ID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const ID_SIGNING_TIME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.5");
const ID_TIME_STAMP_TOKEN: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.14");
const ID_CT_TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
const ID_KP_TIME_STAMPING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");

const SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const SHA1_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.5");
const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const SHA384_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const SHA512_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_WITH_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const ECDSA_WITH_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");
const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");

/// The longest chain walked from a signer to an anchor.
const MAX_CHAIN: usize = 6;

/// What the citizen is shown about a message's signature (the ZFO's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = DataMessageSignature)]
pub struct SignatureCheck {
    /// True when the signature, the time stamp (when there is one) and both
    /// certificates' chains to a trusted authority all verified. Whether a
    /// certificate was revoked is not part of it: revocation lists are not
    /// consulted.
    pub verified: bool,
    /// The signer certificate's subject (common name, organisation), as the
    /// ZFO names it; present whenever the ZFO could be read this far.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed_by: Option<String>,
    /// The signing time the signer states (signed attribute `signingTime`).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub signed_at: Option<OffsetDateTime>,
    /// The time stamp over the signature, when the ZFO has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_stamp: Option<TimeStampCheck>,
    /// Why it did not verify (absent when it did).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The RFC 3161 time stamp on a ZFO's signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = DataMessageTimeStamp)]
pub struct TimeStampCheck {
    /// The time the authority certified (`genTime`).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub time: OffsetDateTime,
    /// The time-stamping authority's certificate subject.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authority: Option<String>,
    /// The token's signature, its imprint of the ZFO's signature and the
    /// authority's chain all verified.
    pub verified: bool,
}

/// The certification authorities whose certificates a ZFO's signer and time
/// stamp must chain to: in production the PostSignum qualified CAs ISDS's
/// certificates come from (`PORTAL_ISDS_ZFO_TRUST`), in local mode the
/// simulator's own CA. Every certificate given is trusted as an anchor (a
/// chain may end at an intermediate CA given here).
#[derive(Clone, Default)]
pub struct TrustAnchors {
    anchors: std::sync::Arc<[Certificate]>,
}

impl fmt::Debug for TrustAnchors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = self.anchors.iter().map(|c| describe(c.tbs_certificate().subject())).collect();
        f.debug_struct("TrustAnchors").field("anchors", &names).finish()
    }
}

/// A trust-anchor file that is not a list of PEM certificates.
#[derive(Debug, thiserror::Error)]
#[error("the trust anchors are not PEM certificates: {0}")]
pub struct TrustAnchorError(String);

impl TrustAnchors {
    /// No anchor: nothing verifies (the reason says so).
    pub fn none() -> Self {
        Self::default()
    }

    /// The certificates of a PEM text (`-----BEGIN CERTIFICATE-----` blocks;
    /// anything between them is ignored). At least one is required.
    pub fn from_pem(pem: &str) -> Result<Self, TrustAnchorError> {
        use base64::Engine as _;
        let mut anchors = Vec::new();
        let mut rest = pem;
        while let Some(start) = rest.find("-----BEGIN CERTIFICATE-----") {
            let body = &rest[start + "-----BEGIN CERTIFICATE-----".len()..];
            let end = body
                .find("-----END CERTIFICATE-----")
                .ok_or_else(|| TrustAnchorError("an unterminated block".into()))?;
            let text: String = body[..end].chars().filter(|c| !c.is_whitespace()).collect();
            let der = base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|e| TrustAnchorError(format!("base64: {e}")))?;
            anchors.push(Certificate::from_der(&der).map_err(|e| TrustAnchorError(format!("certificate: {e}")))?);
            rest = &body[end..];
        }
        if anchors.is_empty() {
            return Err(TrustAnchorError("no certificate".into()));
        }
        Ok(Self { anchors: anchors.into() })
    }

    /// DER certificates, each an anchor.
    pub fn from_der(certificates: &[&[u8]]) -> Result<Self, TrustAnchorError> {
        let anchors = certificates
            .iter()
            .map(|der| Certificate::from_der(der).map_err(|e| TrustAnchorError(format!("certificate: {e}"))))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { anchors: anchors.into() })
    }

    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty()
    }
}

/// The signed content of a ZFO (the message XML; the simulator's rendering),
/// or `None` when it is not a CMS `SignedData` with embedded content.
pub fn signed_content(zfo: &[u8]) -> Option<Vec<u8>> {
    super::soap::der::signed_content(zfo).ok().map(std::borrow::Cow::into_owned)
}

/// Why a ZFO did not verify: the text the citizen reads as `reason`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Failed(String);

impl Failed {
    fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }
}

impl From<der::Error> for Failed {
    fn from(error: der::Error) -> Self {
        Self(format!("the ZFO is not a readable CMS signature ({error})"))
    }
}

/// Verifies `zfo` against `anchors`; `now` is the time certificates must be
/// valid at when there is no time stamp. The ZFO is walked as
/// [`verify_content`] walks a stream, in one piece.
pub fn verify(zfo: &[u8], anchors: &TrustAnchors, now: OffsetDateTime) -> SignatureCheck {
    let mut walker = ContentWalker::new();
    let walked = walker.push(zfo, None).and_then(|()| walker.finish());
    finish(walked, anchors, now)
}

/// [`verify`] for a ZFO in memory or in a sealed blob, read as a stream: the
/// signed content (the message's XML, a big message's 100 MB of files in
/// base64) is hashed as it passes, in each algorithm `digestAlgorithms`
/// names, and never held; what is verified is the rest of the ZFO (the
/// certificates, the signer info and its time stamp: a few kB) with those
/// digests standing for the content.
pub async fn verify_content(zfo: &super::Content, anchors: &TrustAnchors, now: OffsetDateTime) -> SignatureCheck {
    use futures::TryStreamExt as _;
    let mut walker = ContentWalker::new();
    let read = async {
        let mut stream = zfo.stream().await.map_err(|e| Failed(format!("the ZFO could not be read ({e})")))?;
        while let Some(piece) =
            stream.try_next().await.map_err(|e| Failed(format!("the ZFO could not be read ({e})")))?
        {
            walker.push(&piece, None).map_err(|e| Failed(e.to_string()))?;
        }
        Ok::<_, Failed>(())
    };
    match read.await {
        Ok(()) => finish(walker.finish(), anchors, now),
        Err(Failed(reason)) => {
            SignatureCheck { verified: false, signed_by: None, signed_at: None, time_stamp: None, reason: Some(reason) }
        }
    }
}

fn finish(walked: Result<Walked, ZfoError>, anchors: &TrustAnchors, now: OffsetDateTime) -> SignatureCheck {
    let mut check =
        SignatureCheck { verified: false, signed_by: None, signed_at: None, time_stamp: None, reason: None };
    let verified =
        walked.map_err(|e| Failed(e.to_string())).and_then(|walked| verify_into(&walked, anchors, now, &mut check));
    if let Err(Failed(reason)) = verified {
        check.reason = Some(reason);
        check.verified = false;
    }
    check
}

fn verify_into(
    walked: &Walked,
    anchors: &TrustAnchors,
    now: OffsetDateTime,
    check: &mut SignatureCheck,
) -> Result<(), Failed> {
    let signed = Signed::read_walked(walked)?;
    check.signed_by = Some(describe(signed.signer.tbs_certificate().subject()));
    check.signed_at = signed.signing_time();
    signed.verify_signature()?;

    // The time stamp first: its time is when the certificates must be valid.
    let mut at = now;
    if let Some(token) = signed.time_stamp_token()? {
        let (stamp, tsa) = verify_time_stamp(&token, signed.info.signature.as_bytes())?;
        let authority = describe(tsa.tbs_certificate().subject());
        check.time_stamp = Some(TimeStampCheck { time: stamp, authority: Some(authority), verified: false });
        chain(&tsa, &token.certificates, anchors, stamp)
            .map_err(|Failed(why)| Failed(format!("the time stamp's authority is not trusted: {why}")))?;
        if let Some(ts) = check.time_stamp.as_mut() {
            ts.verified = true;
        }
        at = stamp;
    }
    chain(&signed.signer, &signed.certificates, anchors, at)
        .map_err(|Failed(why)| Failed(format!("the signer is not trusted: {why}")))?;
    check.verified = true;
    Ok(())
}

/// Verifies the time-stamp token over `signature` (the ZFO's signature
/// value): the token's own CMS signature and its message imprint. Returns
/// the certified time and the authority's certificate.
fn verify_time_stamp(token: &Signed, signature: &[u8]) -> Result<(OffsetDateTime, Certificate), Failed> {
    let invalid = |why: Failed| Failed(format!("the time stamp is invalid: {}", why.0));
    if token.content_type != ID_CT_TST_INFO {
        return Err(Failed::new("the time stamp is invalid: its content is not a TSTInfo"));
    }
    token.verify_signature().map_err(invalid)?;
    let SignedContent::Bytes(content) = &token.content else {
        return Err(Failed::new("the time stamp is invalid: its content is missing"));
    };
    let info = TstInfo::read(content).map_err(invalid)?;
    let expected = hash(&info.hash_algorithm, signature).map_err(invalid)?;
    if info.hashed_message != expected {
        return Err(Failed::new("the time stamp is for another signature (its message imprint differs)"));
    }
    let eku = token
        .signer
        .tbs_certificate()
        .get_extension::<ExtendedKeyUsage>()
        .map_err(Failed::from)?
        .map(|(_, eku)| eku.0.contains(&ID_KP_TIME_STAMPING))
        .unwrap_or(false);
    if !eku {
        return Err(Failed::new("the time stamp's certificate is not for time stamping"));
    }
    Ok((info.gen_time, token.signer.clone()))
}

/// `SignedData` (RFC 5652 §5.1) with the certificate set kept as raw
/// elements: PostSignum's time-stamp tokens carry a version 1 attribute
/// certificate (`[1]`, obsolete since RFC 3852), which `cms`'s
/// `CertificateChoices` does not read, so `cms::signed_data::SignedData` would
/// refuse the whole token. Everything else is `cms`'s own types.
#[derive(Debug, Sequence)]
struct LooseSignedData {
    version: CmsVersion,
    digest_algorithms: der::asn1::SetOfVec<spki::AlgorithmIdentifierOwned>,
    encap_content_info: EncapsulatedContentInfo,
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    certificates: Option<Vec<Any>>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    crls: Option<Vec<Any>>,
    signer_infos: SignerInfos,
}

/// What a signature's message digest is compared with.
enum SignedContent {
    /// The content itself (a time-stamp token's `TSTInfo`).
    Bytes(Vec<u8>),
    /// The content's digests, by algorithm OID (content octets): a ZFO
    /// walked as a stream ([`ContentWalker`]).
    Digests(Vec<(Vec<u8>, Vec<u8>)>),
}

/// One `SignedData` read from a `ContentInfo`, with its single signer.
struct Signed {
    content_type: ObjectIdentifier,
    content: SignedContent,
    certificates: Vec<Certificate>,
    info: SignerInfo,
    signer: Certificate,
}

impl Signed {
    /// A ZFO walked as a stream: its `ContentInfo` without the content, and
    /// the content's digests.
    fn read_walked(walked: &Walked) -> Result<Self, Failed> {
        Self::read_with(&walked.without_content, Some(&walked.digests))
    }

    fn read(bytes: &[u8]) -> Result<Self, Failed> {
        Self::read_with(bytes, None)
    }

    fn read_with(bytes: &[u8], digests: Option<&[(Vec<u8>, Vec<u8>)]>) -> Result<Self, Failed> {
        let content_info = ContentInfo::from_ber(bytes)?;
        if content_info.content_type != ID_SIGNED_DATA {
            return Err(Failed::new("the ZFO is not a CMS SignedData"));
        }
        let signed_data: LooseSignedData = content_info.content.decode_as_encoding(EncodingRules::Ber)?;
        let encap = &signed_data.encap_content_info;
        let content = match digests {
            Some(digests) => SignedContent::Digests(digests.to_vec()),
            None if encap.econtent.is_none() => {
                return Err(Failed::new("the signature is detached: the ZFO holds no content"));
            }
            // `der`'s `Any` keeps a constructed (segmented) OCTET STRING's
            // segments as they are, so the content is taken by the reader
            // that also gives the SOAP adapter the message XML.
            None => SignedContent::Bytes(
                super::soap::der::signed_content(bytes).map_err(|e| Failed(e.to_string()))?.into_owned(),
            ),
        };
        // X.509 certificates only; the obsolete and attribute certificates
        // some time-stamping authorities add are skipped.
        let certificates: Vec<Certificate> = signed_data
            .certificates
            .iter()
            .flatten()
            .filter(|any| any.tag() == Tag::Sequence)
            .filter_map(|any| Certificate::from_der(&any.to_der().ok()?).ok())
            .collect();
        let mut infos = signed_data.signer_infos.0.iter();
        let (Some(info), None) = (infos.next(), infos.next()) else {
            return Err(Failed::new("the ZFO must have exactly one signer"));
        };
        let signer = certificates
            .iter()
            .find(|cert| identifies(&info.sid, cert))
            .cloned()
            .ok_or_else(|| Failed::new("the ZFO does not carry its signer's certificate"))?;
        Ok(Self { content_type: encap.econtent_type, content, certificates, info: info.clone(), signer })
    }

    /// The signed attributes' digest and content type, then the signature.
    fn verify_signature(&self) -> Result<(), Failed> {
        let digest = match &self.content {
            SignedContent::Bytes(content) => hash(&self.info.digest_alg.oid, content)?,
            SignedContent::Digests(digests) => digests
                .iter()
                .find(|(oid, _)| oid.as_slice() == self.info.digest_alg.oid.as_bytes())
                .map(|(_, digest)| digest.clone())
                .ok_or_else(|| {
                    Failed(format!(
                        "the signer's digest algorithm {} is not one digestAlgorithms names",
                        self.info.digest_alg.oid
                    ))
                })?,
        };
        let message = match &self.info.signed_attrs {
            Some(attrs) => {
                let content_type = attribute(attrs, ID_CONTENT_TYPE)
                    .ok_or_else(|| Failed::new("the signed attributes lack the content type"))?;
                if content_type.decode_as::<ObjectIdentifier>()? != self.content_type {
                    return Err(Failed::new("the signed content type is not the content's"));
                }
                let stated = attribute(attrs, ID_MESSAGE_DIGEST)
                    .ok_or_else(|| Failed::new("the signed attributes lack the message digest"))?;
                if stated.decode_as::<OctetString>()?.as_bytes() != digest.as_slice() {
                    return Err(Failed::new("the content was changed after signing (message digest differs)"));
                }
                // RFC 5652 §5.4: the signature is over the DER of the SET OF.
                attrs.to_der()?
            }
            None => match &self.content {
                SignedContent::Bytes(content) => content.clone(),
                SignedContent::Digests(_) => {
                    return Err(Failed::new("a signature without signed attributes is over the content itself"));
                }
            },
        };
        verify_with(
            &self.signer,
            &self.info.signature_algorithm.oid,
            Some(&self.info.digest_alg.oid),
            &message,
            self.info.signature.as_bytes(),
        )
        .map_err(|Failed(why)| Failed(format!("the signature does not verify: {why}")))
    }

    fn signing_time(&self) -> Option<OffsetDateTime> {
        let value = attribute(self.info.signed_attrs.as_ref()?, ID_SIGNING_TIME)?;
        let time = value.decode_as::<x509_cert::time::Time>().ok()?;
        OffsetDateTime::from_unix_timestamp(i64::try_from(time.to_unix_duration().as_secs()).ok()?).ok()
    }

    fn time_stamp_token(&self) -> Result<Option<Signed>, Failed> {
        let Some(attrs) = &self.info.unsigned_attrs else { return Ok(None) };
        let Some(token) = attribute(attrs, ID_TIME_STAMP_TOKEN) else { return Ok(None) };
        Signed::read(&token.to_der()?).map(Some).map_err(|Failed(why)| Failed(format!("the time stamp: {why}")))
    }
}

fn identifies(sid: &SignerIdentifier, cert: &Certificate) -> bool {
    let tbs = cert.tbs_certificate();
    match sid {
        SignerIdentifier::IssuerAndSerialNumber(isn) => {
            isn.issuer == *tbs.issuer() && isn.serial_number == *tbs.serial_number()
        }
        SignerIdentifier::SubjectKeyIdentifier(ski) => {
            matches!(tbs.get_extension::<SubjectKeyIdentifier>(), Ok(Some((_, own))) if own == *ski)
        }
    }
}

/// The single value of attribute `oid`, if present.
fn attribute(attrs: &x509_cert::attr::Attributes, oid: ObjectIdentifier) -> Option<&Any> {
    let attr = attrs.iter().find(|a| a.oid == oid)?;
    let mut values = attr.values.iter();
    match (values.next(), values.next()) {
        (Some(value), None) => Some(value),
        _ => None,
    }
}

fn hash(algorithm: &ObjectIdentifier, data: &[u8]) -> Result<Vec<u8>, Failed> {
    let algorithm = match *algorithm {
        SHA1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
        SHA256 => &digest::SHA256,
        SHA384 => &digest::SHA384,
        SHA512 => &digest::SHA512,
        other => return Err(Failed(format!("unsupported digest algorithm {other}"))),
    };
    Ok(digest::digest(algorithm, data).as_ref().to_vec())
}

/// Verifies `signature` over `message` with `cert`'s public key.
/// `digest` is the CMS digest algorithm, needed when the signature
/// algorithm is plain `rsaEncryption` (RFC 5754 §3.2).
fn verify_with(
    cert: &Certificate,
    algorithm: &ObjectIdentifier,
    digest: Option<&ObjectIdentifier>,
    message: &[u8],
    signature: &[u8],
) -> Result<(), Failed> {
    let spki = cert.tbs_certificate().subject_public_key_info();
    let key = spki.subject_public_key.as_bytes().ok_or_else(|| Failed::new("the public key is not whole octets"))?;
    let rsa = |digest: &ObjectIdentifier| -> Result<&'static dyn signature::VerificationAlgorithm, Failed> {
        Ok(match *digest {
            SHA1 => &signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
            SHA256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            SHA384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            SHA512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            other => return Err(Failed(format!("unsupported digest algorithm {other}"))),
        })
    };
    let verifier: &'static dyn signature::VerificationAlgorithm = match (*algorithm, spki.algorithm.oid) {
        (RSA_ENCRYPTION, RSA_ENCRYPTION) => rsa(digest.ok_or_else(|| Failed::new("no digest algorithm"))?)?,
        (SHA1_WITH_RSA, RSA_ENCRYPTION) => rsa(&SHA1)?,
        (SHA256_WITH_RSA, RSA_ENCRYPTION) => rsa(&SHA256)?,
        (SHA384_WITH_RSA, RSA_ENCRYPTION) => rsa(&SHA384)?,
        (SHA512_WITH_RSA, RSA_ENCRYPTION) => rsa(&SHA512)?,
        (ECDSA_WITH_SHA256 | ECDSA_WITH_SHA384 | ECDSA_WITH_SHA512, EC_PUBLIC_KEY) => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
                .ok_or_else(|| Failed::new("the EC key names no curve"))?;
            match (curve, *algorithm) {
                (P256, ECDSA_WITH_SHA256) => &signature::ECDSA_P256_SHA256_ASN1,
                (P256, ECDSA_WITH_SHA384) => &signature::ECDSA_P256_SHA384_ASN1,
                (P384, ECDSA_WITH_SHA256) => &signature::ECDSA_P384_SHA256_ASN1,
                (P384, ECDSA_WITH_SHA384) => &signature::ECDSA_P384_SHA384_ASN1,
                _ => return Err(Failed(format!("unsupported ECDSA curve or digest ({curve}, {algorithm})"))),
            }
        }
        (other, key) => return Err(Failed(format!("unsupported signature algorithm {other} with key {key}"))),
    };
    signature::UnparsedPublicKey::new(verifier, key)
        .verify(message, signature)
        .map_err(|_| Failed::new("the signature value is wrong for this content and key"))
}

/// Chains `leaf` to an anchor through `pool` (the certificates the ZFO
/// carries), every certificate valid at `at`.
fn chain(leaf: &Certificate, pool: &[Certificate], anchors: &TrustAnchors, at: OffsetDateTime) -> Result<(), Failed> {
    if anchors.is_empty() {
        return Err(Failed::new("no trusted certification authority is configured"));
    }
    valid_at(leaf, at)?;
    let mut current = leaf.clone();
    for _ in 0..MAX_CHAIN {
        let issuer_name = current.tbs_certificate().issuer().clone();
        // An anchor that issued it ends the walk.
        for anchor in anchors.anchors.iter().filter(|a| *a.tbs_certificate().subject() == issuer_name) {
            if issued_by(&current, anchor).is_ok() {
                return valid_at(anchor, at);
            }
        }
        // Else an intermediate the ZFO carries.
        let next = pool
            .iter()
            .filter(|c| *c.tbs_certificate().subject() == issuer_name && *c != &current)
            .find(|c| issued_by(&current, c).is_ok())
            .ok_or_else(|| {
                Failed(format!("no trusted authority issued \"{}\"", describe(current.tbs_certificate().subject())))
            })?;
        valid_at(next, at)?;
        current = next.clone();
    }
    Err(Failed::new("the certificate chain is too long"))
}

/// `cert`'s signature by `issuer`, who must be a CA allowed to sign certificates.
fn issued_by(cert: &Certificate, issuer: &Certificate) -> Result<(), Failed> {
    let tbs = issuer.tbs_certificate();
    let is_ca = matches!(tbs.get_extension::<BasicConstraints>(), Ok(Some((_, bc))) if bc.ca);
    // A v1 root has no extensions; accept it only as what it signed.
    if !is_ca && tbs.extensions().is_some() {
        return Err(Failed::new("the issuer is not a certification authority"));
    }
    if let Ok(Some((_, usage))) = tbs.get_extension::<KeyUsage>()
        && !usage.key_cert_sign()
    {
        return Err(Failed::new("the issuer may not sign certificates"));
    }
    verify_with(
        issuer,
        &cert.signature_algorithm().oid,
        None,
        &cert.tbs_certificate().to_der()?,
        cert.signature().as_bytes().ok_or_else(|| Failed::new("the certificate signature is not whole octets"))?,
    )
}

fn valid_at(cert: &Certificate, at: OffsetDateTime) -> Result<(), Failed> {
    let validity = cert.tbs_certificate().validity();
    let secs = |t: &x509_cert::time::Time| i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX);
    let now = at.unix_timestamp();
    if now < secs(&validity.not_before) || now > secs(&validity.not_after) {
        return Err(Failed(format!(
            "the certificate \"{}\" was not valid at {}",
            describe(cert.tbs_certificate().subject()),
            at.date()
        )));
    }
    Ok(())
}

/// "common name, organisation" of a certificate name, else its RFC 4514 form.
fn describe(name: &x509_cert::name::Name) -> String {
    let cn = name.common_name().ok().flatten().map(|s| s.value().into_owned());
    let o = name.organization().ok().flatten().map(|s| s.value().into_owned());
    match (cn, o) {
        (Some(cn), Some(o)) => format!("{cn}, {o}"),
        (Some(one), None) | (None, Some(one)) => one,
        (None, None) => name.to_string(),
    }
}

/// The parts of an RFC 3161 `TSTInfo` (§2.4.2) the check needs:
/// `version, policy, messageImprint, serialNumber, genTime, …`.
struct TstInfo {
    hash_algorithm: ObjectIdentifier,
    hashed_message: Vec<u8>,
    gen_time: OffsetDateTime,
}

impl TstInfo {
    fn read(content: &[u8]) -> Result<Self, Failed> {
        let any = Any::from_ber(content)?;
        any.sequence(|r| -> der::Result<(ObjectIdentifier, Vec<u8>, Any)> {
            let version = u8::decode(r)?;
            if version != 1 {
                return Err(der::Error::from(der::ErrorKind::Value { tag: Tag::Integer }));
            }
            let _policy = <ObjectIdentifier>::decode(r)?;
            let (hash_algorithm, hashed_message) = r.sequence(|r| -> der::Result<(ObjectIdentifier, Vec<u8>)> {
                let algorithm = spki::AlgorithmIdentifierOwned::decode(r)?;
                let hashed = OctetString::decode(r)?;
                Ok((algorithm.oid, hashed.as_bytes().to_vec()))
            })?;
            let _serial = der::asn1::Int::decode(r)?;
            let gen_time = Any::decode(r)?;
            // accuracy, ordering, nonce, tsa, extensions: not needed.
            let rest = r.remaining_len();
            r.read_slice(rest)?;
            Ok((hash_algorithm, hashed_message, gen_time))
        })
        .map_err(Failed::from)
        .and_then(|(hash_algorithm, hashed_message, gen_time)| {
            Ok(Self { hash_algorithm, hashed_message, gen_time: generalized_time(&gen_time)? })
        })
    }
}

/// A `GeneralizedTime` as RFC 3161 allows it: `YYYYMMDDhhmmss[.f…]Z` (the
/// fraction, which DER's reader refuses, is dropped).
fn generalized_time(any: &Any) -> Result<OffsetDateTime, Failed> {
    let bad = || Failed::new("the time stamp's time is not a GeneralizedTime");
    if any.tag() != Tag::GeneralizedTime {
        return Err(bad());
    }
    let text = std::str::from_utf8(any.value()).map_err(|_| bad())?;
    let text = text.strip_suffix('Z').ok_or_else(bad)?;
    let whole = text.split('.').next().ok_or_else(bad)?;
    if whole.len() != 14 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n = |range: std::ops::Range<usize>| whole[range].parse::<u32>().map_err(|_| bad());
    let month = time::Month::try_from(u8::try_from(n(4..6)?).map_err(|_| bad())?).map_err(|_| bad())?;
    let date = time::Date::from_calendar_date(i32::try_from(n(0..4)?).map_err(|_| bad())?, month, n(6..8)? as u8)
        .map_err(|_| bad())?;
    let clock = time::Time::from_hms(n(8..10)? as u8, n(10..12)? as u8, n(12..14)? as u8).map_err(|_| bad())?;
    Ok(date.with_time(clock).assume_utc())
}
