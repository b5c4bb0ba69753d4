//! The Kiwi server daemon.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use kiwi::config::Config;
use kiwi::server::{Bootstrap, Mode};

/// Kiwi: a Redis-compatible key-value database on RocksDB.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Redis-style configuration file (defaults: the shipped conf/kiwi.conf).
    #[arg(long, short = 'c')]
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
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut config = match &args.config {
        Some(path) => Config::from_file(path)?,
        None => Config::sample(),
    };
    let mut overrides: Vec<(String, String)> = Vec::new();
    for (key, value) in [
        ("port", args.port.map(|p| p.to_string())),
        ("bind", args.bind),
        ("dir", args.dir),
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
    let mode = if args.single_node {
        Mode::SingleNode
    } else if args.init_cluster {
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
