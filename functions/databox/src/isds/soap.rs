//! Production adapter: a SOAP client of the ISDS web services (SOAP 1.1; SOAP
//! 1.2 with MTOM/XOP for big messages).
//!
//! Sources (the published ISDS interface, schema v3.09, as bundled in
//! `lofcz/DatovkaSharp` `DatovkaSharp/Resources/`; and the CZ.NIC libdatovka
//! maintainers' notes `doc/*` and `src/isds.c`):
//!
//! | operation | WSDL (path) | request / response elements |
//! |---|---|---|
//! | CreateMessage | `dm_operations.wsdl` (`dz`) | `dmBaseTypes.xsd` `tMessageCreateInput` / `tMessageCreateOutput` |
//! | SignedMessageDownload, SignedSentMessageDownload | `dm_operations.wsdl` (`dz`) | `tIDMessInput` / `tSignedMessDownOutput` (`dmSignature`) |
//! | MarkMessageAsDownloaded | `dm_info.wsdl` (`dx`) | `tIDMessInput` / `tMarkMessOutput` |
//! | GetListOfReceivedMessages, GetListOfSentMessages | `dm_info.wsdl` (`dx`) | `tListOfFReceivedInput`, `tListOfSentInput` / `tListOfMessOutput` (`dmRecord` = `tRecord`) |
//! | GetMessageStateChanges | `dm_info.wsdl` (`dx`) | `tGetStateChangesInput` / `tGetStateChangesOutput` |
//! | FindDataBox | `db_search.wsdl` (`df`) | `dbTypes.xsd` `tFindDBInput` (`tDbOwnerInfo`) / `tFindDBOuput` (`tDbOwnerInfoExt`) |
//! | FindPersonalDataBox | `db_search.wsdl` (`df`) | `tFindPersonalDBInput` (`tdbPersonalOwnerInfo`) / `tFindPersonalDBOutput` |
//! | DataBoxCreditInfo (now, and with dates: the history) | `db_search.wsdl` (`df`) | `tDBCreditInfoInput` / `tDBCreditInfoOutput` (`tCiRecord`) |
//! | DTInfo | `db_search.wsdl` (`df`) | `tDTInfoInput` / `tDTInfoOutput` |
//! | GetOwnerInfoFromLogin | `db_access.wsdl` (`DsManage`) | `tDummyInput` / `tGetOwnInfoOutput` (`tDbOwnerInfo`) |
//! | UploadAttachment (SOAP 1.2, MTOM/XOP request) | `dm_VoDZ.wsdl` (`vodz`, ws2 host) | `UploadAttachment` (`dmFile`/`dmEncodedContent` as `xop:Include`) / `UploadAttachmentResponse` (`dmAttID`, `dmAttHash1`, `dmAttHash2`) |
//! | CreateBigMessage (SOAP 1.2) | `dm_VoDZ.wsdl` (`vodz`, ws2 host) | `tBigMessageInput` (`tBigMessEnvelope`, `dmExtFile`) / `tBigMessageOutput` |
//! | SignedBigMessageDownload, SignedSentBigMessageDownload (SOAP 1.2, MTOM/XOP answer) | `dm_VoDZ.wsdl` (`vodz`, ws2 host) | `dmID` / `dmSignature` (an XOP part or base64) |
//! | CreateDataBox2 (`manage`: box management, the operator's own login) | `db_manipulations.wsdl` 2.35 (`DsManage`) | `tCreateDBInput2` (`tDbOwnerInfoExt2`) / `tCreateDBOutput2` (`dbID`) |
//! | FindDataBox2 (`manage`: the person's box before and after creating) | `db_search.wsdl` (`df`) | `tFindDBInput2` / `tFindDBOuput2` (`tDbOwnerInfoExt2`) |
//!
//! Every call runs in a [`BoxContext`]: with the hosted records-system login
//! (production) the context's box id is the HTTP Basic user of that very
//! call, so each citizen's calls act in their own box
//! (`docs/architecture.md`, "Data box: access to each citizen's box").
//!
//! Every binding is document/literal with `soapAction=""`. The VoDZ services
//! (big messages, over 20 MB) are SOAP 1.2 on the `ws2` hosts and carry file
//! contents as MTOM/XOP parts (`vodz`: what is streamed, what is held). Message services
//! answer with `dmStatus` (`tStatus`), box services with `dbStatus`
//! (`tDbReqStatus`); `0000` is success.
//!
//! Every request is valid against the official WSDL and XSD: the files are in
//! `tests/fixtures/isds/xsd/`, and `tests/isds_schema.rs` validates each kind
//! above, with its optional values set and unset, using libxml2 (Python lxml).
//! Unset values are `xsi:nil`, never empty elements (see `xml::Request`).
//!
//! Not built, because the portal does not need them: `BigMessageDownload` and
//! `DownloadAttachment` (the unsigned big message and one of its files; the
//! portal keeps the signed ZFO, as for standard messages),
//! `AuthenticateBigMessage`, `MessageDownload` (the
//! unsigned copy of a received message; the portal keeps the signed ZFO as the
//! record and reads the same envelope and files out of it) and
//! `DummyOperation` (`dm_operations.wsdl`: "pro navazování a udržování
//! spojení", a keep-alive for session logins, since 3.06 an "unused service";
//! every call here logs in on its own, by HTTP Basic or a client certificate).
//!
//! The downloaded ZFO is kept byte for byte in [`super::SignedMessage::zfo`]
//! (a big message's as a sealed blob, [`super::Content`]); its CMS signature
//! is not verified here (`super::zfo_verify`, when a message is shown).
//!
//! Layout: this file holds the configuration and the client (login, one SOAP
//! exchange); `operations` the port's operations and the requests they
//! send; `vodz` the VoDZ exchange (SOAP 1.2, MTOM/XOP) and its requests;
//! `reply` reads an answer's envelope and status; `records` turns
//! ISDS records into the port's types; `times` reads and writes ISDS times;
//! `xml` and `der` are the readers underneath, `split` cuts a big message's
//! XML into its files and the rest as it streams.

