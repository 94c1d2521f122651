//! Where the followed boards are and how a feed is fetched: a conditional
//! GET (`If-None-Match` with the last ETag, `If-Modified-Since` with the
//! last `Last-Modified`), a time limit on the whole request, and a size limit
//! on the body (checked on `Content-Length` and again while reading).

use std::time::Duration;

use async_trait::async_trait;
use reqwest::StatusCode;
use reqwest::header::{ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};

/// One board the portal follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowedBoard {
    /// Stable id: letters, digits and `-`.
    pub id: String,
    /// The authority's name, shown to citizens.
    pub name: String,
    /// The OFN feed's URL.
    pub url: String,
    /// True for a board the simulator serves.
    pub simulated: bool,
}

/// The boards the portal follows.
#[async_trait]
pub trait BoardDirectory: std::fmt::Debug + Send + Sync {
    async fn boards(&self) -> Result<Vec<FollowedBoard>, FeedError>;
}

/// A fixed list (from `PORTAL_NOTICE_BOARDS`).
#[derive(Debug, Clone, Default)]
pub struct StaticBoards(pub Vec<FollowedBoard>);

impl StaticBoards {
    /// Boards from their feed URLs; the id is derived from the URL, the name
    /// is the URL's host.
    pub fn from_urls(urls: &[String]) -> Self {
        Self(
            urls.iter()
                .map(|url| {
                    let host = url.split("://").nth(1).and_then(|rest| rest.split('/').next()).unwrap_or(url);
                    FollowedBoard {
                        id: format!("b-{}", &crate::sha256_hex(url.as_bytes())[..16]),
                        name: host.to_owned(),
                        url: url.clone(),
                        simulated: false,
                    }
                })
                .collect(),
        )
    }
}

#[async_trait]
impl BoardDirectory for StaticBoards {
    async fn boards(&self) -> Result<Vec<FollowedBoard>, FeedError> {
        Ok(self.0.clone())
    }
}

/// Why a feed could not be harvested this time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeedError {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("answered HTTP {0}")]
    Status(u16),
    #[error("larger than {0} bytes")]
    TooLarge(usize),
    #[error("network: {0}")]
    Network(String),
    #[error(transparent)]
    Rejected(#[from] crate::ofn::FeedRejected),
    #[error("the board simulator cannot start: {0}")]
    Simulator(String),
}

impl FeedError {
    /// Whether the next harvest may succeed without anyone changing anything.
    pub fn is_passing(&self) -> bool {
        match self {
            Self::Timeout(_) | Self::Network(_) => true,
            Self::Status(code) => *code == 429 || *code >= 500,
            Self::TooLarge(_) | Self::Rejected(_) | Self::Simulator(_) => false,
        }
    }
}

/// What a conditional GET brought.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    NotModified,
    Changed { body: Vec<u8>, etag: Option<String>, last_modified: Option<String> },
}

/// The HTTP client of the harvester.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    timeout: Duration,
    max_bytes: usize,
}

impl Fetcher {
    pub fn new(timeout: Duration, max_bytes: usize) -> Result<Self, FeedError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::limited(3))
            .user_agent("Portal-obcana-notice-boards/1")
            .build()
            .map_err(|e| FeedError::Network(e.to_string()))?;
        Ok(Self { client, timeout, max_bytes })
    }

    /// GETs `url`, conditional on what the last successful harvest saw.
    pub async fn fetch(
        &self,
        url: &str,
        etag: Option<&str>,
        last_modified: Option<&str>,
    ) -> Result<Fetched, FeedError> {
        let mut request = self.client.get(url).header(reqwest::header::ACCEPT, "application/ld+json, application/json");
        if let Some(etag) = etag {
            request = request.header(IF_NONE_MATCH, etag);
        }
        if let Some(since) = last_modified {
            request = request.header(IF_MODIFIED_SINCE, since);
        }
        let mut response = request.send().await.map_err(|e| self.error(&e))?;
        if response.status() == StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified);
        }
        if !response.status().is_success() {
            return Err(FeedError::Status(response.status().as_u16()));
        }
        if response.content_length().is_some_and(|length| length > self.max_bytes as u64) {
            return Err(FeedError::TooLarge(self.max_bytes));
        }
        let header = |name| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let (etag, last_modified) = (header(ETAG), header(LAST_MODIFIED));
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.error(&e))? {
            if body.len() + chunk.len() > self.max_bytes {
                return Err(FeedError::TooLarge(self.max_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched::Changed { body, etag, last_modified })
    }

    fn error(&self, error: &reqwest::Error) -> FeedError {
        if error.is_timeout() { FeedError::Timeout(self.timeout) } else { FeedError::Network(error.to_string()) }
    }
}
