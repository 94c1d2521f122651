//! `GET /api/me/access-log`: who touched the citizen's data, page by page.

use axum::Json;
use axum::extract::State;
use portal_crypto::{CryptoError, SEALED_REFERENCE_PREFIX, Sealer};
use portal_host::{FieldViolation, Params, Problem};
use portal_security::{AccessEntry, AccessFilter, AccessOutcome, AccessPage, Action, Actor, Citizen, SubjectId};
use portal_store::StoreError;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use super::{Shared, rfc3339};
use crate::IdentityError;

/// Which entries, in which order.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct AccessLogQuery {
    /// Only entries about this kind of record (`profile`, `document`, `session`, …).
    resource_type: Option<String>,
    /// Entries from this moment on, RFC 3339.
    #[serde(default, with = "time::serde::rfc3339::option")]
    from: Option<OffsetDateTime>,
    /// Entries before this moment, RFC 3339.
    #[serde(default, with = "time::serde::rfc3339::option")]
    to: Option<OffsetDateTime>,
    /// Newest first (default: oldest first).
    #[serde(default)]
    newest_first: bool,
    /// 1–200 entries per page (default 50).
    #[param(minimum = 1, maximum = 200)]
    page_size: Option<u32>,
    /// The token of the next page, from the previous page.
    continuation: Option<String>,
}

/// One page of the access log.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccessLogPage {
    pub items: Vec<AccessLogEntry>,
    /// Present when more entries follow: pass it back as `continuation`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub continuation: Option<String>,
}

impl From<AccessPage> for AccessLogPage {
    fn from(page: AccessPage) -> Self {
        Self { items: page.items.into_iter().map(AccessLogEntry::from).collect(), continuation: page.continuation }
    }
}

/// One touch of the citizen's data: when, who, what, why, and how it ended.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessLogEntry {
    /// RFC 3339.
    #[schema(example = "2026-11-23T08:00:00Z")]
    pub at: String,
    pub actor: AccessLogActor,
    pub action: AccessLogAction,
    /// `profile`, `document`, `data-message`, `session`, …
    pub resource_type: String,
    pub resource_id: String,
    /// The function and its purpose, in words the citizen understands.
    pub purpose: String,
    pub outcome: AccessLogOutcome,
}

impl From<AccessEntry> for AccessLogEntry {
    fn from(entry: AccessEntry) -> Self {
        Self {
            at: rfc3339(entry.at),
            actor: entry.actor.into(),
            action: entry.action.into(),
            resource_type: entry.resource_type,
            resource_id: entry.resource_id,
            purpose: entry.purpose,
            outcome: entry.outcome.into(),
        }
    }
}

/// What a sealed reference no longer opens to shows as (it cannot happen
/// while the citizen's key exists; a damaged line says so).
const UNREADABLE_REFERENCE: &str = "(zapečetěný odkaz, nelze otevřít)";

/// Opens, with the citizen's own key, the resource ids that other capabilities
/// sealed so that no store links the citizen to them in clear (a signed
/// petition, [`portal_crypto::Sealer::seal_reference`]): the citizen sees
/// the petition's id, never `sealed:…`.
pub(crate) async fn open_references(
    sealer: &Sealer,
    subject: &SubjectId,
    items: &mut [AccessLogEntry],
) -> Result<(), CryptoError> {
    for item in items.iter_mut().filter(|item| item.resource_id.starts_with(SEALED_REFERENCE_PREFIX)) {
        item.resource_id = sealer
            .open_reference(subject.as_str(), &item.resource_type, &item.resource_id)
            .await?
            .unwrap_or_else(|| UNREADABLE_REFERENCE.to_owned());
    }
    Ok(())
}

/// Who acted: the citizen, an official (by id), a named system job, or
/// another logged-in citizen who was refused (never named).
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum AccessLogActor {
    Citizen,
    Official {
        id: String,
    },
    System {
        job: String,
    },
    OtherCitizen,
    /// Somebody acting for the citizen under grant `grant` (an authorisation,
    /// or a parent or statutory body by law), by name.
    Delegate {
        grant: String,
        name: String,
    },
    /// The citizen, acting for `principal` under grant `grant`.
    OnBehalfOf {
        grant: String,
        principal: String,
    },
}

impl From<Actor> for AccessLogActor {
    fn from(actor: Actor) -> Self {
        match actor {
            Actor::Citizen => Self::Citizen,
            Actor::Official { id } => Self::Official { id },
            Actor::System { job } => Self::System { job },
            Actor::OtherCitizen => Self::OtherCitizen,
            Actor::Delegate { grant, name } => Self::Delegate { grant, name },
            Actor::OnBehalfOf { grant, principal } => Self::OnBehalfOf { grant, principal },
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum AccessLogAction {
    Read,
    Create,
    Update,
    Delete,
    Export,
    Login,
    Logout,
}

impl From<Action> for AccessLogAction {
    fn from(action: Action) -> Self {
        match action {
            Action::Read => Self::Read,
            Action::Create => Self::Create,
            Action::Update => Self::Update,
            Action::Delete => Self::Delete,
            Action::Export => Self::Export,
            Action::Login => Self::Login,
            Action::Logout => Self::Logout,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum AccessLogOutcome {
    Success,
    Denied,
    Failed,
}

impl From<AccessOutcome> for AccessLogOutcome {
    fn from(outcome: AccessOutcome) -> Self {
        match outcome {
            AccessOutcome::Success => Self::Success,
            AccessOutcome::Denied => Self::Denied,
            AccessOutcome::Failed => Self::Failed,
        }
    }
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "MyAccessLog";

/// The citizen's access log, filtered and paged.
#[utoipa::path(
    get,
    path = "/api/me/access-log",
    operation_id = OPERATION,
    tag = "identity",
    params(AccessLogQuery),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Stránka záznamů o tom, kdo a proč pracoval s vašimi údaji.", body = AccessLogPage),
        (status = 422, description = "Neplatný filtr, velikost stránky nebo pokračovací token.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(id): State<Shared>,
    citizen: Citizen,
    Params(query): Params<AccessLogQuery>,
) -> Result<Json<AccessLogPage>, IdentityError> {
    let page_size = query.page_size.unwrap_or(50);
    if !(1..=200).contains(&page_size) {
        return Err(Problem::validation(vec![FieldViolation::new("pageSize", "must be 1-200")]).into());
    }
    let filter = AccessFilter {
        resource_type: query.resource_type,
        from: query.from,
        to: query.to,
        newest_first: query.newest_first,
    };
    match id.access_log.list(&citizen.subject, &filter, page_size, query.continuation).await {
        Ok(page) => {
            let mut page = AccessLogPage::from(page);
            open_references(&id.sealer, &citizen.subject, &mut page.items).await?;
            Ok(Json(page))
        }
        Err(StoreError::Invalid(_)) => {
            Err(Problem::validation(vec![FieldViolation::new("continuation", "is not a token this API issued")]).into())
        }
        Err(error) => Err(error.into()),
    }
}
