//! `GET /api/health`: liveness. Touches nothing, so Front Door's probe does
//! not fail over a region because one dependency hiccups.
//!
//! Its answer never changes, so its body is written once, here, not
//! serialized for every probe (issue 18: `Json` made a buffer and serialized
//! the struct each time, a twentieth of the request's instructions). A test
//! holds the text to what `Health` serializes to.

use axum::body::Bytes;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// The process is up.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// The one answer: `Health { status: "ok" }` as JSON.
const BODY: &[u8] = br#"{"status":"ok"}"#;

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "Health";

/// Liveness: answers while the process serves requests.
#[utoipa::path(
    get,
    path = "/api/health",
    operation_id = OPERATION,
    tag = "ops",
    responses(
        (status = 200, description = "Portál běží.", body = Health),
    )
)]
pub async fn handler() -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], Bytes::from_static(BODY)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_written_body_is_what_health_serializes_to() {
        let serialized = serde_json::to_vec(&Health { status: "ok" }).expect("serialized");
        assert_eq!(std::str::from_utf8(BODY), std::str::from_utf8(&serialized));
    }
}
