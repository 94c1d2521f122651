//! The petitions' queue functions, one file each.

pub mod erase_petitions_data;
pub mod record_petition_hand_over;
