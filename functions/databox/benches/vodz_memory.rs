//! How much a big message (VoDZ) raises the process's memory in the SOAP
//! adapter: uploading a 100 MB file (`UploadAttachment`, MTOM/XOP, the file
//! part streamed from the message's buffer), downloading a 100 MB message's
//! signed ZFO (`SignedBigMessageDownload`, the ZFO an XOP part; the answer
//! streams into a temporary file in the system's temporary folder and the
//! ZFO is read back from it, then opened into envelope and file), and sending a 100 MB form end to end
//! (`POST /api/databox/messages` through the capability's router, on a store
//! on disk, the form streamed in 64 KiB pieces as a network delivers them, the
//! message sent by the SOAP adapter to the same local VoDZ server).
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
use portal_databox::isds::zfo_verify::{TrustAnchors, verify_content};
use portal_databox::isds::{
    Access, Attachment, AttachmentUpload, BoxContext, BoxId, Direction, FileMetaType, Isds, MessageId, SessionContext,
    Stash,
};
use secrecy::SecretString;

#[path = "../tests/support/mod.rs"]
mod support;

use support::zfo::zfo_der;

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
    if String::from_utf8_lossy(&head).contains("CreateBigMessage") {
        let inner = "<p:dmID>900000002</p:dmID>";
        return ([("content-type", "application/soap+xml")], soap12("CreateBigMessage", inner)).into_response();
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
    support::citizen("DEMO%2Fjana-novakova")
}

fn file(content: Vec<u8>) -> Attachment {
    Attachment {
        name: "plan.pdf".into(),
        mime_type: "application/pdf".into(),
        meta_type: FileMetaType::Main,
        content: Bytes::from(content),
    }
}

#[derive(Debug)]
struct Directory;

#[async_trait::async_trait]
impl portal_databox::BoxDirectory for Directory {
    async fn box_of(&self, _: &portal_security::SubjectId) -> Option<BoxId> {
        BoxId::parse(BOX).ok()
    }
}

