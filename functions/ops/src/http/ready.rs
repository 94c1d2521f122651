//! `GET /api/ready`: readiness. Each store must answer within
//! [`CHECK_TIMEOUT`], else 503 naming what failed (never why: the cause is in
//! the log).

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use portal_host::Problem;
use portal_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

use super::Shared;

/// Every readiness check must answer within this.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// Every dependency answered.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// Always `ready`.
    #[schema(example = "ready")]
    pub status: &'static str,
    /// Each dependency checked (`documents`, `blobs`, `queues`) with `ok`.
    #[schema(example = json!({"documents": "ok", "blobs": "ok", "queues": "ok"}))]
    pub checks: BTreeMap<&'static str, &'static str>,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "Ready";

/// Readiness: whether every store the portal depends on answers.
#[utoipa::path(
    get,
    path = "/api/ready",
    operation_id = OPERATION,
    tag = "ops",
    responses(
        (status = 200, description = "Všechna úložiště odpovídají.", body = Readiness),
        (status = 503, description = "Některé úložiště neodpovídá; `detail` jmenuje které.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(State(ops): State<Shared>) -> Result<Json<Readiness>, Problem> {
    let checks = futures::join!(
        check("documents", ops.documents.ping()),
        check("blobs", ops.blobs.ping()),
        check("queues", ops.queues.ping()),
    );
    let checks = [checks.0, checks.1, checks.2];
    let failed: Vec<&str> = checks.iter().filter(|(_, ok)| !ok).map(|(name, _)| *name).collect();
    if !failed.is_empty() {
        return Err(Problem::unavailable(format!("not ready: {}", failed.join(", "))));
    }
    let checks = checks.iter().map(|(name, _)| (*name, "ok")).collect();
    Ok(Json(Readiness { status: "ready", checks }))
}

async fn check(
    name: &'static str,
    ping: impl std::future::Future<Output = Result<(), StoreError>>,
) -> (&'static str, bool) {
    match tokio::time::timeout(CHECK_TIMEOUT, ping).await {
        Ok(Ok(())) => (name, true),
        Ok(Err(error)) => {
            tracing::warn!(check = name, error = %error, "readiness check failed");
            (name, false)
        }
        Err(_) => {
            tracing::warn!(check = name, "readiness check timed out");
            (name, false)
        }
    }
}
