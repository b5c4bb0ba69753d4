//! CLIENT PAUSE: holds back clients' commands (all of them, or only writes) until a deadline or
//! CLIENT UNPAUSE — for failovers and maintenance, as in Redis. Commands wait, they are not
//! refused; CLIENT commands keep running so that a paused server can be unpaused.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::time::Instant;

/// The pause in force, if any.
#[derive(Default)]
pub struct ClientPause {
    current: Mutex<Option<Pause>>,
    /// Woken on UNPAUSE so waiting commands go on before the deadline.
    lifted: Notify,
}

#[derive(Clone, Copy)]
struct Pause {
    until: Instant,
    writes_only: bool,
}

impl ClientPause {
    /// Pauses for `duration`. Like Redis, a second pause never shortens the first one, and ALL
    /// wins over WRITE.
    pub fn pause(&self, duration: Duration, writes_only: bool) {
        let until = Instant::now() + duration;
        let mut current = self.current.lock();
        *current = Some(match *current {
            Some(p) if p.until > Instant::now() => Pause {
                until: p.until.max(until),
                writes_only: p.writes_only && writes_only,
            },
            _ => Pause { until, writes_only },
        });
    }

    /// Lifts the pause (CLIENT UNPAUSE).
    pub fn unpause(&self) {
        *self.current.lock() = None;
        self.lifted.notify_waiters();
    }

    /// Waits while a pause holds back a command (`is_write` says whether it writes).
    /// A paused client counts as blocked meanwhile (`blocked`, its handle's flag), as in Redis.
    pub async fn wait(&self, is_write: bool, blocked: &AtomicBool) {
        loop {
            // Created before the check, so an UNPAUSE right after it still wakes us.
            let lifted = self.lifted.notified();
            let until = match *self.current.lock() {
                Some(p) if (is_write || !p.writes_only) && p.until > Instant::now() => p.until,
                _ => {
                    blocked.store(false, Ordering::Release);
                    return;
                }
            };
            blocked.store(true, Ordering::Release);
            tokio::select! {
                _ = tokio::time::sleep_until(until) => {}
                _ = lifted => {}
            }
        }
    }
}
