//! The petition as stored, and its input parsed once at the edge: a draft
//! that passed [`Draft::parse`] keeps every rule of the ePetice form (title
//! ≤ 200, summary ≤ 290, text ≤ 3,500 characters, counted as Unicode scalar
//! values; the addressee's data box id; at most 10 committee members; an end
//! date after today and at most [`crate::PetitionsSettings::max_duration_days`]
//! ahead).

use portal_host::FieldViolation;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::{Date, Duration, OffsetDateTime};

pub const COLLECTION: &str = "petitions";
/// The petition document's id inside its partition.
pub const PETITION_DOC: &str = "petition";

/// The creator of a published petition whose creator erased their account
/// (see [`crate::queue::erase_petitions_data`]). Contains `#`, so it can never be a subject id.
pub const ERASED_CREATOR: &str = "#erased";

pub const MAX_TITLE: usize = 200;
pub const MAX_SUMMARY: usize = 290;
pub const MAX_TEXT: usize = 3_500;
pub const MAX_COMMITTEE: usize = 10;
pub const MAX_NAME: usize = 100;
pub const MAX_RESIDENCE: usize = 200;
pub const MAX_ADDRESSEE_NAME: usize = 255;

/// A petition's id: 32 lowercase hexadecimal characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PetitionId(String);

impl PetitionId {
    pub fn new() -> Self {
        Self(uuid::Uuid::new_v4().simple().to_string())
    }

    /// `None` for anything that cannot be an id (answered 404 by the routes).
    pub fn parse(value: &str) -> Option<Self> {
        (value.len() == 32 && value.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)))
            .then(|| Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The store partition of the petition, its counters and signatures; also
    /// the owner of the data key that seals the signers' details.
    pub fn partition(&self) -> String {
        format!("petition-{}", self.0)
    }
}

impl Default for PetitionId {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Display for PetitionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a petition is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    Draft,
    /// Collecting signatures.
    Published,
    Closed,
    HandedOver,
    /// Signing stopped by the Ministry of the Interior (§6a(5)).
    Blocked,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Published => "published",
            Self::Closed => "closed",
            Self::HandedOver => "handed-over",
            Self::Blocked => "blocked",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::Draft, Self::Published, Self::Closed, Self::HandedOver, Self::Blocked]
            .into_iter()
            .find(|s| s.as_str() == value)
    }

    /// Shown to the public (list and detail).
    pub fn is_public(self) -> bool {
        matches!(self, Self::Published | Self::Closed | Self::HandedOver)
    }
}

/// Whom the petition is for: the authority and its data box.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Addressee {
    /// At most 255 characters.
    #[schema(example = "Městský úřad Horní Lhota")]
    pub name: String,
    /// The addressee's data box id: 7 lowercase letters and digits.
    #[schema(example = "simmuhl")]
    pub box_id: String,
}

/// A member of the petition committee (petiční výbor).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommitteeMember {
    /// At most 100 characters.
    pub name: String,
    /// At most 200 characters.
    pub residence: String,
}

/// A draft that keeps every rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub title: String,
    pub summary: String,
    pub text: String,
    pub addressee: Addressee,
    pub committee: Vec<CommitteeMember>,
    pub ends_on: Date,
}

fn chars(value: &str) -> usize {
    value.chars().count()
}

/// A required one-line text: trimmed, 1..=max characters, no control characters.
fn line(errors: &mut Vec<FieldViolation>, body: &Value, path: &[&str], field: &str, max: usize) -> String {
    let value = path.iter().try_fold(body, |v, key| v.get(key)).and_then(Value::as_str).map(str::trim);
    match value {
        None | Some("") => {
            errors.push(FieldViolation::new(field, format!("required, 1-{max} characters")));
            String::new()
        }
        Some(v) if chars(v) > max => {
            errors.push(FieldViolation::new(field, format!("at most {max} characters (this has {})", chars(v))));
            String::new()
        }
        Some(v) if v.chars().any(char::is_control) => {
            errors.push(FieldViolation::new(field, "no control characters"));
            String::new()
        }
        Some(v) => v.to_owned(),
    }
}

/// A required multi-line text: line breaks and tabs allowed.
fn text(errors: &mut Vec<FieldViolation>, body: &Value, field: &str, max: usize) -> String {
    match body.get(field).and_then(Value::as_str).map(str::trim) {
        None | Some("") => {
            errors.push(FieldViolation::new(field, format!("required, 1-{max} characters")));
            String::new()
        }
        Some(v) if chars(v) > max => {
            errors.push(FieldViolation::new(field, format!("at most {max} characters (this has {})", chars(v))));
            String::new()
        }
        Some(v) if v.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) => {
            errors.push(FieldViolation::new(field, "no control characters other than line breaks and tabs"));
            String::new()
        }
        Some(v) => v.to_owned(),
    }
}

pub fn parse_date(value: &str) -> Option<Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    (value.len() == 10).then(|| Date::parse(value, &format).ok()).flatten()
}

pub fn format_date(date: Date) -> String {
    format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day())
}

/// `d. m. yyyy`, as Czech documents write dates.
pub fn czech_date(date: Date) -> String {
    format!("{}. {}. {}", date.day(), u8::from(date.month()), date.year())
}

