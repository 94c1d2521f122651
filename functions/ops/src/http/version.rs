//! `GET /api/version`: what is running, where.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use super::Shared;

/// The running build and its environment.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionInfo {
    #[schema(example = "0.1.0")]
    pub version: &'static str,
    /// `local`, `dev`, `preprod`, `prod`, …
    #[schema(example = "local")]
    pub environment: &'static str,
    /// The store backend: `embedded` or `azure`.
    #[schema(example = "embedded")]
    pub store: &'static str,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "Version";

/// The version, environment and store backend of the running app.
#[utoipa::path(
    get,
    path = "/api/version",
    operation_id = OPERATION,
    tag = "ops",
    responses(
        (status = 200, description = "Verze a prostředí běžící aplikace.", body = VersionInfo),
    )
)]
pub async fn handler(State(ops): State<Shared>) -> Json<VersionInfo> {
    Json(VersionInfo { version: ops.version, environment: ops.environment, store: ops.store_kind })
}
