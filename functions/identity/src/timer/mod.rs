//! The identity capability's timer functions, one file each.

pub mod rewrap_data_keys;
