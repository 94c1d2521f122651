//! The notifications' queue functions, one file each.

pub mod erase_notifications_data;
pub mod retry_notification;
pub mod send_notification;
