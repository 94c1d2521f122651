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

/// The most bytes before the `eContent`'s octets (the `ContentInfo`'s and
/// `SignedData`'s first fields) or after them (certificates, signer infos and
/// the time stamp): a ZFO's are a few kB.
const HEAD_MAX: usize = 256 * 1024;
const TAIL_MAX: usize = 4 * 1024 * 1024;

/// A length as read: a number of bytes, or up to the end-of-contents octets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The absolute offset where the element ends.
    At(u64),
    Eoc,
}

/// The header of the TLV at the front of `input`: identifier octet, its end
/// (from `offset`, the input's absolute position) and the header's length;
/// `None` while the header is incomplete.
fn header(input: &[u8], offset: u64) -> Result<Option<(u8, End, usize)>, ZfoError> {
    let Some(&id) = input.first() else { return Ok(None) };
    let mut at = 1;
    if id & 0x1F == 0x1F {
        let Some(digits) = input[1..].iter().position(|b| b & 0x80 == 0) else {
            return if input.len() > 5 { Err(ZfoError("a tag number is too large")) } else { Ok(None) };
        };
        if digits + 1 > 4 {
            return Err(ZfoError("a tag number is too large"));
        }
        at += digits + 1;
    }
    let Some(&first) = input.get(at) else { return Ok(None) };
    at += 1;
    let length = match first {
        0x80 if id & 0x20 != 0 => return Ok(Some((id, End::Eoc, at))),
        0x80 => return Err(ZfoError("a primitive value has an indefinite length")),
        0xFF => return Err(ZfoError("reserved length octet")),
        short if short < 0x80 => u64::from(short),
        long => {
            let octets = usize::from(long & 0x7F);
            if octets > 8 {
                return Err(ZfoError("a length is too large"));
            }
            let Some(bytes) = input.get(at..at + octets) else { return Ok(None) };
            at += octets;
            bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
        }
    };
    let end = offset.checked_add(at as u64 + length).ok_or(ZfoError("a length is too large"))?;
    Ok(Some((id, End::At(end), at)))
}

/// The length of the whole TLV at the front of `input`, `None` while it is
/// incomplete.
fn whole(input: &[u8]) -> Result<Option<usize>, ZfoError> {
    match read(input, 1) {
        Ok((_, rest)) => Ok(Some(input.len() - rest.len())),
        Err(ZfoError("truncated")) => Ok(None),
        Err(error) => Err(error),
    }
}

/// What a ZFO is besides its signed content, read by [`ContentWalker`]: the
/// `ContentInfo` again with the `eContent` left out (as a detached signature
/// would be), in BER with indefinite lengths, and the content's digests in
/// every algorithm `digestAlgorithms` names.
#[derive(Debug, Clone)]
pub(crate) struct Walked {
    pub(crate) without_content: Vec<u8>,
    /// (the algorithm's OID, its content octets; the digest)
    pub(crate) digests: Vec<(Vec<u8>, Vec<u8>)>,
}

/// The fields before the `eContent`'s octets: the containers opened (their
/// ends, outermost first: `ContentInfo`, its `[0]`, `SignedData`,
/// `encapContentInfo`, the `eContent`'s `[0]`) and the raw TLVs kept.
struct Head {
    consumed: usize,
    ends: [End; 5],
    version: Vec<u8>,
    digest_algorithms: Vec<u8>,
    content_type: Vec<u8>,
}

/// Walks a ZFO as it streams (in BER as [`signed_content`] reads it): the
/// `eContent`'s octets pass through (to the caller and into the digests of
/// `digestAlgorithms`) and are never held; the rest, a few kB, is kept and
/// checked as [`signed_content`] checks it.
pub(crate) struct ContentWalker {
    /// Bytes received and not yet taken, from absolute offset `pos`.
    buf: Vec<u8>,
    pos: u64,
    head: Option<Head>,
    digests: Vec<(Vec<u8>, aws_lc_rs::digest::Context)>,
    /// The eContent's OCTET STRING not read yet.
    root_pending: bool,
    /// The constructed OCTET STRINGs open around the current segment.
    segments: Vec<End>,
    /// What is left of the primitive segment being read.
    remaining: u64,
    content_len: u64,
    /// Everything after the octets.
    tail: Option<(u64, Vec<u8>)>,
}

