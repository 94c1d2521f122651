//! `GET /api/filings`: the citizen's filings (podání), newest first.

use axum::Json;
use axum::extract::State;
use portal_host::{Params, Problem};
use portal_security::delegation::scope::Filings;
use portal_security::{AccessEntry, ActingFor, Action, Actor};
use portal_store::StoreError;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{FilingSummary, Shared, invalid};
use crate::filings::{self, FilingError};

/// One page at a time.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct ListParams {
    /// 1–100 filings per page (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    page_size: Option<String>,
    /// The token of the next page, from the previous page, unchanged.
    continuation: Option<String>,
}

/// One page of filings.
#[derive(Debug, Serialize, ToSchema)]
pub struct FilingPage {
    pub items: Vec<FilingSummary>,
    /// The next page's token; `null` on the last page.
    pub continuation: Option<String>,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "ListFilings";

/// The citizen's filings with their status and the agency's deadline.
#[utoipa::path(
    get,
    path = "/api/filings",
    operation_id = OPERATION,
    tag = "filings",
    params(ListParams, ("X-Acting-For" = Option<String>, Header, description = "A grant id (`GET /api/delegations`) to act for the person who authorised you, or whom you represent (scope `filings`): their filings."),),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Vaše podání, nejnovější první.", body = FilingPage),
        (status = 400, description = "Neplatná velikost stránky nebo pokračovací token.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(registers): State<Shared>,
    acting: ActingFor<Filings>,
    params: Result<Params<ListParams>, Problem>,
) -> Result<Json<FilingPage>, Problem> {
    let Ok(Params(params)) = params else { return Err(invalid("query", "pageSize and continuation only")) };
    let page_size = match params.page_size.as_deref().map(str::parse::<u32>) {
        None => 20,
        Some(Ok(size @ 1..=100)) => size,
        Some(_) => return Err(invalid("pageSize", "a whole number from 1 to 100")),
    };
    let page = filings::list(&registers, acting.owner().as_str(), page_size, params.continuation).await;
    let (items, continuation) = match page {
        Ok(page) => page,
        Err(FilingError::Store(StoreError::Invalid(_))) => {
            return Err(invalid("continuation", "the token from the previous page, unchanged"));
        }
        Err(error) => return Err(error.into()),
    };
    let entry = AccessEntry::new(Actor::Citizen, Action::Read, "filing", "list", "přehled podání");
    acting.record(&registers.access_log, entry).await?;
    let now = registers.clock.now();
    Ok(Json(FilingPage { items: items.iter().map(|f| FilingSummary::new(f, now)).collect(), continuation }))
}
