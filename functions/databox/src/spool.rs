//! A message's files put aside as they arrive (the spool), so sending a big
//! message never holds it whole: `POST /api/databox/messages` seals each file
//! part chunk by chunk under the citizen's key (format 2, 64 KiB chunks) into
//! a blob as the part streams in, counting it against the message limit and
//! hashing it (SHA-256, for the `Idempotency-Key`'s fingerprint) on the way;
//! a ZIP/ASiC container is checked from its tail and, where the check asks for
//! more (its entries' local headers), from one more pass over the spooled
//! file ([`Spool::add`]). Sending then reads each file back from its blob,
//! opened chunk by chunk: a big message's `UploadAttachment` streams it to
//! ISDS, a standard one (at most 20 MB) is read whole for `CreateMessage`.
//!
//! Where: `databox-spool/<citizen folder>/<unix seconds>-<random>/<n>`, one
//! folder per request (so two tries of the same `Idempotency-Key` never write
//! each other's files), the time in the name. The request deletes its folder
//! when it answers, whatever the answer ([`Spool::discard`]); a refused or
//! broken form stores nothing (a part given up mid-stream is never stored).
//! A folder a crashed request left behind (the process died between spooling
//! and answering) is deleted by [`collect`] once it is older than [`KEPT`]:
//! the daily `ArchiveExpiringMessages` run calls it. Erasure deletes the
//! citizen's folder with the rest (`EraseDataboxData`), and the content was
//! already unreadable once the citizen's key was shredded.
//!
//! A big message opened from ISDS puts its ZFO and files in a folder of the
//! same form ([`crate::isds::Stash`]), so the same collection and erasure
//! cover it.

use std::io::{Read, Seek, SeekFrom};

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt as _, TryStreamExt as _};
use portal_store::{BlobPath, PutMode, StoreError};

use crate::Databox;
use crate::archive::citizen_folder;
use crate::isds::{ByteStream, IsdsError, seal_into};

/// Where every spool folder lives.
pub const PREFIX: &str = "databox-spool/";
/// How old a spool folder must be before [`collect`] takes it: longer than
/// any request that may still use it (reading a 100 MB form and a big
/// message's send, at most `sending::BIG_SEND_TAKES`).
pub const KEPT: time::Duration = time::Duration::hours(2);
/// The end of a container kept while it arrives: its central directory.
const TAIL: usize = 4 * 1024 * 1024;
/// The most of a container's other bytes the check may read again.
const MAX_REREAD: u64 = 16 * 1024 * 1024;
/// Passes of the container check over what it asked for.
const CHECK_ROUNDS: usize = 4;

/// Why a file could not be put aside.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// The files went over the message limit as they arrived.
    #[error("the files are over the message limit")]
    TooLarge,
    /// The client's part broke off or was malformed.
    #[error("the form could not be read")]
    Incoming,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] portal_crypto::CryptoError),
    /// The sealed file could not be stored (the local store or the key).
    #[error(transparent)]
    Sealed(#[from] IsdsError),
}

/// One file in the spool: its size and SHA-256, and where it is.
#[derive(Debug, Clone)]
pub struct SpooledFile {
    pub size: u64,
    pub sha256: [u8; 32],
    path: BlobPath,
    field: String,
}

/// One request's spool folder.
#[derive(Debug, Default)]
pub struct Spool {
    owner: String,
    id: String,
    files: Vec<SpooledFile>,
}

impl Spool {
    /// A new, empty folder for `owner`'s request, named by the time.
    pub fn new(databox: &Databox, owner: &str) -> Self {
        let at = databox.clock.now().unix_timestamp();
        Self { owner: owner.to_owned(), id: format!("{at}-{}", uuid::Uuid::new_v4().simple()), files: Vec::new() }
    }

    fn folder(&self) -> String {
        format!("{PREFIX}{}/{}/", citizen_folder(&self.owner), self.id)
    }

    /// The document id the files are sealed to (with the field `attachment-<n>`).
    fn document(&self) -> String {
        format!("spool-{}", self.id)
    }

    /// The files so far, in order.
    pub fn files(&self) -> &[SpooledFile] {
        &self.files
    }

