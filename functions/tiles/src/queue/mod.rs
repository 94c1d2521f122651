//! The tiles' queue functions, one file each.

pub mod erase_tiles_data;
pub mod record_citizen_fact;
