//! Timer `CheckFilingDeadlines` (daily at 07:30 UTC): the legal deadlines
//! that passed without a decision ([`deadlines::check_filing_deadlines`]).

use std::sync::Arc;

use portal_host::{Function, Outcome};

use crate::Registers;
use crate::filings::deadlines;

/// `CheckFilingDeadlines` on its daily schedule.
pub fn function(registers: Arc<Registers>) -> Function {
    Function::timer(deadlines::FUNCTION, deadlines::SCHEDULE, move |_| {
        let registers = registers.clone();
        async move {
            let report = deadlines::check_filing_deadlines(&registers).await?;
            Ok(Outcome::done().returning(serde_json::to_value(report).unwrap_or_default()))
        }
    })
}
