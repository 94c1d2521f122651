//! `POST /api/registers/extracts`: asks for an extract; the job runs in
//! `FetchExtract` and the PDF arrives in Documents.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use portal_host::{Body, Problem};
use portal_security::{Action, Citizen};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::{ExtractJobView, Shared, invalid};
use crate::extracts::{self, ExtractKind};

/// Which extract.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)] // documents the body the handler reads field by field
pub struct ExtractRequest {
    kind: ExtractKind,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "RequestExtract";

/// Records an extract request and queues it; answers at once with the job.
#[utoipa::path(
    post,
    path = "/api/registers/extracts",
    operation_id = OPERATION,
    tag = "registers",
    request_body = ExtractRequest,
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 202, description = "Žádost o výpis je přijata; výpis přijde do Dokumentů.", body = ExtractJobView),
        (status = 400, description = "Neznámý druh výpisu (`kind`).", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(registers): State<Shared>,
    citizen: Citizen,
    body: Result<Body<Value>, Problem>,
) -> Result<(StatusCode, Json<ExtractJobView>), Problem> {
    // Anything but a known kind, also a body that is not JSON, is the same
    // 400 naming `kind`.
    let kind = body.ok().and_then(|Body(body)| body.get("kind").and_then(Value::as_str).and_then(ExtractKind::parse));
    let kind = kind.ok_or_else(|| invalid("kind", ExtractKind::RULE))?;
    let job = extracts::create(&registers, &citizen.subject, kind).await?;
    let purpose = format!("žádost o výpis: {}", kind.title());
    registers.access_log.record_own(&citizen, Action::Create, "register-extract-job", &job.id, &purpose).await?;
    Ok((StatusCode::ACCEPTED, Json(ExtractJobView::from(&job))))
}
