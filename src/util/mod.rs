//! Small pure helpers shared across modules: Redis's number parsing and formatting rules,
//! geohash arithmetic, glob matching, latency histograms, and clock access.

pub mod geohash;
pub mod glob;
pub mod histogram;
pub mod number;
pub mod rdb;
pub mod rdb_file;
pub mod slot;

use std::cell::Cell;
use std::time::{SystemTime, UNIX_EPOCH};

/// The hasher of the maps and lock stripes on the command path: foldhash is several times
/// faster than the standard SipHash on short keys, and each instance has its own random seed,
/// so clients cannot choose keys that collide.
pub type FastHash = foldhash::fast::RandomState;

/// A hash map keyed by client data on the command path (see [`FastHash`]).
pub type FastMap<K, V> = std::collections::HashMap<K, V, FastHash>;

/// Milliseconds since the Unix epoch; the unit of every expire-at we store. While a replicated
/// command is applied ([`replaying`]) this is the leader's clock carried in the log entry, so
/// every node computes the same expiries.
pub fn now_ms() -> u64 {
    match REPLAY.with(Cell::get) {
        Some(replay) => replay.clock_ms,
        None => system_ms(),
    }
}

fn system_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The clock and random seed a replicated command must see on every node, and the leader's
/// settings that decide what it writes.
#[derive(Debug, Clone, Copy)]
struct Replay {
    clock_ms: u64,
    seed: u64,
    settings: Option<EntrySettings>,
}

/// Configuration that shapes what a command writes, carried in each Raft entry so that every
/// node applies the leader's values rather than its own: where stream nodes end
/// (`stream-node-max-entries`, `stream-node-max-bytes`) decides what `MAXLEN ~` trims.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct EntrySettings {
    pub stream_node_max_entries: u64,
    pub stream_node_max_bytes: u64,
}

thread_local! {
    static REPLAY: Cell<Option<Replay>> = const { Cell::new(None) };
}

/// Runs `f` with the clock fixed at `clock_ms` and random choices drawn from `seed`: applying a
/// Raft entry must give the same result on every node (SPOP, SET EX, EXPIRE ...). The entry's
/// settings, if an apply is running, stay in force (a script run inside it).
pub fn replaying<T>(clock_ms: u64, seed: u64, f: impl FnOnce() -> T) -> T {
    let settings = entry_settings();
    replaying_entry(clock_ms, seed, settings, f)
}

/// [`replaying`] with the settings a Raft entry carries.
pub fn replaying_entry<T>(
    clock_ms: u64,
    seed: u64,
    settings: Option<EntrySettings>,
    f: impl FnOnce() -> T,
) -> T {
    struct Restore(Option<Replay>);
    impl Drop for Restore {
        fn drop(&mut self) {
            REPLAY.with(|r| r.set(self.0));
        }
    }
    let replay = Replay {
        clock_ms,
        seed,
        settings,
    };
    let _restore = Restore(REPLAY.with(|r| r.replace(Some(replay))));
    f()
}

/// The settings of the Raft entry being applied on this thread, if any.
pub fn entry_settings() -> Option<EntrySettings> {
    REPLAY.with(Cell::get).and_then(|replay| replay.settings)
}

/// Lowercase hex of `bytes` (digests as Redis shows them: SHA1 of scripts, SHA-256 of ACL
/// passwords, ACL GENPASS).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether this thread is applying a replicated command ([`replaying`]).
pub fn is_replaying() -> bool {
    REPLAY.with(Cell::get).is_some()
}

/// A random generator for commands that choose (SPOP, SRANDMEMBER, RANDOMKEY): seeded from the
/// log entry while [`replaying`], so replicas choose what the leader chose.
pub fn rng() -> rand::rngs::StdRng {
    use rand::SeedableRng as _;
    match REPLAY.with(Cell::get) {
        Some(mut replay) => {
            // Each draw advances the entry's seed, so two choices in one entry differ.
            replay.seed = replay
                .seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            REPLAY.with(|r| r.set(Some(replay)));
            rand::rngs::StdRng::seed_from_u64(replay.seed)
        }
        None => rand::rngs::StdRng::from_rng(rand::thread_rng())
            .unwrap_or_else(|_| rand::rngs::StdRng::seed_from_u64(system_ms())),
    }
}

/// Microseconds since the Unix epoch (the leader's clock while [`replaying`]).
pub fn now_us() -> u64 {
    if let Some(replay) = REPLAY.with(Cell::get) {
        return replay.clock_ms * 1000;
    }
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}
