//! The tiles' queue functions, one file each.

pub mod erase_tiles_data;
