//! Command-line flags and named profiles, resolved into one [`Config`].
//!
//! Every load-shape flag is optional so that precedence is explicit: a flag the user typed
//! wins over the profile, which wins over the built-in default. A profile is then a complete,
//! reproducible recipe: `kiwi-bench --profile cache` means the same load everywhere.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use clap::Parser;

use super::conn::Handshake;
use super::keys::KeyPattern;
use super::run::{Limit, Load};
use super::workload::{unknown_test, Template, Test, ValueSpec};

/// `kiwi-bench` flags.
#[derive(Parser, Debug)]
#[command(
    version,
    about = "Benchmark any Redis-compatible server (kiwi, redis-server, ...)"
)]
pub struct Args {
    /// Server host (ignored when --target is given).
    #[arg(long, short = 'H', default_value = "127.0.0.1")]
    pub host: String,
    /// Server port.
    #[arg(long, short = 'p', default_value_t = 7379)]
    pub port: u16,
    /// A named target `name=host:port`; repeat to compare servers round by round.
    #[arg(long = "target", value_name = "NAME=HOST:PORT")]
    pub targets: Vec<String>,
    /// Password for AUTH.
    #[arg(long, short = 'a', env = "KIWI_BENCH_PASSWORD")]
    pub password: Option<String>,
    /// User name for AUTH (ACL).
    #[arg(long)]
    pub user: Option<String>,
    /// Speak RESP3 (HELLO 3) instead of RESP2.
    #[arg(long)]
    pub resp3: bool,
    /// Cluster mode: follow MOVED redirections to the node they name.
    #[arg(long)]
    pub cluster: bool,
    /// A named profile: quick, pipeline, cache, queue, durable-write, collections, latency.
    #[arg(long)]
    pub profile: Option<String>,
    /// Comma-separated built-in tests (ping, set, get, incr, lpush, ..., mset).
    #[arg(long, short = 't')]
    pub tests: Option<String>,
    /// A mixed workload of built-in tests with weights, e.g. `get:8,set:2`.
    #[arg(long, short = 'w')]
    pub workload: Option<String>,
    /// A custom command; placeholders __key__, __rand_int__, __data__. Repeatable.
    #[arg(long = "command", value_name = "COMMAND")]
    pub commands: Vec<String>,
    /// Measured requests per test (total over all connections).
    #[arg(long, short = 'n', conflicts_with = "duration")]
    pub requests: Option<u64>,
    /// Measure each test for this long (`10s`, `500ms`, `2m`).
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Load before measuring, excluded from results.
    #[arg(long, value_parser = parse_duration)]
    pub warmup: Option<Duration>,
    /// Concurrent connections.
    #[arg(long, short = 'c')]
    pub clients: Option<usize>,
    /// Worker threads (default: available cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Requests in flight per connection.
    #[arg(long, short = 'P')]
    pub pipeline: Option<usize>,
    /// Open loop: total requests per second, latency measured from each request's due time.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Value size in bytes, fixed (`100`) or a range (`64-1024`).
    #[arg(long, short = 'd')]
    pub data_size: Option<String>,
    /// Number of distinct keys.
    #[arg(long, short = 'r')]
    pub keyspace: Option<u64>,
    /// Key pattern: sequential, uniform, gaussian[:STDDEV], zipf[:EXPONENT].
    #[arg(long)]
    pub key_pattern: Option<String>,
    /// Expiry in seconds added to SET (`EX`).
    #[arg(long)]
    pub expire: Option<u64>,
    /// Seed for keys, values and mixes.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Write every key of the key space before the tests.
    #[arg(long)]
    pub preload: bool,
    /// After the tests, write every key then read each back and check its value.
    #[arg(long)]
    pub verify: bool,
    /// Rounds; with several targets each round runs every target in turn.
    #[arg(long)]
    pub rounds: Option<usize>,
    /// JSON results to FILE, or stdout without a value.
    #[arg(long, value_name = "FILE", num_args = 0..=1)]
    pub json: Option<Option<PathBuf>>,
    /// CSV results to FILE, or stdout without a value.
    #[arg(long, value_name = "FILE", num_args = 0..=1)]
    pub csv: Option<Option<PathBuf>>,
    /// A Markdown report to FILE, or stdout without a value.
    #[arg(long, value_name = "FILE", num_args = 0..=1)]
    pub markdown: Option<Option<PathBuf>>,
    /// Write each histogram's percentile distribution (.hgrm) into DIR.
    #[arg(long, value_name = "DIR")]
    pub hdr_out: Option<PathBuf>,
    /// No progress line.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// A named, documented load recipe. `None` fields fall back to the defaults.
#[derive(Debug, Clone, Copy)]
pub struct Profile {
    pub name: &'static str,
    pub about: &'static str,
    tests: Option<&'static str>,
    workload: Option<&'static str>,
    requests: Option<u64>,
    duration_secs: Option<u64>,
    warmup_secs: Option<u64>,
    clients: Option<usize>,
    pipeline: Option<usize>,
    rate: Option<f64>,
    data_size: Option<&'static str>,
    keyspace: Option<u64>,
    key_pattern: Option<&'static str>,
    preload: bool,
}

/// The profiles, documented in docs/kiwi-bench.md.
pub const PROFILES: &[Profile] = &[
    Profile {
        name: "quick",
        about: "sanity check: PING, SET, GET, INCR for 3 s each after 1 s of warm-up",
        tests: Some("ping,set,get,incr"),
        duration_secs: Some(3),
        warmup_secs: Some(1),
        ..Profile::EMPTY
    },
    Profile {
        name: "pipeline",
        about: "redis-benchmark's `-t set,get -n 1000000 -c 50 -P 16`",
        tests: Some("set,get"),
        requests: Some(1_000_000),
        clients: Some(50),
        pipeline: Some(16),
        ..Profile::EMPTY
    },
    Profile {
        name: "cache",
        about: "read-mostly cache: 90% GET, 10% SET, zipf 0.99 over 200k preloaded keys, 64-1024 B values, 30 s",
        workload: Some("get:9,set:1"),
        duration_secs: Some(30),
        warmup_secs: Some(5),
        data_size: Some("64-1024"),
        keyspace: Some(200_000),
        key_pattern: Some("zipf:0.99"),
        preload: true,
        ..Profile::EMPTY
    },
    Profile {
        name: "queue",
        about: "a work queue: LPUSH and RPOP on one list, 256 B items, 20 s",
        workload: Some("lpush:1,rpop:1"),
        duration_secs: Some(20),
        warmup_secs: Some(2),
        data_size: Some("256"),
        ..Profile::EMPTY
    },
    Profile {
        name: "durable-write",
        about: "write-heavy: SET of 1 KiB values over 1M uniform keys, pipeline 1, 30 s",
        tests: Some("set"),
        duration_secs: Some(30),
        warmup_secs: Some(5),
        data_size: Some("1024"),
        keyspace: Some(1_000_000),
        key_pattern: Some("uniform"),
        ..Profile::EMPTY
    },
    Profile {
        name: "collections",
        about: "redis-benchmark's collection tests at pipeline 16, 200k requests each",
        tests: Some("lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,zpopmin,lrange_100"),
        requests: Some(200_000),
        pipeline: Some(16),
        ..Profile::EMPTY
    },
    Profile {
        name: "latency",
        about: "open loop: GET at 20k requests/s over 100k preloaded keys for 30 s, latency from due time",
        tests: Some("get"),
        duration_secs: Some(30),
        warmup_secs: Some(2),
        rate: Some(20_000.0),
        keyspace: Some(100_000),
        preload: true,
        ..Profile::EMPTY
    },
];

impl Profile {
    const EMPTY: Profile = Profile {
        name: "",
        about: "",
        tests: None,
        workload: None,
        requests: None,
        duration_secs: None,
        warmup_secs: None,
        clients: None,
        pipeline: None,
        rate: None,
        data_size: None,
        keyspace: None,
        key_pattern: None,
        preload: false,
    };

