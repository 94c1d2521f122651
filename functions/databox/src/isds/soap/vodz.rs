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
//!   `Accept: multipart/related`. The answer is read into one buffer of at
//!   most [`MAX_BIG_RESPONSE_BYTES`] (sized from Content-Length); when ISDS
//!   sends the ZFO as an XOP part it is a slice of that buffer, not a copy.
//!   An answer with the ZFO inline in base64 is read as the standard
//!   downloads are (the text, then the decoded bytes). Then, as for a standard
//!   message, the signed content is taken out of the ZFO (a slice of it, unless
//!   BER segments it) and the files decoded from it: at the peak a big
//!   download holds the answer (the ZFO), the base64 text the XML reader copies
//!   out of the signed content, and the decoded files; for a 100 MB message the
//!   peak rises by 351 MB (`benches/vodz_memory.rs`).
//!
//! Where: ISDS serves VoDZ on `ws2` (`ws2c` for certificate logins) with the
//! same path as the other services (libdatovka `src/isds.c`,
//! `determine_vodz_basic_locator`; the WSDL's `soap12:address` is
//! `https://ws2.czebox.cz/DS/vodz`), so the base URL's host `ws1…` becomes
//! `ws2…` and `vodz` is appended; any other host (a test server) is kept.

use std::ops::Range;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt as _;
use reqwest::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE};

use super::SoapIsds;
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
    /// The binary content of `element` (`xs:base64Binary`): the XOP part its
    /// `xop:Include` names (a slice of the answer), or its base64 text.
    pub(super) fn binary(&self, element: &Element) -> IsdsResult<Bytes> {
        let Some(include) = element.children.iter().find(|c| c.is(XOP_NS, "Include")) else {
            return decode_base64(&element.name, element.value().unwrap_or_default()).map(Bytes::from);
        };
        let href = include.attr("href").unwrap_or_default();
        let id = href.strip_prefix("cid:").ok_or_else(|| protocol(format!("xop:Include href {href:?}")))?;
        let id = percent_decode(id);
        let parts = self.parts.as_ref().ok_or_else(|| protocol("an xop:Include in an answer without parts".into()))?;
        parts.content(&id).ok_or_else(|| protocol(format!("no part with Content-ID {id}")))
    }
}

fn protocol(what: String) -> IsdsError {
    IsdsError::Protocol(format!("VoDZ: {what}"))
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
        let (root, parts) = if media_type(&content_type) == "multipart/related" {
            let parts = Parts::parse(&content_type, body).map_err(|e| protocol(format!("{operation}: {e}")))?;
            (parts.root().map_err(|e| protocol(format!("{operation}: {e}")))?, Some(parts))
        } else {
            (body, None)
        };
        let reply = unwrap_envelope_in(&root, operation, SOAP12_ENV_NS)?;
        Ok(BigReply { reply, parts })
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

/// The parts of a `multipart/related` body, as ranges of the one buffer.
struct Parts {
    body: Bytes,
    /// (Content-ID without `<>`, Content-Type, content range)
    parts: Vec<(Option<String>, String, Range<usize>)>,
    start: Option<String>,
}

impl Parts {
    fn parse(content_type: &str, body: Bytes) -> Result<Self, String> {
        let boundary = parameter(content_type, "boundary").ok_or("multipart/related without a boundary")?;
        let start = parameter(content_type, "start").map(|s| s.trim_matches(['<', '>']).to_owned());
        let delimiter = format!("--{boundary}").into_bytes();
        let mut parts = Vec::new();
        // The first delimiter starts the body or a line.
        let mut at = if body.starts_with(&delimiter) {
            0
        } else {
            find(&body, &[b"\r\n", delimiter.as_slice()].concat(), 0).ok_or("no multipart delimiter")? + 2
        };
        loop {
            let after = at + delimiter.len();
            if body.get(after..after + 2) == Some(b"--") {
                break;
            }
            let line_end = find(&body, b"\r\n", after).ok_or("a delimiter line without its end")?;
            let part_start = line_end + 2;
            let next = find(&body, &[b"\r\n", delimiter.as_slice()].concat(), part_start)
                .ok_or("a part without a closing delimiter")?;
            let (id, content_type, content) = part(&body, part_start..next)?;
            parts.push((id, content_type, content));
            at = next + 2;
        }
        if parts.is_empty() {
            return Err("multipart/related without parts".into());
        }
        Ok(Self { body, parts, start })
    }

    /// The root part (the one `start` names, else the first): the SOAP envelope.
    fn root(&self) -> Result<Bytes, String> {
        let root = match &self.start {
            Some(start) => self.parts.iter().find(|(id, _, _)| id.as_deref() == Some(start.as_str())),
            None => self.parts.first(),
        }
        .ok_or("no root part")?;
        let media = media_type(&root.1);
        if media != "application/xop+xml" && media != "application/soap+xml" {
            return Err(format!("the root part is {media}"));
        }
        Ok(self.body.slice(root.2.clone()))
    }

    fn content(&self, id: &str) -> Option<Bytes> {
        self.parts
            .iter()
            .find(|(part_id, _, _)| part_id.as_deref() == Some(id))
            .map(|(_, _, r)| self.body.slice(r.clone()))
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
fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
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

    #[test]
    fn parts_are_found_by_content_id_and_the_root_by_start() {
        let body: &[u8] = b"preamble\r\n--b1\r\nContent-Type: application/xop+xml; type=\"application/soap+xml\"\r\n\
                    Content-ID: <root@x>\r\n\r\n<e/>\r\n--b1\r\nContent-ID: <z@y>\r\n\
                    Content-Transfer-Encoding: binary\r\n\r\n\r\n--b\x00\xff\r\n--b1--\r\n";
        let content_type = "multipart/related; type=\"application/xop+xml\"; boundary=b1; start=\"<root@x>\"";
        let parts = Parts::parse(content_type, Bytes::from(body.to_vec())).expect("parts");
        assert_eq!(&parts.root().expect("root")[..], b"<e/>");
        assert_eq!(&parts.content(&percent_decode("z%40y")).expect("binary")[..], b"\r\n--b\x00\xff");
        assert!(Parts::parse("multipart/related; boundary=b1", Bytes::from_static(b"--b1\r\n\r\nx")).is_err());
        assert_eq!(parameter("a/b; action=\"\"; boundary=\"q;r\"", "boundary").as_deref(), Some("q;r"));
    }
}
