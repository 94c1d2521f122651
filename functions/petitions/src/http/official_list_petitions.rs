//! `GET /api/officials/petitions`: officials of the Ministry of the Interior
//! list every published petition, by state and by the burst detector's flag.

use axum::Json;
use axum::extract::State;
use portal_host::{FieldViolation, Params, Problem};
use portal_security::Citizen;
use serde::Deserialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::{PetitionPage, Shared, entries, official};
use crate::catalogue::Sort;
use crate::model::State as PetitionState;
use crate::officials;

/// The states the officials' list filters by.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "kebab-case")]
#[allow(dead_code)] // documents the values `state` takes
pub enum ListedState {
    Published,
    Closed,
    HandedOver,
    Blocked,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct OfficialQuery {
    /// Only petitions in this state.
    #[param(value_type = Option<ListedState>, inline)]
    state: Option<String>,
    /// Only petitions the burst detector flagged (`true`) or did not (`false`).
    flagged: Option<bool>,
    /// 1–100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    page_size: Option<u32>,
    /// The `continuation` of the previous page.
    continuation: Option<String>,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "OfficialListPetitions";

/// Every petition ever published, newest first, for officials.
#[utoipa::path(
    get,
    path = "/api/officials/petitions",
    operation_id = OPERATION,
    tag = "petitions",
    params(OfficialQuery),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Stránka seznamu petic pro úředníky.", body = PetitionPage),
        (status = 403, description = "Jen pro úředníky ministerstva vnitra.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Neplatný stav, velikost stránky nebo pokračování.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(s): State<Shared>,
    citizen: Citizen,
    query: Result<Params<OfficialQuery>, Problem>,
) -> Result<Json<PetitionPage>, Problem> {
    official(&s, &citizen)?;
    let Params(query) = query?;
    let mut filters = Vec::new();
    if let Some(state) = query.state.as_deref() {
        match PetitionState::parse(state) {
            Some(state) if state != PetitionState::Draft => filters.push(("state", Value::from(state.as_str()))),
            _ => {
                return Err(Problem::validation(vec![FieldViolation::new(
                    "state",
                    "published, closed, handed-over or blocked",
                )]));
            }
        }
    }
    if let Some(flagged) = query.flagged {
        filters.push(("flagged", Value::from(flagged)));
    }
    let page_size = query.page_size.unwrap_or(50);
    if !(1..=100).contains(&page_size) {
        return Err(Problem::validation(vec![FieldViolation::new("pageSize", "1-100")]));
    }
    tracing::info!(official = %officials::fingerprint(&citizen.subject), action = "list", "official action");
    let page = entries(&s, filters, Sort::Newest, page_size, query.continuation, true).await?;
    let listed = format!("{} petic", page.items.len());
    let purpose = "seznam petic pro úředníky ministerstva vnitra (§ 6a odst. 5 zákona č. 85/1990 Sb.)";
    s.record_official_read(&citizen.subject, "petitions-list", &listed, purpose).await?;
    Ok(Json(page))
}
