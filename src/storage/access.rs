//! When each key was last used and how often: what Redis keeps in every object's `lru` field,
//! for `OBJECT IDLETIME`, `OBJECT FREQ` and `RESTORE ... IDLETIME|FREQ`.
//!
//! Redis stores these 24 bits inside each value in memory. Kiwi's values live on disk, and
//! writing a row on every read would cost more than the read, so the figures are kept in memory
//! for the `access-tracked-keys` most recently used keys (a sharded LRU map keyed by a 64-bit
//! hash of database and key: about 50 bytes per key whatever the key's length). A key the map
//! has forgotten, or never saw since start, was last used no later than the newest access the
//! map forgot (or the start): its idle time is reported from there, a lower bound, and its
//! frequency as a new key's. Nothing is persisted, as in Redis, where a restart (or a replica)
//! starts every key afresh.
//!
//! The frequency counter is Redis's LFU counter: logarithmic, incremented with probability
//! `1 / ((counter - 5) * lfu-log-factor + 1)`, decremented by one per `lfu-decay-time` minutes
//! without access. Both figures are kept whatever `maxmemory-policy` is, so switching policy
//! takes effect at once; OBJECT shows the one the policy selects, as Redis does.

use std::hash::BuildHasher;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use lru::LruCache;
use parking_lot::Mutex;

/// A new key's frequency counter (Redis's `LFU_INIT_VAL`): new keys are not evicted at once.
pub const LFU_INIT_VAL: u8 = 5;

/// Independent maps, so that storage threads touching different keys rarely contend.
const SHARDS: usize = 16;

/// What is known of one key's use.
#[derive(Clone, Copy)]
struct Access {
    /// Unix time of the last access, in milliseconds.
    last_ms: u64,
    /// Unix time in minutes when `counter` was last brought up to date (Redis's `ldt`).
    counter_minute: u64,
    /// Logarithmic access frequency, 0..=255.
    counter: u8,
}

/// The access clock of every key of one node (see the module documentation).
pub struct AccessClock {
    shards: Box<[Mutex<LruCache<u64, Access>>]>,
    hasher: std::collections::hash_map::RandomState,
    /// `access-tracked-keys` is not 0.
    enabled: AtomicBool,
    /// No key forgotten or never seen was used after this time (ms): start, the newest access
    /// the maps evicted, or the last flush.
    forgotten_ms: AtomicU64,
    /// `maxmemory-policy` is an LFU one: OBJECT FREQ answers, OBJECT IDLETIME refuses.
    lfu_policy: AtomicBool,
    log_factor: AtomicU32,
    decay_minutes: AtomicU32,
}

/// Settings the clock takes from the configuration.
pub struct AccessSettings {
    /// `access-tracked-keys`: how many keys are remembered (0 remembers none).
    pub tracked_keys: usize,
    /// `maxmemory-policy` is `allkeys-lfu` or `volatile-lfu`.
    pub lfu_policy: bool,
    /// `lfu-log-factor`.
    pub lfu_log_factor: u32,
    /// `lfu-decay-time`, in minutes (0 never decays).
    pub lfu_decay_minutes: u32,
}

fn shard_capacity(tracked_keys: usize) -> NonZeroUsize {
    NonZeroUsize::new(tracked_keys.div_ceil(SHARDS)).unwrap_or(NonZeroUsize::MIN)
}

fn minute(ms: u64) -> u64 {
    ms / 60_000
}