impl Default for ContentWalker {
    fn default() -> Self {
        Self {
            buf: Vec::new(),
            pos: 0,
            head: None,
            digests: Vec::new(),
            root_pending: true,
            segments: Vec::new(),
            remaining: 0,
            content_len: 0,
            tail: None,
        }
    }
}

/// The digest of an algorithm `digestAlgorithms` may name, by its OID's
/// content octets.
fn digest_algorithm(oid: &[u8]) -> Option<&'static aws_lc_rs::digest::Algorithm> {
    const SHA2: [u8; 8] = [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02];
    match oid {
        [0x2B, 0x0E, 0x03, 0x02, 0x1A] => Some(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY),
        [prefix @ .., 1] if prefix == SHA2 => Some(&aws_lc_rs::digest::SHA256),
        [prefix @ .., 2] if prefix == SHA2 => Some(&aws_lc_rs::digest::SHA384),
        [prefix @ .., 3] if prefix == SHA2 => Some(&aws_lc_rs::digest::SHA512),
        _ => None,
    }
}

impl ContentWalker {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Takes the next bytes of the ZFO; the `eContent` octets among them are
    /// appended to `content` when given.
    pub(crate) fn push(&mut self, input: &[u8], mut content: Option<&mut Vec<u8>>) -> Result<(), ZfoError> {
        if let Some((_, tail)) = &mut self.tail {
            tail.extend_from_slice(input);
            if tail.len() > TAIL_MAX {
                return Err(ZfoError("too much follows the eContent"));
            }
            return Ok(());
        }
        self.buf.extend_from_slice(input);
        let mut taken = 0;
        let result = self.walk(&mut taken, &mut content);
        self.buf.drain(..taken);
        result
    }

    fn walk(&mut self, taken: &mut usize, content: &mut Option<&mut Vec<u8>>) -> Result<(), ZfoError> {
        if self.head.is_none() {
            let Some(head) = read_head(&self.buf)? else {
                return if self.buf.len() > HEAD_MAX {
                    Err(ZfoError("the SignedData's head is too long"))
                } else {
                    Ok(())
                };
            };
            *taken = head.consumed;
            self.pos = head.consumed as u64;
            self.digests = digest_algorithms(&head.digest_algorithms)?
                .into_iter()
                .filter_map(|oid| Some((oid.clone(), aws_lc_rs::digest::Context::new(digest_algorithm(&oid)?))))
                .collect();
            self.head = Some(head);
        }
        loop {
            let rest = &self.buf[*taken..];
            if self.remaining > 0 {
                if rest.is_empty() {
                    return Ok(());
                }
                let n = usize::try_from(self.remaining).unwrap_or(usize::MAX).min(rest.len());
                let octets = &rest[..n];
                for (_, digest) in &mut self.digests {
                    digest.update(octets);
                }
                if let Some(content) = content.as_deref_mut() {
                    content.extend_from_slice(octets);
                }
                self.content_len += n as u64;
                self.remaining -= n as u64;
                self.pos += n as u64;
                *taken += n;
                continue;
            }
            match self.segments.last().copied() {
                None if !self.root_pending => {
                    let tail = rest.to_vec();
                    *taken = self.buf.len();
                    self.tail = Some((self.pos, tail));
                    return Ok(());
                }
                Some(End::At(end)) if self.pos == end => {
                    self.segments.pop();
                    continue;
                }
                Some(End::At(end)) if self.pos > end => return Err(ZfoError("a segment overruns its container")),
                Some(End::Eoc) if rest.starts_with(&[0, 0]) => {
                    self.segments.pop();
                    self.pos += 2;
                    *taken += 2;
                    continue;
                }
                _ => {}
            }
            let Some((id, end, header_len)) = header(rest, self.pos)? else { return Ok(()) };
            if let (Some(End::At(outer)), End::At(inner)) = (self.segments.last(), end)
                && inner > *outer
            {
                return Err(ZfoError("a segment overruns its container"));
            }
            match (id, end) {
                (OCTET_STRING, End::At(end)) => self.remaining = end - self.pos - header_len as u64,
                (OCTET_STRING_CONSTRUCTED, _) if self.segments.len() < MAX_DEPTH => self.segments.push(end),
                (OCTET_STRING_CONSTRUCTED, _) => return Err(ZfoError("nesting is too deep")),
                _ => return Err(ZfoError("the eContent is not an OCTET STRING")),
            }
            self.root_pending = false;
            self.pos += header_len as u64;
            *taken += header_len;
        }
    }

