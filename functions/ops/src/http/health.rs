//! `GET /api/health`: liveness. Touches nothing, so Front Door's probe does
//! not fail over a region because one dependency hiccups.

use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

/// The process is up.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    #[schema(example = "ok")]
    pub status: &'static str,
}

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
pub async fn handler() -> Json<Health> {
    Json(Health { status: "ok" })
}
