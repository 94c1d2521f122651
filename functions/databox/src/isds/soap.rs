//! Production adapter: a SOAP 1.1 client of the ISDS web services.
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
//! | DataBoxCreditInfo | `db_search.wsdl` (`df`) | `tDBCreditInfoInput` / `tDBCreditInfoOutput` |
//! | DTInfo | `db_search.wsdl` (`df`) | `tDTInfoInput` / `tDTInfoOutput` |
//! | GetOwnerInfoFromLogin | `db_access.wsdl` (`DsManage`) | `tDummyInput` / `tGetOwnInfoOutput` (`tDbOwnerInfo`) |
//!
//! Every binding is document/literal with `soapAction=""`. Message services
//! answer with `dmStatus` (`tStatus`), box services with `dbStatus`
//! (`tDbReqStatus`); `0000` is success.
//!
//! The downloaded ZFO is kept byte for byte in [`SignedMessage::zfo`]; its
//! CMS signature is not verified here (see [`der`]).

mod der;
mod xml;

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use secrecy::{ExposeSecret, SecretString};
use time::format_description::well_known::Rfc3339;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

use super::{
    Attachment, BoxId, BoxInfo, BoxSearch, BoxState, CreditInfo, Direction, FileMetaType, Isds, IsdsError, IsdsResult,
    ListQuery, MessageEnvelope, MessageId, MessageStatus, OutgoingMessage, SignedMessage, StateChange, VaultInfo,
};
use xml::{Element, ISDS_NS, Request, SOAP_ENV_NS};

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
#[derive(Debug, Clone)]
pub enum SoapLogin {
    /// HTTP Basic with the box's user name and password.
    Password { user: String, password: SecretString },
    /// A system certificate registered to one box; no password.
    Certificate { cert_pem: String, key_pem: SecretString },
    /// A third party's system certificate acting for the box each call names
    /// (HTTP Basic user = that box id, empty password).
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

/// The largest answer read. A message is at most 20 MB before it becomes a
/// VoDZ (other services); its ZFO in base64 stays well below this.
const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

/// `dmStatusCode`/`dbStatusCode` of success.
const OK: &str = "0000";
/// Codes that mean "no such message or box (for you)": 1219 message does not
/// exist in the box (MessageDownload, VerifyMessage, EraseMessage), 1211 the
/// message belongs to another box (EraseMessage), 5001 no such box
/// (FindDataBox, CheckDataBox) — libdatovka `doc/user_web_services` and
/// `doc/web_service_interface`.
const NOT_FOUND: [&str; 3] = ["1211", "1219", "5001"];
/// Codes that ask to try again later: 3006 marking takes too long, 3008 too
/// many parallel requests, 3009 too many requests (`doc/web_service_interface`),
/// 9502 the time-stamping authority fails (`doc/message`).
const TRY_LATER: [&str; 4] = ["3006", "3008", "3009", "9502"];
/// The signed download came without its time stamp because the time-stamping
/// authority did not answer; the CMS is still ISDS's signature (`doc/message`).
const SIGNED_WITHOUT_TIMESTAMP: &str = "0005";

/// `dbType` names (`dbTypes.xsd` `tDbType`) and their numeric codes
/// (`czech-egov-domain.md` §1.4).
const BOX_TYPES: [(&str, u8); 22] = [
    ("OVM", 10),
    ("OVM_NOTAR", 11),
    ("OVM_EXEKUT", 12),
    ("OVM_REQ", 13),
    ("OVM_FO", 14),
    ("OVM_PFO", 15),
    ("OVM_PO", 16),
    ("PO", 20),
    ("PO_ZAK", 21),
    ("PO_REQ", 22),
    ("PFO", 30),
    ("PFO_ADVOK", 31),
    ("PFO_DANPOR", 32),
    ("PFO_INSSPR", 33),
    ("PFO_AUDITOR", 34),
    ("PFO_ZNALEC", 35),
    ("PFO_TLUMOCNIK", 36),
    ("PFO_ARCH", 37),
    ("PFO_AIAT", 38),
    ("PFO_AZI", 39),
    ("FO", 40),
    ("PFO_REQ", 50),
];

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
    Password { user: String, password: SecretString },
    Certificate,
    Hosted,
}

