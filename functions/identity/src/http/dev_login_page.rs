//! `GET /api/auth/dev`: the development identity provider's page (local mode
//! only): the demo citizens, each with a button per level of assurance.

use axum::extract::State;
use axum::response::Html;
use portal_host::{Params, Problem};
use portal_security::Loa;

use super::{LoginQuery, Shared};
use crate::{LoginProvider, demo};

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "DevLoginPage";

/// The page of the development identity provider, a SIMULATOR of NIA.
#[utoipa::path(
    get,
    path = "/api/auth/dev",
    operation_id = OPERATION,
    tag = "identity",
    params(LoginQuery),
    responses(
        (status = 200, description = "Stránka vývojového přihlášení se seznamem ukázkových občanů.", content_type = "text/html", body = String),
        (status = 404, description = "Vývojový poskytovatel identity je vypnutý (mimo lokální režim).", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(State(id): State<Shared>, Params(query): Params<LoginQuery>) -> Result<Html<String>, Problem> {
    if !matches!(id.provider, LoginProvider::Development) {
        return Err(Problem::not_found("the development identity provider is off"));
    }
    let return_to = query.return_to();
    let mut rows = String::new();
    for citizen in demo::DEMO_CITIZENS {
        let mut buttons = String::new();
        for loa in [Loa::Low, Loa::Substantial, Loa::High] {
            buttons.push_str(&format!(r#"<button name="loa" value="{loa}">{loa}</button> "#, loa = loa.as_str()));
        }
        rows.push_str(&format!(
            r#"<li><form method="post" action="/api/auth/dev/login"><input type="hidden" name="citizen" value="{login}"><input type="hidden" name="returnTo" value="{ret}"><strong>{given} {family}</strong> ({about}) {buttons}</form></li>"#,
            login = citizen.login,
            ret = html_escape(&return_to),
            given = citizen.given_name,
            family = citizen.family_name,
            about = citizen.about,
        ));
    }
    Ok(Html(format!(
        r#"<!doctype html><html lang="cs"><meta charset="utf-8"><title>Vývojové přihlášení (SIMULATOR)</title>
<h1>Development identity provider: SIMULATOR, not NIA</h1>
<p>Local mode only. Choose a demo citizen and the level of assurance of the login. Low is refused, as by the real portal.</p>
<ul>{rows}</ul></html>"#
    )))
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
