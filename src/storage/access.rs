//! When each key was last used and how often: what Redis keeps in every object's `lru` field,
//! for `OBJECT IDLETIME`, `OBJECT FREQ` and `RESTORE ... IDLETIME|FREQ`.
//!
//! Redis stores these bits inside each value in memory. Kiwi's values live on disk, and writing
//! a row on every read would cost more than the read, so the figures live in memory, in a table
//! of `access-tracked-keys` slots of 8 bytes. A key's slot is chosen by a hash of its database
//! and name, and holds the key's tag (more bits of the hash), its last access (Unix seconds) and
//! its frequency counter, packed into one atomic word: a use is one load and one
//! store, with no lock and no allocation. Two keys sharing a slot take turns: the one used last
//! keeps it. A key whose slot now holds another key — or that was not used since start — was
//! last used no later than the newest access the table overwrote (or the start): its idle time is
//! reported from there, a lower bound, and its frequency as a new key's. Nothing is persisted: as
//! after a Redis restart, every key starts afresh.
//!
//! The frequency counter is Redis's LFU counter: logarithmic, incremented with probability
//! `1 / ((counter - 5) * lfu-log-factor + 1)`, decremented by one per `lfu-decay-time` minutes
//! without access (Redis counts those minutes from the last access too). Both figures are kept
//! whatever `maxmemory-policy` is, so switching policy takes effect at once; OBJECT shows the
//! one the policy selects, as Redis does.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

/// A new key's frequency counter (Redis's `LFU_INIT_VAL`): new keys are not evicted at once.
pub const LFU_INIT_VAL: u8 = 5;

/// One slot's word: tag (24 bits) | last access, Unix seconds (32 bits) | counter (8 bits).
#[derive(Clone, Copy, PartialEq, Eq)]
struct Slot(u64);

impl Slot {
    const EMPTY: Slot = Slot(0);

    fn new(tag: u32, seconds: u32, counter: u8) -> Slot {
        Slot(u64::from(tag) << 40 | u64::from(seconds) << 8 | u64::from(counter))
    }

    fn tag(self) -> u32 {
        (self.0 >> 40) as u32
    }

    fn seconds(self) -> u32 {
        (self.0 >> 8) as u32
    }

    fn counter(self) -> u8 {
        self.0 as u8
    }
}

/// The access clock of every key of one node (see the module documentation).
pub struct AccessClock {
    slots: Box<[AtomicU64]>,
    hasher: crate::util::FastHash,
    /// No key without a slot of its own was used after this (Unix seconds): the start, the
    /// newest access the table overwrote, or the last flush.
    forgotten: AtomicU32,
    /// `maxmemory-policy` is an LFU one: OBJECT FREQ answers, OBJECT IDLETIME refuses.
    lfu_policy: AtomicBool,
    log_factor: AtomicU32,
    decay_minutes: AtomicU32,
}

/// Settings the clock takes from the configuration.
pub struct AccessSettings {
    /// `access-tracked-keys`: slots in the table (0 tracks nothing).
    pub tracked_keys: usize,
    /// `maxmemory-policy` is `allkeys-lfu` or `volatile-lfu`.
    pub lfu_policy: bool,
    /// `lfu-log-factor`.
    pub lfu_log_factor: u32,
    /// `lfu-decay-time`, in minutes (0 never decays).
    pub lfu_decay_minutes: u32,
}

/// Unix seconds: the clock's unit, as Redis's LRU clock.
fn seconds(now_ms: u64) -> u32 {
    u32::try_from(now_ms / 1000).unwrap_or(u32::MAX)
}

impl AccessClock {
    /// A clock of `settings.tracked_keys` slots (fixed for the process: CONFIG SET of the size
    /// takes effect at the next start, the LFU settings at once).
    pub fn new(settings: &AccessSettings, now_ms: u64) -> AccessClock {
        let clock = AccessClock {
            slots: (0..settings.tracked_keys)
                .map(|_| AtomicU64::new(0))
                .collect(),
            hasher: Default::default(),
            forgotten: AtomicU32::new(seconds(now_ms)),
            lfu_policy: AtomicBool::new(false),
            log_factor: AtomicU32::new(0),
            decay_minutes: AtomicU32::new(0),
        };
        clock.configure(settings);
        clock
    }

