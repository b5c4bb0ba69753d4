//! `kiwictl`: the operator's CLI. It talks to a node's RESP port for what Redis itself offers
//! (INFO, CONFIG, SLOWLOG, CLIENT) and to its admin HTTP port for the rest (status, `top`,
//! cluster membership, checkpoint, compact).
//!
//! Rooms: [`args`] (the command line), [`settings`] (flags, environment, config file),
//! [`admin_client`] and [`resp_node`] (the two ports), [`node_cmds`] and [`cluster`] (commands),
//! [`output`] and [`format`] (printing), [`top`] (the live view), [`error`] (one-line failures).

pub mod admin_client;
pub mod args;
pub mod cluster;
pub mod error;
pub mod format;
pub mod migrate;
pub mod node_cmds;
pub mod output;
pub mod resp_node;
pub mod settings;
pub mod top;

#[cfg(test)]
mod fixtures;

use clap::CommandFactory;

use admin_client::AdminClient;
use args::{Cli, Command};
use error::CtlError;
use resp_node::RespNode;
use settings::Settings;

/// What every command gets: resolved settings and a client for each port.
pub struct Ctx {
    pub settings: Settings,
    /// Client for the admin HTTP port (status, cluster, checkpoint, compact).
    pub admin: AdminClient,
    /// The RESP port of the node named by the settings (info, config, slowlog, clients).
    pub resp: RespNode,
}

impl Ctx {
    /// Resolves the settings and builds the clients (no network traffic yet).
    pub fn new(cli: &Cli) -> Result<Ctx, CtlError> {
        let settings = Settings::resolve(&cli.global)?;
        Ok(Ctx {
            admin: AdminClient::new(settings.token.clone(), settings.timeout)?,
            resp: RespNode {
                addr: settings.resp_addr(),
                password: settings.password.clone(),
                timeout: settings.timeout,
            },
            settings,
        })
    }
}

/// Runs a parsed command line; returns the process exit code. Errors are printed here, as one
/// line, so no command can leak a backtrace or a debug dump.
pub async fn main(cli: Cli) -> i32 {
    match dispatch(&cli).await {
        Ok(code) => code,
        Err(err) => {
            eprintln!("kiwictl: {err}");
            err.exit_code()
        }
    }
}

/// Replaces Rust's panic report (message plus backtrace) with one line. A closed pipe
/// (`kiwictl info | head -1`) makes `println!` panic; that ends quietly with the status a
/// SIGPIPE death would have. `top` chains ratatui's hook in front of this one, so the terminal is
/// restored before the line prints.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        if msg.contains("Broken pipe") {
            std::process::exit(141);
        }
        let at = info
            .location()
            .map(|l| format!(" at {l}"))
            .unwrap_or_default();
        eprintln!("kiwictl: internal error{at}: {msg} (please report it)");
        std::process::exit(70);
    }));
}

async fn dispatch(cli: &Cli) -> Result<i32, CtlError> {
    if let Command::Completions { shell } = &cli.command {
        // Needs no settings: works even with a broken config file.
        let mut script = Vec::new();
        clap_complete::generate(*shell, &mut Cli::command(), "kiwictl", &mut script);
        let _ = std::io::Write::write_all(&mut std::io::stdout(), &script);
        return Ok(0);
    }
    let ctx = Ctx::new(cli)?;
    match &cli.command {
        Command::Ping => node_cmds::ping(&ctx).await?,
        Command::Info { section } => node_cmds::info(&ctx, section.as_deref()).await?,
        Command::Config { action } => node_cmds::config(&ctx, action).await?,
        Command::Health => return Ok(if node_cmds::health(&ctx).await? { 0 } else { 1 }),
        Command::Checkpoint { dir } => node_cmds::checkpoint(&ctx, dir).await?,
        Command::Compact => node_cmds::compact(&ctx).await?,
        Command::Slowlog { action } => node_cmds::slowlog(&ctx, action.as_ref()).await?,
        Command::Clients { action } => node_cmds::clients(&ctx, action.as_ref()).await?,
        Command::Cluster { action } => cluster::run(&ctx, action).await?,
        Command::Top(args) => top::run(&ctx, args).await?,
        Command::Import { file } => migrate::import(&ctx, file).await?,
        Command::Export { file } => migrate::export(&ctx, file).await?,
        Command::Migrate(args) => migrate::migrate(&ctx, args).await?,
        Command::Completions { .. } => {}
    }
    Ok(0)
}
