//! `kiwi-bench`: benchmark any Redis-compatible server. All logic is in `kiwi::bench`.

use std::process::ExitCode;

use clap::Parser;
use kiwi::bench::{self, args::Args};

fn main() -> ExitCode {
    match bench::main(Args::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(err) => {
            eprintln!("kiwi-bench: {err:#}");
            ExitCode::from(2)
        }
    }
}
