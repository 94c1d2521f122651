//! Just enough ASN.1 to take the signed message out of a ZFO.
//!
//! A ZFO is a CMS `ContentInfo` (RFC 5652 §3) whose content is `SignedData`
//! (§5.1); the message XML is the `eContent` OCTET STRING of its
//! `encapContentInfo`. libdatovka (`doc/message`, "Signed messages") describes
//! the ZFO as BER, so besides DER this reader accepts the two BER forms CMS
//! producers use: indefinite lengths and a constructed (segmented) OCTET
//! STRING. Everything else is strict: every length is checked against its
//! container, nothing may trail the `ContentInfo`, nesting is bounded.
//!
//! The signature itself is not verified here. The portal stores the ZFO
//! exactly as ISDS returned it; proving it genuine is ISDS's own
//! `AuthenticateMessage` service (dm_operations.wsdl), which is out of scope.

/// id-signedData, 1.2.840.113549.1.7.2 (RFC 5652 §5.1), content octets.
const OID_SIGNED_DATA: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02];

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const INTEGER: u8 = 0x02;
const OID: u8 = 0x06;
const OCTET_STRING: u8 = 0x04;
const OCTET_STRING_CONSTRUCTED: u8 = 0x24;
/// `[0]` constructed: the explicit content of `ContentInfo` and
/// `EncapsulatedContentInfo`, and the implicit `certificates` of `SignedData`.
const CONTEXT_0: u8 = 0xA0;
/// `[1]` constructed: the implicit `crls` of `SignedData`.
const CONTEXT_1: u8 = 0xA1;

const MAX_DEPTH: usize = 32;

/// Why the ZFO is not a CMS `SignedData` with embedded content.
#[derive(Debug, thiserror::Error)]
#[error("the ZFO is not a CMS SignedData with embedded content: {0}")]
pub(crate) struct ZfoError(&'static str);

/// One tag-length-value. `id` is the identifier octet (class, constructed
/// bit, low tag number); high tag numbers are read past but never match the
/// identifiers this module expects.
#[derive(Debug, Clone, Copy)]
struct Tlv<'a> {
    id: u8,
    content: &'a [u8],
}

/// The `eContent` octets of the `SignedData` in `zfo`: a slice of it when
/// the OCTET STRING is primitive (DER, and BER that does not segment it), a
/// copy joined from the segments otherwise.
pub(crate) fn signed_content(zfo: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>, ZfoError> {
    let (content_info, rest) = read(zfo, 0)?;
    if !rest.is_empty() {
        return Err(ZfoError("bytes trail the ContentInfo"));
    }
    let [content_type, content] = exactly::<2>(expect(content_info, SEQUENCE, "ContentInfo")?, 1)?;
    if expect(content_type, OID, "contentType")? != OID_SIGNED_DATA {
        return Err(ZfoError("the contentType is not id-signedData"));
    }
    let [signed_data] = exactly::<1>(expect(content, CONTEXT_0, "ContentInfo content")?, 2)?;

    // SignedData ::= SEQUENCE { version, digestAlgorithms, encapContentInfo,
    //   certificates [0] OPTIONAL, crls [1] OPTIONAL, signerInfos }
    let fields = children(expect(signed_data, SEQUENCE, "SignedData")?, 3)?;
    let [version, digest_algorithms, encap, middle @ .., signer_infos] = fields.as_slice() else {
        return Err(ZfoError("SignedData has too few fields"));
    };
    expect(*version, INTEGER, "SignedData version")?;
    expect(*digest_algorithms, SET, "digestAlgorithms")?;
    expect(*signer_infos, SET, "signerInfos")?;
    let middle_ok = match middle {
        [] => true,
        [one] => one.id == CONTEXT_0 || one.id == CONTEXT_1,
        [first, second] => first.id == CONTEXT_0 && second.id == CONTEXT_1,
        _ => false,
    };
    if !middle_ok {
        return Err(ZfoError("SignedData has unexpected fields"));
    }

    // EncapsulatedContentInfo ::= SEQUENCE { eContentType, eContent [0] EXPLICIT OCTET STRING OPTIONAL }
    let encap = children(expect(*encap, SEQUENCE, "encapContentInfo")?, 4)?;
    let e_content = match encap.as_slice() {
        [e_content_type, e_content] => {
            expect(*e_content_type, OID, "eContentType")?;
            e_content
        }
        [_] => return Err(ZfoError("the signature is detached: there is no eContent")),
        _ => return Err(ZfoError("encapContentInfo has unexpected fields")),
    };
    let [octets] = exactly::<1>(expect(*e_content, CONTEXT_0, "eContent")?, 5)?;
    if octets.id == OCTET_STRING {
        if octets.content.is_empty() {
            return Err(ZfoError("the eContent is empty"));
        }
        return Ok(std::borrow::Cow::Borrowed(octets.content));
    }
    let mut out = Vec::with_capacity(octets.content.len());
    octet_string(octets, &mut out, 6)?;
    if out.is_empty() {
        return Err(ZfoError("the eContent is empty"));
    }
    Ok(std::borrow::Cow::Owned(out))
}

/// Appends the value of an OCTET STRING, primitive or (BER) segmented.
fn octet_string(tlv: Tlv<'_>, out: &mut Vec<u8>, depth: usize) -> Result<(), ZfoError> {
    match tlv.id {
        OCTET_STRING => {
            out.extend_from_slice(tlv.content);
            Ok(())
        }
        OCTET_STRING_CONSTRUCTED => {
            for segment in children(tlv.content, depth)? {
                octet_string(segment, out, depth + 1)?;
            }
            Ok(())
        }
        _ => Err(ZfoError("the eContent is not an OCTET STRING")),
    }
}

fn expect<'a>(tlv: Tlv<'a>, id: u8, what: &'static str) -> Result<&'a [u8], ZfoError> {
    if tlv.id == id { Ok(tlv.content) } else { Err(ZfoError(what)) }
}

fn exactly<const N: usize>(content: &[u8], depth: usize) -> Result<[Tlv<'_>; N], ZfoError> {
    children(content, depth)?.try_into().map_err(|_| ZfoError("a structure has the wrong number of fields"))
}

/// The TLVs that fill `content` exactly.
fn children(content: &[u8], depth: usize) -> Result<Vec<Tlv<'_>>, ZfoError> {
    let mut items = Vec::new();
    let mut rest = content;
    while !rest.is_empty() {
        let (tlv, next) = read(rest, depth)?;
        items.push(tlv);
        rest = next;
    }
    Ok(items)
}

