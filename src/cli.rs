//! Command-line arguments. Settings come from the environment
//! (`portal_config`); flags only choose what to run and override the few things
//! a developer changes per run.

use std::path::PathBuf;

pub const USAGE: &str = "\
portal: the Portál občana backend (Azure Functions custom handler)

USAGE:
    portal [local] [--port N] [--data-dir DIR] [--in-memory]
        Run the whole portal on this machine: the handler plus a local host that
        fires timers and delivers queue messages. Default port 7071, data in .portal/.
    portal serve [--capabilities a,b]
        What host.json starts under the Functions host: listen on
        127.0.0.1:$FUNCTIONS_CUSTOMHANDLER_PORT.
    portal package --out DIR [--capabilities a,b]
        Write a deployable function app folder: host.json, one folder per
        function with its function.json, and this executable.
    portal replay-poison <queue>
        Put every message of <queue>-poison back on <queue> (after the cause
        of the failures is fixed), with the settings of the environment.
    portal --help | --version
";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Local { port: u16, data_dir: Option<PathBuf>, in_memory: bool },
    Serve { capabilities: Option<Vec<String>> },
    Package { out: PathBuf, capabilities: Option<Vec<String>> },
    ReplayPoison { queue: String },
    Help,
    Version,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CliError {
    #[error("unknown command or flag '{0}'")]
    Unknown(String),
    #[error("{0} needs a value")]
    MissingValue(&'static str),
    #[error("--port: '{0}' is not a port number")]
    BadPort(String),
    #[error("package needs --out DIR")]
    MissingOut,
    #[error("replay-poison needs the queue whose poison messages go back, e.g. replay-poison send-notification")]
    MissingQueue,
}

pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, CliError> {
    let mut args = args.into_iter().peekable();
    if args.peek().map(String::as_str) == Some("replay-poison") {
        args.next();
        let queue = args.next().filter(|q| !q.starts_with('-')).ok_or(CliError::MissingQueue)?;
        return match args.next() {
            Some(extra) => Err(CliError::Unknown(extra)),
            None => Ok(Command::ReplayPoison { queue }),
        };
    }
    let command = match args.peek().map(String::as_str) {
        Some("local") | Some("serve") | Some("package") => args.next(),
        Some("--help") | Some("-h") | Some("help") => return Ok(Command::Help),
        Some("--version") | Some("-V") => return Ok(Command::Version),
        _ => None,
    };
    let (mut port, mut data_dir, mut in_memory, mut out, mut capabilities) = (7071, None, false, None, None);
    while let Some(arg) = args.next() {
        let mut value = |flag: &'static str| args.next().ok_or(CliError::MissingValue(flag));
        match arg.as_str() {
            "--port" => {
                let text = value("--port")?;
                port = text.parse().map_err(|_| CliError::BadPort(text))?;
            }
            "--data-dir" => data_dir = Some(PathBuf::from(value("--data-dir")?)),
            "--in-memory" => in_memory = true,
            "--out" => out = Some(PathBuf::from(value("--out")?)),
            "--capabilities" => capabilities = Some(portal_config::parse_list(&value("--capabilities")?)),
            "--help" | "-h" => return Ok(Command::Help),
            other => return Err(CliError::Unknown(other.to_owned())),
        }
    }
    let only = |allowed: bool, flag: &str| if allowed { Ok(()) } else { Err(CliError::Unknown(flag.to_owned())) };
    match command.as_deref() {
        None | Some("local") => {
            only(out.is_none(), "--out")?;
            only(capabilities.is_none(), "--capabilities")?;
            Ok(Command::Local { port, data_dir, in_memory })
        }
        Some("serve") => {
            only(out.is_none() && data_dir.is_none() && !in_memory, "a local-only flag")?;
            Ok(Command::Serve { capabilities })
        }
        _ => {
            only(data_dir.is_none() && !in_memory, "a local-only flag")?;
            Ok(Command::Package { out: out.ok_or(CliError::MissingOut)?, capabilities })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(line: &str) -> Result<Command, CliError> {
        parse(line.split_whitespace().map(str::to_owned))
    }

    #[test]
    fn no_arguments_runs_locally_on_7071() {
        assert_eq!(parse_str(""), Ok(Command::Local { port: 7071, data_dir: None, in_memory: false }));
        assert_eq!(
            parse_str("local --port 0 --in-memory --data-dir /tmp/x"),
            Ok(Command::Local { port: 0, data_dir: Some("/tmp/x".into()), in_memory: true })
        );
    }

    #[test]
    fn serve_and_package_take_capabilities() {
        assert_eq!(
            parse_str("serve --capabilities ops,databox"),
            Ok(Command::Serve { capabilities: Some(vec!["ops".into(), "databox".into()]) })
        );
        assert_eq!(parse_str("package --out dist"), Ok(Command::Package { out: "dist".into(), capabilities: None }));
    }

    #[test]
    fn mistakes_are_named() {
        assert_eq!(parse_str("package"), Err(CliError::MissingOut));
        assert_eq!(parse_str("--port x"), Err(CliError::BadPort("x".into())));
        assert_eq!(parse_str("--port"), Err(CliError::MissingValue("--port")));
        assert_eq!(parse_str("serve --in-memory"), Err(CliError::Unknown("a local-only flag".into())));
        assert_eq!(parse_str("frobnicate"), Err(CliError::Unknown("frobnicate".into())));
    }

    #[test]
    fn replay_poison_takes_one_queue() {
        assert_eq!(
            parse_str("replay-poison send-notification"),
            Ok(Command::ReplayPoison { queue: "send-notification".into() })
        );
        assert_eq!(parse_str("replay-poison"), Err(CliError::MissingQueue));
        assert_eq!(parse_str("replay-poison a b"), Err(CliError::Unknown("b".into())));
    }
}