    /// Applies changed LFU settings (CONFIG SET).
    pub fn configure(&self, settings: &AccessSettings) {
        self.lfu_policy
            .store(settings.lfu_policy, Ordering::Relaxed);
        self.log_factor
            .store(settings.lfu_log_factor, Ordering::Relaxed);
        self.decay_minutes
            .store(settings.lfu_decay_minutes, Ordering::Relaxed);
    }

    /// Whether an LFU `maxmemory-policy` is selected.
    pub fn lfu_policy(&self) -> bool {
        self.lfu_policy.load(Ordering::Relaxed)
    }

    /// The key's slot and tag; `None` when nothing is tracked.
    fn slot(&self, db: u16, key: &[u8]) -> Option<(&AtomicU64, u32)> {
        if self.slots.is_empty() {
            return None;
        }
        let hash = self.hasher.hash_one((db, key));
        let slot = &self.slots[(hash as usize) % self.slots.len()];
        // A tag of 0 would read as an empty slot.
        Some((slot, ((hash >> 40) as u32).max(1)))
    }

    /// What the slot says about the key with `tag`, if it is that key's.
    fn find(slot: &AtomicU64, tag: u32) -> Option<Slot> {
        let word = Slot(slot.load(Ordering::Relaxed));
        (word != Slot::EMPTY && word.tag() == tag).then_some(word)
    }

    /// Writes `word` into the slot, noting what it overwrites.
    fn put(&self, slot: &AtomicU64, word: Slot) {
        let old = Slot(slot.swap(word.0, Ordering::Relaxed));
        if old != Slot::EMPTY && old.tag() != word.tag() {
            self.forgotten.fetch_max(old.seconds(), Ordering::Relaxed);
        }
    }

    /// The counter of `word` now, after the decay of the minutes it went unused (Redis's
    /// `LFUDecrAndReturn`).
    fn decayed(&self, word: Slot, now: u32) -> u8 {
        let decay = self.decay_minutes.load(Ordering::Relaxed);
        if decay == 0 {
            return word.counter();
        }
        let periods = now.saturating_sub(word.seconds()) / 60 / decay;
        word.counter()
            .saturating_sub(u8::try_from(periods).unwrap_or(u8::MAX))
    }

    /// Redis's `LFULogIncr`: the higher the counter, the less likely an access raises it.
    fn incremented(&self, counter: u8) -> u8 {
        if counter == 255 {
            return 255;
        }
        let base = f64::from(counter.saturating_sub(LFU_INIT_VAL));
        let factor = f64::from(self.log_factor.load(Ordering::Relaxed));
        if rand::random::<f64>() < 1.0 / (base * factor + 1.0) {
            counter + 1
        } else {
            counter
        }
    }

    /// Records an access to `key` of physical database `db` (Redis's `lookupKey` without
    /// `LOOKUP_NOTOUCH`). A key seen for the first time starts as a new key.
    pub fn touch(&self, db: u16, key: &[u8], now_ms: u64) {
        let Some((slot, tag)) = self.slot(db, key) else {
            return;
        };
        let now = seconds(now_ms);
        let counter = match Self::find(slot, tag) {
            Some(word) => self.incremented(self.decayed(word, now)),
            None => LFU_INIT_VAL,
        };
        self.put(slot, Slot::new(tag, now, counter));
    }

    /// Milliseconds since `key` was last used; for a key the clock does not know, since the
    /// latest time it can have been used.
    pub fn idle_ms(&self, db: u16, key: &[u8], now_ms: u64) -> u64 {
        let last = self
            .slot(db, key)
            .and_then(|(slot, tag)| Self::find(slot, tag))
            .map(Slot::seconds)
            .unwrap_or_else(|| self.forgotten.load(Ordering::Relaxed));
        now_ms.saturating_sub(u64::from(last) * 1000)
    }

    /// The key's access frequency counter, decayed to now (OBJECT FREQ).
    pub fn frequency(&self, db: u16, key: &[u8], now_ms: u64) -> u8 {
        match self
            .slot(db, key)
            .and_then(|(slot, tag)| Self::find(slot, tag))
        {
            Some(word) => self.decayed(word, seconds(now_ms)),
            None => LFU_INIT_VAL,
        }
    }

