//! A VoDZ answer received into a temporary file as it streams, so a big
//! download never holds the XOP answer in memory: only what is read back
//! from it (the SOAP envelope, then the ZFO's part, 64 KiB at a time) is.
//!
//! The file is anonymous (`tempfile::tempfile_in`: `O_TMPFILE` on Linux, no
//! name in any folder), so the system frees it when its handle closes: when
//! the answer is dropped after its ZFO was read, when the download fails or
//! is dropped mid-stream, on a panic, and when the process dies. Its content
//! is sealed (AES-256-GCM, 64 KiB chunks, the chunk's number as nonce) under
//! a key made for this one answer that lives only in memory, so the disk
//! blocks never hold a message in clear, even after the file is freed. Not a
//! blob under the citizen's key: the SOAP adapter has no store and no
//! citizen (a job downloads too), and this file never outlives the request.
//!
//! While the body streams, the positions of its multipart delimiters are
//! found ([`Delimiters`]); the parts' headers are read back afterwards.

use std::ops::Range;
use std::os::unix::fs::FileExt as _;
use std::path::Path;
use std::sync::Arc;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

/// Plaintext per sealed chunk.
const CHUNK: usize = 64 * 1024;
/// The GCM tag after each chunk.
const TAG: usize = 16;

/// An answer's bytes in an anonymous file, sealed under a key of its own.
pub(super) struct AnswerFile {
    sealed: Arc<Sealed>,
    /// Plaintext not yet sealed (less than a chunk).
    pending: Vec<u8>,
    /// Chunks written.
    chunks: u64,
    /// Plaintext bytes received.
    len: u64,
}

struct Sealed {
    file: std::fs::File,
    key: LessSafeKey,
}

fn nonce(chunk: u64) -> Nonce {
    let mut bytes = [0; NONCE_LEN];
    bytes[NONCE_LEN - 8..].copy_from_slice(&chunk.to_be_bytes());
    Nonce::assume_unique_for_key(bytes)
}

impl AnswerFile {
    /// A new, empty file in `dir`.
    pub(super) fn new(dir: &Path) -> std::io::Result<Self> {
        let mut key = [0; 32];
        aws_lc_rs::rand::fill(&mut key).map_err(|_| std::io::Error::other("no random key"))?;
        let key = UnboundKey::new(&AES_256_GCM, &key).map_err(|_| std::io::Error::other("AES-256-GCM key"))?;
        let file = tempfile::tempfile_in(dir)?;
        Ok(Self {
            sealed: Arc::new(Sealed { file, key: LessSafeKey::new(key) }),
            pending: Vec::with_capacity(CHUNK),
            chunks: 0,
            len: 0,
        })
    }

    /// Bytes received so far.
    pub(super) fn len(&self) -> u64 {
        self.len
    }

    /// Appends `bytes`, sealing and writing each full chunk.
    pub(super) fn push(&mut self, mut bytes: &[u8]) -> std::io::Result<()> {
        self.len += bytes.len() as u64;
        while !bytes.is_empty() {
            let take = (CHUNK - self.pending.len()).min(bytes.len());
            self.pending.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.pending.len() == CHUNK {
                self.write_pending()?;
            }
        }
        Ok(())
    }

    /// Writes what is pending (the last, short chunk): call once, at the end.
    pub(super) fn finish(&mut self) -> std::io::Result<()> {
        if !self.pending.is_empty() {
            self.write_pending()?;
        }
        Ok(())
    }

    fn write_pending(&mut self) -> std::io::Result<()> {
        let chunk = self.chunks;
        let mut sealed = std::mem::replace(&mut self.pending, Vec::with_capacity(CHUNK));
        self.sealed
            .key
            .seal_in_place_append_tag(nonce(chunk), Aad::empty(), &mut sealed)
            .map_err(|_| std::io::Error::other("sealing an answer's chunk"))?;
        self.sealed.file.write_all_at(&sealed, chunk * (CHUNK + TAG) as u64)?;
        self.chunks += 1;
        Ok(())
    }

    /// The plaintext of `range` (after [`finish`](Self::finish)), read and
    /// opened chunk by chunk off the runtime's threads.
    pub(super) async fn read(&self, range: Range<u64>) -> std::io::Result<Vec<u8>> {
        if range.start > range.end || range.end > self.len {
            return Err(std::io::Error::other("a range past the answer's end"));
        }
        let (sealed, len) = (self.sealed.clone(), self.len);
        tokio::task::spawn_blocking(move || sealed.read(range, len)).await.map_err(std::io::Error::other)?
    }

    /// Up to `max` bytes from `at` (fewer at the end).
    pub(super) async fn read_up_to(&self, at: u64, max: u64) -> std::io::Result<Vec<u8>> {
        self.read(at.min(self.len)..at.saturating_add(max).min(self.len)).await
    }
}

