//! `PUT /api/me/notification-preferences`: changes which categories of
//! notice go out by e-mail and by SMS. The second method of the function
//! `NotificationPreferences`.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use portal_host::{Body, FieldViolation, Problem};
use portal_security::{Action, Citizen};
use portal_store::{NewDocument, StoreError};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::{PreferencesView, Shared, bad_fields, preferences_view, stored_preferences};
use crate::{COLLECTION, preferences};

/// A change of preferences: categories and channels left out keep their
/// value. Every unknown category, channel or field is named.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"categories": {"databox": {"email": true, "sms": false}}}))]
#[allow(dead_code)] // documents the body that `Preferences::apply` checks field by field
pub struct PreferencesChange {
    /// Category (`databox`, `calendar`, `documents`, `registers`, `filings`, `petitions`, `account`) → channels.
    #[schema(nullable = false)]
    categories: Option<BTreeMap<String, ChannelChange>>,
}

/// The channels of one category to switch on (true) or off (false).
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)] // documents the body that `Preferences::apply` checks field by field
pub struct ChannelChange {
    #[schema(nullable = false)]
    email: Option<bool>,
    #[schema(nullable = false)]
    sms: Option<bool>,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "ChangeNotificationPreferences";

/// Changes the notification preferences; the in-portal inbox cannot be switched off.
#[utoipa::path(
    put,
    path = "/api/me/notification-preferences",
    operation_id = OPERATION,
    tag = "notifications",
    request_body = PreferencesChange,
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Nastavení oznámení je změněno.", body = PreferencesView),
        (status = 400, description = "Tělo není JSON, nebo jmenuje neznámou kategorii, kanál či pole; `errors` jmenuje které.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Nastavení se právě mění; zkuste to znovu.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(n): State<Shared>,
    citizen: Citizen,
    body: Result<Body<Value>, Problem>,
) -> Result<Json<PreferencesView>, Problem> {
    let Ok(Body(change)) = body else {
        return Err(bad_fields(vec![FieldViolation::new(
            "body",
            "JSON {\"categories\": {\"databox\": {\"email\": true, \"sms\": false}, ...}}",
        )]));
    };
    let owner = citizen.subject.as_str();
    let mut saved = None;
    for _ in 0..5 {
        let (mut preferences, etag) = stored_preferences(&n, owner).await?;
        preferences.apply(&change).map_err(bad_fields)?;
        let doc = NewDocument::new(owner, preferences::DOCUMENT_ID, preferences.to_stored());
        let written = match &etag {
            Some(etag) => n.documents.replace(COLLECTION, doc, etag).await,
            None => n.documents.create(COLLECTION, doc).await,
        };
        match written {
            Ok(_) => {
                saved = Some(preferences);
                break;
            }
            Err(StoreError::PreconditionFailed | StoreError::Conflict | StoreError::NotFound) => continue,
            Err(error) => return Err(error.into()),
        }
    }
    let Some(preferences) = saved else {
        return Err(Problem::new(StatusCode::CONFLICT, "busy", "The preferences are changing").with_detail("try again"));
    };
    let view = preferences_view(&n, owner, &preferences).await?;
    n.access_log
        .record_own(
            &citizen,
            Action::Update,
            "notification-preferences",
            "preferences",
            "change my notification preferences",
        )
        .await?;
    Ok(Json(view))
}
