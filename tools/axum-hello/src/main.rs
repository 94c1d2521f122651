//! A bare axum hello on the same axum, tokio and runtime set-up as the portal
//! (`#[tokio::main]`, one worker per core), answering `GET /api/health`. It is
//! the ceiling `scripts/load.sh` compares the portal's own `/api/health` with:
//! what the framework costs before the portal adds anything.
//!
//!     cargo run --release -p axum-hello    # prints the address it listens on
//!
//! A package of its own, not an example of the portal's: building an example
//! turns on the portal's dev-dependencies' features (tokio's `test-util`)
//! for the portal binary built beside it, which is then not the binary that
//! ships (`scripts/load.sh` builds both in one command).

use axum::Router;
use axum::routing::get;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let app = Router::new().route("/api/health", get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    println!("axum hello listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await
}
