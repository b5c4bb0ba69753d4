//! Logging setup: `tracing` with the level and destination from the config, changeable at
//! runtime through `CONFIG SET loglevel`.

use std::sync::OnceLock;

use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::prelude::*;
use tracing_subscriber::reload;

use crate::config::{Config, LogLevel};

type ReloadHandle = reload::Handle<LevelFilter, tracing_subscriber::Registry>;
static HANDLE: OnceLock<ReloadHandle> = OnceLock::new();

fn filter(level: LogLevel) -> LevelFilter {
    match level {
        LogLevel::Debug => LevelFilter::TRACE,
        LogLevel::Verbose => LevelFilter::DEBUG,
        LogLevel::Notice => LevelFilter::INFO,
        LogLevel::Warning => LevelFilter::WARN,
        LogLevel::Nothing => LevelFilter::OFF,
    }
}

/// Installs the global subscriber: to `logfile` (appending) or standard output.
pub fn init(config: &Config) -> anyhow::Result<()> {
    let (level, handle) = reload::Layer::new(filter(config.loglevel));
    let registry = tracing_subscriber::registry().with(level);
    if config.logfile.is_empty() {
        registry
            .with(tracing_subscriber::fmt::layer().with_target(false))
            .try_init()?;
    } else {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&config.logfile)
            .map_err(|e| anyhow::anyhow!("open log file {}: {e}", config.logfile))?;
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_target(false)
                    .with_ansi(false)
                    .with_writer(std::sync::Mutex::new(file)),
            )
            .try_init()?;
    }
    let _ = HANDLE.set(handle);
    Ok(())
}

/// Changes the level at runtime (no-op before `init`, e.g. in unit tests).
pub fn set_level(level: LogLevel) {
    if let Some(handle) = HANDLE.get() {
        let _ = handle.modify(|f| *f = filter(level));
    }
}
