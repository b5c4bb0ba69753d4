//! `kiwi-bench`: a load generator and latency recorder for any RESP server.
//!
//! One module per concern: [`args`] resolves flags and profiles into a [`Config`](args::Config);
//! [`workload`] compiles command templates and mixes; [`keys`] draws keys; [`conn`] and
//! [`scan`] are the lean pipelined connection; [`run`] drives threads and the closed or open
//! loop; [`stats`] keeps per-command histograms; [`report`] prints and exports; this module
//! sequences a session: preload, rounds over targets, verification, output.

pub mod args;
pub mod conn;
pub mod keys;
pub mod progress;
pub mod report;
pub mod run;
pub mod scan;
pub mod stats;
pub mod workload;

use std::io::IsTerminal as _;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use args::{Args, Config, Dest, Target};
use conn::Conn;
use keys::{KeyGen, KeyPattern, Rng};
use progress::Progress;
use report::Summary;
use run::{Limit, Plan};
use stats::TestStats;
use workload::{Fill, Template, Test, LRANGE_LIST_LEN};

/// Runs a whole session from parsed flags. Returns `false` when `--verify` found a problem,
/// so the binary can exit non-zero.
pub fn main(args: Args) -> anyhow::Result<bool> {
    let config = Config::resolve(args)?;
    let show_progress = !config.quiet && std::io::stderr().is_terminal();
    let mut results: Vec<Vec<TestStats>> = config
        .targets
        .iter()
        .map(|_| {
            config
                .tests
                .iter()
                .map(|t| TestStats::new(t.templates.len()))
                .collect()
        })
        .collect();
    for round in 0..config.rounds {
        // Rotate the order each round so no target always runs first (or right after another).
        for offset in 0..config.targets.len() {
            let index = (round + offset) % config.targets.len();
            let target = &config.targets[index];
            if round == 0 && config.preload {
                preload(&config, target)?;
            }
            for (test, sum) in config.tests.iter().zip(&mut results[index]) {
                if test.needs_list() {
                    fill_list(&config, target)?;
                }
                let mut label = format!("{} {}", target.name, test.name);
                if config.rounds > 1 {
                    label += &format!(" (round {}/{})", round + 1, config.rounds);
                }
                let progress = show_progress.then(|| Arc::new(Progress::new(label)));
                let mut plan = plan_for(&config, target, test.clone(), progress);
                plan.load.limit = round_share(config.load.limit, config.rounds, round);
                // Each round draws other keys; every target gets the same ones in a round.
                plan.load.seed = config.load.seed.wrapping_add(round as u64);
                let stats = run::run(&plan)
                    .with_context(|| format!("run {} against {}", test.name, target.name))?;
                sum.merge_round(&stats);
            }
        }
    }
    let mut rows: Vec<Summary> = Vec::new();
    for (target, per_test) in config.targets.iter().zip(&results) {
        for (test, stats) in config.tests.iter().zip(per_test) {
            rows.extend(report::summarize(&target.name, test, stats));
        }
    }
    let mut verified = true;
    if config.verify {
        for target in &config.targets {
            let verify_rows = verify(&config, target)?;
            verified &= verify_rows
                .iter()
                .all(|r| r.errors == 0 && r.mismatches == 0 && r.requests == config.load.keyspace);
            rows.extend(verify_rows);
        }
    }
    let names: Vec<String> = config.targets.iter().map(|t| t.name.clone()).collect();
    let ratios = if names.len() > 1 {
        report::ratios(&rows, &names)
    } else {
        Vec::new()
    };
    write_outputs(&config, &rows, &ratios)?;
    if config.verify {
        eprintln!(
            "verify: {}",
            if verified {
                "every value read back as written"
            } else {
                "FAILED"
            }
        );
    }
    Ok(verified)
}

/// The run of one test against one target, as configured.
fn plan_for(
    config: &Config,
    target: &Target,
    test: Arc<Test>,
    progress: Option<Arc<Progress>>,
) -> Plan {
    Plan {
        addr: target.addr.clone(),
        test,
        load: config.load.clone(),
        check_values: false,
        progress,
    }
}

/// Round `round`'s share of the run, so a comparison over three rounds costs what one run
/// would; requests are split exactly.
fn round_share(limit: Limit, rounds: usize, round: usize) -> Limit {
    let (rounds64, round64) = (rounds as u64, round as u64);
    match limit {
        Limit::Requests(n) => Limit::Requests(n / rounds64 + u64::from(round64 < n % rounds64)),
        Limit::Duration(d) => Limit::Duration(d / rounds as u32),
    }
}

/// A plan that touches every key once in order: preload and verification.
fn sweep(
    config: &Config,
    target: &Target,
    name: &str,
    line: &str,
    check_values: bool,
) -> anyhow::Result<Plan> {
    let template = Template::parse(line).map_err(anyhow::Error::msg)?;
    let mut plan = plan_for(config, target, Arc::new(Test::single(name, template)), None);
    plan.load.keys = KeyPattern::Sequential;
    plan.load.limit = Limit::Requests(config.load.keyspace);
    plan.load.warmup = Duration::ZERO;
    plan.load.rate = None;
    plan.load.pipeline = plan.load.pipeline.max(16);
    plan.check_values = check_values;
    Ok(plan)
}

/// Writes every key once so that reads hit (not reported).
fn preload(config: &Config, target: &Target) -> anyhow::Result<()> {
    if !config.quiet {
        eprintln!(
            "preloading {} keys on {}",
            config.load.keyspace, target.name
        );
    }
    let stats = run::run(&sweep(
        config,
        target,
        "preload",
        "SET key:__key__ __data__",
        false,
    )?)?;
    let errors = stats.total().errors;
    anyhow::ensure!(
        errors == 0,
        "preloading {} failed: {errors} error replies",
        target.name
    );
    Ok(())
}

