//! `portal`: wiring only. See `lib.rs` for the parts.

use std::process::ExitCode;
use std::sync::Arc;

use portal::app::{self, AppError, Services, Stores};
use portal::cli::{self, Command};
use portal::local_host::LocalHost;
use portal::{package, server};
use portal_config::{LogFormat, Settings, StoreSettings};
use portal_store::SystemClock;
use portal_telemetry as telemetry;
use tokio::net::TcpListener;

/// mimalloc, not glibc's malloc: a request's memory is often freed on another
/// thread than the one that allocated it (tokio moves tasks between workers,
/// the store's writer drops what a worker built), and glibc then takes the
/// allocating arena's lock. Under load on the calendar page the workers spent
/// their waits on those locks; with mimalloc the page took about a fifth less
/// CPU (`docs/benchmarks.md`, session 10; `docs/architecture.md`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// sysexits: bad usage, bad configuration, failure.
const EXIT_USAGE: u8 = 64;
const EXIT_CONFIG: u8 = 78;

#[tokio::main]
async fn main() -> ExitCode {
    let command = match cli::parse(std::env::args().skip(1)) {
        Ok(command) => command,
        Err(error) => {
            eprintln!("portal: {error}\n\n{}", cli::USAGE);
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match command {
        Command::Help => {
            print!("{}", cli::USAGE);
            return ExitCode::SUCCESS;
        }
        Command::Version => {
            println!("portal {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        _ => {}
    }
    let mut settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("portal: {error}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let format = match (&command, settings.log_format) {
        (Command::Local { .. } | Command::ReplayPoison { .. }, None) => telemetry::LogFormat::Text,
        (_, Some(LogFormat::Text)) => telemetry::LogFormat::Text,
        _ => telemetry::LogFormat::Json,
    };
    // With APPLICATIONINSIGHTS_CONNECTION_STRING, spans also go to Application
    // Insights (requests, dependencies, traces); `package` only writes files.
    let export = match (&command, &settings.app_insights) {
        (Command::Package { .. }, _) | (_, None) => None,
        (_, Some(connection_string)) => Some(telemetry::Export {
            connection_string: connection_string.clone(),
            service_name: "portal".into(),
            service_version: env!("CARGO_PKG_VERSION").into(),
            // In Azure the component takes Entra ID tokens only: the same
            // identity as the stores'. Locally, the instrumentation key.
            credential: match &settings.store {
                StoreSettings::Azure(azure) => {
                    let credential = match &azure.credential {
                        portal_config::AzureCredential::ManagedIdentity { client_id } => {
                            portal_store::azure::AzureCredential::ManagedIdentity { client_id: client_id.clone() }
                        }
                        portal_config::AzureCredential::DeveloperTools => {
                            portal_store::azure::AzureCredential::DeveloperTools
                        }
                    };
                    match credential.build() {
                        Ok(credential) => Some(credential),
                        Err(error) => {
                            eprintln!("portal: {}", portal_host::runtime::error_chain(&error));
                            return ExitCode::from(EXIT_CONFIG);
                        }
                    }
                }
                StoreSettings::Embedded { .. } => None,
            },
        }),
    };
    let telemetry = match telemetry::init(format, &settings.log_filter, export.as_ref()) {
        Ok(telemetry) => telemetry,
        Err(error) => {
            eprintln!("portal: {}", portal_host::runtime::error_chain(&error));
            return ExitCode::from(EXIT_CONFIG);
        }
    };

    let result = match command {
        Command::Local { port, data_dir, in_memory } => {
            if let StoreSettings::Embedded { data_dir: dir, in_memory: memory } = &mut settings.store {
                if let Some(data_dir) = data_dir {
                    *dir = data_dir;
                }
                *memory = in_memory;
            }
            run_local(&settings, port).await
        }
        Command::Serve { capabilities } => run_serve(&settings, capabilities).await,
        Command::Package { out, capabilities } => run_package(&settings, &out, capabilities).await,
        Command::ReplayPoison { queue } => run_replay_poison(&settings, &queue).await,
        Command::Help | Command::Version => Ok(()),
    };
    let code = match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = %portal_host::runtime::error_chain(&error), "portal stopped");
            eprintln!("portal: {}", portal_host::runtime::error_chain(&error));
            ExitCode::FAILURE
        }
    };
    // The server has stopped (SIGTERM, Ctrl-C or a failure): send the spans
    // still queued before the process exits.
    telemetry.shutdown().await;
    code
}

fn io_error(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> AppError {
    let context = context.into();
    move |source| AppError::Io { context, source }
}

async fn run_local(settings: &Settings, port: u16) -> Result<(), AppError> {
    let listener =
        TcpListener::bind(("127.0.0.1", port)).await.map_err(io_error(format!("cannot listen on 127.0.0.1:{port}")))?;
    let address = listener.local_addr().map_err(io_error("no local address"))?;
    let base = format!("http://{address}");
    // Share links, calendar feeds and e-mail links point where this portal
    // listens (unless PORTAL_PUBLIC_URL says otherwise).
    let mut settings = settings.clone();
    settings.listening_on(&base);
    let settings = &settings;
    let clock = Arc::new(SystemClock);
    let services = Services::open(settings, clock.clone()).await?;
    let stores = services.stores.clone();
    let app = app::app(&services, settings, settings.capabilities.as_deref())?;
    let runtime = &app.runtime;
    let host =
        Arc::new(LocalHost::new(&base, runtime, stores.queues.clone(), stores.documents.clone(), clock).map_err(
            |error| AppError::Io { context: error.to_string(), source: std::io::Error::other("local host") },
        )?);
    let where_data = match &settings.store {
        StoreSettings::Embedded { in_memory: true, .. } => "in memory (gone when the portal stops)".to_owned(),
        StoreSettings::Embedded { data_dir, .. } => format!("in {}", data_dir.display()),
        StoreSettings::Azure(_) => "in Azure".to_owned(),
    };
    println!("Portál občana (local mode) listening on {base}");
    println!("  data: {where_data}; timers and queues run by the local host");
    println!("  web client: open {base}/ in a browser");
    println!("  try:  curl {base}/api/health");
    println!("        curl {base}/api/ready");
    if matches!(settings.identity, portal_config::IdentityProvider::Development) {
        println!(
            "  log in: open {base}/api/auth/dev (development identity provider: demo citizens, a SIMULATOR, not NIA)"
        );
        println!("          then {base}/api/me shows who you are");
    }
    println!("  stop: Ctrl-C (in-flight work finishes first)");

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let local_host = tokio::spawn(Arc::clone(&host).run(stopped, stores.queue_activity.clone()));
    let shutdown = async move {
        server::shutdown_signal().await;
        let _ = stop.send(true);
        // The local host finishes its round (it talks to the handler) before
        // the server stops taking requests.
        let _ = local_host.await;
    };
    server::serve(listener, app.router(), shutdown).await.map_err(io_error("the server failed"))?;
    tracing::info!("stopped cleanly");
    Ok(())
}

async fn run_serve(settings: &Settings, capabilities: Option<Vec<String>>) -> Result<(), AppError> {
    let port = settings.handler_port.ok_or(portal_config::ConfigError::Missing("FUNCTIONS_CUSTOMHANDLER_PORT"))?;
    let capabilities = capabilities.or_else(|| settings.capabilities.clone());
    let services = Services::open(settings, Arc::new(SystemClock)).await?;
    let app = app::app(&services, settings, capabilities.as_deref())?;
    let listener =
        TcpListener::bind(("127.0.0.1", port)).await.map_err(io_error(format!("cannot listen on 127.0.0.1:{port}")))?;
    tracing::info!(
        port,
        functions = app.runtime.functions().len(),
        store = services.stores.kind,
        "custom handler ready"
    );
    server::serve(listener, app.router(), server::shutdown_signal()).await.map_err(io_error("the server failed"))
}

async fn run_replay_poison(settings: &Settings, queue: &str) -> Result<(), AppError> {
    let services = Services::open(settings, Arc::new(SystemClock)).await?;
    let done = portal::replay::replay_poison(services.stores.queues.as_ref(), queue)
        .await
        .map_err(|error| AppError::Io { context: error.to_string(), source: std::io::Error::other("replay-poison") })?;
    println!("put {} message(s) from {queue}-poison back on {queue}", done.replayed);
    if done.left > 0 {
        println!("left {} record(s) that belong to another queue in {queue}-poison", done.left);
    }
    Ok(())
}

async fn run_package(
    settings: &Settings,
    out: &std::path::Path,
    capabilities: Option<Vec<String>>,
) -> Result<(), AppError> {
    // Declarations only: the handlers are never called, so a throwaway store does.
    let clock = Arc::new(SystemClock);
    let stores = Stores::embedded(portal_store::embedded::EmbeddedStore::in_memory(clock.clone())?, clock);
    let mut local = settings.clone();
    local.store = StoreSettings::Embedded { data_dir: ".portal".into(), in_memory: true };
    local.key_encryption = portal_config::KeyEncryption::LocalFiles;
    let services = Services::with_stores(stores, &local).await?;
    let runtime = app::runtime(&services, settings, capabilities.as_deref())?;
    let executable = std::env::current_exe().map_err(io_error("cannot find this executable"))?;
    let names = package::write(out, &runtime, capabilities.as_deref(), &executable)
        .map_err(io_error(format!("cannot write the package to {}", out.display())))?;
    println!("wrote {} functions to {}: {}", names.len(), out.display(), names.join(", "));
    Ok(())
}
