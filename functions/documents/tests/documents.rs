//! The documents capability in process: uploads with their checks and quota,
//! the library (list, download, rename, tag, delete), isolation between
//! citizens, share links (public, logged, revocable, expiring), and filing
//! documents from other capabilities (replayed, adopted, refused).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use base64::Engine as _;
use portal_documents::queue::file_document;
use portal_documents::scan::{self, EICAR, ScanMode};
use portal_documents::{Documents, DocumentsSettings, functions};
use portal_events::{Event, FiledDocument, SealedContent, kinds};
use portal_host::InvocationError;
use portal_security::Actor;
use portal_store::embedded::EmbeddedStore;
use portal_store::{
    BatchOp, BatchResult, BlobPath, BlobStore, Document, DocumentStore, ETag, NewDocument, Page, PutMode, Query,
    StoreError, StoreResult,
};
use portal_testkit::faults::{self, FaultyDocuments, Op};
use portal_testkit::{
    Harness, JANA, Login, PETR, Part, START, call, get, items, json_of, multipart, queue_delivery, text, write,
};
use serde_json::{Value, json};
use time::macros::datetime;

struct Portal {
    router: Router,
    documents: Documents,
    harness: Harness,
}

impl std::ops::Deref for Portal {
    type Target = Harness;

    fn deref(&self) -> &Harness {
        &self.harness
    }
}

fn portal_with(settings: DocumentsSettings) -> Portal {
    let harness = Harness::new();
    let documents = Documents {
        documents: harness.documents.clone(),
        blobs: harness.store.clone(),
        queues: harness.store.clone(),
        sealer: harness.sealer.clone(),
        access_log: harness.access_log.clone(),
        clock: harness.clock.clone(),
        settings,
    };
    let router = harness.router(functions(documents.clone()));
    Portal { router, documents, harness }
}

fn portal() -> Portal {
    portal_with(DocumentsSettings::default())
}

/// A file part for [`upload_request`].
struct FilePart<'a> {
    name: &'a str,
    mime: &'a str,
    content: Vec<u8>,
}

fn upload_request(login: &Login, file: &FilePart<'_>, fields: &[(&str, &str)]) -> Request<Body> {
    let mut parts: Vec<Part<'_>> = fields.iter().map(|(name, value)| Part::field(name, value)).collect();
    parts.push(Part::file("file", file.name, file.mime, &file.content));
    multipart("/api/documents", login, &parts)
}

/// A real, minimal PDF 1.4 (one empty A4 page) with a correct xref table.
fn small_pdf() -> Vec<u8> {
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    ];
    let mut pdf = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let mut offsets = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend(format!("{} 0 obj\n{object}\nendobj\n", i + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for offset in offsets {
        pdf.extend(format!("{offset:010} 00000 n \n").as_bytes());
    }
    pdf.extend(
        format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1).as_bytes(),
    );
    pdf
}

/// Made by independent tools (Pillow, pypdf: tests/fixtures/make_uploads.py).
const PNG: &[u8] = include_bytes!("fixtures/chart.png");
const JPEG: &[u8] = include_bytes!("fixtures/photo.jpg");
const PYPDF_PDF: &[u8] = include_bytes!("fixtures/scan.pdf");

async fn upload(portal: &Portal, login: &Login, file: &FilePart<'_>, fields: &[(&str, &str)]) -> Value {
    let (status, _, body) = call(&portal.router, upload_request(login, file, fields)).await;
    assert_eq!(status, StatusCode::CREATED, "{}", text(&body));
    json_of(&body)
}

async fn usage(portal: &Portal, subject: &str) -> (u64, u64) {
    match DocumentStore::get(portal.store.as_ref(), "documents", subject, "usage").await.expect("usage") {
        Some(doc) => (doc.body["usedBytes"].as_u64().unwrap_or(u64::MAX), doc.body["count"].as_u64().unwrap_or(0)),
        None => (0, 0),
    }
}

/// The sealed blobs under `prefix` (quarantine copies not counted: see [`quarantined`]).
async fn blobs(portal: &Portal, prefix: &str) -> usize {
    let all = BlobStore::list(portal.store.as_ref(), prefix).await.expect("list");
    all.iter().filter(|b| !b.path.as_str().ends_with(".quarantine")).count()
}

/// The plain copies waiting for the malware scan under `prefix`.
async fn quarantined(portal: &Portal, prefix: &str) -> usize {
    let all = BlobStore::list(portal.store.as_ref(), prefix).await.expect("list");
    all.iter().filter(|b| b.path.as_str().ends_with(".quarantine")).count()
}

