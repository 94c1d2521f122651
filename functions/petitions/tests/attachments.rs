//! Petition attachments in process: the capability's router on the embedded
//! store with a fixed clock and demo sessions. Upload, list, download and
//! delete on a draft; every broken upload rule names `file`; a draft's
//! attachment is its creator's alone; publishing freezes the attachments and
//! makes them public (also after the creator's key is shredded, and after a
//! crash between publishing and the rewrite); two racing uploads both land;
//! the hand-over carries the attachments after the extract, or is refused
//! when ISDS's limit would be broken.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use portal_petitions::model::{PETITION_DOC, PetitionId, State};
use portal_petitions::{PetitionService, Petitions, PetitionsSettings, Signer, SignerDetails, SignerDetailsError};
use portal_security::SubjectId;
use portal_store::{
    BatchOp, BatchResult, BlobPath, BlobStore, Document, DocumentStore, ETag, NewDocument, Page, Query, StoreResult,
};
use portal_testkit::{
    Harness, JANA, Login, PETR, Part, anonymous, call, get, json_of, multipart, problem_fields, text, write,
};
use serde_json::{Value, json};

#[derive(Debug)]
struct Profiles(HashMap<String, Signer>);

#[async_trait::async_trait]
impl SignerDetails for Profiles {
    async fn details(&self, subject: &SubjectId) -> Result<Option<Signer>, SignerDetailsError> {
        Ok(self.0.get(subject.as_str()).cloned())
    }
}

fn profiles() -> Arc<Profiles> {
    Arc::new(Profiles(HashMap::from([(
        PETR.to_owned(),
        Signer {
            given_name: "Petr".into(), family_name: "Svoboda".into(), residence: "Dlouhá 7, Dolní Lhota".into()
        },
    )])))
}

/// The embedded store, with a gate that holds the first `armed` writes of a
/// petition document until that many arrived: writers that read the same
/// ETag then race for real, and every later write is counted.
#[derive(Debug)]
struct RacingStore {
    inner: Arc<dyn DocumentStore>,
    armed: AtomicUsize,
    gate: tokio::sync::Barrier,
    petition_writes: AtomicUsize,
}

impl RacingStore {
    fn writes_petition(ops: &[BatchOp]) -> bool {
        ops.iter().any(|op| matches!(op, BatchOp::Replace { doc, .. } if doc.id == PETITION_DOC))
    }
}

#[async_trait::async_trait]
impl DocumentStore for RacingStore {
    async fn get(&self, collection: &str, partition: &str, id: &str) -> StoreResult<Option<Document>> {
        self.inner.get(collection, partition, id).await
    }
    async fn create(&self, collection: &str, doc: NewDocument) -> StoreResult<ETag> {
        self.inner.create(collection, doc).await
    }
    async fn replace(&self, collection: &str, doc: NewDocument, if_match: &ETag) -> StoreResult<ETag> {
        self.inner.replace(collection, doc, if_match).await
    }
    async fn upsert(&self, collection: &str, doc: NewDocument, if_match: Option<&ETag>) -> StoreResult<ETag> {
        self.inner.upsert(collection, doc, if_match).await
    }
    async fn delete(&self, collection: &str, partition: &str, id: &str, if_match: Option<&ETag>) -> StoreResult<()> {
        self.inner.delete(collection, partition, id, if_match).await
    }
    async fn query(&self, collection: &str, partition: &str, query: Query) -> StoreResult<Page> {
        self.inner.query(collection, partition, query).await
    }
    async fn batch(&self, collection: &str, partition: &str, ops: Vec<BatchOp>) -> StoreResult<BatchResult> {
        if Self::writes_petition(&ops) {
            self.petition_writes.fetch_add(1, Ordering::SeqCst);
            if self.armed.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
                self.gate.wait().await;
            }
        }
        self.inner.batch(collection, partition, ops).await
    }
    async fn purge_expired(&self) -> StoreResult<u64> {
        self.inner.purge_expired().await
    }
    async fn ping(&self) -> StoreResult<()> {
        self.inner.ping().await
    }
}