mod answer_file;
pub(crate) mod der;
pub mod manage;
mod operations;
mod records;
mod reply;
mod split;
mod times;
mod vodz;
mod xml;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use secrecy::{ExposeSecret, SecretString};

use super::{Access, BoxContext, BoxId, IsdsError, IsdsResult};
use reply::{LoggedError, Reply, read_body, server_error, transport, unwrap_envelope};
use xml::Request;

/// Base URLs, one per ISDS instance and login method (libdatovka
/// `doc/server_locators`; the WSDLs' `soap:address` gives
/// `https://ws1.mojedatovaschranka.cz/DS/dz`, `…/DS/dx`, `…/DS/df`,
/// `…/DS/DsManage`). The adapter appends `dz`, `dx`, `df` or `DsManage`.
pub mod endpoints {
    /// Production, user name and password (HTTP Basic).
    pub const PRODUCTION_PASSWORD: &str = "https://ws1.mojedatovaschranka.cz/DS/";
    /// Production, a system certificate registered to the box.
    pub const PRODUCTION_CERTIFICATE: &str = "https://ws1c.mojedatovaschranka.cz/cert/DS/";
    /// Production, a third party's system certificate acting for a box
    /// (hosted applications; HTTP Basic user = box id, empty password).
    pub const PRODUCTION_HOSTED: &str = "https://ws1c.mojedatovaschranka.cz/hspis/DS/";
    /// Test instance (czebox.cz), user name and password.
    pub const TEST_PASSWORD: &str = "https://ws1.czebox.cz/DS/";
    /// Test instance, system certificate.
    pub const TEST_CERTIFICATE: &str = "https://ws1c.czebox.cz/cert/DS/";
    /// Test instance, hosted system certificate.
    pub const TEST_HOSTED: &str = "https://ws1c.czebox.cz/hspis/DS/";
}

/// Settings of the SOAP adapter, read once by the configuration module.
#[derive(Debug, Clone)]
pub struct SoapConfig {
    /// One of [`endpoints`] (ending in `/DS/`); `http://` only for a loopback
    /// host, for tests.
    pub base_url: String,
    pub login: SoapLogin,
    pub timeouts: SoapTimeouts,
}

