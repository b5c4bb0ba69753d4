//! Linux and macOS: the service managers (systemd, launchd) run `kiwi` in the foreground and
//! stop it with SIGTERM, so a Unix process needs nothing beyond listening for that signal.

use tokio::signal::unix::{signal, SignalKind};

/// Resolves when the process is asked to stop: SIGINT (Ctrl-C) or SIGTERM (`systemctl stop`,
/// `launchctl bootout`, `kill`).
pub async fn shutdown_signal() {
    match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(mut int), Ok(mut term)) => {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
