//! Windows: Ctrl-C/console close, and running as a Windows service.
//!
//! A service is a console program the Service Control Manager (SCM) starts with no console and
//! stops with a control message instead of a signal. `kiwi service install` registers the
//! current executable with the launch arguments `service run --config FILE`; the SCM then runs
//! exactly that, and [`run_command`] hands the process to the SCM's dispatcher. The MSI
//! registers the same command line itself (packaging/windows/main.wxs), so both ways of
//! installing behave alike.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::Notify;
use windows_service::service::{
    ServiceAccess, ServiceControl, ServiceControlAccept, ServiceErrorControl, ServiceExitCode,
    ServiceInfo, ServiceStartType, ServiceState, ServiceStatus, ServiceType,
};
use windows_service::service_control_handler::{self, ServiceControlHandlerResult};
use windows_service::service_manager::{ServiceManager, ServiceManagerAccess};
use windows_service::{define_windows_service, service_dispatcher};

/// The service name used by `sc`, `Start-Service` and the MSI.
const SERVICE_NAME: &str = "kiwi";
/// An unprivileged built-in account: the service only needs its data directory, which the MSI
/// (or the administrator, for a manual install) makes writable for it.
const SERVICE_ACCOUNT: &str = r"NT AUTHORITY\LocalService";

/// Woken by the SCM's Stop or Shutdown control; `notify_one` keeps the wake-up if it arrives
/// before the server waits for it.
static SERVICE_STOP: Notify = Notify::const_new();
/// The server, with the configuration `service run` loaded, waiting for the thread the SCM
/// starts the service on.
static SERVICE_BODY: Mutex<Option<ServiceBody>> = Mutex::new(None);
type ServiceBody = Box<dyn FnOnce() -> anyhow::Result<()> + Send>;

/// `kiwi` subcommands that exist only on Windows.
#[derive(clap::Subcommand, Debug)]
pub enum PlatformCommand {
    /// Manage the Kiwi Windows service.
    #[command(subcommand)]
    Service(ServiceAction),
}

/// `kiwi service ...`
#[derive(clap::Subcommand, Debug)]
pub enum ServiceAction {
    /// Register kiwi as an automatic-start service running `service run --config FILE`.
    Install,
    /// Stop and unregister the service (data and configuration stay).
    Uninstall,
    /// Entry point for the Service Control Manager; not for interactive use.
    Run,
}

