//! Rates from made-up samples, and snapshots of the rendered screen (normal, a member down,
//! tiny terminal, help, compact) through ratatui's `TestBackend`.

use std::time::{Duration, Instant};

use ratatui::backend::TestBackend;
use ratatui::Terminal;

use super::app::{rates, App, Pane};
use super::input::Action;
use super::ui;
use super::view::View;
use crate::ctl::fixtures::{status, MEMBERS};

fn render(view: &View, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
    terminal.draw(|f| ui::draw(f, view)).expect("draw");
    terminal.backend().to_string()
}

/// A single node sampled twice, one second apart.
fn single_node_app(base: Instant) -> App {
    let mut app = App::new("127.0.0.1:8001", true, Duration::from_secs(1));
    for t in 1..=2 {
        app.due();
        app.record(
            "127.0.0.1:8001",
            base + Duration::from_secs(t),
            Ok(status(0, t, &[])),
        );
    }
    app
}

/// A three-node cluster watched from the leader; each node sampled twice.
fn cluster_app(base: Instant) -> App {
    let mut app = App::new("n1:8001", true, Duration::from_secs(1));
    for t in 1..=2 {
        let at = base + Duration::from_secs(t);
        app.due();
        app.record("n1:8001", at, Ok(status(1, t, &MEMBERS)));
        app.due();
        app.record("n2:8002", at, Ok(status(2, t, &MEMBERS)));
        app.record("n3:8003", at, Ok(status(3, t, &MEMBERS)));
    }
    app
}

#[test]
fn rates_are_differences_over_elapsed_time() {
    let r = rates(
        &status(0, 1, &[]),
        &status(0, 3, &[]),
        Duration::from_secs(4),
    )
    .expect("rates");
    assert_eq!(r.ops, 6000.0);
    assert_eq!(r.reads, 4000.0);
    assert_eq!(r.writes, 2000.0);
    assert_eq!(r.net_in, 524_288.0);
    assert_eq!(r.commands[2], ("incr".to_string(), 5.0, 0.5));
}

#[test]
fn a_restart_or_no_elapsed_time_gives_no_rates() {
    let (a, b) = (status(0, 2, &[]), status(0, 1, &[]));
    assert!(
        rates(&a, &b, Duration::from_secs(1)).is_none(),
        "counters went backwards"
    );
    assert!(rates(&b, &a, Duration::ZERO).is_none());
    let mut restarted = status(0, 3, &[]);
    restarted.server.node = "another-run".into();
    assert!(
        rates(&b, &restarted, Duration::from_secs(1)).is_none(),
        "new run id"
    );
}

#[test]
fn a_new_command_counts_from_zero() {
    let mut before = status(0, 1, &[]);
    before.commands.retain(|c| c.name != "incr");
    let r = rates(&before, &status(0, 2, &[]), Duration::from_secs(1)).expect("rates");
    assert_eq!(r.commands[2], ("incr".to_string(), 20.0, 2.0));
}

#[test]
fn members_are_discovered_once_and_paused_samples_are_ignored() {
    let mut app = cluster_app(Instant::now());
    let addrs: Vec<&str> = app.nodes.iter().map(|n| n.addr.as_str()).collect();
    assert_eq!(addrs, ["n1:8001", "n2:8002", "n3:8003"]);
    assert_eq!(app.nodes[0].history, [12000]);
    app.apply(Action::Pause);
    app.due();
    app.record(
        "n1:8001",
        Instant::now() + Duration::from_secs(9),
        Ok(status(1, 9, &MEMBERS)),
    );
    assert_eq!(app.nodes[0].history, [12000], "paused: nothing applied");
    assert!(!app.nodes[0].in_flight, "but the poll slot is free again");
}

#[test]
fn removed_members_are_no_longer_watched() {
    let mut app = cluster_app(Instant::now());
    let at = Instant::now() + Duration::from_secs(5);
    let (one, two) = (MEMBERS[0], MEMBERS[1]);
    app.due();
    app.record("n1:8001", at, Ok(status(1, 5, &[one, two])));
    let addrs: Vec<&str> = app.nodes.iter().map(|n| n.addr.as_str()).collect();
    assert_eq!(addrs, ["n1:8001", "n2:8002"]);
}

#[test]
fn keys_change_focus_sort_and_quit() {
    let mut app = single_node_app(Instant::now());
    assert!(app.apply(Action::NextPane));
    assert_eq!(app.focus, Pane::Resources);
    assert!(app.apply(Action::Help));
    assert!(app.help);
    assert!(!app.apply(Action::Quit));
}

#[test]
fn snapshot_single_node() {
    let base = Instant::now();
    let view = View::build(&single_node_app(base), base + Duration::from_secs(2));
    insta::assert_snapshot!(render(&view, 120, 34));
}

#[test]
fn snapshot_cluster_normal() {
    let base = Instant::now();
    let view = View::build(&cluster_app(base), base + Duration::from_secs(2));
    insta::assert_snapshot!(render(&view, 120, 34));
}

#[test]
fn snapshot_cluster_with_a_member_down() {
    let base = Instant::now();
    let mut app = cluster_app(base);
    app.due();
    app.record(
        "n3:8003",
        base + Duration::from_secs(3),
        Err("connection refused".into()),
    );
    let view = View::build(&app, base + Duration::from_secs(15));
    insta::assert_snapshot!(render(&view, 120, 34));
}

#[test]
fn snapshot_watched_node_down_keeps_last_data() {
    let base = Instant::now();
    let mut app = single_node_app(base);
    app.due();
    app.record(
        "127.0.0.1:8001",
        base + Duration::from_secs(3),
        Err("connection refused".into()),
    );
    let view = View::build(&app, base + Duration::from_secs(10));
    insta::assert_snapshot!(render(&view, 100, 30));
}

#[test]
fn snapshot_compact_shows_the_focused_pane() {
    let base = Instant::now();
    let mut app = cluster_app(base);
    app.apply(Action::NextPane);
    app.apply(Action::NextPane);
    let view = View::build(&app, base + Duration::from_secs(2));
    insta::assert_snapshot!(render(&view, 80, 16));
}

#[test]
fn snapshot_tiny_terminal() {
    let base = Instant::now();
    let view = View::build(&cluster_app(base), base + Duration::from_secs(2));
    insta::assert_snapshot!(render(&view, 40, 10));
}

#[test]
fn snapshot_help_overlay() {
    let base = Instant::now();
    let mut app = single_node_app(base);
    app.apply(Action::Help);
    let view = View::build(&app, base + Duration::from_secs(2));
    insta::assert_snapshot!(render(&view, 100, 30));
}