/// `POST /api/databox/messages` with one file of `size` bytes, its body a
/// stream of 64 KiB pieces made as they are sent (the client holds nothing).
fn send_form(login: &portal_testkit::Login, size: usize) -> axum::http::Request<Body> {
    use portal_testkit::{Part, multipart};
    let template = multipart("/api/databox/messages", login, &[Part::field("recipient", "ovm7x9k")]);
    let (mut parts, _) = template.into_parts();
    let content_type = parts.headers["content-type"].to_str().expect("content type").to_owned();
    let boundary = content_type.split("boundary=").nth(1).expect("boundary").trim_matches('"').to_owned();
    parts.headers.remove("content-length");
    parts.headers.insert("idempotency-key", "bench-send-1".parse().expect("key"));
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"recipient\"\r\n\r\novm7x9k\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"subject\"\r\n\r\nVelká zpráva\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"attachment\"; filename=\"plan.pdf\"\r\n\
         Content-Type: application/pdf\r\n\r\n"
    );
    let tail = format!("\r\n--{boundary}--\r\n");
    let piece = Bytes::from(vec![b's'; 64 * 1024]);
    let pieces = (0..size).step_by(piece.len()).map(move |start| piece.slice(..piece.len().min(size - start)));
    // Each piece after the reader asked again, as from a network: a body
    // that is always ready would let the multipart reader buffer all of it.
    let arriving = futures::stream::iter(pieces).then(|piece| async move {
        tokio::task::yield_now().await;
        piece
    });
    let body = futures::stream::once(async move { Bytes::from(head) })
        .chain(arriving)
        .chain(futures::stream::once(async move { Bytes::from(tail) }))
        .map(Ok::<_, std::io::Error>);
    axum::http::Request::from_parts(parts, Body::from_stream(body))
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

        // Download: the answer is built (server side) before; the ZFO and
        // the file go into a stash on a store on disk, sealed under the
        // citizen's key (as the capability's `Databox::stash` makes it).
        let (data, keys) = (tempfile::tempdir().expect("data"), tempfile::tempdir().expect("keys"));
        let harness = portal_testkit::Harness::on_disk(data.path(), keys.path(), portal_testkit::START);
        let session = SessionContext::new(own, Access::HostedRecordsSystem, &citizen());
        let message_id = MessageId::parse(id).expect("id");
        let stash = || {
            Stash::sealed(harness.store.clone(), harness.sealer.clone(), "DEMO%2Fjana-novakova", portal_testkit::START)
        };
        // The citizen's key made and the store written once, by a small put
        // (not a whole download: its freed pages would hide the one measured).
        let warm = stash();
        let piece = futures::stream::iter([Ok(Bytes::from_static(b"warm-up"))]).boxed();
        drop(warm.put("warm-up", piece).await.expect("warm-up put"));
        drop(warm);
        std::fs::write("/proc/self/clear_refs", "5").expect("reset the peak resident set");
        let before = kib("VmRSS:");
        let message =
            isds.download_big_message(&session, Direction::Received, &message_id, &stash()).await.expect("download");
        let peak = kib("VmHWM:");
        assert_eq!(message.attachments[0].content.len(), SIZE as u64);
        assert!(!message.attachments[0].content.is_in_memory() && !message.zfo.is_in_memory(), "sealed blobs");
        println!(
            "download of a {} MB message (ZFO {:.1} MB): peak rose {:.1} MB over {:.1} MB resident",
            SIZE / 1_000_000,
            message.zfo.len() as f64 / 1_000_000.0,
            (peak.saturating_sub(before)) as f64 / 1024.0,
            before as f64 / 1024.0
        );

        // The detail's signature check: the ZFO read back from its blob and
        // hashed as it passes (the bench's ZFO has placeholders for the
        // certificate and signature, so it does not verify; the content is
        // hashed whole before that is found).
        std::fs::write("/proc/self/clear_refs", "5").expect("reset the peak resident set");
        let before = kib("VmRSS:");
        let check = verify_content(&message.zfo, &TrustAnchors::none(), portal_testkit::START).await;
        let peak = kib("VmHWM:");
        assert!(!check.verified && check.reason.is_some());
        println!(
            "signature check of its ZFO (read from the blob): peak rose {:.1} MB over {:.1} MB resident",
            (peak.saturating_sub(before)) as f64 / 1024.0,
            before as f64 / 1024.0
        );

        // The attachment's download: its blob streamed out.
        std::fs::write("/proc/self/clear_refs", "5").expect("reset the peak resident set");
        let before = kib("VmRSS:");
        let mut read = 0;
        let mut stream = message.attachments[0].content.stream().await.expect("open");
        while let Some(piece) = stream.next().await {
            read += piece.expect("piece").len();
        }
        let peak = kib("VmHWM:");
        assert_eq!(read, SIZE);
        println!(
            "the file read back from its blob: peak rose {:.1} MB over {:.1} MB resident",
            (peak.saturating_sub(before)) as f64 / 1024.0,
            before as f64 / 1024.0
        );
        drop(stream);
        drop(message);

        // Send: the form through the router, on a store on disk.
        let sender = SoapIsds::new(SoapConfig {
            base_url: format!("http://{addr}/DS/"),
            login: SoapLogin::Password {
                user: "bench".into(),
                password: SecretString::from("x"),
                own_box: BoxId::parse(BOX).expect("box"),
            },
            timeouts: SoapTimeouts::default(),
        })
        .expect("adapter");
        let databox = support::databox_on(
            &harness,
            Arc::new(sender),
            Arc::new(portal_databox::box_requests::NotConnected),
            Arc::new(Directory),
        );
        let router = harness.router(portal_databox::functions(databox));
        let jana = harness.login(portal_testkit::JANA).await;
        let warm = portal_testkit::call(&router, send_form(&jana, 20_000_001)).await;
        assert_eq!(warm.0.as_u16(), 201, "warm-up send: {}", String::from_utf8_lossy(&warm.2));
        let mut request = send_form(&jana, SIZE);
        request.headers_mut().insert("idempotency-key", "bench-send-2".parse().expect("key"));
        received.store(0, Ordering::Relaxed);
        std::fs::write("/proc/self/clear_refs", "5").expect("reset the peak resident set");
        let before = kib("VmRSS:");
        let (status, _, body) = portal_testkit::call(&router, request).await;
        let peak = kib("VmHWM:");
        assert_eq!(status.as_u16(), 201, "{}", String::from_utf8_lossy(&body));
        let sent = received.load(Ordering::Relaxed);
        assert!(sent > SIZE, "the file reached ISDS: {sent}");
        println!(
            "send of a {} MB form (POST /api/databox/messages, VoDZ): peak rose {:.1} MB over {:.1} MB resident",
            SIZE / 1_000_000,
            (peak.saturating_sub(before)) as f64 / 1024.0,
            before as f64 / 1024.0
        );
    });
}
