//! The registers capability's queue functions, one file each.

pub mod erase_registers_data;
pub mod fetch_extract;
pub mod record_filing;
pub mod refresh_on_sign_in;
pub mod settle_filing_payment;
