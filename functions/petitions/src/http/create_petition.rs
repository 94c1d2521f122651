//! `POST /api/petitions`: a new draft petition. A citizen may create a few a
//! day ([`crate::PetitionsSettings::creations_per_day`], Prague days).

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use portal_host::{Body, FieldViolation, Problem};
use portal_security::{Action, Citizen, SubjectId};
use portal_store::{NewDocument, StoreError};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::{MyPetition, Refused, Shared, my_view};
use crate::MAX_ATTEMPTS;
use crate::model::{
    Addressee, COLLECTION, CommitteeMember, Draft, PETITION_DOC, Petition, PetitionId, format_date,
    until_prague_midnight,
};
use crate::service::PetitionService;

/// A petition as its creator writes it (a new draft or an edit of one).
/// Every broken rule comes back at once, field by field.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({
    "title": "Za bezpečný přechod u školy",
    "summary": "Žádáme město o přechod pro chodce u základní školy.",
    "text": "Vážení zastupitelé,\nžádáme vás o zřízení přechodu pro chodce.",
    "addressee": {"name": "Městský úřad Horní Lhota", "boxId": "simmuhl"},
    "committee": [{"name": "Jana Nováková", "residence": "Fiktivní 12, Horní Lhota"}],
    "endsOn": "2026-12-31"
}))]
#[allow(dead_code)] // documents the body that `Draft::parse` checks
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PetitionInput {
    /// 1–200 characters, one line.
    title: String,
    /// 1–290 characters; line breaks allowed.
    summary: String,
    /// 1–3,500 characters; line breaks allowed.
    text: String,
    addressee: Addressee,
    /// The petition committee (petiční výbor), at most 10 members.
    committee: Option<Vec<CommitteeMember>>,
    /// The last day of signing, YYYY-MM-DD: after today, at most
    /// `maxDurationDays` (365) ahead.
    ends_on: String,
}

/// The fields of [`PetitionInput`] and of its addressee and committee members.
const FIELDS: &[&str] = &["title", "summary", "text", "addressee", "committee", "endsOn"];
const ADDRESSEE_FIELDS: &[&str] = &["name", "boxId"];
const MEMBER_FIELDS: &[&str] = &["name", "residence"];

/// Every field the body has that a petition does not, named as the other
/// writes name them (`unknown field`): like every other write, creation
/// refuses what it would silently drop.
fn unknown_fields(body: &Value) -> Vec<FieldViolation> {
    let mut unknown = Vec::new();
    let mut check = |object: Option<&serde_json::Map<String, Value>>, known: &[&str], prefix: &str| {
        for name in object.into_iter().flat_map(|o| o.keys()).filter(|name| !known.contains(&name.as_str())) {
            unknown.push(FieldViolation::new(format!("{prefix}{name}"), "unknown field"));
        }
    };
    check(body.as_object(), FIELDS, "");
    check(body.get("addressee").and_then(Value::as_object), ADDRESSEE_FIELDS, "addressee.");
    for (i, member) in body.get("committee").and_then(Value::as_array).into_iter().flatten().enumerate() {
        check(member.as_object(), MEMBER_FIELDS, &format!("committee[{i}]."));
    }
    unknown
}

