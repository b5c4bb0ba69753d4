//! Renders a [`View`] onto a ratatui frame. A pure function of the view and the frame size, so
//! the screen is tested with `TestBackend` snapshots.
//!
//! Three layouts by terminal size: full (every pane), compact (header, throughput line and the
//! focused pane, `tab` cycles), and tiny (a few lines of text). A terminal that shrinks mid-run
//! simply gets the smaller layout on the next frame.

use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Clear, Paragraph, Row, Sparkline, Table, Wrap};
use ratatui::Frame;

use super::app::Pane;
use super::input::KEYS;
use super::view::{Field, Level, View};

/// Smallest size for the full layout.
const FULL: (u16, u16) = (100, 30);
/// Smallest size for the compact layout; below it, the tiny one.
const COMPACT: (u16, u16) = (60, 14);

/// Draws the whole screen.
pub fn draw(frame: &mut Frame, view: &View) {
    let area = frame.area();
    if area.width < COMPACT.0 || area.height < COMPACT.1 {
        draw_tiny(frame, area, view);
        return;
    }
    let full = area.width >= FULL.0 && area.height >= FULL.1;
    let header_height = if view.alert.is_some() { 5 } else { 4 };
    let [header, body, footer] = Layout::vertical([
        Constraint::Length(header_height),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_header(frame, header, view);
    if full {
        let [top, middle, bottom] = Layout::vertical([
            Constraint::Length(12),
            Constraint::Length(8),
            Constraint::Min(5),
        ])
        .areas(body);
        let [throughput, commands] =
            Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(top);
        draw_throughput(frame, throughput, view);
        draw_commands(frame, commands, view);
        draw_resources(frame, middle, view);
        draw_cluster(frame, bottom, view);
    } else {
        let [line, pane] =
            Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(body);
        let text = format!(" {}   {}", view.ops_line, view.net_line);
        frame.render_widget(Paragraph::new(text), line);
        match view.focus {
            Pane::Commands => draw_commands(frame, pane, view),
            Pane::Resources => draw_resources(frame, pane, view),
            Pane::Cluster => draw_cluster(frame, pane, view),
        }
    }
    draw_footer(frame, footer, view);
    if view.help {
        draw_help(frame, area);
    }
}

fn style_of(level: Level) -> Style {
    match level {
        Level::Normal => Style::default(),
        Level::Warn => Style::default().fg(Color::Yellow),
        Level::Bad => Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
    }
}

/// A block whose border shows whether it has the focus.
fn pane_block(title: String, focused: bool) -> Block<'static> {
    let style = if focused {
        Style::default().fg(Color::Cyan)
    } else {
        Style::default()
    };
    Block::default()
        .borders(Borders::ALL)
        .border_style(style)
        .title(Span::styled(title, style.add_modifier(Modifier::BOLD)))
}

/// `████░░░░` of `width` cells.
pub fn text_bar(ratio: f64, width: usize) -> String {
    let filled = (ratio.clamp(0.0, 1.0) * width as f64).round() as usize;
    format!("{}{}", "█".repeat(filled), "░".repeat(width - filled))
}

fn field_spans(f: &Field) -> Vec<Span<'static>> {
    let mut spans = vec![
        Span::styled(
            format!("{} ", f.label),
            Style::default().fg(Color::DarkGray),
        ),
        Span::styled(f.value.clone(), style_of(f.level)),
    ];
    if let Some(r) = f.ratio {
        spans.push(Span::raw(" "));
        spans.push(Span::styled(text_bar(r, 10), style_of(f.level)));
    }
    spans
}

fn draw_header(frame: &mut Frame, area: Rect, view: &View) {
    let mut lines = Vec::new();
    let (first, second) = view.header.split_at(view.header.len().min(3));
    for group in [first, second] {
        let mut spans = vec![Span::raw(" ")];
        for (i, f) in group.iter().enumerate() {
            if i > 0 {
                spans.push(Span::raw("   "));
            }
            spans.extend(field_spans(f));
        }
        lines.push(Line::from(spans));
    }
    if let Some(alert) = &view.alert {
        lines.push(Line::styled(format!(" {alert}"), style_of(Level::Bad)));
    }
    let block = pane_block(view.title.clone(), false);
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

fn draw_throughput(frame: &mut Frame, area: Rect, view: &View) {
    let block = pane_block("Throughput".into(), false);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [lines, chart] = Layout::vertical([Constraint::Length(2), Constraint::Min(0)]).areas(inner);
    let text = vec![
        Line::raw(view.ops_line.clone()),
        Line::styled(view.net_line.clone(), Style::default().fg(Color::DarkGray)),
    ];
    frame.render_widget(Paragraph::new(text), lines);
    // The newest samples on the right: keep only what fits.
    let width = usize::from(chart.width);
    let skip = view.ops_history.len().saturating_sub(width);
    let data: Vec<u64> = view.ops_history[skip..].to_vec();
    frame.render_widget(
        Sparkline::default()
            .data(data)
            .style(Style::default().fg(Color::Green)),
        chart,
    );
}

fn draw_commands(frame: &mut Frame, area: Rect, view: &View) {
    let block = pane_block(
        format!("Commands · sort {} (s)", view.command_sort),
        view.focus == Pane::Commands,
    );
    let header = Row::new(["command", "ops/s", "err/s", "p50", "p99", "p999"])
        .style(Style::default().add_modifier(Modifier::BOLD));
    let rows = view.commands.iter().map(|c| {
        Row::new([
            Cell::from(c.name.clone()),
            Cell::from(Line::from(c.rate.clone()).right_aligned()),
            Cell::from(Line::from(c.failed.clone()).right_aligned()),
            Cell::from(Line::from(c.p50.clone()).right_aligned()),
            Cell::from(Line::from(c.p99.clone()).right_aligned()),
            Cell::from(Line::from(c.p999.clone()).right_aligned()),
        ])
    });
    let widths = [
        Constraint::Min(10),
        Constraint::Length(7),
        Constraint::Length(6),
        Constraint::Length(8),
        Constraint::Length(8),
        Constraint::Length(8),
    ];
    frame.render_widget(Table::new(rows, widths).header(header).block(block), area);
}

fn draw_resources(frame: &mut Frame, area: Rect, view: &View) {
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area);
    let focused = view.focus == Pane::Resources;
    for (rect, title, fields) in [
        (left, "Runtimes", &view.runtimes),
        (right, "Storage (RocksDB)", &view.storage),
    ] {
        let lines: Vec<Line> = fields
            .iter()
            .map(|f| {
                let mut spans = vec![Span::styled(
                    format!(" {:<14}", f.label),
                    Style::default().fg(Color::DarkGray),
                )];
                spans.push(Span::styled(format!("{:<16}", f.value), style_of(f.level)));
                if let Some(r) = f.ratio {
                    spans.push(Span::styled(text_bar(r, 10), style_of(f.level)));
                }
                Line::from(spans)
            })
            .collect();
        frame.render_widget(
            Paragraph::new(lines).block(pane_block(title.into(), focused)),
            rect,
        );
    }
}