pub fn is_box_id(value: &str) -> bool {
    value.len() == 7 && value.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
}

impl Draft {
    /// Parses the JSON body of a create or edit; every broken rule names its field.
    pub fn parse(body: &Value, today: Date, max_duration_days: u32) -> Result<Self, Vec<FieldViolation>> {
        let mut errors = Vec::new();
        if !body.is_object() {
            return Err(vec![FieldViolation::new("body", "a JSON object")]);
        }
        let title = line(&mut errors, body, &["title"], "title", MAX_TITLE);
        let summary = text(&mut errors, body, "summary", MAX_SUMMARY);
        let text = text(&mut errors, body, "text", MAX_TEXT);
        let addressee_name = line(&mut errors, body, &["addressee", "name"], "addressee.name", MAX_ADDRESSEE_NAME);
        let box_id = body.get("addressee").and_then(|a| a.get("boxId")).and_then(Value::as_str).unwrap_or("").trim();
        if !is_box_id(box_id) {
            errors.push(FieldViolation::new(
                "addressee.boxId",
                "the addressee's data box id: exactly 7 characters, lowercase letters and digits (find it with GET /api/databox/directory?q=)",
            ));
        }
        let mut committee = Vec::new();
        match body.get("committee") {
            None | Some(Value::Null) => {}
            Some(Value::Array(members)) if members.len() > MAX_COMMITTEE => {
                errors.push(FieldViolation::new("committee", format!("at most {MAX_COMMITTEE} members")));
            }
            Some(Value::Array(members)) => {
                for (i, member) in members.iter().enumerate() {
                    let name = line(&mut errors, member, &["name"], &format!("committee[{i}].name"), MAX_NAME);
                    let residence =
                        line(&mut errors, member, &["residence"], &format!("committee[{i}].residence"), MAX_RESIDENCE);
                    committee.push(CommitteeMember { name, residence });
                }
            }
            Some(_) => errors.push(FieldViolation::new("committee", "a list of {name, residence}")),
        }
        let latest = today + Duration::days(i64::from(max_duration_days));
        let ends_on = match body.get("endsOn").and_then(Value::as_str).and_then(parse_date) {
            Some(date) if date > today && date <= latest => Some(date),
            Some(_) => {
                errors.push(FieldViolation::new(
                    "endsOn",
                    format!("after today and at most {max_duration_days} days ahead (by {})", format_date(latest)),
                ));
                None
            }
            None => {
                errors.push(FieldViolation::new("endsOn", "required, a date YYYY-MM-DD"));
                None
            }
        };
        match (errors.is_empty(), ends_on) {
            (true, Some(ends_on)) => Ok(Self {
                title,
                summary,
                text,
                addressee: Addressee { name: addressee_name, box_id: box_id.to_owned() },
                committee,
                ends_on,
            }),
            _ => Err(errors),
        }
    }
}

time::serde::format_description!(iso_date, Date, "[year]-[month]-[day]");

/// The petition document (`petition` in partition `petition-<id>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Petition {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    pub state: State,
    /// The creator's subject id: who may edit, close, extract and hand over.
    /// Never shown to anyone.
    pub creator: String,
    pub title: String,
    pub summary: String,
    pub text: String,
    pub addressee: Addressee,
    /// The committee, sealed with the creator's key (base64), and its size.
    #[serde(default)]
    pub committee_sealed: Option<String>,
    #[serde(with = "iso_date")]
    pub ends_on: Date,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub published_at: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub closed_at: Option<OffsetDateTime>,
    /// `creator` or `end-date`.
    #[serde(default)]
    pub closed_by: Option<String>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub handed_over_at: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub blocked_at: Option<OffsetDateTime>,
    #[serde(default)]
    pub block_reason: Option<String>,
    /// Counter shards, fixed at publication.
    #[serde(default)]
    pub shards: u32,
    /// Addressed to the Senate (fixed at publication).
    #[serde(default)]
    pub senate: bool,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub senate_threshold_reached_at: Option<OffsetDateTime>,
    /// Flagged for officials by the burst detector.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub flagged_at: Option<OffsetDateTime>,
    /// The attachments (PDF), in index order; the content is in blob storage
    /// (see [`crate::attachments`]).
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    /// The hand-over to the addressee's data box, once asked for (see
    /// [`crate::handover`]): the petition stays `closed` until ISDS accepted
    /// the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hand_over: Option<HandOver>,
}

/// Where a hand-over is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum HandOverStatus {
    /// Queued for the data box; ISDS has not answered yet.
    Pending,
    /// ISDS refused the message (or the creator has no data box): the
    /// petition is closed, not handed over; the creator may try again.
    Failed,
    /// ISDS accepted it: the petition is `handed-over`.
    Delivered,
}

