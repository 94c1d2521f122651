//! ISDS's box management over SOAP: the production [`BoxManagement`].
//!
//! Sources: `db_manipulations.wsdl` 2.35 (`tests/fixtures/isds/xsd/`, see
//! its README) binds `CreateDataBox2` at `/DS/DsManage`, input
//! `tCreateDBInput2`, output `tCreateDBOutput2` (`dbTypes.xsd` 3.09);
//! `db_search.wsdl` binds `FindDataBox2` at `/DS/df` (`tFindDBInput2` /
//! `tFindDBOuput2`). Both describe the owner with `tDbOwnerInfoExt2`. The
//! CZ.NIC libdatovka maintainers' notes (`doc/maintanance_web_services`, from
//! *Webové služby rozhraní ISDS pro správu datových schránek* 2.15) say a box
//! of type FO is created with `dbOwnerInfo` and an empty `dbPrimaryUsers`,
//! that "different box types can [be] created by users with specific
//! privileges", and that a new box is in state 3 until its first login;
//! `doc/user_web_services` says of `FindDataBox` that "returned boxes exist,
//! but it does not mean they can receive messages" (boxes in every state),
//! that a box of type FO is searched by `pnLastName` at least, that strings
//! match as prefixes, and its codes: 0002 nothing matches, 0003 too many
//! (truncated), 1109 more than one box matches.
//!
//! `CreateDataBox2` answers at once, so a request goes:
//!
//! - [`BoxManagement::submit`] (`submitted`): `FindDataBox2` by type FO,
//!   given names, last name and birth date. A box found means the person has
//!   one already: `Refused`, naming it. Nothing found: `InProgress`, which the
//!   flow saves before anything is created.
//! - [`BoxManagement::status`] (`in-progress`): `FindDataBox2` again. A box
//!   found now is the one an earlier call of this request created (its
//!   answer lost to a timeout or the portal crashing before it saved it):
//!   `Created`, and no second box. Nothing found: `CreateDataBox2`, with the
//!   request id as `dbExternRefNumber` (which ISDS keeps with the box), and
//!   its `dbID` is `Created`; a status other than `0000` is `Refused` with
//!   ISDS's own message and code, except those asking to try later.
//!
//! More than one box matching is `Refused` too (the portal cannot tell the
//! person's box apart; a Czech POINT can). Transport failures, HTTP 5xx, a
//! refused login (HTTP 401/403: the operator's configuration, not the
//! citizen's request) and ISDS's "try later" codes are errors: the request
//! stays where it is and the timer retries it.
//!
//! The calls run with the operator's own login to which the ISDS
//! administrator granted the box-management privilege (a system certificate
//! registered to the operator's box, `…/cert/DS/`), never with the hosted
//! records-system certificate that acts in citizens' boxes.

use std::sync::Arc;

use async_trait::async_trait;
use portal_store::Clock;

use super::records::{box_id, optional_value, required_value};
use super::reply::OK;
use super::xml::Request;
use super::{Service, SoapConfig, SoapIsds, SoapLogin};
use crate::box_requests::{BoxManagement, BoxOwner, CreationStatus, OwnerIdentities, OwnerIdentity};
use crate::isds::{Access, BoxContext, BoxId, IsdsError, IsdsResult};

/// What the calls are logged as.
const JOB: &str = "box management";

/// `CreateDataBox2` and `FindDataBox2` with the operator's privileged login.
#[derive(Debug)]
pub struct SoapBoxManagement {
    client: SoapIsds,
    /// The operator's own box, the one its login is registered to.
    context: BoxContext,
    identities: Arc<dyn OwnerIdentities>,
    clock: Arc<dyn Clock>,
}

