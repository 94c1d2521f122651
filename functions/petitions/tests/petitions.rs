//! ePetice in process: the capability's router on the embedded store with a
//! fixed clock, sessions of demo citizens and a signer-details double. The
//! acceptance walk of the issue (create, publish, sign, withdraw, exact
//! counts, close, extract), one signature under 100 concurrent requests (also
//! on the Cosmos DB emulator when configured), the refusals, the officials'
//! module, the timer and the hand-over.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{Method, StatusCode, header};
use portal_petitions::model::{COLLECTION, Draft, PETITION_DOC, Petition, PetitionId, State};
use portal_petitions::signing::SignRefusal;
use portal_petitions::{
    PetitionService, Petitions, PetitionsSettings, Signer, SignerDetails, SignerDetailsError, closing, functions,
};
use portal_security::{Actor, Loa, SubjectId};
use portal_store::{BlobStore, DocumentStore, FilterOp, NewDocument, Query};
use portal_testkit::{
    Harness, JANA, Login, PETR, anonymous, call, cosmos_emulator, get, json_of, pdf_text, problem_fields, write,
};
use serde_json::{Value, json};
use time::macros::datetime;

const EVA: &str = "DEMO%2Feva-mala";
const NOBODY: &str = "DEMO%2Fno-details";
const OFFICIAL: &str = "DEMO%2Fmv-official";

/// The identity profile as a map; a subject missing from it has no details.
#[derive(Debug, Default)]
struct Profiles(HashMap<String, Signer>);

#[async_trait::async_trait]
impl SignerDetails for Profiles {
    async fn details(&self, subject: &SubjectId) -> Result<Option<Signer>, SignerDetailsError> {
        if let Some(found) = self.0.get(subject.as_str()) {
            return Ok(Some(found.clone()));
        }
        // Generated citizens (the concurrency tests) have generated details.
        Ok(subject.as_str().starts_with("citizen-").then(|| Signer {
            given_name: "Občan".into(),
            family_name: subject.as_str().to_owned(),
            residence: "Horní Lhota".into(),
        }))
    }
}

fn profiles() -> Arc<Profiles> {
    let person = |given: &str, family: &str, residence: &str| Signer {
        given_name: given.into(),
        family_name: family.into(),
        residence: residence.into(),
    };
    Arc::new(Profiles(HashMap::from([
        (JANA.to_owned(), person("Jana", "Nováková", "Fiktivní 12, Horní Lhota")),
        (PETR.to_owned(), person("Petr", "Svoboda", "Dlouhá 7, Dolní Lhota")),
        (EVA.to_owned(), person("Eva", "Malá", "Krátká 3, Horní Lhota")),
        (OFFICIAL.to_owned(), person("Úředník", "Ministerský", "Nad Štolou 3, Praha")),
    ])))
}

struct Portal {
    router: Router,
    petitions: Petitions,
    harness: Harness,
}

impl std::ops::Deref for Portal {
    type Target = Harness;

    fn deref(&self) -> &Harness {
        &self.harness
    }
}

fn settings() -> PetitionsSettings {
    PetitionsSettings {
        officials: vec![OFFICIAL.into()],
        sign_burst: 1_000,
        sign_refill_per_minute: 1_000,
        ..PetitionsSettings::default()
    }
}

fn portal_with(settings: PetitionsSettings) -> Portal {
    let harness = Harness::new();
    let petitions = petitions_on(&harness, settings);
    let router = harness.router(functions(petitions.clone()));
    Portal { router, petitions, harness }
}

/// The capability on the harness's stores, keys, access log and clock.
fn petitions_on(harness: &Harness, settings: PetitionsSettings) -> Petitions {
    Petitions {
        documents: harness.documents.clone(),
        blobs: harness.store.clone(),
        queues: harness.store.clone(),
        sealer: harness.sealer.clone(),
        access_log: harness.access_log.clone(),
        clock: harness.clock.clone(),
        signer_details: profiles(),
        directory: std::sync::Arc::new(portal_petitions::directory::SimulatedDirectory::default()),
        settings,
    }
}

fn portal() -> Portal {
    portal_with(settings())
}

fn draft() -> Value {
    json!({
        "title": "Za bezpečný přechod u školy v Horní Lhotě",
        "summary": "Žádáme město o přechod pro chodce se semaforem u základní školy.",
        "text": "Vážení zastupitelé,\nžádáme vás o zřízení přechodu pro chodce se světelnou signalizací.\nDěkujeme.",
        "addressee": {"name": "Městský úřad Horní Lhota (simulace)", "boxId": "simmuhl"},
        "committee": [{"name": "Jana Nováková", "residence": "Fiktivní 12, Horní Lhota"}],
        "endsOn": "2026-12-31",
    })
}

/// Creates and publishes a petition as `creator`; its id.
async fn published(portal: &Portal, creator: &Login) -> String {
    let (status, _, body) = call(&portal.router, write(Method::POST, "/api/petitions", creator, Some(draft()))).await;
    assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&body));
    let id = json_of(&body)["id"].as_str().expect("id").to_owned();
    let (status, _, body) =
        call(&portal.router, write(Method::POST, &format!("/api/petitions/{id}/publish"), creator, None)).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    id
}

async fn public_count(portal: &Portal, id: &str) -> u64 {
    let (status, _, body) = call(&portal.router, anonymous(&format!("/api/petitions/{id}"))).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    json_of(&body)["signatures"].as_u64().expect("count")
}

