//! Typed flag sets of the command table: what a command is ([`Flags`]) and what it does with
//! each of its keys ([`KeyFlags`]).
//!
//! Both are small bitsets. The flags Redis shows (COMMAND INFO, COMMAND GETKEYSANDFLAGS) have
//! their Redis name and are listed in Redis's reply order, so a reply built from a set is the
//! one Redis sends; Kiwi's own properties (which commands run at once inside MULTI, which go
//! through the Raft log...) sit in the same set but are never shown.

use std::fmt;
use std::ops::BitOr;

/// Defines a bitset type with const constructors and `names()` in the order of its `NAMES`.
macro_rules! bitset {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Default, Hash)]
        pub struct $name(u32);

        impl $name {
            /// No flag at all.
            pub const NONE: $name = $name(0);

            /// The union of `flags` (a const-friendly `a | b | c`, for the command table).
            pub const fn of(flags: &[$name]) -> $name {
                let mut bits = 0;
                let mut i = 0;
                while i < flags.len() {
                    bits |= flags[i].0;
                    i += 1;
                }
                $name(bits)
            }

            /// Whether every flag of `other` is set.
            pub const fn contains(self, other: $name) -> bool {
                self.0 & other.0 == other.0
            }

            /// Whether any flag of `other` is set.
            pub const fn intersects(self, other: $name) -> bool {
                self.0 & other.0 != 0
            }

            /// The names shown to clients, in Redis's order; hidden flags have none.
            pub fn names(self) -> impl Iterator<Item = &'static str> {
                Self::NAMES
                    .iter()
                    .filter(move |(flag, _)| self.contains(*flag))
                    .map(|(_, name)| *name)
            }
        }

        impl BitOr for $name {
            type Output = $name;
            fn bitor(self, other: $name) -> $name {
                $name(self.0 | other.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let names: Vec<&str> = self.names().collect();
                write!(f, "{}({:#x}: {})", stringify!($name), self.0, names.join(" "))
            }
        }
    };
}

bitset! {
    /// A command's flags: Redis's command flags, and Kiwi's own properties of a command.
    Flags
}

impl Flags {
    /// Modifies data (refused while the storage breaker is open, replicated in cluster mode).
    pub const WRITE: Flags = Flags(1 << 0);
    /// Reads data and changes nothing.
    pub const READONLY: Flags = Flags(1 << 1);
    /// May grow memory use (refused when out of memory in Redis).
    pub const DENYOOM: Flags = Flags(1 << 2);
    /// An administrative command (not fed to MONITOR).
    pub const ADMIN: Flags = Flags(1 << 3);
    /// A pub/sub command.
    pub const PUBSUB: Flags = Flags(1 << 4);
    /// Not allowed in scripts.
    pub const NOSCRIPT: Flags = Flags(1 << 5);
    /// May wait for data: BLPOP and friends wait on the network side (`server/blocking.rs`)
    /// while their storage attempt finds nothing to pop.
    pub const BLOCKING: Flags = Flags(1 << 6);
    /// Allowed while the data set loads.
    pub const LOADING: Flags = Flags(1 << 7);
    /// Allowed on a replica with stale data.
    pub const STALE: Flags = Flags(1 << 8);
    /// Not fed to MONITOR.
    pub const SKIP_MONITOR: Flags = Flags(1 << 9);
    /// Not recorded in the slow log.
    pub const SKIP_SLOWLOG: Flags = Flags(1 << 10);
    /// O(1) or O(log N): the latency monitor files it under `fast-command`.
    pub const FAST: Flags = Flags(1 << 11);
    /// Runs before authentication (AUTH, HELLO, QUIT, RESET) and is never refused by ACLs.
    pub const NO_AUTH: Flags = Flags(1 << 12);
    /// Refused inside MULTI ("Command not allowed inside a transaction").
    pub const NO_MULTI: Flags = Flags(1 << 13);
    /// Its key positions depend on its arguments (a key spec other than a fixed range).
    pub const MOVABLEKEYS: Flags = Flags(1 << 14);
    /// Allowed while a script is busy.
    pub const ALLOW_BUSY: Flags = Flags(1 << 15);
    /// May be called with no key at all although it takes keys (EVAL, FCALL with `numkeys` 0):
    /// COMMAND GETKEYS answers an empty list instead of an error.
    pub const NO_MANDATORY_KEYS: Flags = Flags(1 << 19);
    /// Refused while a replica loads its data in the background (Redis's flag, shown by COMMAND
    /// INFO; Kiwi has no such state).
    pub const NO_ASYNC_LOADING: Flags = Flags(1 << 16);

