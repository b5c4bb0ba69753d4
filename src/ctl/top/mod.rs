//! `kiwictl top`: a live full-screen view of a node or a whole cluster.
//!
//! Four rooms: [`app`] keeps state and computes rates from samples, [`view`] turns it into
//! display-ready values, [`ui`] draws those (pure, snapshot-tested), [`input`] maps keys. This
//! module is the only one with side effects: it polls `/v1/status` of every watched node, reads
//! the keyboard and owns the terminal.

pub mod app;
pub mod input;
pub mod ui;
pub mod view;

#[cfg(test)]
mod tests;

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{self, Event};
use tokio::sync::mpsc;

use crate::admin::status::Status;

use super::admin_client::AdminClient;
use super::args::TopArgs;
use super::error::CtlError;
use super::Ctx;
use app::App;
use view::View;

/// The terminal in raw mode on the alternate screen, restored when dropped. `ratatui::try_init`
/// also installs a panic hook that restores it before the panic message prints, so the
/// operator's shell is usable whatever happens.
struct Screen {
    terminal: ratatui::DefaultTerminal,
}

impl Screen {
    fn enter() -> Result<Screen, CtlError> {
        if !std::io::stdout().is_terminal() {
            return Err(CtlError::Terminal(
                "kiwictl top needs an interactive terminal".into(),
            ));
        }
        let terminal = ratatui::try_init().map_err(|e| CtlError::Terminal(e.to_string()))?;
        Ok(Screen { terminal })
    }

    fn draw(&mut self, view: &View) -> Result<(), CtlError> {
        self.terminal
            .draw(|frame| ui::draw(frame, view))
            .map(drop)
            .map_err(|e| CtlError::Terminal(e.to_string()))
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let _ = ratatui::try_restore();
    }
}

/// One poll's outcome: (admin address, arrival time, status or why not).
type Sample = (String, Instant, Result<Status, String>);

/// Runs until the operator quits. Fails before touching the screen when the node cannot be
/// reached at all, so a typo in the address is one line, not an empty dashboard.
pub async fn run(ctx: &Ctx, args: &TopArgs) -> Result<(), CtlError> {
    if !(args.interval.is_finite() && args.interval >= 0.1) {
        return Err(CtlError::Usage(
            "--interval must be at least 0.1 seconds".into(),
        ));
    }
    let interval = Duration::from_secs_f64(args.interval);
    let addr = ctx.settings.admin_addr();
    // A hung node must show as down within about two refreshes, not after the CLI's timeout.
    let poll_timeout = ctx
        .settings
        .timeout
        .min(interval.mul_f64(2.0).max(Duration::from_secs(1)));
    let admin = AdminClient::new(ctx.settings.token.clone(), poll_timeout)?;
    let first = ctx.admin.status(&addr).await?;
    let mut app = App::new(&addr, !args.single, interval);
    app.due();
    app.record(&addr, Instant::now(), Ok(first));

    let mut screen = Screen::enter()?;
    let (samples_tx, mut samples) = mpsc::unbounded_channel::<Sample>();
    let mut keys = spawn_key_reader();
    let mut tick = tokio::time::interval(interval);
    let stop = stop_signal();
    tokio::pin!(stop);
    loop {
        screen.draw(&View::build(&app, Instant::now()))?;
        tokio::select! {
            _ = tick.tick() => {
                for addr in app.due() {
                    let (admin, tx) = (admin.clone(), samples_tx.clone());
                    tokio::spawn(async move {
                        let result = admin.status(&addr).await.map_err(|e| short(&e));
                        let _ = tx.send((addr, Instant::now(), result));
                    });
                }
            }
            Some((addr, at, result)) = samples.recv() => app.record(&addr, at, result),
            key = keys.recv() => match key {
                Some(Event::Key(k)) => {
                    if let Some(action) = input::action_for(&k, app.help) {
                        if !app.apply(action) {
                            break;
                        }
                    }
                }
                // Resizes (and anything else) just redraw at the top of the loop.
                Some(_) => {}
                None => return Err(CtlError::Terminal("lost the keyboard".into())),
            },
            _ = &mut stop => break,
        }
    }
    Ok(())
}

/// What a down node's row says: the cause without the address (the row shows that).
fn short(e: &CtlError) -> String {
    match e {
        CtlError::Unreachable { reason, .. } => reason.clone(),
        CtlError::Timeout { secs, .. } => format!("no answer within {secs}s"),
        other => other.to_string(),
    }
}

/// Terminal events from a thread: crossterm's reader blocks, and the async loop must not.
fn spawn_key_reader() -> mpsc::UnboundedReceiver<Event> {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        while let Ok(ev) = event::read() {
            if tx.send(ev).is_err() {
                break;
            }
        }
    });
    rx
}

/// SIGINT/SIGTERM/SIGHUP from outside (raw mode turns the terminal's own Ctrl-C into a key).
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let kinds = [
            SignalKind::interrupt(),
            SignalKind::terminate(),
            SignalKind::hangup(),
        ];
        let mut streams: Vec<_> = kinds.into_iter().filter_map(|k| signal(k).ok()).collect();
        if streams.is_empty() {
            return std::future::pending().await;
        }
        let waits = streams.iter_mut().map(|s| Box::pin(s.recv()));
        let _ = futures_util::future::select_all(waits).await;
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
