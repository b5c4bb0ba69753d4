//! The view model of `kiwictl top`: everything on screen as ready-made text, numbers for bars
//! and a severity for colour. [`View::build`] derives it from the [`App`]; the renderer in
//! `ui.rs` only lays it out, so a snapshot of the screen depends on nothing but this value.

use std::time::Instant;

use crate::admin::status::{RaftStatus, Status};
use crate::ctl::format;

use super::app::{App, CommandSort, MemberSort, NodeState, Pane};

/// How alarming a value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Normal,
    Warn,
    Bad,
}

/// One row of the commands table, every cell formatted (rates per second, latencies with units).
#[derive(Debug, Clone, PartialEq)]
pub struct CommandRow {
    pub name: String,
    pub rate: String,
    pub failed: String,
    pub p50: String,
    pub p99: String,
    pub p999: String,
}

/// One row of the cluster table; `—` where the member has not said (down, or not the leader).
#[derive(Debug, Clone, PartialEq)]
pub struct MemberRow {
    pub id: String,
    pub addr: String,
    pub role: String,
    pub health: String,
    pub health_level: Level,
    pub term: String,
    pub committed: String,
    pub applied: String,
    pub lag: String,
    /// 0..=1, how full the lag bar is.
    pub lag_ratio: f64,
}

/// A labelled value of the runtimes or storage pane.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub label: &'static str,
    pub value: String,
    pub level: Level,
    /// A bar after the value (queue fill, busy workers), 0..=1.
    pub ratio: Option<f64>,
}

/// Everything on screen.
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    /// `kiwi 0.1.0 @ 127.0.0.1:7379`.
    pub title: String,
    /// Header facts, in display order.
    pub header: Vec<Field>,
    /// Memory use against the budget, 0..=1 (above 1 is clamped for the bar, not the text).
    pub memory_ratio: f64,
    /// A red line when the watched node (or a member) is down.
    pub alert: Option<String>,
    /// Ops/sec samples, oldest first.
    pub ops_history: Vec<u64>,
    /// `12.3k ops/s · reads 8.0k · writes 4.3k`.
    pub ops_line: String,
    /// `net in 1.2 MiB/s · out 3.4 MiB/s` (empty until rates are known).
    pub net_line: String,
    pub commands: Vec<CommandRow>,
    /// Name of the commands table's order, shown in its title.
    pub command_sort: &'static str,
    pub runtimes: Vec<Field>,
    pub storage: Vec<Field>,
    /// `None` in single-node mode.
    pub members: Option<Vec<MemberRow>>,
    pub member_sort: &'static str,
    pub focus: Pane,
    pub paused: bool,
    pub help: bool,
    /// Right side of the footer: refresh interval, nodes watched.
    pub status_line: String,
}

impl Field {
    fn new(label: &'static str, value: String) -> Field {
        Field {
            label,
            value,
            level: Level::Normal,
            ratio: None,
        }
    }

    fn level(mut self, level: Level) -> Field {
        self.level = level;
        self
    }

    fn bar(mut self, ratio: f64) -> Field {
        self.ratio = Some(ratio.clamp(0.0, 1.0));
        self
    }
}

/// `—` for a value not known yet.
const UNKNOWN: &str = "—";

