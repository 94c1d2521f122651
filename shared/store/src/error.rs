use std::time::Duration;

/// Backend-neutral storage errors. Adapters map their backend's status codes and
/// error codes to these at their boundary; nothing above the adapters sees an
/// HTTP status from Cosmos or SQLite error code.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The document, blob, queue or message does not exist (or has expired).
    #[error("not found")]
    NotFound,
    /// A create-only write found something already there.
    #[error("already exists")]
    Conflict,
    /// An `If-Match` ETag did not match the current version.
    #[error("precondition failed: the item changed since it was read")]
    PreconditionFailed,
    /// The backend asked us to slow down; retrying later can help.
    #[error("throttled by the backend")]
    Throttled { retry_after: Option<Duration> },
    /// The request itself is wrong (a bad field name, an oversized batch, a bad
    /// continuation token); retrying cannot help.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The backend could not be reached or failed transiently.
    #[error("storage backend unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Anything else the backend reported.
    #[error("storage backend error")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    /// Whether the same operation may succeed if tried again later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Throttled { .. } | Self::Unavailable(_))
    }

    pub(crate) fn backend(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Backend(Box::new(error))
    }

    pub(crate) fn unavailable(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Unavailable(Box::new(error))
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A store error at the edge: a passing fault (throttled, unreachable) is
/// retried by the host and answered 503 to a client; anything else is a 500
/// that says nothing internal.
impl portal_host::Failure for StoreError {
    fn is_retryable(&self) -> bool {
        StoreError::is_retryable(self)
    }

    fn problem(&self) -> portal_host::Problem {
        if self.is_retryable() {
            portal_host::Problem::unavailable("storage")
        } else {
            portal_host::Problem::internal()
        }
    }
}