    /// Puts `content` aside as it arrives, sealed; at most `budget` bytes
    /// ([`SpoolError::TooLarge`] as soon as it is over, storing nothing). For
    /// a container (`container`), the rules its content breaks
    /// ([`crate::containers::check`]), else none.
    pub async fn add<S, E>(
        &mut self,
        databox: &Databox,
        content: S,
        budget: u64,
        container: bool,
    ) -> Result<(SpooledFile, Vec<String>), SpoolError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send + Unpin,
    {
        let n = self.files.len();
        let path = BlobPath::parse(format!("{}{n}", self.folder()))?;
        let field = format!("attachment-{n}");
        let sealer = databox.sealer.stream_sealer(&self.owner, &self.document(), &field).await?;
        let mut intake = Intake {
            size: 0,
            budget,
            digest: aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256),
            tail: container.then(Vec::new),
            failure: None,
        };
        let input = {
            let intake = &mut intake;
            content
                .map(move |piece| {
                    let failure = match piece {
                        Ok(piece) => match intake.take(&piece) {
                            Ok(()) => return Ok(piece),
                            Err(failure) => failure,
                        },
                        Err(_) => SpoolError::Incoming,
                    };
                    let given_up = IsdsError::Invalid(failure.to_string());
                    intake.failure = Some(failure);
                    Err(given_up)
                })
                .boxed()
        };
        let sealed =
            seal_into(databox.blobs.as_ref(), sealer, &path, "application/octet-stream", PutMode::CreateOnly, input)
                .await;
        if let Some(failure) = intake.failure.take() {
            return Err(failure);
        }
        sealed?;
        let mut sha256 = [0; 32];
        sha256.copy_from_slice(intake.digest.finish().as_ref());
        let file = SpooledFile { size: intake.size, sha256, path, field };
        // Known from here, so a failure below still discards it.
        self.files.push(file.clone());
        let rules = match intake.tail.take() {
            Some(tail) if file.size > 0 => self.container_rules(databox, &file, tail).await?,
            _ => Vec::new(),
        };
        Ok((file, rules))
    }

    /// The container check over the spooled file: from its tail, and what
    /// else the check reads fetched by one more pass over the file each round.
    async fn container_rules(
        &self,
        databox: &Databox,
        file: &SpooledFile,
        tail: Vec<u8>,
    ) -> Result<Vec<String>, SpoolError> {
        let mut pieces = vec![(file.size - tail.len() as u64, tail)];
        for _ in 0..CHECK_ROUNDS {
            let mut sparse =
                Sparse { len: file.size, pos: 0, pieces: &pieces, synthetic: Vec::new(), missed: Vec::new() };
            let rules = crate::containers::check_reader(&mut sparse);
            let missed = std::mem::take(&mut sparse.missed);
            if missed.is_empty() {
                return Ok(rules);
            }
            let reread: u64 = missed.iter().map(|(start, end)| end - start).sum();
            if reread > MAX_REREAD {
                break;
            }
            let mut fetched: Vec<(u64, Vec<u8>)> = missed.iter().map(|&(start, _)| (start, Vec::new())).collect();
            let mut plain = self.open(databox, file).await?;
            let mut at = 0_u64;
            while let Some(chunk) = plain.try_next().await.map_err(|_| SpoolError::Incoming)? {
                let end = at + chunk.len() as u64;
                for ((start, stop), (_, bytes)) in missed.iter().zip(fetched.iter_mut()) {
                    let (from, to) = ((*start).max(at), (*stop).min(end));
                    if from < to {
                        bytes.extend_from_slice(&chunk[(from - at) as usize..(to - at) as usize]);
                    }
                }
                at = end;
            }
            pieces.extend(fetched);
        }
        Ok(vec!["not a readable ZIP container".to_owned()])
    }

    /// The file's content, opened chunk by chunk as it is read from its blob.
    pub async fn open(&self, databox: &Databox, file: &SpooledFile) -> Result<ByteStream, SpoolError> {
        let opened = crate::isds::open_sealed(
            databox.blobs.as_ref(),
            &databox.sealer,
            &self.owner,
            &self.document(),
            &file.field,
            &file.path,
        )
        .await;
        opened.map_err(|error| match error {
            crate::isds::OpenError::Store(error) => error.into(),
            crate::isds::OpenError::Crypto(error) => error.into(),
        })
    }

    /// The file's content whole (a standard message's file: at most 20 MB).
    pub async fn read(&self, databox: &Databox, file: &SpooledFile) -> Result<Bytes, SpoolError> {
        let mut content = BytesMut::with_capacity(usize::try_from(file.size).unwrap_or(0));
        let mut plain = self.open(databox, file).await?;
        while let Some(chunk) = plain.try_next().await.map_err(|_| SpoolError::Incoming)? {
            content.extend_from_slice(&chunk);
        }
        Ok(content.freeze())
    }

    /// Deletes the folder's files (one already gone is fine). A file that
    /// cannot be deleted now is left to [`collect`].
    pub async fn discard(self, databox: &Databox) {
        for file in &self.files {
            match databox.blobs.delete(&file.path).await {
                Ok(()) | Err(StoreError::NotFound) => {}
                Err(error) => tracing::warn!(error = %error, "a spooled file is left to the daily collection"),
            }
        }
    }
}

/// A request's spool that is deleted however the request ends: by
/// [`discard`](Self::discard) when it answers, or, when the request is
/// dropped before (the client went away), by a task its drop starts. Only a
/// process that dies leaves the folder, to [`collect`].
#[derive(Debug)]
pub struct Discarding {
    databox: std::sync::Arc<Databox>,
    spool: Spool,
}

impl Discarding {
    pub fn new(databox: std::sync::Arc<Databox>, spool: Spool) -> Self {
        Self { databox, spool }
    }

