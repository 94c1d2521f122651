//! The ciphertext format (version 1) and the associated data; see the crate docs.

use aws_lc_rs::aead::{Aad, LessSafeKey, NONCE_LEN, Nonce};

use crate::error::CryptoError;
use crate::key::DataKey;

pub(crate) const MAGIC: &[u8; 3] = b"PCE";
pub(crate) const FORMAT_V1: u8 = 1;
pub(crate) const TAG_LEN: usize = 16;
/// Longest KEK id and KEK version a header may carry.
pub(crate) const MAX_KEK_ID_LEN: usize = 1024;
pub(crate) const MAX_KEK_VERSION_LEN: usize = 256;

/// What a ciphertext is bound to: the associated data besides the header.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Binding<'a> {
    pub owner: &'a str,
    pub document_id: &'a str,
    pub field: &'a str,
}

/// The header in front of every ciphertext. Its texts are borrowed: from the
/// key when sealing, from the ciphertext when opening (a page of 20 sealed
/// records parsed 40 of them into strings only to drop them, issue 18).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header<'a> {
    pub kek_id: &'a str,
    pub kek_version: &'a str,
    pub data_key_version: u32,
    pub nonce: [u8; NONCE_LEN],
}

impl<'a> Header<'a> {
    /// A header with a fresh random nonce.
    pub fn new(kek_id: &'a str, kek_version: &'a str, data_key_version: u32) -> Result<Self, CryptoError> {
        let mut nonce = [0; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| CryptoError::Internal("the random number generator failed"))?;
        Ok(Self { kek_id, kek_version, data_key_version, nonce })
    }

    pub fn encode(&self) -> Result<Vec<u8>, CryptoError> {
        let too_long = CryptoError::Internal("the KEK id or version is too long for a ciphertext header");
        if !(1..=MAX_KEK_ID_LEN).contains(&self.kek_id.len())
            || !(1..=MAX_KEK_VERSION_LEN).contains(&self.kek_version.len())
        {
            return Err(too_long);
        }
        let mut out = Vec::with_capacity(3 + 1 + 2 + self.kek_id.len() + 2 + self.kek_version.len() + 4 + NONCE_LEN);
        out.extend_from_slice(MAGIC);
        out.push(FORMAT_V1);
        for text in [self.kek_id, self.kek_version] {
            // Both lengths are at most 1024, checked above.
            out.extend_from_slice(&(text.len() as u16).to_be_bytes());
            out.extend_from_slice(text.as_bytes());
        }
        out.extend_from_slice(&self.data_key_version.to_be_bytes());
        out.extend_from_slice(&self.nonce);
        Ok(out)
    }

    /// Parses the header at the start of `input`; returns it and its length.
    pub fn parse(input: &'a [u8]) -> Result<(Self, usize), CryptoError> {
        let mut reader = Reader { input, pos: 0 };
        if reader.take(MAGIC.len())? != MAGIC {
            return Err(CryptoError::Malformed("bad magic"));
        }
        let version = reader.take(1)?[0];
        if version != FORMAT_V1 {
            return Err(CryptoError::UnsupportedFormat(version));
        }
        let kek_id = reader.text(MAX_KEK_ID_LEN)?;
        let kek_version = reader.text(MAX_KEK_VERSION_LEN)?;
        let data_key_version = u32::from_be_bytes(reader.array()?);
        let nonce = reader.array()?;
        Ok((Self { kek_id, kek_version, data_key_version, nonce }, reader.pos))
    }
}

struct Reader<'a> {
    input: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8], CryptoError> {
        let end = self.pos.checked_add(len).filter(|end| *end <= self.input.len());
        let end = end.ok_or(CryptoError::Malformed("truncated header"))?;
        let bytes = &self.input[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], CryptoError> {
        self.take(N)?.try_into().map_err(|_| CryptoError::Malformed("truncated header"))
    }

    fn text(&mut self, max: usize) -> Result<&'a str, CryptoError> {
        let len = usize::from(u16::from_be_bytes(self.array()?));
        if len == 0 || len > max {
            return Err(CryptoError::Malformed("bad length in header"));
        }
        let bytes = self.take(len)?;
        std::str::from_utf8(bytes).map_err(|_| CryptoError::Malformed("header text is not UTF-8"))
    }
}

