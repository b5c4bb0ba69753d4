//! `kiwictl`: the Kiwi operator CLI.

use clap::{Parser, Subcommand};
use kiwi::ctl::{self, Target};

#[derive(Parser, Debug)]
#[command(version, about = "Administer a Kiwi node")]
struct Args {
    /// Node host.
    #[arg(
        long,
        short = 'H',
        default_value = "127.0.0.1",
        env = "KIWI_HOST",
        global = true
    )]
    host: String,
    /// Node RESP port.
    #[arg(
        long,
        short = 'p',
        default_value_t = 7379,
        env = "KIWI_PORT",
        global = true
    )]
    port: u16,
    /// Password (requirepass).
    #[arg(long, short = 'a', env = "KIWI_PASSWORD", global = true)]
    password: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check that the node answers.
    Ping,
    /// Show INFO, optionally one section.
    Info { section: Option<String> },
    /// Read or change configuration.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Exit 0 when the node is healthy, 1 otherwise (for scripts and probes).
    Health,
}

#[derive(Subcommand, Debug)]
enum ConfigAction {
    /// Options matching a glob pattern.
    Get { pattern: String },
    /// Change an option at runtime.
    Set { key: String, value: String },
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = Args::parse();
    let target = Target {
        host: args.host,
        port: args.port,
        password: args.password,
    };
    let result = match args.command {
        Command::Ping => ctl::run_command(&target, &["PING".into()])
            .await
            .map(|f| print!("{}", ctl::render(&f))),
        Command::Info { section } => {
            let mut cmd = vec!["INFO".to_string()];
            cmd.extend(section);
            ctl::run_command(&target, &cmd)
                .await
                .map(|f| print!("{}", ctl::render(&f)))
        }
        Command::Config { action } => {
            let cmd = match action {
                ConfigAction::Get { pattern } => vec!["CONFIG".into(), "GET".into(), pattern],
                ConfigAction::Set { key, value } => vec!["CONFIG".into(), "SET".into(), key, value],
            };
            ctl::run_command(&target, &cmd)
                .await
                .map(|f| print!("{}", ctl::render(&f)))
        }
        Command::Health => match ctl::health(&target).await {
            Ok(problems) if problems.is_empty() => {
                println!("healthy");
                Ok(())
            }
            Ok(problems) => {
                for p in problems {
                    eprintln!("unhealthy: {p}");
                }
                std::process::exit(1);
            }
            Err(e) => Err(e),
        },
    };
    if let Err(err) = result {
        eprintln!("kiwictl: {err:#}");
        std::process::exit(1);
    }
}