fn draw_cluster(frame: &mut Frame, area: Rect, view: &View) {
    let focused = view.focus == Pane::Cluster;
    let Some(members) = &view.members else {
        let block = pane_block("Cluster".into(), focused);
        let text = " single-node mode: no Raft group (start with --init-cluster to form one)";
        frame.render_widget(Paragraph::new(text).block(block), area);
        return;
    };
    let block = pane_block(format!("Cluster · sort {} (s)", view.member_sort), focused);
    let header = Row::new([
        "id", "address", "role", "health", "term", "commit", "applied", "lag",
    ])
    .style(Style::default().add_modifier(Modifier::BOLD));
    let rows = members.iter().map(|m| {
        // The number first: a narrow terminal cuts the bar, not the value.
        let lag = format!("{:>8} {}", m.lag, text_bar(m.lag_ratio, 12));
        Row::new([
            Cell::from(m.id.clone()),
            Cell::from(m.addr.clone()),
            Cell::from(m.role.clone()),
            Cell::from(Span::styled(m.health.clone(), style_of(m.health_level))),
            Cell::from(Line::from(m.term.clone()).right_aligned()),
            Cell::from(Line::from(m.committed.clone()).right_aligned()),
            Cell::from(Line::from(m.applied.clone()).right_aligned()),
            Cell::from(lag),
        ])
        .style(if m.health_level == Level::Bad {
            Style::default().add_modifier(Modifier::DIM)
        } else {
            Style::default()
        })
    });
    let widths = [
        Constraint::Length(4),
        Constraint::Min(15),
        Constraint::Length(9),
        Constraint::Length(12),
        Constraint::Length(6),
        Constraint::Length(9),
        Constraint::Length(9),
        Constraint::Length(21),
    ];
    frame.render_widget(Table::new(rows, widths).header(header).block(block), area);
}

fn draw_footer(frame: &mut Frame, area: Rect, view: &View) {
    let key = Style::default().fg(Color::Black).bg(Color::Cyan);
    let mut spans = Vec::new();
    for (k, what) in [
        ("?", "help"),
        ("q", "quit"),
        ("tab", "pane"),
        ("s", "sort"),
        ("p", "pause"),
    ] {
        spans.push(Span::styled(format!(" {k} "), key));
        spans.push(Span::raw(format!(" {what} ")));
    }
    let [left, right] = Layout::horizontal([
        Constraint::Min(0),
        Constraint::Length(u16::try_from(view.status_line.chars().count() + 1).unwrap_or(u16::MAX)),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(Line::from(spans)), left);
    let status = if view.paused {
        style_of(Level::Warn)
    } else {
        Style::default()
    };
    frame.render_widget(
        Paragraph::new(Line::styled(view.status_line.clone(), status)),
        right,
    );
}

fn draw_help(frame: &mut Frame, area: Rect) {
    let lines: Vec<Line> = KEYS
        .iter()
        .map(|(k, what)| {
            Line::from(vec![
                Span::styled(
                    format!(" {k:<5}"),
                    Style::default().add_modifier(Modifier::BOLD),
                ),
                Span::raw(*what),
            ])
        })
        .collect();
    let height = u16::try_from(lines.len() + 2).unwrap_or(u16::MAX);
    let [popup] = Layout::vertical([Constraint::Length(height)])
        .flex(Flex::Center)
        .areas(area);
    let [popup] = Layout::horizontal([Constraint::Length(48)])
        .flex(Flex::Center)
        .areas(popup);
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines).block(pane_block("Keys".into(), true)),
        popup,
    );
}

/// A terminal too small for panes still says the essentials.
fn draw_tiny(frame: &mut Frame, area: Rect, view: &View) {
    let mut lines = vec![Line::styled(
        view.title.clone(),
        Style::default().add_modifier(Modifier::BOLD),
    )];
    if let Some(alert) = &view.alert {
        lines.push(Line::styled(alert.clone(), style_of(Level::Bad)));
    }
    lines.push(Line::raw(view.ops_line.clone()));
    lines.push(Line::raw(view.net_line.clone()));
    for f in &view.header {
        lines.push(Line::from(field_spans(&Field {
            ratio: None,
            ..f.clone()
        })));
    }
    lines.push(Line::styled(
        format!("(enlarge to {}x{} for panes)", COMPACT.0, COMPACT.1),
        Style::default().fg(Color::DarkGray),
    ));
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), area);
}
