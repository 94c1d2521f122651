//! Representation by law, read from the base registers: a parent for their
//! child under 18 (the population register's relationships, ROB/AISEO) and a
//! member of a company's statutory body (the register of persons, ROS, fed by
//! the commercial register). The portal never stores these: it asks the
//! register each time, so a change in the register (a child's 18th birthday,
//! a director removed from office) takes effect on the next request.
//!
//! Production reaches the registers through the registers gateway of the
//! registers capability's contract (`docs/registers-gateway.yaml`); this crate
//! names the port, and the app composes the adapter. Locally a deterministic
//! simulator answers with demo data: Jana Nováková is the mother of Tomáš
//! Novák (born 2016-05-10), Jiří Dvořák the managing director (jednatel) of
//! Dvořák stavby s.r.o. (IČO 27074358), which has its own data box.

use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use portal_security::{GrantKind, SubjectId};
use time::Date;
use time::macros::date;

/// One person or company the subject represents by law.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Representation {
    pub kind: GrantKind,
    /// The represented person's or company's subject id in the portal.
    pub principal: SubjectId,
    /// Their name as the register writes it.
    pub principal_name: String,
    /// A child's date of birth: representation ends on the 18th birthday.
    pub born: Option<Date>,
    /// The last day in office of a statutory body, when the register has one.
    pub in_office_until: Option<Date>,
    /// Where the fact came from (`simulated` locally).
    pub simulated: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("the register cannot be reached: {0}")]
pub struct RegisterUnavailable(pub String);

/// The registers' answer to "whom does this subject represent by law?".
#[async_trait]
pub trait Representations: Send + Sync + std::fmt::Debug {
    async fn of(&self, subject: &SubjectId) -> Result<Vec<Representation>, RegisterUnavailable>;

    /// The IČO of `principal` when the register of persons knows it as a
    /// legal person (a company somebody represents); `None` for a person.
    async fn ico_of(&self, principal: &SubjectId) -> Result<Option<String>, RegisterUnavailable>;

    /// SIMULATOR: the simulated register, for its controls; `None` for a real one.
    fn simulated(&self) -> Option<&SimulatedRegister> {
        None
    }
}

/// The demo family and company, labelled simulated.
#[derive(Debug, Clone)]
pub struct SimulatedRegister {
    /// The director's last day in office, once the simulated register records
    /// a change of the statutory body.
    director_until: Arc<RwLock<Option<Date>>>,
}

pub const DEMO_CHILD: &str = "DEMO%2Ftomas-novak";
pub const DEMO_COMPANY: &str = "DEMO%2Fico-27074358";

impl Default for SimulatedRegister {
    fn default() -> Self {
        Self { director_until: Arc::new(RwLock::new(None)) }
    }
}

impl SimulatedRegister {
    /// The simulated commercial register records that Jiří left office after `last_day`.
    pub fn end_directorship(&self, last_day: Date) {
        *self.director_until.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(last_day);
    }
}

/// Jiří Dvořák, the demo company's managing director.
pub const DEMO_DIRECTOR: &str = "DEMO%2Fjiri-dvorak";
/// The demo company's IČO (Dvořák stavby s.r.o.; the ISDS simulator's box
/// of the same IČO is the company's).
pub const DEMO_COMPANY_ICO: &str = "27074358";

fn subject(id: &str) -> SubjectId {
    SubjectId::parse(id).unwrap_or_else(|_| unreachable!("the demo subject ids are valid"))
}

#[async_trait]
impl Representations for SimulatedRegister {
    async fn of(&self, who: &SubjectId) -> Result<Vec<Representation>, RegisterUnavailable> {
        Ok(match who.as_str() {
            "DEMO%2Fjana-novakova" => vec![Representation {
                kind: GrantKind::LegalRepresentative,
                principal: subject(DEMO_CHILD),
                principal_name: "Tomáš Novák".into(),
                born: Some(date!(2016 - 05 - 10)),
                in_office_until: None,
                simulated: true,
            }],
            DEMO_DIRECTOR => vec![Representation {
                kind: GrantKind::StatutoryBody,
                principal: subject(DEMO_COMPANY),
                principal_name: "Dvořák stavby s.r.o.".into(),
                born: None,
                in_office_until: *self.director_until.read().unwrap_or_else(std::sync::PoisonError::into_inner),
                simulated: true,
            }],
            _ => Vec::new(),
        })
    }

    async fn ico_of(&self, principal: &SubjectId) -> Result<Option<String>, RegisterUnavailable> {
        Ok((principal.as_str() == DEMO_COMPANY).then(|| DEMO_COMPANY_ICO.to_owned()))
    }

    fn simulated(&self) -> Option<&SimulatedRegister> {
        Some(self)
    }
}

/// Outside the simulated registers: the registers gateway's relationship
/// queries (ROB parents and children, ROS statutory bodies) are not built, so
/// no representation by law is offered, and a request under one is refused
/// as unavailable (503), never answered from simulated data.
#[derive(Debug, Clone, Copy)]
pub struct NotConnected;

#[async_trait]
impl Representations for NotConnected {
    async fn of(&self, _: &SubjectId) -> Result<Vec<Representation>, RegisterUnavailable> {
        Err(RegisterUnavailable("the registers' relationship queries are not connected".into()))
    }

    async fn ico_of(&self, _: &SubjectId) -> Result<Option<String>, RegisterUnavailable> {
        Err(RegisterUnavailable("the register of persons is not connected".into()))
    }
}
