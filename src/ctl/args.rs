//! The command line of `kiwictl`: every command, option and its help text.
//!
//! Kept in the library (not in `src/bin`) so that `kiwictl completions` can generate scripts
//! from the same definition and tests can parse command lines without spawning a process.
//! Global options are all `Option`s without clap defaults: a value missing from the command line
//! and the environment may still come from the client config file (see [`super::settings`]).

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// The whole command line.
#[derive(Parser, Debug)]
#[command(
    name = "kiwictl",
    version,
    about = "Administer Kiwi nodes and clusters",
    long_about = "Administer Kiwi nodes and clusters.\n\n\
        kiwictl talks to a node's RESP port (info, config, slowlog, clients, health) and to its \
        admin HTTP port (status, top, cluster membership, checkpoint, compact). Options come from \
        the command line, then KIWI_* environment variables, then the client config file \
        (~/.config/kiwi/kiwictl.conf, `key = value` lines), then built-in defaults.",
    after_help = "Exit codes: 0 success, 1 unhealthy (health) or refused by the node, 2 usage error \
        or node unreachable."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOpts,
    #[command(subcommand)]
    pub command: Command,
}

/// Where the node is and how to talk to it; accepted before or after the subcommand.
#[derive(clap::Args, Debug, Default, Clone)]
#[command(next_help_heading = "Global options")]
pub struct GlobalOpts {
    /// Node host name or address [default: 127.0.0.1].
    #[arg(long, short = 'H', env = "KIWI_HOST", global = true)]
    pub host: Option<String>,
    /// Node RESP port [default: 7379].
    #[arg(long, short = 'p', env = "KIWI_PORT", global = true)]
    pub port: Option<u16>,
    /// Node admin HTTP port [default: 7380].
    #[arg(long, env = "KIWI_ADMIN_PORT", global = true)]
    pub admin_port: Option<u16>,
    /// Bearer token for mutating admin calls (the node's `admin-token`).
    #[arg(long, env = "KIWI_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,
    /// Password for the RESP port (`requirepass`).
    #[arg(
        long,
        short = 'a',
        env = "KIWI_PASSWORD",
        global = true,
        hide_env_values = true
    )]
    pub password: Option<String>,
    /// Output format [default: table].
    #[arg(long, short = 'o', env = "KIWI_OUTPUT", global = true, value_enum)]
    pub output: Option<OutputFormat>,
    /// Seconds to wait for a node before giving up [default: 5].
    #[arg(long, env = "KIWI_TIMEOUT", global = true)]
    pub timeout: Option<f64>,
    /// Client config file [default: ~/.config/kiwi/kiwictl.conf].
    #[arg(long, env = "KIWICTL_CONFIG", global = true)]
    pub config: Option<PathBuf>,
}

/// How results are printed.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// Aligned columns for people.
    #[default]
    Table,
    /// One JSON document for scripts.
    Json,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check that the node answers PING.
    Ping,
    /// Show INFO, optionally one section.
    Info {
        /// Section name (server, clients, memory, stats, keyspace, runtime, ...).
        section: Option<String>,
    },
    /// Read or change configuration at runtime.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Exit 0 when the node is healthy, 1 when it is not, 2 when it cannot be reached.
    Health,
    /// Write a consistent RocksDB checkpoint (a hard-linked copy) into a directory on the node.
    Checkpoint {
        /// Directory on the node's machine; must not exist yet.
        dir: String,
    },
    /// Ask RocksDB for a full manual compaction.
    Compact,
    /// Show or reset the slow log.
    Slowlog {
        #[command(subcommand)]
        action: Option<SlowlogAction>,
    },
    /// List or disconnect client connections.
    Clients {
        #[command(subcommand)]
        action: Option<ClientsAction>,
    },
    /// Raft cluster membership and state.
    Cluster {
        #[command(subcommand)]
        action: ClusterAction,
    },
    /// Live full-screen view of a node or a whole cluster.
    Top(TopArgs),
    /// Load a Redis RDB file (dump.rdb of Redis 6.x or 7.0) into the node: every database, type
    /// and expiry, key by key with RESTORE ... REPLACE; already expired keys, module data and
    /// function libraries are skipped and counted.
    Import {
        /// The RDB file.
        file: PathBuf,
    },
    /// Write every key of the node to an RDB file that Redis 7.0 loads (SCAN and DUMP key by
    /// key: keys written meanwhile may or may not be in it).
    Export {
        /// The RDB file to create.
        file: PathBuf,
    },
    /// Copy a running Redis (or Kiwi) into the node: SCAN, DUMP and PEXPIRETIME there, RESTORE
    /// ... ABSTTL here, pipelined, with progress, a cursor to resume from and a final count.
    Migrate(MigrateArgs),
    /// Print a shell completion script.
    Completions {
        /// Shell to generate for.
        shell: clap_complete::Shell,
    },
}

