//! `POST /api/petitions/{id}/publish`: the creator publishes their draft;
//! from then on it collects signatures and is public (§ 6a), its attachments
//! too.

use axum::Json;
use axum::extract::{Path, State};
use portal_host::{FieldViolation, Problem};
use portal_security::{Action, Citizen};

use super::{MyPetition, Shared, my_view, not_found, own, parse_id, state_conflict};
use crate::events;
use crate::model::State as PetitionState;

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "PublishPetition";

/// Publishes the draft: signing opens until its end date.
#[utoipa::path(
    post,
    path = "/api/petitions/{id}/publish",
    operation_id = OPERATION,
    tag = "petitions",
    params(("id" = String, Path, description = "The petition's id.")),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Petice je zveřejněna (nebo už byla).", body = MyPetition),
        (status = 404, description = "Taková vaše petice neexistuje.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Petici v tomto stavu nelze zveřejnit.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Datum konce sběru podpisů už uplynulo; upravte návrh.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(s): State<Shared>,
    citizen: Citizen,
    Path(id): Path<String>,
) -> Result<Json<MyPetition>, Problem> {
    let id = parse_id(&id)?;
    own(&s, &citizen, &id, Action::Update).await?;
    let now = s.petitions.clock.now();
    let today = s.today();
    let settings = &s.petitions.settings;
    let shards = settings.counter_shards.clamp(1, 64);
    let petition = s
        .update(&id, |p| match p.state {
            PetitionState::Published => Ok(()),
            PetitionState::Draft if p.ends_on <= today => {
                Err(Problem::validation(vec![FieldViolation::new("endsOn", "after today: edit the draft's end date")]))
            }
            PetitionState::Draft => {
                p.state = PetitionState::Published;
                p.published_at = Some(now);
                p.shards = shards;
                p.senate = settings.senate_box_id.as_deref() == Some(p.addressee.box_id.as_str());
                Ok(())
            }
            other => Err(state_conflict(other)),
        })
        .await??
        .ok_or_else(not_found)?;
    // The petition data are public from now on (§6a), its attachments too.
    s.open_attachments_to_public(&petition).await?;
    let at = petition.published_at.unwrap_or(now);
    let entry = events::end_date_entry(&petition, false);
    events::calendar(s.petitions.queues.as_ref(), events::END_DATE, id.as_str(), &petition, at, &entry).await?;
    s.petitions.access_log.record_own(&citizen, Action::Update, "petition", id.as_str(), "zveřejnění petice").await?;
    Ok(Json(my_view(&s, &petition).await?))
}