/// Takes one of today's creations, or says how long to wait.
async fn take_creation(
    s: &PetitionService,
    subject: &SubjectId,
) -> Result<Result<(), std::time::Duration>, StoreError> {
    let now = s.petitions.clock.now();
    let id = format!("created-{}", format_date(s.today()));
    let documents = &s.petitions.documents;
    let limit = u64::from(s.petitions.settings.creations_per_day);
    for _ in 0..MAX_ATTEMPTS {
        let existing = documents.get(COLLECTION, subject.as_str(), &id).await?;
        let count = existing.as_ref().and_then(|d| d.body["count"].as_u64()).unwrap_or(0);
        if count >= limit {
            return Ok(Err(until_prague_midnight(now)));
        }
        let doc = NewDocument::new(subject.as_str(), &id, json!({"type": "creation-count", "count": count + 1}))
            .with_ttl(std::time::Duration::from_secs(2 * 24 * 3600));
        let written = match &existing {
            Some(existing) => documents.replace(COLLECTION, doc, &existing.etag).await,
            None => documents.create(COLLECTION, doc).await,
        };
        match written {
            Ok(_) => return Ok(Ok(())),
            Err(StoreError::PreconditionFailed | StoreError::Conflict | StoreError::NotFound) => continue,
            Err(error) => return Err(error),
        }
    }
    Err(StoreError::Throttled { retry_after: None })
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "CreatePetition";

/// Creates a draft petition, the creator's alone until published.
#[utoipa::path(
    post,
    path = "/api/petitions",
    operation_id = OPERATION,
    tag = "petitions",
    request_body = PetitionInput,
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 201, description = "Návrh petice je založen.", body = MyPetition,
            headers(("Location" = String, description = "Adresa návrhu: /api/me/petitions/{id}"))),
        (status = 422, description = "Petice porušuje jedno nebo více pravidel (adresátem může být jen existující datová schránka orgánu veřejné moci); `errors` jmenuje pole a pravidlo.", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Dnes jste založili nejvíce petic, kolik lze; zkuste to zítra (hlavička Retry-After).", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(s): State<Shared>,
    citizen: Citizen,
    Body(body): Body<Value>,
) -> Result<(StatusCode, [(header::HeaderName, String); 1], Json<MyPetition>), Refused> {
    let unknown = unknown_fields(&body);
    if !unknown.is_empty() {
        return Err(Problem::validation(unknown).into());
    }
    let draft = Draft::parse(&body, s.today(), s.petitions.settings.max_duration_days).map_err(Problem::validation)?;
    super::check_addressee(&s, &citizen, &draft.addressee.box_id).await?;
    take_creation(&s, &citizen.subject).await?.map_err(Refused::TooMany)?;
    let id = PetitionId::new();
    let committee = s.seal_committee(citizen.subject.as_str(), &id, &draft.committee).await?;
    let now = s.petitions.clock.now();
    let petition = Petition::new_draft(&id, citizen.subject.as_str(), draft, committee, now);
    let documents = &s.petitions.documents;
    // The creator's list entry first: a crash before the petition leaves an
    // entry the list skips, never a petition its creator cannot find.
    let mine = NewDocument::new(
        citizen.subject.as_str(),
        format!("mine-{id}"),
        json!({"type": "my-petition", "petitionId": id.as_str(), "createdAtNanos": i64::try_from(now.unix_timestamp_nanos()).unwrap_or(0)}),
    );
    documents.create(COLLECTION, mine).await?;
    let doc = NewDocument::new(id.partition(), PETITION_DOC, serde_json::to_value(&petition).unwrap_or_default());
    documents.create(COLLECTION, doc).await?;
    s.petitions.access_log.record_own(&citizen, Action::Create, "petition", id.as_str(), "založení petice").await?;
    let view = my_view(&s, &petition).await?;
    Ok((StatusCode::CREATED, [(header::LOCATION, format!("/api/me/petitions/{id}"))], Json(view)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::unknown_fields;

    #[test]
    fn petition_creation_refuses_unknown_fields_at_every_level() {
        let body = json!({
            "title": "t", "summary": "s", "text": "x", "endsOn": "2026-12-31", "state": "published",
            "addressee": {"name": "Úřad", "boxId": "simmuhl", "priority": 1},
            "committee": [{"name": "Jana", "residence": "Horní Lhota", "birthNumber": "x"}],
        });
        let fields: Vec<String> = unknown_fields(&body).iter().map(|v| v.field.clone()).collect();
        assert_eq!(fields, ["state", "addressee.priority", "committee[0].birthNumber"]);
        let known = json!({"title": "t", "summary": "s", "text": "x", "endsOn": "2026-12-31",
            "addressee": {"name": "Úřad", "boxId": "simmuhl"}, "committee": [{"name": "Jana", "residence": "H"}]});
        assert!(unknown_fields(&known).is_empty());
    }
}
