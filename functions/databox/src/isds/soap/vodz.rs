//! Big messages (VoDZ, velkoobjemové datové zprávy): `dm_VoDZ.wsdl`, SOAP 1.2
//! at `…/DS/vodz` on the ws2 hosts, file contents as MTOM/XOP parts.
//!
//! - `UploadAttachment` is a `multipart/related` request (XOP): the SOAP 1.2
//!   envelope is the root part, its `dmEncodedContent` an `xop:Include` of the
//!   second part, which carries the file's raw bytes, streamed from the port's
//!   stream as they come (no base64, never whole in this adapter).
//! - `CreateBigMessage` is a plain SOAP 1.2 request: the envelope and one
//!   `dmExtFile` per uploaded file (its id and the two hashes ISDS answered).
//! - `SignedBigMessageDownload` and `SignedSentBigMessageDownload` ask with
//!   `Accept: multipart/related`. A `multipart/related` answer (at most
//!   [`MAX_BIG_RESPONSE_BYTES`]) streams into an anonymous temporary file,
//!   sealed under a key of its own ([`super::answer_file`]), its delimiters
//!   found as it comes; then the root part (the envelope) is read back, and
//!   the part its `xop:Include` names, the ZFO, streamed from it 64 KiB at a
//!   time into a sealed blob of the download's [`crate::isds::Stash`]. The
//!   file is freed when the answer is dropped, whatever ended the download
//!   (a fault, a cut body, a dropped request, a panic). Any other answer (the
//!   ZFO inline in base64, a fault) is read whole into memory as the standard
//!   downloads are. Then the ZFO is opened as it streams back from its blob
//!   (`operations::opened_streamed`): its signed content walked
//!   (`der::ContentWalker`), the XML split (`split`) and each file decoded
//!   from its base64 straight into a blob of its own, so a big download
//!   holds a few pieces of 64 KiB at any time (`benches/vodz_memory.rs`).
//!
//! Where: ISDS serves VoDZ on `ws2` (`ws2c` for certificate logins) with the
//! same path as the other services (libdatovka `src/isds.c`,
//! `determine_vodz_basic_locator`; the WSDL's `soap12:address` is
//! `https://ws2.czebox.cz/DS/vodz`), so the base URL's host `ws1…` becomes
//! `ws2…` and `vodz` is appended; any other host (a test server) is kept.

use std::ops::Range;
use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{Stream, StreamExt as _};
use reqwest::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE};

use super::SoapIsds;
use super::answer_file::{AnswerFile, Delimiters};
use super::records::{decode_base64, required, required_value};
use super::reply::{LoggedError, Reply, read_body_up_to, server_error, transport, unwrap_envelope_in};
use super::xml::{Element, Request, SOAP12_ENV_NS, XOP_NS};
use crate::isds::{AttachmentHash, AttachmentUpload, BoxContext, IsdsError, IsdsResult, UploadedAttachment};

/// A whole VoDZ call that carries a file or a big ZFO (up to 100 MB, more
/// with base64 or the signature): uploads and big downloads.
pub(super) const BIG_TRANSFER: Duration = Duration::from_secs(25 * 60);
/// The largest answer read from the VoDZ service: a 100 MB message's ZFO in
/// base64 inside the SOAP answer stays below it.
pub(super) const MAX_BIG_RESPONSE_BYTES: usize = 256 * 1024 * 1024;
/// Content-ID of the SOAP part of an XOP request.
const ROOT_PART: &str = "root.message@portal.gov.cz";
/// Content-ID of the file part of `UploadAttachment`.
const FILE_PART: &str = "file.0@portal.gov.cz";

/// What goes to the VoDZ service.
pub(super) enum BigRequest {
    /// `application/soap+xml`.
    Plain(Request),
    /// `multipart/related` (XOP): the request, whose `xop:Include` names
    /// [`FILE_PART`], and that part's content.
    WithFile(Request, AttachmentUpload),
}

/// An answer of the VoDZ service: its envelope and status, and the XOP parts
/// when it came as `multipart/related`.
pub(super) struct BigReply {
    pub(super) reply: Reply,
    parts: Option<Parts>,
}