/// Writes every key, then reads each back and checks its value: the SET and GET rows of the
/// `verify` test.
fn verify(config: &Config, target: &Target) -> anyhow::Result<Vec<Summary>> {
    let mut rows = Vec::new();
    for (line, check) in [
        ("SET key:__key__ __data__", false),
        ("GET key:__key__", true),
    ] {
        let plan = sweep(config, target, "verify", line, check)?;
        let stats = run::run(&plan).with_context(|| format!("verify {}", target.name))?;
        rows.extend(report::summarize(&target.name, &plan.test, &stats));
    }
    Ok(rows)
}

/// Makes `mylist` hold the 600 elements the LRANGE tests read, as redis-benchmark does.
fn fill_list(config: &Config, target: &Target) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut conn = Conn::connect(&target.addr, &config.load.handshake).await?;
        conn.expect_ok(&["DEL", "mylist"]).await?;
        let push = Template::parse("RPUSH mylist __data__").map_err(anyhow::Error::msg)?;
        let mut fill = Fill::new(
            Rng::new(config.load.seed),
            KeyGen::new(KeyPattern::Uniform, config.load.keyspace, 0),
            config.load.keyspace,
            config.load.values.clone(),
        );
        let mut out = Vec::new();
        for _ in 0..LRANGE_LIST_LEN {
            push.encode(&mut out, &mut fill);
        }
        conn.send(&out).await?;
        for _ in 0..LRANGE_LIST_LEN {
            if let scan::Reply::Error(_, text) = conn.next_reply().await? {
                anyhow::bail!(
                    "RPUSH answered: {}",
                    String::from_utf8_lossy(conn.bytes(text))
                );
            }
        }
        Ok(())
    })
}

fn write_outputs(
    config: &Config,
    rows: &[Summary],
    ratios: &[report::Ratio],
) -> anyhow::Result<()> {
    let machine_on_stdout = [&config.json, &config.csv, &config.markdown]
        .iter()
        .any(|d| **d == Some(Dest::Stdout));
    let mut human = report::table(rows);
    if !ratios.is_empty() {
        human.push('\n');
        human.push_str(&report::ratio_table(ratios));
    }
    // Keep stdout parseable when a machine format goes there.
    if machine_on_stdout {
        eprint!("{human}");
    } else {
        print!("{human}");
    }
    if let Some(dest) = &config.json {
        emit(dest, &report::json(&settings(config), rows, ratios))?;
    }
    if let Some(dest) = &config.csv {
        emit(dest, &report::csv(rows))?;
    }
    if let Some(dest) = &config.markdown {
        emit(
            dest,
            &report::markdown(&command_line(), &machine(), rows, ratios),
        )?;
    }
    if let Some(dir) = &config.hdr_out {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
        for row in rows {
            let path = dir.join(report::hgrm_name(row));
            std::fs::write(&path, report::hgrm(&row.latency_us))
                .with_context(|| format!("write {}", path.display()))?;
        }
    }
    Ok(())
}

fn emit(dest: &Dest, text: &str) -> anyhow::Result<()> {
    match dest {
        Dest::Stdout => {
            print!("{text}");
            Ok(())
        }
        Dest::File(path) => {
            std::fs::write(path, text).with_context(|| format!("write {}", path.display()))
        }
    }
}

/// The settings a reader needs to reproduce the numbers.
fn settings(config: &Config) -> serde_json::Value {
    let (requests, duration_secs) = match config.load.limit {
        Limit::Requests(n) => (Some(n), None),
        Limit::Duration(d) => (None, Some(d.as_secs_f64())),
    };
    serde_json::json!({
        "targets": config.targets.iter().map(|t| serde_json::json!({"name": t.name, "addr": t.addr})).collect::<Vec<_>>(),
        "profile": config.profile,
        "tests": config.tests.iter().map(|t| t.name.clone()).collect::<Vec<_>>(),
        "clients": config.load.clients,
        "threads": config.load.threads,
        "pipeline": config.load.pipeline,
        "requests": requests,
        "duration_secs": duration_secs,
        "warmup_secs": config.load.warmup.as_secs_f64(),
        "rate": config.load.rate,
        "key_pattern": config.load.keys.to_string(),
        "keyspace": config.load.keyspace,
        "data_size": [config.data_size.0, config.data_size.1],
        "seed": config.load.seed,
        "rounds": config.rounds,
        "resp3": config.load.handshake.resp3,
        "cluster": config.load.cluster,
    })
}

/// The command line as a reader would retype it: the program as `kiwi-bench` wherever it
/// was run from, arguments quoted for a POSIX shell.
fn command_line() -> String {
    let args = std::env::args().skip(1).map(|a| {
        if a.contains([' ', '"', '\'']) {
            format!("'{}'", a.replace('\'', "'\\''"))
        } else {
            a
        }
    });
    std::iter::once("kiwi-bench".to_string())
        .chain(args)
        .collect::<Vec<_>>()
        .join(" ")
}

/// CPU model and core count, for the Markdown report.
fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
            })
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    format!("{cores} cores, {model}, {}", std::env::consts::OS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_split_the_run_exactly() {
        let shares: Vec<Limit> = (0..3)
            .map(|r| round_share(Limit::Requests(1_000_000), 3, r))
            .collect();
        let total: u64 = shares
            .iter()
            .map(|l| if let Limit::Requests(n) = l { *n } else { 0 })
            .sum();
        assert_eq!(total, 1_000_000);
        assert_eq!(shares[0], Limit::Requests(333_334));
        assert_eq!(
            round_share(Limit::Duration(Duration::from_secs(30)), 3, 2),
            Limit::Duration(Duration::from_secs(10))
        );
    }
}
