//! A big download (VoDZ `SignedBigMessageDownload`) received as a stream
//! into a temporary file, then opened as a stream into sealed blobs of the
//! citizen's stash: against a local server that answers it as an MTOM/XOP
//! package sent in odd pieces without a Content-Length (as a network and a
//! chunked answer deliver it), the same message opens into the same bytes as
//! from the in-memory answer (the ZFO inline in base64, opened into memory),
//! its ZFO read back from its blob verifies as the ZFO in memory does, a
//! tampered ZFO still fails its digest, and no temporary file is open and no
//! stashed blob is left after a success (once the message is dropped), a
//! refusal, a body cut off, a ZFO that fails after its files were stored, or
//! a dropped request.
//!
//! The answer's file is anonymous (it has no name in its folder), so what is
//! checked is the process's open files (`/proc/self/fd`) that point into the
//! test's own answer folder; the dropped-request test first sees the file
//! open, so the check can fail.

mod support;

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use futures::StreamExt as _;
use portal_databox::isds::soap::SoapIsds;
use portal_databox::isds::zfo_sign::simulated_signer;
use portal_databox::isds::zfo_verify::{verify, verify_content};
use portal_databox::isds::{
    Access, BoxId, Content, Direction, Isds, IsdsError, MessageId, SessionContext, SignedMessage, Stash,
};
use portal_store::BlobStore as _;
use portal_testkit::{Harness, JANA};
use tokio::sync::Notify;

const BOX: &str = "fo4ab2c";
const SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";
const AT: time::OffsetDateTime = time::macros::datetime!(2026-03-02 08:00 UTC);

/// How the fake answers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    /// The ZFO as an XOP part, in pieces, no Content-Length.
    Xop,
    /// The ZFO inline in base64, one buffer (the in-memory path).
    Inline,
    /// As `Xop`, its root saying 1219 (the message is not there).
    Refused,
    /// As `Xop`, broken off halfway through the ZFO.
    CutOff,
    /// As `Xop`, stalled halfway through the ZFO until the test ends.
    Stalled,
}

#[derive(Clone)]
struct Fake {
    mode: Mode,
    zfo: Bytes,
    /// Told when a stalled answer has sent its first half.
    halfway: Arc<Notify>,
}

fn files() -> Vec<Vec<u8>> {
    [700_001_u32, 250_000, 3]
        .iter()
        .enumerate()
        .map(|(n, &len)| (0..len).map(|i| (i * 7 + n as u32) as u8).collect())
        .collect()
}

