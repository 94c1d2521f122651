//! `GET /api/databox/credit/purchases/{id}`: one of the citizen's purchases
//! of credit.

use axum::Json;
use axum::extract::{Path, State};
use portal_host::Problem;
use portal_security::Citizen;
use portal_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

use super::{Shared, Simulation};
use crate::COLLECTION;
use crate::credit::{self, Purchase};

/// A purchase and where it is.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = CreditPurchaseView)]
pub struct PurchaseView {
    #[serde(flatten)]
    pub purchase: Purchase,
    #[serde(flatten)]
    pub simulation: Simulation,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "ShowCreditPurchase";

/// Shows a purchase of credit: pending, credited, declined or expired.
#[utoipa::path(
    get,
    path = "/api/databox/credit/purchases/{id}",
    operation_id = OPERATION,
    tag = "databox",
    params(("id" = String, Path, description = "The payment id.")),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Nákup kreditu a jeho stav.", body = PurchaseView),
        (status = 404, description = "Takový nákup jste nezaložili.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(databox): State<Shared>,
    citizen: Citizen,
    Path(id): Path<String>,
) -> Result<Json<PurchaseView>, Problem> {
    let not_found = || Problem::not_found("no such purchase");
    if id.len() > 64 || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(not_found());
    }
    let doc = databox
        .documents
        .get(COLLECTION, citizen.subject.as_str(), &credit::purchase_id(&id))
        .await?
        .ok_or_else(not_found)?;
    let purchase = serde_json::from_value(doc.body).map_err(|e| StoreError::Invalid(e.to_string()))?;
    Ok(Json(PurchaseView { purchase, simulation: Simulation::of(&databox) }))
}
