//! The state behind `kiwictl top`: the watched nodes, their last samples, rates between
//! consecutive samples, and what the operator selected (pane, sort, pause, help).
//!
//! Nothing here touches the network or the terminal: the run loop feeds samples in with their
//! arrival time, so rate computation and every state change are testable with made-up samples.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::admin::status::Status;

use super::input::Action;

/// Samples of ops/sec kept per node for the sparkline: enough for the widest terminals.
pub const HISTORY: usize = 300;

/// Per-second rates between two samples of the same process.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rates {
    /// Commands per second, all kinds.
    pub ops: f64,
    pub reads: f64,
    pub writes: f64,
    /// Network bytes per second, from and to clients.
    pub net_in: f64,
    pub net_out: f64,
    /// Per command: (name, calls/s, failed calls/s).
    pub commands: Vec<(String, f64, f64)>,
}

/// Rates from two samples `dt` apart. `None` when they cannot be compared: no time passed, or the
/// node restarted in between (another run id, or counters went backwards), where a difference
/// would be a meaningless negative or a spike.
pub fn rates(prev: &Status, cur: &Status, dt: Duration) -> Option<Rates> {
    let secs = dt.as_secs_f64();
    let (p, c) = (&prev.throughput, &cur.throughput);
    if secs <= 0.0 || prev.server.node != cur.server.node || c.commands_total < p.commands_total {
        return None;
    }
    let per_sec = |now: u64, before: u64| now.saturating_sub(before) as f64 / secs;
    let before: HashMap<&str, (u64, u64)> = prev
        .commands
        .iter()
        .map(|cmd| (cmd.name.as_str(), (cmd.calls, cmd.failed)))
        .collect();
    let commands = cur
        .commands
        .iter()
        .map(|cmd| {
            let (calls, failed) = before.get(cmd.name.as_str()).copied().unwrap_or((0, 0));
            (
                cmd.name.clone(),
                per_sec(cmd.calls, calls),
                per_sec(cmd.failed, failed),
            )
        })
        .collect();
    Some(Rates {
        ops: per_sec(c.commands_total, p.commands_total),
        reads: per_sec(c.reads_total, p.reads_total),
        writes: per_sec(c.writes_total, p.writes_total),
        net_in: per_sec(c.net_input_bytes_total, p.net_input_bytes_total),
        net_out: per_sec(c.net_output_bytes_total, p.net_output_bytes_total),
        commands,
    })
}

/// One watched node.
#[derive(Debug, Clone)]
pub struct NodeState {
    /// Admin address it is polled at.
    pub addr: String,
    /// The last good sample and when it arrived.
    pub latest: Option<(Instant, Status)>,
    /// Rates between the last two good samples.
    pub rates: Option<Rates>,
    /// Ops/sec per sample, oldest first.
    pub history: VecDeque<u64>,
    /// Why the last poll failed; `None` while the node answers.
    pub error: Option<String>,
    /// When polls started failing (for "down for 12s").
    pub failing_since: Option<Instant>,
    /// A poll is outstanding: a hung node must not pile up requests.
    pub in_flight: bool,
}

impl NodeState {
    fn new(addr: String) -> NodeState {
        NodeState {
            addr,
            latest: None,
            rates: None,
            history: VecDeque::with_capacity(HISTORY),
            error: None,
            failing_since: None,
            in_flight: false,
        }
    }

    /// The node's Raft id, once a sample said it.
    pub fn raft_id(&self) -> Option<u64> {
        self.latest.as_ref()?.1.raft.as_ref().map(|r| r.node_id)
    }

    /// Is the node answering?
    pub fn is_up(&self) -> bool {
        self.error.is_none() && self.latest.is_some()
    }
}

/// The panes `tab` moves between; on a small terminal only the focused one is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Commands,
    Resources,
    Cluster,
}

impl Pane {
    fn next(self) -> Pane {
        match self {
            Pane::Commands => Pane::Resources,
            Pane::Resources => Pane::Cluster,
            Pane::Cluster => Pane::Commands,
        }
    }
}

/// Order of the commands table (`s` on the commands pane).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandSort {
    Rate,
    P99,
    Name,
}

/// Order of the cluster table (`s` on the cluster pane).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberSort {
    Id,
    Lag,
}

