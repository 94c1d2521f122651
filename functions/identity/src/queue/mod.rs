//! The identity capability's queue functions, one file per function.

pub mod build_export;
