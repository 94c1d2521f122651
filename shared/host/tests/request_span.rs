//! The request's span, alone in its test binary. tracing decides once per
//! callsite whether anything listens: another test's thread that reached the
//! edge's callsites with no subscriber while this test's subscriber was being
//! made could leave them silent for it (2 of 8 runs failed so when this test
//! was in `runtime.rs`).

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use portal_host::runtime::LogFailures;
use portal_host::{Function, Runtime, op};
use tower::ServiceExt as _;

mod echo {
    /// The operation id: this function's name and its `operationId`.
    pub const OPERATION: &str = "Echo";

    #[utoipa::path(get, path = "/api/echo/{name}", operation_id = OPERATION,
        params(("name" = String, Path, description = "Who to greet.")),
        responses((status = 200, description = "A greeting.", body = String)))]
    pub async fn handler(axum::extract::Path(name): axum::extract::Path<String>) -> String {
        format!("hello {name}")
    }
}

mod streamed {
    /// The operation id: this function's name and its `operationId`.
    pub const OPERATION: &str = "Streamed";

    #[utoipa::path(get, path = "/api/streamed", operation_id = OPERATION, responses((status = 200, description = "Two pieces.")))]
    pub async fn handler() -> axum::body::Body {
        use futures::StreamExt as _;
        axum::body::Body::from_stream(futures::stream::iter(["one ", "two"]).map(|piece| {
            tracing::info!(piece, "piece read");
            Ok::<_, std::convert::Infallible>(axum::body::Bytes::from(piece))
        }))
    }
}

/// The status and body of `request`'s answer.
async fn send(router: &axum::Router, request: Request<Body>) -> (StatusCode, Vec<u8>) {
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    (status, response.into_body().collect().await.expect("body").to_bytes().to_vec())
}

#[tokio::test]
async fn a_streamed_body_is_read_inside_its_requests_span_and_a_whole_one_ends_it() {
    let logs = portal_testkit::LogBuffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_ansi(false)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);
    let functions = vec![Function::api(op!(streamed)).build(), Function::api(op!(echo)).build()];
    let router = Runtime::new(functions, Arc::new(LogFailures)).expect("valid").router();
    let (status, body) = send(&router, Request::get("/api/streamed").body(Body::empty()).expect("request")).await;
    assert_eq!((status, body.as_slice()), (StatusCode::OK, b"one two".as_slice()));
    let (status, _) = send(&router, Request::get("/api/echo/x").body(Body::empty()).expect("request")).await;
    assert_eq!(status, StatusCode::OK);

    let text = logs.text();
    let lines: Vec<&str> = text.lines().collect();
    let at = |what: &str| lines.iter().position(|line| line.contains(what)).unwrap_or_else(|| panic!("{what}: {text}"));
    for piece in ["piece=\"one \"", "piece=\"two\""] {
        assert!(
            lines[at(piece)].contains("request{method=\"GET\" route=\"/api/streamed\""),
            "{piece} outside the span: {text}"
        );
    }
    // The streamed request's span closes after its last piece; the whole
    // answer's right after its line.
    assert!(at("piece=\"two\"") < at("close"), "{text}");
    let echo_closed =
        lines.iter().rposition(|line| line.contains("route=\"/api/echo/{name}\"") && line.contains("close"));
    let echo_line =
        lines.iter().position(|line| line.contains("route=\"/api/echo/{name}\"") && line.contains("request finished"));
    assert!(echo_line.is_some() && echo_closed > echo_line, "{text}");
}