/// The ISDS SOAP client. Build it once and share it.
#[derive(Debug)]
pub struct SoapIsds {
    http: reqwest::Client,
    base: reqwest::Url,
    login: Login,
    timeouts: SoapTimeouts,
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
            SoapLogin::Password { user, password } => {
                if user.is_empty() || user.contains(':') {
                    return Err(IsdsError::Invalid("the ISDS user name is empty or contains ':'".into()));
                }
                Login::Password { user, password }
            }
            SoapLogin::Certificate { cert_pem, key_pem } => {
                builder = builder.identity(identity(&cert_pem, &key_pem)?);
                Login::Certificate
            }
            SoapLogin::HostedCertificate { cert_pem, key_pem } => {
                builder = builder.identity(identity(&cert_pem, &key_pem)?);
                Login::Hosted
            }
        };
        let http = builder.build().map_err(|e| IsdsError::Invalid(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self { http, base, login, timeouts: config.timeouts })
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
        acting_box: Option<&BoxId>,
        request: Request,
        timeout: Duration,
    ) -> IsdsResult<Reply> {
        let started = Instant::now();
        let result = self.exchange(service, operation, acting_box, request, timeout).await;
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
        acting_box: Option<&BoxId>,
        request: Request,
        timeout: Duration,
    ) -> IsdsResult<Reply> {
        let url = self
            .base
            .join(service.path())
            .map_err(|_| IsdsError::Invalid("the ISDS base URL cannot be joined with a service path".into()))?;
        let mut builder = self
            .http
            .post(url)
            .timeout(timeout)
            .header(CONTENT_TYPE, "text/xml; charset=utf-8")
            .header("SOAPAction", "\"\"")
            .header(ACCEPT, "text/xml");
        builder = match &self.login {
            Login::Password { user, password } => builder.basic_auth(user, Some(password.expose_secret())),
            Login::Certificate => builder,
            Login::Hosted => {
                let acting_box = acting_box.ok_or_else(|| {
                    IsdsError::Invalid(
                        "with a hosted certificate login, every call must name the box it acts for".into(),
                    )
                })?;
                builder.basic_auth(acting_box.as_str(), Some(""))
            }
        };
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

#[async_trait]
impl Isds for SoapIsds {
    #[tracing::instrument(skip_all, fields(operation = "list_messages", box_id = %box_id))]
    async fn list_messages(
        &self,
        box_id: &BoxId,
        direction: Direction,
        query: &ListQuery,
    ) -> IsdsResult<Vec<MessageEnvelope>> {
        // tListOfFReceivedInput / tListOfSentInput: dmFromTime, dmToTime,
        // dm{Recipient,Sender}OrgUnitNum, dmStatusFilter, dmOffset, dmLimit.
        let (operation, org_unit) = match direction {
            Direction::Received => ("GetListOfReceivedMessages", "dmRecipientOrgUnitNum"),
            Direction::Sent => ("GetListOfSentMessages", "dmSenderOrgUnitNum"),
        };
        let mut request = Request::new(operation);
        request
            .leaf("dmFromTime", query.from.map(format_time).transpose()?.as_deref())?
            .leaf("dmToTime", query.to.map(format_time).transpose()?.as_deref())?
            .leaf(org_unit, None)?
            .leaf_plain("dmStatusFilter", &status_filter(&query.statuses))
            .leaf_plain("dmOffset", &query.offset.max(1).to_string());
        if query.limit == 0 {
            // Empty: the ISDS default (1000, `doc/user_web_services`).
            request.leaf("dmLimit", None)?;
        } else {
            request.leaf_plain("dmLimit", &query.limit.to_string());
        }
        let body = self.call(Service::Info, operation, Some(box_id), request, self.timeouts.request).await?.ok()?;
        let Some(records) = body.child("dmRecords") else { return Ok(Vec::new()) };
        records.children_named("dmRecord").map(|record| envelope(record, record)).collect()
    }

    #[tracing::instrument(skip_all, fields(operation = "download_message", box_id = %box_id))]
    async fn download_message(
        &self,
        box_id: &BoxId,
        direction: Direction,
        id: &MessageId,
    ) -> IsdsResult<SignedMessage> {
        let operation = match direction {
            Direction::Received => "SignedMessageDownload",
            Direction::Sent => "SignedSentMessageDownload",
        };
        let mut request = Request::new(operation);
        request.leaf("dmID", Some(id.as_str()))?;
        let reply = self.call(Service::Operations, operation, Some(box_id), request, self.timeouts.transfer).await?;
        let body = if reply.status.code == SIGNED_WITHOUT_TIMESTAMP && reply.body.child("dmSignature").is_some() {
            tracing::warn!(status_code = SIGNED_WITHOUT_TIMESTAMP, "ISDS signed the message without a time stamp");
            reply.body
        } else {
            reply.ok()?
        };
        // tSignedMessDownOutput: dmSignature = the ZFO (CMS), base64.
        let zfo = decode_base64("dmSignature", required_value(&body, "dmSignature")?)?;
        let content = der::signed_content(&zfo).map_err(|e| IsdsError::Protocol(e.to_string()))?;
        let (envelope, attachments) = signed_message(&content, id)?;
        Ok(SignedMessage { envelope, attachments, zfo: Bytes::from(zfo) })
    }

    #[tracing::instrument(skip_all, fields(operation = "send_message", box_id = %box_id))]
    async fn send_message(&self, box_id: &BoxId, message: &OutgoingMessage) -> IsdsResult<MessageId> {
        let request = create_message(message)?;
        let body = self
            .call(Service::Operations, "CreateMessage", Some(box_id), request, self.timeouts.transfer)
            .await?
            .ok()?;
        // tMessageCreateOutput: dmID is present on success.
        message_id(required_value(&body, "dmID")?)
    }

    #[tracing::instrument(skip_all, fields(operation = "mark_downloaded", box_id = %box_id))]
    async fn mark_downloaded(&self, box_id: &BoxId, id: &MessageId) -> IsdsResult<()> {
        let mut request = Request::new("MarkMessageAsDownloaded");
        request.leaf("dmID", Some(id.as_str()))?;
        self.call(Service::Info, "MarkMessageAsDownloaded", Some(box_id), request, self.timeouts.request)
            .await?
            .ok()?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(operation = "state_changes", box_id = %box_id))]
    async fn state_changes(
        &self,
        box_id: &BoxId,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> IsdsResult<Vec<StateChange>> {
        let mut request = Request::new("GetMessageStateChanges");
        request.leaf("dmFromTime", Some(&format_time(from)?))?.leaf("dmToTime", Some(&format_time(to)?))?;
        let body = self
            .call(Service::Info, "GetMessageStateChanges", Some(box_id), request, self.timeouts.request)
            .await?
            .ok()?;
        let Some(records) = body.child("dmRecords") else { return Ok(Vec::new()) };
        // tStateChangesRecord: dmID, dmEventTime, dmMessageStatus.
        records
            .children_named("dmRecord")
            .map(|record| {
                Ok(StateChange {
                    id: message_id(required_value(record, "dmID")?)?,
                    at: datetime("dmEventTime", required_value(record, "dmEventTime")?)?,
                    status: message_status(required_value(record, "dmMessageStatus")?)?,
                })
            })
            .collect()
    }

    #[tracing::instrument(skip_all, fields(operation = "box_info", box_id = %box_id))]
    async fn box_info(&self, box_id: &BoxId) -> IsdsResult<BoxInfo> {
        let mut request = Request::new("GetOwnerInfoFromLogin");
        request.leaf("dbDummy", None)?;
        let body = self
            .call(Service::Access, "GetOwnerInfoFromLogin", Some(box_id), request, self.timeouts.request)
            .await?
            .ok()?;
        let info = owner_info(required(&body, "dbOwnerInfo")?)?;
        if info.id != *box_id {
            // The login belongs to another box than the one asked about.
            return Err(IsdsError::NotFound);
        }
        Ok(info)
    }

    #[tracing::instrument(skip_all, fields(operation = "credit_info", box_id = %box_id))]
    async fn credit_info(&self, box_id: &BoxId) -> IsdsResult<CreditInfo> {
        // tDBCreditInfoInput: dbID, ciFromDate, ciTodate (empty: no history).
        let mut request = Request::new("DataBoxCreditInfo");
        request.leaf("dbID", Some(box_id.as_str()))?.leaf("ciFromDate", None)?.leaf("ciTodate", None)?;
        let body = self
            .call(Service::Search, "DataBoxCreditInfo", Some(box_id), request, self.timeouts.request)
            .await?
            .ok()?;
        // currentCredit is in hundredths of CZK (libdatovka isds.h).
        Ok(CreditInfo { current_hellers: number("currentCredit", required_value(&body, "currentCredit")?)? })
    }

    #[tracing::instrument(skip_all, fields(operation = "vault_info", box_id = %box_id))]
    async fn vault_info(&self, box_id: &BoxId) -> IsdsResult<VaultInfo> {
        // tDTInfoInput: dbId (sic); tDTInfoOutput: ActDTType, ActDTCapacity,
        // ActDTFrom, ActDTTo, ActDTCapUsed, FutDT* (not used).
        let mut request = Request::new("DTInfo");
        request.leaf("dbId", Some(box_id.as_str()))?;
        let body = self.call(Service::Search, "DTInfo", Some(box_id), request, self.timeouts.request).await?.ok()?;
        Ok(VaultInfo {
            vault_type: number("ActDTType", required_value(&body, "ActDTType")?)?,
            capacity: optional_value(&body, "ActDTCapacity").map(|v| number("ActDTCapacity", v)).transpose()?,
            used: optional_value(&body, "ActDTCapUsed").map(|v| number("ActDTCapUsed", v)).transpose()?,
            valid_from: optional_value(&body, "ActDTFrom").map(|v| day_start("ActDTFrom", v)).transpose()?,
            valid_to: optional_value(&body, "ActDTTo").map(|v| day_start("ActDTTo", v)).transpose()?,
        })
    }

    #[tracing::instrument(skip_all, fields(operation = "find_boxes", box_id = tracing::field::Empty))]
    async fn find_boxes(&self, query: &BoxSearch) -> IsdsResult<Vec<BoxInfo>> {
        // By id, only dbID counts; by name, ISDS requires the box type
        // (code 1101) and matches firmName as a substring of at least 3
        // characters (`doc/user_web_services`, FindDataBox). Citizens look
        // for authorities, so the type is OVM.
        let (id, db_type, firm_name) = match query {
            BoxSearch::Id(id) => (Some(id.as_str()), None, None),
            BoxSearch::Name(name) => {
                let name = name.trim();
                if name.chars().count() < 3 {
                    return Err(IsdsError::Invalid(
                        "search for a data box by at least 3 characters of its name".into(),
                    ));
                }
                (None, Some("OVM"), Some(name))
            }
        };
        let mut request = Request::new("FindDataBox");
        request.open("dbOwnerInfo", &[])?;
        // tDbOwnerInfo, every element in schema order (email and telNumber are optional).
        request
            .leaf("dbID", id)?
            .leaf("dbType", db_type)?
            .leaf("ic", None)?
            .leaf("pnFirstName", None)?
            .leaf("pnMiddleName", None)?
            .leaf("pnLastName", None)?
            .leaf("pnLastNameAtBirth", None)?
            .leaf("firmName", firm_name)?
            .leaf("biDate", None)?
            .leaf("biCity", None)?
            .leaf("biCounty", None)?
            .leaf("biState", None)?
            .leaf("adCity", None)?
            .leaf("adStreet", None)?
            .leaf("adNumberInStreet", None)?
            .leaf("adNumberInMunicipality", None)?
            .leaf("adZipCode", None)?
            .leaf("adState", None)?
            .leaf("nationality", None)?
            .leaf("identifier", None)?
            .leaf("registryCode", None)?
            .leaf("dbState", None)?
            .leaf("dbEffectiveOVM", None)?
            .leaf("dbOpenAddressing", None)?;
        request.close("dbOwnerInfo");
        let reply = self.call(Service::Search, "FindDataBox", None, request, self.timeouts.request).await?;
        match reply.status.code.as_str() {
            // 0003: too many matches, the list is truncated but valid.
            OK | "0003" => {}
            // 0002: nothing matches the criteria; 5001: no box has this id.
            "0002" | "5001" => return Ok(Vec::new()),
            _ => return Err(reply.status.into_error()),
        }
        let Some(results) = reply.body.child("dbResults") else { return Ok(Vec::new()) };
        results.children_named("dbOwnerInfo").map(owner_info).collect()
    }
}

/// An answer whose envelope and status were read.
#[derive(Debug)]
struct Reply {
    body: Element,
    status: Status,
}

impl Reply {
    /// The response element, if ISDS said `0000`.
    fn ok(self) -> IsdsResult<Element> {
        if self.status.code == OK { Ok(self.body) } else { Err(self.status.into_error()) }
    }
}

#[derive(Debug)]
struct Status {
    code: String,
    message: String,
}

impl Status {
    fn into_error(self) -> IsdsError {
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
struct LoggedError<'a>(&'a IsdsError);

impl fmt::Display for LoggedError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IsdsError::Refused { code, .. } => write!(f, "refused ({code})"),
            IsdsError::Unavailable(source) => write!(f, "unavailable: {source}"),
            other => write!(f, "{other}"),
        }
    }
}