    // Kiwi's own properties, never shown.

    /// Runs a Lua script: its job holds the script gate exclusively, so nothing interleaves
    /// with the script (`state/scripts.rs`).
    pub const RUNS_SCRIPT: Flags = Flags(1 << 17);
    /// A subcommand of a storage command answered on the network runtime, because it must
    /// work while a script holds the storage runtime (FUNCTION STATS and KILL).
    pub const ON_NETWORK: Flags = Flags(1 << 18);
    /// Runs at once inside MULTI instead of being queued (EXEC, DISCARD, MULTI, WATCH, QUIT,
    /// RESET), as in Redis.
    pub const NOW_IN_MULTI: Flags = Flags(1 << 24);
    /// Never held back by CLIENT PAUSE (CLIENT, so that CLIENT UNPAUSE can lift a pause).
    pub const NOT_PAUSED: Flags = Flags(1 << 27);
    /// Allowed on a RESP2 connection in pub/sub mode ((P|S)(UN)SUBSCRIBE, PING, QUIT, RESET).
    pub const WHILE_SUBSCRIBED: Flags = Flags(1 << 25);
    /// Goes through the Raft log in cluster mode although it writes no data: PUBLISH and
    /// SPUBLISH, applied on every node so that every node's subscribers get the message
    /// (Redis's hidden `may_replicate`).
    pub const REPLICATED: Flags = Flags(1 << 26);
    /// Its first argument is a channel it publishes to: ACL channel patterns must match it.
    pub const PUBLISHES: Flags = Flags(1 << 28);
    /// Every argument is a channel it subscribes to: ACL channel patterns must match each.
    pub const SUBSCRIBES: Flags = Flags(1 << 29);
    /// Its channels are glob patterns (PSUBSCRIBE): an ACL channel pattern must equal each one,
    /// as in Redis, since matching a pattern against a pattern means nothing.
    pub const CHANNEL_PATTERNS: Flags = Flags(1 << 30);
    /// Held back by CLIENT PAUSE WRITE although it is not a write (Redis's hidden
    /// `may_replicate`): PFCOUNT, which may rewrite its key's cached cardinality.
    pub const MAY_REPLICATE: Flags = Flags(1 << 31);
    /// Looks at its keys without counting as a use of them (Redis's `LOOKUP_NOTOUCH`: EXISTS,
    /// TYPE, TTL and OBJECT leave OBJECT IDLETIME and FREQ as they were).
    pub const NO_TOUCH: Flags = Flags(1 << 20);

    /// The shown flags in Redis's order (`addReplyCommandFlags`) with their Redis names.
    const NAMES: &'static [(Flags, &'static str)] = &[
        (Flags::WRITE, "write"),
        (Flags::READONLY, "readonly"),
        (Flags::DENYOOM, "denyoom"),
        (Flags::ADMIN, "admin"),
        (Flags::PUBSUB, "pubsub"),
        (Flags::NOSCRIPT, "noscript"),
        (Flags::BLOCKING, "blocking"),
        (Flags::LOADING, "loading"),
        (Flags::STALE, "stale"),
        (Flags::SKIP_MONITOR, "skip_monitor"),
        (Flags::SKIP_SLOWLOG, "skip_slowlog"),
        (Flags::FAST, "fast"),
        (Flags::NO_AUTH, "no_auth"),
        (Flags::NO_MANDATORY_KEYS, "no_mandatory_keys"),
        (Flags::NO_ASYNC_LOADING, "no_async_loading"),
        (Flags::NO_MULTI, "no_multi"),
        (Flags::MOVABLEKEYS, "movablekeys"),
        (Flags::ALLOW_BUSY, "allow_busy"),
    ];
}

