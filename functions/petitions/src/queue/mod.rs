//! The petitions' queue functions, one file each.

pub mod erase_petitions_data;