    /// The end of the ZFO: checks what followed the content and gives the
    /// rest of the ZFO and the content's digests.
    pub(crate) fn finish(self) -> Result<Walked, ZfoError> {
        let (Some(head), Some((start, tail))) = (self.head, self.tail) else { return Err(ZfoError("truncated")) };
        if self.content_len == 0 {
            return Err(ZfoError("the eContent is empty"));
        }
        let mut cursor = 0;
        let at = |cursor: usize| start + cursor as u64;
        let closes = |end: End, cursor: usize| match end {
            End::At(end) => at(cursor) == end,
            End::Eoc => tail[cursor..].starts_with(&[0, 0]),
        };
        let close = |end: End, cursor: &mut usize, what: &'static str| -> Result<(), ZfoError> {
            match end {
                End::At(end) if at(*cursor) == end => Ok(()),
                End::Eoc if tail[*cursor..].starts_with(&[0, 0]) => {
                    *cursor += 2;
                    Ok(())
                }
                _ => Err(ZfoError(what)),
            }
        };
        let [content_info, content, signed_data, encap, e_content] = head.ends;
        close(e_content, &mut cursor, "eContent holds more than its OCTET STRING")?;
        close(encap, &mut cursor, "encapContentInfo has unexpected fields")?;
        let mut middle: Vec<(u8, &[u8])> = Vec::new();
        while !closes(signed_data, cursor) {
            if matches!(signed_data, End::At(end) if at(cursor) > end) || cursor >= tail.len() {
                return Err(ZfoError("truncated"));
            }
            let (tlv, rest) = read(&tail[cursor..], 3)?;
            let len = tail.len() - cursor - rest.len();
            middle.push((tlv.id, &tail[cursor..cursor + len]));
            cursor += len;
        }
        close(signed_data, &mut cursor, "SignedData")?;
        close(content, &mut cursor, "ContentInfo content has more than SignedData")?;
        close(content_info, &mut cursor, "ContentInfo has more than two fields")?;
        if cursor != tail.len() {
            return Err(ZfoError("bytes trail the ContentInfo"));
        }
        let ids: Vec<u8> = middle.iter().map(|(id, _)| *id).collect();
        let shape_ok = match ids.as_slice() {
            [SET] | [CONTEXT_0 | CONTEXT_1, SET] | [CONTEXT_0, CONTEXT_1, SET] => true,
            [] => return Err(ZfoError("SignedData has too few fields")),
            _ => false,
        };
        if !shape_ok {
            return Err(ZfoError("SignedData has unexpected fields"));
        }
        let indefinite = |id: u8, parts: &[&[u8]]| {
            let mut out = vec![id, 0x80];
            parts.iter().for_each(|part| out.extend_from_slice(part));
            out.extend([0, 0]);
            out
        };
        let encap = indefinite(SEQUENCE, &[&head.content_type]);
        let mut fields: Vec<&[u8]> = vec![&head.version, &head.digest_algorithms, &encap];
        fields.extend(middle.iter().map(|(_, raw)| *raw));
        let signed_data = indefinite(SEQUENCE, &fields);
        let mut oid = vec![OID, OID_SIGNED_DATA.len() as u8];
        oid.extend_from_slice(OID_SIGNED_DATA);
        let without_content = indefinite(SEQUENCE, &[&oid, &indefinite(CONTEXT_0, &[&signed_data])]);
        let digests = self.digests.into_iter().map(|(oid, digest)| (oid, digest.finish().as_ref().to_vec())).collect();
        Ok(Walked { without_content, digests })
    }
}