    /// RESTORE's IDLETIME and FREQ (Redis's `objectSetLRUOrLFU`): under an LFU policy only the
    /// frequency is set, under any other only the idle time.
    pub fn restore(
        &self,
        db: u16,
        key: &[u8],
        idle_seconds: Option<u64>,
        frequency: Option<u8>,
        now_ms: u64,
    ) {
        let Some((slot, tag)) = self.slot(db, key) else {
            return;
        };
        let now = seconds(now_ms);
        let known = Self::find(slot, tag).unwrap_or(Slot::new(tag, now, LFU_INIT_VAL));
        let word = match (self.lfu_policy(), idle_seconds, frequency) {
            (true, _, Some(counter)) => Slot::new(tag, now, counter),
            (false, Some(idle), _) => {
                let idle = u32::try_from(idle).unwrap_or(u32::MAX);
                Slot::new(tag, now.saturating_sub(idle), known.counter())
            }
            _ => return,
        };
        self.put(slot, word);
    }

    /// Forgets every key (FLUSHDB, FLUSHALL): a key created afterwards is new.
    pub fn forget_all(&self, now_ms: u64) {
        for slot in self.slots.iter() {
            slot.store(0, Ordering::Relaxed);
        }
        self.forgotten.fetch_max(seconds(now_ms), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An arbitrary time, in ms, whole seconds.
    const T: u64 = 1_800_000_000_000;

    fn clock(tracked_keys: usize, lfu_policy: bool) -> AccessClock {
        let settings = AccessSettings {
            tracked_keys,
            lfu_policy,
            lfu_log_factor: 10,
            lfu_decay_minutes: 1,
        };
        AccessClock::new(&settings, T)
    }

    #[test]
    fn idle_time_counts_from_the_last_touch() {
        let clock = clock(1000, false);
        clock.touch(0, b"k", T + 2_000);
        assert_eq!(clock.idle_ms(0, b"k", T + 7_000), 5_000);
        // Another database's key of the same name is another key: not seen since start.
        assert_eq!(clock.idle_ms(1, b"k", T + 7_000), 7_000);
        clock.restore(0, b"k", Some(1000), Some(7), T + 7_000);
        assert_eq!(clock.idle_ms(0, b"k", T + 7_000), 1_000_000);
        // Not an LFU policy: FREQ was ignored (and 1000 idle seconds decayed the counter).
        assert_eq!(clock.frequency(0, b"k", T + 7_000), 0);
    }

    #[test]
    fn a_key_that_lost_its_slot_is_never_reported_more_idle_than_it_is() {
        let clock = clock(16, false);
        // 100 keys for 16 slots: most lose theirs to a later key.
        for i in 0..100u64 {
            clock.touch(0, &i.to_be_bytes(), T + i * 1000);
        }
        let now = T + 500_000;
        let exact = (0..100u64)
            .filter(|i| clock.idle_ms(0, &i.to_be_bytes(), now) == now - T - i * 1000)
            .count();
        assert!(exact <= 17, "{exact} keys still have a slot");
        for i in 0..100u64 {
            assert!(clock.idle_ms(0, &i.to_be_bytes(), now) <= now - T - i * 1000);
        }
    }

    #[test]
    fn frequency_grows_logarithmically_and_decays_per_period() {
        let clock = clock(1000, true);
        clock.restore(0, b"k", Some(50), Some(100), T);
        assert_eq!(clock.frequency(0, b"k", T), 100);
        // Idle time is not set under an LFU policy.
        assert_eq!(clock.idle_ms(0, b"k", T), 0);
        // Three idle minutes with a one-minute decay take three off.
        assert_eq!(clock.frequency(0, b"k", T + 3 * 60_000), 97);
        assert_eq!(clock.frequency(0, b"new", T), LFU_INIT_VAL);
        for _ in 0..1000 {
            clock.touch(0, b"hot", T);
        }
        let hot = clock.frequency(0, b"hot", T);
        // log-factor 10: about 1000 hits reach the low twenties, far from 1000.
        assert!((10..40).contains(&hot), "counter {hot}");
    }

    #[test]
    fn without_slots_nothing_is_tracked() {
        let clock = clock(0, false);
        clock.touch(0, b"k", T + 60_000);
        assert_eq!(clock.idle_ms(0, b"k", T + 70_000), 70_000);
        clock.forget_all(T + 65_000);
        assert_eq!(clock.idle_ms(0, b"k", T + 70_000), 5_000);
    }
}
