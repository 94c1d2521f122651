//! `GET /api/me/notification-preferences`: which categories of notice the
//! citizen wants by e-mail and by SMS.

use axum::Json;
use axum::extract::State;
use portal_host::Problem;
use portal_security::{Action, Citizen};

use super::{PreferencesView, Shared, preferences_view, stored_preferences};

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "NotificationPreferences";

/// The citizen's notification preferences (the defaults until changed).
#[utoipa::path(
    get,
    path = "/api/me/notification-preferences",
    operation_id = OPERATION,
    tag = "notifications",
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, description = "Nastavení oznámení.", body = PreferencesView))
)]
pub async fn handler(State(n): State<Shared>, citizen: Citizen) -> Result<Json<PreferencesView>, Problem> {
    let owner = citizen.subject.as_str();
    let (preferences, _) = stored_preferences(&n, owner).await?;
    let view = preferences_view(&n, owner, &preferences).await?;
    n.access_log
        .record_own(
            &citizen,
            Action::Read,
            "notification-preferences",
            "preferences",
            "show my notification preferences",
        )
        .await?;
    Ok(Json(view))
}