    fn find(name: &str) -> anyhow::Result<Profile> {
        PROFILES
            .iter()
            .copied()
            .find(|p| p.name == name)
            .with_context(|| {
                let names: Vec<&str> = PROFILES.iter().map(|p| p.name).collect();
                format!("unknown profile '{name}' (known: {})", names.join(", "))
            })
    }
}

/// A server to benchmark.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub name: String,
    pub addr: String,
}

/// Where a machine-readable output goes.
#[derive(Debug, Clone, PartialEq)]
pub enum Dest {
    Stdout,
    File(PathBuf),
}

/// The fully resolved run.
#[derive(Clone)]
pub struct Config {
    pub targets: Vec<Target>,
    pub tests: Vec<Arc<Test>>,
    pub load: Load,
    pub data_size: (usize, usize),
    pub preload: bool,
    pub verify: bool,
    pub rounds: usize,
    pub json: Option<Dest>,
    pub csv: Option<Dest>,
    pub markdown: Option<Dest>,
    pub hdr_out: Option<PathBuf>,
    pub quiet: bool,
    pub profile: Option<&'static str>,
}

impl Config {
    /// Resolves flags over the profile over the defaults, and checks them.
    pub fn resolve(args: Args) -> anyhow::Result<Config> {
        let profile = match &args.profile {
            Some(name) => Profile::find(name)?,
            None => Profile::EMPTY,
        };
        let keyspace = args.keyspace.or(profile.keyspace).unwrap_or(100_000).max(1);
        let clients = args.clients.or(profile.clients).unwrap_or(50);
        let pipeline = args.pipeline.or(profile.pipeline).unwrap_or(1);
        if clients == 0 || pipeline == 0 {
            bail!("--clients and --pipeline must be at least 1");
        }
        let threads = args
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1);
        let limit = match (args.requests, args.duration) {
            (Some(n), _) => Limit::Requests(n),
            (None, Some(d)) => Limit::Duration(d),
            (None, None) => match (profile.requests, profile.duration_secs) {
                (Some(n), _) => Limit::Requests(n),
                (None, Some(s)) => Limit::Duration(Duration::from_secs(s)),
                (None, None) => Limit::Requests(100_000),
            },
        };
        let rate = args.rate.or(profile.rate);
        if rate.is_some_and(|r| !(r.is_finite() && r > 0.0)) {
            bail!("--rate must be a positive number of requests per second");
        }
        let data_size = parse_size_range(
            args.data_size
                .as_deref()
                .or(profile.data_size)
                .unwrap_or("3"),
        )?;
        let keys: KeyPattern = args
            .key_pattern
            .as_deref()
            .or(profile.key_pattern)
            .unwrap_or("uniform")
            .parse()
            .map_err(anyhow::Error::msg)?;
        let seed = args.seed.unwrap_or(1);
        let tests = build_tests(&args, &profile)?;
        let targets = if args.targets.is_empty() {
            let addr = format!("{}:{}", args.host, args.port);
            vec![Target {
                name: addr.clone(),
                addr,
            }]
        } else {
            args.targets
                .iter()
                .map(|t| parse_target(t))
                .collect::<anyhow::Result<_>>()?
        };
        let rounds = args
            .rounds
            .unwrap_or(if targets.len() > 1 { 3 } else { 1 })
            .max(1);
        Ok(Config {
            targets,
            tests,
            load: Load {
                handshake: Handshake {
                    user: args.user,
                    password: args.password,
                    resp3: args.resp3,
                },
                cluster: args.cluster,
                threads,
                clients,
                pipeline,
                limit,
                warmup: args
                    .warmup
                    .or(profile.warmup_secs.map(Duration::from_secs))
                    .unwrap_or_default(),
                rate,
                keys,
                keyspace,
                values: Arc::new(ValueSpec::new(data_size.0, data_size.1, seed)),
                seed,
            },
            data_size,
            preload: args.preload || profile.preload,
            verify: args.verify,
            rounds,
            json: args.json.map(dest),
            csv: args.csv.map(dest),
            markdown: args.markdown.map(dest),
            hdr_out: args.hdr_out,
            quiet: args.quiet,
            profile: args.profile.is_some().then_some(profile.name),
        })
    }
}

