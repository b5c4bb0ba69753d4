//! Turning counters into what people read: the terminal table, the ratio table of a
//! multi-target run, JSON, CSV, Markdown and HDR percentile distributions.

use std::fmt::Write as _;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::stats::{CommandStats, TestStats};
use super::workload::Test;

/// One line of results: one command of one test against one target.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub target: String,
    pub test: String,
    pub command: String,
    pub requests: u64,
    pub seconds: f64,
    pub ops_per_sec: f64,
    pub avg_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub errors: u64,
    pub moved: u64,
    pub ask: u64,
    pub busy: u64,
    pub other_errors: u64,
    pub mismatches: u64,
    #[serde(skip)]
    pub latency_us: Histogram<u64>,
}

impl Summary {
    fn new(target: &str, test: &str, command: &str, stats: &CommandStats, seconds: f64) -> Summary {
        let h = &stats.latency_us;
        let ms = |us: u64| us as f64 / 1000.0;
        let empty = h.is_empty();
        let quantile = |q: f64| {
            if empty {
                0.0
            } else {
                ms(h.value_at_quantile(q))
            }
        };
        Summary {
            target: target.to_string(),
            test: test.to_string(),
            command: command.to_string(),
            requests: stats.requests,
            seconds,
            ops_per_sec: if seconds > 0.0 {
                stats.requests as f64 / seconds
            } else {
                0.0
            },
            avg_ms: if empty { 0.0 } else { h.mean() / 1000.0 },
            p50_ms: quantile(0.5),
            p90_ms: quantile(0.9),
            p99_ms: quantile(0.99),
            p999_ms: quantile(0.999),
            max_ms: if empty { 0.0 } else { ms(h.max()) },
            errors: stats.errors,
            moved: stats.moved,
            ask: stats.ask,
            busy: stats.busy,
            other_errors: stats.other_errors,
            mismatches: stats.mismatches,
            latency_us: h.clone(),
        }
    }
}

/// The rows of one test's results: one per command, plus a total for a mix.
pub fn summarize(target: &str, test: &Test, stats: &TestStats) -> Vec<Summary> {
    let seconds = stats.elapsed.as_secs_f64();
    let mut rows: Vec<Summary> = test
        .templates
        .iter()
        .zip(&stats.commands)
        .map(|(t, s)| Summary::new(target, &test.name, &t.command, s, seconds))
        .collect();
    if rows.len() > 1 {
        rows.push(Summary::new(
            target,
            &test.name,
            "all",
            &stats.total(),
            seconds,
        ));
    }
    rows
}

/// One target's throughput and tail relative to the first target, for one row.
#[derive(Debug, Clone, Serialize)]
pub struct Ratio {
    pub test: String,
    pub command: String,
    pub target: String,
    pub ops_per_sec: f64,
    /// Throughput divided by the first target's.
    pub ratio: f64,
    pub p99_ms: f64,
}

/// Ratios of every target to the first, for the rows every target has.
pub fn ratios(rows: &[Summary], targets: &[String]) -> Vec<Ratio> {
    let Some(base_name) = targets.first() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for base in rows.iter().filter(|r| &r.target == base_name) {
        for target in targets {
            if let Some(row) = rows
                .iter()
                .find(|r| &r.target == target && r.test == base.test && r.command == base.command)
            {
                out.push(Ratio {
                    test: row.test.clone(),
                    command: row.command.clone(),
                    target: target.clone(),
                    ops_per_sec: row.ops_per_sec,
                    ratio: if base.ops_per_sec > 0.0 {
                        row.ops_per_sec / base.ops_per_sec
                    } else {
                        0.0
                    },
                    p99_ms: row.p99_ms,
                });
            }
        }
    }
    out
}

