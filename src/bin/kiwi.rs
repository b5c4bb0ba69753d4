//! The Kiwi server daemon.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Parser;
use kiwi::config::Config;
use kiwi::server::{Bootstrap, Mode};

/// Kiwi: a Redis-compatible key-value database on RocksDB.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Redis-style configuration file (defaults: the shipped conf/kiwi.conf).
    // Global so that it may follow a subcommand: the Windows service runs
    // `kiwi service run --config FILE`.
    #[arg(long, short = 'c', global = true)]
    config: Option<PathBuf>,
    /// Run one node without Raft, even if the configuration names a cluster node id.
    #[arg(long, conflicts_with = "init_cluster")]
    single_node: bool,
    /// Initialise a new Raft cluster with this node as its first member.
    #[arg(long)]
    init_cluster: bool,
    /// RESP port (overrides `port`).
    #[arg(long)]
    port: Option<u16>,
    /// Listen addresses (overrides `bind`).
    #[arg(long)]
    bind: Option<String>,
    /// Data directory (overrides `dir`).
    #[arg(long)]
    dir: Option<String>,
    /// Any other option as KEY=VALUE, e.g. --set appendfsync=always (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
    /// Windows only: `service install|uninstall|run`.
    #[cfg(windows)]
    #[command(subcommand)]
    command: Option<kiwi::sys::PlatformCommand>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let (single_node, init_cluster) = (args.single_node, args.init_cluster);
    let serve = move |config: Config| run(config, single_node, init_cluster);
    #[cfg(windows)]
    if let Some(command) = &args.command {
        return kiwi::sys::run_command(
            command,
            args.config.as_deref(),
            |path| load_config(&args, Some(path)),
            serve,
        );
    }
    serve(load_config(&args, args.config.as_deref())?)
}

/// Starts logging, then serves until a signal, SHUTDOWN or the Windows service manager stops it.
fn run(config: Config, single_node: bool, init_cluster: bool) -> anyhow::Result<()> {
    let mode = if single_node {
        Mode::SingleNode
    } else if init_cluster {
        Mode::Cluster {
            id: config.cluster_node_id.max(1),
            bootstrap: Bootstrap::Initialize,
        }
    } else if config.cluster_node_id > 0 {
        Mode::Cluster {
            id: config.cluster_node_id,
            bootstrap: Bootstrap::Join,
        }
    } else {
        Mode::SingleNode
    };
    kiwi::logging::init(&config)?;
    kiwi::server::run(config, mode)
}

/// The configuration file (or the embedded sample) with the command line's overrides applied.
fn load_config(args: &Args, file: Option<&Path>) -> anyhow::Result<Config> {
    let mut config = match file {
        Some(path) => Config::from_file(path)?,
        None => Config::sample(),
    };
    let mut overrides: Vec<(String, String)> = Vec::new();
    for (key, value) in [
        ("port", args.port.map(|p| p.to_string())),
        ("bind", args.bind.clone()),
        ("dir", args.dir.clone()),
    ] {
        if let Some(value) = value {
            overrides.push((key.to_string(), value));
        }
    }
    for item in &args.overrides {
        let (key, value) = item
            .split_once('=')
            .with_context(|| format!("--set {item}: expected KEY=VALUE"))?;
        overrides.push((key.to_string(), value.to_string()));
    }
    for (key, value) in overrides {
        config
            .set(&key, &value)
            .map_err(|e| anyhow::anyhow!("command line: '{key}': {e}"))?;
    }
    config
        .validate()
        .map_err(|(key, e)| anyhow::anyhow!("command line: '{key}': {e}"))?;
    Ok(config)
}