struct Portal {
    router: Router,
    petitions: Petitions,
    racing: Arc<RacingStore>,
    harness: Harness,
}

impl std::ops::Deref for Portal {
    type Target = Harness;

    fn deref(&self) -> &Harness {
        &self.harness
    }
}

fn portal_with(settings: PetitionsSettings) -> Portal {
    let harness = Harness::new();
    let racing = Arc::new(RacingStore {
        inner: harness.store.clone(),
        armed: AtomicUsize::new(0),
        gate: tokio::sync::Barrier::new(2),
        petition_writes: AtomicUsize::new(0),
    });
    let harness = harness.with_documents(racing.clone());
    let petitions = Petitions {
        documents: harness.documents.clone(),
        blobs: harness.store.clone(),
        queues: harness.store.clone(),
        sealer: harness.sealer.clone(),
        access_log: harness.access_log.clone(),
        clock: harness.clock.clone(),
        signer_details: profiles(),
        directory: std::sync::Arc::new(portal_petitions::directory::SimulatedDirectory::default()),
        settings,
    };
    let router = harness.router(portal_petitions::functions(petitions.clone()));
    Portal { router, petitions, racing, harness }
}

fn portal() -> Portal {
    portal_with(PetitionsSettings::default())
}

fn upload_parts(id: &str, login: &Login, parts: &[Part<'_>]) -> Request<Body> {
    multipart(&format!("/api/petitions/{id}/attachments"), login, parts)
}

fn upload(id: &str, login: &Login, file_name: &str, content: &[u8]) -> Request<Body> {
    upload_parts(id, login, &[Part::file("file", file_name, "application/pdf", content)])
}

fn pdf(label: &str) -> Vec<u8> {
    format!("%PDF-1.4\n% {label}\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n").into_bytes()
}

fn draft_body() -> Value {
    json!({
        "title": "Za bezpečný přechod u školy v Horní Lhotě",
        "summary": "Žádáme město o přechod pro chodce se semaforem u základní školy.",
        "text": "Vážení zastupitelé,\nžádáme vás o zřízení přechodu pro chodce.\nDěkujeme.",
        "addressee": {"name": "Městský úřad Horní Lhota (simulace)", "boxId": "simmuhl"},
        "endsOn": "2026-12-31",
    })
}

async fn draft(portal: &Portal, creator: &Login) -> String {
    let (status, _, body) =
        call(&portal.router, write(Method::POST, "/api/petitions", creator, Some(draft_body()))).await;
    assert_eq!(status, StatusCode::CREATED, "{}", text(&body));
    json_of(&body)["id"].as_str().expect("id").to_owned()
}

async fn publish(portal: &Portal, creator: &Login, id: &str) {
    let (status, _, body) =
        call(&portal.router, write(Method::POST, &format!("/api/petitions/{id}/publish"), creator, None)).await;
    assert_eq!(status, StatusCode::OK, "{}", text(&body));
}

async fn attach(portal: &Portal, creator: &Login, id: &str, file_name: &str, content: &[u8]) -> Value {
    let (status, _, body) = call(&portal.router, upload(id, creator, file_name, content)).await;
    assert_eq!(status, StatusCode::CREATED, "{}", text(&body));
    json_of(&body)
}

async fn listed(portal: &Portal, creator: &Login, id: &str) -> Value {
    let (status, _, body) = call(&portal.router, get(&format!("/api/me/petitions/{id}"), creator)).await;
    assert_eq!(status, StatusCode::OK, "{}", text(&body));
    json_of(&body)["attachments"].clone()
}

#[tokio::test]
async fn a_draft_takes_pdf_attachments_that_only_its_creator_sees() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    let petr = portal.login(PETR).await;
    let id = draft(&portal, &jana).await;

    let map = pdf("mapa");
    let (status, headers, body) =
        call(&portal.router, upload(&id, &jana, "C:\\Dokumenty\\Mapa přechodu.pdf", &map)).await;
    assert_eq!(status, StatusCode::CREATED, "{}", text(&body));
    assert_eq!(headers[header::LOCATION], format!("/api/petitions/{id}/attachments/1").as_str());
    assert_eq!(
        json_of(&body),
        json!({"index": 1, "fileName": "Mapa přechodu.pdf", "size": map.len(), "mediaType": "application/pdf"})
    );
    let photos = pdf("fotografie");
    assert_eq!(attach(&portal, &jana, &id, "fotky", &photos).await["fileName"], "fotky.pdf");
    let attachments = listed(&portal, &jana, &id).await;
    assert_eq!(attachments.as_array().map(Vec::len), Some(2), "{attachments}");
    assert_eq!(attachments[1]["index"], 2);

    // Stored sealed with the creator's key, bound to the petition and the attachment.
    let petition_id = PetitionId::parse(&id).expect("id");
    let (info, stored) = portal.blob(&format!("petitions/{id}/attachment-1")).await;
    assert!(!stored.starts_with(b"%PDF-") && !stored.windows(4).any(|w| w == b"mapa"), "not in clear");
    assert_eq!(info.metadata.get("sealed").map(String::as_str), Some("creator"));
    let opened = portal
        .petitions
        .sealer
        .decrypt(JANA, &petition_id.partition(), "attachment-1", &stored)
        .await
        .expect("sealed for Jana");
    assert_eq!(opened, map);

    // The creator downloads it; nobody else learns it exists.
    let path = format!("/api/petitions/{id}/attachments/1");
    let (status, headers, body) = call(&portal.router, get(&path, &jana)).await;
    assert_eq!(status, StatusCode::OK, "{}", text(&body));
    assert_eq!(body, map);
    assert_eq!(headers[header::CONTENT_TYPE], "application/pdf");
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(
        headers[header::CONTENT_DISPOSITION],
        "attachment; filename=\"Mapa prechodu.pdf\"; filename*=UTF-8''Mapa%20p%C5%99echodu.pdf"
    );
    for (request, who) in [
        (anonymous(&path), "the public"),
        (get(&path, &petr), "another citizen"),
        (upload(&id, &petr, "cizí.pdf", &pdf("cizí")), "another citizen's upload"),
        (write(Method::DELETE, &path, &petr, None), "another citizen's delete"),
        (anonymous(&format!("/api/petitions/{id}")), "the public detail"),
    ] {
        let (status, _, body) = call(&portal.router, request).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "a draft's attachment is 404 for {who}: {}", text(&body));
    }
    for bad in ["0", "x", "3", "-1"] {
        let (status, _, _) = call(&portal.router, get(&format!("/api/petitions/{id}/attachments/{bad}"), &jana)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "attachment {bad}");
    }
    assert_eq!(listed(&portal, &jana, &id).await.as_array().map(Vec::len), Some(2), "Petr's tries changed nothing");

    // The creator deletes one: gone from the list, the download and the blob store.
    let (status, _, body) = call(&portal.router, write(Method::DELETE, &path, &jana, None)).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{}", text(&body));
    let (status, _, _) = call(&portal.router, write(Method::DELETE, &path, &jana, None)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "deleted once");
    let (status, _, _) = call(&portal.router, get(&path, &jana)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let attachments = listed(&portal, &jana, &id).await;
    assert_eq!(attachments.as_array().map(Vec::len), Some(1));
    assert_eq!(attachments[0]["fileName"], "fotky.pdf");
    let blob = BlobPath::parse(format!("petitions/{id}/attachment-1")).expect("path");
    assert!(BlobStore::get(portal.store.as_ref(), &blob).await.is_err());
    // Indexes are stable: the next one is 3, and 2 is still 2.
    assert_eq!(attach(&portal, &jana, &id, "třetí.pdf", &pdf("třetí")).await["index"], 3);
    let (_, _, body) = call(&portal.router, get(&format!("/api/petitions/{id}/attachments/2"), &jana)).await;
    assert_eq!(body, photos);

    let log = portal.access_entries(JANA).await;
    let actions: Vec<String> = log
        .iter()
        .filter(|e| e.resource_type == "petition-attachment")
        .map(|e| format!("{:?} {}", e.action, e.resource_id))
        .collect();
    for expected in
        [format!("Create {id}/attachment-1"), format!("Read {id}/attachment-1"), format!("Delete {id}/attachment-1")]
    {
        assert!(actions.contains(&expected), "{expected} in {actions:?}");
    }
}

