//! ZIP and ASiC attachments, checked as ISDS checks them since 1 January 2024
//! (info.mojedatovaschranka.cz/info/cs/1061.html, `czech-egov-domain.md` §1.3):
//! not encrypted, no container inside, at most 1 000 entries, folders nested
//! at most 4 deep, at most 3 GB uncompressed. Only the central directory is
//! read (the `zip` crate, without decompression), so a large archive costs
//! nothing to check.

use std::io::Cursor;

/// Extensions of the containers ISDS accepts, and refuses inside one.
pub const CONTAINER_EXTENSIONS: &[&str] = &["zip", "asice", "asics", "sce", "scs"];
pub const MAX_ENTRIES: usize = 1_000;
pub const MAX_FOLDER_DEPTH: usize = 4;
pub const MAX_UNCOMPRESSED_BYTES: u64 = 3_000_000_000;

/// Whether a file name is a container's.
pub fn is_container(name: &str) -> bool {
    name.rsplit_once('.').is_some_and(|(_, ext)| CONTAINER_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()))
}

/// Every rule the container `content` breaks (empty when it passes).
pub fn check(content: &[u8]) -> Vec<String> {
    check_reader(Cursor::new(content))
}

/// [`check`] of a container read through `reader` (a file put aside as it
/// arrived reads only what the check asks for: [`crate::spool`]).
pub fn check_reader<R: std::io::Read + std::io::Seek>(reader: R) -> Vec<String> {
    let mut broken = Vec::new();
    let mut archive = match zip::ZipArchive::new(reader) {
        Ok(archive) => archive,
        Err(_) => return vec!["not a readable ZIP container".to_owned()],
    };
    if archive.len() > MAX_ENTRIES {
        broken.push(format!("at most {MAX_ENTRIES} entries in a container (this one has {})", archive.len()));
    }
    let (mut encrypted, mut nested, mut deepest, mut total) = (false, None, 0, 0u64);
    for index in 0..archive.len() {
        let Ok(entry) = archive.by_index_raw(index) else {
            broken.push("an entry of the container cannot be read".to_owned());
            break;
        };
        encrypted |= entry.encrypted();
        let name = entry.name().trim_end_matches('/');
        let folders = name.matches('/').count() + usize::from(entry.is_dir());
        deepest = deepest.max(folders);
        if !entry.is_dir() && nested.is_none() && is_container(name) {
            nested = Some(name.to_owned());
        }
        total = total.saturating_add(entry.size());
    }
    if encrypted {
        broken.push("no encrypted entries in a container".to_owned());
    }
    if let Some(name) = nested {
        broken.push(format!("no container inside a container ({name})"));
    }
    if deepest > MAX_FOLDER_DEPTH {
        broken.push(format!("folders nested at most {MAX_FOLDER_DEPTH} deep in a container (this one {deepest})"));
    }
    if total > MAX_UNCOMPRESSED_BYTES {
        broken.push("at most 3 GB uncompressed in a container".to_owned());
    }
    broken
}
