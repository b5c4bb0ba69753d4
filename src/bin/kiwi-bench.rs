//! `kiwi-bench`: benchmark any RESP server.

use clap::Parser;
use kiwi::bench::{self, Options};

#[derive(Parser, Debug)]
#[command(version, about = "Benchmark a Redis-compatible server")]
struct Args {
    #[arg(long, short = 'H', default_value = "127.0.0.1")]
    host: String,
    #[arg(long, short = 'p', default_value_t = 7379)]
    port: u16,
    /// Concurrent connections.
    #[arg(long, short = 'c', default_value_t = 50)]
    clients: usize,
    /// Total requests per test.
    #[arg(long, short = 'n', default_value_t = 100_000)]
    requests: u64,
    /// Requests in flight per connection.
    #[arg(long, short = 'P', default_value_t = 1)]
    pipeline: usize,
    /// Value size in bytes.
    #[arg(long, short = 'd', default_value_t = 3)]
    data_size: usize,
    /// Number of distinct keys.
    #[arg(long, short = 'r', default_value_t = 100_000)]
    keyspace: u64,
    /// Comma-separated tests: ping, set, get, incr, mset.
    #[arg(long, short = 't', default_value = "set,get")]
    tests: String,
    /// Seed for key choice, for reproducible runs.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(
        args.clients > 0 && args.pipeline > 0,
        "--clients and --pipeline must be at least 1"
    );
    let options = Options {
        addr: format!("{}:{}", args.host, args.port),
        clients: args.clients,
        requests: args.requests,
        pipeline: args.pipeline,
        data_size: args.data_size,
        keyspace: args.keyspace,
        seed: args.seed,
    };
    let mut reports = Vec::new();
    for test in args
        .tests
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        reports.push(bench::run_test(test, &options).await?);
    }
    print!("{}", bench::format_table(&reports));
    Ok(())
}