impl SoapBoxManagement {
    /// `config.login` is the operator's privileged login: a system
    /// certificate (or, on the test instance, a user name and password) of
    /// the operator's own box.
    pub fn new(
        config: SoapConfig,
        identities: Arc<dyn OwnerIdentities>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, IsdsError> {
        let own_box = match &config.login {
            SoapLogin::Certificate { own_box, .. } | SoapLogin::Password { own_box, .. } => own_box.clone(),
            SoapLogin::HostedCertificate { .. } => {
                return Err(IsdsError::Invalid(
                    "box management needs the operator's own privileged login (a system certificate of its box), \
                     not the hosted records-system certificate"
                        .into(),
                ));
            }
        };
        let client = SoapIsds::new(config)?;
        // The exchange refuses only simulated contexts; the login decides
        // which box the call acts in (the operator's own, checked there).
        let context = BoxContext::for_job(own_box, Access::HostedRecordsSystem, JOB);
        Ok(Self { client, context, identities, clock })
    }

    async fn identity(&self, owner: &BoxOwner) -> IsdsResult<Option<OwnerIdentity>> {
        let identity = self.identities.identity(&owner.subject).await.map_err(IsdsError::Unavailable)?;
        Ok(identity.filter(|i| !i.given_names.trim().is_empty() && !i.last_name.trim().is_empty()))
    }

    /// `FindDataBox2`: the person's existing boxes of type FO.
    #[tracing::instrument(skip_all, fields(operation = "find_person_box"))]
    async fn find(&self, identity: &OwnerIdentity) -> IsdsResult<Found> {
        let mut request = Request::new("FindDataBox2");
        request.open("dbOwnerInfo", &[])?;
        // By name and birth date only: an address or birthplace spelled
        // otherwise than ISDS has it would hide the box.
        owner_info(&mut request, identity, Purpose::Search)?;
        request.close("dbOwnerInfo");
        let timeout = self.client.timeouts.request;
        let reply = self.client.call(Service::Search, "FindDataBox2", &self.context, request, timeout).await?;
        match reply.status.code.as_str() {
            OK => {}
            "0002" | "5001" => return Ok(Found::Nothing),
            "0003" | "1109" => return Ok(Found::Several),
            _ => return Err(reply.status.into_error()),
        }
        let Some(results) = reply.body.child("dbResults") else { return Ok(Found::Nothing) };
        let birth = date(identity.birth_date);
        let mut found: Vec<BoxId> = Vec::new();
        for info in results.children_named("dbOwnerInfo") {
            // ISDS matches names as prefixes: keep the person's own name and
            // birth date, type FO, and boxes not closed for good (4, 5).
            let same = |name: &str, wanted: &str| {
                optional_value(info, name).is_none_or(|v| v.trim().to_lowercase() == wanted.trim().to_lowercase())
            };
            let closed = matches!(optional_value(info, "dbState"), Some("4" | "5"));
            if optional_value(info, "dbType") == Some("FO")
                && same("pnLastName", &identity.last_name)
                && same("pnGivenNames", &identity.given_names)
                // xs:date may carry a zone ("1985-04-12+02:00").
                && optional_value(info, "biDate").is_none_or(|v| v.get(..10) == Some(birth.as_str()))
                && !closed
            {
                let id = box_id("dbID", required_value(info, "dbID")?)?;
                if !found.contains(&id) {
                    found.push(id);
                }
            }
        }
        Ok(match found.len() {
            0 => Found::Nothing,
            1 => Found::One(found.remove(0)),
            _ => Found::Several,
        })
    }

    /// `CreateDataBox2` for a box of type FO.
    #[tracing::instrument(skip_all, fields(operation = "create_person_box"))]
    async fn create(&self, request_id: &str, identity: &OwnerIdentity) -> IsdsResult<CreationStatus> {
        let request = create_request(request_id, identity)?;
        let timeout = self.client.timeouts.request;
        // db_manipulations.wsdl is served where db_access.wsdl is: /DS/DsManage.
        let reply = self.client.call(Service::Access, "CreateDataBox2", &self.context, request, timeout).await?;
        if reply.status.code == OK {
            let id = box_id("dbID", required_value(&reply.body, "dbID")?)?;
            return Ok(CreationStatus::Created { box_id: id, at: self.clock.now() });
        }
        match reply.status.into_error() {
            IsdsError::Refused { code, message } if message.trim().is_empty() => {
                Ok(CreationStatus::Refused { reason: format!("ISDS žádost odmítl (kód {code}).") })
            }
            IsdsError::Refused { code, message } => {
                Ok(CreationStatus::Refused { reason: format!("{} (kód ISDS {code})", message.trim()) })
            }
            // The "try later" codes.
            other => Err(other),
        }
    }
}

/// What `FindDataBox2` says of the person.
#[derive(Debug)]
enum Found {
    Nothing,
    One(BoxId),
    Several,
}

const NO_IDENTITY: &str = "Portál nezná z vaší elektronické identity jméno, příjmení a datum narození, které \
                           informační systém datových schránek k zřízení schránky potřebuje.";
const SEVERAL: &str = "Vašemu jménu a datu narození odpovídá v informačním systému datových schránek více \
                       schránek fyzických osob; zřízení schránky vyřídí kontaktní místo Czech POINT.";

#[async_trait]
impl BoxManagement for SoapBoxManagement {
    async fn submit(&self, _request_id: &str, owner: &BoxOwner) -> IsdsResult<CreationStatus> {
        let Some(identity) = self.identity(owner).await? else {
            return Ok(CreationStatus::Refused { reason: NO_IDENTITY.into() });
        };
        Ok(match self.find(&identity).await? {
            Found::Nothing => CreationStatus::InProgress,
            Found::One(id) => {
                CreationStatus::Refused { reason: format!("Datovou schránku fyzické osoby již máte: {id}.") }
            }
            Found::Several => CreationStatus::Refused { reason: SEVERAL.into() },
        })
    }

