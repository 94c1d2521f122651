//! An answer of ISDS: the HTTP exchange's body, the SOAP envelope around the
//! operation's response, and the status (`dmStatus`/`dbStatus`) inside it.

use std::fmt;

use super::records::{optional_value, required_value};
use super::xml::{self, Element, ISDS_NS, SOAP_ENV_NS};
use crate::isds::{IsdsError, IsdsResult};

/// The largest answer read. A message is at most 20 MB before it becomes a
/// VoDZ (other services); its ZFO in base64 stays well below this.
pub(super) const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

/// `dmStatusCode`/`dbStatusCode` of success.
pub(super) const OK: &str = "0000";
/// Codes that mean "no such message or box (for you)": 1219 message does not
/// exist in the box (MessageDownload, VerifyMessage, EraseMessage), 1211 the
/// message belongs to another box (EraseMessage), 5001 no such box
/// (FindDataBox, CheckDataBox) — libdatovka `doc/user_web_services` and
/// `doc/web_service_interface`.
pub(super) const NOT_FOUND: [&str; 3] = ["1211", "1219", "5001"];
/// Codes that ask to try again later: 3006 marking takes too long, 3008 too
/// many parallel requests, 3009 too many requests (`doc/web_service_interface`),
/// 9502 the time-stamping authority fails (`doc/message`).
pub(super) const TRY_LATER: [&str; 4] = ["3006", "3008", "3009", "9502"];
/// The signed download came without its time stamp because the time-stamping
/// authority did not answer; the CMS is still ISDS's signature (`doc/message`).
pub(super) const SIGNED_WITHOUT_TIMESTAMP: &str = "0005";

/// An answer whose envelope and status were read.
#[derive(Debug)]
pub(super) struct Reply {
    pub(super) body: Element,
    pub(super) status: Status,
}

impl Reply {
    /// The response element, if ISDS said `0000`.
    pub(super) fn ok(self) -> IsdsResult<Element> {
        if self.status.code == OK { Ok(self.body) } else { Err(self.status.into_error()) }
    }

    /// Whether a signed download's answer can be used: ISDS said `0000`, or
    /// `0005` (signed, without a time stamp) and the signature is there.
    pub(super) fn check_signed(&self) -> IsdsResult<()> {
        if self.status.code == OK {
            return Ok(());
        }
        if self.status.code == SIGNED_WITHOUT_TIMESTAMP && self.body.child("dmSignature").is_some() {
            tracing::warn!(status_code = SIGNED_WITHOUT_TIMESTAMP, "ISDS signed the message without a time stamp");
            return Ok(());
        }
        Err(self.status.clone().into_error())
    }
}

#[derive(Debug, Clone)]
pub(super) struct Status {
    pub(super) code: String,
    message: String,
}

impl Status {
    pub(super) fn into_error(self) -> IsdsError {
        if NOT_FOUND.contains(&self.code.as_str()) {
            IsdsError::NotFound
        } else if TRY_LATER.contains(&self.code.as_str()) {
            IsdsError::Unavailable(Box::new(Transport::TryLater(self.code)))
        } else {
            IsdsError::Refused { code: self.code, message: self.message }
        }
    }
}

/// Causes of [`IsdsError::Unavailable`] that are not a `reqwest::Error`.
#[derive(Debug, thiserror::Error)]
enum Transport {
    #[error("ISDS answered HTTP {0}")]
    Status(u16),
    #[error("ISDS asked to try again later (status {0})")]
    TryLater(String),
}

/// What the log may say about a failure: kinds and codes, not ISDS's texts.
pub(super) struct LoggedError<'a>(pub(super) &'a IsdsError);

impl fmt::Display for LoggedError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IsdsError::Refused { code, .. } => write!(f, "refused ({code})"),
            IsdsError::Unavailable(source) => write!(f, "unavailable: {source}"),
            other => write!(f, "{other}"),
        }
    }
}

pub(super) fn transport(error: reqwest::Error) -> IsdsError {
    if error.is_builder() {
        IsdsError::Invalid(format!("cannot build the request: {error}"))
    } else {
        IsdsError::Unavailable(Box::new(error))
    }
}