/// The AES-GCM associated data: the header bytes, then owner, document id and
/// field, each as a 64-bit big-endian length and its UTF-8 bytes.
pub(crate) fn associated_data(header: &[u8], binding: &Binding<'_>) -> Vec<u8> {
    let mut aad = Vec::with_capacity(associated_data_len(header, binding));
    append_associated_data(&mut aad, header, binding);
    aad
}

/// Associated data up to this long is built on the stack (a header with the
/// local KEK's id and an owner, document id and field of usual length is
/// under 200 bytes).
const STACK_AAD: usize = 256;

/// Runs `use_aad` with the [`associated_data`], built on the stack when it is
/// short: opening each of a page's records then allocates nothing for it.
fn with_associated_data<T>(header: &[u8], binding: &Binding<'_>, use_aad: impl FnOnce(&[u8]) -> T) -> T {
    let len = associated_data_len(header, binding);
    if len > STACK_AAD {
        return use_aad(&associated_data(header, binding));
    }
    let mut buffer = [0u8; STACK_AAD];
    let mut rest = &mut buffer[..];
    append_associated_data(&mut rest, header, binding);
    use_aad(&buffer[..len])
}

fn associated_data_len(header: &[u8], binding: &Binding<'_>) -> usize {
    header.len() + [binding.owner, binding.document_id, binding.field].iter().map(|part| 8 + part.len()).sum::<usize>()
}

fn append_associated_data(out: &mut impl std::io::Write, header: &[u8], binding: &Binding<'_>) {
    // Writing into a Vec, or into a slice of at least associated_data_len, cannot fail.
    let mut put = |bytes: &[u8]| out.write_all(bytes).expect("room for the associated data");
    put(header);
    for part in [binding.owner, binding.document_id, binding.field] {
        put(&(part.len() as u64).to_be_bytes());
        put(part.as_bytes());
    }
}

fn aead_key(key: &DataKey) -> Result<&LessSafeKey, CryptoError> {
    key.aead()
}

/// `header ‖ AES-256-GCM(plaintext) ‖ tag`.
pub(crate) fn seal(
    key: &DataKey,
    header: &Header<'_>,
    binding: &Binding<'_>,
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let mut out = header.encode()?;
    let header_len = out.len();
    let aad = associated_data(&out, binding);
    out.reserve_exact(plaintext.len() + TAG_LEN);
    out.extend_from_slice(plaintext);
    let tag = aead_key(key)?
        .seal_in_place_separate_tag(Nonce::assume_unique_for_key(header.nonce), Aad::from(&aad), &mut out[header_len..])
        .map_err(|_| CryptoError::Internal("AES-256-GCM sealing failed"))?;
    out.extend_from_slice(tag.as_ref());
    Ok(out)
}

/// Opens a ciphertext whose header (already parsed, `header_len` bytes) named `key`.
pub(crate) fn open(
    key: &DataKey,
    ciphertext: &[u8],
    header: &Header<'_>,
    header_len: usize,
    binding: &Binding<'_>,
) -> Result<Vec<u8>, CryptoError> {
    let (header_bytes, body) = ciphertext.split_at_checked(header_len).ok_or(CryptoError::Malformed("truncated"))?;
    if body.len() < TAG_LEN {
        return Err(CryptoError::Malformed("truncated"));
    }
    let key = aead_key(key)?;
    let mut buffer = body.to_vec();
    let plaintext_len = with_associated_data(header_bytes, binding, |aad| {
        key.open_in_place(Nonce::assume_unique_for_key(header.nonce), Aad::from(aad), &mut buffer)
    })
    .map_err(|_| CryptoError::Tampered)?
    .len();
    buffer.truncate(plaintext_len);
    Ok(buffer)
}