/// The OIDs (content octets) of a `digestAlgorithms` SET.
fn digest_algorithms(raw: &[u8]) -> Result<Vec<Vec<u8>>, ZfoError> {
    let (set, _) = read(raw, 3)?;
    children(expect(set, SET, "digestAlgorithms")?, 4)?
        .into_iter()
        .map(|algorithm| {
            let fields = children(expect(algorithm, SEQUENCE, "a digest AlgorithmIdentifier")?, 5)?;
            let oid = fields.first().ok_or(ZfoError("a digest AlgorithmIdentifier without its OID"))?;
            Ok(expect(*oid, OID, "a digest algorithm's OID")?.to_vec())
        })
        .collect()
}

/// The fields before the eContent's octets, when `buf` holds them all.
fn read_head(buf: &[u8]) -> Result<Option<Head>, ZfoError> {
    let mut at = 0;
    let mut ends = Vec::with_capacity(5);
    let open = |at: &mut usize, id: u8, what: &'static str, ends: &mut Vec<End>| -> Result<bool, ZfoError> {
        let Some((found, end, len)) = header(&buf[*at..], *at as u64)? else { return Ok(false) };
        if found != id {
            return Err(ZfoError(what));
        }
        ends.push(end);
        *at += len;
        Ok(true)
    };
    let field = |at: &mut usize, id: u8, what: &'static str| -> Result<Option<Vec<u8>>, ZfoError> {
        let Some(len) = whole(&buf[*at..])? else { return Ok(None) };
        if buf[*at] != id {
            return Err(ZfoError(what));
        }
        let raw = buf[*at..*at + len].to_vec();
        *at += len;
        Ok(Some(raw))
    };
    macro_rules! ready {
        ($e:expr) => {
            match $e? {
                Some(value) => value,
                None => return Ok(None),
            }
        };
    }
    if !open(&mut at, SEQUENCE, "ContentInfo", &mut ends)? {
        return Ok(None);
    }
    let content_type = ready!(field(&mut at, OID, "contentType"));
    if content_type[2..] != *OID_SIGNED_DATA || content_type[1] as usize != OID_SIGNED_DATA.len() {
        return Err(ZfoError("the contentType is not id-signedData"));
    }
    if !open(&mut at, CONTEXT_0, "ContentInfo content", &mut ends)?
        || !open(&mut at, SEQUENCE, "SignedData", &mut ends)?
    {
        return Ok(None);
    }
    let version = ready!(field(&mut at, INTEGER, "SignedData version"));
    let digest_algorithms = ready!(field(&mut at, SET, "digestAlgorithms"));
    if !open(&mut at, SEQUENCE, "encapContentInfo", &mut ends)? {
        return Ok(None);
    }
    let content_type = ready!(field(&mut at, OID, "eContentType"));
    let detached = match ends[3] {
        End::At(end) => at as u64 == end,
        End::Eoc => buf[at..].starts_with(&[0, 0]),
    };
    if detached {
        return Err(ZfoError("the signature is detached: there is no eContent"));
    }
    if !open(&mut at, CONTEXT_0, "eContent", &mut ends)? {
        return Ok(None);
    }
    let ends: [End; 5] = ends.try_into().map_err(|_| ZfoError("truncated"))?;
    Ok(Some(Head { consumed: at, ends, version, digest_algorithms, content_type }))
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

/// The tests' ZFO builder, shared with the integration tests and the bench.
#[cfg(test)]
#[path = "../../../tests/support/zfo.rs"]
mod test_zfo;

#[cfg(test)]
mod tests {
    use super::test_zfo::{tlv, tlv_indefinite as indefinite};
    use super::*;

