//! LATENCY LATEST/HISTORY/RESET/GRAPH/DOCTOR/HELP over the shared latency monitor, with Redis's
//! reply shapes; GRAPH draws Redis's four-row ASCII chart and DOCTOR writes Redis's summary
//! lines followed by advice about Kiwi.

use bytes::Bytes;

use super::server::help_lines;
use super::{is_opt, Ctx};
use crate::error::{CmdResult, ReplyError};
use crate::resp::Frame;
use crate::state::latency::Event;
use crate::util::now_ms;

pub fn latency(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let monitor = &ctx.state.latency;
    let sub = &args[1];
    if is_opt(sub, "latest") {
        Ok(Frame::Array(
            monitor
                .events()
                .iter()
                .map(|event| {
                    let latest = event.latest();
                    Frame::Array(vec![
                        Frame::text(event.name),
                        Frame::Integer(latest.unix_secs as i64),
                        Frame::Integer(latest.millis as i64),
                        Frame::Integer(event.max as i64),
                    ])
                })
                .collect(),
        ))
    } else if is_opt(sub, "history") {
        let samples = monitor.event(&args[2]).map(|e| e.samples);
        Ok(Frame::Array(
            samples
                .unwrap_or_default()
                .iter()
                .map(|s| {
                    Frame::Array(vec![
                        Frame::Integer(s.unix_secs as i64),
                        Frame::Integer(s.millis as i64),
                    ])
                })
                .collect(),
        ))
    } else if is_opt(sub, "reset") {
        let names: Vec<&[u8]> = args[2..].iter().map(|a| &a[..]).collect();
        Ok(Frame::Integer(monitor.reset(&names) as i64))
    } else if is_opt(sub, "graph") {
        let event = monitor.event(&args[2]).ok_or_else(|| {
            ReplyError::custom(format!(
                "ERR No samples available for event '{}'",
                String::from_utf8_lossy(&args[2])
            ))
        })?;
        Ok(Frame::Verbatim(Bytes::from(graph(&event, now_ms() / 1000))))
    } else if is_opt(sub, "doctor") {
        let slowlog_threshold = ctx.state.config().slowlog_log_slower_than;
        let report = doctor(
            &monitor.events(),
            monitor.threshold(),
            slowlog_threshold,
            now_ms() / 1000,
        );
        Ok(Frame::Verbatim(Bytes::from(report)))
    } else if is_opt(sub, "help") {
        Ok(help_lines(&[
            "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "GRAPH <event>",
            "    Return an ASCII latency graph for the <event> class.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HELP",
            "    Prints this help.",
        ]))
    } else {
        Err(ReplyError::subcommand_syntax(sub, "latency"))
    }
}

/// Columns of the chart before it wraps, and its height in text rows.
const GRAPH_COLUMNS: usize = 80;
const GRAPH_ROWS: usize = 4;
/// Levels within one text row, lowest first, and what fills the rows below a sample's top.
const LEVELS: [char; 3] = ['_', 'o', '#'];
const BELOW: char = '|';

/// LATENCY GRAPH: a title, a rule, and each sample as a column whose height is its latency
/// between the lowest and highest sample, labelled with how long ago it was taken.
fn graph(event: &Event, now: u64) -> String {
    let values: Vec<u64> = event.samples.iter().map(|s| s.millis).collect();
    let low = values.iter().copied().min().unwrap_or(0);
    let high = values.iter().copied().max().unwrap_or(0);
    let mut out = format!(
        "{} - high {high} ms, low {low} ms (all time high {} ms)\n{}\n",
        event.name,
        event.max,
        "-".repeat(GRAPH_COLUMNS)
    );
    let labels: Vec<String> = event
        .samples
        .iter()
        .map(|s| age_label(now.saturating_sub(s.unix_secs)))
        .collect();
    let span = match high - low {
        0 => 1.0,
        span => span as f64,
    };
    let steps = LEVELS.len() * GRAPH_ROWS;
    let heights: Vec<usize> = values
        .iter()
        .map(|&v| {
            // Truncations in this order reproduce Redis's chart exactly.
            let scaled = ((v - low) as f64 * steps as f64).trunc() / span;
            (scaled as usize).min(steps - 1)
        })
        .collect();
    for (chunk, start) in (0..values.len()).step_by(GRAPH_COLUMNS).enumerate() {
        if chunk > 0 {
            out.push('\n');
        }
        let end = (start + GRAPH_COLUMNS).min(values.len());
        for row in 0..GRAPH_ROWS {
            let floor = (GRAPH_ROWS - row - 1) * LEVELS.len();
            for &height in &heights[start..end] {
                out.push(match height.checked_sub(floor) {
                    Some(level) if level < LEVELS.len() => LEVELS[level],
                    Some(_) => BELOW,
                    None => ' ',
                });
            }
            out.push('\n');
        }
        // A blank line, then the labels written downwards, one character per line.
        out.push_str(&" ".repeat(end - start));
        out.push('\n');
        let tallest = labels[start..end]
            .iter()
            .map(String::len)
            .max()
            .unwrap_or(0);
        for line in 0..tallest {
            for label in &labels[start..end] {
                out.push(label.as_bytes().get(line).map_or(' ', |&c| c as char));
            }
            out.push('\n');
        }
    }
    out
}