/// The hand-over of a closed petition (the creator's view shows it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HandOver {
    /// 1 for the first request; each retry after a failure is a new data
    /// message with its own request id.
    pub attempt: u32,
    pub status: HandOverStatus,
    #[serde(with = "time::serde::rfc3339")]
    pub requested_at: OffsetDateTime,
    /// Why ISDS did not take it (a failure).
    #[serde(default)]
    pub reason: Option<String>,
    /// The ISDS message id (delivered).
    #[serde(default)]
    pub message_id: Option<String>,
    /// When the message reached the addressee's box (dodání; delivered).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub delivered_at: Option<OffsetDateTime>,
    /// The last day of the addressee's 30 days to answer, counted from the
    /// latest day the petition counts as received (delivered).
    #[serde(default, with = "iso_date_option")]
    pub answer_due: Option<Date>,
}

time::serde::format_description!(iso_date_format, Date, "[year]-[month]-[day]");

mod iso_date_option {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::Date;

    pub fn serialize<S: Serializer>(date: &Option<Date>, serializer: S) -> Result<S::Ok, S::Error> {
        match date {
            Some(date) => super::iso_date_format::serialize(date, serializer),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Date>, D::Error> {
        let text: Option<String> = Option::deserialize(deserializer)?;
        Ok(text.as_deref().and_then(super::parse_date))
    }
}

/// One attachment of a petition: what the petition's JSON lists. The index
/// is fixed at upload and never reused while the blob of a deleted one may
/// still exist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    /// The `{n}` of its address, from 1.
    pub index: u32,
    #[schema(example = "Mapa přechodu.pdf")]
    pub file_name: String,
    /// Bytes.
    pub size: u64,
    /// Always `application/pdf`.
    pub media_type: String,
}

impl Petition {
    /// A new draft of `creator` from a checked `draft`, its committee already
    /// sealed (`committee_sealed`); nothing published, closed or signed yet.
    pub fn new_draft(
        id: &PetitionId,
        creator: &str,
        draft: Draft,
        committee_sealed: Option<String>,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            kind: "petition".into(),
            id: id.as_str().to_owned(),
            state: State::Draft,
            creator: creator.to_owned(),
            title: draft.title,
            summary: draft.summary,
            text: draft.text,
            addressee: draft.addressee,
            committee_sealed,
            ends_on: draft.ends_on,
            created_at: now,
            published_at: None,
            closed_at: None,
            closed_by: None,
            handed_over_at: None,
            blocked_at: None,
            block_reason: None,
            shards: 0,
            senate: false,
            senate_threshold_reached_at: None,
            flagged_at: None,
            attachments: Vec::new(),
            hand_over: None,
        }
    }

    pub fn petition_id(&self) -> Option<PetitionId> {
        PetitionId::parse(&self.id)
    }

    /// Signing is possible: published and the end date (Prague) not past.
    pub fn open_for_signing(&self, today: Date) -> bool {
        self.state == State::Published && today <= self.ends_on
    }
}

pub fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

/// The calendar date in Europe/Prague at `now`, and the time to the next
/// Prague midnight (the daily petition limit resets then).
pub use portal_host::prague::{date as prague_date, until_midnight as until_prague_midnight};

#[cfg(test)]
mod tests {
    use serde_json::json;
    use time::macros::date;

    use super::*;

    fn good() -> Value {
        json!({
            "title": "Za bezpečný přechod u školy",
            "summary": "Žádáme o přechod.",
            "text": "Text petice.\nDruhý řádek.",
            "addressee": {"name": "Městský úřad Horní Lhota", "boxId": "simmuhl"},
            "committee": [{"name": "Jana Nováková", "residence": "Horní Lhota 12"}],
            "endsOn": "2026-12-31",
        })
    }

    fn fields(result: Result<Draft, Vec<FieldViolation>>) -> Vec<String> {
        result.expect_err("refused").into_iter().map(|v| v.field).collect()
    }

    #[test]
    fn lengths_count_characters_not_bytes() {
        let today = date!(2026 - 11 - 23);
        let mut body = good();
        body["title"] = Value::from("ž".repeat(200));
        body["summary"] = Value::from("č".repeat(290));
        body["text"] = Value::from("ř".repeat(3_500));
        let draft = Draft::parse(&body, today, 365).expect("exactly at the limits");
        assert_eq!(draft.title.chars().count(), 200);
        body["title"] = Value::from("ž".repeat(201));
        body["summary"] = Value::from("č".repeat(291));
        body["text"] = Value::from("ř".repeat(3_501));
        assert_eq!(fields(Draft::parse(&body, today, 365)), ["title", "summary", "text"]);
    }

    #[test]
    fn every_rule_names_its_field() {
        let today = date!(2026 - 11 - 23);
        let mut body = good();
        body["addressee"]["boxId"] = Value::from("ABC");
        body["committee"] = Value::from(vec![json!({"name": "", "residence": "x"}); 2]);
        body["endsOn"] = Value::from("2026-11-23");
        assert_eq!(
            fields(Draft::parse(&body, today, 365)),
            ["addressee.boxId", "committee[0].name", "committee[1].name", "endsOn"]
        );
        body = good();
        body["committee"] = Value::from(vec![json!({"name": "a", "residence": "b"}); 11]);
        body["endsOn"] = Value::from("2027-11-24");
        assert_eq!(fields(Draft::parse(&body, today, 365)), ["committee", "endsOn"]);
    }
}