fn build_tests(args: &Args, profile: &Profile) -> anyhow::Result<Vec<Arc<Test>>> {
    let expire = |t: Template| match args.expire {
        Some(secs) => t.with_expiry(secs),
        None => t,
    };
    let mut tests = Vec::new();
    let explicit = args.tests.is_some() || args.workload.is_some() || !args.commands.is_empty();
    let (names, workload) = if explicit {
        (args.tests.as_deref(), args.workload.as_deref())
    } else {
        // `--verify` alone only verifies; otherwise SET and GET, as redis-benchmark's classics.
        let fallback = (profile.workload.is_none() && !args.verify).then_some("set,get");
        (profile.tests.or(fallback), profile.workload)
    };
    for name in names
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        let template =
            Template::builtin(name).ok_or_else(|| anyhow::anyhow!(unknown_test(name)))?;
        tests.push(Arc::new(Test::single(
            &name.to_ascii_lowercase(),
            expire(template),
        )));
    }
    if let Some(spec) = workload {
        let mut mix = Test::mix(spec).map_err(anyhow::Error::msg)?;
        mix.templates = mix.templates.into_iter().map(expire).collect();
        tests.push(Arc::new(mix));
    }
    for line in &args.commands {
        let template = Template::parse(line).map_err(anyhow::Error::msg)?;
        tests.push(Arc::new(Test::single(line, expire(template))));
    }
    if tests.is_empty() && !args.verify {
        bail!("nothing to run: give --tests, --workload, --command, --profile or --verify");
    }
    Ok(tests)
}

fn dest(path: Option<PathBuf>) -> Dest {
    match path {
        Some(p) if p.as_os_str() != "-" => Dest::File(p),
        _ => Dest::Stdout,
    }
}

