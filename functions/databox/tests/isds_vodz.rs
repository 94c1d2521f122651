//! Big messages (VoDZ) through the real SOAP adapter, against a local HTTP
//! server that plays ISDS's VoDZ service (`/DS/vodz`, SOAP 1.2, MTOM/XOP):
//! it parses the upload's XOP package itself, keeps the files, checks that
//! `CreateBigMessage` names them with their hashes, and answers the big
//! downloads as XOP packages. Made from the public schema and the MTOM/XOP
//! specifications, not captured from ISDS.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use portal_databox::isds::soap::SoapIsds;
use portal_databox::isds::{
    Access, BoxContext, BoxId, DeliveredMessage, Direction, Isds, MessageId, SessionContext, Stash,
};
use portal_databox::{BoxDirectory, functions};
use portal_security::SubjectId;
use portal_store::BlobStore as _;
use portal_testkit::{Harness, JANA, Part, call, get, json_of, multipart};
use quick_xml::events::Event;
use quick_xml::reader::Reader;

mod support;

use portal_databox::box_requests::NotConnected as NotConnectedBoxes;
use support::databox_on;
use support::zfo::zfo_der;

const JANA_BOX: &str = "fo4ab2c";
const SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";

/// One request the fake saw.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    operation: String,
    content_type: String,
    body_len: usize,
}

#[derive(Debug, Clone)]
struct File {
    name: String,
    mime_type: String,
    meta_type: String,
    content: Vec<u8>,
}

#[derive(Debug, Default)]
struct FakeState {
    seen: Vec<Seen>,
    /// dmAttID -> (file, SHA-256 hex, SHA-512 hex)
    uploads: BTreeMap<String, (File, String, String)>,
    /// dmID -> (sender, recipient, subject, files)
    messages: BTreeMap<String, (String, String, String, Vec<File>)>,
    /// The ZFOs the fake answered, by dmID.
    zfos: BTreeMap<String, Vec<u8>>,
}

#[derive(Debug, Clone, Default)]
struct Fake(Arc<Mutex<FakeState>>);

impl Fake {
    fn seen(&self) -> Vec<Seen> {
        self.0.lock().expect("lock").seen.clone()
    }
}

fn hex(algorithm: &'static aws_lc_rs::digest::Algorithm, content: &[u8]) -> String {
    aws_lc_rs::digest::digest(algorithm, content).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// A Content-Type parameter (quoted or not).
fn param(content_type: &str, name: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (key, value) = p.split_once('=')?;
        (key.trim().eq_ignore_ascii_case(name)).then(|| value.trim().trim_matches('"').to_owned())
    })
}

/// The parts of a multipart body: (headers, content).
fn parts(content_type: &str, body: &[u8]) -> Vec<(String, Vec<u8>)> {
    let boundary = param(content_type, "boundary").expect("a boundary");
    let delimiter = format!("\r\n--{boundary}").into_bytes();
    let mut body = body.to_vec();
    body.splice(0..0, b"\r\n".iter().copied());
    let mut positions = Vec::new();
    let mut at = 0;
    while let Some(i) = body[at..].windows(delimiter.len()).position(|w| w == delimiter.as_slice()) {
        positions.push(at + i);
        at += i + delimiter.len();
    }
    assert!(positions.len() >= 2, "a multipart body with parts");
    let last = *positions.last().expect("last");
    assert_eq!(&body[last + delimiter.len()..last + delimiter.len() + 2], b"--", "a closing delimiter");
    positions
        .windows(2)
        .map(|w| {
            let part = &body[w[0] + delimiter.len() + 2..w[1]];
            let split = part.windows(4).position(|x| x == b"\r\n\r\n").expect("part headers");
            (String::from_utf8(part[..split].to_vec()).expect("ASCII headers"), part[split + 4..].to_vec())
        })
        .collect()
}