/// Resolves when the process is asked to stop: Ctrl-C, console close, or the SCM's Stop.
pub async fn shutdown_signal() {
    let console_closed = async {
        match tokio::signal::windows::ctrl_close() {
            Ok(mut close) => {
                close.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    // A handler that cannot be installed (a service has no console) must not count as a stop.
    tokio::select! {
        Ok(()) = tokio::signal::ctrl_c() => {}
        _ = console_closed => {}
        _ = SERVICE_STOP.notified() => {}
    }
}

/// Runs a platform subcommand. `config` is `--config` (default
/// `%ProgramData%\Kiwi\kiwi.conf`); `load` turns a file into a validated configuration with
/// the command line's overrides applied, and `serve` runs the server on it, as a foreground
/// `kiwi` would. (They are passed in so that this module depends on nothing else in Kiwi.)
pub fn run_command<C: Send + 'static>(
    command: &PlatformCommand,
    config: Option<&Path>,
    load: impl FnOnce(&Path) -> anyhow::Result<C>,
    serve: impl FnOnce(C) -> anyhow::Result<()> + Send + 'static,
) -> anyhow::Result<()> {
    let path = match config {
        Some(path) => std::path::absolute(path).context("resolve --config")?,
        None => default_config_path(),
    };
    let PlatformCommand::Service(action) = command;
    match action {
        ServiceAction::Install => {
            load(&path)?; // refuse to register a service that could not start
            install(&path)
        }
        ServiceAction::Uninstall => uninstall(),
        ServiceAction::Run => {
            // The SCM starts services in System32; relative `dir` and `logfile` are meant
            // relative to the configuration, which is where the MSI puts the data.
            if let Some(dir) = path.parent() {
                std::env::set_current_dir(dir)
                    .with_context(|| format!("enter {}", dir.display()))?;
            }
            let config = load(&path)?;
            *SERVICE_BODY.lock().unwrap_or_else(|e| e.into_inner()) =
                Some(Box::new(move || serve(config)));
            service_dispatcher::start(SERVICE_NAME, ffi_service_main).context(
                "kiwi service run is started by the Service Control Manager (sc start kiwi)",
            )
        }
    }
}

/// `%ProgramData%\Kiwi\kiwi.conf`, where the MSI installs the configuration.
fn default_config_path() -> PathBuf {
    let base = std::env::var_os("ProgramData").unwrap_or_else(|| r"C:\ProgramData".into());
    PathBuf::from(base).join("Kiwi").join("kiwi.conf")
}

fn install(config: &Path) -> anyhow::Result<()> {
    let manager = ServiceManager::local_computer(
        None::<&str>,
        ServiceManagerAccess::CONNECT | ServiceManagerAccess::CREATE_SERVICE,
    )
    .context("connect to the Service Control Manager (run as Administrator)")?;
    let info = ServiceInfo {
        name: SERVICE_NAME.into(),
        display_name: "Kiwi".into(),
        service_type: ServiceType::OWN_PROCESS,
        start_type: ServiceStartType::AutoStart,
        error_control: ServiceErrorControl::Normal,
        executable_path: std::env::current_exe().context("locate kiwi.exe")?,
        launch_arguments: vec![
            "service".into(),
            "run".into(),
            "--config".into(),
            config.as_os_str().to_owned(),
        ],
        dependencies: vec![],
        account_name: Some(SERVICE_ACCOUNT.into()),
        account_password: None,
    };
    let service = manager
        .create_service(&info, ServiceAccess::CHANGE_CONFIG)
        .context("create the kiwi service")?;
    service
        .set_description("Kiwi: Redis-compatible key-value database on RocksDB")
        .context("describe the kiwi service")?;
    println!(
        "installed service {SERVICE_NAME} ({}); start it with: sc start {SERVICE_NAME}",
        config.display()
    );
    Ok(())
}

fn uninstall() -> anyhow::Result<()> {
    let manager = ServiceManager::local_computer(None::<&str>, ServiceManagerAccess::CONNECT)
        .context("connect to the Service Control Manager (run as Administrator)")?;
    let service = manager
        .open_service(
            SERVICE_NAME,
            ServiceAccess::QUERY_STATUS | ServiceAccess::STOP | ServiceAccess::DELETE,
        )
        .context("open the kiwi service")?;
    // Deletion takes effect once the service has stopped and every handle is closed.
    service.delete().context("delete the kiwi service")?;
    if service.query_status()?.current_state != ServiceState::Stopped {
        service.stop().context("stop the kiwi service")?;
    }
    println!("uninstalled service {SERVICE_NAME}");
    Ok(())
}

define_windows_service!(ffi_service_main, service_main);

/// Called by the dispatcher on its own thread; errors can only go to the log.
fn service_main(_arguments: Vec<OsString>) {
    if let Err(err) = serve() {
        tracing::error!("kiwi service: {err:#}");
    }
}

fn serve() -> anyhow::Result<()> {
    let status = service_control_handler::register(SERVICE_NAME, |control| match control {
        ServiceControl::Stop | ServiceControl::Shutdown => {
            SERVICE_STOP.notify_one();
            ServiceControlHandlerResult::NoError
        }
        ServiceControl::Interrogate => ServiceControlHandlerResult::NoError,
        _ => ServiceControlHandlerResult::NotImplemented,
    })?;
    let report = |state, accept, exit_code| {
        status.set_service_status(ServiceStatus {
            service_type: ServiceType::OWN_PROCESS,
            current_state: state,
            controls_accepted: accept,
            exit_code,
            checkpoint: 0,
            wait_hint: Duration::ZERO,
            process_id: None,
        })
    };
    let body = SERVICE_BODY
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .context("service started without a configuration")?;
    report(
        ServiceState::Running,
        ServiceControlAccept::STOP | ServiceControlAccept::SHUTDOWN,
        ServiceExitCode::NO_ERROR,
    )?;
    let result = body();
    let exit_code = match &result {
        Ok(()) => ServiceExitCode::NO_ERROR,
        Err(_) => ServiceExitCode::ServiceSpecific(1),
    };
    report(
        ServiceState::Stopped,
        ServiceControlAccept::empty(),
        exit_code,
    )?;
    result
}
