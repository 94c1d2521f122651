//! The notice boards' queue functions, one file each.

pub mod erase_noticeboards_data;
