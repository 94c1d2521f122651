//! `GET /api/fees`: the fees of the citizen's municipality (the catalogue)
//! and what the citizen owes, with the state of their payments.

use axum::Json;
use axum::extract::State;
use portal_host::Problem;
use portal_security::{Action, Citizen};
use serde::Serialize;
use utoipa::ToSchema;

use super::{MunicipalityView, ObligationView, Shared, notice};
use crate::municipal::{FeeKind, Rate};
use crate::payment::{self, PaymentRecord};

/// A fee as the municipality's ordinance sets it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FeeView {
    pub kind: FeeKind,
    /// The fee's name in Czech.
    pub title: &'static str,
    pub ordinance: String,
    pub rates: Vec<Rate>,
    pub exemptions: Vec<String>,
    /// When it is due, in Czech.
    pub due: String,
}

/// The citizen's municipal fees.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FeesOverview {
    /// `null` when the portal is not connected to the fee system of the
    /// citizen's municipality (or does not know where they live).
    pub municipality: Option<MunicipalityView>,
    pub catalogue: Vec<FeeView>,
    pub obligations: Vec<ObligationView>,
    /// Present (`true`) when the data come from the SIMULATOR.
    pub simulated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notice: Option<&'static str>,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "ListFees";

/// The municipality's fees and the citizen's obligations.
#[utoipa::path(
    get,
    path = "/api/fees",
    operation_id = OPERATION,
    tag = "fees",
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Místní poplatky vaší obce a co máte zaplatit.", body = FeesOverview),
    )
)]
pub async fn handler(State(fees): State<Shared>, citizen: Citizen) -> Result<Json<FeesOverview>, Problem> {
    let found = payment::obligations(&fees, &citizen.subject).await?;
    fees.access_log.record_own(&citizen, Action::Read, "municipal-fees", "fees", "přehled místních poplatků").await?;
    let simulated = fees.settings.simulated;
    let Some((municipality, owed)) = found else {
        return Ok(Json(FeesOverview {
            municipality: None,
            catalogue: Vec::new(),
            obligations: Vec::new(),
            simulated,
            notice: notice(&fees),
        }));
    };
    let catalogue = fees.fee_system.catalogue(&municipality.code).await.map_err(crate::FeesError::from)?;
    let records = payment::list(&fees, citizen.subject.as_str()).await?;
    let today = portal_host::prague::date(fees.clock.now());
    let latest = |fee_id: &str| -> Option<&PaymentRecord> {
        let lock = payment::lock_id(fee_id);
        records.iter().find(|r| r.lock_id == lock)
    };
    let obligations = owed.iter().map(|o| ObligationView::new(o, latest(&o.id), today)).collect();
    let catalogue = catalogue
        .map(|c| c.fees)
        .unwrap_or_default()
        .into_iter()
        .map(|f| FeeView {
            kind: f.kind,
            title: f.kind.czech_name(),
            ordinance: f.ordinance,
            rates: f.rates,
            exemptions: f.exemptions,
            due: f.due,
        })
        .collect();
    Ok(Json(FeesOverview {
        municipality: Some(MunicipalityView::from(&municipality)),
        catalogue,
        obligations,
        simulated,
        notice: notice(&fees),
    }))
}