/// `12s`, `5m`, `3h` or `2d` ago.
fn age_label(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        3600..86400 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86400),
    }
}

/// LATENCY DOCTOR: Redis's replies when nothing was recorded, otherwise one line of statistics
/// per event (Redis's format) and advice on what usually causes such events in Kiwi.
fn doctor(events: &[Event], threshold: u64, slowlog_threshold: i64, now: u64) -> String {
    if events.is_empty() {
        return if threshold == 0 {
            "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n"
        } else {
            "Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n"
        }
        .to_string();
    }
    let mut out = String::from("Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n");
    let mut advice: Vec<String> = Vec::new();
    for (number, event) in events.iter().enumerate() {
        let stats = Summary::of(event, now);
        out.push_str(&format!(
            "{}. {}: {} latency spikes (average {}ms, mean deviation {}ms, period {:.2} sec). Worst all time event {}ms.\n",
            number + 1,
            event.name,
            stats.samples,
            stats.average,
            stats.deviation,
            stats.period as f64 / stats.samples as f64,
            event.max
        ));
        advice.extend(advice_for(event.name, threshold, slowlog_threshold));
    }
    if advice.is_empty() {
        out.push_str("\nKiwi has no specific advice for these events.\n");
    } else {
        out.push_str("\nWhat to look at:\n\n");
        for line in advice {
            out.push_str("- ");
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

/// The numbers DOCTOR reports for one event, with Redis's integer arithmetic.
struct Summary {
    samples: u64,
    average: u64,
    /// Mean absolute deviation from the average.
    deviation: u64,
    /// Seconds from the oldest sample to now, at least 1.
    period: u64,
}

impl Summary {
    fn of(event: &Event, now: u64) -> Summary {
        let samples = event.samples.len().max(1) as u64;
        let average = event.samples.iter().map(|s| s.millis).sum::<u64>() / samples;
        let deviation = event
            .samples
            .iter()
            .map(|s| s.millis.abs_diff(average))
            .sum::<u64>()
            / samples;
        let oldest = event.samples.front().map_or(now, |s| s.unix_secs);
        Summary {
            samples,
            average,
            deviation,
            period: now.saturating_sub(oldest).max(1),
        }
    }
}

fn advice_for(event: &str, threshold: u64, slowlog_threshold: i64) -> Vec<String> {
    let wanted_slowlog = threshold.saturating_mul(1000);
    match event {
        "command" => {
            let mut advice = Vec::new();
            if slowlog_threshold < 0 {
                advice.push(format!("The slow log is off, so the slow commands were not kept. 'CONFIG SET slowlog-log-slower-than {wanted_slowlog}' logs every command this monitor samples."));
            } else if slowlog_threshold as u64 / 1000 > threshold {
                advice.push(format!("The slow log keeps only commands slower than this monitor's threshold. 'CONFIG SET slowlog-log-slower-than {wanted_slowlog}' logs every command it samples."));
            }
            advice.push("SLOWLOG GET shows which commands were slow, with their arguments and clients.".into());
            advice.push("Commands that read, sort or delete a whole big collection take time in proportion to its size; page through it with HSCAN, SSCAN, ZSCAN or LRANGE windows, or split big keys.".into());
            advice
        }
        "fast-command" => vec!["Commands that normally take constant time were slow: the storage threads were probably waiting on RocksDB (write stalls, compaction backlog, a slow disk) or the machine was short of CPU. INFO runtime and INFO persistence show queue depth, stalls and pending compaction.".into()],
        "expire-cycle" => vec!["An active expiry sweep was slow: many keys, or big collections, expired at the same time. Spreading their expiry times spreads the work.".into()],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::latency::Sample;

    fn event(samples: &[(u64, u64)]) -> Event {
        Event {
            name: "command",
            samples: samples
                .iter()
                .map(|&(unix_secs, millis)| Sample { unix_secs, millis })
                .collect(),
            max: samples.iter().map(|s| s.1).max().unwrap_or(0),
        }
    }

    #[test]
    fn graph_matches_redis_layout() {
        let text = graph(&event(&[(97, 150), (99, 250), (100, 120)]), 100);
        let expected = "command - high 250 ms, low 120 ms (all time high 250 ms)\n".to_string()
            + &"-".repeat(80)
            + "\n # \n | \n | \n#|_\n   \n310\nsss\n";
        assert_eq!(text, expected);
    }

    #[test]
    fn doctor_summarises_each_event() {
        let report = doctor(
            &[event(&[(97, 150), (99, 250), (100, 120)])],
            100,
            10000,
            100,
        );
        assert!(report.contains("1. command: 3 latency spikes (average 173ms, mean deviation 51ms, period 1.00 sec). Worst all time event 250ms.\n"), "{report}");
        assert!(report.contains("SLOWLOG GET"));
        assert!(doctor(&[], 0, 0, 0).starts_with("I'm sorry, Dave"));
        assert!(doctor(&[], 5, 0, 0).starts_with("Dave, no latency spike"));
    }

    #[test]
    fn ages_use_the_largest_unit() {
        let labels: Vec<String> = [0, 59, 60, 3599, 3600, 86400]
            .into_iter()
            .map(age_label)
            .collect();
        assert_eq!(labels, ["0s", "59s", "1m", "59m", "1h", "1d"]);
    }
}