/// The human table. Name columns are as wide as their longest entry (custom commands are
/// named by their whole line), up to a limit.
pub fn table(rows: &[Summary]) -> String {
    let width = |header: &str, field: fn(&Summary) -> &str| {
        rows.iter()
            .map(|r| field(r).chars().count())
            .chain([header.len()])
            .max()
            .unwrap_or(0)
            .min(48)
    };
    let (wt, ws, wc) = (
        width("target", |r| &r.target),
        width("test", |r| &r.test),
        width("command", |r| &r.command),
    );
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<wt$} {:<ws$} {:<wc$} {:>10} {:>12} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>7} {:>6} {:>6} {:>6}",
        "target", "test", "command", "requests", "ops/s", "avg_ms", "p50_ms", "p90_ms", "p99_ms", "p99.9_ms", "max_ms",
        "errors", "moved", "busy", "other"
    );
    for r in rows {
        let _ = writeln!(
            out,
            "{:<wt$} {:<ws$} {:<wc$} {:>10} {:>12.0} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>7} {:>6} {:>6} {:>6}",
            clip(&r.target, wt), clip(&r.test, ws), clip(&r.command, wc), r.requests, r.ops_per_sec, r.avg_ms, r.p50_ms,
            r.p90_ms, r.p99_ms, r.p999_ms, r.max_ms, r.errors, r.moved + r.ask, r.busy, r.other_errors
        );
        if r.mismatches > 0 {
            let _ = writeln!(
                out,
                "  ^ {} values read back differ from what was written",
                r.mismatches
            );
        }
    }
    out
}

/// The ratio table of a multi-target run.
pub fn ratio_table(ratios: &[Ratio]) -> String {
    let mut out = String::new();
    let Some(base) = ratios.first() else {
        return out;
    };
    let _ = writeln!(out, "ratio to {} (throughput; p99 in ms)", base.target);
    let _ = writeln!(
        out,
        "{:<12} {:<8} {:<16} {:>12} {:>7} {:>8}",
        "test", "command", "target", "ops/s", "ratio", "p99_ms"
    );
    for r in ratios {
        let _ = writeln!(
            out,
            "{:<12} {:<8} {:<16} {:>12.0} {:>7.2} {:>8.3}",
            clip(&r.test, 12),
            clip(&r.command, 8),
            clip(&r.target, 16),
            r.ops_per_sec,
            r.ratio,
            r.p99_ms
        );
    }
    out
}

/// Machine-readable results.
pub fn json(settings: &serde_json::Value, rows: &[Summary], ratios: &[Ratio]) -> String {
    let doc = serde_json::json!({
        "tool": "kiwi-bench",
        "version": env!("CARGO_PKG_VERSION"),
        "settings": settings,
        "results": rows,
        "ratios": ratios,
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}

/// One CSV line per row, with a header.
pub fn csv(rows: &[Summary]) -> String {
    let mut out = String::from(
        "target,test,command,requests,seconds,ops_per_sec,avg_ms,p50_ms,p90_ms,p99_ms,p999_ms,max_ms,errors,moved,ask,busy,other_errors,mismatches\n",
    );
    for r in rows {
        let _ = writeln!(
            out,
            "{},{},{},{},{:.3},{:.1},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3},{},{},{},{},{},{}",
            csv_field(&r.target),
            csv_field(&r.test),
            csv_field(&r.command),
            r.requests,
            r.seconds,
            r.ops_per_sec,
            r.avg_ms,
            r.p50_ms,
            r.p90_ms,
            r.p99_ms,
            r.p999_ms,
            r.max_ms,
            r.errors,
            r.moved,
            r.ask,
            r.busy,
            r.other_errors,
            r.mismatches
        );
    }
    out
}

/// A Markdown report for docs: how it was run, on what, and the results.
pub fn markdown(command_line: &str, machine: &str, rows: &[Summary], ratios: &[Ratio]) -> String {
    let mut out = String::from("## kiwi-bench results\n\n");
    let _ = writeln!(out, "Machine: {machine}\n\n```sh\n{command_line}\n```\n");
    out.push_str("| target | test | command | ops/s | avg ms | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | errors |\n");
    out.push_str("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.0} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {} |",
            md_cell(&r.target),
            md_cell(&r.test),
            md_cell(&r.command),
            r.ops_per_sec,
            r.avg_ms,
            r.p50_ms,
            r.p90_ms,
            r.p99_ms,
            r.p999_ms,
            r.max_ms,
            r.errors
        );
    }
    if let Some(base) = ratios.first() {
        let _ = writeln!(out, "\nRatio to `{}`:\n", base.target);
        out.push_str(
            "| test | command | target | ops/s | ratio | p99 ms |\n|---|---|---|---:|---:|---:|\n",
        );
        for r in ratios {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.0} | {:.2} | {:.3} |",
                md_cell(&r.test),
                md_cell(&r.command),
                md_cell(&r.target),
                r.ops_per_sec,
                r.ratio,
                r.p99_ms
            );
        }
    }
    out
}

