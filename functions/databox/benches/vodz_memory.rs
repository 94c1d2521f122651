//! How much a big message (VoDZ) raises the process's memory in the SOAP
//! adapter: uploading a 100 MB file (`UploadAttachment`, MTOM/XOP, the file
//! part streamed from the message's buffer) and downloading a 100 MB message's
//! signed ZFO (`SignedBigMessageDownload`, the ZFO an XOP part, then opened
//! into envelope and file).
//!
//! ```sh
//! cargo bench -p portal-databox --bench vodz_memory
//! ```
//!
//! A local server plays the VoDZ service in the same process: it counts the
//! upload's bytes as they arrive (keeping none) and answers the download from
//! a ZFO built before the measurement. Before each measured call the peak
//! resident set is reset (`/proc/self/clear_refs` 5); the figure is
//! `VmHWM - VmRSS` (the rise of the peak over the resident set just before),
//! which includes the server's side. Figures go to docs/benchmarks.md.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use futures::StreamExt as _;
use portal_databox::isds::soap::{SoapConfig, SoapIsds, SoapLogin, SoapTimeouts};
use portal_databox::isds::{
    Access, Attachment, AttachmentUpload, BoxContext, BoxId, Direction, FileMetaType, Isds, MessageId, SessionContext,
};
use secrecy::SecretString;

#[path = "../tests/support/zfo.rs"]
mod zfo;

use zfo::zfo_der;

const SIZE: usize = 100_000_000;
const BOX: &str = "fo4ab2c";
const SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";

fn kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/self/status"))
}

#[derive(Clone)]
struct Server {
    received: Arc<AtomicUsize>,
    /// The XOP answer of the download, built before the measurement.
    download: Bytes,
}

fn soap12(operation: &str, inner: &str) -> String {
    format!(
        "<s:Envelope xmlns:s=\"{SOAP12}\"><s:Body><p:{operation}Response xmlns:p=\"http://isds.czechpoint.cz/v20\">\
         {inner}<p:dmStatus><p:dmStatusCode>0000</p:dmStatusCode></p:dmStatus></p:{operation}Response></s:Body>\
         </s:Envelope>"
    )
}

async fn answer(State(server): State<Server>, request: Request) -> Response {
    let xop = request.headers().get("content-type").is_some_and(|v| v.as_bytes().starts_with(b"multipart/related"));
    let mut body = request.into_body().into_data_stream();
    let mut head = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.expect("body");
        server.received.fetch_add(chunk.len(), Ordering::Relaxed);
        if head.len() < 4096 {
            head.extend_from_slice(&chunk[..chunk.len().min(4096)]);
        }
    }
    if xop {
        let inner = "<p:dmAttID>att-1</p:dmAttID><p:dmAttHash1 AttHashAlg=\"SHA-256\">00</p:dmAttHash1>\
                     <p:dmAttHash2 AttHashAlg=\"SHA-512\">00</p:dmAttHash2>";
        return ([("content-type", "application/soap+xml")], soap12("UploadAttachment", inner)).into_response();
    }
    let content_type = "multipart/related; type=\"application/xop+xml\"; boundary=\"b\"; start=\"<root>\"";
    ([("content-type", content_type)], Body::from(server.download.clone())).into_response()
}

/// The XOP answer of `SignedBigMessageDownload` for message `id` with one
/// file of `content`.
fn download_answer(id: &str, content: &[u8]) -> Bytes {
    let inner = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><q:MessageDownloadResponse \
         xmlns:q=\"http://isds.czechpoint.cz/v20/message\" xmlns:p=\"http://isds.czechpoint.cz/v20\">\
         <q:dmReturnedMessage dmVODZ=\"true\"><p:dmDm><p:dmID>{id}</p:dmID><p:dbIDSender>ovm7x9k</p:dbIDSender>\
         <p:dmSender>Úřad</p:dmSender><p:dmRecipient>Jana</p:dmRecipient><p:dbIDRecipient>{BOX}</p:dbIDRecipient>\
         <p:dmAnnotation>Velká zpráva</p:dmAnnotation><p:dmFiles><p:dmFile dmMimeType=\"application/pdf\" \
         dmFileMetaType=\"main\" dmFileDescr=\"plan.pdf\"><p:dmEncodedContent>{}</p:dmEncodedContent></p:dmFile>\
         </p:dmFiles></p:dmDm><q:dmMessageStatus>6</q:dmMessageStatus></q:dmReturnedMessage>\
         </q:MessageDownloadResponse>",
        BASE64.encode(content)
    );
    let zfo = zfo_der(inner.as_bytes());
    let root = soap12(
        "SignedBigMessageDownload",
        "<p:dmSignature><xop:Include xmlns:xop=\"http://www.w3.org/2004/08/xop/include\" href=\"cid:zfo\"/>\
         </p:dmSignature>",
    );
    let mut out = format!(
        "--b\r\nContent-Type: application/xop+xml; type=\"application/soap+xml\"\r\nContent-ID: <root>\r\n\r\n{root}\
         \r\n--b\r\nContent-Type: application/octet-stream\r\nContent-ID: <zfo>\r\n\r\n"
    )
    .into_bytes();
    out.extend_from_slice(&zfo);
    out.extend_from_slice(b"\r\n--b--\r\n");
    Bytes::from(out)
}

