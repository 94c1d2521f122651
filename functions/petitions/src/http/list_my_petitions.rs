//! `GET /api/me/petitions`: the citizen's own petitions, drafts included,
//! newest first.

use axum::Json;
use axum::extract::State;
use portal_host::Problem;
use portal_security::{Action, Citizen};
use portal_store::{FilterOp, Order, Query};
use serde::Serialize;
use utoipa::ToSchema;

use super::{MyPetition, Shared, my_view};
use crate::model::{COLLECTION, PetitionId};

/// The citizen's petitions.
#[derive(Debug, Serialize, ToSchema)]
pub struct MyPetitions {
    pub items: Vec<MyPetition>,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "ListMyPetitions";

/// The petitions the citizen created.
#[utoipa::path(
    get,
    path = "/api/me/petitions",
    operation_id = OPERATION,
    tag = "petitions",
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, description = "Vaše petice, nejnovější první.", body = MyPetitions))
)]
pub async fn handler(State(s): State<Shared>, citizen: Citizen) -> Result<Json<MyPetitions>, Problem> {
    let query = Query::default()
        .filter("type", FilterOp::Eq, "my-petition")
        .order_by("createdAtNanos", Order::Descending)
        .page_size(1000);
    let docs = s.petitions.documents.query(COLLECTION, citizen.subject.as_str(), query).await?.items;
    let mut items = Vec::new();
    for doc in docs {
        let Some(id) = doc.body["petitionId"].as_str().and_then(PetitionId::parse) else { continue };
        if let Some((petition, _)) = s.load(&id).await?
            && petition.creator == citizen.subject.as_str()
        {
            items.push(my_view(&s, &petition).await?);
        }
    }
    s.petitions.access_log.record_own(&citizen, Action::Read, "petition-list", "mine", "seznam mých petic").await?;
    Ok(Json(MyPetitions { items }))
}