impl View {
    /// The view of `app` at time `now` (ages such as "down for 12s" are relative to it).
    pub fn build(app: &App, now: Instant) -> View {
        let primary = &app.nodes[0];
        let status = primary.latest.as_ref().map(|(_, s)| s);
        let rates = primary.rates.as_ref();
        View {
            title: match status {
                Some(s) => format!("kiwi {} @ {}", s.server.version, s.server.resp_addr),
                None => format!("kiwi @ {}", primary.addr),
            },
            header: status.map(header).unwrap_or_default(),
            memory_ratio: status.map_or(0.0, |s| {
                ratio(s.memory.rss_bytes, s.memory.budget_bytes).min(1.0)
            }),
            alert: alert(app, now),
            ops_history: primary.history.iter().copied().collect(),
            ops_line: match rates {
                Some(r) => format!(
                    "{} ops/s · reads {} · writes {}",
                    format::rate(r.ops),
                    format::rate(r.reads),
                    format::rate(r.writes),
                ),
                None if status.is_some() => "measuring…".into(),
                None => "waiting for the first sample…".into(),
            },
            net_line: rates.map_or_else(String::new, |r| {
                format!(
                    "net in {}/s · out {}/s",
                    format::bytes(r.net_in as u64),
                    format::bytes(r.net_out as u64)
                )
            }),
            commands: status
                .map(|s| commands(s, primary, app.command_sort))
                .unwrap_or_default(),
            command_sort: match app.command_sort {
                CommandSort::Rate => "rate",
                CommandSort::P99 => "p99",
                CommandSort::Name => "name",
            },
            runtimes: status.map(runtimes).unwrap_or_default(),
            storage: status.map(storage).unwrap_or_default(),
            members: cluster_source(app).map(|raft| members(app, raft, now)),
            member_sort: match app.member_sort {
                MemberSort::Id => "id",
                MemberSort::Lag => "lag",
            },
            focus: app.focus,
            paused: app.paused,
            help: app.help,
            status_line: format!(
                "every {:.1}s · {} node{}{}",
                app.interval.as_secs_f64(),
                app.nodes.len(),
                if app.nodes.len() == 1 { "" } else { "s" },
                if app.paused { " · PAUSED" } else { "" }
            ),
        }
    }
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

fn header(s: &Status) -> Vec<Field> {
    let role = match &s.raft {
        Some(r) => format!(
            "{} · term {} · leader {}",
            r.role,
            r.term,
            r.leader_id
                .map_or_else(|| UNKNOWN.to_string(), |id| id.to_string())
        ),
        None => "single-node".into(),
    };
    let mem = ratio(s.memory.rss_bytes, s.memory.budget_bytes);
    vec![
        Field::new("role", role),
        Field::new("up", format::duration(s.server.uptime_secs)),
        Field::new("keys", format::count(s.keys.total)),
        Field::new(
            "clients",
            format!("{} ({} blocked)", s.clients.connected, s.clients.blocked),
        )
        .level(
            if s.clients.max > 0 && s.clients.connected * 10 >= s.clients.max * 9 {
                Level::Warn
            } else {
                Level::Normal
            },
        ),
        Field::new(
            "memory",
            format!(
                "{} / {}",
                format::bytes(s.memory.rss_bytes),
                format::bytes(s.memory.budget_bytes)
            ),
        )
        .level(if mem > 1.0 {
            Level::Warn
        } else {
            Level::Normal
        })
        .bar(mem),
    ]
}

/// The red line: the primary node down (with the age of what is still shown), else the first
/// member that is down.
fn alert(app: &App, now: Instant) -> Option<String> {
    let down_for = |n: &NodeState| {
        n.failing_since
            .map_or(0, |t| now.saturating_duration_since(t).as_secs())
    };
    let primary = &app.nodes[0];
    if let Some(err) = &primary.error {
        let age = match &primary.latest {
            Some((t, _)) => format!(
                "showing data from {} ago",
                format::duration(now.saturating_duration_since(*t).as_secs())
            ),
            None => "no data yet".into(),
        };
        return Some(format!(
            "{} DOWN for {}: {err} — retrying, {age}",
            primary.addr,
            format::duration(down_for(primary))
        ));
    }
    app.nodes
        .iter()
        .skip(1)
        .find(|n| n.error.is_some())
        .map(|n| {
            format!(
                "member {} DOWN for {}: {}",
                n.addr,
                format::duration(down_for(n)),
                n.error.as_deref().unwrap_or_default()
            )
        })
}

fn commands(s: &Status, node: &NodeState, sort: CommandSort) -> Vec<CommandRow> {
    let rate_of = |name: &str| {
        node.rates.as_ref().and_then(|r| {
            r.commands
                .iter()
                .find(|(n, _, _)| n == name)
                .map(|(_, calls, failed)| (*calls, *failed))
        })
    };
    let mut rows: Vec<_> = s.commands.iter().map(|c| (c, rate_of(&c.name))).collect();
    match sort {
        CommandSort::Rate => rows.sort_by(|a, b| {
            let key = |r: &Option<(f64, f64)>| r.map_or(0.0, |(calls, _)| calls);
            key(&b.1)
                .total_cmp(&key(&a.1))
                .then(b.0.calls.cmp(&a.0.calls))
                .then(a.0.name.cmp(&b.0.name))
        }),
        CommandSort::P99 => {
            rows.sort_by(|a, b| b.0.p99_us.cmp(&a.0.p99_us).then(a.0.name.cmp(&b.0.name)))
        }
        CommandSort::Name => rows.sort_by(|a, b| a.0.name.cmp(&b.0.name)),
    }
    rows.into_iter()
        .map(|(c, r)| CommandRow {
            name: c.name.clone(),
            rate: r.map_or_else(|| UNKNOWN.into(), |(calls, _)| format::rate(calls)),
            failed: r.map_or_else(|| UNKNOWN.into(), |(_, failed)| format::rate(failed)),
            p50: format::micros(c.p50_us),
            p99: format::micros(c.p99_us),
            p999: format::micros(c.p999_us),
        })
        .collect()
}

fn runtimes(s: &Status) -> Vec<Field> {
    let r = &s.runtimes;
    let queue = ratio(r.storage_queue_depth, r.storage_queue_capacity);
    let busy = ratio(r.storage_busy_workers, r.storage_threads);
    let breaker = match &r.breaker.reason {
        Some(reason) if r.breaker.state != "closed" => format!("{} ({reason})", r.breaker.state),
        _ => r.breaker.state.clone(),
    };
    vec![
        Field::new("network", format!("{} threads", r.network_threads)),
        Field::new(
            "storage",
            format!("{} busy / {}", r.storage_busy_workers, r.storage_threads),
        )
        .bar(busy),
        Field::new(
            "queue",
            format!("{} / {}", r.storage_queue_depth, r.storage_queue_capacity),
        )
        .level(if queue >= 0.9 {
            Level::Bad
        } else if queue >= 0.5 {
            Level::Warn
        } else {
            Level::Normal
        })
        .bar(queue),
        Field::new("breaker", breaker).level(if r.breaker.state == "closed" {
            Level::Normal
        } else {
            Level::Bad
        }),
        Field::new("trips", r.breaker.trips_total.to_string()),
    ]
}

fn storage(s: &Status) -> Vec<Field> {
    let st = &s.storage;
    vec![
        Field::new("memtables", format::bytes(st.memtable_bytes)),
        Field::new("block cache", format::bytes(st.block_cache_bytes)),
        Field::new("pending comp.", format::bytes(st.pending_compaction_bytes)),
        Field::new("write stalls", st.write_stalls_total.to_string()).level(
            if st.write_stalls_total > 0 {
                Level::Warn
            } else {
                Level::Normal
            },
        ),
        Field::new(
            "sst / wal",
            format!(
                "{} / {}",
                format::bytes(st.sst_bytes),
                format::bytes(st.wal_bytes)
            ),
        ),
        Field::new("disk used", format::bytes(st.disk_used_bytes)),
    ]
}

/// Whose member list to show: the leader's when it is watched and up (only it knows each
/// member's replication), else the primary's last known one.
fn cluster_source(app: &App) -> Option<&RaftStatus> {
    fn raft_of(n: &NodeState) -> Option<&RaftStatus> {
        n.latest.as_ref().and_then(|(_, s)| s.raft.as_ref())
    }
    app.nodes
        .iter()
        .filter(|n| n.is_up())
        .filter_map(raft_of)
        .find(|r| r.role == "leader")
        .or_else(|| raft_of(&app.nodes[0]))
}

/// Lag is shown on a log scale: a healthy follower is a few entries behind, a new one millions,
/// and both must be readable on the same bar. A full bar means a million entries or more.
fn lag_ratio(lag: u64) -> f64 {
    ((lag as f64 + 1.0).log10() / 6.0).clamp(0.0, 1.0)
}

fn members(app: &App, source: &RaftStatus, now: Instant) -> Vec<MemberRow> {
    let leader_last = source.last_log_index;
    let mut rows: Vec<(u64, u64, MemberRow)> = source
        .members
        .iter()
        .map(|m| {
            let watched = app
                .nodes
                .iter()
                .find(|n| n.raft_id() == Some(m.id) || n.addr == m.admin_addr);
            let own = watched
                .and_then(|n| n.latest.as_ref())
                .and_then(|(_, s)| s.raft.as_ref());
            let (health, level) = match watched {
                Some(n) if n.error.is_some() => (
                    format!(
                        "DOWN {}",
                        format::duration(
                            n.failing_since
                                .map_or(0, |t| now.saturating_duration_since(t).as_secs())
                        )
                    ),
                    Level::Bad,
                ),
                Some(n) if n.is_up() => {
                    let open = n
                        .latest
                        .as_ref()
                        .is_some_and(|(_, s)| s.runtimes.breaker.state != "closed");
                    if open {
                        ("breaker open".to_string(), Level::Bad)
                    } else {
                        ("up".to_string(), Level::Normal)
                    }
                }
                _ => ("?".to_string(), Level::Warn),
            };
            let lag = m.lag.or_else(|| {
                let applied = own.and_then(|r| r.applied)?;
                Some(leader_last?.saturating_sub(applied))
            });
            let role = match own {
                Some(r) if level != Level::Bad => r.role.clone(),
                _ if m.voter => "voter".into(),
                _ => "learner".into(),
            };
            let num = |v: Option<u64>| v.map_or_else(|| UNKNOWN.to_string(), |n| n.to_string());
            let row = MemberRow {
                id: m.id.to_string(),
                addr: m.resp_addr.clone(),
                role,
                health,
                health_level: level,
                term: num(own.map(|r| r.term)),
                committed: num(own.and_then(|r| r.committed)),
                applied: num(own.and_then(|r| r.applied)),
                lag: num(lag),
                lag_ratio: lag.map_or(0.0, lag_ratio),
            };
            (m.id, lag.unwrap_or(0), row)
        })
        .collect();
    match app.member_sort {
        MemberSort::Id => rows.sort_by_key(|(id, _, _)| *id),
        MemberSort::Lag => rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0))),
    }
    rows.into_iter().map(|(_, _, row)| row).collect()
}
