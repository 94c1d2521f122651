//! The data box's timer functions, one file each.

pub mod advance_data_box_requests;
pub mod archive_expiring_messages;
pub mod warn_before_deemed_delivery;