fn citizen() -> portal_security::Citizen {
    let session: portal_security::Session = serde_json::from_value(serde_json::json!({
        "subject": "DEMO%2Fjana-novakova", "loa": "substantial", "provider": "development", "csrfToken": "t",
        "createdAt": "2026-03-02T08:00:00Z", "lastSeen": "2026-03-02T08:00:00Z", "expiresAt": "2026-03-02T16:00:00Z",
    }))
    .expect("a stored session");
    portal_security::Citizen {
        subject: session.subject.clone(),
        loa: session.loa,
        credential: portal_security::Credential::Cookie,
        session,
    }
}

fn file(content: Vec<u8>) -> Attachment {
    Attachment {
        name: "plan.pdf".into(),
        mime_type: "application/pdf".into(),
        meta_type: FileMetaType::Main,
        content: Bytes::from(content),
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(async {
        let id = "900000001";
        let server = Server { received: Arc::default(), download: download_answer(id, &vec![b'd'; SIZE]) };
        let received = server.received.clone();
        let app = Router::new().fallback(answer).with_state(server).layer(axum::extract::DefaultBodyLimit::disable());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
        let own = BoxId::parse(BOX).expect("box");
        let login =
            SoapLogin::Password { user: "bench".into(), password: SecretString::from("x"), own_box: own.clone() };
        let isds = SoapIsds::new(SoapConfig {
            base_url: format!("http://{addr}/DS/"),
            login,
            timeouts: SoapTimeouts::default(),
        })
        .expect("adapter");
        let ctx = BoxContext::for_job(own.clone(), Access::HostedRecordsSystem, "bench");

        // Upload: the message's buffer exists before (the form was read).
        let warm = file(b"%PDF-1.7 warm-up".to_vec());
        isds.upload_attachment(&ctx, AttachmentUpload::of(&warm, 64 * 1024)).await.expect("warm-up");
        let big = file(vec![b'u'; SIZE]);
        received.store(0, Ordering::Relaxed);
        std::fs::write("/proc/self/clear_refs", "5").expect("reset the peak resident set");
        let before = kib("VmRSS:");
        isds.upload_attachment(&ctx, AttachmentUpload::of(&big, 64 * 1024)).await.expect("upload");
        let peak = kib("VmHWM:");
        let sent = received.load(Ordering::Relaxed);
        assert!(sent > SIZE && sent < SIZE + 4096, "the file went raw, not in base64: {sent}");
        println!(
            "upload of {} MB: peak rose {:.1} MB over {:.1} MB resident (request body {} bytes)",
            SIZE / 1_000_000,
            (peak.saturating_sub(before)) as f64 / 1024.0,
            before as f64 / 1024.0,
            sent
        );
        drop(big);

        // Download: the answer is built (server side) before.
        let session = SessionContext::new(own, Access::HostedRecordsSystem, &citizen());
        let message_id = MessageId::parse(id).expect("id");
        std::fs::write("/proc/self/clear_refs", "5").expect("reset the peak resident set");
        let before = kib("VmRSS:");
        let message = isds.download_big_message(&session, Direction::Received, &message_id).await.expect("download");
        let peak = kib("VmHWM:");
        assert_eq!(message.attachments[0].content.len(), SIZE);
        println!(
            "download of a {} MB message (ZFO {:.1} MB): peak rose {:.1} MB over {:.1} MB resident",
            SIZE / 1_000_000,
            message.zfo.len() as f64 / 1_000_000.0,
            (peak.saturating_sub(before)) as f64 / 1024.0,
            before as f64 / 1024.0
        );
    });
}
