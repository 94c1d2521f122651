//! `GET /api/admin/tile-audit`: the modeller's audit trail.

use axum::Json;
use axum::extract::State;
use portal_host::{FieldViolation, Params, Problem};
use portal_security::Citizen;
use portal_store::StoreError;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{Shared, official};
use crate::TilesError;
use crate::modeller::{self, AuditEntry};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Where the previous page ended.
    continuation: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub continuation: Option<String>,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "AdminTileAudit";

/// Every modeller action, newest first, 100 a page.
#[utoipa::path(
    get,
    path = "/api/admin/tile-audit",
    operation_id = OPERATION,
    tag = "tiles",
    params(AuditQuery),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Záznamy o činnosti v modeleru dlaždic.", body = AuditPage),
        (status = 403, description = "Jen pro úředníky portálů přihlášené s vysokou úrovní záruky.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(tiles): State<Shared>,
    citizen: Citizen,
    Params(query): Params<AuditQuery>,
) -> Result<Json<AuditPage>, Problem> {
    official(&tiles, &citizen)?;
    match modeller::audit_page(&tiles, 100, query.continuation).await {
        Ok((items, continuation)) => Ok(Json(AuditPage { items, continuation })),
        Err(TilesError::Store(StoreError::Invalid(_))) => {
            Err(Problem::validation(vec![FieldViolation::new("continuation", "is not a token this API issued")]))
        }
        Err(error) => Err(error.into()),
    }
}
