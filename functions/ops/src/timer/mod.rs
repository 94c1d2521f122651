//! The operators' timer functions, one file each.

pub mod housekeeping;