    const SHA256_OID: [u8; 9] = [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];

    /// A SignedData around `e_content` (already an OCTET STRING's
    /// encoding), definite or indefinite outside.
    fn zfo(e_content: &[u8], ber: bool) -> Vec<u8> {
        let wrap = |tag: u8, content: &[u8]| if ber { indefinite(tag, content) } else { tlv(tag, content) };
        let algorithm = tlv(SEQUENCE, &[tlv(OID, &SHA256_OID), vec![0x05, 0x00]].concat());
        let encap = wrap(
            SEQUENCE,
            &[tlv(OID, &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x01]), wrap(CONTEXT_0, e_content)].concat(),
        );
        let fields = [
            tlv(INTEGER, &[1]),
            tlv(SET, &algorithm),
            encap,
            wrap(CONTEXT_0, &tlv(SEQUENCE, b"a certificate")),
            tlv(SET, &tlv(SEQUENCE, &tlv(INTEGER, &[1]))),
        ]
        .concat();
        wrap(SEQUENCE, &[tlv(OID, OID_SIGNED_DATA), wrap(CONTEXT_0, &wrap(SEQUENCE, &fields))].concat())
    }

    fn walk(zfo: &[u8], size: usize) -> Result<(Vec<u8>, Walked), ZfoError> {
        let mut walker = ContentWalker::new();
        let mut content = Vec::new();
        for piece in zfo.chunks(size.max(1)) {
            walker.push(piece, Some(&mut content))?;
        }
        Ok((content, walker.finish()?))
    }

    #[test]
    fn the_walker_gives_what_the_whole_reader_gives_however_the_zfo_is_cut() {
        let message: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
        let (a, rest) = message.split_at(1000);
        let (b, c) = rest.split_at(7);
        let segmented = indefinite(
            OCTET_STRING_CONSTRUCTED,
            &[tlv(OCTET_STRING, a), tlv(OCTET_STRING_CONSTRUCTED, &tlv(OCTET_STRING, b)), tlv(OCTET_STRING, c)]
                .concat(),
        );
        for (n, zfo) in
            [zfo(&tlv(OCTET_STRING, &message), false), zfo(&segmented, true), zfo(&segmented, false)].iter().enumerate()
        {
            assert_eq!(signed_content(zfo).expect("whole").as_ref(), &message[..], "zfo {n}");
            for size in [1, 2, 3, 5, 64, 999, zfo.len()] {
                let (content, walked) = walk(zfo, size).expect("walked");
                assert!(content == message, "zfo {n} in pieces of {size}");
                let sha256 = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &message);
                assert_eq!(walked.digests, vec![(SHA256_OID.to_vec(), sha256.as_ref().to_vec())]);
                // The ZFO without its content: the same fields, a detached
                // encapContentInfo, readable as a whole.
                let (info, rest) = read(&walked.without_content, 0).expect("readable");
                assert!(rest.is_empty());
                let [_, content] = exactly::<2>(info.content, 1).expect("ContentInfo");
                let [signed_data] = exactly::<1>(content.content, 2).expect("content");
                let fields = children(signed_data.content, 3).expect("fields");
                assert_eq!(fields.len(), 5);
                assert_eq!(children(fields[2].content, 4).expect("encap").len(), 1, "no eContent");
            }
        }
    }

    #[test]
    fn the_walker_refuses_what_the_whole_reader_refuses() {
        let message = tlv(OCTET_STRING, b"<x/>");
        let good = zfo(&message, true);
        let broken = [
            good[..good.len() - 1].to_vec(),
            [&good[..], &[0]].concat(),
            zfo(&tlv(INTEGER, b"<x/>"), true),
            zfo(&tlv(OCTET_STRING, b""), true),
            zfo(&[message.clone(), tlv(OCTET_STRING, b"more")].concat(), true),
        ];
        for (n, zfo) in broken.iter().enumerate() {
            assert!(signed_content(zfo).is_err(), "whole {n}");
            assert!(walk(zfo, 3).is_err(), "walked {n}");
        }
    }
}