/// How the adapter logs in (libdatovka `doc/login`, "Stateless HTTP Basic
/// Method"). The base URL must match the method.
///
/// The portal serves many citizens' boxes, so production uses
/// [`SoapLogin::HostedCertificate`]: one certificate of the portal, and each
/// call names the citizen's box (`docs/architecture.md`, "Data box: access to
/// each citizen's box"). The other two log in to one box only, for a test
/// box on the test instance: a call for any other box is refused before
/// anything is sent.
#[derive(Debug, Clone)]
pub enum SoapLogin {
    /// HTTP Basic with the user name and password of `own_box`'s user.
    Password { user: String, password: SecretString, own_box: BoxId },
    /// A system certificate registered to `own_box` alone; no password.
    Certificate { cert_pem: String, key_pem: SecretString, own_box: BoxId },
    /// A hosted records system's certificate acting for the box each call
    /// names (HTTP Basic user = that box id, empty password).
    HostedCertificate { cert_pem: String, key_pem: SecretString },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SoapTimeouts {
    /// Establishing the TCP + TLS connection.
    pub connect: Duration,
    /// A whole ordinary call (lists, box information, marking).
    pub request: Duration,
    /// A whole call that carries a message: CreateMessage and the signed
    /// downloads (up to 20 MB of attachments, base64 inside base64).
    pub transfer: Duration,
}

impl Default for SoapTimeouts {
    fn default() -> Self {
        Self { connect: Duration::from_secs(10), request: Duration::from_secs(60), transfer: Duration::from_secs(300) }
    }
}

/// The four web-service endpoints (URL postfixes, libdatovka `src/validator.c`).
#[derive(Debug, Clone, Copy)]
enum Service {
    /// `dm_operations.wsdl`
    Operations,
    /// `dm_info.wsdl`
    Info,
    /// `db_search.wsdl`
    Search,
    /// `db_access.wsdl`
    Access,
}

impl Service {
    fn path(self) -> &'static str {
        match self {
            Self::Operations => "dz",
            Self::Info => "dx",
            Self::Search => "df",
            Self::Access => "DsManage",
        }
    }
}

#[derive(Debug)]
enum Login {
    Password { user: String, password: SecretString, own_box: BoxId },
    Certificate { own_box: BoxId },
    Hosted,
}

/// The ISDS SOAP client. Build it once and share it.
#[derive(Debug)]
pub struct SoapIsds {
    http: reqwest::Client,
    base: reqwest::Url,
    login: Login,
    timeouts: SoapTimeouts,
    /// The authorities ISDS's ZFOs must chain to (`with_zfo_trust`).
    zfo_trust: super::zfo_verify::TrustAnchors,
    /// Where a big download's answer is received (`with_answer_dir`).
    answer_dir: std::path::PathBuf,
}

impl SoapIsds {
    pub fn new(config: SoapConfig) -> Result<Self, IsdsError> {
        let base = base_url(&config.base_url)?;
        let mut builder = reqwest::Client::builder()
            .connect_timeout(config.timeouts.connect)
            .timeout(config.timeouts.request)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("portal-databox/", env!("CARGO_PKG_VERSION")));
        let login = match config.login {
            SoapLogin::Password { user, password, own_box } => {
                if user.is_empty() || user.contains(':') {
                    return Err(IsdsError::Invalid("the ISDS user name is empty or contains ':'".into()));
                }
                Login::Password { user, password, own_box }
            }
            SoapLogin::Certificate { cert_pem, key_pem, own_box } => {
                builder = builder.identity(identity(&cert_pem, &key_pem)?);
                Login::Certificate { own_box }
            }
            SoapLogin::HostedCertificate { cert_pem, key_pem } => {
                builder = builder.identity(identity(&cert_pem, &key_pem)?);
                Login::Hosted
            }
        };
        let http = builder.build().map_err(|e| IsdsError::Invalid(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            http,
            base,
            login,
            timeouts: config.timeouts,
            zfo_trust: Default::default(),
            answer_dir: std::env::temp_dir(),
        })
    }

    /// Trusts `anchors` (the PostSignum qualified CAs) for ISDS's ZFOs;
    /// without it no ZFO verifies.
    pub fn with_zfo_trust(mut self, anchors: super::zfo_verify::TrustAnchors) -> Self {
        self.zfo_trust = anchors;
        self
    }

    /// Receives big (VoDZ) answers into anonymous files in `dir` (by
    /// default the system's temporary folder; `answer_file`).
    pub fn with_answer_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.answer_dir = dir.into();
        self
    }

    /// One SOAP exchange; logs the operation, the ISDS status code and the
    /// duration, never the content. Its span is what telemetry export makes a
    /// dependency (`HTTP`, the ISDS host, the ISDS status code; see
    /// `portal_telemetry::conventions`).
    #[tracing::instrument(
        name = "isds.call",
        skip_all,
        fields(
            soap_operation = operation,
            otel.kind = "client",
            dependency.type = "HTTP",
            server.address = self.base.host_str().unwrap_or_default(),
            dependency.result = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        )
    )]
    async fn call(
        &self,
        service: Service,
        operation: &'static str,
        ctx: &BoxContext,
        request: Request,
        timeout: Duration,
    ) -> IsdsResult<Reply> {
        let started = Instant::now();
        let result = self.exchange(service, operation, ctx, request, timeout).await;
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match &result {
            Ok(reply) => {
                tracing::Span::current().record("dependency.result", reply.status.code.as_str());
                tracing::debug!(soap_operation = operation, status_code = %reply.status.code, elapsed_ms, "ISDS answered")
            }
            Err(error) => {
                tracing::Span::current().record("otel.status_code", "ERROR");
                tracing::warn!(soap_operation = operation, elapsed_ms, error = %LoggedError(error), "ISDS call failed");
            }
        }
        result
    }

    async fn exchange(
        &self,
        service: Service,
        operation: &'static str,
        ctx: &BoxContext,
        request: Request,
        timeout: Duration,
    ) -> IsdsResult<Reply> {
        let url = self
            .base
            .join(service.path())
            .map_err(|_| IsdsError::Invalid("the ISDS base URL cannot be joined with a service path".into()))?;
        let builder = self
            .http
            .post(url)
            .timeout(timeout)
            .header(CONTENT_TYPE, "text/xml; charset=utf-8")
            .header("SOAPAction", "\"\"")
            .header(ACCEPT, "text/xml");
        let builder = self.authorized(builder, ctx)?;
        let response = builder.body(request.finish()).send().await.map_err(transport)?;
        let status = response.status();
        let body = read_body(response).await?;
        match status.as_u16() {
            200..=299 => {}
            401 | 403 => {
                return Err(IsdsError::Refused {
                    code: format!("HTTP {}", status.as_u16()),
                    message: "ISDS did not accept the login: check the configured user name and password, or the \
                              client certificate and its registration to the data box"
                        .into(),
                });
            }
            500..=599 => return Err(server_error(status.as_u16(), &body)),
            other => return Err(IsdsError::Protocol(format!("{operation}: unexpected HTTP status {other}"))),
        }
        unwrap_envelope(&body, operation)
    }
}