#[tokio::test]
async fn a_petition_goes_from_draft_to_an_extract_of_exactly_its_remaining_signers() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    let petr = portal.login(PETR).await;

    // A draft is the creator's alone.
    let (status, headers, body) =
        call(&portal.router, write(Method::POST, "/api/petitions", &jana, Some(draft()))).await;
    assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&body));
    let id = json_of(&body)["id"].as_str().expect("id").to_owned();
    assert_eq!(headers[header::LOCATION], format!("/api/me/petitions/{id}").as_str());
    assert_eq!(json_of(&body)["committee"][0]["name"], "Jana Nováková");
    for (request, who) in [
        (anonymous(&format!("/api/petitions/{id}")), "the public"),
        (get(&format!("/api/me/petitions/{id}"), &petr), "another citizen"),
        (write(Method::PUT, &format!("/api/petitions/{id}"), &petr, Some(draft())), "another citizen's edit"),
        (write(Method::POST, &format!("/api/petitions/{id}/publish"), &petr, None), "another citizen's publish"),
        (write(Method::POST, &format!("/api/petitions/{id}/signatures"), &petr, None), "a signature"),
    ] {
        let (status, _, _) = call(&portal.router, request).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "a draft is 404 for {who}");
    }
    let (_, _, list) = call(&portal.router, anonymous("/api/petitions")).await;
    assert_eq!(json_of(&list)["items"].as_array().map(Vec::len), Some(0), "drafts are not listed");

    // The creator edits the draft, then publishes it; then it cannot change.
    let mut edited = draft();
    edited["title"] = Value::from("Za bezpečný přechod");
    let (status, _, body) =
        call(&portal.router, write(Method::PUT, &format!("/api/petitions/{id}"), &jana, Some(edited))).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let (status, _, _) =
        call(&portal.router, write(Method::POST, &format!("/api/petitions/{id}/publish"), &jana, None)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, headers, body) =
        call(&portal.router, write(Method::PUT, &format!("/api/petitions/{id}"), &jana, Some(draft()))).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
    assert_eq!(json_of(&body)["detail"], "a published petition cannot be edited; close it and create a new one");

    // Public without a session: the detail and the list, never who signed.
    let (status, _, body) = call(&portal.router, anonymous(&format!("/api/petitions/{id}"))).await;
    assert_eq!(status, StatusCode::OK);
    let detail = json_of(&body);
    assert_eq!(detail["title"], "Za bezpečný přechod");
    assert_eq!(detail["state"], "published");
    assert_eq!(detail["addressee"]["boxId"], "simmuhl");
    assert!(detail.get("creator").is_none() && detail.get("committee").is_none(), "{detail}");
    assert_eq!(public_count(&portal, &id).await, 0);

    // Jana signs, Petr signs, Jana withdraws: the public count is exact each time.
    let sign = |login: &Login| write(Method::POST, &format!("/api/petitions/{id}/signatures"), login, None);
    let (status, _, body) = call(&portal.router, sign(&jana)).await;
    assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&body));
    assert_eq!(json_of(&body)["signatures"], 1);
    assert_eq!(public_count(&portal, &id).await, 1);
    let (status, _, _) = call(&portal.router, sign(&petr)).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(public_count(&portal, &id).await, 2);
    let (status, _, body) = call(&portal.router, sign(&petr)).await;
    assert_eq!(status, StatusCode::CONFLICT, "one signature per person");
    assert_eq!(json_of(&body)["type"], "/problems/already-signed");
    assert_eq!(public_count(&portal, &id).await, 2);
    let (_, _, mine) = call(&portal.router, get(&format!("/api/petitions/{id}/signatures/mine"), &jana)).await;
    assert_eq!(json_of(&mine)["signed"], true);
    let (status, _, body) =
        call(&portal.router, write(Method::DELETE, &format!("/api/petitions/{id}/signatures/mine"), &jana, None)).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    assert_eq!(json_of(&body)["signatures"], 1);
    assert_eq!(public_count(&portal, &id).await, 1);
    let (status, _, _) =
        call(&portal.router, write(Method::DELETE, &format!("/api/petitions/{id}/signatures/mine"), &jana, None)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing left to withdraw");
    let (_, _, list) = call(&portal.router, anonymous("/api/petitions?sort=signatures")).await;
    let list = json_of(&list);
    assert_eq!(list["items"][0]["id"], id.as_str());
    assert_eq!(list["items"][0]["signatures"], 1, "{list}");

    // Stored: no subject, no name; the details only sealed.
    let partition = PetitionId::parse(&id).expect("id").partition();
    let stored = portal.store.query(COLLECTION, &partition, Query::default().page_size(100)).await.expect("query");
    let text = serde_json::to_string(&stored.items.iter().map(|d| &d.body).collect::<Vec<_>>()).expect("json");
    for secret in ["Svoboda", "Dlouhá", PETR, "petr-svoboda"] {
        assert!(!text.contains(secret), "{secret} is not stored in clear");
    }
    let signer_log = portal.access_entries(PETR).await;
    assert!(signer_log.iter().any(|e| e.resource_type == "petition-signature"), "the signer's log says so");

    // Not before it is closed; then the extract lists exactly Petr.
    let (status, _, _) = call(&portal.router, get(&format!("/api/petitions/{id}/extract.csv"), &jana)).await;
    assert_eq!(status, StatusCode::CONFLICT, "no extract while open");
    let (status, _, body) =
        call(&portal.router, write(Method::POST, &format!("/api/petitions/{id}/close"), &jana, None)).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    assert_eq!(json_of(&body)["state"], "closed");
    let (status, _, body) = call(&portal.router, sign(&jana)).await;
    assert_eq!(status, StatusCode::CONFLICT, "closed: {}", String::from_utf8_lossy(&body));
    assert_eq!(public_count(&portal, &id).await, 1);
    let (status, _, _) = call(&portal.router, get(&format!("/api/petitions/{id}/extract.csv"), &petr)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "only the creator gets the extract");

    let (status, headers, csv) = call(&portal.router, get(&format!("/api/petitions/{id}/extract.csv"), &jana)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "text/csv; charset=utf-8");
    let csv = String::from_utf8(csv).expect("utf-8");
    assert!(csv.starts_with('\u{feff}'));
    let rows: Vec<&str> = csv.split("\r\n").collect();
    let header_at = rows.iter().position(|r| *r == "Pořadí;Jméno;Příjmení;Bydliště").expect("the signers' header");
    let signers: Vec<&str> = rows[header_at + 1..].iter().copied().filter(|r| !r.is_empty()).collect();
    assert_eq!(signers, ["1;Petr;Svoboda;Dlouhá 7, Dolní Lhota"], "exactly the remaining signer");
    assert!(rows.contains(&"Počet podpisů;1;;"), "{csv}");
    assert!(rows.iter().any(|r| r.starts_with("Petiční výbor;Jana Nováková, Fiktivní 12")), "{csv}");

    let (status, headers, pdf) = call(&portal.router, get(&format!("/api/petitions/{id}/extract.pdf"), &jana)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/pdf");
    assert!(pdf.starts_with(b"%PDF-"));
    if let Some(text) = pdf_text(&pdf) {
        assert!(text.contains("Za bezpečný přechod"), "{text}");
        assert!(text.contains("1. Petr Svoboda, Dlouhá 7, Dolní Lhota"), "{text}");
        assert!(!text.contains("Jana Nováková, Fiktivní 12, Horní Lhota\n1."), "{text}");
        assert!(!text.contains("2. "), "one signer only: {text}");
        assert!(text.contains("Městský úřad Horní Lhota"), "{text}");
    }
    let creator_log = portal.access_entries(JANA).await;
    assert!(creator_log.iter().any(|e| e.resource_type == "petition-extract"));
    let (_, _, mine) = call(&portal.router, get("/api/me/petitions", &jana)).await;
    assert_eq!(json_of(&mine)["items"][0]["state"], "closed");
    let notifications = portal.drain("send-notification").await;
    assert!(notifications.iter().any(|e| e["type"] == "petitions.closed" && e["subject"] == JANA));
}

/// 100 concurrent signatures of one citizen on the service over the
/// harness's documents: exactly one stands, the count says 1.
async fn one_of_a_hundred(harness: Harness) {
    let petitions = petitions_on(&harness, settings());
    let service = Arc::new(PetitionService::new(petitions));
    let id = seed_published(&service, JANA).await;
    let subject = SubjectId::parse(PETR).expect("subject");
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let (service, id, subject) = (service.clone(), id.clone(), subject.clone());
            tokio::spawn(async move { service.sign(&id, &subject).await })
        })
        .collect();
    let mut signed = 0;
    let mut already = 0;
    for task in tasks {
        match task.await.expect("task").expect("no store failure") {
            Ok(count) => {
                signed += 1;
                assert!(count >= 1);
            }
            Err(SignRefusal::AlreadySigned) => already += 1,
            Err(other) => panic!("unexpected refusal {other:?}"),
        }
    }
    assert_eq!((signed, already), (1, 99));
    assert_eq!(service.count(&id, 16).await.expect("count"), 1);
    let signatures = harness
        .documents
        .query(COLLECTION, &id.partition(), Query::default().filter("type", FilterOp::Eq, "signature"))
        .await
        .expect("query");
    assert_eq!(signatures.items.len(), 1, "one signature document");
}

