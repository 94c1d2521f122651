//! The calendar's timer functions, one file each.

pub mod send_reminders;
