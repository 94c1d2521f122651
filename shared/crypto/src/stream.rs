//! Streaming sealing: a large file sealed in chunks, so neither side ever
//! holds it whole (format version 2).
//!
//! The construction is STREAM (Hoang, Reyhanitabar, Rogaway, Vizár: "Online
//! Authenticated-Encryption and its Nonce-Reuse Misuse-Resistance", CRYPTO
//! 2015) over the AES-256-GCM of the single-shot format, as Tink's and
//! age's streaming AEADs use it:
//!
//! ```text
//! header  = "PCE" 0x02 | len16 kek_id | len16 kek_version | data_key_version u32
//!           | nonce_prefix [7] (random per file) | chunk_size u32
//! chunk i = AES-256-GCM(key, nonce = nonce_prefix | i as u32 BE | last (0 or 1),
//!                       aad = header | owner | document | field, plaintext_i) | tag [16]
//! ```
//!
//! Every chunk but the last carries exactly `chunk_size` bytes of plaintext;
//! the last carries 0 to `chunk_size` and the flag 1. So a reader detects:
//! - **truncation** (the stream ends after a chunk sealed with flag 0, or mid-chunk);
//! - **reordering** or **dropping** a chunk (the counter is in the nonce);
//! - **swapping chunks between files** (each file has its own random nonce
//!   prefix, and the header, owner, document and field are in every chunk's AAD);
//! - **appending** after the last chunk (a chunk after the flag-1 one is refused).
//!
//! Nonces never repeat under one data key: 7 random bytes per file plus the
//! counter give one file's chunks distinct nonces, and two files collide only
//! if their 56-bit prefixes do (birthday bound: about 2^28 files per citizen
//! for a 2^-1 chance — far above what one citizen stores; each file has at most
//! 2^32 chunks, 256 TiB at 64 KiB).

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

use crate::error::CryptoError;
use crate::format::{Binding, MAGIC, MAX_KEK_ID_LEN, MAX_KEK_VERSION_LEN, TAG_LEN, associated_data};
use crate::key::DataKey;

/// The format version byte of streamed ciphertexts.
pub const FORMAT_STREAM: u8 = 2;
/// Plaintext bytes per chunk (64 KiB): the memory one chunk needs on each side.
pub const CHUNK_SIZE: usize = 64 * 1024;
/// Bytes of the per-file random nonce prefix.
const PREFIX_LEN: usize = 7;
/// The longest header the format allows, so a reader knows when to give up.
pub const MAX_HEADER_LEN: usize = 4 + 2 + MAX_KEK_ID_LEN + 2 + MAX_KEK_VERSION_LEN + 4 + PREFIX_LEN + 4;

/// The header of a streamed ciphertext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamHeader {
    pub kek_id: String,
    pub kek_version: String,
    pub data_key_version: u32,
    nonce_prefix: [u8; PREFIX_LEN],
    chunk_size: u32,
}

impl StreamHeader {
    pub(crate) fn new(kek_id: &str, kek_version: &str, data_key_version: u32) -> Result<Self, CryptoError> {
        let mut nonce_prefix = [0; PREFIX_LEN];
        aws_lc_rs::rand::fill(&mut nonce_prefix)
            .map_err(|_| CryptoError::Internal("the random number generator failed"))?;
        Ok(Self {
            kek_id: kek_id.to_owned(),
            kek_version: kek_version.to_owned(),
            data_key_version,
            nonce_prefix,
            chunk_size: CHUNK_SIZE as u32,
        })
    }

    fn encode(&self) -> Result<Vec<u8>, CryptoError> {
        if !(1..=MAX_KEK_ID_LEN).contains(&self.kek_id.len())
            || !(1..=MAX_KEK_VERSION_LEN).contains(&self.kek_version.len())
        {
            return Err(CryptoError::Internal("the KEK id or version is too long for a ciphertext header"));
        }
        let mut out = Vec::with_capacity(MAX_HEADER_LEN);
        out.extend_from_slice(MAGIC);
        out.push(FORMAT_STREAM);
        for text in [&self.kek_id, &self.kek_version] {
            out.extend_from_slice(&(text.len() as u16).to_be_bytes());
            out.extend_from_slice(text.as_bytes());
        }
        out.extend_from_slice(&self.data_key_version.to_be_bytes());
        out.extend_from_slice(&self.nonce_prefix);
        out.extend_from_slice(&self.chunk_size.to_be_bytes());
        Ok(out)
    }