impl BigReply {
    /// The binary content of `element` (`xs:base64Binary`) as a stream: the
    /// XOP part its `xop:Include` names, read back from the answer's file
    /// 64 KiB at a time, never whole; or its base64 text decoded (an answer
    /// that was not `multipart/related` is in memory anyway).
    pub(super) async fn binary_stream(
        &self,
        element: &Element,
    ) -> IsdsResult<futures::stream::BoxStream<'_, IsdsResult<Bytes>>> {
        let Some(include) = element.children.iter().find(|c| c.is(XOP_NS, "Include")) else {
            let bytes = decode_base64(&element.name, element.value().unwrap_or_default()).map(Bytes::from)?;
            return Ok(futures::stream::iter([Ok(bytes)]).boxed());
        };
        let href = include.attr("href").unwrap_or_default();
        let id = href.strip_prefix("cid:").ok_or_else(|| protocol(format!("xop:Include href {href:?}")))?;
        let id = percent_decode(id);
        let parts = self.parts.as_ref().ok_or_else(|| protocol("an xop:Include in an answer without parts".into()))?;
        let range = parts.range(&id).ok_or_else(|| protocol(format!("no part with Content-ID {id}")))?;
        let file = &parts.file;
        Ok(futures::stream::unfold(range.start, move |at| async move {
            if at >= range.end {
                return None;
            }
            let end = (at + STREAM_PIECE).min(range.end);
            Some((file.read(at..end).await.map(Bytes::from).map_err(local), end))
        })
        .boxed())
    }
}

/// What [`BigReply::binary_stream`] reads back at a time.
const STREAM_PIECE: u64 = 64 * 1024;

fn protocol(what: String) -> IsdsError {
    IsdsError::Protocol(format!("VoDZ: {what}"))
}

/// The answer's file could not be written or read (the local disk).
fn local(error: std::io::Error) -> IsdsError {
    IsdsError::Unavailable(Box::new(error))
}

impl SoapIsds {
    /// One exchange with the VoDZ service, logged as [`SoapIsds::call`] logs.
    #[tracing::instrument(
        name = "isds.call",
        skip_all,
        fields(
            soap_operation = operation,
            otel.kind = "client",
            dependency.type = "HTTP",
            server.address = tracing::field::Empty,
            dependency.result = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        )
    )]
    pub(super) async fn call_big(
        &self,
        operation: &'static str,
        ctx: &BoxContext,
        request: BigRequest,
        timeout: Duration,
    ) -> IsdsResult<BigReply> {
        let started = Instant::now();
        let result = self.exchange_big(operation, ctx, request, timeout).await;
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match &result {
            Ok(answer) => {
                let code = answer.reply.status.code.as_str();
                tracing::Span::current().record("dependency.result", code);
                tracing::debug!(soap_operation = operation, status_code = %code, elapsed_ms, "ISDS answered")
            }
            Err(error) => {
                tracing::Span::current().record("otel.status_code", "ERROR");
                tracing::warn!(soap_operation = operation, elapsed_ms, error = %LoggedError(error), "ISDS call failed");
            }
        }
        result
    }

    async fn exchange_big(
        &self,
        operation: &'static str,
        ctx: &BoxContext,
        request: BigRequest,
        timeout: Duration,
    ) -> IsdsResult<BigReply> {
        let url = big_message_url(&self.base)?;
        tracing::Span::current().record("server.address", url.host_str().unwrap_or_default());
        let builder = self
            .http
            .post(url)
            .timeout(timeout)
            .header(ACCEPT, "multipart/related, application/soap+xml, application/xop+xml");
        let builder = self.authorized(builder, ctx)?;
        let builder = match request {
            BigRequest::Plain(request) => {
                builder.header(CONTENT_TYPE, "application/soap+xml; charset=utf-8; action=\"\"").body(request.finish())
            }
            BigRequest::WithFile(request, upload) => {
                let boundary = format!("portal-vodz-{}", uuid::Uuid::new_v4().simple());
                let (head, tail) = xop_frame(&boundary, &request.finish());
                let length = head.len() as u64 + upload.size + tail.len() as u64;
                let body = futures::stream::once(async move { Ok::<_, std::io::Error>(head) })
                    .chain(upload.content)
                    .chain(futures::stream::once(async move { Ok(tail) }));
                builder
                    .header(CONTENT_TYPE, xop_content_type(&boundary))
                    .header(CONTENT_LENGTH, length)
                    .body(reqwest::Body::wrap_stream(body))
            }
        };
        let response = builder.send().await.map_err(transport)?;
        let status = response.status();
        let content_type =
            response.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        if status.is_success() && media_type(&content_type) == "multipart/related" {
            let body = response.bytes_stream().map(|piece| piece.map_err(transport));
            let parts = Parts::receive(operation, &content_type, body, &self.answer_dir).await?;
            let root = parts.root().await?;
            let reply = unwrap_envelope_in(&root, operation, SOAP12_ENV_NS)?;
            return Ok(BigReply { reply, parts: Some(parts) });
        }
        let body = Bytes::from(read_body_up_to(response, MAX_BIG_RESPONSE_BYTES).await?);
        match status.as_u16() {
            200..=299 => {}
            401 | 403 => {
                return Err(IsdsError::Refused {
                    code: format!("HTTP {}", status.as_u16()),
                    message: "ISDS did not accept the login for its VoDZ service (ws2)".into(),
                });
            }
            500..=599 if sender_fault(&body) => {
                return Err(protocol(format!(
                    "{operation}: ISDS rejected the request as malformed (HTTP {status}, SOAP 1.2 Sender fault)"
                )));
            }
            500..=599 => return Err(server_error(status.as_u16(), &body)),
            other => return Err(protocol(format!("{operation}: unexpected HTTP status {other}"))),
        }
        let reply = unwrap_envelope_in(&body, operation, SOAP12_ENV_NS)?;
        Ok(BigReply { reply, parts: None })
    }
}