/// Elements' texts and attributes of a request, by local name (the first of each).
fn read(xml: &str) -> (String, BTreeMap<String, String>, Vec<BTreeMap<String, String>>) {
    let mut reader = Reader::from_str(xml);
    let (mut operation, mut texts, mut ext_files) = (String::new(), BTreeMap::new(), Vec::new());
    let mut current = String::new();
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) | Event::Empty(e) => {
                let name = String::from_utf8(e.local_name().as_ref().to_vec()).expect("name");
                let attrs: BTreeMap<String, String> = e
                    .attributes()
                    .map(|a| {
                        let a = a.expect("attribute");
                        let key = String::from_utf8(a.key.local_name().as_ref().to_vec()).expect("key");
                        (key, a.normalized_value(quick_xml::XmlVersion::Implicit1_0).expect("value").into_owned())
                    })
                    .collect();
                if operation.is_empty() && !["Envelope", "Body"].contains(&name.as_str()) {
                    operation = name.clone();
                }
                if name == "dmExtFile" {
                    ext_files.push(attrs.clone());
                }
                for (key, value) in attrs {
                    texts.entry(format!("{name}@{key}")).or_insert(value);
                }
                current = name;
            }
            Event::Text(t) => {
                let text = t.xml10_content().expect("text").trim().to_owned();
                if !text.is_empty() {
                    texts.entry(current.clone()).or_insert(text);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    (operation, texts, ext_files)
}

fn soap12(operation: &str, inner: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><s:Envelope xmlns:s=\"{SOAP12}\"><s:Body>\
         <p:{operation}Response xmlns:p=\"http://isds.czechpoint.cz/v20\">{inner}</p:{operation}Response>\
         </s:Body></s:Envelope>"
    )
}

fn status(code: &str) -> String {
    format!("<p:dmStatus><p:dmStatusCode>{code}</p:dmStatusCode><p:dmStatusMessage>…</p:dmStatusMessage></p:dmStatus>")
}

async fn answer(State(fake): State<Fake>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let (xml, file) = if content_type.starts_with("multipart/related") {
        let parts = parts(&content_type, &body);
        assert_eq!(parts.len(), 2, "the envelope and one file");
        (String::from_utf8(parts[0].1.clone()).expect("UTF-8"), Some(parts[1].1.clone()))
    } else {
        (String::from_utf8(body.to_vec()).expect("UTF-8"), None)
    };
    let (operation, texts, ext_files) = read(&xml);
    let mut state = fake.0.lock().expect("lock");
    let path = uri.path().to_owned();
    state.seen.push(Seen { path: path.clone(), operation: operation.clone(), content_type, body_len: body.len() });
    let xml_answer = |text: String| (StatusCode::OK, [("content-type", "application/soap+xml; charset=utf-8")], text);
    match (path.as_str(), operation.as_str()) {
        ("/DS/vodz", "UploadAttachment") => {
            assert!(xml.contains("<xop:Include"), "the file is an XOP part, not base64 in the envelope");
            let content = file.expect("the file part");
            let (sha256, sha512) =
                (hex(&aws_lc_rs::digest::SHA256, &content), hex(&aws_lc_rs::digest::SHA512, &content));
            let id = format!("att-{}", state.uploads.len() + 1);
            let uploaded = File {
                name: texts["dmFile@dmFileDescr"].clone(),
                mime_type: texts["dmFile@dmMimeType"].clone(),
                meta_type: String::new(),
                content,
            };
            state.uploads.insert(id.clone(), (uploaded, sha256.clone(), sha512.clone()));
            let inner = format!(
                "<p:dmAttID>{id}</p:dmAttID><p:dmAttHash1 AttHashAlg=\"SHA-256\">{sha256}</p:dmAttHash1>\
                 <p:dmAttHash2 AttHashAlg=\"SHA-512\">{sha512}</p:dmAttHash2>{}",
                status("0000")
            );
            xml_answer(soap12("UploadAttachment", &inner)).into_response()
        }
        ("/DS/vodz", "CreateBigMessage") => {
            let mut files = Vec::new();
            for ext in &ext_files {
                let Some((file, sha256, sha512)) = state.uploads.get(&ext["dmAttID"]) else {
                    return xml_answer(soap12("CreateBigMessage", &status("1234"))).into_response();
                };
                assert_eq!((&ext["dmAttHash1"], &ext["dmAttHash1Alg"]), (sha256, &"SHA-256".to_owned()));
                assert_eq!((&ext["dmAttHash2"], &ext["dmAttHash2Alg"]), (sha512, &"SHA-512".to_owned()));
                files.push(File { meta_type: ext["dmFileMetaType"].clone(), ..file.clone() });
            }
            let id = format!("{}", 900_000_001 + state.messages.len());
            let (recipient, subject) = (texts["dbIDRecipient"].clone(), texts["dmAnnotation"].clone());
            state.messages.insert(id.clone(), (JANA_BOX.into(), recipient, subject, files));
            xml_answer(soap12("CreateBigMessage", &format!("<p:dmID>{id}</p:dmID>{}", status("0000")))).into_response()
        }
        ("/DS/vodz", "SignedBigMessageDownload" | "SignedSentBigMessageDownload") => {
            let id = texts["dmID"].clone();
            let Some((sender, recipient, subject, files)) = state.messages.get(&id).cloned() else {
                return xml_answer(soap12(&operation, &status("1219"))).into_response();
            };
            let zfo = zfo_der(inner_message(&id, &sender, &recipient, &subject, &files).as_bytes());
            state.zfos.insert(id, zfo.clone());
            let boundary = "isds-vodz-answer";
            let root = soap12(
                &operation,
                &format!(
                    "<p:dmSignature><xop:Include xmlns:xop=\"http://www.w3.org/2004/08/xop/include\" \
                     href=\"cid:zfo%40isds\"/></p:dmSignature>{}",
                    status("0000")
                ),
            );
            let mut out = format!(
                "--{boundary}\r\nContent-Type: application/xop+xml; charset=UTF-8; type=\"application/soap+xml\"\r\n\
                 Content-ID: <root@isds>\r\n\r\n{root}\r\n--{boundary}\r\nContent-Type: application/octet-stream\r\n\
                 Content-Transfer-Encoding: binary\r\nContent-ID: <zfo@isds>\r\n\r\n"
            )
            .into_bytes();
            out.extend_from_slice(&zfo);
            out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
            let content_type = format!(
                "multipart/related; type=\"application/xop+xml\"; boundary=\"{boundary}\"; start=\"<root@isds>\"; \
                 start-info=\"application/soap+xml\""
            );
            (StatusCode::OK, [("content-type", content_type)], out).into_response()
        }
        // ISDS refuses a big message on the standard download (the code is
        // the one a public client reports; the portal takes any refusal).
        ("/DS/dz", "SignedMessageDownload" | "SignedSentMessageDownload") => {
            let text = format!(
                "<?xml version=\"1.0\"?><s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body>\
                 <p:{operation}Response xmlns:p=\"http://isds.czechpoint.cz/v20\">{}</p:{operation}Response>\
                 </s:Body></s:Envelope>",
                status("1281")
            );
            (StatusCode::OK, [("content-type", "text/xml; charset=utf-8")], text).into_response()
        }
        _ => (StatusCode::NOT_IMPLEMENTED, "unknown operation").into_response(),
    }
}