/// Reads one TLV from the front of `input`; returns it and what follows.
fn read(input: &[u8], depth: usize) -> Result<(Tlv<'_>, &[u8]), ZfoError> {
    if depth > MAX_DEPTH {
        return Err(ZfoError("nesting is too deep"));
    }
    let truncated = || ZfoError("truncated");
    let (&id, mut rest) = input.split_first().ok_or_else(truncated)?;
    if id & 0x1F == 0x1F {
        // High tag number: base-128 digits, the last without bit 8.
        let digits = rest.iter().position(|b| b & 0x80 == 0).ok_or_else(truncated)? + 1;
        if digits > 4 {
            return Err(ZfoError("a tag number is too large"));
        }
        rest = &rest[digits..];
    }
    let constructed = id & 0x20 != 0;
    let (&first, rest) = rest.split_first().ok_or_else(truncated)?;
    let length = match first {
        0x80 if constructed => return read_indefinite(id, rest, depth),
        0x80 => return Err(ZfoError("a primitive value has an indefinite length")),
        0xFF => return Err(ZfoError("reserved length octet")),
        short if short < 0x80 => usize::from(short),
        long => {
            let octets = usize::from(long & 0x7F);
            if octets > 4 {
                return Err(ZfoError("a length is too large"));
            }
            let bytes = rest.get(..octets).ok_or_else(truncated)?;
            let length = bytes.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            return take(id, &rest[octets..], length);
        }
    };
    take(id, rest, length)
}

fn take(id: u8, rest: &[u8], length: usize) -> Result<(Tlv<'_>, &[u8]), ZfoError> {
    if rest.len() < length {
        return Err(ZfoError("truncated"));
    }
    let (content, rest) = rest.split_at(length);
    Ok((Tlv { id, content }, rest))
}

/// An indefinite length: the content is the TLVs up to the end-of-contents
/// octets `00 00`.
fn read_indefinite(id: u8, body: &[u8], depth: usize) -> Result<(Tlv<'_>, &[u8]), ZfoError> {
    let mut cursor = body;
    loop {
        if let Some(after) = cursor.strip_prefix(&[0x00, 0x00]) {
            let content = &body[..body.len() - cursor.len()];
            return Ok((Tlv { id, content }, after));
        }
        let (_, next) = read(cursor, depth + 1)?;
        cursor = next;
    }
}