impl SoapIsds {
    /// `builder` with the login for a call in `ctx`; refused before anything
    /// is sent when the login cannot act in that box.
    fn authorized(&self, builder: reqwest::RequestBuilder, ctx: &BoxContext) -> IsdsResult<reqwest::RequestBuilder> {
        if ctx.access() == Access::Simulated {
            return Err(IsdsError::Invalid("a simulated box context cannot be used with ISDS".into()));
        }
        Ok(match &self.login {
            Login::Password { own_box, .. } | Login::Certificate { own_box } if own_box != ctx.box_id() => {
                return Err(IsdsError::Invalid(format!(
                    "this ISDS login acts only in box {own_box}, not in {}: serving citizens needs the hosted \
                     records-system certificate",
                    ctx.box_id()
                )));
            }
            Login::Password { user, password, .. } => builder.basic_auth(user, Some(password.expose_secret())),
            Login::Certificate { .. } => builder,
            // The box each call acts for is the HTTP Basic user.
            Login::Hosted => builder.basic_auth(ctx.box_id().as_str(), Some("")),
        })
    }
}

fn base_url(raw: &str) -> IsdsResult<reqwest::Url> {
    let mut text = raw.trim().to_owned();
    if !text.ends_with('/') {
        text.push('/');
    }
    let invalid = |why: &str| IsdsError::Invalid(format!("the ISDS base URL {why}"));
    let url = reqwest::Url::parse(&text).map_err(|_| invalid("is not a URL"))?;
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("must not carry credentials, a query or a fragment"));
    }
    let loopback = url.host_str().is_some_and(|host| {
        host == "localhost" || host.trim_matches(['[', ']']).parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    });
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        _ => Err(invalid("must use https")),
    }
}

/// The client certificate and key for TLS client authentication.
fn identity(cert_pem: &str, key_pem: &SecretString) -> IsdsResult<reqwest::Identity> {
    let mut pem = Vec::with_capacity(cert_pem.len() + key_pem.expose_secret().len() + 1);
    pem.extend_from_slice(key_pem.expose_secret().as_bytes());
    pem.push(b'\n');
    pem.extend_from_slice(cert_pem.as_bytes());
    let identity = reqwest::Identity::from_pem(&pem);
    pem.fill(0);
    identity.map_err(|_| {
        IsdsError::Invalid("the ISDS client certificate and key must be PEM (a certificate and a private key)".into())
    })
}
