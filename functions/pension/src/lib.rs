//! The `pension` capability (důchodová kalkulačka): an estimate of the
//! old-age pension under zákon 155/1995 Sb.
//!
//! - `POST /api/pension/estimate` (public): from what the person states.
//! - `GET /api/me/pension/estimate` (logged in): prefilled from the citizen's
//!   ČSSZ record through the [`record::InsuranceRecords`] port, saying which
//!   figure came from where.
//!
//! The figures per year are data (`data/parameters.json`, [`params`]), each
//! with its sources; a year whose figures are not all confirmed is refused,
//! never guessed. The retirement age follows the annex of the law as far as
//! the sources give it ([`calc::retirement_age`]); the rules no source
//! confirms are used and named in the answer's `unverified`. The early
//! retirement reduction and the postponed retirement increase are settings
//! ([`PensionSettings`]), since the reference marks them unverified.
//!
//! Nothing is stored: the record is read, the read is in the access log, and
//! the estimate goes back to the citizen.

pub mod calc;
pub mod http;
pub mod params;
pub mod record;

use std::sync::Arc;

use portal_host::{Function, op};
use portal_security::AccessLog;
use portal_store::Clock;
use time::Date;

pub use calc::Adjustments;
pub use record::{CsszNotConnected, InsuranceRecord, InsuranceRecords, RecordError, SimulatedCssz};

/// Settings of the capability.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PensionSettings {
    pub adjustments: Adjustments,
}

/// The capability's dependencies.
#[derive(Debug, Clone)]
pub struct Pension {
    pub records: Arc<dyn InsuranceRecords>,
    pub access_log: AccessLog,
    pub clock: Arc<dyn Clock>,
    pub settings: PensionSettings,
}

impl Pension {
    /// Today in the Czech Republic.
    pub fn today(&self) -> Date {
        portal_host::prague::date(self.clock.now())
    }
}

/// `YYYY-MM-DD`.
pub fn format_date(date: Date) -> String {
    format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day())
}

/// `YYYY-MM-DD` → a date.
pub fn parse_date(text: &str) -> Option<Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(text, &format).ok()
}

/// Every function of the capability.
pub fn functions(pension: Pension) -> Vec<Function> {
    let s = Arc::new(pension);
    vec![
        Function::api(op!(http::estimate)).with_state(s.clone()).build(),
        Function::api(op!(http::my_estimate)).with_state(s).build(),
    ]
}