/// A SOAP 1.2 fault blaming the sender (`env:Code/env:Value` `env:Sender`):
/// our request is malformed and retrying cannot help.
fn sender_fault(body: &[u8]) -> bool {
    fn child<'a>(parent: &'a Element, name: &str) -> Option<&'a Element> {
        parent.children.iter().find(|c| c.is(SOAP12_ENV_NS, name))
    }
    let Ok(root) = super::xml::parse(body) else { return false };
    let value = child(&root, "Body")
        .and_then(|b| child(b, "Fault"))
        .and_then(|f| child(f, "Code"))
        .and_then(|c| child(c, "Value"))
        .and_then(Element::value);
    value.is_some_and(|v| v.rsplit(':').next() == Some("Sender"))
}

/// The VoDZ endpoint for `base` (one of [`super::endpoints`]).
fn big_message_url(base: &reqwest::Url) -> IsdsResult<reqwest::Url> {
    let mut url = base.clone();
    if let Some(host) = base.host_str() {
        let moved = ["ws1c.", "ws1."]
            .into_iter()
            .find_map(|from| host.strip_prefix(from).map(|rest| format!("{}{rest}", from.replacen('1', "2", 1))));
        if let Some(moved) = moved {
            url.set_host(Some(&moved)).map_err(|_| IsdsError::Invalid("the ISDS VoDZ host is not valid".into()))?;
        }
    }
    url.join("vodz").map_err(|_| IsdsError::Invalid("the ISDS base URL cannot be joined with vodz".into()))
}

/// `multipart/related` of an XOP package whose root is SOAP 1.2 (`action=""`
/// as the WSDL's `soapAction`).
fn xop_content_type(boundary: &str) -> String {
    format!(
        "multipart/related; type=\"application/xop+xml\"; start=\"<{ROOT_PART}>\"; \
         start-info=\"application/soap+xml\"; action=\"\"; boundary=\"{boundary}\""
    )
}