/// `name=host:port`, or a bare `host:port` named after itself.
fn parse_target(text: &str) -> anyhow::Result<Target> {
    let (name, addr) = text.split_once('=').unwrap_or((text, text));
    if name.is_empty() || !addr.contains(':') {
        bail!("--target '{text}' is not NAME=HOST:PORT");
    }
    Ok(Target {
        name: name.to_string(),
        addr: addr.to_string(),
    })
}

/// `100` or `64-1024` (bytes).
fn parse_size_range(text: &str) -> anyhow::Result<(usize, usize)> {
    let number = |s: &str| {
        s.trim()
            .parse::<usize>()
            .with_context(|| format!("data size '{text}' is not N or MIN-MAX bytes"))
    };
    let (min, max) = match text.split_once('-') {
        Some((a, b)) => (number(a)?, number(b)?),
        None => (number(text)?, number(text)?),
    };
    if min > max || max > 512 * 1024 * 1024 {
        bail!("data size '{text}' must be MIN <= MAX <= 512MB");
    }
    Ok((min, max))
}

/// `10`, `10s`, `250ms`, `2m`, `1.5s`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = match text.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("'{text}' is not a duration like 10s or 500ms"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("'{text}': unit must be ms, s, m or h")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("'{text}' is not a valid duration"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(flags: &[&str]) -> anyhow::Result<Config> {
        let mut argv = vec!["kiwi-bench"];
        argv.extend_from_slice(flags);
        Config::resolve(Args::try_parse_from(argv)?)
    }

    #[test]
    fn flags_beat_profiles_beat_defaults() {
        let c = resolve(&[]).expect("defaults");
        assert_eq!(
            (c.load.clients, c.load.pipeline, c.load.limit),
            (50, 1, Limit::Requests(100_000))
        );
        assert_eq!(
            c.tests.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
            ["set", "get"]
        );
        let c = resolve(&["--profile", "cache"]).expect("cache");
        assert_eq!(c.load.keys, KeyPattern::Zipf { exponent: 0.99 });
        assert_eq!(
            (c.data_size, c.preload, c.load.limit),
            ((64, 1024), true, Limit::Duration(Duration::from_secs(30)))
        );
        assert_eq!(c.tests.len(), 1);
        assert_eq!(c.tests[0].templates.len(), 2);
        let c = resolve(&[
            "--profile",
            "cache",
            "-n",
            "10",
            "-t",
            "ping",
            "--key-pattern",
            "seq",
        ])
        .expect("override");
        assert_eq!(
            (c.load.limit, c.load.keys),
            (Limit::Requests(10), KeyPattern::Sequential)
        );
        assert_eq!(c.tests[0].name, "ping");
        assert!(resolve(&["--profile", "nope"]).is_err());
        assert!(resolve(&["--verify"])
            .expect("verify only")
            .tests
            .is_empty());
    }

    #[test]
    fn every_profile_resolves() {
        for p in PROFILES {
            let c = resolve(&["--profile", p.name]).unwrap_or_else(|e| panic!("{}: {e}", p.name));
            assert!(!c.tests.is_empty(), "{}", p.name);
        }
    }

    #[test]
    fn targets_sizes_durations_outputs() {
        let c = resolve(&[
            "--target",
            "kiwi=127.0.0.1:1",
            "--target",
            "redis=127.0.0.1:2",
            "-d",
            "10-20",
            "--json",
        ])
        .expect("targets");
        assert_eq!(
            c.targets[1],
            Target {
                name: "redis".into(),
                addr: "127.0.0.1:2".into()
            }
        );
        assert_eq!(
            (c.rounds, c.data_size, c.json),
            (3, (10, 20), Some(Dest::Stdout))
        );
        assert!(resolve(&["--target", "kiwi"]).is_err());
        assert!(resolve(&["-d", "20-10"]).is_err());
        assert!(resolve(&["-t", "bogus"]).is_err());
        assert!(resolve(&["--rate", "0"]).is_err());
        assert!(resolve(&["-n", "5", "--duration", "1s"]).is_err());
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("3 parsecs").is_err());
    }

    #[test]
    fn custom_commands_and_expiry() {
        let c = resolve(&[
            "--command",
            "HSET h:__key__ f __data__",
            "-t",
            "set",
            "--expire",
            "9",
        ])
        .expect("cmd");
        assert_eq!(c.tests.len(), 2);
        assert_eq!(c.tests[1].templates[0].command, "hset");
        assert_eq!(
            c.tests[0].templates[0],
            Template::builtin("set").expect("set").with_expiry(9)
        );
    }
}
