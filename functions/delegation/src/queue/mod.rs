//! The delegation capability's queue functions, one file each.

pub mod erase_delegations_data;