pub(super) async fn read_body(response: reqwest::Response) -> IsdsResult<Vec<u8>> {
    read_body_up_to(response, MAX_RESPONSE_BYTES).await
}

/// The body, at most `max` bytes, in one buffer (sized from Content-Length
/// when ISDS sends one, so it is not copied as it grows).
pub(super) async fn read_body_up_to(mut response: reqwest::Response, max: usize) -> IsdsResult<Vec<u8>> {
    let too_large = || IsdsError::Protocol(format!("the answer exceeds {} MiB", max / (1024 * 1024)));
    if response.content_length().is_some_and(|length| length > max as u64) {
        return Err(too_large());
    }
    let expected = response.content_length().and_then(|length| usize::try_from(length).ok()).unwrap_or(0);
    let mut body = Vec::with_capacity(expected);
    while let Some(chunk) = response.chunk().await.map_err(transport)? {
        if body.len() + chunk.len() > max {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// HTTP 5xx. A SOAP fault blaming the client means our request is malformed
/// and retrying cannot help; anything else is ISDS being unwell.
pub(super) fn server_error(status: u16, body: &[u8]) -> IsdsError {
    let client_fault = xml::parse(body).ok().is_some_and(|root| {
        root.children
            .iter()
            .filter(|c| c.is(SOAP_ENV_NS, "Body"))
            .flat_map(|b| b.children.iter())
            .filter(|f| f.is(SOAP_ENV_NS, "Fault"))
            .flat_map(|f| f.children.iter())
            .any(|c| c.name == "faultcode" && c.value().is_some_and(|code| code.ends_with("Client")))
    });
    if client_fault {
        IsdsError::Protocol(format!("ISDS rejected the request as malformed (HTTP {status}, SOAP Client fault)"))
    } else {
        IsdsError::Unavailable(Box::new(Transport::Status(status)))
    }
}

/// `soap:Envelope/soap:Body/{operation}Response` and its status.
pub(super) fn unwrap_envelope(body: &[u8], operation: &str) -> IsdsResult<Reply> {
    unwrap_envelope_in(body, operation, SOAP_ENV_NS)
}

/// [`unwrap_envelope`] for the SOAP version whose envelope namespace is `soap_ns`.
pub(super) fn unwrap_envelope_in(body: &[u8], operation: &str, soap_ns: &str) -> IsdsResult<Reply> {
    let protocol = |what: String| IsdsError::Protocol(format!("{operation}: {what}"));
    let root = xml::parse(body).map_err(protocol)?;
    if !root.is(soap_ns, "Envelope") {
        return Err(protocol(format!("the answer is not a SOAP envelope in {soap_ns}")));
    }
    let soap_body = root
        .children
        .into_iter()
        .find(|c| c.is(soap_ns, "Body"))
        .ok_or_else(|| protocol("the envelope has no Body".into()))?;
    let mut parts = soap_body.children;
    let response = match parts.pop() {
        Some(part) if parts.is_empty() => part,
        _ => return Err(protocol("the SOAP Body does not hold exactly one element".into())),
    };
    if response.is(soap_ns, "Fault") {
        return Err(protocol("ISDS answered a SOAP fault".into()));
    }
    let expected = format!("{operation}Response");
    if !response.is(ISDS_NS, &expected) {
        return Err(protocol(format!("expected {expected}, got {}", response.name)));
    }
    let status = status_of(&response)?;
    Ok(Reply { body: response, status })
}

/// `dmStatus` (`tStatus`) or `dbStatus` (`tDbReqStatus`).
pub(super) fn status_of(response: &Element) -> IsdsResult<Status> {
    let (status, prefix) = match (response.child("dmStatus"), response.child("dbStatus")) {
        (Some(status), _) => (status, "dm"),
        (None, Some(status)) => (status, "db"),
        (None, None) => return Err(IsdsError::Protocol(format!("{} has no dmStatus or dbStatus", response.name))),
    };
    let code = required_value(status, &format!("{prefix}StatusCode"))?;
    let message = optional_value(status, &format!("{prefix}StatusMessage")).unwrap_or_default();
    Ok(Status { code: code.to_owned(), message: message.to_owned() })
}