    /// The header at the start of `input`, with its length; `Ok(None)` when
    /// `input` is a prefix too short to tell yet.
    pub fn parse(input: &[u8]) -> Result<Option<(Self, usize)>, CryptoError> {
        let mut pos = 0;
        let mut take = |len: usize| -> Option<&[u8]> {
            let slice = input.get(pos..pos + len)?;
            pos += len;
            Some(slice)
        };
        let Some(magic) = take(3) else { return Ok(None) };
        if magic != MAGIC {
            return Err(CryptoError::Malformed("bad magic"));
        }
        let Some(version) = take(1) else { return Ok(None) };
        if version[0] != FORMAT_STREAM {
            return Err(CryptoError::UnsupportedFormat(version[0]));
        }
        let mut texts = Vec::new();
        for max in [MAX_KEK_ID_LEN, MAX_KEK_VERSION_LEN] {
            let Some(len) = take(2) else { return Ok(None) };
            let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
            if len == 0 || len > max {
                return Err(CryptoError::Malformed("bad length in header"));
            }
            let Some(text) = take(len) else { return Ok(None) };
            texts.push(
                String::from_utf8(text.to_vec()).map_err(|_| CryptoError::Malformed("header text is not UTF-8"))?,
            );
        }
        let Some(version) = take(4) else { return Ok(None) };
        let data_key_version = u32::from_be_bytes([version[0], version[1], version[2], version[3]]);
        let Some(prefix) = take(PREFIX_LEN) else { return Ok(None) };
        let mut nonce_prefix = [0; PREFIX_LEN];
        nonce_prefix.copy_from_slice(prefix);
        let Some(size) = take(4) else { return Ok(None) };
        let chunk_size = u32::from_be_bytes([size[0], size[1], size[2], size[3]]);
        if chunk_size == 0 || chunk_size > 16 * 1024 * 1024 {
            return Err(CryptoError::Malformed("bad chunk size in header"));
        }
        let kek_version = texts.pop().unwrap_or_default();
        let kek_id = texts.pop().unwrap_or_default();
        Ok(Some((Self { kek_id, kek_version, data_key_version, nonce_prefix, chunk_size }, pos)))
    }
}

/// Whether `ciphertext` (or its first bytes) is in the streamed format.
pub fn is_streamed(ciphertext: &[u8]) -> bool {
    ciphertext.len() > MAGIC.len() && &ciphertext[..MAGIC.len()] == MAGIC && ciphertext[MAGIC.len()] == FORMAT_STREAM
}

fn nonce(prefix: &[u8; PREFIX_LEN], counter: u32, last: bool) -> Nonce {
    let mut bytes = [0u8; NONCE_LEN];
    bytes[..PREFIX_LEN].copy_from_slice(prefix);
    bytes[PREFIX_LEN..PREFIX_LEN + 4].copy_from_slice(&counter.to_be_bytes());
    bytes[NONCE_LEN - 1] = u8::from(last);
    Nonce::assume_unique_for_key(bytes)
}

fn aead_key(key: &DataKey) -> Result<LessSafeKey, CryptoError> {
    let unbound = UnboundKey::new(&AES_256_GCM, key.expose_secret())
        .map_err(|_| CryptoError::Internal("AES-256-GCM rejected the key"))?;
    Ok(LessSafeKey::new(unbound))
}

/// Seals one file chunk by chunk: [`header`](Self::header) first, then
/// [`seal_chunk`](Self::seal_chunk) for each `CHUNK_SIZE` bytes, the last one
/// (0 to `CHUNK_SIZE` bytes) with `last`.
pub struct StreamSealer {
    key: LessSafeKey,
    header: Vec<u8>,
    aad: Vec<u8>,
    prefix: [u8; PREFIX_LEN],
    counter: u32,
    finished: bool,
}