    async fn status(&self, request_id: &str, owner: &BoxOwner) -> IsdsResult<CreationStatus> {
        let Some(identity) = self.identity(owner).await? else {
            return Ok(CreationStatus::Refused { reason: NO_IDENTITY.into() });
        };
        match self.find(&identity).await? {
            // Created by an earlier call of this request whose answer was lost.
            Found::One(id) => Ok(CreationStatus::Created { box_id: id, at: self.clock.now() }),
            Found::Several => Ok(CreationStatus::Refused { reason: SEVERAL.into() }),
            Found::Nothing => self.create(request_id, &identity).await,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Search,
    Create,
}

fn date(date: time::Date) -> String {
    format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day())
}

fn text(value: Option<&String>) -> Option<&str> {
    value.map(|v| v.trim()).filter(|v| !v.is_empty())
}

/// `tDbOwnerInfoExt2`, every element in schema order; unknown ones nil.
fn owner_info(request: &mut Request, identity: &OwnerIdentity, purpose: Purpose) -> IsdsResult<()> {
    let full = purpose == Purpose::Create;
    let birth = date(identity.birth_date);
    let address = identity.address.as_ref().filter(|_| full);
    let part = |pick: fn(&crate::box_requests::OwnerAddress) -> Option<&String>| address.and_then(|a| text(pick(a)));
    request
        .leaf("dbID", None)?
        // aifoIsds (minOccurs 0): ISDS's to say, left out.
        .leaf("dbType", Some("FO"))?
        .leaf("ic", None)?
        .leaf("pnGivenNames", Some(identity.given_names.trim()))?
        .leaf("pnLastName", Some(identity.last_name.trim()))?
        .leaf("firmName", None)?
        .leaf("biDate", Some(&birth))?
        .leaf("biCity", text(identity.birth_city.as_ref()).filter(|_| full))?
        .leaf("biCounty", text(identity.birth_county.as_ref()).filter(|_| full))?
        .leaf("biState", text(identity.birth_state.as_ref()).filter(|_| full))?
        .leaf("adCode", part(|a| a.code.as_ref()))?
        .leaf("adCity", part(|a| a.city.as_ref()))?
        .leaf("adDistrict", part(|a| a.district.as_ref()))?
        .leaf("adStreet", part(|a| a.street.as_ref()))?
        .leaf("adNumberInStreet", part(|a| a.number_in_street.as_ref()))?
        .leaf("adNumberInMunicipality", part(|a| a.number_in_municipality.as_ref()))?
        .leaf("adZipCode", part(|a| a.zip_code.as_ref()))?
        .leaf("adState", part(|a| a.state.as_ref()))?
        .leaf("nationality", text(identity.nationality.as_ref()).filter(|_| full))?
        .leaf("dbIdOVM", None)?
        .leaf("dbState", None)?
        .leaf("dbOpenAddressing", None)?
        .leaf("dbUpperID", None)?;
    Ok(())
}

/// `tCreateDBInput2` for a box of type FO: the owner, the optional birth
/// surname and notification e-mail (left out when unknown), no primary users
/// (a box of type FO has none), no Czech POINT parts (`dbVirtual`, `email`,
/// the `dbOwnerInfo` attributes), and the request id as `dbExternRefNumber`.
fn create_request(request_id: &str, identity: &OwnerIdentity) -> IsdsResult<Request> {
    let mut request = Request::new("CreateDataBox2");
    request.open("dbOwnerInfo", &[])?;
    owner_info(&mut request, identity, Purpose::Create)?;
    request.close("dbOwnerInfo");
    if let Some(surname) = text(identity.last_name_at_birth.as_ref()) {
        request.leaf("pnLastNameAtBirth", Some(surname))?;
    }
    if let Some(email) = text(identity.email.as_ref()) {
        request.leaf("notifEmail", Some(email))?;
    }
    request.open("dbPrimaryUsers", &[])?.close("dbPrimaryUsers");
    // gExtApproval: dbApproved (approved outside ISDS) is the
    // administrator's to ask for; the reference number is the request's.
    request.leaf("dbExternRefNumber", Some(request_id))?;
    Ok(request)
}