/// The signed document of message 900000001 with `files`.
fn document(files: &[Vec<u8>]) -> String {
    let encoded: String = files
        .iter()
        .enumerate()
        .map(|(n, file)| {
            format!(
                "<p:dmFile dmMimeType=\"application/pdf\" dmFileMetaType=\"{}\" dmFileDescr=\"f{n}.pdf\">\
                 <p:dmEncodedContent>{}</p:dmEncodedContent></p:dmFile>",
                if n == 0 { "main" } else { "enclosure" },
                BASE64.encode(file)
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><q:MessageDownloadResponse \
         xmlns:q=\"http://isds.czechpoint.cz/v20/message\" xmlns:p=\"http://isds.czechpoint.cz/v20\">\
         <q:dmReturnedMessage dmVODZ=\"true\"><p:dmDm><p:dmID>900000001</p:dmID>\
         <p:dbIDSender>ovm7x9k</p:dbIDSender><p:dmSender>Úřad</p:dmSender><p:dmRecipient>Jana</p:dmRecipient>\
         <p:dbIDRecipient>{BOX}</p:dbIDRecipient><p:dmAnnotation>Velká zpráva</p:dmAnnotation>\
         <p:dmFiles>{encoded}</p:dmFiles></p:dmDm><q:dmMessageStatus>6</q:dmMessageStatus></q:dmReturnedMessage>\
         </q:MessageDownloadResponse>"
    )
}

fn envelope(code: &str, signature: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><s:Envelope xmlns:s=\"{SOAP12}\"><s:Body>\
         <p:SignedBigMessageDownloadResponse xmlns:p=\"http://isds.czechpoint.cz/v20\">{signature}\
         <p:dmStatus><p:dmStatusCode>{code}</p:dmStatusCode><p:dmStatusMessage>…</p:dmStatusMessage></p:dmStatus>\
         </p:SignedBigMessageDownloadResponse></s:Body></s:Envelope>"
    )
}

async fn answer(State(fake): State<Fake>) -> Response {
    if fake.mode == Mode::Inline {
        let body = envelope("0000", &format!("<p:dmSignature>{}</p:dmSignature>", BASE64.encode(&fake.zfo)));
        return ([("content-type", "application/soap+xml; charset=utf-8")], body).into_response();
    }
    let (code, include) = match fake.mode {
        Mode::Refused => ("1219", ""),
        _ => (
            "0000",
            "<p:dmSignature><xop:Include xmlns:xop=\"http://www.w3.org/2004/08/xop/include\" \
             href=\"cid:zfo%40isds\"/></p:dmSignature>",
        ),
    };
    let mut body = format!(
        "--MIMEBoundary_x\r\nContent-Type: application/xop+xml; charset=UTF-8; type=\"application/soap+xml\"\r\n\
         Content-Transfer-Encoding: binary\r\nContent-ID: <root@isds>\r\n\r\n{}\r\n--MIMEBoundary_x\r\n\
         Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\nContent-ID: <zfo@isds>\r\n\r\n",
        envelope(code, include)
    )
    .into_bytes();
    body.extend_from_slice(&fake.zfo);
    body.extend_from_slice(b"\r\n--MIMEBoundary_x--\r\n");
    let body = Bytes::from(body);
    let half = body.len() - fake.zfo.len() / 2;
    // Pieces of 8191 bytes: a delimiter falls across pieces somewhere.
    let pieces: Vec<Bytes> =
        (0..body.len()).step_by(8191).map(|at| body.slice(at..(at + 8191).min(body.len()))).collect();
    let mode = fake.mode;
    let stream = futures::stream::iter(pieces.into_iter().scan(0, move |sent, piece| {
        let start = *sent;
        *sent += piece.len();
        Some((start, piece))
    }))
    .then(move |(start, piece)| {
        let halfway = fake.halfway.clone();
        async move {
            if start >= half {
                match mode {
                    Mode::CutOff => return Err(std::io::Error::other("the connection broke")),
                    Mode::Stalled => {
                        halfway.notify_one();
                        std::future::pending::<()>().await;
                    }
                    _ => {}
                }
            }
            Ok(piece)
        }
    });
    let content_type = "multipart/related; type=\"application/xop+xml\"; boundary=\"MIMEBoundary_x\"; \
                        start=\"<root@isds>\"; start-info=\"application/soap+xml\"";
    ([("content-type", content_type)], Body::from_stream(stream)).into_response()
}

struct Setup {
    isds: SoapIsds,
    dir: tempfile::TempDir,
    halfway: Arc<Notify>,
    /// The store and keys the stash seals into.
    harness: Harness,
}

async fn start(mode: Mode, zfo: Vec<u8>) -> Setup {
    let halfway = Arc::new(Notify::new());
    let fake = Fake { mode, zfo: Bytes::from(zfo), halfway: halfway.clone() };
    let app = Router::new().fallback(answer).with_state(fake);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    let config = support::soap_config(addr, BOX);
    let dir = tempfile::tempdir().expect("answer folder");
    let isds = SoapIsds::new(config).expect("adapter").with_answer_dir(dir.path());
    Setup { isds, dir, halfway, harness: Harness::new() }
}

fn session() -> SessionContext {
    let citizen = support::citizen(JANA);
    SessionContext::new(BoxId::parse(BOX).expect("box"), Access::HostedRecordsSystem, &citizen)
}

impl Setup {
    /// The citizen's stash, as the capability makes it (`Databox::stash`).
    fn stash(&self) -> Stash {
        Stash::sealed(self.harness.store.clone(), self.harness.sealer.clone(), JANA, portal_testkit::START)
    }

    async fn download_into(&self, stash: &Stash) -> Result<SignedMessage, IsdsError> {
        let id = MessageId::parse("900000001").expect("id");
        self.isds.download_big_message(&session(), Direction::Received, &id, stash).await
    }

    async fn download(&self) -> Result<SignedMessage, IsdsError> {
        self.download_into(&self.stash()).await
    }

    /// The process's open files in this test's answer folder.
    fn open_files(&self) -> usize {
        let dir = self.dir.path().canonicalize().expect("folder");
        std::fs::read_dir("/proc/self/fd")
            .expect("/proc/self/fd")
            .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
            .filter(|target| target.starts_with(&dir))
            .count()
    }

    /// The stashed blobs in the store now.
    async fn stashed(&self) -> usize {
        self.harness.store.list("databox-spool/").await.expect("list").len()
    }

    /// The stashed blobs once the deleting tasks are done (or a minute passed).
    async fn stashed_after_drop(&self) -> usize {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(60), async {
            while self.stashed().await > 0 {
                tokio::task::yield_now().await;
            }
        })
        .await;
        self.stashed().await
    }
}

