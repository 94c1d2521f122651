//! Step-up on the officials' acts (issue 13, item 7): blocking and
//! unblocking a petition need a login no older than 10 minutes; an older
//! one gets 401 `/problems/reauthentication-required` and changes nothing.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use portal_petitions::{Petitions, PetitionsSettings, Signer, SignerDetails, SignerDetailsError, functions};
use portal_security::SubjectId;
use portal_testkit::{Harness, JANA, Login, call, json_of, write};
use serde_json::json;

const OFFICIAL: &str = "DEMO%2Fmv-official";

#[derive(Debug)]
struct Everyone;

#[async_trait::async_trait]
impl SignerDetails for Everyone {
    async fn details(&self, subject: &SubjectId) -> Result<Option<Signer>, SignerDetailsError> {
        Ok(Some(Signer {
            given_name: "Občan".into(),
            family_name: subject.as_str().into(),
            residence: "Horní Lhota".into(),
        }))
    }
}

fn router(harness: &Harness) -> axum::Router {
    harness.router(functions(Petitions {
        documents: harness.documents.clone(),
        blobs: harness.store.clone(),
        queues: harness.store.clone(),
        sealer: harness.sealer.clone(),
        access_log: harness.access_log.clone(),
        clock: harness.clock.clone(),
        signer_details: Arc::new(Everyone),
        directory: Arc::new(portal_petitions::directory::SimulatedDirectory::default()),
        settings: PetitionsSettings { officials: vec![OFFICIAL.into()], ..PetitionsSettings::default() },
    }))
}

async fn published(router: &axum::Router, creator: &Login) -> String {
    let draft = json!({
        "title": "Za bezpečný přechod u školy", "summary": "Žádáme přechod se semaforem.",
        "text": "Žádáme o přechod pro chodce.",
        "addressee": {"name": "Městský úřad Horní Lhota (simulace)", "boxId": "simmuhl"},
        "endsOn": "2026-12-31",
    });
    let (status, _, body) = call(router, write(Method::POST, "/api/petitions", creator, Some(draft))).await;
    assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&body));
    let id = json_of(&body)["id"].as_str().expect("id").to_owned();
    let (status, _, body) =
        call(router, write(Method::POST, &format!("/api/petitions/{id}/publish"), creator, None)).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    id
}

#[tokio::test]
async fn an_official_whose_login_is_older_than_ten_minutes_must_log_in_again_to_block_or_unblock() {
    let harness = Harness::new();
    let router = router(&harness);
    let jana = harness.login(JANA).await;
    let id = published(&router, &jana).await;
    let official = harness.login(OFFICIAL).await;
    let reason = json!({"reason": "Výzva k porušování zákona (§ 1 odst. 4)."});
    let block = format!("/api/officials/petitions/{id}/block");
    let unblock = format!("/api/officials/petitions/{id}/unblock");

    // Eleven minutes on (the session is still within its idle timeout).
    harness.clock.advance(Duration::from_secs(11 * 60));
    for (path, body) in [(&block, Some(reason.clone())), (&unblock, None)] {
        let (status, _, problem) = call(&router, write(Method::POST, path, &official, body)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{}", String::from_utf8_lossy(&problem));
        assert_eq!(json_of(&problem)["type"], "/problems/reauthentication-required");
    }
    let (status, _, body) = call(&router, portal_testkit::anonymous(&format!("/api/petitions/{id}"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json_of(&body)["state"], "published", "nothing was blocked");

    // A fresh login may.
    let fresh = harness.login(OFFICIAL).await;
    let (status, _, body) = call(&router, write(Method::POST, &block, &fresh, Some(reason))).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    assert_eq!(json_of(&body)["state"], "blocked");
    let (status, _, body) = call(&router, write(Method::POST, &unblock, &fresh, None)).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
}