/// The bytes before and after the file's content: the root part (the SOAP
/// envelope) and the file part's headers, then the closing delimiter.
fn xop_frame(boundary: &str, envelope: &str) -> (Bytes, Bytes) {
    let head = format!(
        "--{boundary}\r\n\
         Content-Type: application/xop+xml; charset=UTF-8; type=\"application/soap+xml\"\r\n\
         Content-Transfer-Encoding: 8bit\r\n\
         Content-ID: <{ROOT_PART}>\r\n\
         \r\n\
         {envelope}\r\n\
         --{boundary}\r\n\
         Content-Type: application/octet-stream\r\n\
         Content-Transfer-Encoding: binary\r\n\
         Content-ID: <{FILE_PART}>\r\n\
         \r\n"
    );
    (Bytes::from(head), Bytes::from(format!("\r\n--{boundary}--\r\n")))
}

/// `UploadAttachment`: the file part is [`FILE_PART`].
pub(super) fn upload_request(upload: &AttachmentUpload) -> IsdsResult<Request> {
    let mut request = Request::new_soap12("UploadAttachment");
    // dmFile (dmMimeType, dmFileDescr) / dmEncodedContent (base64Binary, here XOP).
    request
        .open("dmFile", &[("dmMimeType", upload.mime_type.as_str()), ("dmFileDescr", upload.name.as_str())])?
        .open("dmEncodedContent", &[])?
        .xop_include(FILE_PART)
        .close("dmEncodedContent")
        .close("dmFile");
    Ok(request)
}

/// `UploadAttachmentResponse`: `dmAttID`, `dmAttHash1`, `dmAttHash2` (each
/// with `AttHashAlg`).
pub(super) fn uploaded(body: &Element) -> IsdsResult<UploadedAttachment> {
    let hash = |name: &str| -> IsdsResult<AttachmentHash> {
        let element = required(body, name)?;
        Ok(AttachmentHash {
            value: required_value(body, name)?.to_owned(),
            algorithm: element
                .attr("AttHashAlg")
                .ok_or_else(|| protocol(format!("{name} has no AttHashAlg")))?
                .to_owned(),
        })
    };
    Ok(UploadedAttachment {
        id: required_value(body, "dmAttID")?.to_owned(),
        hash1: hash("dmAttHash1")?,
        hash2: hash("dmAttHash2")?,
    })
}

/// The media type of a Content-Type, lowercase, without parameters.
fn media_type(content_type: &str) -> String {
    content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
}

/// The value of parameter `name` of a Content-Type (quoted or not).
fn parameter(content_type: &str, name: &str) -> Option<String> {
    let mut rest = content_type.split_once(';')?.1;
    loop {
        let (key, after) = rest.split_once('=')?;
        let after = after.trim_start();
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"')?;
            (&quoted[..end], quoted[end + 1..].split_once(';').map_or("", |(_, next)| next))
        } else {
            let (value, next) = after.split_once(';').unwrap_or((after, ""));
            (value.trim(), next)
        };
        if key.trim().eq_ignore_ascii_case(name) {
            return Some(value.to_owned());
        }
        if next.is_empty() {
            return None;
        }
        rest = next;
    }
}