/// The signed document of a big message (`MessageDownloadResponse`, marked
/// `dmVODZ`), files in base64.
fn inner_message(id: &str, sender: &str, recipient: &str, subject: &str, files: &[File]) -> String {
    let files: String = files
        .iter()
        .map(|f| {
            format!(
                "<p:dmFile dmMimeType=\"{}\" dmFileMetaType=\"{}\" dmFileDescr=\"{}\"><p:dmEncodedContent>{}\
                 </p:dmEncodedContent></p:dmFile>",
                f.mime_type,
                f.meta_type,
                f.name,
                BASE64.encode(&f.content)
            )
        })
        .collect();
    let size_kb = 21_000;
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><q:MessageDownloadResponse \
         xmlns:q=\"http://isds.czechpoint.cz/v20/SentMessage\" xmlns:p=\"http://isds.czechpoint.cz/v20\">\
         <q:dmReturnedMessage dmType=\"V\" dmVODZ=\"true\" attsNum=\"2\"><p:dmDm><p:dmID>{id}</p:dmID>\
         <p:dbIDSender>{sender}</p:dbIDSender><p:dmSender>Jana Nováková</p:dmSender>\
         <p:dmRecipient>Městský úřad</p:dmRecipient><p:dbIDRecipient>{recipient}</p:dbIDRecipient>\
         <p:dmAnnotation>{subject}</p:dmAnnotation><p:dmFiles>{files}</p:dmFiles></p:dmDm>\
         <q:dmDeliveryTime>2026-03-02T09:00:00+01:00</q:dmDeliveryTime>\
         <q:dmMessageStatus>4</q:dmMessageStatus><q:dmAttachmentSize>{size_kb}</q:dmAttachmentSize>\
         </q:dmReturnedMessage></q:MessageDownloadResponse>"
    )
}