fn transport(error: reqwest::Error) -> IsdsError {
    if error.is_builder() {
        IsdsError::Invalid(format!("cannot build the request: {error}"))
    } else {
        IsdsError::Unavailable(Box::new(error))
    }
}

async fn read_body(mut response: reqwest::Response) -> IsdsResult<Vec<u8>> {
    let too_large = || IsdsError::Protocol(format!("the answer exceeds {} MiB", MAX_RESPONSE_BYTES / (1024 * 1024)));
    if response.content_length().is_some_and(|length| length > MAX_RESPONSE_BYTES as u64) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport)? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// HTTP 5xx. A SOAP fault blaming the client means our request is malformed
/// and retrying cannot help; anything else is ISDS being unwell.
fn server_error(status: u16, body: &[u8]) -> IsdsError {
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
fn unwrap_envelope(body: &[u8], operation: &str) -> IsdsResult<Reply> {
    let protocol = |what: String| IsdsError::Protocol(format!("{operation}: {what}"));
    let root = xml::parse(body).map_err(protocol)?;
    if !root.is(SOAP_ENV_NS, "Envelope") {
        return Err(protocol("the answer is not a SOAP 1.1 envelope".into()));
    }
    let soap_body = root
        .children
        .into_iter()
        .find(|c| c.is(SOAP_ENV_NS, "Body"))
        .ok_or_else(|| protocol("the envelope has no Body".into()))?;
    let mut parts = soap_body.children;
    let response = match parts.pop() {
        Some(part) if parts.is_empty() => part,
        _ => return Err(protocol("the SOAP Body does not hold exactly one element".into())),
    };
    if response.is(SOAP_ENV_NS, "Fault") {
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
fn status_of(response: &Element) -> IsdsResult<Status> {
    let (status, prefix) = match (response.child("dmStatus"), response.child("dbStatus")) {
        (Some(status), _) => (status, "dm"),
        (None, Some(status)) => (status, "db"),
        (None, None) => return Err(IsdsError::Protocol(format!("{} has no dmStatus or dbStatus", response.name))),
    };
    let code = required_value(status, &format!("{prefix}StatusCode"))?;
    let message = optional_value(status, &format!("{prefix}StatusMessage")).unwrap_or_default();
    Ok(Status { code: code.to_owned(), message: message.to_owned() })
}

/// `CreateMessage` (`tMessageCreateInput`): `dmEnvelope` in the order of
/// `gMessageEnvelopeSub`, then `dmFiles`. Unset nillable fields go as empty
/// elements, as libdatovka sends them.
fn create_message(message: &OutgoingMessage) -> IsdsResult<Request> {
    let limit = |name: &str, value: Option<&str>, max: usize| match value {
        Some(value) if value.chars().count() > max => {
            Err(IsdsError::Invalid(format!("{name} is longer than {max} characters")))
        }
        _ => Ok(()),
    };
    limit("dmAnnotation", Some(&message.subject), 255)?;
    limit("dmSenderRefNumber", message.sender_ref_number.as_deref(), 50)?;
    limit("dmSenderIdent", message.sender_ident.as_deref(), 50)?;
    limit("dmRecipientRefNumber", message.recipient_ref_number.as_deref(), 50)?;
    limit("dmRecipientIdent", message.recipient_ident.as_deref(), 50)?;
    if message.attachments.is_empty() {
        return Err(IsdsError::Invalid("a message needs at least one attachment".into()));
    }

    let mut request = Request::new("CreateMessage");
    // dmType="K": commercial (PDZ); absent: public (`tDmType`, `doc/message`).
    let envelope_attrs: &[(&str, &str)] = if message.commercial { &[("dmType", "K")] } else { &[] };
    request
        .open("dmEnvelope", envelope_attrs)?
        .leaf("dmSenderOrgUnit", None)?
        .leaf("dmSenderOrgUnitNum", None)?
        .leaf("dbIDRecipient", Some(message.recipient.as_str()))?
        .leaf("dmRecipientOrgUnit", None)?
        .leaf("dmRecipientOrgUnitNum", None)?
        .leaf("dmToHands", message.to_hands.as_deref())?
        .leaf("dmAnnotation", Some(&message.subject))?
        .leaf("dmRecipientRefNumber", message.recipient_ref_number.as_deref())?
        .leaf("dmSenderRefNumber", message.sender_ref_number.as_deref())?
        .leaf("dmRecipientIdent", message.recipient_ident.as_deref())?
        .leaf("dmSenderIdent", message.sender_ident.as_deref())?
        .leaf("dmLegalTitleLaw", None)?
        .leaf("dmLegalTitleYear", None)?
        .leaf("dmLegalTitleSect", None)?
        .leaf("dmLegalTitlePar", None)?
        .leaf("dmLegalTitlePoint", None)?
        .leaf("dmPersonalDelivery", Some(if message.personal_delivery { "true" } else { "false" }))?
        // Empty: ISDS's default (substitute delivery allowed).
        .leaf("dmAllowSubstDelivery", None)?
        .close("dmEnvelope");
    request.open("dmFiles", &[])?;
    for attachment in &message.attachments {
        // tFilesArray/dmFile: dmMimeType, dmFileMetaType, dmFileDescr; content in dmEncodedContent.
        request.open(
            "dmFile",
            &[
                ("dmMimeType", attachment.mime_type.as_str()),
                ("dmFileMetaType", attachment.meta_type.as_str()),
                ("dmFileDescr", attachment.name.as_str()),
            ],
        )?;
        request.leaf_plain("dmEncodedContent", &BASE64.encode(&attachment.content)).close("dmFile");
    }
    request.close("dmFiles");
    Ok(request)
}

/// The document inside a signed download: `MessageDownloadResponse` (in
/// `…/v20/message` or `…/v20/SentMessage`) / `dmReturnedMessage`
/// (`tReturnedMessage`) / `dmDm` (envelope and `dmFiles`), per libdatovka
/// `doc/user_web_services` (SignedMessageDownload).
fn signed_message(document: &[u8], id: &MessageId) -> IsdsResult<(MessageEnvelope, Vec<Attachment>)> {
    let root = xml::parse(document).map_err(|e| IsdsError::Protocol(format!("the signed message: {e}")))?;
    if !(root.is_isds() && root.name == "MessageDownloadResponse") {
        return Err(IsdsError::Protocol(format!("the signed message has root {}", root.name)));
    }
    let returned = required(&root, "dmReturnedMessage")?;
    let dm = required(returned, "dmDm")?;
    let envelope = envelope(dm, returned)?;
    if envelope.id != *id {
        return Err(IsdsError::Protocol(format!("asked for message {id}, the ZFO holds {}", envelope.id)));
    }
    let attachments = attachments(dm, document)?;
    Ok((envelope, attachments))
}

/// An envelope from `dm` (a `dmRecord`, or the `dmDm` of a downloaded
/// message: `gMessageEnvelope`) and `delivery` (the same `dmRecord`, or the
/// `dmReturnedMessage`: status, times, size and the `dmType` attribute).
///
/// Required here: the identifiers, names, subject and status. The other
/// nillable fields are read when present, so an answer that leaves them out
/// instead of sending `xsi:nil` still parses.
fn envelope(dm: &Element, delivery: &Element) -> IsdsResult<MessageEnvelope> {
    let text = |name: &str| -> IsdsResult<String> { Ok(required(dm, name)?.value().unwrap_or_default().to_owned()) };
    let optional = |name: &str| optional_value(dm, name).map(str::to_owned);
    Ok(MessageEnvelope {
        id: message_id(required_value(dm, "dmID")?)?,
        sender_box: box_id("dbIDSender", required_value(dm, "dbIDSender")?)?,
        sender_name: text("dmSender")?,
        sender_address: optional("dmSenderAddress"),
        recipient_box: box_id("dbIDRecipient", required_value(dm, "dbIDRecipient")?)?,
        recipient_name: text("dmRecipient")?,
        recipient_address: optional("dmRecipientAddress"),
        subject: text("dmAnnotation")?,
        sender_ref_number: optional("dmSenderRefNumber"),
        sender_ident: optional("dmSenderIdent"),
        recipient_ref_number: optional("dmRecipientRefNumber"),
        recipient_ident: optional("dmRecipientIdent"),
        to_hands: optional("dmToHands"),
        personal_delivery: optional_value(dm, "dmPersonalDelivery")
            .map(|v| boolean("dmPersonalDelivery", v))
            .transpose()?
            .unwrap_or(false),
        allow_subst_delivery: optional_value(dm, "dmAllowSubstDelivery")
            .map(|v| boolean("dmAllowSubstDelivery", v))
            .transpose()?
            .unwrap_or(true),
        status: message_status(required_value(delivery, "dmMessageStatus")?)?,
        message_type: delivery.attr("dmType").map(str::to_owned),
        delivery_time: optional_value(delivery, "dmDeliveryTime").map(|v| datetime("dmDeliveryTime", v)).transpose()?,
        acceptance_time: optional_value(delivery, "dmAcceptanceTime")
            .map(|v| datetime("dmAcceptanceTime", v))
            .transpose()?,
        attachment_size_kb: optional_value(delivery, "dmAttachmentSize")
            .map(|v| number("dmAttachmentSize", v))
            .transpose()?
            .unwrap_or(0),
    })
}

/// `dmFiles/dmFile` (`tFilesArray`): at least one; the content is
/// `dmEncodedContent` (base64) or `dmXMLContent` (kept byte for byte).
fn attachments(dm: &Element, document: &[u8]) -> IsdsResult<Vec<Attachment>> {
    let files = required(dm, "dmFiles")?;
    let mut attachments = Vec::new();
    for file in files.children_named("dmFile") {
        let attr = |name: &str| {
            file.attr(name).ok_or_else(|| IsdsError::Protocol(format!("a dmFile has no {name} attribute")))
        };
        let meta_type = match attr("dmFileMetaType")? {
            "main" => FileMetaType::Main,
            "enclosure" => FileMetaType::Enclosure,
            "signature" => FileMetaType::Signature,
            "meta" => FileMetaType::Meta,
            other => return Err(IsdsError::Protocol(format!("unknown dmFileMetaType {other}"))),
        };
        let content = if let Some(encoded) = file.child("dmEncodedContent") {
            Bytes::from(decode_base64("dmEncodedContent", encoded.value().unwrap_or_default())?)
        } else if let Some(xml) = file.child("dmXMLContent") {
            let raw = document
                .get(xml.inner.clone())
                .ok_or_else(|| IsdsError::Protocol("dmXMLContent lies outside the document".into()))?;
            Bytes::copy_from_slice(raw)
        } else {
            return Err(IsdsError::Protocol("a dmFile has neither dmEncodedContent nor dmXMLContent".into()));
        };
        attachments.push(Attachment {
            name: attr("dmFileDescr")?.to_owned(),
            mime_type: attr("dmMimeType")?.to_owned(),
            meta_type,
            content,
        });
    }
    if attachments.is_empty() {
        return Err(IsdsError::Protocol("dmFiles holds no dmFile".into()));
    }
    Ok(attachments)
}

/// `tDbOwnerInfo` / `tDbOwnerInfoExt` as a [`BoxInfo`].
fn owner_info(info: &Element) -> IsdsResult<BoxInfo> {
    let id = box_id("dbID", required_value(info, "dbID")?)?;
    let type_name = required_value(info, "dbType")?;
    let box_type = BOX_TYPES
        .iter()
        .find(|(name, _)| *name == type_name)
        .map(|(_, code)| *code)
        .ok_or_else(|| IsdsError::Protocol(format!("unknown dbType {type_name}")))?;
    let state_code: u8 = number("dbState", required_value(info, "dbState")?)?;
    let state =
        BoxState::from_code(state_code).ok_or_else(|| IsdsError::Protocol(format!("unknown dbState {state_code}")))?;
    let owner_name = owner_name(info).ok_or_else(|| IsdsError::Protocol("dbOwnerInfo names no owner".into()))?;
    let open_addressing =
        optional_value(info, "dbOpenAddressing").map(|v| boolean("dbOpenAddressing", v)).transpose()?.unwrap_or(false);
    Ok(BoxInfo { id, box_type, state, owner_name, address: address(info), open_addressing })
}

/// `firmName` for a legal person or authority, else the person's names.
fn owner_name(info: &Element) -> Option<String> {
    if let Some(firm) = optional_value(info, "firmName") {
        return Some(firm.to_owned());
    }
    let names: Vec<&str> = ["pnFirstName", "pnMiddleName", "pnLastName"]
        .into_iter()
        .filter_map(|name| optional_value(info, name))
        .collect();
    (!names.is_empty()).then(|| names.join(" "))
}

/// `gAddress` as one line: "Street 12/3, 110 00 City" (číslo popisné /
/// číslo orientační).
fn address(info: &Element) -> Option<String> {
    let part = |name: &str| optional_value(info, name);
    let number = match (part("adNumberInMunicipality"), part("adNumberInStreet")) {
        (Some(house), Some(street)) => Some(format!("{house}/{street}")),
        (house, street) => house.or(street).map(str::to_owned),
    };
    let street = match (part("adStreet"), number) {
        (Some(street), Some(number)) => Some(format!("{street} {number}")),
        (Some(street), None) => Some(street.to_owned()),
        (None, number) => number,
    };
    let city = match (part("adZipCode"), part("adCity")) {
        (Some(zip), Some(city)) => Some(format!("{zip} {city}")),
        (zip, city) => zip.or(city).map(str::to_owned),
    };
    let lines: Vec<String> = [street, city].into_iter().flatten().collect();
    (!lines.is_empty()).then(|| lines.join(", "))
}

fn required<'a>(parent: &'a Element, name: &str) -> IsdsResult<&'a Element> {
    parent.child(name).ok_or_else(|| IsdsError::Protocol(format!("{} has no {name}", parent.name)))
}

fn required_value<'a>(parent: &'a Element, name: &str) -> IsdsResult<&'a str> {
    required(parent, name)?.value().ok_or_else(|| IsdsError::Protocol(format!("{name} in {} is empty", parent.name)))
}

