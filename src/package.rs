//! `portal package`: a deployable function app folder, generated from the
//! function declarations: `host.json`, one folder per function with its
//! `function.json`, the OpenAPI document of the HTTP functions
//! (`openapi.json`), and the executable with its run bit.

use std::io;
use std::path::Path;

use portal_host::Runtime;
use portal_host::manifest::{function_json, host_json};

/// The executable's name inside the package, as host.json names it.
pub const EXECUTABLE: &str = "portal";

/// The arguments host.json passes: `serve`, and the capability set if one is chosen.
pub fn serve_arguments(capabilities: Option<&[String]>) -> Vec<String> {
    let mut arguments = vec!["serve".to_owned()];
    if let Some(list) = capabilities {
        arguments.push("--capabilities".to_owned());
        arguments.push(list.join(","));
    }
    arguments
}

fn pretty(value: &serde_json::Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

/// The `host.json` text for a package.
pub fn host_json_text(capabilities: Option<&[String]>) -> String {
    pretty(&host_json(EXECUTABLE, &serve_arguments(capabilities)))
}

/// Writes the package into `out` (which must be missing or empty) and returns
/// the function names written.
pub fn write(
    out: &Path,
    runtime: &Runtime,
    capabilities: Option<&[String]>,
    executable: &Path,
) -> io::Result<Vec<String>> {
    if out.exists() && out.read_dir()?.next().is_some() {
        return Err(io::Error::new(io::ErrorKind::AlreadyExists, format!("{} is not empty", out.display())));
    }
    std::fs::create_dir_all(out)?;
    std::fs::write(out.join("host.json"), host_json_text(capabilities))?;
    // The API contract beside host.json, for the front end and API management.
    // A schema conflict in the document is a declaration error: no package.
    let document = runtime.openapi().map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error.to_string()))?;
    std::fs::write(out.join("openapi.json"), pretty(&document))?;
    let mut names = Vec::new();
    for function in runtime.functions() {
        let folder = out.join(&function.name);
        std::fs::create_dir_all(&folder)?;
        std::fs::write(folder.join("function.json"), pretty(&function_json(function)))?;
        names.push(function.name.clone());
    }
    let target = out.join(EXECUTABLE);
    std::fs::copy(executable, &target)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(names)
}
