//! The petitions' timer functions, one file each.

pub mod close_petitions;