fn optional_value<'a>(parent: &'a Element, name: &str) -> Option<&'a str> {
    parent.child(name).and_then(Element::value)
}

fn number<T: FromStr>(name: &str, value: &str) -> IsdsResult<T> {
    value.parse().map_err(|_| IsdsError::Protocol(format!("{name} is not a number in range")))
}

fn boolean(name: &str, value: &str) -> IsdsResult<bool> {
    match value {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(IsdsError::Protocol(format!("{name} is not a boolean"))),
    }
}

fn box_id(name: &str, value: &str) -> IsdsResult<BoxId> {
    BoxId::parse(value).map_err(|_| IsdsError::Protocol(format!("{name} is not a data box id")))
}

fn message_id(value: &str) -> IsdsResult<MessageId> {
    MessageId::parse(value).map_err(|_| IsdsError::Protocol("dmID is not a message id".into()))
}

fn message_status(value: &str) -> IsdsResult<MessageStatus> {
    MessageStatus::try_from(number::<u8>("dmMessageStatus", value)?).map_err(IsdsError::Protocol)
}

fn decode_base64(name: &str, text: &str) -> IsdsResult<Vec<u8>> {
    let compact: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    BASE64.decode(compact).map_err(|_| IsdsError::Protocol(format!("{name} is not base64")))
}