impl Sealed {
    fn read(&self, range: Range<u64>, len: u64) -> std::io::Result<Vec<u8>> {
        let wanted = usize::try_from(range.end - range.start).map_err(std::io::Error::other)?;
        let mut out = Vec::with_capacity(wanted);
        if wanted == 0 {
            return Ok(out);
        }
        let chunk_len = CHUNK as u64;
        let mut buffer = vec![0; CHUNK + TAG];
        for chunk in range.start / chunk_len..=(range.end - 1) / chunk_len {
            let start = chunk * chunk_len;
            let plain = (len - start).min(chunk_len) as usize;
            let sealed = &mut buffer[..plain + TAG];
            self.file.read_exact_at(sealed, chunk * (CHUNK + TAG) as u64)?;
            let opened = self
                .key
                .open_in_place(nonce(chunk), Aad::empty(), sealed)
                .map_err(|_| std::io::Error::other("an answer's chunk does not open"))?;
            let from = range.start.saturating_sub(start) as usize;
            let to = (range.end - start).min(chunk_len) as usize;
            out.extend_from_slice(&opened[from..to]);
        }
        Ok(out)
    }
}

/// Finds where `--boundary` starts a line in a body that arrives in pieces:
/// at the body's start or after CRLF (RFC 2046). Positions are the body's
/// offsets of the `--`.
pub(super) struct Delimiters {
    /// `\r\n--boundary`.
    needle: Vec<u8>,
    /// The end of what came before (shorter than the needle), a CRLF
    /// standing for the line before the body at first.
    carry: Vec<u8>,
    /// The body's offset of `carry`'s end.
    at: u64,
    pub(super) found: Vec<u64>,
}

impl Delimiters {
    pub(super) fn new(boundary: &str) -> Self {
        Self { needle: format!("\r\n--{boundary}").into_bytes(), carry: b"\r\n".to_vec(), at: 0, found: Vec::new() }
    }

    pub(super) fn push(&mut self, piece: &[u8]) {
        // Only the carry and the first needle-length bytes can hold a needle
        // across the two; the rest of the piece is searched in place.
        let head_len = piece.len().min(self.needle.len());
        let mut joined = std::mem::take(&mut self.carry);
        let carry_len = joined.len();
        joined.extend_from_slice(&piece[..head_len]);
        let joined_start = self.at as i128 - carry_len as i128;
        let mut from = 0;
        while let Some(at) = super::vodz::find(&joined, &self.needle, from) {
            if at < carry_len {
                self.found.push((joined_start + at as i128 + 2) as u64);
            }
            from = at + 1;
        }
        let mut from = 0;
        while let Some(at) = super::vodz::find(piece, &self.needle, from) {
            self.found.push(self.at + at as u64 + 2);
            from = at + 1;
        }
        self.at += piece.len() as u64;
        let keep = self.needle.len() - 1;
        self.carry = if piece.len() >= keep {
            piece[piece.len() - keep..].to_vec()
        } else {
            let skip = (carry_len + piece.len()).saturating_sub(keep);
            let mut carry = joined[skip..carry_len].to_vec();
            carry.extend_from_slice(piece);
            carry
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn what_is_pushed_reads_back_in_any_range_and_the_file_holds_no_clear_text() {
        let dir = tempfile::tempdir().expect("dir");
        let mut file = AnswerFile::new(dir.path()).expect("file");
        let body: Vec<u8> = (0..(3 * CHUNK + 1234)).map(|i| (i % 251) as u8).collect();
        for piece in body.chunks(7_777) {
            file.push(piece).expect("push");
        }
        file.finish().expect("finish");
        assert_eq!(file.len(), body.len() as u64);
        for (start, end) in [(0, body.len()), (0, 1), (CHUNK - 3, CHUNK + 3), (2 * CHUNK, 3 * CHUNK + 1234), (5, 5)] {
            assert_eq!(file.read(start as u64..end as u64).await.expect("read"), body[start..end], "{start}..{end}");
        }
        assert!(file.read(0..body.len() as u64 + 1).await.is_err());
        assert_eq!(file.read_up_to(body.len() as u64 - 2, 100).await.expect("tail"), body[body.len() - 2..]);
        // Sealed: no run of the content is on the disk.
        let mut on_disk = Vec::new();
        std::io::Read::read_to_end(&mut &file.sealed.file, &mut on_disk).expect("raw");
        assert_eq!(on_disk.len(), body.len() + 4 * TAG);
        for at in [0, CHUNK / 2, 3 * CHUNK] {
            assert!(!on_disk.windows(32).any(|w| w == &body[at..at + 32]), "clear text from {at}");
        }
        // Anonymous: nothing in the folder, even while it is open.
        assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 0);
    }

    #[test]
    fn delimiters_are_found_however_the_body_is_cut() {
        let body: &[u8] = b"--b1\r\nA: 1\r\n\r\nx--b1\r\n--b1y\r\n--b1\r\n\r\n\r\n--b1--\r\n";
        let expected = [0_u64, 21, 28, 38];
        for size in 1..=body.len() {
            let mut delimiters = Delimiters::new("b1");
            for piece in body.chunks(size) {
                delimiters.push(piece);
            }
            assert_eq!(delimiters.found, expected, "pieces of {size}");
        }
        // Every cut in two and three places.
        for a in 0..=body.len() {
            for b in a..=body.len() {
                let mut delimiters = Delimiters::new("b1");
                for piece in [&body[..a], &body[a..b], &body[b..]] {
                    delimiters.push(piece);
                }
                assert_eq!(delimiters.found, expected, "cut at {a} and {b}");
            }
        }
        let mut late = Delimiters::new("b1");
        late.push(b"preamble--b1\r\n--b1--");
        assert_eq!(late.found, [14]);
    }
}
