//! `GET /api/petitions`: PUBLIC, no session. The published, closed and
//! handed-over petitions, newest first or by signatures.

use axum::Json;
use axum::extract::State;
use portal_host::{FieldViolation, Params, Problem};
use serde::Deserialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::{PetitionPage, Shared, entries};
use crate::catalogue::Sort;

/// How a list is ordered.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)] // documents the values `sort` takes
pub enum Order {
    Newest,
    Signatures,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    /// `newest` (default) or `signatures`.
    #[param(value_type = Option<Order>, inline)]
    sort: Option<String>,
    /// 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    page_size: Option<u32>,
    /// The `continuation` of the previous page.
    continuation: Option<String>,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "ListPetitions";

/// The public list of petitions, with exact counts of signatures.
#[utoipa::path(
    get,
    path = "/api/petitions",
    operation_id = OPERATION,
    tag = "petitions",
    params(ListQuery),
    responses(
        (status = 200, description = "Stránka seznamu zveřejněných petic.", body = PetitionPage),
        (status = 422, description = "Neplatné řazení, velikost stránky nebo pokračování.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(State(s): State<Shared>, Params(query): Params<ListQuery>) -> Result<Json<PetitionPage>, Problem> {
    let sort = match query.sort.as_deref() {
        None | Some("newest") => Sort::Newest,
        Some("signatures") => Sort::Signatures,
        Some(_) => return Err(Problem::validation(vec![FieldViolation::new("sort", "newest or signatures")])),
    };
    let page_size = query.page_size.unwrap_or(20);
    if !(1..=100).contains(&page_size) {
        return Err(Problem::validation(vec![FieldViolation::new("pageSize", "1-100")]));
    }
    let filters = vec![("public", Value::from(true))];
    Ok(Json(entries(&s, filters, sort, page_size, query.continuation, false).await?))
}