impl std::fmt::Debug for StreamSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamSealer").field("counter", &self.counter).finish_non_exhaustive()
    }
}

impl StreamSealer {
    pub(crate) fn new(key: &DataKey, header: &StreamHeader, binding: &Binding<'_>) -> Result<Self, CryptoError> {
        let encoded = header.encode()?;
        Ok(Self {
            key: aead_key(key)?,
            aad: associated_data(&encoded, binding),
            header: encoded,
            prefix: header.nonce_prefix,
            counter: 0,
            finished: false,
        })
    }

    pub fn header(&self) -> &[u8] {
        &self.header
    }

    /// Seals the next chunk: exactly `CHUNK_SIZE` bytes unless `last`.
    pub fn seal_chunk(&mut self, plaintext: &[u8], last: bool) -> Result<Vec<u8>, CryptoError> {
        if self.finished {
            return Err(CryptoError::Internal("a chunk after the last one"));
        }
        if plaintext.len() > CHUNK_SIZE || (!last && plaintext.len() != CHUNK_SIZE) {
            return Err(CryptoError::Internal("a chunk of the wrong size"));
        }
        let mut out = Vec::with_capacity(plaintext.len() + TAG_LEN);
        out.extend_from_slice(plaintext);
        let tag = self
            .key
            .seal_in_place_separate_tag(nonce(&self.prefix, self.counter, last), Aad::from(&self.aad), &mut out)
            .map_err(|_| CryptoError::Internal("AES-256-GCM sealing failed"))?;
        out.extend_from_slice(tag.as_ref());
        self.counter = self.counter.checked_add(1).ok_or(CryptoError::Internal("too many chunks"))?;
        self.finished = last;
        Ok(out)
    }

    /// Seals a whole plaintext in one call (small files, tests).
    pub fn seal_all(mut self, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut out = self.header.clone();
        let mut chunks = plaintext.chunks(CHUNK_SIZE).peekable();
        if chunks.peek().is_none() {
            out.extend(self.seal_chunk(&[], true)?);
        }
        while let Some(chunk) = chunks.next() {
            let last = chunks.peek().is_none();
            let sealed = if last && chunk.len() == CHUNK_SIZE {
                // A full last chunk: sealed as a full one, then an empty final one.
                let mut both = self.seal_chunk(chunk, false)?;
                both.extend(self.seal_chunk(&[], true)?);
                both
            } else {
                self.seal_chunk(chunk, last)?
            };
            out.extend(sealed);
        }
        Ok(out)
    }
}

/// Opens a streamed ciphertext as its bytes arrive: [`push`](Self::push)
/// what comes after the header, then [`finish`](Self::finish). Holds at most
/// one chunk (and what arrived of the next).
pub struct StreamOpener {
    key: LessSafeKey,
    aad: Vec<u8>,
    prefix: [u8; PREFIX_LEN],
    chunk_len: usize,
    counter: u32,
    buffer: Vec<u8>,
}

impl std::fmt::Debug for StreamOpener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamOpener").field("counter", &self.counter).finish_non_exhaustive()
    }
}

impl StreamOpener {
    pub(crate) fn new(
        key: &DataKey,
        header: &StreamHeader,
        header_bytes: &[u8],
        binding: &Binding<'_>,
    ) -> Result<Self, CryptoError> {
        let chunk_len = header.chunk_size as usize + TAG_LEN;
        Ok(Self {
            key: aead_key(key)?,
            aad: associated_data(header_bytes, binding),
            prefix: header.nonce_prefix,
            chunk_len,
            counter: 0,
            buffer: Vec::with_capacity(chunk_len * 2),
        })
    }

    fn open_one(&mut self, mut sealed: Vec<u8>, last: bool) -> Result<Vec<u8>, CryptoError> {
        let len = self
            .key
            .open_in_place(nonce(&self.prefix, self.counter, last), Aad::from(&self.aad), &mut sealed)
            .map_err(|_| CryptoError::Tampered)?
            .len();
        sealed.truncate(len);
        self.counter = self.counter.checked_add(1).ok_or(CryptoError::Malformed("too many chunks"))?;
        Ok(sealed)
    }

