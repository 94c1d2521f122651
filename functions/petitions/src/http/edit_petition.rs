//! `PUT /api/petitions/{id}`: the creator changes their draft; a published
//! petition cannot change.

use axum::Json;
use axum::extract::{Path, State};
use portal_host::{Body, Problem};
use portal_security::{Action, Citizen};
use serde_json::Value;

use super::create_petition::PetitionInput;
use super::{MyPetition, Shared, my_view, not_found, own, parse_id, published_cannot_be_edited};
use crate::model::{Draft, State as PetitionState};

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "EditPetition";

/// Replaces the draft's title, texts, addressee, committee and end date.
#[utoipa::path(
    put,
    path = "/api/petitions/{id}",
    operation_id = OPERATION,
    tag = "petitions",
    params(("id" = String, Path, description = "The petition's id.")),
    request_body = PetitionInput,
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Návrh petice je upraven.", body = MyPetition),
        (status = 404, description = "Takový váš návrh petice neexistuje.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Petice je zveřejněna a nelze ji měnit.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Petice porušuje jedno nebo více pravidel (adresátem může být jen existující datová schránka orgánu veřejné moci); `errors` jmenuje pole a pravidlo.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(s): State<Shared>,
    citizen: Citizen,
    Path(id): Path<String>,
    body: Result<Body<Value>, Problem>,
) -> Result<Json<MyPetition>, Problem> {
    let id = parse_id(&id)?;
    // Whose petition first: another citizen learns nothing, whatever they send.
    let petition = own(&s, &citizen, &id, Action::Update).await?;
    if petition.state != PetitionState::Draft {
        return Err(published_cannot_be_edited());
    }
    let Body(body) = body?;
    let draft = Draft::parse(&body, s.today(), s.petitions.settings.max_duration_days).map_err(Problem::validation)?;
    super::check_addressee(&s, &citizen, &draft.addressee.box_id).await?;
    let committee = s.seal_committee(citizen.subject.as_str(), &id, &draft.committee).await?;
    let petition = s
        .update(&id, |p| {
            if p.state != PetitionState::Draft {
                return Err(published_cannot_be_edited());
            }
            p.title.clone_from(&draft.title);
            p.summary.clone_from(&draft.summary);
            p.text.clone_from(&draft.text);
            p.addressee = draft.addressee.clone();
            p.committee_sealed.clone_from(&committee);
            p.ends_on = draft.ends_on;
            Ok(())
        })
        .await??
        .ok_or_else(not_found)?;
    s.petitions
        .access_log
        .record_own(&citizen, Action::Update, "petition", id.as_str(), "úprava návrhu petice")
        .await?;
    Ok(Json(my_view(&s, &petition).await?))
}