/// `dmStatusFilter`: the sum of 2^status over the wanted statuses; `-1` for
/// all (`doc/user_web_services`, GetListOfSentMessages).
fn status_filter(statuses: &[MessageStatus]) -> String {
    if statuses.is_empty() {
        return "-1".to_owned();
    }
    statuses.iter().fold(0u32, |mask, status| mask | (1 << u8::from(*status))).to_string()
}

/// An `xs:dateTime` for a request, in UTC with an explicit `Z`.
fn format_time(time: OffsetDateTime) -> IsdsResult<String> {
    time.to_offset(UtcOffset::UTC).format(&Rfc3339).map_err(|_| IsdsError::Invalid("a time is out of range".into()))
}

/// An `xs:dateTime` from ISDS: `YYYY-MM-DDThh:mm:ss[.f…][Z|±hh:mm]`. No zone
/// means UTC, as libdatovka reads it (`timestring2static_timeval`).
fn datetime(name: &str, value: &str) -> IsdsResult<OffsetDateTime> {
    parse_datetime(value).ok_or_else(|| IsdsError::Protocol(format!("{name} is not an xs:dateTime")))
}

fn parse_datetime(value: &str) -> Option<OffsetDateTime> {
    let (date, rest) = value.split_once('T')?;
    let date = parse_date(date)?;
    let clock = rest.get(..8)?.as_bytes();
    if clock[2] != b':' || clock[5] != b':' {
        return None;
    }
    let hour = two_digits(&clock[0..2])?;
    let minute = two_digits(&clock[3..5])?;
    let second = two_digits(&clock[6..8])?;
    let mut rest = &rest[8..];
    let mut nanos = 0u32;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        for (i, b) in fraction.bytes().take(digits).enumerate() {
            if i < 9 {
                nanos = nanos * 10 + u32::from(b - b'0');
            }
        }
        nanos *= 10u32.pow(9u32.saturating_sub(u32::try_from(digits).ok()?));
        rest = &fraction[digits..];
    }
    let offset = parse_offset(rest)?;
    let time = Time::from_hms_nano(hour, minute, second, nanos).ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_offset(offset))
}