/// [`open`] in the ciphertext's own buffer (its header's `nonce` and length
/// given): the plaintext is moved to its front, so a large file costs its
/// size once, not twice.
pub(crate) fn open_owned(
    key: &DataKey,
    mut ciphertext: Vec<u8>,
    nonce: [u8; NONCE_LEN],
    header_len: usize,
    binding: &Binding<'_>,
) -> Result<Vec<u8>, CryptoError> {
    if ciphertext.len() < header_len + TAG_LEN {
        return Err(CryptoError::Malformed("truncated"));
    }
    let key = aead_key(key)?;
    let (header_bytes, body) = ciphertext.split_at_mut(header_len);
    let plaintext_len = with_associated_data(header_bytes, binding, |aad| {
        key.open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(aad), body)
    })
    .map_err(|_| CryptoError::Tampered)?
    .len();
    // The plaintext is at the front of the body: move it to the front.
    ciphertext.copy_within(header_len..header_len + plaintext_len, 0);
    ciphertext.truncate(plaintext_len);
    Ok(ciphertext)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    use super::*;

    const BINDING: Binding<'static> = Binding { owner: "citizen-a", document_id: "doc-1", field: "body" };

    fn runner() -> TestRunner {
        TestRunner::new(Config { cases: 64, failure_persistence: None, ..Config::default() })
    }

    fn seal_and_parse(key: &DataKey, plaintext: &[u8]) -> (Vec<u8>, Header<'static>, usize) {
        let header = Header::new("local", "1", 1).expect("rng");
        let sealed = seal(key, &header, &BINDING, plaintext).expect("seal");
        let (parsed, len) = Header::parse(&sealed).expect("parse");
        assert_eq!(parsed, header);
        (sealed, header, len)
    }

    #[test]
    fn the_header_layout_is_the_documented_one() {
        let header = Header { kek_id: "local", kek_version: "12", data_key_version: 3, nonce: [7; 12] };
        let bytes = header.encode().expect("encode");
        let mut expected = b"PCE\x01\x00\x05local\x00\x0212\x00\x00\x00\x03".to_vec();
        expected.extend_from_slice(&[7; 12]);
        assert_eq!(bytes, expected);
        assert_eq!(Header::parse(&bytes).expect("parse"), (header, expected.len()));
    }

    #[test]
    fn garbage_and_unknown_versions_are_errors_not_panics() {
        assert!(matches!(Header::parse(b""), Err(CryptoError::Malformed(_))));
        assert!(matches!(Header::parse(b"XYZ\x01"), Err(CryptoError::Malformed(_))));
        assert!(matches!(Header::parse(b"PCE\x02rest"), Err(CryptoError::UnsupportedFormat(2))));
        assert!(matches!(Header::parse(b"PCE\x01\x00\x00"), Err(CryptoError::Malformed(_))));
        assert!(matches!(Header::parse(b"PCE\x01\xff\xff"), Err(CryptoError::Malformed(_))));
        assert!(matches!(Header::parse(b"PCE\x01\x00\x02\xff\xfe"), Err(CryptoError::Malformed(_))));
        let key = DataKey::generate().expect("rng");
        let (sealed, header, len) = seal_and_parse(&key, b"x");
        for cut in 0..sealed.len() {
            let short = &sealed[..cut];
            let result = Header::parse(short).and_then(|(h, l)| open(&key, short, &h, l, &BINDING));
            assert!(result.is_err(), "cut at {cut}");
        }
        assert!(matches!(open(&key, &sealed, &header, sealed.len() + 1, &BINDING), Err(CryptoError::Malformed(_))));
        assert_eq!(open(&key, &sealed, &header, len, &BINDING).expect("open"), b"x");
    }

    #[test]
    fn round_trip_for_arbitrary_bytes() {
        let key = DataKey::generate().expect("rng");
        runner()
            .run(&proptest::collection::vec(any::<u8>(), 0..2048), |plaintext| {
                let (sealed, header, len) = seal_and_parse(&key, &plaintext);
                prop_assert_eq!(sealed.len(), len + plaintext.len() + TAG_LEN);
                prop_assert_eq!(open(&key, &sealed, &header, len, &BINDING).expect("open"), plaintext);
                Ok(())
            })
            .expect("property holds");
    }

    /// The associated data is built on the stack up to `STACK_AAD` bytes and
    /// in a Vec beyond: both ways, in both openings, must bind alike.
    #[test]
    fn bindings_of_any_length_open_in_place_and_from_a_slice() {
        let key = DataKey::generate().expect("rng");
        let strategy = (proptest::collection::vec(any::<u8>(), 0..64), "[a-z0-9-]{0,400}");
        runner()
            .run(&strategy, |(plaintext, owner)| {
                let binding = Binding { owner: &owner, document_id: "doc-1", field: "content" };
                let header = Header::new("local", "1", 1).expect("rng");
                let sealed = seal(&key, &header, &binding, &plaintext).expect("seal");
                let (parsed, len) = Header::parse(&sealed).expect("parse");
                prop_assert_eq!(open(&key, &sealed, &parsed, len, &binding).expect("open"), plaintext.clone());
                let owned = open_owned(&key, sealed.clone(), parsed.nonce, len, &binding).expect("open in place");
                prop_assert_eq!(owned, plaintext);
                let other = Binding { owner: "someone-else", ..binding };
                prop_assert!(matches!(open(&key, &sealed, &parsed, len, &other), Err(CryptoError::Tampered)));
                prop_assert!(matches!(
                    open_owned(&key, sealed.clone(), parsed.nonce, len, &other),
                    Err(CryptoError::Tampered)
                ));
                Ok(())
            })
            .expect("property holds");
    }

    #[test]
    fn another_key_fails_authentication() {
        runner()
            .run(&proptest::collection::vec(any::<u8>(), 0..256), |plaintext| {
                let key = DataKey::generate().expect("rng");
                let other = DataKey::generate().expect("rng");
                let (sealed, header, len) = seal_and_parse(&key, &plaintext);
                prop_assert!(matches!(open(&other, &sealed, &header, len, &BINDING), Err(CryptoError::Tampered)));
                Ok(())
            })
            .expect("property holds");
    }

    #[test]
    fn a_different_binding_fails_authentication() {
        let key = DataKey::generate().expect("rng");
        let strategy = (proptest::collection::vec(any::<u8>(), 0..256), ".{0,40}", 0..3usize);
        runner()
            .run(&strategy, |(plaintext, other, which)| {
                let (sealed, header, len) = seal_and_parse(&key, &plaintext);
                let mut binding = BINDING;
                match which {
                    0 => binding.owner = &other,
                    1 => binding.document_id = &other,
                    _ => binding.field = &other,
                }
                prop_assume!([binding.owner, binding.document_id, binding.field] != ["citizen-a", "doc-1", "body"]);
                prop_assert!(matches!(open(&key, &sealed, &header, len, &binding), Err(CryptoError::Tampered)));
                Ok(())
            })
            .expect("property holds");
    }

    #[test]
    fn moving_bytes_between_binding_parts_fails() {
        let key = DataKey::generate().expect("rng");
        let (sealed, header, len) = seal_and_parse(&key, b"secret");
        let shifted = Binding { owner: "citizen-ad", document_id: "oc-1", field: "body" };
        assert!(matches!(open(&key, &sealed, &header, len, &shifted), Err(CryptoError::Tampered)));
    }

    #[test]
    fn every_flipped_bit_of_header_and_nonce_is_rejected() {
        let key = DataKey::generate().expect("rng");
        let (sealed, _, len) = seal_and_parse(&key, b"a field value");
        for bit in 0..len * 8 {
            let mut altered = sealed.clone();
            altered[bit / 8] ^= 1 << (bit % 8);
            let result = Header::parse(&altered).and_then(|(h, l)| open(&key, &altered, &h, l, &BINDING));
            assert!(result.is_err(), "bit {bit} of the header");
        }
    }
}