impl AccessClock {
    pub fn new(settings: &AccessSettings, now_ms: u64) -> AccessClock {
        let capacity = shard_capacity(settings.tracked_keys);
        let clock = AccessClock {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(LruCache::new(capacity)))
                .collect(),
            hasher: Default::default(),
            enabled: AtomicBool::new(false),
            forgotten_ms: AtomicU64::new(now_ms),
            lfu_policy: AtomicBool::new(false),
            log_factor: AtomicU32::new(0),
            decay_minutes: AtomicU32::new(0),
        };
        clock.configure(settings);
        clock
    }

    /// Applies changed settings (CONFIG SET); shrinking forgets the least recently used keys.
    pub fn configure(&self, settings: &AccessSettings) {
        self.lfu_policy
            .store(settings.lfu_policy, Ordering::Relaxed);
        self.log_factor
            .store(settings.lfu_log_factor, Ordering::Relaxed);
        self.decay_minutes
            .store(settings.lfu_decay_minutes, Ordering::Relaxed);
        let enabled = settings.tracked_keys > 0;
        self.enabled.store(enabled, Ordering::Relaxed);
        let capacity = if enabled {
            shard_capacity(settings.tracked_keys)
        } else {
            NonZeroUsize::MIN
        };
        for shard in self.shards.iter() {
            let mut map = shard.lock();
            while map.len() > capacity.get() || (!enabled && !map.is_empty()) {
                if let Some((_, gone)) = map.pop_lru() {
                    self.forget(&gone);
                }
            }
            map.resize(capacity);
        }
    }

    /// Whether an LFU `maxmemory-policy` is selected.
    pub fn lfu_policy(&self) -> bool {
        self.lfu_policy.load(Ordering::Relaxed)
    }

    fn slot(&self, db: u16, key: &[u8]) -> (&Mutex<LruCache<u64, Access>>, u64) {
        let hash = self.hasher.hash_one((db, key));
        (&self.shards[(hash as usize) % SHARDS], hash)
    }

    /// Notes that a key used at `gone.last_ms` is no longer remembered.
    fn forget(&self, gone: &Access) {
        self.forgotten_ms.fetch_max(gone.last_ms, Ordering::Relaxed);
    }

    /// Remembers `access` for `hash` (nothing while tracking is off).
    fn remember(&self, map: &mut LruCache<u64, Access>, hash: u64, access: Access) {
        if !self.enabled.load(Ordering::Relaxed) {
            return;
        }
        if let Some((evicted_hash, gone)) = map.push(hash, access) {
            if evicted_hash != hash {
                self.forget(&gone);
            }
        }
    }

    /// The counter `access` has now, after the decay of the minutes it went unused (Redis's
    /// `LFUDecrAndReturn`).
    fn decayed(&self, access: &Access, now_ms: u64) -> u8 {
        let decay = u64::from(self.decay_minutes.load(Ordering::Relaxed));
        if decay == 0 {
            return access.counter;
        }
        let periods = minute(now_ms).saturating_sub(access.counter_minute) / decay;
        access.counter.saturating_sub(periods.min(255) as u8)
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

    fn fresh(now_ms: u64) -> Access {
        Access {
            last_ms: now_ms,
            counter_minute: minute(now_ms),
            counter: LFU_INIT_VAL,
        }
    }

    /// Records an access to `key` of physical database `db` (Redis's `lookupKey` without
    /// `LOOKUP_NOTOUCH`). A key seen for the first time starts as a new key.
    pub fn touch(&self, db: u16, key: &[u8], now_ms: u64) {
        if !self.enabled.load(Ordering::Relaxed) {
            return;
        }
        let (shard, hash) = self.slot(db, key);
        let mut map = shard.lock();
        match map.get_mut(&hash) {
            Some(access) => {
                access.counter = self.incremented(self.decayed(access, now_ms));
                access.counter_minute = minute(now_ms);
                access.last_ms = now_ms;
            }
            None => self.remember(&mut map, hash, Self::fresh(now_ms)),
        }
    }

    /// Milliseconds since `key` was last used; for a key the clock does not know, since the
    /// latest time it can have been used.
    pub fn idle_ms(&self, db: u16, key: &[u8], now_ms: u64) -> u64 {
        let (shard, hash) = self.slot(db, key);
        let last = match shard.lock().peek(&hash) {
            Some(access) => access.last_ms,
            None => self.forgotten_ms.load(Ordering::Relaxed),
        };
        now_ms.saturating_sub(last)
    }

    /// The key's access frequency counter, decayed to now (OBJECT FREQ).
    pub fn frequency(&self, db: u16, key: &[u8], now_ms: u64) -> u8 {
        let (shard, hash) = self.slot(db, key);
        match shard.lock().peek(&hash) {
            Some(access) => self.decayed(access, now_ms),
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
        let (shard, hash) = self.slot(db, key);
        let mut map = shard.lock();
        let mut access = map
            .peek(&hash)
            .copied()
            .unwrap_or_else(|| Self::fresh(now_ms));
        match (self.lfu_policy(), idle_seconds, frequency) {
            (true, _, Some(counter)) => {
                access.counter = counter;
                access.counter_minute = minute(now_ms);
            }
            (false, Some(idle), _) => {
                access.last_ms = now_ms.saturating_sub(idle.saturating_mul(1000));
            }
            _ => return,
        }
        self.remember(&mut map, hash, access);
    }

    /// Forgets every key (FLUSHDB, FLUSHALL): a key created afterwards is new.
    pub fn forget_all(&self, now_ms: u64) {
        for shard in self.shards.iter() {
            shard.lock().clear();
        }
        self.forgotten_ms.fetch_max(now_ms, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock(tracked_keys: usize, lfu_policy: bool) -> AccessClock {
        let settings = AccessSettings {
            tracked_keys,
            lfu_policy,
            lfu_log_factor: 10,
            lfu_decay_minutes: 1,
        };
        AccessClock::new(&settings, 1_000_000)
    }

    #[test]
    fn idle_time_counts_from_the_last_touch() {
        let clock = clock(1000, false);
        clock.touch(0, b"k", 2_000_000);
        assert_eq!(clock.idle_ms(0, b"k", 2_005_000), 5_000);
        // Another database's key of the same name is another key: never seen since start.
        assert_eq!(clock.idle_ms(1, b"k", 2_005_000), 1_005_000);
        clock.restore(0, b"k", Some(1000), Some(7), 2_005_000);
        assert_eq!(clock.idle_ms(0, b"k", 2_005_000), 1_000_000);
        // Not an LFU policy: FREQ was ignored.
        assert_eq!(clock.frequency(0, b"k", 2_005_000), LFU_INIT_VAL);
    }

    #[test]
    fn a_forgotten_key_is_idle_at_least_since_the_newest_forgotten_access() {
        let clock = clock(SHARDS, false);
        // Shards hold one key each: touching many keys evicts most of them.
        for i in 0..100u64 {
            clock.touch(0, &i.to_be_bytes(), 1_000_000 + i);
        }
        let forgotten = (0..100u64)
            .filter(|i| clock.idle_ms(0, &i.to_be_bytes(), 2_000_000) != 2_000_000 - 1_000_000 - i)
            .count();
        // Each shard keeps its last key; the newest forgotten one also reads exactly.
        assert!(forgotten >= 100 - SHARDS - 1, "{forgotten} keys forgotten");
        for i in 0..100u64 {
            // Never more idle than it really is.
            assert!(clock.idle_ms(0, &i.to_be_bytes(), 2_000_000) <= 2_000_000 - 1_000_000 - i);
        }
    }

    #[test]
    fn frequency_grows_logarithmically_and_decays_per_period() {
        let clock = clock(1000, true);
        let now = 60_000_000;
        clock.restore(0, b"k", Some(50), Some(100), now);
        assert_eq!(clock.frequency(0, b"k", now), 100);
        // Idle time is not set under an LFU policy.
        assert_eq!(clock.idle_ms(0, b"k", now), 0);
        // Three idle minutes with a one-minute decay take three off.
        assert_eq!(clock.frequency(0, b"k", now + 3 * 60_000), 97);
        let fresh = clock.frequency(0, b"new", now);
        assert_eq!(fresh, LFU_INIT_VAL);
        for _ in 0..1000 {
            clock.touch(0, b"hot", now);
        }
        let hot = clock.frequency(0, b"hot", now);
        // log-factor 10: about 1000 hits reach the low twenties, far from 1000.
        assert!((10..40).contains(&hot), "counter {hot}");
    }

    #[test]
    fn turning_tracking_off_forgets_everything() {
        let clock = clock(1000, false);
        clock.touch(0, b"k", 1_500_000);
        clock.configure(&AccessSettings {
            tracked_keys: 0,
            lfu_policy: false,
            lfu_log_factor: 10,
            lfu_decay_minutes: 1,
        });
        clock.touch(0, b"k", 1_600_000);
        assert_eq!(clock.idle_ms(0, b"k", 1_700_000), 200_000);
    }
}