#[tokio::test]
async fn each_broken_upload_rule_gets_a_problem_naming_file() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    let id = draft(&portal, &jana).await;
    let limit = 5 * 1024 * 1024;
    let mut oversized = pdf("velký");
    oversized.resize(limit + 1, b' ');
    let mut far_too_big = pdf("obří");
    far_too_big.resize(limit * 2, b' ');
    let cases: Vec<(&str, Vec<Part<'_>>, StatusCode)> = vec![
        ("a text file", vec![Part::file("file", "a.txt", "text/plain", b"hello")], StatusCode::UNSUPPORTED_MEDIA_TYPE),
        (
            "no declared type",
            vec![Part::file("file", "a.pdf", "application/pdf", b"%PDF-1.4").untyped()],
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "a fake PDF",
            vec![Part::file("file", "a.pdf", "application/pdf", b"<html>not a pdf</html>")],
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        ("an empty file", vec![Part::file("file", "a.pdf", "application/pdf", b"")], StatusCode::BAD_REQUEST),
        (
            "a file over 5 MiB",
            vec![Part::file("file", "a.pdf", "application/pdf", &oversized)],
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            "a body over the function's limit",
            vec![Part::file("file", "a.pdf", "application/pdf", &far_too_big)],
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        ("no file", vec![], StatusCode::BAD_REQUEST),
        (
            "two files",
            vec![
                Part::file("file", "a.pdf", "application/pdf", b"%PDF-1.4 a"),
                Part::file("file", "b.pdf", "application/pdf", b"%PDF-1.4 b"),
            ],
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (what, parts, expected) in cases {
        let (status, headers, body) = call(&portal.router, upload_parts(&id, &jana, &parts)).await;
        assert_eq!(status, expected, "{what}: {}", text(&body));
        assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json", "{what}: a problem, not a bare status");
        assert_eq!(problem_fields(&body), ["file"], "{what}: {}", text(&body));
    }
    let (status, _, body) = call(&portal.router, upload_parts(&id, &jana, &[Part::field("title", "x")])).await;
    assert_eq!((status, problem_fields(&body)), (StatusCode::BAD_REQUEST, vec!["title".to_owned()]));
    let (status, _, body) =
        call(&portal.router, write(Method::POST, &format!("/api/petitions/{id}/attachments"), &jana, Some(json!({}))))
            .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", text(&body));
    assert_eq!(json_of(&body)["type"], "/problems/multipart-required");
    assert_eq!(listed(&portal, &jana, &id).await, json!([]), "nothing was stored");

    // Exactly at the limit is fine; five is the most.
    let mut at_limit = pdf("na hraně");
    at_limit.resize(limit, b' ');
    attach(&portal, &jana, &id, "1.pdf", &at_limit).await;
    for n in 2..=5 {
        attach(&portal, &jana, &id, &format!("{n}.pdf"), &pdf(&n.to_string())).await;
    }
    let (status, _, body) = call(&portal.router, upload(&id, &jana, "6.pdf", &pdf("6"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{}", text(&body));
    assert_eq!(problem_fields(&body), ["file"]);
    assert!(json_of(&body)["errors"][0]["rule"].as_str().is_some_and(|r| r.starts_with("at most 5 attachments")));
    assert_eq!(listed(&portal, &jana, &id).await.as_array().map(Vec::len), Some(5));
}

#[tokio::test]
async fn a_published_petition_s_attachments_are_public_and_frozen() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    let petr = portal.login(PETR).await;
    let id = draft(&portal, &jana).await;
    let map = pdf("mapa");
    attach(&portal, &jana, &id, "mapa.pdf", &map).await;
    publish(&portal, &jana, &id).await;

    // Frozen, with the wording of an edit.
    let path = format!("/api/petitions/{id}/attachments/1");
    for request in [upload(&id, &jana, "pozdě.pdf", &pdf("pozdě")), write(Method::DELETE, &path, &jana, None)] {
        let (status, headers, body) = call(&portal.router, request).await;
        assert_eq!(status, StatusCode::CONFLICT, "{}", text(&body));
        assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
        assert_eq!(json_of(&body)["detail"], "a published petition cannot be edited; close it and create a new one");
    }

    // Public: listed in the detail and downloadable without a session.
    let (_, _, body) = call(&portal.router, anonymous(&format!("/api/petitions/{id}"))).await;
    assert_eq!(
        json_of(&body)["attachments"],
        json!([{"index": 1, "fileName": "mapa.pdf", "size": map.len(), "mediaType": "application/pdf"}])
    );
    for request in [anonymous(&path), get(&path, &petr)] {
        let (status, headers, body) = call(&portal.router, request).await;
        assert_eq!(status, StatusCode::OK, "{}", text(&body));
        assert_eq!(body, map);
        assert_eq!(headers[header::CONTENT_TYPE], "application/pdf");
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert!(headers[header::CONTENT_DISPOSITION].to_str().is_ok_and(|d| d.starts_with("attachment;")));
    }

    // Rewritten as plain public content, so it outlives the creator's key.
    let (info, stored) = portal.blob(&format!("petitions/{id}/attachment-1")).await;
    assert_eq!(stored, map);
    assert!(!info.metadata.contains_key("sealed"));
    portal.petitions.sealer.keys().shred(JANA).await.expect("erasure");
    let (status, _, body) = call(&portal.router, anonymous(&path)).await;
    assert_eq!(status, StatusCode::OK, "public after the creator's erasure: {}", text(&body));
    assert_eq!(body, map);
}

#[tokio::test]
async fn a_crash_between_publishing_and_the_rewrite_is_repaired_by_the_first_download() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    let id = draft(&portal, &jana).await;
    let map = pdf("mapa");
    attach(&portal, &jana, &id, "mapa.pdf", &map).await;
    // Published by the state write alone, as if the process died right after it.
    let service = PetitionService::new(portal.petitions.clone());
    let petition_id = PetitionId::parse(&id).expect("id");
    let now = portal.petitions.clock.now();
    service
        .update(&petition_id, |p| {
            p.state = State::Published;
            p.published_at = Some(now);
            p.shards = 4;
            Ok::<(), ()>(())
        })
        .await
        .expect("store")
        .expect("allowed")
        .expect("exists");
    let blob_path = format!("petitions/{id}/attachment-1");
    assert_eq!(portal.blob(&blob_path).await.0.metadata.get("sealed").map(String::as_str), Some("creator"));

    let (status, _, body) = call(&portal.router, anonymous(&format!("/api/petitions/{id}/attachments/1"))).await;
    assert_eq!(status, StatusCode::OK, "{}", text(&body));
    assert_eq!(body, map);
    let (info, stored) = portal.blob(&blob_path).await;
    assert_eq!((stored, info.metadata.get("sealed")), (map, None), "rewritten plain by the download");
}

#[tokio::test]
async fn two_racing_uploads_both_land() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    let id = draft(&portal, &jana).await;
    let writes_before = portal.racing.petition_writes.load(Ordering::SeqCst);
    // Both uploads must reach their petition write, having read the same ETag, before either is let through.
    portal.racing.armed.store(2, Ordering::SeqCst);
    let (a, b) = (pdf("první"), pdf("druhý"));
    let ((status_a, _, body_a), (status_b, _, body_b)) = tokio::join!(
        call(&portal.router, upload(&id, &jana, "a.pdf", &a)),
        call(&portal.router, upload(&id, &jana, "b.pdf", &b)),
    );
    assert_eq!(status_a, StatusCode::CREATED, "{}", text(&body_a));
    assert_eq!(status_b, StatusCode::CREATED, "{}", text(&body_b));
    let mut indexes = [json_of(&body_a)["index"].as_u64(), json_of(&body_b)["index"].as_u64()];
    indexes.sort_unstable();
    assert_eq!(indexes, [Some(1), Some(2)], "each took its own index and blob");
    assert_eq!(
        portal.racing.petition_writes.load(Ordering::SeqCst) - writes_before,
        3,
        "the loser of the ETag race wrote again"
    );
    let attachments = listed(&portal, &jana, &id).await;
    let names: Vec<&str> =
        attachments.as_array().into_iter().flatten().filter_map(|a| a["fileName"].as_str()).collect();
    assert_eq!(names.len(), 2, "no lost update: {attachments}");
    assert!(names.contains(&"a.pdf") && names.contains(&"b.pdf"), "{names:?}");
    for entry in attachments.as_array().into_iter().flatten() {
        let expected = if entry["fileName"] == "a.pdf" { &a } else { &b };
        let index = &entry["index"];
        let (_, _, body) = call(&portal.router, get(&format!("/api/petitions/{id}/attachments/{index}"), &jana)).await;
        assert_eq!(&body, expected, "attachment {index} has its own content");
    }
}

async fn closed_with_attachments(portal: &Portal, jana: &Login, files: &[(&str, Vec<u8>)]) -> String {
    let petr = portal.login(PETR).await;
    let id = draft(portal, jana).await;
    for (name, content) in files {
        attach(portal, jana, &id, name, content).await;
    }
    publish(portal, jana, &id).await;
    let (status, _, _) =
        call(&portal.router, write(Method::POST, &format!("/api/petitions/{id}/signatures"), &petr, None)).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _, body) =
        call(&portal.router, write(Method::POST, &format!("/api/petitions/{id}/close"), jana, None)).await;
    assert_eq!(status, StatusCode::OK, "{}", text(&body));
    id
}

#[tokio::test]
async fn the_hand_over_carries_the_attachments_after_the_extract() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    let files = [("Mapa přechodu.pdf", pdf("mapa")), ("fotky.pdf", pdf("fotky"))];
    let id = closed_with_attachments(&portal, &jana, &files).await;
    let (status, _, body) =
        call(&portal.router, write(Method::POST, &format!("/api/petitions/{id}/hand-over"), &jana, None)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{}", text(&body));

    let messages = portal.drain(portal_events::DATA_MESSAGES_QUEUE).await;
    assert_eq!(messages.len(), 1);
    let event: portal_events::Event = serde_json::from_value(messages[0].clone()).expect("event");
    let message: portal_events::OutgoingDataMessage = event.data_as().expect("contract");
    let names: Vec<&str> = message.attachments.iter().map(|a| a.file_name.as_str()).collect();
    assert_eq!(names, [format!("petice-{id}.pdf").as_str(), "Mapa přechodu.pdf", "fotky.pdf"], "the extract first");
    for (attachment, (_, content)) in message.attachments[1..].iter().zip(&files) {
        assert_eq!(attachment.media_type, "application/pdf");
        let portal_events::SealedContent::Blob { path } = &attachment.content else {
            panic!("attachments go as blobs")
        };
        let (_, sealed) = portal.blob(path).await;
        let plain = portal
            .petitions
            .sealer
            .decrypt(JANA, &attachment.sealed_document, &attachment.sealed_field, &sealed)
            .await
            .expect("sealed for the creator, as the data box opens it");
        assert_eq!(&plain, content);
    }
}

#[tokio::test]
async fn a_hand_over_over_the_isds_limit_is_refused_before_anything_is_sent() {
    let portal = portal_with(PetitionsSettings { hand_over_max_bytes: 20_000, ..PetitionsSettings::default() });
    let jana = portal.login(JANA).await;
    let mut big = pdf("velká");
    big.resize(25_000, b' ');
    let id = closed_with_attachments(&portal, &jana, &[("velká.pdf", big)]).await;
    let (status, headers, body) =
        call(&portal.router, write(Method::POST, &format!("/api/petitions/{id}/hand-over"), &jana, None)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{}", text(&body));
    assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
    assert_eq!(json_of(&body)["type"], "/problems/hand-over-too-large");
    assert_eq!(problem_fields(&body), ["attachments"]);
    assert!(portal.drain(portal_events::DATA_MESSAGES_QUEUE).await.is_empty(), "nothing sent");
    let (_, _, body) = call(&portal.router, get(&format!("/api/me/petitions/{id}"), &jana)).await;
    assert_eq!(json_of(&body)["state"], "closed", "still the creator's to deliver another way");
}
