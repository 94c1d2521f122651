//! The fees capability's queue functions, one file per function.

pub mod erase_fees_data;
pub mod settle_fee_payment;
