//! The delegation capability's timer functions, one file each.

pub mod notify_ended_delegations;
