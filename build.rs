//! Compiles the reference web client (`web/public`: plain ES modules, our CSS
//! and the vendored Gov Design System files) into the binary, so `cargo run`
//! on a fresh clone serves it with no build step and a deployed binary carries
//! exactly the client it was tested with. Writes `$OUT_DIR/web_files.rs`: one
//! `(path, bytes, etag)` entry per file, the bytes through `include_bytes!` (so
//! an edited file recompiles the crate) and the ETag from a hash of the bytes.

use std::collections::hash_map::DefaultHasher;
use std::fmt::Write as _;
use std::hash::Hasher as _;
use std::path::{Path, PathBuf};

fn main() {
    pack_relative_relocations();
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let public = root.join("web").join("public");
    // A directory: cargo rescans it, so an added or removed file regenerates the list.
    println!("cargo:rerun-if-changed=web/public");
    let mut files = Vec::new();
    if public.is_dir() {
        collect(&public, &mut files);
    }
    files.sort();
    let mut out = String::from("/// Every file of `web/public`: (URL path, bytes, strong ETag).\n");
    out.push_str("pub static FILES: &[(&str, &[u8], &str)] = &[\n");
    for path in &files {
        let bytes = std::fs::read(path).unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
        let mut hasher = DefaultHasher::new();
        hasher.write(&bytes);
        let url = path.strip_prefix(&public).expect("under web/public").to_string_lossy().replace('\\', "/");
        writeln!(
            out,
            "    ({:?}, include_bytes!({:?}), \"\\\"{:016x}-{:x}\\\"\"),",
            format!("/{url}"),
            path.to_string_lossy(),
            hasher.finish(),
            bytes.len()
        )
        .expect("writing to a String");
    }
    out.push_str("];\n");
    let target = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("web_files.rs");
    std::fs::write(&target, out).unwrap_or_else(|error| panic!("cannot write {}: {error}", target.display()));
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|error| panic!("cannot list {}: {error}", dir.display()));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            collect(&path, files);
        } else {
            files.push(path);
        }
    }
}

/// Links the binary with packed relative relocations (`DT_RELR`, glibc 2.36
/// and later, Debian 12's; an older loader refuses the binary at once rather
/// than misreading it). A position-independent executable lists every pointer
/// it holds to itself for the loader to adjust at start: 1.9 MB of 24-byte
/// entries here, all read, and so resident, before `main` (issue 18, idle
/// memory). Packed, the list is a few kilobytes; the binary keeps its address
/// randomisation.
fn pack_relative_relocations() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
