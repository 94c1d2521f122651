//! The data box's queue functions, one file each.

pub mod erase_databox_data;
pub mod purchase_credit;
pub mod send_data_message_on_behalf;