/// An `xs:date` (the vault's validity) as the start of that day in UTC; a
/// zone suffix, if any, is read past.
fn day_start(name: &str, value: &str) -> IsdsResult<OffsetDateTime> {
    let parsed = value.get(..10).and_then(parse_date).filter(|_| parse_offset(&value[10..]).is_some());
    parsed
        .map(|date| date.midnight().assume_utc())
        .ok_or_else(|| IsdsError::Protocol(format!("{name} is not an xs:date")))
}

fn parse_date(value: &str) -> Option<Date> {
    let bytes = value.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let year: i32 = value[0..4].parse().ok()?;
    let month = Month::try_from(two_digits(&bytes[5..7])?).ok()?;
    Date::from_calendar_date(year, month, two_digits(&bytes[8..10])?).ok()
}

fn parse_offset(value: &str) -> Option<UtcOffset> {
    match value.as_bytes() {
        [] | [b'Z'] => Some(UtcOffset::UTC),
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let hours = i8::try_from(two_digits(&[*h1, *h2])?).ok()?;
            let minutes = i8::try_from(two_digits(&[*m1, *m2])?).ok()?;
            let sign = if *sign == b'-' { -1 } else { 1 };
            UtcOffset::from_hms(sign * hours, sign * minutes, 0).ok()
        }
        _ => None,
    }
}

fn two_digits(bytes: &[u8]) -> Option<u8> {
    match bytes {
        [a, b] if a.is_ascii_digit() && b.is_ascii_digit() => Some((a - b'0') * 10 + (b - b'0')),
        _ => None,
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