/// `%xx` in a `cid:` URL (RFC 2392).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(high), Some(low)) =
                (bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex))
        {
            out.push((high * 16 + low) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The most read back after a delimiter to find its line's end.
const LINE_MAX: u64 = 1024;
/// The most read back from a part's start to find its headers' end.
const HEAD_MAX: u64 = 64 * 1024;
/// The most parts an answer may have (a download has two: the envelope and
/// the ZFO), so a broken answer is not read back part by part at length.
const MAX_PARTS: usize = 64;

/// The parts of a `multipart/related` answer, as ranges of its file.
struct Parts {
    file: AnswerFile,
    /// (Content-ID without `<>`, Content-Type, content range)
    parts: Vec<(Option<String>, String, Range<u64>)>,
    start: Option<String>,
    operation: &'static str,
}

impl Parts {
    /// Receives `body` into a file in `dir` as it streams (at most
    /// [`MAX_BIG_RESPONSE_BYTES`]), finding its delimiters on the way, then
    /// reads back each part's headers.
    async fn receive<S>(operation: &'static str, content_type: &str, mut body: S, dir: &Path) -> IsdsResult<Self>
    where
        S: Stream<Item = IsdsResult<Bytes>> + Unpin,
    {
        let bad = |what: &str| protocol(format!("{operation}: {what}"));
        let boundary =
            parameter(content_type, "boundary").ok_or_else(|| bad("multipart/related without a boundary"))?;
        let start = parameter(content_type, "start").map(|s| s.trim_matches(['<', '>']).to_owned());
        let mut file = AnswerFile::new(dir).map_err(local)?;
        let mut delimiters = Delimiters::new(&boundary);
        while let Some(piece) = body.next().await {
            let piece = piece?;
            if file.len() + piece.len() as u64 > MAX_BIG_RESPONSE_BYTES as u64 {
                return Err(protocol(format!(
                    "{operation}: the answer exceeds {} MiB",
                    MAX_BIG_RESPONSE_BYTES / (1024 * 1024)
                )));
            }
            delimiters.push(&piece);
            file.push(&piece).map_err(local)?;
        }
        file.finish().map_err(local)?;
        let found = delimiters.found;
        let delimiter_len = boundary.len() as u64 + 2;
        let mut parts = Vec::new();
        let mut index = 0;
        loop {
            let at = *found.get(index).ok_or_else(|| bad("no multipart delimiter"))?;
            let after = at + delimiter_len;
            let line = file.read_up_to(after, LINE_MAX).await.map_err(local)?;
            if line.starts_with(b"--") {
                break;
            }
            if parts.len() == MAX_PARTS {
                return Err(bad("an answer of more parts than a download has"));
            }
            let line_end = find(&line, b"\r\n", 0).ok_or_else(|| bad("a delimiter line without its end"))?;
            let part_start = after + line_end as u64 + 2;
            // The next delimiter whose CRLF is in this part.
            index += 1 + found[index + 1..]
                .iter()
                .position(|&next| next >= part_start + 2)
                .ok_or_else(|| bad("a part without a closing delimiter"))?;
            let part_end = found[index] - 2;
            let head = file.read(part_start..part_end.min(part_start + HEAD_MAX)).await.map_err(local)?;
            let (id, content_type, content) = part(&head, 0..head.len()).map_err(|e| bad(&e))?;
            parts.push((id, content_type, part_start + content.start as u64..part_end));
        }
        if parts.is_empty() {
            return Err(bad("multipart/related without parts"));
        }
        Ok(Self { file, parts, start, operation })
    }

    /// The root part (the one `start` names, else the first): the SOAP envelope.
    async fn root(&self) -> IsdsResult<Bytes> {
        let bad = |what: String| protocol(format!("{}: {what}", self.operation));
        let root = match &self.start {
            Some(start) => self.parts.iter().find(|(id, _, _)| id.as_deref() == Some(start.as_str())),
            None => self.parts.first(),
        }
        .ok_or_else(|| bad("no root part".into()))?;
        let media = media_type(&root.1);
        if media != "application/xop+xml" && media != "application/soap+xml" {
            return Err(bad(format!("the root part is {media}")));
        }
        Ok(Bytes::from(self.file.read(root.2.clone()).await.map_err(local)?))
    }

    /// Where the content of the part `id` lies in the answer's file.
    fn range(&self, id: &str) -> Option<Range<u64>> {
        self.parts.iter().find(|(part_id, _, _)| part_id.as_deref() == Some(id)).map(|(_, _, range)| range.clone())
    }
}

/// One part's Content-ID, Content-Type and content range; only binary and
/// 8bit transfer encodings (what MTOM uses).
fn part(body: &[u8], range: Range<usize>) -> Result<(Option<String>, String, Range<usize>), String> {
    let raw = &body[range.clone()];
    let (headers_len, content_start) = if raw.starts_with(b"\r\n") {
        (0, 2)
    } else {
        let end = find(raw, b"\r\n\r\n", 0).ok_or("a part without the end of its headers")?;
        (end, end + 4)
    };
    let headers = std::str::from_utf8(&raw[..headers_len]).map_err(|_| "part headers are not UTF-8")?;
    let (mut id, mut content_type) = (None, String::new());
    for line in headers.split("\r\n") {
        let Some((name, value)) = line.split_once(':') else { continue };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-id" => id = Some(value.trim_matches(['<', '>']).to_owned()),
            "content-type" => content_type = value.to_owned(),
            "content-transfer-encoding" if !matches!(value.to_ascii_lowercase().as_str(), "binary" | "8bit") => {
                return Err(format!("a part in transfer encoding {value}"));
            }
            _ => {}
        }
    }
    Ok((id, content_type, range.start + content_start..range.end))
}

/// Where `needle` first occurs in `haystack` from `from`.
pub(super) fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let first = *needle.first()?;
    let mut at = from;
    while at + needle.len() <= haystack.len() {
        let offset = haystack[at..].iter().position(|&b| b == first)?;
        at += offset;
        if haystack.get(at..at + needle.len())? == needle {
            return Some(at);
        }
        at += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vodz_endpoint_is_on_ws2_with_the_same_path() {
        let url = |base: &str| big_message_url(&reqwest::Url::parse(base).expect("url")).expect("vodz").to_string();
        assert_eq!(url(super::super::endpoints::PRODUCTION_PASSWORD), "https://ws2.mojedatovaschranka.cz/DS/vodz");
        assert_eq!(url(super::super::endpoints::PRODUCTION_HOSTED), "https://ws2c.mojedatovaschranka.cz/hspis/DS/vodz");
        assert_eq!(url(super::super::endpoints::TEST_CERTIFICATE), "https://ws2c.czebox.cz/cert/DS/vodz");
        assert_eq!(url("http://127.0.0.1:8080/DS/"), "http://127.0.0.1:8080/DS/vodz");
    }

    #[test]
    fn a_sender_fault_is_ours_and_any_other_is_isds_being_unwell() {
        let fault = |code: &str| {
            format!(
                "<e:Envelope xmlns:e=\"{SOAP12_ENV_NS}\"><e:Body><e:Fault><e:Code><e:Value>{code}</e:Value></e:Code>\
                 <e:Reason><e:Text xml:lang=\"cs\">x</e:Text></e:Reason></e:Fault></e:Body></e:Envelope>"
            )
        };
        assert!(sender_fault(fault("e:Sender").as_bytes()));
        assert!(!sender_fault(fault("e:Receiver").as_bytes()));
        assert!(!sender_fault(b"<html>503</html>"));
    }

    #[tokio::test]
    async fn parts_are_found_by_content_id_and_the_root_by_start_however_the_answer_arrives() {
        let body: &[u8] = b"preamble\r\n--b1\r\nContent-Type: application/xop+xml; type=\"application/soap+xml\"\r\n\
                    Content-ID: <root@x>\r\n\r\n<e/>\r\n--b1\r\nContent-ID: <z@y>\r\n\
                    Content-Transfer-Encoding: binary\r\n\r\n\r\n--b\x00\xff\r\n--b1--\r\n";
        let content_type = "multipart/related; type=\"application/xop+xml\"; boundary=b1; start=\"<root@x>\"";
        let dir = tempfile::tempdir().expect("dir");
        let receive = |body: &'static [u8], size: usize, content_type: &'static str| {
            let pieces: Vec<IsdsResult<Bytes>> = body.chunks(size).map(|c| Ok(Bytes::from_static(c))).collect();
            Parts::receive("Op", content_type, futures::stream::iter(pieces), dir.path())
        };
        for size in 1..=body.len() {
            let parts = receive(body, size, content_type).await.expect("parts");
            assert_eq!(&parts.root().await.expect("root")[..], b"<e/>", "pieces of {size}");
            let range = parts.range(&percent_decode("z%40y")).expect("binary");
            let binary = parts.file.read(range).await.expect("read");
            assert_eq!(&binary[..], b"\r\n--b\x00\xff", "pieces of {size}");
            assert!(parts.range("none").is_none());
        }
        assert!(receive(b"--b1\r\n\r\nx", 3, "multipart/related; boundary=b1").await.is_err());
        assert!(receive(b"--b1--\r\n", 3, "multipart/related; boundary=b1").await.is_err());
        assert!(receive(body, 5, "multipart/related").await.is_err());
        assert_eq!(parameter("a/b; action=\"\"; boundary=\"q;r\"", "boundary").as_deref(), Some("q;r"));
    }
}