#[derive(Debug)]
struct Directory;

#[async_trait]
impl BoxDirectory for Directory {
    async fn box_of(&self, subject: &SubjectId) -> Option<BoxId> {
        (subject.as_str() == JANA).then(|| BoxId::parse(JANA_BOX).expect("box"))
    }
}

async fn start() -> (Fake, SoapIsds) {
    let fake = Fake::default();
    // ISDS takes a 100 MB upload; axum's default limit is 2 MB.
    let app = Router::new().fallback(answer).with_state(fake.clone()).layer(axum::extract::DefaultBodyLimit::disable());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    let config = support::soap_config(addr, JANA_BOX);
    (fake, SoapIsds::new(config).expect("adapter"))
}

fn pdf_of(size: usize, fill: u8) -> Vec<u8> {
    let mut content = b"%PDF-1.7\n".to_vec();
    content.resize(size, fill);
    content
}

#[tokio::test]
async fn a_21_mb_message_is_uploaded_as_xop_parts_created_and_opened_through_the_big_download() {
    let (fake, isds) = start().await;
    let harness = Harness::new();
    let databox = databox_on(&harness, Arc::new(isds), Arc::new(NotConnectedBoxes), Arc::new(Directory));
    let router = harness.router(functions(databox));
    let jana = harness.login(JANA).await;
    let (main, plans) = (pdf_of(15_000_000, b'm'), pdf_of(6_000_000, b'p'));
    let parts = [
        Part::field("recipient", "ovm7x9k"),
        Part::field("subject", "Stavební povolení – výkresy"),
        Part::file("attachment", "žádost.pdf", "application/pdf", &main),
        Part::file("attachment", "výkresy.pdf", "application/pdf", &plans),
    ];
    let mut request = multipart("/api/databox/messages", &jana, &parts);
    request.headers_mut().insert("idempotency-key", "vodz-1".parse().expect("header"));

    let (status, _, body) = call(&router, request).await;
    assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&body));
    let id = json_of(&body)["id"].as_str().expect("id").to_owned();

    let seen = fake.seen();
    let operations: Vec<(&str, &str)> = seen.iter().map(|s| (s.path.as_str(), s.operation.as_str())).collect();
    assert_eq!(
        operations,
        [("/DS/vodz", "UploadAttachment"), ("/DS/vodz", "UploadAttachment"), ("/DS/vodz", "CreateBigMessage")]
    );
    for (upload, size) in seen[..2].iter().zip([main.len(), plans.len()]) {
        assert!(upload.content_type.starts_with("multipart/related;"), "{}", upload.content_type);
        assert!(upload.content_type.contains("type=\"application/xop+xml\""), "{}", upload.content_type);
        // The raw file and a small envelope: no base64 (which would be 4/3 of it).
        assert!(upload.body_len > size && upload.body_len < size + 4096, "{} for {size}", upload.body_len);
    }
    assert!(seen[2].content_type.starts_with("application/soap+xml"), "{}", seen[2].content_type);
    {
        let state = fake.0.lock().expect("lock");
        let (_, recipient, subject, files) = &state.messages[&id];
        assert_eq!((recipient.as_str(), subject.as_str()), ("ovm7x9k", "Stavební povolení – výkresy"));
        let names: Vec<(&str, &str)> = files.iter().map(|f| (f.name.as_str(), f.meta_type.as_str())).collect();
        assert_eq!(names, [("žádost.pdf", "main"), ("výkresy.pdf", "enclosure")]);
        assert!(files[0].content == main && files[1].content == plans, "ISDS has the files byte for byte");
    }

    // Jana opens it in her sent folder: the standard download is refused,
    // the big one answers with the ZFO as an XOP part.
    let (status, _, detail) = call(&router, get(&format!("/api/databox/messages/sent/{id}"), &jana)).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&detail));
    let detail = json_of(&detail);
    assert_eq!(detail["big"], true, "{detail}");
    let sizes: Vec<u64> =
        detail["attachments"].as_array().expect("files").iter().filter_map(|a| a["size"].as_u64()).collect();
    assert_eq!(sizes, [main.len() as u64, plans.len() as u64]);
    let (status, _, zfo) = call(&router, get(&format!("/api/databox/messages/sent/{id}/zfo"), &jana)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(zfo[..] == fake.0.lock().expect("lock").zfos[&id][..], "the ZFO as ISDS sent it");
    let downloads: Vec<(String, String)> =
        fake.seen()[3..5].iter().map(|s| (s.path.clone(), s.operation.clone())).collect();
    assert_eq!(
        downloads,
        [
            ("/DS/dz".into(), "SignedSentMessageDownload".into()),
            ("/DS/vodz".into(), "SignedSentBigMessageDownload".into())
        ]
    );
}

