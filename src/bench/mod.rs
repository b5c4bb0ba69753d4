//! `kiwi-bench`: a closed-loop load generator for any RESP server.
//!
//! Each client keeps `pipeline` requests in flight, records every request's latency in an HDR
//! histogram, and the run reports throughput and latency percentiles per test. This is the
//! first cut; workload mixes, open-loop mode and multi-target comparisons build on it.

use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use hdrhistogram::Histogram;
use rand::{Rng, SeedableRng};

use crate::resp::client::Client;
use crate::resp::Frame;

/// One benchmark run's parameters.
#[derive(Debug, Clone)]
pub struct Options {
    pub addr: String,
    pub clients: usize,
    pub requests: u64,
    pub pipeline: usize,
    pub data_size: usize,
    pub keyspace: u64,
    pub seed: u64,
}

/// Results of one test.
#[derive(Debug)]
pub struct Report {
    pub test: String,
    pub requests: u64,
    pub errors: u64,
    pub elapsed: Duration,
    pub latency_us: Histogram<u64>,
}

impl Report {
    /// Requests per second.
    pub fn rps(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// The tests kiwi-bench knows, as command templates (`__key__`, `__data__` are filled in).
pub fn template(test: &str) -> Option<&'static [&'static str]> {
    Some(match test {
        "ping" => &["PING"],
        "set" => &["SET", "key:__key__", "__data__"],
        "get" => &["GET", "key:__key__"],
        "incr" => &["INCR", "counter:__key__"],
        "mset" => &[
            "MSET",
            "key:__key__",
            "__data__",
            "key:__key__",
            "__data__",
            "key:__key__",
            "__data__",
        ],
        _ => return None,
    })
}

fn fill(template: &[&str], rng: &mut impl Rng, keyspace: u64, data: &[u8]) -> Vec<Vec<u8>> {
    template
        .iter()
        .map(|part| match *part {
            "__data__" => data.to_vec(),
            p if p.contains("__key__") => {
                let key = format!("{:012}", rng.gen_range(0..keyspace.max(1)));
                p.replace("__key__", &key).into_bytes()
            }
            p => p.as_bytes().to_vec(),
        })
        .collect()
}

/// Runs one test with `options.clients` concurrent connections.
pub async fn run_test(test: &str, options: &Options) -> anyhow::Result<Report> {
    let Some(template) = template(test) else {
        bail!("unknown test '{test}' (known: ping, set, get, incr, mset)");
    };
    let per_client = options.requests / options.clients as u64;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..options.clients {
        let opts = options.clone();
        let seed = options.seed.wrapping_add(i as u64);
        tasks.push(tokio::spawn(async move {
            let mut client = Client::connect(&opts.addr).await?;
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let data = vec![b'x'; opts.data_size];
            let mut hist = Histogram::<u64>::new(3).context("create histogram")?;
            let mut errors = 0u64;
            let mut done = 0u64;
            while done < per_client {
                let batch = (per_client - done).min(opts.pipeline as u64);
                let sent = Instant::now();
                for _ in 0..batch {
                    client.queue(&fill(template, &mut rng, opts.keyspace, &data));
                }
                client.flush().await?;
                for _ in 0..batch {
                    if let Frame::Error(_) = client.read_reply().await? {
                        errors += 1;
                    }
                    hist.record(sent.elapsed().as_micros() as u64).ok();
                }
                done += batch;
            }
            anyhow::Ok((hist, errors, done))
        }));
    }
    let mut latency = Histogram::<u64>::new(3).context("create histogram")?;
    let (mut errors, mut requests) = (0, 0);
    for task in tasks {
        let (hist, e, n) = task.await.context("benchmark client task")??;
        latency.add(hist).context("merge histograms")?;
        errors += e;
        requests += n;
    }
    Ok(Report {
        test: test.to_string(),
        requests,
        errors,
        elapsed: start.elapsed(),
        latency_us: latency,
    })
}

/// The final table, one row per test.
pub fn format_table(reports: &[Report]) -> String {
    let mut out = format!(
        "{:<8} {:>12} {:>10} {:>10} {:>10} {:>10} {:>10} {:>8}\n",
        "test", "rps", "avg_us", "p50_us", "p99_us", "p99.9_us", "max_us", "errors"
    );
    for r in reports {
        let h = &r.latency_us;
        out.push_str(&format!(
            "{:<8} {:>12.0} {:>10.0} {:>10} {:>10} {:>10} {:>10} {:>8}\n",
            r.test,
            r.rps(),
            h.mean(),
            h.value_at_quantile(0.5),
            h.value_at_quantile(0.99),
            h.value_at_quantile(0.999),
            h.max(),
            r.errors
        ));
    }
    out
}
