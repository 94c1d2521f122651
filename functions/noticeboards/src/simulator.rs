//! SIMULATED notice boards served over real HTTP on 127.0.0.1 (local and
//! test only), with the awkward rules of real feeds:
//!
//! - `zdar`: a simulated board of Žďár nad Sázavou (`fixtures/simulated-zdar-board.jsonld`,
//!   labelled simulated), with ETag and Last-Modified, answering 304 to a
//!   matching `If-None-Match`; items can be added and removed
//!   ([`BoardSimulator::post`], [`BoardSimulator::take_down`]);
//! - `mv-test`: the real public sample of the Ministry of the Interior's test
//!   feed (`fixtures/mv-opendata-test-board.jsonld`, source in `fixtures/README.md`);
//! - `broken`: malformed JSON;
//! - `slow`: answers only after [`SLOW_DELAY`], longer than any harvest's time limit.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tokio::sync::OnceCell;

use crate::feeds::{BoardDirectory, FeedError, FollowedBoard};

/// How long the slow board keeps a client waiting.
pub const SLOW_DELAY: Duration = Duration::from_secs(120);

const ZDAR: &str = include_str!("../fixtures/simulated-zdar-board.jsonld");
const MV_TEST: &str = include_str!("../fixtures/mv-opendata-test-board.jsonld");

#[derive(Debug)]
struct SimBoard {
    /// `None` for the malformed board.
    feed: Option<Value>,
    version: u64,
    slow: bool,
}

/// The running simulator.
#[derive(Debug, Clone)]
pub struct BoardSimulator {
    base: String,
    boards: Arc<Mutex<BTreeMap<String, SimBoard>>>,
}

impl BoardSimulator {
    /// Binds 127.0.0.1 on a free port and serves the boards.
    pub async fn start() -> std::io::Result<Self> {
        let mut boards = BTreeMap::new();
        let parsed = |text: &str| serde_json::from_str::<Value>(text).ok();
        boards.insert("zdar".to_owned(), SimBoard { feed: parsed(ZDAR), version: 1, slow: false });
        boards.insert("mv-test".to_owned(), SimBoard { feed: parsed(MV_TEST), version: 1, slow: false });
        boards.insert("broken".to_owned(), SimBoard { feed: None, version: 1, slow: false });
        boards.insert("slow".to_owned(), SimBoard { feed: parsed(ZDAR), version: 1, slow: true });
        let boards = Arc::new(Mutex::new(boards));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let app = axum::Router::new().route("/boards/{name}", axum::routing::get(serve)).with_state(boards.clone());
        tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                tracing::warn!(%error, "the notice-board simulator stopped");
            }
        });
        tracing::warn!(%base, "SIMULATOR: notice boards are served locally");
        Ok(Self { base, boards })
    }

    /// The followed boards it serves.
    pub fn boards(&self) -> Vec<FollowedBoard> {
        let board = |id: &str, name: &str| FollowedBoard {
            id: format!("sim-{id}"),
            name: name.to_owned(),
            url: format!("{}/boards/{id}", self.base),
            simulated: true,
        };
        vec![
            board("zdar", "Město Žďár nad Sázavou (simulace)"),
            board("mv-test", "Policie ČR – testovací feed MV (skutečný vzorek)"),
            board("broken", "Poškozená deska (simulace)"),
            board("slow", "Pomalá deska (simulace)"),
        ]
    }

    /// Posts an item (an OFN `informace` object) on a board.
    pub fn post(&self, board: &str, item: Value) {
        self.change(board, |items| items.push(item));
    }

    /// Takes an item down by its `iri`.
    pub fn take_down(&self, board: &str, iri: &str) {
        self.change(board, |items| items.retain(|i| i.get("iri").and_then(Value::as_str) != Some(iri)));
    }

    fn change(&self, board: &str, edit: impl FnOnce(&mut Vec<Value>)) {
        let mut boards = self.boards.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(sim) = boards.get_mut(board)
            && let Some(items) = sim.feed.as_mut().and_then(|f| f.get_mut("informace")).and_then(Value::as_array_mut)
        {
            edit(items);
            sim.version += 1;
        }
    }
}

async fn serve(
    State(boards): State<Arc<Mutex<BTreeMap<String, SimBoard>>>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    let (feed, version, slow) = {
        let boards = boards.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(board) = boards.get(&name) else { return StatusCode::NOT_FOUND.into_response() };
        (board.feed.clone(), board.version, board.slow)
    };
    if slow {
        tokio::time::sleep(SLOW_DELAY).await;
    }
    let Some(feed) = feed else {
        return ([(header::CONTENT_TYPE, "application/ld+json")], "{\"typ\": \"Úřední deska\", \"informace\": [")
            .into_response();
    };
    let etag = format!("\"v{version}\"");
    if headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    let last_modified = format!("Mon, 23 Nov 2026 08:{:02}:00 GMT", version % 60);
    (
        [
            (header::CONTENT_TYPE, "application/ld+json".to_owned()),
            (header::ETAG, etag),
            (header::LAST_MODIFIED, last_modified),
        ],
        feed.to_string(),
    )
        .into_response()
}

/// The simulator as the board directory, started on first use.
#[derive(Debug, Default)]
pub struct SimulatedBoards {
    simulator: OnceCell<BoardSimulator>,
}

impl SimulatedBoards {
    pub fn new() -> Self {
        Self::default()
    }

    /// The running simulator (started now if it is not yet).
    pub async fn simulator(&self) -> Result<&BoardSimulator, FeedError> {
        self.simulator
            .get_or_try_init(|| async {
                BoardSimulator::start().await.map_err(|e| FeedError::Simulator(e.to_string()))
            })
            .await
    }
}

#[async_trait]
impl BoardDirectory for SimulatedBoards {
    async fn boards(&self) -> Result<Vec<FollowedBoard>, FeedError> {
        Ok(self.simulator().await?.boards())
    }
}