#[tokio::test]
async fn a_citizen_uploads_lists_downloads_renames_tags_and_deletes() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    let pdf = small_pdf();
    let file = FilePart { name: "Nájemní smlouva – byt č. 5.pdf", mime: "application/pdf", content: pdf.clone() };
    let (status, headers, body) = call(
        &portal.router,
        upload_request(&jana, &file, &[("title", "Nájemní smlouva"), ("tags", "bydlení, smlouvy")]),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{}", text(&body));
    let created = json_of(&body);
    let id = created["id"].as_str().expect("id").to_owned();
    assert_eq!(headers[header::LOCATION], format!("/api/documents/{id}").as_str());
    assert_eq!(created["title"], "Nájemní smlouva");
    assert_eq!(created["fileName"], "Nájemní smlouva – byt č. 5.pdf");
    assert_eq!(created["mediaType"], "application/pdf");
    assert_eq!(created["size"], pdf.len());
    assert_eq!(created["kind"], "upload");
    assert_eq!(created["source"], "citizen");
    assert_eq!(created["tags"], json!(["bydlení", "smlouvy"]));
    assert_eq!(usage(&portal, JANA).await, (pdf.len() as u64, 1), "the upload counts toward the quota");

    // The blob and the metadata hold no plain text.
    let stored = DocumentStore::get(portal.store.as_ref(), "documents", JANA, &format!("doc-{id}"))
        .await
        .expect("get")
        .expect("stored");
    assert!(!stored.body.to_string().contains("Nájemní"), "title and file name are sealed: {}", stored.body);
    assert!(!stored.body.to_string().contains("bydlení"), "tags are sealed, indexed blindly: {}", stored.body);
    let blob = BlobPath::parse(stored.body["blob"].as_str().expect("blob")).expect("path");
    assert!(!blob.as_str().contains("jana"), "the blob path carries no pseudonym: {blob}");
    let (_, sealed) = portal.blob(blob.as_str()).await;
    assert!(!sealed.starts_with(b"%PDF"), "the blob is ciphertext");

    // A plain-text note, uploaded later, lists first.
    portal.clock.advance(Duration::from_secs(60));
    let note = upload(
        &portal,
        &jana,
        &FilePart { name: "poznámka.txt", mime: "text/plain; charset=utf-8", content: "Zavolat na úřad".into() },
        &[],
    )
    .await;
    assert_eq!(note["title"], "poznámka.txt", "without a title, the file name");
    let (status, _, body) = call(&portal.router, get("/api/documents", &jana)).await;
    assert_eq!(status, StatusCode::OK, "{}", text(&body));
    let listed: Vec<Value> = items(&body);
    assert_eq!(listed.iter().map(|d| d["id"].clone()).collect::<Vec<_>>(), [note["id"].clone(), json!(id)]);
    let (_, _, body) = call(&portal.router, get("/api/documents?pageSize=1", &jana)).await;
    let page = json_of(&body);
    assert_eq!(items(&body).len(), 1);
    let continuation = page["continuation"].as_str().expect("a second page");
    let (_, _, body) =
        call(&portal.router, get(&format!("/api/documents?pageSize=1&continuation={continuation}"), &jana)).await;
    assert_eq!(items(&body)[0]["id"], json!(id), "the second page");
    let (status, _, body) = call(&portal.router, get("/api/documents?pageSize=101", &jana)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(json_of(&body)["errors"][0]["field"], "pageSize");

    // Download: byte-identical, with the headers of a safe download.
    let (status, headers, body) = call(&portal.router, get(&format!("/api/documents/{id}/content"), &jana)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, pdf, "byte-identical");
    assert_eq!(headers[header::CONTENT_TYPE], "application/pdf");
    assert_eq!(headers[header::CONTENT_LENGTH], pdf.len().to_string().as_str());
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(headers[header::CACHE_CONTROL], "private, no-store");
    let disposition = headers[header::CONTENT_DISPOSITION].to_str().expect("ascii");
    assert!(disposition.starts_with("attachment; filename=\"Najemni smlouva _ byt c. 5.pdf\""), "{disposition}");
    assert!(disposition.contains("filename*=UTF-8''N%C3%A1jemn%C3%AD%20smlouva%20%E2%80%93%20byt%20%C4%8D.%205.pdf"));

    // Rename under the ETag just read; a stale ETag is refused.
    let (status, headers, _) = call(&portal.router, get(&format!("/api/documents/{id}"), &jana)).await;
    assert_eq!(status, StatusCode::OK);
    let etag = headers[header::ETAG].to_str().expect("etag").to_owned();
    let mut rename =
        write(Method::PATCH, &format!("/api/documents/{id}"), &jana, Some(json!({"title": "Smlouva o nájmu"})));
    rename.headers_mut().insert(header::IF_MATCH, etag.parse().expect("header"));
    let (status, headers, body) = call(&portal.router, rename).await;
    assert_eq!(status, StatusCode::OK, "{}", text(&body));
    assert_eq!(json_of(&body)["title"], "Smlouva o nájmu");
    assert_ne!(headers[header::ETAG], etag.as_str(), "a new version");
    let mut stale = write(Method::PATCH, &format!("/api/documents/{id}"), &jana, Some(json!({"title": "Jiný"})));
    stale.headers_mut().insert(header::IF_MATCH, etag.parse().expect("header"));
    let (status, _, body) = call(&portal.router, stale).await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{}", text(&body));

    // Tag without If-Match, then filter by tag and kind.
    let (status, _, body) = call(
        &portal.router,
        write(Method::PATCH, &format!("/api/documents/{id}"), &jana, Some(json!({"tags": ["Nájem", "byt-5"]}))),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}", text(&body));
    assert_eq!(json_of(&body)["tags"], json!(["Nájem", "byt-5"]));
    assert_eq!(json_of(&body)["title"], "Smlouva o nájmu", "the title stays");
    let (_, _, body) = call(&portal.router, get("/api/documents?tag=n%C3%A1jem", &jana)).await;
    assert_eq!(items(&body).iter().map(|d| d["id"].clone()).collect::<Vec<_>>(), [json!(id)], "case-insensitive");
    let (_, _, body) = call(&portal.router, get("/api/documents?tag=smlouvy", &jana)).await;
    assert!(items(&body).is_empty(), "the old tags are gone");
    let (_, _, body) = call(&portal.router, get("/api/documents?kind=upload&tag=byt-5", &jana)).await;
    assert_eq!(items(&body).len(), 1);
    let (_, _, body) = call(&portal.router, get("/api/documents?kind=receipt", &jana)).await;
    assert!(items(&body).is_empty());
    let (status, _, body) = call(
        &portal.router,
        write(Method::PATCH, &format!("/api/documents/{id}"), &jana, Some(json!({"tags": ["s mezerou"]}))),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(json_of(&body)["errors"][0]["field"], "tags");

    // Delete: metadata, blob and usage go together.
    let (status, _, _) =
        call(&portal.router, write(Method::DELETE, &format!("/api/documents/{id}"), &jana, None)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(usage(&portal, JANA).await, ("Zavolat na úřad".len() as u64, 1), "usage goes back down");
    assert!(matches!(BlobStore::get(portal.store.as_ref(), &blob).await, Err(StoreError::NotFound)), "blob deleted");
    let (status, _, _) = call(&portal.router, get(&format!("/api/documents/{id}"), &jana)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) =
        call(&portal.router, write(Method::DELETE, &format!("/api/documents/{id}"), &jana, None)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Every touch is in Jana's access log.
    let log = portal.access_entries(JANA).await;
    for (action, kind) in [
        (portal_security::Action::Create, "document"),
        (portal_security::Action::Read, "document-list"),
        (portal_security::Action::Read, "document"),
        (portal_security::Action::Update, "document"),
        (portal_security::Action::Delete, "document"),
    ] {
        assert!(
            log.iter().any(|e| e.action == action && e.resource_type == kind && e.actor == Actor::Citizen),
            "{action:?} {kind} logged"
        );
    }
}

/// A refused upload: the file, the form fields, and the expected status, field and rule.
type Refusal<'a> = (FilePart<'a>, Vec<(&'a str, &'a str)>, StatusCode, &'a str, &'a str);

#[tokio::test]
async fn uploads_are_checked_by_size_type_content_title_and_tags() {
    let portal = portal_with(DocumentsSettings { max_upload_bytes: 4096, ..DocumentsSettings::default() });
    let jana = portal.login(JANA).await;
    let long_title = "x".repeat(201);
    let cases: Vec<Refusal<'_>> = vec![
        (
            FilePart { name: "velky.txt", mime: "text/plain", content: vec![b'a'; 4097] },
            vec![],
            StatusCode::PAYLOAD_TOO_LARGE,
            "file",
            "at most 4096 bytes",
        ),
        (
            // Far past the body limit too: still a problem naming the field.
            FilePart { name: "obri.txt", mime: "text/plain", content: vec![b'a'; 512 * 1024] },
            vec![],
            StatusCode::PAYLOAD_TOO_LARGE,
            "file",
            "at most 4096 bytes",
        ),
        (
            FilePart { name: "obrazek.pdf", mime: "application/pdf", content: PNG.to_vec() },
            vec![],
            StatusCode::UNPROCESSABLE_ENTITY,
            "file",
            "not a readable application/pdf",
        ),
        (
            // A program behind a PDF header: the structure gives it away.
            FilePart {
                name: "setup.pdf",
                mime: "application/pdf",
                content: [b"%PDF-1.7\nMZ\x90\x00".as_slice(), b"\x00".repeat(64).as_slice(), b"\n%%EOF\n"].concat(),
            },
            vec![],
            StatusCode::UNPROCESSABLE_ENTITY,
            "file",
            "not a readable application/pdf",
        ),
        (
            // A real PDF named as a program is refused by its name.
            FilePart { name: "setup.exe", mime: "application/pdf", content: small_pdf() },
            vec![],
            StatusCode::UNPROCESSABLE_ENTITY,
            "file",
            "programs and scripts (.exe)",
        ),
        (
            FilePart { name: "obrazek.png", mime: "application/pdf", content: small_pdf() },
            vec![],
            StatusCode::UNPROCESSABLE_ENTITY,
            "file",
            "does not fit application/pdf",
        ),
        (
            FilePart { name: "archiv.zip", mime: "application/zip", content: b"PK\x03\x04".to_vec() },
            vec![],
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "file",
            "one of application/pdf, image/jpeg, image/png, text/plain",
        ),
        (
            FilePart { name: "binarni.txt", mime: "text/plain", content: b"a\0b".to_vec() },
            vec![],
            StatusCode::UNPROCESSABLE_ENTITY,
            "file",
            "content is not text/plain",
        ),
        (
            FilePart { name: "a.png", mime: "image/png", content: PNG.to_vec() },
            vec![("tags", "ok, s mezerou")],
            StatusCode::BAD_REQUEST,
            "tags",
            "at most 20 tags",
        ),
        (
            FilePart { name: "a.png", mime: "image/png", content: PNG.to_vec() },
            vec![("title", long_title.as_str())],
            StatusCode::BAD_REQUEST,
            "title",
            "1-200 characters",
        ),
    ];
    for (file, fields, status, field, rule) in &cases {
        let (actual, headers, body) = call(&portal.router, upload_request(&jana, file, fields)).await;
        assert_eq!(actual, *status, "{}: {}", file.name, text(&body));
        assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json", "{}", file.name);
        let problem = json_of(&body);
        assert_eq!(problem["errors"][0]["field"], *field, "{}: {problem}", file.name);
        let actual_rule = problem["errors"][0]["rule"].as_str().unwrap_or_default();
        assert!(actual_rule.contains(rule), "{}: {actual_rule}", file.name);
        // Stored as it arrived, so a refusal takes back whatever got stored.
        let left = (blobs(&portal, "documents/").await, quarantined(&portal, "documents/").await);
        assert_eq!(left, (0, 0), "{}: a refused upload leaves no blob and no quarantine copy", file.name);
    }
    // A title that breaks its rule after the file arrived and was stored.
    let request = multipart(
        "/api/documents",
        &jana,
        &[Part::file("file", "a.txt", "text/plain", b"ahoj"), Part::field("title", &long_title)],
    );
    let (status, _, body) = call(&portal.router, request).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{}", text(&body));
    let left = (blobs(&portal, "documents/").await, quarantined(&portal, "documents/").await);
    assert_eq!(left, (0, 0), "a file stored before its form failed is taken back");
    let many_tags: Vec<String> = (0..21).map(|i| format!("stitek{i}")).collect();
    let (status, _, body) = call(
        &portal.router,
        upload_request(
            &jana,
            &FilePart { name: "a.png", mime: "image/png", content: PNG.to_vec() },
            &[("tags", &many_tags.join(","))],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "21 tags: {}", text(&body));

    // Nothing was written by any refused upload.
    assert_eq!(usage(&portal, JANA).await, (0, 0));
    assert_eq!(blobs(&portal, "documents/").await, 0);
    let (_, _, body) = call(&portal.router, get("/api/documents", &jana)).await;
    assert!(items(&body).is_empty());

    // Exactly at the limit is fine; a JPEG is checked by its own bytes.
    upload(&portal, &jana, &FilePart { name: "presne.txt", mime: "text/plain", content: vec![b'a'; 4096] }, &[]).await;
    upload(&portal, &jana, &FilePart { name: "foto.jpg", mime: "image/jpeg", content: JPEG.to_vec() }, &[]).await;
    let (status, _, _) = call(
        &portal.router,
        Request::post("/api/documents")
            .header(header::COOKIE, &jana.cookie)
            .header(header::CONTENT_TYPE, "multipart/form-data; boundary=x")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a write without the CSRF token is refused");
}

#[tokio::test]
async fn files_made_by_other_tools_are_accepted_and_come_back_byte_for_byte() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    for (name, mime, content) in
        [("sken.pdf", "application/pdf", PYPDF_PDF), ("foto.JPG", "image/jpeg", JPEG), ("graf.png", "image/png", PNG)]
    {
        let view = upload(&portal, &jana, &FilePart { name, mime, content: content.to_vec() }, &[]).await;
        assert_eq!(view["fileName"], name, "{view}");
        let id = view["id"].as_str().expect("id");
        let (status, _, body) = call(&portal.router, get(&format!("/api/documents/{id}/content"), &jana)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, content, "{name}");
    }
    // A name without an extension gets the type's.
    let view =
        upload(&portal, &jana, &FilePart { name: "sken", mime: "application/pdf", content: small_pdf() }, &[]).await;
    assert_eq!(view["fileName"], "sken.pdf");
}

fn keyed(request: Request<Body>, key: &str) -> Request<Body> {
    let (mut parts, body) = request.into_parts();
    parts.headers.insert("idempotency-key", key.parse().expect("header"));
    Request::from_parts(parts, body)
}

/// The documents capability on a store whose access-log writes fail when told.
fn portal_on(store: Arc<FaultyDocuments>) -> Portal {
    let harness = Harness::new();
    let harness = harness.with_documents(store);
    let documents = Documents {
        documents: harness.documents.clone(),
        blobs: harness.store.clone(),
        queues: harness.store.clone(),
        sealer: harness.sealer.clone(),
        access_log: harness.access_log.clone(),
        clock: harness.clock.clone(),
        settings: DocumentsSettings::default(),
    };
    let router = harness.router(functions(documents.clone()));
    Portal { router, documents, harness }
}

#[tokio::test]
async fn an_upload_repeated_with_its_idempotency_key_is_stored_once() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    let file = FilePart { name: "smlouva.pdf", mime: "application/pdf", content: small_pdf() };
    let key = "9b2f0c1e-5d7a-4c55-9e3b-0f4f1f0b8a11";
    let (status, headers, first) = call(&portal.router, keyed(upload_request(&jana, &file, &[]), key)).await;
    assert_eq!(status, StatusCode::CREATED, "{}", text(&first));
    let (status, again_headers, again) = call(&portal.router, keyed(upload_request(&jana, &file, &[]), key)).await;
    assert_eq!(status, StatusCode::CREATED, "{}", text(&again));
    assert_eq!(json_of(&again)["id"], json_of(&first)["id"], "the same document");
    assert_eq!(again_headers[header::LOCATION], headers[header::LOCATION]);
    assert_eq!(usage(&portal, JANA).await, (file.content.len() as u64, 1), "counted once");
    assert_eq!(blobs(&portal, "documents/").await, 1, "one file");
    assert!(!json_of(&first)["id"].as_str().unwrap_or_default().contains(key), "the id does not carry the key");

    // The same key for something else is refused; another citizen's same key is theirs alone.
    let other = FilePart { name: "jina.pdf", mime: "application/pdf", content: small_pdf() };
    let (status, _, body) = call(&portal.router, keyed(upload_request(&jana, &other, &[]), key)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{}", text(&body));
    assert_eq!(json_of(&body)["errors"][0]["field"], "Idempotency-Key");
    let petr = portal.login(PETR).await;
    let (status, _, body) = call(&portal.router, keyed(upload_request(&petr, &file, &[]), key)).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_ne!(json_of(&body)["id"], json_of(&first)["id"]);
    let (status, _, body) = call(&portal.router, keyed(upload_request(&jana, &file, &[]), "bad key")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{}", text(&body));
    assert_eq!(json_of(&body)["errors"][0]["field"], "Idempotency-Key");
}

#[tokio::test]
async fn an_upload_whose_access_log_write_fails_leaves_nothing_a_retry_duplicates() {
    let store = Arc::new(FaultyDocuments::new(Arc::new(
        EmbeddedStore::in_memory(Arc::new(portal_store::ManualClock::new(START))).expect("store"),
    )));
    let portal = portal_on(store.clone());
    let jana = portal.login(JANA).await;
    let file = FilePart { name: "smlouva.pdf", mime: "application/pdf", content: small_pdf() };
    let is_log_write = |call: &faults::Call<'_>| call.op == Op::Create && call.collection == "access-log";

    // With a key: the retry with the same key finds the stored document and logs it.
    store.fail(0, 1, is_log_write);
    let (status, _, body) = call(&portal.router, keyed(upload_request(&jana, &file, &[]), "k-1")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{}", text(&body));
    let (status, _, body) = call(&portal.router, keyed(upload_request(&jana, &file, &[]), "k-1")).await;
    assert_eq!(status, StatusCode::CREATED, "{}", text(&body));
    let id = json_of(&body)["id"].as_str().expect("id").to_owned();
    let page = portal.documents.documents.query("documents", JANA, Query::default()).await.expect("query");
    assert_eq!(page.items.iter().filter(|d| d.body["type"] == "document").count(), 1, "one document");
    let logged = portal.access_entries(JANA).await;
    assert!(logged.iter().any(|e| e.resource_id == id), "the retry logged the upload");

    // Without a key: the upload is taken back, so a retry cannot leave a second copy.
    store.fail(0, 1, is_log_write);
    let other = FilePart { name: "jina.pdf", mime: "application/pdf", content: small_pdf() };
    let (status, _, _) = call(&portal.router, upload_request(&jana, &other, &[])).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let page = portal.documents.documents.query("documents", JANA, Query::default()).await.expect("query");
    assert_eq!(page.items.iter().filter(|d| d.body["type"] == "document").count(), 1, "still one");
    assert_eq!(blobs(&portal, "documents/").await, 1, "no orphan file");
}

#[tokio::test]
async fn an_upload_stays_quarantined_until_scanned_and_eicar_is_never_served() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    let mut eicar = b"Dobry den,\n".to_vec();
    eicar.extend_from_slice(EICAR);
    let bad = upload(&portal, &jana, &FilePart { name: "test.txt", mime: "text/plain", content: eicar }, &[]).await;
    let good =
        upload(&portal, &jana, &FilePart { name: "ok.txt", mime: "text/plain", content: b"ok".to_vec() }, &[]).await;
    assert_eq!((bad["malwareScan"].as_str(), good["malwareScan"].as_str()), (Some("pending"), Some("pending")));
    assert_eq!(quarantined(&portal, "documents/").await, 2, "each waits for the scanner as a plain copy");

    let (bad_id, good_id) = (bad["id"].as_str().expect("id"), good["id"].as_str().expect("id"));
    let (status, headers, body) = call(&portal.router, get(&format!("/api/documents/{bad_id}/content"), &jana)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{}", text(&body));
    assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
    assert_eq!(json_of(&body)["type"], "/problems/document-infected");
    let (status, _, body) = call(&portal.router, get(&format!("/api/documents/{good_id}/content"), &jana)).await;
    assert_eq!((status, body.as_slice()), (StatusCode::OK, b"ok".as_slice()));
    assert_eq!(quarantined(&portal, "documents/").await, 0, "a verdict drops the plain copy");
    let (_, _, body) = call(&portal.router, get(&format!("/api/documents/{bad_id}"), &jana)).await;
    assert_eq!(json_of(&body)["malwareScan"], "infected");
    let (_, _, body) = call(&portal.router, get(&format!("/api/documents/{good_id}"), &jana)).await;
    assert_eq!(json_of(&body)["malwareScan"], "clean");

    // Nor through a share link.
    let link = share(&portal, &jana, bad_id, None).await;
    let (status, _, _) = call(&portal.router, anonymous(link["url"].as_str().expect("url"))).await;
    assert_eq!(status, StatusCode::CONFLICT, "the infected file is not served to a link either");
    let page = portal.access_entries(JANA).await;
    assert!(!page.iter().any(|e| e.resource_id == bad_id && e.purpose.contains("stažení")), "nothing was read");
}

/// Blob storage with Defender for Storage's scan: the result appears as a
/// blob index tag on the quarantine copy when `verdict` is set.
#[derive(Debug)]
struct DefenderTags {
    inner: Arc<EmbeddedStore>,
    verdict: std::sync::Mutex<Option<&'static str>>,
}

#[async_trait::async_trait]
impl BlobStore for DefenderTags {
    async fn put(
        &self,
        path: &BlobPath,
        content: bytes::Bytes,
        content_type: &str,
        metadata: std::collections::BTreeMap<String, String>,
        mode: PutMode,
    ) -> StoreResult<portal_store::BlobInfo> {
        self.inner.put(path, content, content_type, metadata, mode).await
    }
    async fn get(&self, path: &BlobPath) -> StoreResult<(portal_store::BlobInfo, portal_store::BlobStream)> {
        BlobStore::get(self.inner.as_ref(), path).await
    }
    async fn delete(&self, path: &BlobPath) -> StoreResult<()> {
        BlobStore::delete(self.inner.as_ref(), path).await
    }
    async fn list(&self, prefix: &str) -> StoreResult<Vec<portal_store::BlobInfo>> {
        BlobStore::list(self.inner.as_ref(), prefix).await
    }
    async fn ping(&self) -> StoreResult<()> {
        BlobStore::ping(self.inner.as_ref()).await
    }
    async fn tags(&self, path: &BlobPath) -> StoreResult<std::collections::BTreeMap<String, String>> {
        drop(BlobStore::get(self.inner.as_ref(), path).await?);
        let verdict = *self.verdict.lock().expect("lock");
        Ok(verdict.map(|v| (scan::DEFENDER_RESULT_TAG.to_owned(), v.to_owned())).into_iter().collect())
    }
}

#[tokio::test]
async fn defender_for_storage_clears_an_upload_by_its_blob_index_tag() {
    let mut portal =
        portal_with(DocumentsSettings { malware_scan: ScanMode::Defender, ..DocumentsSettings::default() });
    let tags = Arc::new(DefenderTags { inner: portal.store.clone(), verdict: std::sync::Mutex::new(None) });
    portal.documents.blobs = tags.clone();
    portal.router = portal.harness.router(functions(portal.documents.clone()));
    let jana = portal.login(JANA).await;
    let view =
        upload(&portal, &jana, &FilePart { name: "a.txt", mime: "text/plain", content: b"ahoj".to_vec() }, &[]).await;
    let path = format!("/api/documents/{}/content", view["id"].as_str().expect("id"));
    let (status, _, body) = call(&portal.router, get(&path, &jana)).await;
    assert_eq!(status, StatusCode::CONFLICT, "not scanned yet");
    assert_eq!(json_of(&body)["type"], "/problems/document-scan-pending");
    assert_eq!(quarantined(&portal, "documents/").await, 1, "still waiting");
    *tags.verdict.lock().expect("lock") = Some(scan::DEFENDER_CLEAN);
    let (status, _, body) = call(&portal.router, get(&path, &jana)).await;
    assert_eq!((status, body.as_slice()), (StatusCode::OK, b"ahoj".as_slice()));
    assert_eq!(quarantined(&portal, "documents/").await, 0);

    let view =
        upload(&portal, &jana, &FilePart { name: "b.txt", mime: "text/plain", content: b"zlo".to_vec() }, &[]).await;
    *tags.verdict.lock().expect("lock") = Some(scan::DEFENDER_MALICIOUS);
    let path = format!("/api/documents/{}/content", view["id"].as_str().expect("id"));
    let (status, _, body) = call(&portal.router, get(&path, &jana)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(json_of(&body)["type"], "/problems/document-infected");
}

/// The variable's value; `None` (the Azurite case skipped) if unset, unless
/// `PORTAL_REQUIRE_EMULATORS=1` (scripts/test.sh), which makes it a failure.
fn emulator_var(name: &str) -> Option<String> {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => Some(value),
        _ if std::env::var("PORTAL_REQUIRE_EMULATORS").as_deref() == Ok("1") => {
            panic!("PORTAL_REQUIRE_EMULATORS=1 but {name} is not set (scripts/emulators.sh start DIR; source DIR/env)")
        }
        _ => None,
    }
}

/// The Defender for Storage adapter against Azurite through the Azure SDK:
/// the uploads' sealed blobs and quarantine copies go to Azurite, the result
/// tag is written there as Defender writes it (Set Blob Tags), and the
/// adapter reads it back with Get Blob Tags.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defender_for_storage_verdicts_are_read_from_azurite_blob_index_tags() {
    use portal_store::azure::{AzureBlobStore, AzureCredential, AzureSettings};
    let (Some(account), Some(ca)) =
        (emulator_var("PORTAL_TEST_BLOB_CONTAINER_URL"), emulator_var("PORTAL_TEST_CA_CERT"))
    else {
        println!("emulator not configured: skipping (PORTAL_TEST_BLOB_CONTAINER_URL is not set)");
        return;
    };
    let run = &uuid::Uuid::new_v4().simple().to_string()[..12];
    let settings = AzureSettings {
        cosmos_endpoint: String::new(),
        cosmos_database: String::new(),
        cosmos_key: None,
        cosmos_region: None,
        blob_container_url: format!("{}/defender-{run}", account.trim_end_matches('/')),
        queue_service_url: String::new(),
        credential: AzureCredential::EmulatorToken,
        extra_ca_certificate: Some(ca.into()),
        emulator: true,
    };
    let azure = Arc::new(AzureBlobStore::connect(&settings).await.expect("connect to Azurite"));
    azure.ensure_container().await.expect("container");
    let mut portal =
        portal_with(DocumentsSettings { malware_scan: ScanMode::Defender, ..DocumentsSettings::default() });
    portal.documents.blobs = azure.clone();
    portal.router = portal.harness.router(functions(portal.documents.clone()));
    let jana = portal.login(JANA).await;
    let tag =
        |value: &str| std::collections::BTreeMap::from([(scan::DEFENDER_RESULT_TAG.to_owned(), value.to_owned())]);

    let mut cases = Vec::new();
    for (name, content) in [("ok.txt", "čistý"), ("bad.txt", "zlý"), ("error.txt", "chyba"), ("lower.txt", "malá")]
    {
        let file = FilePart { name, mime: "text/plain", content: content.as_bytes().to_vec() };
        let view = upload(&portal, &jana, &file, &[]).await;
        let id = view["id"].as_str().expect("id").to_owned();
        let listed = BlobStore::list(azure.as_ref(), "documents/").await.expect("list");
        let blob = listed
            .iter()
            .map(|b| b.path.as_str().to_owned())
            .find(|p| p.contains(&id) && !p.ends_with(".quarantine"))
            .expect("the upload's sealed blob is in Azurite");
        let quarantine = scan::Scanner::quarantine_path(&BlobPath::parse(blob).expect("path")).expect("quarantine");
        let (_, plain) = BlobStore::get(azure.as_ref(), &quarantine).await.expect("the plain copy is in Azurite");
        let plain: Vec<bytes::Bytes> = futures::TryStreamExt::try_collect(plain).await.expect("read");
        assert_eq!(plain.concat(), content.as_bytes(), "Defender scans the plain copy");
        let path = format!("/api/documents/{id}/content");
        let (status, _, body) = call(&portal.router, get(&path, &jana)).await;
        assert_eq!(
            (status, json_of(&body)["type"].clone()),
            (StatusCode::CONFLICT, json!("/problems/document-scan-pending"))
        );
        cases.push((path, quarantine, content));
    }
    // What Defender for Storage writes when its scans finish.
    let results = [
        tag(scan::DEFENDER_CLEAN),
        tag(scan::DEFENDER_MALICIOUS),
        tag("SAM259201: Scan failed - internal service error."),
        std::collections::BTreeMap::from([(
            "Malware scanning scan result".to_owned(),
            scan::DEFENDER_CLEAN.to_owned(),
        )]),
    ];
    for ((_, quarantine, _), result) in cases.iter().zip(&results) {
        azure.set_tags(quarantine, result).await.expect("Azurite keeps blob index tags");
        assert_eq!(&BlobStore::tags(azure.as_ref(), quarantine).await.expect("Get Blob Tags"), result);
    }
    let expected = [
        (StatusCode::OK, None),
        (StatusCode::CONFLICT, Some("/problems/document-infected")),
        (StatusCode::CONFLICT, Some("/problems/document-scan-pending")),
        (StatusCode::OK, None),
    ];
    for ((path, quarantine, content), (status, problem)) in cases.iter().zip(expected) {
        let (got, _, body) = call(&portal.router, get(path, &jana)).await;
        assert_eq!(got, status, "{path}: {}", text(&body));
        match problem {
            None => {
                assert_eq!(body.as_slice(), content.as_bytes(), "a clean upload is served");
                let gone = BlobStore::get(azure.as_ref(), quarantine).await;
                assert!(matches!(gone, Err(StoreError::NotFound)), "the plain copy leaves Azurite once cleared");
            }
            Some(kind) => assert_eq!(json_of(&body)["type"], kind),
        }
    }
}

/// The only sealed blob of the test, as stored.
async fn the_sealed_blob(portal: &Portal) -> (BlobPath, Vec<u8>) {
    let all = BlobStore::list(portal.store.as_ref(), "documents/").await.expect("list");
    let info = all.into_iter().find(|b| !b.path.as_str().ends_with(".quarantine")).expect("a sealed blob");
    let (_, bytes) = portal.blob(info.path.as_str()).await;
    (info.path, bytes)
}

/// A download's status and whole body, or the error that cut the body short.
async fn download(portal: &Portal, login: &Login, id: &str) -> (StatusCode, Result<Vec<u8>, String>) {
    use http_body_util::BodyExt as _;
    use tower::ServiceExt as _;
    let response =
        portal.router.clone().oneshot(get(&format!("/api/documents/{id}/content"), login)).await.expect("infallible");
    let status = response.status();
    let body = response.into_body().collect().await.map(|b| b.to_bytes().to_vec()).map_err(|e| e.to_string());
    (status, body)
}

#[tokio::test]
async fn uploads_are_sealed_in_chunks_and_a_damaged_file_is_never_served_whole() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    let plain: Vec<u8> = (0..(3 * 65536 + 1000)).map(|i| b'a' + (i % 26) as u8).collect();
    let view =
        upload(&portal, &jana, &FilePart { name: "velky.txt", mime: "text/plain", content: plain.clone() }, &[]).await;
    let id = view["id"].as_str().expect("id");
    let (path, sealed) = the_sealed_blob(&portal).await;
    assert_eq!((&sealed[..3], sealed[3]), (b"PCE".as_slice(), 2), "format 2: sealed in chunks");
    let (status, body) = download(&portal, &jana, id).await;
    assert_eq!((status, body.as_deref()), (StatusCode::OK, Ok(plain.as_slice())));

    let (header_len, chunk) = (sealed.len() - (plain.len() + 4 * 16), 65536 + 16);
    let put = |bytes: Vec<u8>| {
        let (store, path) = (portal.store.clone(), path.clone());
        async move {
            BlobStore::put(
                store.as_ref(),
                &path,
                bytes.into(),
                "application/octet-stream",
                Default::default(),
                PutMode::Overwrite,
            )
            .await
            .expect("put");
        }
    };
    let part = |i: usize| sealed[header_len + i * chunk..(header_len + (i + 1) * chunk).min(sealed.len())].to_vec();
    let cut = sealed[..header_len + 2 * chunk].to_vec();
    let swapped = [sealed[..header_len].to_vec(), part(1), part(0), part(2), part(3)].concat();
    for (what, bytes) in [("cut at a chunk boundary", cut), ("two chunks swapped", swapped)] {
        put(bytes).await;
        let (status, body) = download(&portal, &jana, id).await;
        assert_eq!(status, StatusCode::OK, "{what}: the headers went out before the damage showed");
        assert!(body.is_err(), "{what}: the body is cut short, never a whole damaged file");
    }

    // A file sealed whole before streaming existed (format 1) still opens.
    let old = portal.sealer.encrypt(JANA, id, "content", &plain).await.expect("seal whole");
    put(old).await;
    let (status, body) = download(&portal, &jana, id).await;
    assert_eq!((status, body.as_deref()), (StatusCode::OK, Ok(plain.as_slice())));
}

#[tokio::test]
async fn an_upload_over_the_quota_is_refused_and_writes_nothing() {
    let portal = portal_with(DocumentsSettings { quota_bytes: 3000, ..DocumentsSettings::default() });
    let jana = portal.login(JANA).await;
    let first =
        upload(&portal, &jana, &FilePart { name: "a.txt", mime: "text/plain", content: vec![b'a'; 2000] }, &[]).await;
    let (status, headers, body) = call(
        &portal.router,
        upload_request(&jana, &FilePart { name: "b.txt", mime: "text/plain", content: vec![b'b'; 1001] }, &[]),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{}", text(&body));
    assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
    let problem = json_of(&body);
    assert_eq!(problem["type"], "/problems/quota-exceeded");
    assert_eq!(problem["usedBytes"], 2000);
    assert_eq!(problem["limitBytes"], 3000);
    assert_eq!(problem["errors"][0]["field"], "file");
    assert_eq!(usage(&portal, JANA).await, (2000, 1), "usage unchanged");
    assert_eq!(blobs(&portal, "documents/").await, 1, "no blob for the refused upload");
    let (_, _, body) = call(&portal.router, get("/api/documents", &jana)).await;
    assert_eq!(items(&body).len(), 1);

    // What fits, fits; after a delete, space comes back.
    upload(&portal, &jana, &FilePart { name: "c.txt", mime: "text/plain", content: vec![b'c'; 1000] }, &[]).await;
    assert_eq!(usage(&portal, JANA).await, (3000, 2));
    let id = first["id"].as_str().expect("id");
    let (status, _, _) =
        call(&portal.router, write(Method::DELETE, &format!("/api/documents/{id}"), &jana, None)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    upload(&portal, &jana, &FilePart { name: "d.txt", mime: "text/plain", content: vec![b'd'; 2000] }, &[]).await;
    assert_eq!(usage(&portal, JANA).await, (3000, 2));
}

#[tokio::test]
async fn concurrent_uploads_never_pass_the_quota_and_usage_never_drifts() {
    let portal = portal_with(DocumentsSettings { quota_bytes: 10_000, ..DocumentsSettings::default() });
    let jana = portal.login(JANA).await;
    let requests = (0..8).map(|i| {
        call(
            &portal.router,
            upload_request(&jana, &FilePart { name: "x.txt", mime: "text/plain", content: vec![b'0' + i; 3000] }, &[]),
        )
    });
    let results = futures::future::join_all(requests).await;
    let created = results.iter().filter(|(status, _, _)| *status == StatusCode::CREATED).count();
    assert_eq!(created, 3, "three of 3000 bytes fit in 10 000");
    assert!(results.iter().all(|(s, _, _)| *s == StatusCode::CREATED || *s == StatusCode::CONFLICT));
    assert_eq!(usage(&portal, JANA).await, (9000, 3), "usage equals what was stored");
    assert_eq!(blobs(&portal, "documents/").await, 3, "refused uploads leave no blob");
}

#[tokio::test]
async fn another_citizen_gets_404_on_every_id_route() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    let petr = portal.login(PETR).await;
    let document =
        upload(&portal, &jana, &FilePart { name: "a.pdf", mime: "application/pdf", content: small_pdf() }, &[]).await;
    let id = document["id"].as_str().expect("id");
    let (status, _, body) =
        call(&portal.router, write(Method::POST, &format!("/api/documents/{id}/shares"), &jana, Some(json!({})))).await;
    assert_eq!(status, StatusCode::CREATED, "{}", text(&body));
    let share = json_of(&body)["id"].as_str().expect("share").to_owned();

    let probes = [
        get(&format!("/api/documents/{id}"), &petr),
        get(&format!("/api/documents/{id}/content"), &petr),
        write(Method::PATCH, &format!("/api/documents/{id}"), &petr, Some(json!({"title": "Moje"}))),
        write(Method::DELETE, &format!("/api/documents/{id}"), &petr, None),
        write(Method::POST, &format!("/api/documents/{id}/shares"), &petr, Some(json!({"expiresInHours": 1}))),
        get(&format!("/api/documents/{id}/shares"), &petr),
        write(Method::DELETE, &format!("/api/documents/{id}/shares/{share}"), &petr, None),
    ];
    for probe in probes {
        let label = format!("{} {}", probe.method(), probe.uri());
        let (status, headers, _) = call(&portal.router, probe).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{label}");
        assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json", "{label}");
    }
    let (status, _, body) = call(&portal.router, get(&format!("/api/documents/{id}"), &jana)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json_of(&body)["title"], "a.pdf", "Jana's document is untouched");
    let (_, _, body) = call(&portal.router, get(&format!("/api/documents/{id}/shares"), &jana)).await;
    assert_eq!(items(&body)[0]["active"], true, "the share was not revoked by Petr");
    let (_, _, body) = call(&portal.router, get("/api/documents", &petr)).await;
    assert!(items(&body).is_empty());
    let (status, _, _) = call(&portal.router, Request::get("/api/documents").body(Body::empty()).expect("req")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "no session, no list");
}

/// A GET without any credential of a URL the portal made.
fn anonymous(url: &str) -> Request<Body> {
    portal_testkit::anonymous(url.trim_start_matches("http://localhost:7071"))
}

async fn share(portal: &Portal, login: &Login, id: &str, body: Option<Value>) -> Value {
    let (status, _, body) =
        call(&portal.router, write(Method::POST, &format!("/api/documents/{id}/shares"), login, body)).await;
    assert_eq!(status, StatusCode::CREATED, "{}", text(&body));
    json_of(&body)
}

#[tokio::test]
async fn a_share_link_works_without_a_session_is_logged_and_stops_when_revoked_or_expired() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    let content = "Potvrzení o studiu – Jana Nováková".as_bytes().to_vec();
    let document =
        upload(&portal, &jana, &FilePart { name: "potvrzení.txt", mime: "text/plain", content: content.clone() }, &[])
            .await;
    let id = document["id"].as_str().expect("id");

    let created = share(&portal, &jana, id, Some(json!({"expiresInHours": 2}))).await;
    let url = created["url"].as_str().expect("url");
    assert!(url.starts_with("http://localhost:7071/api/shared/"), "{url}");
    let token = url.rsplit('/').next().expect("token");
    assert_eq!(token.len(), 43, "32 bytes in base64url");
    assert_eq!(created["expiresAt"], "2026-11-23T10:00:00Z");
    let stored = serde_json::to_string(
        &portal
            .store
            .query("documents", "share-links", Query::default())
            .await
            .expect("q")
            .items
            .iter()
            .map(|d| d.body.clone())
            .collect::<Vec<_>>(),
    )
    .expect("json");
    assert!(!stored.contains(token), "the token itself is never stored");

    let (status, headers, body) = call(&portal.router, anonymous(url)).await;
    assert_eq!(status, StatusCode::OK, "{}", text(&body));
    assert_eq!(body, content);
    assert_eq!(headers[header::CONTENT_TYPE], "text/plain; charset=utf-8");
    assert_eq!(headers[header::CACHE_CONTROL], "private, no-store");
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
    let log = portal.access_entries(JANA).await;
    let shared_reads: Vec<_> =
        log.iter().filter(|e| e.actor == Actor::System { job: "share-link".into() } && e.resource_id == id).collect();
    assert_eq!(shared_reads.len(), 1, "the download is in the owner's log: {log:?}");
    let (_, _, body) = call(&portal.router, get(&format!("/api/documents/{id}/shares"), &jana)).await;
    let listed = items(&body);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["downloads"], 1);
    assert_eq!(listed[0]["active"], true);
    assert!(listed[0].get("url").is_none(), "the URL is shown once, at creation");

    // Unknown tokens and revoked links answer alike.
    let (status, _, unknown) = call(&portal.router, anonymous(&format!("/api/shared/{}", "A".repeat(43)))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let share_id = created["id"].as_str().expect("share id");
    let (status, _, _) =
        call(&portal.router, write(Method::DELETE, &format!("/api/documents/{id}/shares/{share_id}"), &jana, None))
            .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, revoked) = call(&portal.router, anonymous(url)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "revoked: stops at once");
    assert_eq!(revoked, unknown, "the same answer for every failure");
    let (_, _, body) = call(&portal.router, get(&format!("/api/documents/{id}/shares"), &jana)).await;
    assert_eq!(items(&body)[0]["active"], false);
    assert!(items(&body)[0]["revokedAt"].is_string());

    // Expiry is checked against the clock.
    let default = share(&portal, &jana, id, None).await;
    assert_eq!(default["expiresAt"], "2026-11-24T08:00:00Z", "24 hours by default");
    let url = default["url"].as_str().expect("url");
    portal.clock.advance(Duration::from_secs(23 * 3600 + 59 * 60));
    assert_eq!(call(&portal.router, anonymous(url)).await.0, StatusCode::OK, "a minute before expiry");
    portal.clock.advance(Duration::from_secs(60));
    let (status, _, expired) = call(&portal.router, anonymous(url)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "expired");
    assert_eq!(expired, unknown);

    // At most a week.
    let jana = portal.login(JANA).await;
    let (status, _, body) = call(
        &portal.router,
        write(Method::POST, &format!("/api/documents/{id}/shares"), &jana, Some(json!({"expiresInHours": 169}))),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{}", text(&body));
    assert_eq!(json_of(&body)["errors"][0]["field"], "expiresInHours");
    for bad in [json!({"expiresInHours": 0}), json!({"expiresInHours": 1.5}), json!({"expiresInHours": "24"})] {
        let (status, _, _) =
            call(&portal.router, write(Method::POST, &format!("/api/documents/{id}/shares"), &jana, Some(bad))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
    let week = share(&portal, &jana, id, Some(json!({"expiresInHours": 168}))).await;

    // A deleted document takes its links with it.
    let (status, _, _) =
        call(&portal.router, write(Method::DELETE, &format!("/api/documents/{id}"), &jana, None)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, gone) = call(&portal.router, anonymous(week["url"].as_str().expect("url"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(gone, unknown);
    let left = portal.store.query("documents", "share-links", Query::default()).await.expect("query");
    assert!(left.items.is_empty(), "lookups of a deleted document are removed: {left:?}");
}

// --- FileDocument ----------------------------------------------------------

async fn filed_event(portal: &Portal, document_id: &str, plain: &[u8], inline: bool) -> Event {
    let sealed = portal.documents.sealer.encrypt(JANA, document_id, "content", plain).await.expect("seal");
    let content = if inline {
        SealedContent::Inline { sealed: base64::engine::general_purpose::STANDARD.encode(sealed) }
    } else {
        let path = format!("databox/{}/{document_id}/message.zfo", portal_documents::owner_folder(JANA));
        BlobStore::put(
            portal.store.as_ref(),
            &BlobPath::parse(path.clone()).expect("path"),
            bytes::Bytes::from(sealed),
            "application/octet-stream",
            Default::default(),
            PutMode::CreateOnly,
        )
        .await
        .expect("put");
        SealedContent::Blob { path }
    };
    let filed = FiledDocument {
        document_id: document_id.into(),
        title: "Potvrzení o zaplacení kreditu".into(),
        kind: "receipt".into(),
        source: "databox".into(),
        source_ref: "pay-1".into(),
        media_type: "text/plain".into(),
        file_name: "potvrzení.txt".into(),
        size: plain.len() as u64,
        content,
        simulated: true,
    };
    Event::new(
        kinds::RECEIPT_ISSUED,
        document_id,
        JANA,
        datetime!(2026-11-23 07:00 UTC),
        serde_json::to_value(filed).expect("json"),
    )
}

#[tokio::test]
async fn a_filed_document_replayed_five_times_is_filed_once_and_opens() {
    // A tiny quota: filed documents are never refused for space.
    let portal = portal_with(DocumentsSettings { quota_bytes: 10, ..DocumentsSettings::default() });
    let plain = "Kredit 200 Kč připsán. ".repeat(10).into_bytes();
    let event = filed_event(&portal, "receipt-pay-1", &plain, true).await;
    for _ in 0..5 {
        file_document::file_document(&portal.documents, &event).await.expect("filed");
    }
    let jana = portal.login(JANA).await;
    let (_, _, body) = call(&portal.router, get("/api/documents", &jana)).await;
    let listed = items(&body);
    assert_eq!(listed.len(), 1, "filed once: {listed:?}");
    let document = &listed[0];
    assert_eq!(document["id"], "receipt-pay-1");
    assert_eq!(document["kind"], "receipt");
    assert_eq!(document["source"], "databox");
    assert_eq!(document["sourceRef"], "pay-1");
    assert_eq!(document["title"], "Potvrzení o zaplacení kreditu");
    assert_eq!(document["simulated"], true);
    assert_eq!(document["countsTowardQuota"], false);
    assert_eq!(usage(&portal, JANA).await, (0, 0), "filed documents do not use the quota");
    let (status, headers, body) = call(&portal.router, get("/api/documents/receipt-pay-1/content", &jana)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, plain, "the download equals the plain content");
    assert!(headers[header::CONTENT_DISPOSITION].to_str().expect("ascii").contains("potvrzen%C3%AD.txt"));
    let log = portal.access_entries(JANA).await;
    assert_eq!(
        log.iter().filter(|e| e.actor == Actor::System { job: "FileDocument".into() }).count(),
        1,
        "one filing, one log entry"
    );

    // The citizen may rename, tag and delete it; a replay does not bring it back.
    let (status, _, body) = call(
        &portal.router,
        write(
            Method::PATCH,
            "/api/documents/receipt-pay-1",
            &jana,
            Some(json!({"title": "Kredit", "tags": ["účtenky"]})),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}", text(&body));
    let (status, _, _) = call(&portal.router, write(Method::DELETE, "/api/documents/receipt-pay-1", &jana, None)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    file_document::file_document(&portal.documents, &event).await.expect("acknowledged");
    let (_, _, body) = call(&portal.router, get("/api/documents", &jana)).await;
    assert!(items(&body).is_empty(), "a replay after deletion files nothing");
    assert_eq!(blobs(&portal, "documents/").await, 0);
}

#[tokio::test]
async fn concurrent_deliveries_file_once() {
    let portal = portal();
    let event = filed_event(&portal, "extract-42", b"Vypis", true).await;
    let runs =
        futures::future::join_all((0..10).map(|_| file_document::file_document(&portal.documents, &event))).await;
    assert!(runs.iter().all(Result::is_ok), "every delivery is acknowledged");
    let page = portal
        .store
        .query("documents", JANA, Query::default().filter("type", portal_store::FilterOp::Eq, "document"))
        .await
        .expect("query");
    assert_eq!(page.items.len(), 1);
}

#[tokio::test]
async fn a_blob_referenced_document_is_adopted_not_copied() {
    let portal = portal();
    let plain = small_pdf();
    let mut event = filed_event(&portal, "archived-dm-1", &plain, false).await;
    let mut filed: FiledDocument = event.data_as().expect("payload");
    filed.media_type = "application/pdf".into();
    filed.file_name = "zpráva.pdf".into();
    event.data = serde_json::to_value(&filed).expect("json");
    file_document::file_document(&portal.documents, &event).await.expect("filed");
    file_document::file_document(&portal.documents, &event).await.expect("replayed");
    assert_eq!(blobs(&portal, "documents/").await, 0, "no copy");
    let stored = DocumentStore::get(portal.store.as_ref(), "documents", JANA, "doc-archived-dm-1")
        .await
        .expect("get")
        .expect("doc");
    let SealedContent::Blob { path } = &filed.content else { panic!("blob payload") };
    assert_eq!(stored.body["blob"], path.as_str(), "the producer's blob is the document's");
    let jana = portal.login(JANA).await;
    let (status, headers, body) = call(&portal.router, get("/api/documents/archived-dm-1/content", &jana)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, plain);
    assert_eq!(headers[header::CONTENT_TYPE], "application/pdf");
    // Deleting it drops Documents' reference; the blob stays with its
    // producer (the data box archive shows the same ZFO).
    let (status, _, _) = call(&portal.router, write(Method::DELETE, "/api/documents/archived-dm-1", &jana, None)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(blobs(&portal, "databox/").await, 1);
    let (status, _, _) = call(&portal.router, get("/api/documents/archived-dm-1/content", &jana)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn payloads_that_can_never_be_filed_fail_permanently() {
    let portal = portal();
    let good = filed_event(&portal, "receipt-7", b"ok", true).await;

    let mut not_filed = good.clone();
    not_filed.data = json!({"messageId": "123"});
    let mut other_document = filed_event(&portal, "receipt-8", b"ok", true).await;
    let mut payload: FiledDocument = other_document.data_as().expect("payload");
    payload.document_id = "receipt-9".into();
    other_document.data = serde_json::to_value(&payload).expect("json");
    let mut other_owner = good.clone();
    other_owner.subject = PETR.into();
    let mut missing_blob = good.clone();
    let mut payload: FiledDocument = missing_blob.data_as().expect("payload");
    payload.content = SealedContent::Blob { path: "databox/nothing/here".into() };
    missing_blob.data = serde_json::to_value(&payload).expect("json");
    let mut bad_base64 = good.clone();
    let mut payload: FiledDocument = bad_base64.data_as().expect("payload");
    payload.content = SealedContent::Inline { sealed: "***".into() };
    bad_base64.data = serde_json::to_value(&payload).expect("json");

    for (label, event, reason) in [
        ("not a FiledDocument", not_filed, "not a FiledDocument"),
        ("sealed for another document", other_document, "does not open"),
        ("sealed for another citizen", other_owner, "content"),
        ("a missing blob", missing_blob, "no such blob"),
        ("not base64", bad_base64, "not base64"),
    ] {
        match file_document::file_document(&portal.documents, &event).await {
            Err(InvocationError::Permanent(error)) => {
                let text = portal_host::runtime::error_chain(error.as_ref());
                assert!(text.contains(reason), "{label}: {text}");
            }
            other => panic!("{label}: expected a permanent failure, got {other:?}"),
        }
    }
    let page = portal.store.query("documents", JANA, Query::default()).await.expect("query");
    assert!(page.items.iter().all(|d| d.body["type"] != "document"), "nothing filed");
}

/// A document store whose first `batch` call fails as if the process died
/// just before the metadata was written.
#[derive(Debug)]
struct FailFirstBatch {
    inner: Arc<EmbeddedStore>,
    failed: AtomicUsize,
}

#[async_trait::async_trait]
impl DocumentStore for FailFirstBatch {
    async fn get(&self, collection: &str, partition: &str, id: &str) -> StoreResult<Option<Document>> {
        DocumentStore::get(self.inner.as_ref(), collection, partition, id).await
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
        DocumentStore::delete(self.inner.as_ref(), collection, partition, id, if_match).await
    }
    async fn query(&self, collection: &str, partition: &str, query: Query) -> StoreResult<Page> {
        self.inner.query(collection, partition, query).await
    }
    async fn batch(&self, collection: &str, partition: &str, ops: Vec<BatchOp>) -> StoreResult<BatchResult> {
        if self.failed.fetch_add(1, Ordering::SeqCst) == 0 {
            return Err(StoreError::Unavailable("simulated crash before the metadata".into()));
        }
        self.inner.batch(collection, partition, ops).await
    }
    async fn purge_expired(&self) -> StoreResult<u64> {
        self.inner.purge_expired().await
    }
    async fn ping(&self) -> StoreResult<()> {
        DocumentStore::ping(self.inner.as_ref()).await
    }
}

#[tokio::test]
async fn a_failure_between_blob_and_metadata_is_retried_and_finishes() {
    let mut portal = portal();
    portal.documents.documents = Arc::new(FailFirstBatch { inner: portal.store.clone(), failed: AtomicUsize::new(0) });
    let plain = b"Vypis z katastru".to_vec();
    let event = filed_event(&portal, "extract-1", &plain, true).await;
    match file_document::file_document(&portal.documents, &event).await {
        Err(InvocationError::Retryable(_)) => {}
        other => panic!("expected a retryable failure, got {other:?}"),
    }
    assert_eq!(blobs(&portal, "documents/").await, 1, "the blob was written before the failure");
    assert!(
        DocumentStore::get(portal.store.as_ref(), "documents", JANA, "doc-extract-1").await.expect("get").is_none()
    );
    file_document::file_document(&portal.documents, &event).await.expect("the retry files it");
    file_document::file_document(&portal.documents, &event).await.expect("and a replay is a no-op");
    assert_eq!(blobs(&portal, "documents/").await, 1);
    let jana = portal.login(JANA).await;
    let (status, _, body) = call(&portal.router, get("/api/documents/extract-1/content", &jana)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, plain);
}

#[tokio::test]
async fn the_host_delivers_document_filed_messages_to_file_document() {
    let portal = portal();
    let event = filed_event(&portal, "receipt-host", b"pres hostitele", true).await;
    let now = portal_store::Clock::now(portal.clock.as_ref());
    let request = queue_delivery("FileDocument", &serde_json::to_string(&event).expect("json"), now);
    let (status, _, body) = call(&portal.router, request).await;
    assert_eq!(status, StatusCode::OK, "{}", text(&body));
    assert!(
        DocumentStore::get(portal.store.as_ref(), "documents", JANA, "doc-receipt-host").await.expect("get").is_some()
    );
}

#[tokio::test]
async fn erasure_deletes_a_citizens_documents_blobs_and_links_and_a_replay_succeeds() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    let petr = portal.login(PETR).await;
    let pdf = || FilePart { name: "a.pdf", mime: "application/pdf", content: small_pdf() };
    let first = upload(&portal, &jana, &pdf(), &[]).await;
    upload(&portal, &jana, &pdf(), &[]).await;
    upload(&portal, &petr, &pdf(), &[]).await;
    share(&portal, &jana, first["id"].as_str().expect("id"), None).await;
    let jana_blobs = format!("documents/{}/", portal_documents::owner_folder(JANA));
    let petr_blobs = format!("documents/{}/", portal_documents::owner_folder(PETR));
    assert_eq!(blobs(&portal, &jana_blobs).await, 2);

    portal.documents.sealer.keys().shred(JANA).await.expect("the erasure shreds her key first");

    let event = Event::new(kinds::ERASED, &format!("{JANA}:1795420800"), JANA, START, json!({}));
    for _ in 0..2 {
        portal_documents::queue::erase_documents_data::erase(&portal.documents, &event).await.expect("erased");
    }
    let left = portal.store.query("documents", JANA, Query::default()).await.expect("query");
    assert!(left.items.is_empty(), "nothing of hers is left: {:?}", left.items);
    let links = portal.store.query("documents", "share-links", Query::default()).await.expect("query");
    assert!(links.items.is_empty(), "her link lookup went with her share record");
    assert_eq!(blobs(&portal, &jana_blobs).await, 0);
    assert_eq!(blobs(&portal, &petr_blobs).await, 1, "Petr's content is untouched");
    let (status, _, body) = call(&portal.router, get("/api/documents", &petr)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(items(&body).len(), 1, "Petr's document is untouched");
    assert_eq!(usage(&portal, PETR).await.1, 1);
}
