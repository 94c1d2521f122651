//! The malware-scan port: an upload stays quarantined (its download and
//! share links refused) until a scanner says it is clean.
//!
//! Uploads are sealed under the citizen's key before they are stored, and no
//! scanner can look into ciphertext. So the plain content is handed to the
//! scanner once, as a **quarantine blob** next to the sealed one
//! (`documents/<owner folder>/<id>.quarantine`), and removed as soon as a
//! verdict is recorded in the document (`scan`: `pending` → `clean` or
//! `infected`). Erasure removes it with the owner's folder; deleting the
//! document removes it too.
//!
//! Adapters ([`ScanMode`]):
//! - **Defender for Storage** (Azure): on-upload malware scanning of the
//!   data storage account scans every new blob and writes its result as the
//!   blob index tag `Malware Scanning scan result` (`No threats found`, or
//!   `Malicious`; `Not scanned` and scanning errors say otherwise and stay
//!   pending; Microsoft Learn, "Understand malware scanning results"). The
//!   portal reads that tag through the Azure SDK (Get Blob Tags) when the
//!   document is next asked for; tested against Azurite, which keeps index
//!   tags like Blob Storage (`tests/documents.rs`, the Azurite case). It
//!   does not subscribe to the Event Grid result events, which carry the same
//!   verdict, so no extra endpoint has to be exposed.
//! - **Simulator** (local and tests): flags content that holds the EICAR
//!   anti-virus test string, and nothing else. It reads the quarantine blob
//!   as Defender would, so the local flow is the Azure flow.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt as _;
use portal_store::{BlobChunks, BlobPath, BlobStore, PutMode, StoreError};

/// The blob index tag Defender for Storage writes its verdict into.
pub const DEFENDER_RESULT_TAG: &str = "Malware Scanning scan result";
/// The tag's value for a clean file.
pub const DEFENDER_CLEAN: &str = "No threats found";
/// The tag's value for malware.
pub const DEFENDER_MALICIOUS: &str = "Malicious";

/// The EICAR anti-virus test file's string: every scanner reports it.
pub const EICAR: &[u8] = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

/// Which scanner the portal uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ScanMode {
    /// SIMULATOR: flags the EICAR test string (local and test environments).
    #[default]
    Simulator,
    /// Microsoft Defender for Storage's on-upload malware scanning.
    Defender,
}

/// What the scanner said about an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pending,
    Clean,
    Infected,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Clean => "clean",
            Self::Infected => "infected",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(Self::Pending),
            "clean" => Some(Self::Clean),
            "infected" => Some(Self::Infected),
            _ => None,
        }
    }
}

/// The verdict in Defender for Storage's blob index tags. Microsoft's pages
/// spell the key both `Malware Scanning scan result` and `Malware scanning
/// scan result`, so it is matched without regard to case; the value is
/// exact. Anything else (no tag yet, `Not scanned`, an `SAM…` error message)
/// keeps the upload quarantined.
pub fn defender_verdict(tags: &BTreeMap<String, String>) -> Verdict {
    let result = tags.iter().find(|(key, _)| key.eq_ignore_ascii_case(DEFENDER_RESULT_TAG)).map(|(_, v)| v.as_str());
    match result {
        Some(DEFENDER_CLEAN) => Verdict::Clean,
        Some(DEFENDER_MALICIOUS) => Verdict::Infected,
        Some(other) => {
            tracing::warn!(result = other, "Defender for Storage did not clear the upload; it stays quarantined");
            Verdict::Pending
        }
        None => Verdict::Pending,
    }
}

/// The scanner of one deployment, over the blob store that holds the
/// quarantine blobs.
#[derive(Debug, Clone)]
pub struct Scanner {
    mode: ScanMode,
    blobs: Arc<dyn BlobStore>,
}

impl Scanner {
    pub fn new(mode: ScanMode, blobs: Arc<dyn BlobStore>) -> Self {
        Self { mode, blobs }
    }

    pub fn simulated(&self) -> bool {
        self.mode == ScanMode::Simulator
    }

    /// The quarantine blob of the sealed blob `sealed`.
    pub fn quarantine_path(sealed: &BlobPath) -> Result<BlobPath, StoreError> {
        BlobPath::parse(format!("{}.quarantine", sealed.as_str()))
    }

    /// Hands the plain content over for scanning (a repeat overwrites).
    pub async fn submit(&self, sealed: &BlobPath, content: &Bytes) -> Result<(), StoreError> {
        let path = Self::quarantine_path(sealed)?;
        let metadata = BTreeMap::from([("quarantine".to_owned(), "true".to_owned())]);
        self.blobs.put(&path, content.clone(), "application/octet-stream", metadata, PutMode::Overwrite).await?;
        Ok(())
    }

    /// Hands the plain content over for scanning as it streams (a repeat
    /// overwrites), never holding it whole.
    pub async fn submit_stream(&self, sealed: &BlobPath, content: BlobChunks<'_>) -> Result<(), StoreError> {
        let path = Self::quarantine_path(sealed)?;
        let metadata = BTreeMap::from([("quarantine".to_owned(), "true".to_owned())]);
        self.blobs.put_stream(&path, content, "application/octet-stream", metadata, PutMode::Overwrite).await?;
        Ok(())
    }

    /// The verdict so far on the upload whose sealed blob is `sealed`.
    pub async fn verdict(&self, sealed: &BlobPath) -> Result<Verdict, StoreError> {
        let path = Self::quarantine_path(sealed)?;
        match self.mode {
            ScanMode::Defender => {
                let tags = match self.blobs.tags(&path).await {
                    Ok(tags) => tags,
                    // No quarantine copy (lost before the scan): it can never be cleared.
                    Err(StoreError::NotFound) => return Ok(Verdict::Infected),
                    Err(error) => return Err(error),
                };
                Ok(defender_verdict(&tags))
            }
            ScanMode::Simulator => {
                let (_, stream) = match self.blobs.get(&path).await {
                    Ok(found) => found,
                    Err(StoreError::NotFound) => return Ok(Verdict::Infected),
                    Err(error) => return Err(error),
                };
                let chunks: Vec<Bytes> = stream.try_collect().await?;
                let content = chunks.concat();
                let infected = content.windows(EICAR.len()).any(|w| w == EICAR);
                tracing::info!(infected, "SIMULATOR: malware scan (EICAR test string only)");
                Ok(if infected { Verdict::Infected } else { Verdict::Clean })
            }
        }
    }

    /// Removes the quarantine copy (after the verdict, or with the document).
    pub async fn discard(&self, sealed: &BlobPath) -> Result<(), StoreError> {
        match self.blobs.delete(&Self::quarantine_path(sealed)?).await {
            Ok(()) | Err(StoreError::NotFound) => Ok(()),
            Err(error) => Err(error),
        }
    }
}