/// 200 different citizens sign at once: every signature stands, the last
/// count any signer is told is the exact total, and the catalogue's snapshot
/// (refreshed by coalesced refreshes, not one per signature) settles on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_signers_leave_an_exact_count_and_snapshot() {
    let harness = Harness::new();
    let petitions = petitions_on(&harness, settings());
    let service = Arc::new(PetitionService::new(petitions));
    let id = seed_published(&service, JANA).await;
    let tasks = spawn_signers(&service, &id, 0..200);
    let mut told = Vec::new();
    for task in tasks {
        told.push(task.await.expect("task").expect("no store failure").expect("signed"));
    }
    assert_eq!(service.count(&id, 16).await.expect("count"), 200, "every signature counts");
    assert_eq!(told.iter().max(), Some(&200), "the last signer is told the exact total");
    assert!(told.iter().all(|&count| (1..=200).contains(&count)), "every count is within the total: {told:?}");
    let entry = harness
        .documents
        .get(COLLECTION, portal_petitions::catalogue::PARTITION, id.as_str())
        .await
        .expect("read")
        .expect("the catalogue entry");
    assert_eq!(entry.body["signatures"], 200, "the snapshot settles on the exact count");
}

/// A storm of signers from three instances on a petition of two counter
/// shards. An instance's own signers lease distinct shards, so the races are
/// between instances: each lost race costs a signer a retry, and with
/// immediate retries the same crowd met again at the same shards until some
/// ran out of attempts (`Contended`). Every signature stands and the count is
/// exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_storm_of_signers_from_three_instances_on_two_counter_shards_all_sign() {
    let harness = Harness::new();
    let instances: Vec<_> =
        (0..3).map(|_| Arc::new(PetitionService::new(petitions_on(&harness, settings())))).collect();
    let id = seed_published_with(&instances[0], JANA, 2).await;
    let tasks: Vec<_> = instances
        .iter()
        .enumerate()
        .flat_map(|(n, service)| spawn_signers(service, &id, (0..300).filter(move |i| i % 3 == n)))
        .collect();
    for task in tasks {
        task.await.expect("task").expect("not contended").expect("signed");
    }
    assert_eq!(instances[1].count(&id, 2).await.expect("count"), 300, "every signature counts");
}

/// A published petition written directly through the service.
async fn seed_published(service: &PetitionService, creator: &str) -> PetitionId {
    seed_published_with(service, creator, 16).await
}

/// A published petition of `shards` counter shards.
/// One signing task for each `citizen-NNNN` of `signers`, all started at once.
fn spawn_signers(
    service: &Arc<PetitionService>,
    id: &PetitionId,
    signers: impl IntoIterator<Item = usize>,
) -> Vec<tokio::task::JoinHandle<Result<Result<u64, SignRefusal>, portal_petitions::ServiceError>>> {
    signers
        .into_iter()
        .map(|i| {
            let (service, id) = (service.clone(), id.clone());
            let subject = SubjectId::parse(format!("citizen-{i:04}")).expect("subject");
            tokio::spawn(async move { service.sign(&id, &subject).await })
        })
        .collect()
}

