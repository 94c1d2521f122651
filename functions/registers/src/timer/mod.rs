//! The registers capability's timer functions, one file each.

pub mod check_filing_deadlines;