bitset! {
    /// What a command does with one key: Redis 7's key-spec flags, as COMMAND GETKEYSANDFLAGS
    /// shows them. ACL key patterns read them: `%R~` allows `ACCESS`, `%W~` allows `INSERT`,
    /// `DELETE` and `UPDATE`.
    KeyFlags
}

impl KeyFlags {
    /// Read-only: reads the value (with `ACCESS`) or only its metadata.
    pub const RO: KeyFlags = KeyFlags(1 << 0);
    /// Read-write: modifies the key.
    pub const RW: KeyFlags = KeyFlags(1 << 1);
    /// Overwrite: replaces the value without reading it.
    pub const OW: KeyFlags = KeyFlags(1 << 2);
    /// Remove: deletes the key.
    pub const RM: KeyFlags = KeyFlags(1 << 3);
    /// Returns, copies or otherwise uses user data of the key.
    pub const ACCESS: KeyFlags = KeyFlags(1 << 4);
    /// Updates data already in the value.
    pub const UPDATE: KeyFlags = KeyFlags(1 << 5);
    /// Adds data to the value without changing what is there.
    pub const INSERT: KeyFlags = KeyFlags(1 << 6);
    /// Deletes data from the value (or the key).
    pub const DELETE: KeyFlags = KeyFlags(1 << 7);
    /// Not a key, though it sits in a key position (shard channels): routed by, never checked.
    pub const NOT_KEY: KeyFlags = KeyFlags(1 << 8);
    /// The spec may miss keys.
    pub const INCOMPLETE: KeyFlags = KeyFlags(1 << 9);
    /// The flags depend on the arguments.
    pub const VARIABLE_FLAGS: KeyFlags = KeyFlags(1 << 10);

    /// In Redis's order (`addReplyFlagsForKeyArgs`).
    const NAMES: &'static [(KeyFlags, &'static str)] = &[
        (KeyFlags::RO, "RO"),
        (KeyFlags::RW, "RW"),
        (KeyFlags::OW, "OW"),
        (KeyFlags::RM, "RM"),
        (KeyFlags::ACCESS, "access"),
        (KeyFlags::UPDATE, "update"),
        (KeyFlags::INSERT, "insert"),
        (KeyFlags::DELETE, "delete"),
        (KeyFlags::NOT_KEY, "not_key"),
        (KeyFlags::INCOMPLETE, "incomplete"),
        (KeyFlags::VARIABLE_FLAGS, "variable_flags"),
    ];

    /// Whether an ACL key pattern must allow reading this key (Redis: `ACCESS`).
    pub fn needs_read(self) -> bool {
        self.contains(KeyFlags::ACCESS)
    }

    /// Whether an ACL key pattern must allow writing this key (Redis: `INSERT`, `DELETE` or
    /// `UPDATE`).
    pub fn needs_write(self) -> bool {
        self.intersects(KeyFlags::of(&[
            KeyFlags::INSERT,
            KeyFlags::DELETE,
            KeyFlags::UPDATE,
        ]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_redis_order_and_hide_kiwi_properties() {
        let flags = Flags::FAST | Flags::READONLY | Flags::NOW_IN_MULTI;
        assert_eq!(flags.names().collect::<Vec<_>>(), ["readonly", "fast"]);
        let key = KeyFlags::of(&[KeyFlags::UPDATE, KeyFlags::ACCESS, KeyFlags::RW]);
        assert_eq!(key.names().collect::<Vec<_>>(), ["RW", "access", "update"]);
        assert!(key.needs_read() && key.needs_write());
        assert!(!KeyFlags::RO.needs_read() && !KeyFlags::RO.needs_write());
        assert!(Flags::NONE.names().next().is_none());
    }
}
