//! The notice boards' timer functions, one file each.

pub mod harvest_notice_boards;
