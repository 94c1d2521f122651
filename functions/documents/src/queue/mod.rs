//! The documents' queue functions, one file each.

pub mod erase_documents_data;
pub mod file_document;
