//! The calendar's queue functions, one file each.

pub mod erase_calendar_data;
pub mod file_calendar_entry;
