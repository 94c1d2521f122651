//! `POST /api/databox/credit/purchases`: starts buying credit for commercial
//! messages; the queue function `PurchaseCredit` settles it once paid.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use portal_host::{Body, FieldViolation, Problem};
use portal_security::{Action, Citizen};
use portal_store::{NewDocument, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Shared, Simulation};
use crate::COLLECTION;
use crate::credit::{self, Purchase, PurchaseState};

/// How much credit to buy.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CreditPurchaseOrder)]
pub struct Order {
    /// One of the amounts the portal offers (by default 100, 200, 500 or 1000 CZK).
    #[schema(example = 200)]
    pub amount_czk: u32,
}

/// A started purchase: where to pay.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CreditPaymentStarted)]
pub struct PaymentStarted {
    pub payment_id: String,
    /// Where the citizen pays.
    pub pay_url: String,
    /// `pending` until the payment is settled.
    pub state: PurchaseState,
    pub amount_hellers: i64,
    #[serde(flatten)]
    pub simulation: Simulation,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "BuyCredit";

/// Starts a purchase of credit for the citizen's box.
#[utoipa::path(
    post,
    path = "/api/databox/credit/purchases",
    operation_id = OPERATION,
    tag = "databox",
    request_body = Order,
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 201, description = "Nákup je založen; zaplaťte na adrese payUrl.", body = PaymentStarted),
        (status = 404, description = "K vašemu účtu není připojena žádná datová schránka.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Takovou částku nelze koupit.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(databox): State<Shared>,
    citizen: Citizen,
    Body(order): Body<Order>,
) -> Result<(StatusCode, Json<PaymentStarted>), Problem> {
    let amounts = &databox.settings.credit_amounts_czk;
    if !amounts.contains(&order.amount_czk) {
        return Err(Problem::validation(vec![FieldViolation::new("amountCzk", format!("one of {amounts:?} CZK"))]));
    }
    let box_id = databox.box_of(&citizen.subject).await?;
    let payment_id = uuid::Uuid::new_v4().simple().to_string();
    let amount_hellers = i64::from(order.amount_czk) * 100;
    let purchase = Purchase {
        kind: "credit-purchase".into(),
        payment_id: payment_id.clone(),
        box_id: box_id.to_string(),
        amount_hellers,
        state: PurchaseState::Pending,
        created_at: databox.clock.now(),
        settled_at: None,
    };
    let body = serde_json::to_value(&purchase).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let doc = NewDocument::new(citizen.subject.as_str(), credit::purchase_id(&payment_id), body);
    databox.documents.create(COLLECTION, doc).await?;
    let intent = databox.payments.create_payment(&payment_id, amount_hellers, "Kredit datové schránky").await?;
    let purpose = "buy credit for commercial messages";
    databox.access_log.record_own(&citizen, Action::Create, "credit-purchase", &payment_id, purpose).await?;
    Ok((
        StatusCode::CREATED,
        Json(PaymentStarted {
            payment_id,
            pay_url: intent.pay_url,
            state: PurchaseState::Pending,
            amount_hellers,
            simulation: Simulation::of(&databox),
        }),
    ))
}
