//! The port to the citizen's record at ČSSZ (the Czech Social Security
//! Administration): what the logged-in estimate is prefilled from. Locally a
//! simulator answers with the demo citizens' records; in Azure no ČSSZ
//! interface is contracted yet, so the port answers "not connected".

use async_trait::async_trait;
use portal_host::{Failure, Problem};
use portal_security::SubjectId;
use time::Date;
use time::macros::date;

use crate::calc::{Earnings, Sex};

/// What ČSSZ holds about a citizen's insurance, as far as the estimate uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InsuranceRecord {
    pub birth_date: Date,
    pub sex: Sex,
    /// Raised children as recorded for výchovné.
    pub children: u32,
    pub insurance_years: u32,
    pub substitute_years: u32,
    /// Gross earnings per year (1986 on), already indexed by ČSSZ.
    pub earnings_by_year: Vec<(i32, i64)>,
    /// True when a simulator made it up.
    pub simulated: bool,
}

impl InsuranceRecord {
    pub fn earnings(&self) -> Earnings {
        Earnings::ByYear(self.earnings_by_year.clone())
    }
}

/// Why the record could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The service did not answer in time or answered 5xx; a retry may help.
    #[error("the ČSSZ record is unavailable: {0}")]
    Unavailable(String),
    /// No ČSSZ interface is configured in this environment.
    #[error("no ČSSZ interface is connected")]
    NotConnected,
}

impl Failure for RecordError {
    fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }

    fn problem(&self) -> Problem {
        match self {
            Self::Unavailable(_) => Problem::unavailable("ČSSZ"),
            Self::NotConnected => Problem::unavailable("ČSSZ (not connected in this environment)")
                .with_detail("the ČSSZ record cannot be read yet; use the calculator without login"),
        }
    }
}

/// The citizen's insurance record at ČSSZ.
#[async_trait]
pub trait InsuranceRecords: std::fmt::Debug + Send + Sync {
    /// `None` when ČSSZ has no record of the citizen.
    async fn record(&self, subject: &SubjectId) -> Result<Option<InsuranceRecord>, RecordError>;
}

/// SIMULATED ČSSZ records of the demo citizens.
#[derive(Debug, Default)]
pub struct SimulatedCssz;

/// Ludmila Šťastná Žďárská (born 30 June 1949, two children): her earnings
/// from 1986 to the year before she reached her retirement age (2007).
const LUDMILA_EARNINGS: [(i32, i64); 21] = [
    (1986, 262_800),
    (1987, 266_400),
    (1988, 270_000),
    (1989, 273_600),
    (1990, 276_000),
    (1991, 264_000),
    (1992, 270_000),
    (1993, 276_000),
    (1994, 282_000),
    (1995, 288_000),
    (1996, 294_000),
    (1997, 300_000),
    (1998, 303_600),
    (1999, 307_200),
    (2000, 310_800),
    (2001, 314_400),
    (2002, 318_000),
    (2003, 321_600),
    (2004, 325_200),
    (2005, 328_800),
    (2006, 332_400),
];

#[async_trait]
impl InsuranceRecords for SimulatedCssz {
    async fn record(&self, subject: &SubjectId) -> Result<Option<InsuranceRecord>, RecordError> {
        Ok(match subject.as_str() {
            "DEMO%2Fludmila-stastna-zdarska" => Some(InsuranceRecord {
                birth_date: date!(1949 - 06 - 30),
                sex: Sex::Female,
                children: 2,
                insurance_years: 36,
                substitute_years: 6,
                earnings_by_year: LUDMILA_EARNINGS.to_vec(),
                simulated: true,
            }),
            "DEMO%2Fjiri-dvorak" => Some(InsuranceRecord {
                birth_date: date!(1972 - 11 - 02),
                sex: Sex::Male,
                children: 0,
                insurance_years: 31,
                substitute_years: 5,
                earnings_by_year: (1990..2026).map(|y| (y, 420_000 + i64::from(y - 1990) * 6_000)).collect(),
                simulated: true,
            }),
            _ => None,
        })
    }
}

/// No ČSSZ interface in this environment.
#[derive(Debug, Default)]
pub struct CsszNotConnected;

#[async_trait]
impl InsuranceRecords for CsszNotConnected {
    async fn record(&self, _: &SubjectId) -> Result<Option<InsuranceRecord>, RecordError> {
        Err(RecordError::NotConnected)
    }
}