#[tokio::test]
async fn a_big_received_message_comes_from_the_xop_part_for_the_citizen_and_the_archive() {
    let (fake, isds) = start().await;
    let received = File {
        name: "rozhodnutí.pdf".into(),
        mime_type: "application/pdf".into(),
        meta_type: "main".into(),
        content: pdf_of(21_000_000, b'r'),
    };
    fake.0
        .lock()
        .expect("lock")
        .messages
        .insert("900000777".into(), ("ovm7x9k".into(), JANA_BOX.into(), "Rozhodnutí".into(), vec![received.clone()]));
    let id = MessageId::parse("900000777").expect("id");
    let citizen = support::citizen(JANA);
    let jana_box = BoxId::parse(JANA_BOX).expect("box");
    let session = SessionContext::new(jana_box.clone(), Access::HostedRecordsSystem, &citizen);

    // The ZFO and the file into sealed blobs of the citizen's stash.
    let harness = Harness::new();
    let stash = Stash::sealed(harness.store.clone(), harness.sealer.clone(), JANA, portal_testkit::START);
    let message = isds.download_big_message(&session, Direction::Received, &id, &stash).await.expect("downloaded");
    assert!(message.envelope.big);
    assert_eq!(message.envelope.subject, "Rozhodnutí");
    assert_eq!(message.attachments.len(), 1);
    assert!(!message.attachments[0].content.is_in_memory() && !message.zfo.is_in_memory(), "sealed blobs");
    let file = message.attachments[0].content.bytes().await.expect("the file");
    assert!(file[..] == received.content[..], "the file byte for byte");
    let zfo = fake.0.lock().expect("lock").zfos["900000777"].clone();
    assert!(message.zfo.bytes().await.expect("the ZFO")[..] == zfo[..]);
    // Stored sealed: two blobs in the spool's folder, no run of the file or
    // the ZFO in clear.
    let stashed = harness.store.list("databox-spool/").await.expect("list");
    assert_eq!(stashed.len(), 2, "{stashed:?}");
    for info in &stashed {
        let (_, raw) = harness.blob(info.path.as_str()).await;
        assert!(!raw.windows(64).any(|w| w == &received.content[1_000_000..1_000_064]), "clear text of the file");
        assert!(!raw.windows(64).any(|w| w == &zfo[2_000_000..2_000_064]), "clear text of the ZFO");
    }
    // Deleted once the message and its stash are dropped (by a task).
    drop((message, stash, file));
    let gone = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        while !harness.store.list("databox-spool/").await.expect("list").is_empty() {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(gone.is_ok(), "the stash is gone");
    let message = isds
        .download_big_message(&session, Direction::Received, &id, &Stash::in_memory())
        .await
        .expect("downloaded again");
    assert_eq!(fake.seen().last().map(|s| s.operation.clone()).as_deref(), Some("SignedBigMessageDownload"));

    // The archive's download of a delivered big message takes the same service.
    let mut envelope = message.envelope.clone();
    envelope.status = portal_databox::isds::MessageStatus::AcceptedByLogin;
    envelope.acceptance_time = Some(time::macros::datetime!(2026-03-02 10:00 +01:00));
    let delivered = DeliveredMessage::of(&envelope).expect("delivered");
    assert!(delivered.is_big());
    let job = BoxContext::for_job(jana_box, Access::HostedRecordsSystem, "archive");
    let archived = isds.download_delivered(&job, &delivered, &Stash::in_memory()).await.expect("downloaded");
    assert_eq!(archived.attachments[0].content.len(), 21_000_000);
    let last = fake.seen().last().cloned().expect("a request");
    assert_eq!((last.path.as_str(), last.operation.as_str()), ("/DS/vodz", "SignedBigMessageDownload"));
    assert_eq!(fake.seen().len(), 3, "no standard download was tried");
}