async fn bytes(content: &Content) -> Bytes {
    content.bytes().await.expect("the content reads back")
}

#[tokio::test]
async fn the_streamed_download_opens_into_the_same_bytes_as_the_in_memory_answer_and_leaves_nothing() {
    let files = files();
    let zfo = simulated_signer().sign(document(&files).as_bytes(), AT);
    let streamed = start(Mode::Xop, zfo.clone()).await;
    let message = streamed.download().await.expect("streamed download");
    assert_eq!(streamed.open_files(), 0, "the answer's file is closed");
    assert_eq!(std::fs::read_dir(streamed.dir.path()).expect("list").count(), 0, "and has no name");
    assert_eq!(streamed.stashed().await, 1 + files.len(), "the ZFO and each file in a blob of its own");
    assert!(!message.zfo.is_in_memory() && message.attachments.iter().all(|a| !a.content.is_in_memory()));
    let inline = start(Mode::Inline, zfo.clone()).await;
    let in_memory = inline.download_into(&Stash::in_memory()).await.expect("in-memory download");
    assert!(in_memory.zfo.is_in_memory());

    assert!(bytes(&message.zfo).await[..] == zfo[..], "the ZFO byte for byte");
    assert!(bytes(&message.zfo).await[..] == bytes(&in_memory.zfo).await[..]);
    assert_eq!(message.envelope, in_memory.envelope);
    assert_eq!(message.envelope.subject, "Velká zpráva");
    assert_eq!(message.attachments.len(), files.len());
    for (n, file) in files.iter().enumerate() {
        let content = bytes(&message.attachments[n].content).await;
        assert!(content[..] == file[..], "file {n} byte for byte");
        assert_eq!(message.attachments[n].content.len(), file.len() as u64);
        assert!(content[..] == bytes(&in_memory.attachments[n].content).await[..], "file {n} as in memory");
        assert_eq!(message.attachments[n].name, in_memory.attachments[n].name);
    }
    let check = verify_content(&message.zfo, &simulated_signer().anchors(), AT).await;
    assert!(check.verified, "{check:?}");
    assert_eq!(check, verify(&zfo, &simulated_signer().anchors(), AT), "as the ZFO in memory verifies");
    drop(message);
    assert_eq!(streamed.stashed_after_drop().await, 0, "the stash is deleted with the message");
}