    /// Takes the next ciphertext bytes; returns the plaintext of every chunk
    /// known not to be the last (one is held back until more arrives).
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.buffer.extend_from_slice(bytes);
        let mut plain = Vec::new();
        while self.buffer.len() > self.chunk_len {
            let rest = self.buffer.split_off(self.chunk_len);
            let chunk = std::mem::replace(&mut self.buffer, rest);
            plain.extend(self.open_one(chunk, false)?);
        }
        Ok(plain)
    }

    /// The end of the ciphertext: opens the last chunk, which must carry the
    /// last-chunk flag (else the file was cut short).
    pub fn finish(mut self) -> Result<Vec<u8>, CryptoError> {
        if self.buffer.len() < TAG_LEN {
            return Err(CryptoError::Malformed("truncated"));
        }
        let last = std::mem::take(&mut self.buffer);
        self.open_one(last, true)
    }

    /// The plaintext as the rest of a stored ciphertext arrives: `first` is
    /// what pushing the bytes already read gave, `rest` the blob's remaining
    /// chunks. A chunk that fails authentication, or a cut-short end, ends the
    /// stream with an error (and is logged: a sealed file was altered); a
    /// read error of the blob ends it too. Nothing unauthenticated goes out.
    pub fn into_plaintext(
        self,
        first: Vec<u8>,
        rest: portal_store::BlobStream,
    ) -> futures::stream::BoxStream<'static, std::io::Result<bytes::Bytes>> {
        use bytes::Bytes;
        use futures::{StreamExt as _, TryStreamExt as _};
        fn broken(error: CryptoError) -> std::io::Error {
            tracing::error!(error = %error, "a sealed file failed authentication while it was streamed");
            std::io::Error::other(error)
        }
        let state = Some((self, rest, first));
        futures::stream::unfold(state, |state| async move {
            let (mut opener, mut blob, pending) = state?;
            if !pending.is_empty() {
                return Some((Ok(Bytes::from(pending)), Some((opener, blob, Vec::new()))));
            }
            loop {
                match blob.try_next().await {
                    Ok(Some(chunk)) => match opener.push(&chunk) {
                        Ok(plain) if plain.is_empty() => {}
                        Ok(plain) => return Some((Ok(Bytes::from(plain)), Some((opener, blob, Vec::new())))),
                        Err(error) => return Some((Err(broken(error)), None)),
                    },
                    Ok(None) => {
                        return match opener.finish() {
                            Ok(plain) if plain.is_empty() => None,
                            Ok(plain) => Some((Ok(Bytes::from(plain)), None)),
                            Err(error) => Some((Err(broken(error)), None)),
                        };
                    }
                    Err(error) => return Some((Err(std::io::Error::other(error)), None)),
                }
            }
        })
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BINDING: Binding<'static> = Binding { owner: "citizen-a", document_id: "doc-1", field: "content" };

    fn sealed(key: &DataKey, plaintext: &[u8]) -> Vec<u8> {
        let header = StreamHeader::new("local", "1", 1).expect("rng");
        StreamSealer::new(key, &header, &BINDING).expect("sealer").seal_all(plaintext).expect("seal")
    }

    fn open(key: &DataKey, ciphertext: &[u8], binding: &Binding<'_>, step: usize) -> Result<Vec<u8>, CryptoError> {
        let (header, len) = StreamHeader::parse(ciphertext)?.ok_or(CryptoError::Malformed("truncated header"))?;
        let mut opener = StreamOpener::new(key, &header, &ciphertext[..len], binding)?;
        let mut plain = Vec::new();
        for piece in ciphertext[len..].chunks(step.max(1)) {
            plain.extend(opener.push(piece)?);
        }
        plain.extend(opener.finish()?);
        Ok(plain)
    }

    fn plaintext(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[test]
    fn every_size_round_trips_whatever_the_pieces_it_arrives_in() {
        let key = DataKey::generate().expect("rng");
        for len in [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE, 3 * CHUNK_SIZE + 17] {
            let plain = plaintext(len);
            let sealed = sealed(&key, &plain);
            assert!(is_streamed(&sealed));
            for step in [1000, 4096, CHUNK_SIZE + TAG_LEN, 1 << 20] {
                assert_eq!(open(&key, &sealed, &BINDING, step).expect("open"), plain, "len {len}, step {step}");
            }
        }
    }

    fn chunk_bounds(sealed: &[u8]) -> (usize, usize) {
        let (_, header_len) = StreamHeader::parse(sealed).expect("parse").expect("complete");
        (header_len, CHUNK_SIZE + TAG_LEN)
    }

    #[test]
    fn truncation_is_detected_at_a_chunk_boundary_and_inside_a_chunk() {
        let key = DataKey::generate().expect("rng");
        let sealed = sealed(&key, &plaintext(3 * CHUNK_SIZE + 100));
        let (start, chunk) = chunk_bounds(&sealed);
        for cut in [start + chunk, start + 2 * chunk, start + 3 * chunk, sealed.len() - 1, start + chunk + 5, start] {
            let result = open(&key, &sealed[..cut], &BINDING, 4096);
            assert!(result.is_err(), "cut at {cut} of {}", sealed.len());
        }
    }

    #[test]
    fn reordered_dropped_duplicated_or_appended_chunks_are_detected() {
        let key = DataKey::generate().expect("rng");
        let sealed = sealed(&key, &plaintext(3 * CHUNK_SIZE + 100));
        let (start, chunk) = chunk_bounds(&sealed);
        let part = |i: usize| sealed[start + i * chunk..(start + (i + 1) * chunk).min(sealed.len())].to_vec();
        let head = sealed[..start].to_vec();
        let swapped = [head.clone(), part(1), part(0), part(2), part(3)].concat();
        let dropped = [head.clone(), part(0), part(2), part(3)].concat();
        let doubled = [head.clone(), part(0), part(0), part(1), part(2), part(3)].concat();
        let appended = [sealed.clone(), part(3)].concat();
        for (what, bytes) in [("swapped", swapped), ("dropped", dropped), ("doubled", doubled), ("appended", appended)]
        {
            assert!(matches!(open(&key, &bytes, &BINDING, 4096), Err(CryptoError::Tampered)), "{what}");
        }
    }

    #[test]
    fn chunks_cannot_move_between_files_documents_or_owners() {
        let key = DataKey::generate().expect("rng");
        let a = sealed(&key, &plaintext(2 * CHUNK_SIZE + 10));
        let b = sealed(&key, &plaintext(2 * CHUNK_SIZE + 10));
        let (start, chunk) = chunk_bounds(&a);
        // The first chunk of file b inside file a (same owner, same key, same sizes).
        let mixed = [&a[..start], &b[start..start + chunk], &a[start + chunk..]].concat();
        assert!(matches!(open(&key, &mixed, &BINDING, 4096), Err(CryptoError::Tampered)));
        let elsewhere = Binding { document_id: "doc-2", ..BINDING };
        assert!(matches!(open(&key, &a, &elsewhere, 4096), Err(CryptoError::Tampered)));
        let other_key = DataKey::generate().expect("rng");
        assert!(matches!(open(&other_key, &a, &BINDING, 4096), Err(CryptoError::Tampered)));
    }

    #[test]
    fn garbage_headers_are_errors_and_short_ones_wait_for_more() {
        let key = DataKey::generate().expect("rng");
        let sealed = sealed(&key, b"x");
        let (_, len) = StreamHeader::parse(&sealed).expect("parse").expect("complete");
        for cut in 0..len {
            assert!(StreamHeader::parse(&sealed[..cut]).expect("a prefix is not an error").is_none(), "cut {cut}");
        }
        assert!(StreamHeader::parse(b"XYZ\x02").is_err());
        assert!(matches!(StreamHeader::parse(b"PCE\x01...."), Err(CryptoError::UnsupportedFormat(1))));
        assert!(StreamHeader::parse(b"PCE\x02\x00\x00").is_err(), "an empty KEK id");
    }
}