/// `config ...`.
#[derive(Subcommand, Debug)]
pub enum ConfigAction {
    /// Options matching a glob pattern (e.g. `maxmemory*`, `*`).
    Get { pattern: String },
    /// Change one option.
    Set { key: String, value: String },
}

/// `slowlog ...`.
#[derive(Subcommand, Debug)]
pub enum SlowlogAction {
    /// The most recent entries (default).
    Get {
        /// How many entries [default: 10].
        count: Option<u64>,
    },
    /// How many entries the log holds.
    Len,
    /// Empty the log.
    Reset,
}

/// `clients ...`.
#[derive(Subcommand, Debug)]
pub enum ClientsAction {
    /// One row per connection (default).
    List,
    /// Disconnect a client by id or by `ip:port`.
    Kill {
        /// A client id (as listed) or an `ip:port` address.
        client: String,
    },
}

/// `cluster ...`.
#[derive(Subcommand, Debug)]
pub enum ClusterAction {
    /// Every member with role, term, log indexes, lag and health (asks each member).
    Status,
    /// Members as the leader knows them.
    Members,
    /// Make this node a one-member cluster that others can join.
    Init,
    /// Add a node: joins as learner, catches up (with a progress bar), becomes a voter.
    AddNode {
        /// Raft node id of the new node.
        id: u64,
        /// Admin address (`host:port`) of the new node.
        addr: String,
        /// RESP address of the new node [default: asked from the new node].
        #[arg(long)]
        resp_addr: Option<String>,
    },
    /// Remove a node from the cluster.
    RemoveNode {
        /// Raft node id.
        id: u64,
    },
    /// Ask another voter to take over leadership.
    TransferLeader {
        /// Raft node id of the new leader.
        id: u64,
    },
}

/// `top`'s own options.
#[derive(clap::Args, Debug, Clone)]
pub struct TopArgs {
    /// Seconds between samples.
    #[arg(long, short = 'i', default_value_t = 1.0)]
    pub interval: f64,
    /// Watch only the given node, not every member of its cluster.
    #[arg(long)]
    pub single: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_options_are_accepted_after_the_subcommand() {
        let cli = Cli::try_parse_from(["kiwictl", "info", "-p", "7000", "--output", "json"])
            .expect("parse");
        assert_eq!(cli.global.port, Some(7000));
        assert_eq!(cli.global.output, Some(OutputFormat::Json));
    }
}

/// `migrate ...`.
#[derive(clap::Args, Debug)]
pub struct MigrateArgs {
    /// The source: `redis://[[user]:password@]host:port` or `host:port`.
    #[arg(long)]
    pub from: String,
    /// Copy only this database (default: every database of the source).
    #[arg(long)]
    pub db: Option<usize>,
    /// Copy only the keys matching this glob pattern (SCAN MATCH).
    #[arg(long = "match")]
    pub pattern: Option<String>,
    /// Overwrite keys that exist on the node (otherwise they are counted and left alone).
    #[arg(long)]
    pub replace: bool,
    /// Resume an interrupted copy at `DB:CURSOR`, as its last progress line or error printed.
    #[arg(long)]
    pub resume: Option<String>,
}