#[tokio::test]
async fn a_tampered_zfo_streamed_still_opens_but_fails_its_signature() {
    let files = files();
    let mut zfo = simulated_signer().sign(document(&files).as_bytes(), AT);
    let b64 = BASE64.encode(&files[0]);
    let at = zfo.windows(64).position(|w| w == &b64.as_bytes()[5000..5064]).expect("the file in the ZFO");
    zfo[at] = if zfo[at] == b'A' { b'B' } else { b'A' };
    let setup = start(Mode::Xop, zfo.clone()).await;
    let message = setup.download().await.expect("it opens");
    assert!(bytes(&message.attachments[0].content).await[..] != files[0][..]);
    let check = verify_content(&message.zfo, &simulated_signer().anchors(), AT).await;
    assert!(!check.verified);
    assert!(check.reason.as_deref().is_some_and(|r| r.contains("message digest differs")), "{check:?}");
    assert_eq!(check, verify(&zfo, &simulated_signer().anchors(), AT));
    assert_eq!(setup.open_files(), 0);
    drop(message);
    assert_eq!(setup.stashed_after_drop().await, 0);
}

#[tokio::test]
async fn a_refused_or_cut_off_download_leaves_no_file() {
    let zfo = simulated_signer().sign(document(&files()).as_bytes(), AT);
    let refused = start(Mode::Refused, zfo.clone()).await;
    let error = refused.download().await.expect_err("refused");
    assert!(matches!(error, IsdsError::NotFound | IsdsError::Refused { .. }), "{error:?}");
    assert_eq!(refused.open_files(), 0);
    assert_eq!(refused.stashed_after_drop().await, 0);

    let cut = start(Mode::CutOff, zfo).await;
    let error = cut.download().await.expect_err("cut off");
    assert!(error.is_retryable(), "a broken answer can be asked again: {error:?}");
    assert_eq!(cut.open_files(), 0);
    assert_eq!(cut.stashed_after_drop().await, 0);
}

#[tokio::test]
async fn a_zfo_that_fails_to_open_after_its_files_were_stored_leaves_no_blob() {
    // The ZFO holds another message than the one asked for: found only when
    // the envelope is read, after every file went into the stash.
    let files = files();
    let other = document(&files).replace("<p:dmID>900000001</p:dmID>", "<p:dmID>900000002</p:dmID>");
    let setup = start(Mode::Xop, simulated_signer().sign(other.as_bytes(), AT)).await;
    let stash = setup.stash();
    let error = setup.download_into(&stash).await.expect_err("another message");
    assert!(error.to_string().contains("900000002"), "{error}");
    assert_eq!(setup.stashed().await, 1 + files.len(), "the files were stored before the envelope was read");
    drop(stash);
    assert_eq!(setup.stashed_after_drop().await, 0, "and deleted when the request let go");

    // The last file's base64 broken: the first files were stored.
    let broken = document(&files).replacen(
        "</p:dmEncodedContent></p:dmFile></p:dmFiles>",
        "*</p:dmEncodedContent></p:dmFile></p:dmFiles>",
        1,
    );
    let setup = start(Mode::Xop, simulated_signer().sign(broken.as_bytes(), AT)).await;
    let error = setup.download().await.expect_err("not base64");
    assert!(matches!(error, IsdsError::Protocol(_)), "{error:?}");
    assert_eq!(setup.stashed_after_drop().await, 0);
}

#[tokio::test]
async fn a_download_dropped_mid_answer_closes_its_file() {
    let zfo = simulated_signer().sign(document(&files()).as_bytes(), AT);
    let setup = Arc::new(start(Mode::Stalled, zfo).await);
    let halfway = setup.halfway.notified();
    let downloading = tokio::spawn({
        let setup = setup.clone();
        async move { setup.download().await.map(|_| ()) }
    });
    halfway.await;
    // The half sent is on its way to the file; it is open once read.
    let seen_open = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        while setup.open_files() == 0 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(seen_open.is_ok(), "the answer's file was open while it arrived");
    downloading.abort();
    assert!(downloading.await.expect_err("dropped").is_cancelled());
    assert_eq!(setup.open_files(), 0, "dropping the request closed its file");
    assert_eq!(setup.stashed_after_drop().await, 0);
}