    /// The spool, while the request uses it.
    pub fn spool(&mut self) -> &mut Spool {
        &mut self.spool
    }

    /// Deletes the spool now.
    pub async fn discard(mut self) {
        let spool = std::mem::take(&mut self.spool);
        spool.discard(&self.databox).await;
    }
}

impl Drop for Discarding {
    fn drop(&mut self) {
        if self.spool.files.is_empty() {
            return;
        }
        let spool = std::mem::take(&mut self.spool);
        let databox = self.databox.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn(async move { spool.discard(&databox).await })),
            Err(_) => tracing::warn!("a dropped request's spool is left to the daily collection"),
        }
    }
}

/// Deletes every spool folder older than [`KEPT`] (what a crashed request
/// left): the number of files deleted. Safe to repeat and to run beside
/// requests (a folder in use is younger).
pub async fn collect(databox: &Databox) -> Result<u64, StoreError> {
    let oldest = (databox.clock.now() - KEPT).unix_timestamp();
    let mut deleted = 0;
    for info in databox.blobs.list(PREFIX).await? {
        let stamp = info.path.as_str().split('/').nth(2).and_then(|folder| folder.split_once('-'));
        let old = stamp.and_then(|(at, _)| at.parse::<i64>().ok()).is_none_or(|at| at < oldest);
        if !old {
            continue;
        }
        match databox.blobs.delete(&info.path).await {
            Ok(()) | Err(StoreError::NotFound) => deleted += 1,
            Err(error) => return Err(error),
        }
    }
    Ok(deleted)
}

/// What the spool learns of a file as it streams in to be sealed
/// ([`seal_into`]): its size against the budget, its SHA-256, and (a
/// container) its end.
struct Intake {
    size: u64,
    budget: u64,
    digest: aws_lc_rs::digest::Context,
    tail: Option<Vec<u8>>,
    /// Why the file was given up, which [`seal_into`] reports only as a
    /// failed input.
    failure: Option<SpoolError>,
}

impl Intake {
    fn take(&mut self, piece: &[u8]) -> Result<(), SpoolError> {
        self.size += piece.len() as u64;
        if self.size > self.budget {
            return Err(SpoolError::TooLarge);
        }
        self.digest.update(piece);
        if let Some(tail) = &mut self.tail {
            tail.extend_from_slice(piece);
            if tail.len() > 2 * TAIL {
                tail.drain(..tail.len() - TAIL);
            }
        }
        Ok(())
    }
}

/// A container's bytes as far as they are known (its tail, and what a pass
/// fetched), for [`crate::containers::check_reader`]. A read of what is not
/// known is noted in `missed`; a short one (a local header's 30 bytes) is
/// answered with an empty header so the check goes on and notes them all,
/// the rest fail. A round with nothing missed read only real bytes.
struct Sparse<'a> {
    len: u64,
    pos: u64,
    pieces: &'a [(u64, Vec<u8>)],
    synthetic: Vec<(u64, [u8; LOCAL_HEADER])>,
    missed: Vec<(u64, u64)>,
}

/// A ZIP local file header without its name and extra field.
const LOCAL_HEADER: usize = 30;

impl Read for Sparse<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.len || buf.is_empty() {
            return Ok(0);
        }
        let pos = self.pos;
        let known = self
            .pieces
            .iter()
            .map(|(start, bytes)| (*start, &bytes[..]))
            .chain(self.synthetic.iter().map(|(start, header)| (*start, &header[..])));
        for (start, bytes) in known {
            if start <= pos && pos < start + bytes.len() as u64 {
                let from = (pos - start) as usize;
                let n = buf.len().min(bytes.len() - from);
                buf[..n].copy_from_slice(&bytes[from..from + n]);
                self.pos += n as u64;
                return Ok(n);
            }
        }
        let want = (buf.len() as u64).min(self.len - pos);
        if want <= LOCAL_HEADER as u64 {
            self.missed.push((pos, (pos + LOCAL_HEADER as u64).min(self.len)));
            let mut header = [0; LOCAL_HEADER];
            header[..4].copy_from_slice(&[0x50, 0x4b, 0x03, 0x04]);
            self.synthetic.push((pos, header));
            return self.read(buf);
        }
        // Everything from here up to what is known (at most the re-read limit).
        let next = self.pieces.iter().map(|(start, _)| *start).filter(|start| *start > pos).min().unwrap_or(self.len);
        self.missed.push((pos, next.min(pos + MAX_REREAD)));
        Err(std::io::Error::other("not read yet"))
    }
}

impl Seek for Sparse<'_> {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let target = match to {
            SeekFrom::Start(at) => Some(at),
            SeekFrom::End(delta) => self.len.checked_add_signed(delta),
            SeekFrom::Current(delta) => self.pos.checked_add_signed(delta),
        };
        self.pos = target.ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "before the start"))?;
        Ok(self.pos)
    }
}