/// Everything `top` shows, before formatting.
#[derive(Debug, Clone)]
pub struct App {
    /// Watched nodes; the first is the one named on the command line.
    pub nodes: Vec<NodeState>,
    /// Watch the other members of the first node's cluster too.
    pub follow_cluster: bool,
    pub interval: Duration,
    pub focus: Pane,
    pub command_sort: CommandSort,
    pub member_sort: MemberSort,
    /// Samples are not applied while paused, so the screen holds still for reading.
    pub paused: bool,
    pub help: bool,
}

impl App {
    /// Watches the node at `addr` (its admin address).
    pub fn new(addr: &str, follow_cluster: bool, interval: Duration) -> App {
        App {
            nodes: vec![NodeState::new(addr.to_string())],
            follow_cluster,
            interval,
            focus: Pane::Commands,
            command_sort: CommandSort::Rate,
            member_sort: MemberSort::Id,
            paused: false,
            help: false,
        }
    }

    /// Addresses to poll now; marks them in flight until [`App::record`] hears back.
    pub fn due(&mut self) -> Vec<String> {
        self.nodes
            .iter_mut()
            .filter(|n| !n.in_flight)
            .map(|n| {
                n.in_flight = true;
                n.addr.clone()
            })
            .collect()
    }

    /// Takes the outcome of polling `addr`, which arrived at `at`.
    pub fn record(&mut self, addr: &str, at: Instant, result: Result<Status, String>) {
        let Some(idx) = self.nodes.iter().position(|n| n.addr == addr) else {
            return;
        };
        self.nodes[idx].in_flight = false;
        if self.paused {
            return;
        }
        match result {
            Ok(status) => {
                if self.follow_cluster {
                    self.discover(&status);
                }
                let node = &mut self.nodes[idx];
                node.rates = node
                    .latest
                    .as_ref()
                    .and_then(|(t, prev)| rates(prev, &status, at.saturating_duration_since(*t)));
                if let Some(r) = &node.rates {
                    if node.history.len() == HISTORY {
                        node.history.pop_front();
                    }
                    node.history.push_back(r.ops.round() as u64);
                }
                node.latest = Some((at, status));
                node.error = None;
                node.failing_since = None;
            }
            Err(reason) => {
                let node = &mut self.nodes[idx];
                node.error = Some(reason);
                node.failing_since.get_or_insert(at);
            }
        }
    }

    /// Follows the membership a status names: starts watching members not watched yet (matched by
    /// Raft id or address, so one node reached under two names is watched once) and, when the
    /// status is the leader's, stops watching removed ones (never the node named on the
    /// command line).
    fn discover(&mut self, status: &Status) {
        let Some(raft) = &status.raft else { return };
        let is_member = |n: &NodeState| {
            raft.members
                .iter()
                .any(|m| n.addr == m.admin_addr || n.raft_id() == Some(m.id))
        };
        if raft.role == "leader" {
            let primary = self.nodes[0].addr.clone();
            self.nodes.retain(|n| n.addr == primary || is_member(n));
        }
        for m in &raft.members {
            let known = m.id == raft.node_id
                || self
                    .nodes
                    .iter()
                    .any(|n| n.addr == m.admin_addr || n.raft_id() == Some(m.id));
            if !known {
                self.nodes.push(NodeState::new(m.admin_addr.clone()));
            }
        }
    }

    /// Applies a key action; returns false when `top` should exit.
    pub fn apply(&mut self, action: Action) -> bool {
        match action {
            Action::Quit => return false,
            Action::Help => self.help = !self.help,
            Action::NextPane => self.focus = self.focus.next(),
            Action::Sort => match self.focus {
                // Runtimes and storage are fixed lists, not tables.
                Pane::Resources => {}
                Pane::Commands => {
                    self.command_sort = match self.command_sort {
                        CommandSort::Rate => CommandSort::P99,
                        CommandSort::P99 => CommandSort::Name,
                        CommandSort::Name => CommandSort::Rate,
                    }
                }
                Pane::Cluster => {
                    self.member_sort = match self.member_sort {
                        MemberSort::Id => MemberSort::Lag,
                        MemberSort::Lag => MemberSort::Id,
                    }
                }
            },
            Action::Pause => self.paused = !self.paused,
            Action::CloseHelp => self.help = false,
        }
        true
    }
}
