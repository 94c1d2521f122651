//! The export port: "everything the portal holds about me" (GDPR art. 15 and
//! 20), one part per capability.
//!
//! Each capability implements [`ExportSource`] in its own `export.rs` and
//! answers with [`ExportPart`]s: JSON documents of its records (decrypted, as
//! the citizen sees them) and the citizen's files. The identity capability's
//! `BuildExport` queue function asks every source in turn (composed in the
//! app, so no capability imports another), writes the parts into one ZIP
//! under the source's name, and seals the archive under the citizen's key.
//!
//! A source reads only the citizen's own data, never writes, and returns the
//! same parts for the same data, so a rebuilt archive after a crash is the
//! same archive.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use serde::Serialize;

use crate::subject::SubjectId;

/// One file of the archive, at `path` inside its capability's folder
/// (`profile.json`, `files/<id>-smlouva.pdf`).
#[derive(Clone, PartialEq, Eq)]
pub struct ExportPart {
    pub path: String,
    pub content: Vec<u8>,
}

impl ExportPart {
    /// `value` as pretty-printed JSON at `path` (which should end `.json`).
    pub fn json(path: impl Into<String>, value: &impl Serialize) -> Result<Self, ExportError> {
        let content = serde_json::to_vec_pretty(value).map_err(|error| ExportError::permanent(error.to_string()))?;
        Ok(Self { path: path.into(), content })
    }

    /// A file of the citizen's, as stored (after opening its seal).
    pub fn file(path: impl Into<String>, content: Vec<u8>) -> Self {
        Self { path: path.into(), content }
    }
}

impl fmt::Debug for ExportPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExportPart").field("path", &self.path).field("bytes", &self.content.len()).finish()
    }
}

/// Why a source could not export; `retryable` when trying again may help
/// (a store or key service fault), so the queue message is retried.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ExportError {
    pub retryable: bool,
    pub message: String,
}

impl ExportError {
    pub fn permanent(message: impl Into<String>) -> Self {
        Self { retryable: false, message: message.into() }
    }

    /// From any capability error that knows whether a retry may help.
    pub fn of(error: &(impl portal_host::Failure + fmt::Display)) -> Self {
        Self { retryable: error.is_retryable(), message: error.to_string() }
    }
}

impl From<portal_store::StoreError> for ExportError {
    fn from(error: portal_store::StoreError) -> Self {
        Self { retryable: error.is_retryable(), message: error.to_string() }
    }
}

/// What [`ExportSource::export`] returns.
pub type ExportFuture<'a> = Pin<Box<dyn Future<Output = Result<Vec<ExportPart>, ExportError>> + Send + 'a>>;

/// A capability's share of a citizen's export.
pub trait ExportSource: Send + Sync + fmt::Debug {
    /// The capability's name: its folder in the archive and its line in the
    /// export's progress (`documents`, `calendar`, …).
    fn name(&self) -> &'static str;

    /// Everything the capability holds about `subject`, readable.
    fn export<'a>(&'a self, subject: &'a SubjectId) -> ExportFuture<'a>;
}