/// A histogram as a percentile distribution in the `.hgrm` text format that HdrHistogram's
/// plotters read (values in milliseconds).
pub fn hgrm(h: &Histogram<u64>) -> String {
    let mut out = format!(
        "{:>12} {:>14} {:>10} {:>14}\n\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    );
    for v in h.iter_quantiles(5) {
        let q = v.quantile_iterated_to();
        let inverse = if q < 1.0 {
            format!("{:>14.2}", 1.0 / (1.0 - q))
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "{:>12.3} {:>14.12} {:>10} {inverse}",
            v.value_iterated_to() as f64 / 1000.0,
            q,
            v.count_since_last_iteration()
        );
    }
    let _ = writeln!(
        out,
        "#[Mean    = {:>12.3}, StdDeviation   = {:>12.3}]\n#[Max     = {:>12.3}, Total count    = {:>12}]",
        h.mean() / 1000.0,
        h.stdev() / 1000.0,
        h.max() as f64 / 1000.0,
        h.len()
    );
    out
}

/// A file name for a row's `.hgrm`.
pub fn hgrm_name(r: &Summary) -> String {
    let clean = |s: &str| {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect::<String>()
    };
    format!(
        "{}-{}-{}.hgrm",
        clean(&r.target),
        clean(&r.test),
        clean(&r.command)
    )
}

fn clip(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_string()
    } else {
        s.chars().take(width - 1).chain(['~']).collect()
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::scan::ErrorKind;
    use crate::bench::workload::Template;
    use std::time::Duration;

    fn sample(target: &str, scale: u64) -> Vec<Summary> {
        let test = Test::mix("get:1,set:1").expect("mix");
        let mut stats = TestStats::new(2);
        for us in 1..=1000 {
            stats.commands[0].record(Duration::from_micros(us * scale), None);
        }
        stats.commands[1].record(Duration::from_micros(5), Some(ErrorKind::Busy));
        stats.elapsed = Duration::from_secs(2);
        summarize(target, &test, &stats)
    }

    #[test]
    fn summaries_and_table() {
        let rows = sample("kiwi", 1);
        assert_eq!(
            rows.iter().map(|r| r.command.as_str()).collect::<Vec<_>>(),
            ["get", "set", "all"]
        );
        assert_eq!(
            (
                rows[0].requests,
                rows[0].ops_per_sec,
                rows[0].p50_ms,
                rows[0].max_ms
            ),
            (1000, 500.0, 0.5, 1.0)
        );
        assert_eq!(
            (rows[1].errors, rows[1].busy, rows[2].requests),
            (1, 1, 1001)
        );
        let text = table(&rows);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4);
        assert!(lines[0].starts_with("target") && lines[0].contains("p99.9_ms"));
        assert!(
            lines[1].contains("kiwi") && lines[1].contains("500") && lines[1].contains("0.990"),
            "{}",
            lines[1]
        );
    }

    #[test]
    fn ratios_compare_to_the_first_target() {
        let mut rows = sample("redis", 1);
        rows.extend(sample("kiwi", 2));
        for r in rows.iter_mut().filter(|r| r.target == "kiwi") {
            r.ops_per_sec /= 2.0;
        }
        let ratios = ratios(&rows, &["redis".into(), "kiwi".into()]);
        let get_kiwi = ratios
            .iter()
            .find(|r| r.target == "kiwi" && r.command == "get")
            .expect("row");
        assert_eq!(get_kiwi.ratio, 0.5);
        assert!(ratio_table(&ratios).starts_with("ratio to redis"));
        let md = markdown("kiwi-bench -t get", "2 cores", &rows, &ratios);
        assert!(md.contains("| kiwi | mix | get |") && md.contains("Ratio to `redis`"));
    }

    #[test]
    fn machine_formats() {
        let rows = sample("a,b", 1);
        let text = csv(&rows);
        assert!(text
            .lines()
            .nth(1)
            .expect("row")
            .starts_with("\"a,b\",mix,get,1000,2.000,500.0,"));
        let doc: serde_json::Value =
            serde_json::from_str(&json(&serde_json::json!({}), &rows, &[])).expect("json");
        assert_eq!(doc["results"][0]["p99_ms"], 0.99);
        assert_eq!(doc["results"][1]["busy"], 1);
        let hgrm = hgrm(&rows[0].latency_us);
        assert!(hgrm.contains("Total count    =         1000"));
        assert_eq!(hgrm_name(&rows[0]), "a_b-mix-get.hgrm");
        let single = Test::single("set", Template::builtin("set").expect("set"));
        assert_eq!(summarize("x", &single, &TestStats::new(1)).len(), 1);
    }
}
