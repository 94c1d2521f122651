//! `POST /api/admin/tiles/{id}/validate`: does the latest version pass?

use axum::Json;
use axum::extract::{Path, State};
use portal_host::{FieldViolation, Problem};
use portal_security::Citizen;
use serde::Serialize;
use utoipa::ToSchema;

use super::{Shared, check_rules, official, record, rules};
use crate::{definition, modeller};

/// A broken rule of a definition.
#[derive(Debug, Serialize, ToSchema)]
pub struct Violation {
    /// The field (`url`, `title.cs`, `visibility.municipalities[0]`, `body`).
    pub field: String,
    pub rule: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ValidationReport {
    pub version: u32,
    pub valid: bool,
    pub problems: Vec<Violation>,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "AdminValidateTile";

/// Checks the latest version: the JSON Schema of a definition, https URLs
/// on the allow-list of portal domains, the icon's format and size, the
/// summary source.
#[utoipa::path(
    post,
    path = "/api/admin/tiles/{id}/validate",
    operation_id = OPERATION,
    tag = "tiles",
    params(("id" = String, Path, description = "The tile's id.")),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Výsledek kontroly poslední verze.", body = ValidationReport),
        (status = 403, description = "Jen pro úředníky portálů přihlášené s vysokou úrovní záruky.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Taková dlaždice není.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(tiles): State<Shared>,
    citizen: Citizen,
    Path(id): Path<String>,
) -> Result<Json<ValidationReport>, Problem> {
    official(&tiles, &citizen)?;
    let (record, _) = record(&tiles, &id).await?;
    let latest = record.latest().ok_or_else(|| Problem::not_found("no such tile"))?;
    let (domains, sources) = rules(&tiles);
    let problems: Vec<FieldViolation> =
        definition::check(&latest.definition, &check_rules(&domains, &sources)).err().unwrap_or_default();
    modeller::audit(&tiles, &citizen.subject, "validate", &id, Some(latest.version), None).await?;
    Ok(Json(ValidationReport {
        version: latest.version,
        valid: problems.is_empty(),
        problems: problems.into_iter().map(|v| Violation { field: v.field, rule: v.rule }).collect(),
    }))
}