async fn seed_published_with(service: &PetitionService, creator: &str, shards: u32) -> PetitionId {
    let id = PetitionId::new();
    let now = service.petitions.clock.now();
    let draft = Draft {
        title: "Seeded".into(),
        summary: "s".into(),
        text: "t".into(),
        addressee: portal_petitions::model::Addressee { name: "Úřad".into(), box_id: "simmuhl".into() },
        committee: Vec::new(),
        ends_on: service.today() + time::Duration::days(30),
    };
    let petition = Petition::new_draft(&id, creator, draft, None, now);
    let doc = NewDocument::new(id.partition(), PETITION_DOC, serde_json::to_value(&petition).expect("json"));
    service.petitions.documents.create(COLLECTION, doc).await.expect("create");
    service
        .update(&id, |p| {
            p.state = State::Published;
            p.published_at = Some(now);
            p.shards = shards;
            Ok::<(), ()>(())
        })
        .await
        .expect("publish")
        .expect("allowed")
        .expect("exists");
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_concurrent_signatures_of_one_citizen_leave_one_on_the_embedded_store() {
    one_of_a_hundred(Harness::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_concurrent_signatures_of_one_citizen_leave_one_on_the_cosmos_emulator() {
    let harness = Harness::at(time::OffsetDateTime::now_utc());
    let Some(store) = cosmos_emulator(harness.clock.clone(), &[COLLECTION, "keys", "access-log"]).await else {
        return;
    };
    one_of_a_hundred(harness.with_documents(Arc::new(store))).await;
}

#[tokio::test]
async fn a_login_below_substantial_cannot_sign_and_missing_details_are_named() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    let id = published(&portal, &jana).await;
    let low = portal.login_with(PETR, Loa::Low).await;
    let (status, _, body) =
        call(&portal.router, write(Method::POST, &format!("/api/petitions/{id}/signatures"), &low, None)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{}", String::from_utf8_lossy(&body));
    assert_eq!(json_of(&body)["type"], "/problems/level-of-assurance");
    let high = portal.login_with(PETR, Loa::High).await;
    let (status, _, _) =
        call(&portal.router, write(Method::POST, &format!("/api/petitions/{id}/signatures"), &high, None)).await;
    assert_eq!(status, StatusCode::CREATED, "high is above substantial");

    let nobody = portal.login(NOBODY).await;
    let (status, _, body) =
        call(&portal.router, write(Method::POST, &format!("/api/petitions/{id}/signatures"), &nobody, None)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        json_of(&body)["detail"].as_str().is_some_and(|d| d.starts_with("your name and residence are not known")),
        "{}",
        String::from_utf8_lossy(&body)
    );
    assert_eq!(public_count(&portal, &id).await, 1);
}

#[tokio::test]
async fn each_limit_violation_names_its_field() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    let cases: Vec<(&str, Value, &str)> = vec![
        ("title", Value::from("ž".repeat(201)), "title"),
        ("summary", Value::from("a".repeat(291)), "summary"),
        ("text", Value::from("ř".repeat(3_501)), "text"),
        ("addressee", json!({"name": "Úřad", "boxId": "SIM-1"}), "addressee.boxId"),
        ("addressee", json!({"boxId": "simmuhl"}), "addressee.name"),
        ("committee", Value::from(vec![json!({"name": "A", "residence": "B"}); 11]), "committee"),
        ("committee", json!([{"name": "A"}]), "committee[0].residence"),
        ("endsOn", Value::from("2026-11-23"), "endsOn"),
        ("endsOn", Value::from("2028-01-01"), "endsOn"),
        ("endsOn", Value::from("31. 12. 2026"), "endsOn"),
    ];
    for (key, value, field) in cases {
        let mut body = draft();
        body[key] = value;
        let (status, headers, response) =
            call(&portal.router, write(Method::POST, "/api/petitions", &jana, Some(body))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}");
        assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
        assert_eq!(problem_fields(&response), [field], "{}", String::from_utf8_lossy(&response));
    }
    let mut exact = draft();
    exact["title"] = Value::from("ž".repeat(200));
    exact["text"] = Value::from("ř".repeat(3_500));
    let (status, _, _) = call(&portal.router, write(Method::POST, "/api/petitions", &jana, Some(exact))).await;
    assert_eq!(status, StatusCode::CREATED, "the limits count characters, not bytes");
}

#[tokio::test]
async fn officials_block_and_unblock_and_everyone_else_is_refused() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    let petr = portal.login(PETR).await;
    let official = portal.login(OFFICIAL).await;
    let id = published(&portal, &jana).await;
    let (status, _, _) =
        call(&portal.router, write(Method::POST, &format!("/api/petitions/{id}/signatures"), &petr, None)).await;
    assert_eq!(status, StatusCode::CREATED);

    let reason = json!({"reason": "Výzva k porušování zákona (§ 1 odst. 4)."});
    for request in [
        get("/api/officials/petitions", &petr),
        get("/api/officials/petitions/stats", &petr),
        write(Method::POST, &format!("/api/officials/petitions/{id}/block"), &petr, Some(reason.clone())),
        write(Method::POST, &format!("/api/officials/petitions/{id}/unblock"), &jana, None),
    ] {
        let (status, headers, body) = call(&portal.router, request).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{}", String::from_utf8_lossy(&body));
        assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
    }
    let (status, _, _) = call(&portal.router, anonymous("/api/officials/petitions")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, _, body) = call(
        &portal.router,
        write(
            Method::POST,
            &format!("/api/officials/petitions/{id}/block"),
            &official,
            Some(json!({"reason": "krátce"})),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem_fields(&body), ["reason"]);
    let (status, _, body) = call(
        &portal.router,
        write(Method::POST, &format!("/api/officials/petitions/{id}/block"), &official, Some(reason)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    assert_eq!(json_of(&body)["state"], "blocked");

    // Signing stops at once; the petition leaves the public list.
    let eva = portal.login(EVA).await;
    let (status, _, body) =
        call(&portal.router, write(Method::POST, &format!("/api/petitions/{id}/signatures"), &eva, None)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(json_of(&body)["type"], "/problems/petition-blocked");
    let (status, _, _) =
        call(&portal.router, write(Method::DELETE, &format!("/api/petitions/{id}/signatures/mine"), &petr, None)).await;
    assert_eq!(status, StatusCode::CONFLICT, "no withdrawal while blocked either");
    let (status, _, _) = call(&portal.router, anonymous(&format!("/api/petitions/{id}"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, _, mine) = call(&portal.router, get(&format!("/api/me/petitions/{id}"), &jana)).await;
    assert_eq!(json_of(&mine)["blockReason"], "Výzva k porušování zákona (§ 1 odst. 4).", "the creator sees why");
    let (status, _, list) = call(&portal.router, get("/api/officials/petitions?state=blocked", &official)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json_of(&list)["items"][0]["id"], id.as_str());
    assert_eq!(json_of(&list)["items"][0]["signatures"], 1);

    // The creator is told, and their access log names the official.
    let notifications = portal.drain("send-notification").await;
    let blocked: Vec<_> = notifications.iter().filter(|e| e["type"] == "petitions.blocked").collect();
    assert_eq!(blocked.len(), 1);
    assert_eq!(blocked[0]["subject"], JANA);
    assert_eq!(blocked[0]["data"]["reason"], "Výzva k porušování zákona (§ 1 odst. 4).");

    let (status, _, body) =
        call(&portal.router, write(Method::POST, &format!("/api/officials/petitions/{id}/unblock"), &official, None))
            .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json_of(&body)["state"], "published");
    let (status, _, _) =
        call(&portal.router, write(Method::POST, &format!("/api/petitions/{id}/signatures"), &eva, None)).await;
    assert_eq!(status, StatusCode::CREATED, "signing resumes");
    let log = portal.access_entries(JANA).await;
    let by_official: Vec<_> = log.iter().filter(|e| matches!(e.actor, Actor::Official { .. })).collect();
    assert_eq!(by_official.len(), 2, "block and unblock: {log:?}");
    let Actor::Official { id: reference } = &by_official[0].actor else { unreachable!("filtered") };
    assert!(reference.starts_with("MV-") && reference.len() == 19, "a pseudonymous reference: {reference}");
    assert!(by_official.iter().all(|e| e.actor == by_official[0].actor), "one official, one reference");
    let text = format!("{log:?}");
    assert!(!text.contains(OFFICIAL) && !text.contains("mv-official"), "never the official's subject id: {text}");

    let (status, _, stats) = call(&portal.router, get("/api/officials/petitions/stats", &official)).await;
    assert_eq!(status, StatusCode::OK);
    let stats = json_of(&stats);
    assert_eq!(stats["byState"]["published"], 1);
    assert_eq!(stats["signatures"], 2);
    assert_eq!(stats["perDay"].as_array().map(Vec::len), Some(30));
    assert_eq!(stats["perDay"][29], json!({"date": "2026-11-23", "signatures": 2}));
    let (status, headers, csv) =
        call(&portal.router, get("/api/officials/petitions/stats?format=csv", &official)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "text/csv; charset=utf-8");
    let csv = String::from_utf8(csv).expect("utf-8");
    assert!(csv.contains("signatures;all;2\r\n") && csv.contains("day;2026-11-23;2\r\n"), "{csv}");

    // The official's reads are in the official's own access log, under the same reference.
    let reads = portal.access_entries(OFFICIAL).await;
    let kinds: Vec<_> = reads
        .iter()
        .filter(|e| e.action == portal_security::Action::Read && e.actor == by_official[0].actor)
        .map(|e| e.resource_type.as_str())
        .collect();
    assert_eq!(kinds, ["petitions-list", "petition-statistics", "petition-statistics"], "{reads:?}");
}

#[tokio::test]
async fn a_burst_is_flagged_and_the_senate_threshold_is_marked_exactly() {
    let portal = portal_with(PetitionsSettings {
        burst_per_minute: 3,
        senate_box_id: Some("simmuhl".into()),
        senate_threshold: 4,
        ..settings()
    });
    let jana = portal.login(JANA).await;
    let official = portal.login(OFFICIAL).await;
    let id = published(&portal, &jana).await;
    let (_, _, body) = call(&portal.router, anonymous(&format!("/api/petitions/{id}"))).await;
    assert_eq!(json_of(&body)["addressedToSenate"], true);
    for i in 0..5 {
        let citizen = portal.login(&format!("citizen-{i}")).await;
        let (status, _, _) =
            call(&portal.router, write(Method::POST, &format!("/api/petitions/{id}/signatures"), &citizen, None)).await;
        assert_eq!(status, StatusCode::CREATED);
        let (_, _, body) = call(&portal.router, anonymous(&format!("/api/petitions/{id}"))).await;
        assert_eq!(json_of(&body)["senateThresholdReached"], i == 4, "more than 4 after signature {}", i + 1);
    }
    let (_, _, flagged) = call(&portal.router, get("/api/officials/petitions?flagged=true", &official)).await;
    assert_eq!(json_of(&flagged)["items"][0]["id"], id.as_str(), "{}", String::from_utf8_lossy(&flagged));
    assert_eq!(json_of(&flagged)["items"][0]["flagged"], true);
    let notifications = portal.drain("send-notification").await;
    assert_eq!(notifications.iter().filter(|e| e["type"] == "petitions.senate-threshold-reached").count(), 1);
}

#[tokio::test]
async fn creating_and_signing_are_rate_limited() {
    let portal = portal_with(PetitionsSettings { sign_burst: 2, sign_refill_per_minute: 1, ..settings() });
    let jana = portal.login(JANA).await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(published(&portal, &jana).await);
    }
    let (status, headers, _) = call(&portal.router, write(Method::POST, "/api/petitions", &jana, Some(draft()))).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "five a day");
    let retry: u64 = headers[header::RETRY_AFTER].to_str().expect("ascii").parse().expect("seconds");
    assert_eq!(retry, 15 * 3600, "until midnight in Prague (08:00 UTC is 09:00 there)");

    let petr = portal.login(PETR).await;
    for id in &ids[..2] {
        let (status, _, _) =
            call(&portal.router, write(Method::POST, &format!("/api/petitions/{id}/signatures"), &petr, None)).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let (status, headers, _) =
        call(&portal.router, write(Method::POST, &format!("/api/petitions/{}/signatures", ids[2]), &petr, None)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers[header::RETRY_AFTER], "60");
    portal.clock.advance(Duration::from_secs(60));
    let petr = portal.login(PETR).await;
    let (status, _, _) =
        call(&portal.router, write(Method::POST, &format!("/api/petitions/{}/signatures", ids[2]), &petr, None)).await;
    assert_eq!(status, StatusCode::CREATED, "a token a minute");
}

#[tokio::test]
async fn the_timer_closes_petitions_past_their_end_date_once() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    let id = published(&portal, &jana).await;
    let service = PetitionService::new(portal.petitions.clone());
    let report = closing::run(&service).await.expect("run");
    assert_eq!((report.due, report.closed), (0, 0), "not before its end date");

    // endsOn 2026-12-31 is the last day to sign (Prague): 22:59 UTC is still that day.
    portal.clock.set(datetime!(2026-12-31 22:59 UTC));
    let petr = portal.login(PETR).await;
    let (status, _, _) =
        call(&portal.router, write(Method::POST, &format!("/api/petitions/{id}/signatures"), &petr, None)).await;
    assert_eq!(status, StatusCode::CREATED, "the end date is the last day");
    assert_eq!(closing::run(&service).await.expect("run").closed, 0);

    portal.clock.set(datetime!(2027-01-01 00:05 UTC));
    let eva = portal.login(EVA).await;
    let (status, _, _) =
        call(&portal.router, write(Method::POST, &format!("/api/petitions/{id}/signatures"), &eva, None)).await;
    assert_eq!(status, StatusCode::CONFLICT, "past its end date, even before the timer");
    for _ in 0..3 {
        closing::run(&service).await.expect("run");
    }
    let (_, _, body) = call(&portal.router, anonymous(&format!("/api/petitions/{id}"))).await;
    assert_eq!(json_of(&body)["state"], "closed");
    assert_eq!(json_of(&body)["signatures"], 1);
    let notifications = portal.drain("send-notification").await;
    let closed: Vec<_> = notifications.iter().filter(|e| e["type"] == "petitions.closed").collect();
    assert!(!closed.is_empty());
    assert!(closed.iter().all(|e| e["id"] == closed[0]["id"]), "one fact, one id");
    assert_eq!(closed[0]["data"]["closedBy"], "end-date");
}

/// The data box's answer to a hand-over request, delivered to
/// `RecordPetitionHandOver` the way the Functions host delivers it.
async fn outcome(portal: &Portal, request_id: &str, sent: bool, delivered_at: time::OffsetDateTime) {
    let data = portal_events::DataMessageOutcome {
        request_id: request_id.into(),
        source: "petitions".into(),
        recipient_box_id: "simmuhl".into(),
        sent,
        message_id: sent.then(|| "1000000042".to_owned()),
        delivered_at: sent.then_some(delivered_at),
        reason: (!sent).then(|| "ISDS refused the message: the box cannot receive (ISDS code 1214)".to_owned()),
    };
    let event = portal_events::Event::new(
        portal_events::kinds::DATA_MESSAGE_OUTCOME,
        request_id,
        JANA,
        delivered_at,
        serde_json::to_value(&data).expect("json"),
    );
    let text = serde_json::to_string(&event).expect("json");
    let (status, _, body) =
        call(&portal.router, portal_testkit::queue_delivery("RecordPetitionHandOver", &text, delivered_at)).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
}

/// A closed petition of Jana's with Petr's signature; its id.
async fn closed_with_a_signature(portal: &Portal) -> String {
    let jana = portal.login(JANA).await;
    let petr = portal.login(PETR).await;
    let id = published(portal, &jana).await;
    let (status, _, _) =
        call(&portal.router, write(Method::POST, &format!("/api/petitions/{id}/signatures"), &petr, None)).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _, _) =
        call(&portal.router, write(Method::POST, &format!("/api/petitions/{id}/hand-over"), &jana, None)).await;
    assert_eq!(status, StatusCode::CONFLICT, "only a closed petition");
    call(&portal.router, write(Method::POST, &format!("/api/petitions/{id}/close"), &jana, None)).await;
    id
}

#[tokio::test]
async fn a_hand_over_is_recorded_only_once_isds_accepted_it_with_the_deadline_from_delivery() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    let petr = portal.login(PETR).await;
    let id = closed_with_a_signature(&portal).await;
    portal.drain("send-notification").await;
    let (status, _, _) =
        call(&portal.router, write(Method::POST, &format!("/api/petitions/{id}/hand-over"), &petr, None)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "only the creator");
    for _ in 0..3 {
        let (status, _, body) =
            call(&portal.router, write(Method::POST, &format!("/api/petitions/{id}/hand-over"), &jana, None)).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{}", String::from_utf8_lossy(&body));
        let body = json_of(&body);
        assert_eq!(body["state"], "closed", "not handed over before ISDS accepted it: {body}");
        assert_eq!(body["handOver"]["status"], "pending");
        assert_eq!(body["requestId"], format!("petition-{id}").as_str());
    }
    let messages = portal.drain(portal_events::DATA_MESSAGES_QUEUE).await;
    assert_eq!(messages.len(), 3, "the same request while pending: {messages:?}");
    assert!(messages.iter().all(|m| m["id"] == messages[0]["id"]), "one request id: the data box sends once");
    let event: portal_events::Event = serde_json::from_value(messages[0].clone()).expect("event");
    assert_eq!(event.subject, JANA);
    assert_eq!(event.kind, portal_events::kinds::SEND_DATA_MESSAGE);
    let message: portal_events::OutgoingDataMessage = event.data_as().expect("contract");
    assert_eq!(message.request_id, format!("petition-{id}"));
    assert_eq!(message.recipient_box_id, "simmuhl");
    assert_eq!(message.reply_to.as_deref(), Some("petition-hand-overs"));
    assert!(message.subject.starts_with("Petice: Za bezpečný přechod"));
    let attachment = &message.attachments[0];
    let sealed = match &attachment.content {
        portal_events::SealedContent::Inline { sealed } => {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.decode(sealed).expect("base64")
        }
        portal_events::SealedContent::Blob { path } => portal.blob(path).await.1,
    };
    let pdf = portal
        .petitions
        .sealer
        .decrypt(JANA, &attachment.sealed_document, &attachment.sealed_field, &sealed)
        .await
        .expect("sealed with the creator's key");
    assert!(pdf.starts_with(b"%PDF-"));
    if let Some(text) = pdf_text(&pdf) {
        assert!(text.contains("1. Petr Svoboda"), "{text}");
    }
    let notices = portal.drain("send-notification").await;
    assert!(notices.iter().all(|e| e["type"] != "petitions.handed-over"), "nothing told before ISDS: {notices:?}");
    assert!(portal.drain(portal_events::FILINGS_QUEUE).await.is_empty(), "no filing before ISDS accepted it");

    // ISDS accepted it on 30 November, 23:30 UTC: 1 December in Prague. Received by 11 December at the
    // latest (deemed delivery), the answer is due 30 days later. Delivered twice: recorded once.
    let delivered = datetime!(2026-11-30 23:30 UTC);
    outcome(&portal, &format!("petition-{id}"), true, delivered).await;
    outcome(&portal, &format!("petition-{id}"), true, delivered).await;
    let (_, _, body) = call(&portal.router, get(&format!("/api/me/petitions/{id}"), &jana)).await;
    let mine = json_of(&body);
    assert_eq!(mine["state"], "handed-over", "{mine}");
    assert_eq!(mine["handedOverAt"], "2026-11-30T23:30:00Z");
    assert_eq!(mine["handOver"]["status"], "delivered");
    assert_eq!(mine["handOver"]["answerDue"], "2027-01-10");
    let notices = portal.drain("send-notification").await;
    let handed: Vec<_> = notices.iter().filter(|e| e["type"] == "petitions.handed-over").collect();
    assert!(!handed.is_empty() && handed.iter().all(|e| e["id"] == handed[0]["id"]), "one fact: {notices:?}");
    assert_eq!(handed[0]["data"]["answerDue"], "2027-01-10");

    // The answer deadline travels with the filing record (the filings capability dates it in the calendar),
    // so the petition itself puts no second deadline there.
    let calendar = portal.drain(portal_events::CALENDAR_QUEUE).await;
    assert!(calendar.iter().all(|e| e["data"]["kind"] != "filing-deadline"), "{calendar:?}");
    let filings = portal.drain(portal_events::FILINGS_QUEUE).await;
    assert!(!filings.is_empty() && filings.iter().all(|e| e["id"] == filings[0]["id"]), "one filing fact");
    let filing: portal_events::FilingRecord =
        serde_json::from_value(filings[0]["data"].clone()).expect("the filing contract");
    assert_eq!((filing.kind.as_str(), filing.status.as_str()), ("petition-hand-over", "submitted"));
    assert_eq!(filing.agency.box_id.as_deref(), Some("simmuhl"));
    assert_eq!(filing.legal_deadline, Some(time::macros::date!(2027 - 01 - 10)));
    let (_, _, body) = call(&portal.router, anonymous(&format!("/api/petitions/{id}"))).await;
    assert_eq!(json_of(&body)["state"], "handed-over");
    let (status, _, body) =
        call(&portal.router, write(Method::POST, &format!("/api/petitions/{id}/hand-over"), &jana, None)).await;
    assert_eq!((status, json_of(&body)["state"].as_str()), (StatusCode::ACCEPTED, Some("handed-over")));
    assert!(portal.drain(portal_events::DATA_MESSAGES_QUEUE).await.is_empty(), "never sent again");
    let (status, _, _) = call(&portal.router, get(&format!("/api/petitions/{id}/extract.csv"), &jana)).await;
    assert_eq!(status, StatusCode::OK, "the extract stays available");
}

#[tokio::test]
async fn a_refused_hand_over_leaves_the_petition_closed_with_the_reason_and_a_retry() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    let id = closed_with_a_signature(&portal).await;
    let hand_over = || write(Method::POST, &format!("/api/petitions/{id}/hand-over"), &jana, None);
    let (status, _, _) = call(&portal.router, hand_over()).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    portal.drain(portal_events::DATA_MESSAGES_QUEUE).await;
    portal.drain("send-notification").await;

    outcome(&portal, &format!("petition-{id}"), false, portal_store::Clock::now(portal.clock.as_ref())).await;
    outcome(&portal, &format!("petition-{id}"), false, portal_store::Clock::now(portal.clock.as_ref())).await;
    let (_, _, body) = call(&portal.router, get(&format!("/api/me/petitions/{id}"), &jana)).await;
    let mine = json_of(&body);
    assert_eq!(mine["state"], "closed", "closed, not handed over: {mine}");
    assert_eq!(mine["handedOverAt"], Value::Null);
    assert_eq!(mine["handOver"]["status"], "failed");
    assert_eq!(mine["handOver"]["canRetry"], true);
    assert!(mine["handOver"]["reason"].as_str().is_some_and(|r| r.contains("1214")), "{mine}");
    let notices = portal.drain("send-notification").await;
    assert!(notices.is_empty(), "the data box's own notice is the one 'not sent': {notices:?}");
    assert!(portal.drain(portal_events::FILINGS_QUEUE).await.is_empty(), "no filing");

    // The retry is a new data message; a late answer to the first attempt changes nothing.
    let (status, _, body) = call(&portal.router, hand_over()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{}", String::from_utf8_lossy(&body));
    assert_eq!(json_of(&body)["requestId"], format!("petition-{id}-2").as_str());
    assert_eq!(json_of(&body)["handOver"]["status"], "pending");
    let messages = portal.drain(portal_events::DATA_MESSAGES_QUEUE).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["data"]["requestId"], format!("petition-{id}-2").as_str());
    outcome(&portal, &format!("petition-{id}"), true, portal_store::Clock::now(portal.clock.as_ref())).await;
    let (_, _, body) = call(&portal.router, get(&format!("/api/me/petitions/{id}"), &jana)).await;
    assert_eq!(json_of(&body)["state"], "closed", "an answer to the old attempt is not this one's");
    outcome(&portal, &format!("petition-{id}-2"), true, portal_store::Clock::now(portal.clock.as_ref())).await;
    let (_, _, body) = call(&portal.router, get(&format!("/api/me/petitions/{id}"), &jana)).await;
    assert_eq!(json_of(&body)["state"], "handed-over");
    assert_eq!(json_of(&body)["handOver"]["attempt"], 2);
}

#[tokio::test]
async fn the_addressee_must_be_an_existing_box_of_a_public_authority() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    for (box_id, rule) in
        [("zz9zz9z", "ISDS knows no box"), ("sim4jir", "a person or a company"), ("simenhl", "a person or a company")]
    {
        let mut body = draft();
        body["addressee"]["boxId"] = Value::from(box_id);
        let (status, _, answer) = call(&portal.router, write(Method::POST, "/api/petitions", &jana, Some(body))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{box_id}: {}", String::from_utf8_lossy(&answer));
        assert_eq!(problem_fields(&answer), ["addressee.boxId"]);
        assert!(json_of(&answer)["errors"][0]["rule"].as_str().is_some_and(|r| r.contains(rule)), "{box_id}");
    }
    // Saved as a draft to an OVM; an edit to a private box is refused the same way.
    let (status, _, body) = call(&portal.router, write(Method::POST, "/api/petitions", &jana, Some(draft()))).await;
    assert_eq!(status, StatusCode::CREATED);
    let id = json_of(&body)["id"].as_str().expect("id").to_owned();
    let mut edit = draft();
    edit["addressee"]["boxId"] = Value::from("sim4jan");
    let (status, _, answer) =
        call(&portal.router, write(Method::PUT, &format!("/api/petitions/{id}"), &jana, Some(edit))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem_fields(&answer), ["addressee.boxId"]);
}

#[tokio::test]
async fn an_addressee_box_closed_since_the_draft_refuses_the_hand_over() {
    let harness = Harness::new();
    let closed = portal_petitions::directory::SimulatedDirectory::default()
        .with("simmuhl", portal_petitions::directory::BoxLookup::Inaccessible);
    let petitions = Petitions { directory: Arc::new(closed), ..petitions_on(&harness, settings()) };
    let service = PetitionService::new(petitions.clone());
    let open = PetitionService::new(petitions_on(&harness, settings()));
    let id = seed_published(&open, JANA).await;
    let jana = SubjectId::parse(JANA).expect("id");
    open.close(&id, closing::ClosedBy::Creator, Some(&jana)).await.expect("store").expect("closed");
    let refused = service.hand_over(&id, &jana).await.expect("store");
    assert_eq!(
        refused.expect_err("refused"),
        portal_petitions::handover::HandOverRefusal::Addressee(portal_petitions::directory::BoxLookup::Inaccessible)
    );
    assert!(harness.drain(portal_events::DATA_MESSAGES_QUEUE).await.is_empty(), "nothing sent");
}

#[test]
fn signer_ids_are_keyed_and_unlinkable_across_petitions() {
    let key = portal_petitions::SignerKey::new(&[7; 32]).expect("key");
    let other_key = portal_petitions::SignerKey::new(&[8; 32]).expect("key");
    assert!(portal_petitions::SignerKey::new(&[7; 31]).is_err(), "at least 32 bytes");
    let (a, b) = (PetitionId::new(), PetitionId::new());
    let jana = SubjectId::parse(JANA).expect("id");
    let id = key.signer_id(&a, &jana);
    assert_eq!(id.len(), 43);
    assert_eq!(id, key.signer_id(&a, &jana), "stable");
    assert_ne!(id, key.signer_id(&b, &jana), "another petition, another id");
    assert_ne!(id, other_key.signer_id(&a, &jana), "another key, another id");
    assert!(!format!("{key:?}").contains('7'), "the key is never printed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_extract_travels_to_the_data_box_as_a_sealed_blob() {
    let portal = portal();
    let service = Arc::new(PetitionService::new(portal.petitions.clone()));
    let id = seed_published(&service, JANA).await;
    const SIGNERS: usize = 800;
    for chunk in (0..SIGNERS).collect::<Vec<_>>().chunks(8) {
        for task in spawn_signers(&service, &id, chunk.iter().copied()) {
            task.await.expect("task").expect("store").expect("signed");
        }
    }
    let jana = SubjectId::parse(JANA).expect("id");
    service.close(&id, closing::ClosedBy::Creator, Some(&jana)).await.expect("store").expect("closed");
    service.hand_over(&id, &jana).await.expect("store").expect("queued for the data box");
    let messages = portal.drain(portal_events::DATA_MESSAGES_QUEUE).await;
    assert_eq!(messages.len(), 1);
    let event: portal_events::Event = serde_json::from_value(messages[0].clone()).expect("event");
    let message: portal_events::OutgoingDataMessage = event.data_as().expect("contract");
    let attachment = &message.attachments[0];
    let portal_events::SealedContent::Blob { path } = &attachment.content else {
        panic!("{SIGNERS} signers do not fit a queue message inline")
    };
    let (_, sealed) = portal.blob(path).await;
    let pdf = portal
        .petitions
        .sealer
        .decrypt(JANA, &attachment.sealed_document, &attachment.sealed_field, &sealed)
        .await
        .expect("sealed with the creator's key");
    assert!(pdf.len() > portal_events::INLINE_CONTENT_LIMIT);
    if let Some(text) = pdf_text(&pdf) {
        assert!(text.contains(&format!("{SIGNERS}. Občan citizen-")), "the last signer is listed");
    }
}

#[tokio::test]
async fn erasure_deletes_drafts_and_unlinks_published_petitions_and_a_replay_succeeds() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    let petr = portal.login(PETR).await;
    let public = published(&portal, &jana).await;
    let (status, _, _) =
        call(&portal.router, write(Method::POST, &format!("/api/petitions/{public}/signatures"), &petr, None)).await;
    assert_eq!(status, StatusCode::CREATED);
    let mut drafts = Vec::new();
    for who in [&jana, &petr] {
        let (status, _, body) = call(&portal.router, write(Method::POST, "/api/petitions", who, Some(draft()))).await;
        assert_eq!(status, StatusCode::CREATED);
        let id = json_of(&body)["id"].as_str().expect("id").to_owned();
        let path = portal_store::BlobPath::parse(format!("petitions/{id}/attachment-1")).expect("path");
        let put = BlobStore::put(
            portal.store.as_ref(),
            &path,
            "sealed".into(),
            "application/pdf",
            Default::default(),
            portal_store::PutMode::Overwrite,
        );
        put.await.expect("blob");
        drafts.push(id);
    }
    let (jana_draft, petr_draft) = (&drafts[0], &drafts[1]);

    portal.petitions.sealer.keys().shred(JANA).await.expect("the erasure shreds her key first");

    let event = portal_events::Event::new(
        "account.erased",
        &format!("{JANA}:1"),
        JANA,
        datetime!(2026-11-23 08:00 UTC),
        json!({}),
    );
    for _ in 0..2 {
        portal_petitions::queue::erase_petitions_data::erase(&portal.petitions, &event).await.expect("erased");
    }
    let partition = |id: &str| format!("petition-{id}");
    let blobs = |id: &str| format!("petitions/{id}/");
    let left = portal.store.query(COLLECTION, JANA, Query::default()).await.expect("query");
    assert!(left.items.is_empty(), "nothing of hers is left: {:?}", left.items);
    let left = portal.store.query(COLLECTION, &partition(jana_draft), Query::default()).await.expect("query");
    assert!(left.items.is_empty(), "her draft is gone");
    assert!(BlobStore::list(portal.store.as_ref(), &blobs(jana_draft)).await.expect("list").is_empty());

    assert_eq!(public_count(&portal, &public).await, 1, "the published petition and its signature stay");
    let doc = DocumentStore::get(portal.store.as_ref(), COLLECTION, &partition(&public), PETITION_DOC).await;
    let doc = doc.expect("get").expect("petition");
    assert_eq!(doc.body["creator"], portal_petitions::queue::erase_petitions_data::ERASED_CREATOR);
    assert!(!doc.body.to_string().contains("jana-novakova"), "nothing links it back to her");
    let (status, _, _) =
        call(&portal.router, write(Method::POST, &format!("/api/petitions/{public}/close"), &jana, None)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nobody acts as its creator any more");

    let (status, _, _) = call(&portal.router, get(&format!("/api/me/petitions/{petr_draft}"), &petr)).await;
    assert_eq!(status, StatusCode::OK, "Petr's draft is untouched");
    assert_eq!(BlobStore::list(portal.store.as_ref(), &blobs(petr_draft)).await.expect("list").len(), 1);
}

#[tokio::test]
async fn the_extract_pdf_reads_back_exactly_whatever_the_script() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    let petr = portal.login(PETR).await;
    let mut body = draft();
    body["title"] = Value::from("Łódź, Straße, Nguyễn, Ελλάδα");
    let (status, _, answer) = call(&portal.router, write(Method::POST, "/api/petitions", &jana, Some(body))).await;
    assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&answer));
    let id = json_of(&answer)["id"].as_str().expect("id").to_owned();
    for path in [format!("/api/petitions/{id}/publish"), format!("/api/petitions/{id}/signatures")] {
        let who = if path.ends_with("publish") { &jana } else { &petr };
        let (status, _, _) = call(&portal.router, write(Method::POST, &path, who, None)).await;
        assert!(status.is_success(), "{path}: {status}");
    }
    call(&portal.router, write(Method::POST, &format!("/api/petitions/{id}/close"), &jana, None)).await;
    let (status, headers, pdf) = call(&portal.router, get(&format!("/api/petitions/{id}/extract.pdf"), &jana)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/pdf");
    let Some(text) = portal_testkit::pdf_text_strict(&pdf) else { return };
    assert!(text.contains("Łódź, Straße, Nguyễn, Ελλάδα"), "{text}");
    assert!(text.contains(&format!("ePetice, Portál občana · petice {id}")), "the footer's middle dot: {text}");
    assert!(text.contains("23. 11. 2026 9:00"), "the time in Prague: {text}");
    assert!(text.contains("1. Petr Svoboda, Dlouhá 7, Dolní Lhota"), "{text}");
}
