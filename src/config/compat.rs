//! The Redis 7.0 parameters Kiwi accepts for compatibility: they mean nothing to a server that
//! keeps its data in RocksDB (replication, RDB and AOF files, TLS until Kiwi has it, I/O threads,
//! the allocator, defragmentation, ...), yet clients, admin tools and Redis's own test suite read
//! and set them. Each is stored with Redis's type, default and checks, so `CONFIG GET`, `CONFIG
//! SET`, `CONFIG REWRITE` and configuration files treat it exactly as Redis does, and
//! docs/configuration.md lists it as "accepted for compatibility".
//!
//! One line per parameter: `"name" | "alias" = "default", type, FLAGS;` where the type is one of
//! [`super::redis`]'s and the default is written as `CONFIG GET` shows it. A `///` line above
//! one says what Kiwi does instead, where that is worth knowing. Parameters that Kiwi acts on
//! are Kiwi options instead (`options!` in `mod.rs`), with their Redis type attached.

use std::collections::BTreeMap;

use super::redis::{self, *};
use super::{Config, OptionSpec, HIDDEN, IMMUTABLE, PROTECTED, SENSITIVE};

/// What a parameter of this table does on Kiwi when its line says nothing more.
const NO_EFFECT: &str = "Accepted for compatibility; no effect on Kiwi.";

macro_rules! compat {
    (@alias) => { None };
    (@alias $alias:literal) => { Some($alias) };
    (@note) => { NO_EFFECT };
    (@note $($note:literal)+) => { concat!($($note),+) };
    ($( $(#[doc = $note:literal])* $name:literal $(| $alias:literal)? = $default:literal, $ty:expr $(, $flag:ident)*; )*) => {
        /// Every Redis parameter Kiwi stores without acting on it, alphabetically.
        pub static COMPAT: &[OptionSpec] = &[
            $( OptionSpec {
                name: $name,
                alias: compat!(@alias $($alias)?),
                mutable: (0 $(| $flag)*) & IMMUTABLE == 0,
                flags: 0 $(| $flag)*,
                redis: Some($ty),
                default: Some($default),
                description: compat!(@note $($note)*),
                getter: |c: &Config| c.compat.get($name).cloned().unwrap_or_default(),
                setter: |c: &mut Config, v: &str| {
                    c.compat.insert($name, v.to_string());
                    Ok(())
                },
            }, )*
        ];

        /// The table's defaults, keyed by name.
        pub(super) fn defaults() -> BTreeMap<&'static str, String> {
            [$( ($name, $default.to_string()) ),*].into_iter().collect()
        }
    };
}

const ENDPOINT: &[(&str, u32)] = &[("ip", 0), ("hostname", 1), ("unknown-endpoint", 2)];
const OOM_SCORE_ADJ: &[(&str, u32)] = &[("no", 0), ("yes", 1), ("relative", 1), ("absolute", 2)];
const PROPAGATION_ERROR: &[(&str, u32)] = &[("ignore", 0), ("panic", 1), ("panic-on-replicas", 2)];
const PROTECTED_ACTION: &[(&str, u32)] = &[("no", 0), ("yes", 1), ("local", 2)];
const REPL_DISKLESS_LOAD: &[(&str, u32)] = &[("disabled", 0), ("on-empty-db", 1), ("swapdb", 2)];
const SANITIZE_DUMP: &[(&str, u32)] = &[("no", 0), ("yes", 1), ("clients", 2)];
const SHUTDOWN: &[(&str, u32)] = &[
    ("default", 0),
    ("save", 1),
    ("nosave", 2),
    ("now", 4),
    ("force", 8),
];
const SUPERVISED: &[(&str, u32)] = &[("upstart", 1), ("systemd", 2), ("auto", 3), ("no", 0)];
const SYSLOG_FACILITY: &[(&str, u32)] = &[
    ("user", 8),
    ("local0", 128),
    ("local1", 136),
    ("local2", 144),
    ("local3", 152),
    ("local4", 160),
    ("local5", 168),
    ("local6", 176),
    ("local7", 184),
];
const TLS_AUTH_CLIENTS: &[(&str, u32)] = &[("no", 0), ("yes", 1), ("optional", 2)];

const fn special(check: fn(&[&str]) -> Result<String, String>) -> RedisType {
    RedisType::Special { multi: true, check }
}

#[rustfmt::skip]
compat! {
    "active-defrag-cycle-max" = "25", int(1, 99);
    "active-defrag-cycle-min" = "1", int(1, 99);
    "active-defrag-ignore-bytes" = "104857600", umem(1, LONG_MAX as u64);
    "active-defrag-max-scan-fields" = "1000", int(1, LONG_MAX);
    "active-defrag-threshold-lower" = "10", int(0, 1000);
    "active-defrag-threshold-upper" = "100", int(0, 1000);
    /// Expired keys are swept `hz` times a second with a fixed effort.
    "active-expire-effort" = "1", int(1, 10);
    /// Kiwi has no allocator to defragment: `yes` is refused, as a Redis built without
    /// defragmentation support (Debian's) refuses it.
    "activedefrag" = "no", RedisType::Bool(Some(no_active_defrag));
    "activerehashing" = "yes", BOOL;
    "always-show-logo" = "no", BOOL, IMMUTABLE;
    "aof-disable-auto-gc" = "no", BOOL;
    "aof-load-truncated" = "yes", BOOL;
    "aof-rewrite-incremental-fsync" = "yes", BOOL;
    "aof-timestamp-enabled" = "no", BOOL;
    "aof-use-rdb-preamble" = "yes", BOOL;
    "aof_rewrite_cpulist" = "", STR, IMMUTABLE;
    "appenddirname" = "appendonlydir", RedisType::Str(Some(aof_dirname)), IMMUTABLE;
    "appendfilename" = "appendonly.aof", RedisType::Str(Some(aof_filename)), IMMUTABLE;
    /// Kiwi always logs every write to RocksDB's write-ahead log, synced as `appendfsync` says,
    /// whatever this says; there is no AOF file to turn on or off.
    "appendonly" = "no", BOOL;
    "auto-aof-rewrite-min-size" = "67108864", mem(0, LONG_MAX);
    "auto-aof-rewrite-percentage" = "100", int(0, INT_MAX);
    "bgsave_cpulist" = "", STR, IMMUTABLE;
    "bind-source-addr" = "", STR;
    "bio_cpulist" = "", STR, IMMUTABLE;
    "cluster-allow-pubsubshard-when-down" = "yes", BOOL;
    "cluster-allow-reads-when-down" = "no", BOOL;
    "cluster-allow-replica-migration" = "yes", BOOL;
    "cluster-announce-bus-port" = "0", int(0, 65535);
    "cluster-announce-hostname" = "", RedisType::Str(Some(announced_hostname));
    "cluster-announce-port" = "0", int(0, 65535);
    "cluster-announce-tls-port" = "0", int(0, 65535);
    "cluster-config-file" = "nodes.conf", STR, IMMUTABLE;
    /// Kiwi's cluster mode is Raft (`kiwi --init-cluster`, docs/cluster.md), not Redis Cluster;
    /// this stays as set.
    "cluster-enabled" = "no", BOOL, IMMUTABLE;
    "cluster-link-sendbuf-limit" = "0", umem(0, u64::MAX);
    "cluster-migration-barrier" = "1", int(0, INT_MAX);
    "cluster-node-timeout" = "15000", int(0, LONG_MAX);
    "cluster-port" = "0", int(0, 65535), IMMUTABLE;
    "cluster-preferred-endpoint-type" = "ip", RedisType::Enum(ENDPOINT);
    "cluster-replica-no-failover" | "cluster-slave-no-failover" = "no", BOOL;
    "cluster-replica-validity-factor" | "cluster-slave-validity-factor" = "10", int(0, INT_MAX);
    "cluster-require-full-coverage" = "yes", BOOL;
    "crash-log-enabled" = "yes", BOOL;
    "crash-memcheck-enabled" = "yes", BOOL;
    "daemonize" = "no", BOOL, IMMUTABLE;
    /// Kiwi keeps its data in RocksDB under `dir`; there is no RDB file.
    "dbfilename" = "dump.rdb", RedisType::Str(Some(db_filename)), PROTECTED;
    "disable-thp" = "yes", BOOL, IMMUTABLE;
    "dynamic-hz" = "yes", BOOL;
    /// Kiwi always accepts DEBUG.
    "enable-debug-command" = "no", RedisType::Enum(PROTECTED_ACTION), IMMUTABLE;
    /// Kiwi has no modules; MODULE is not a command.
    "enable-module-command" = "no", RedisType::Enum(PROTECTED_ACTION), IMMUTABLE;
    /// Takes effect: `yes` lets CONFIG SET change `dbfilename` (`dir` never changes at runtime
    /// on Kiwi). `local` counts as `no`.
    "enable-protected-configs" = "no", RedisType::Enum(PROTECTED_ACTION), IMMUTABLE;
    "ignore-warnings" = "", STR;
    "io-threads" = "1", int(1, 128), IMMUTABLE;
    "io-threads-do-reads" = "no", BOOL, IMMUTABLE;
    "jemalloc-bg-thread" = "yes", BOOL;
    "key-load-delay" = "0", int(INT_MIN, INT_MAX), HIDDEN;
    /// LATENCY HISTOGRAM and INFO's latency statistics are not implemented yet.
    "latency-tracking" = "yes", BOOL;
    /// LATENCY HISTOGRAM and INFO's latency statistics are not implemented yet.
    "latency-tracking-info-percentiles" = "50 99 99.9", special(redis::percentiles);
    "lazyfree-lazy-eviction" = "no", BOOL;
    "lazyfree-lazy-expire" = "no", BOOL;
    "lazyfree-lazy-server-del" = "no", BOOL;
    "lazyfree-lazy-user-del" = "no", BOOL;
    "lazyfree-lazy-user-flush" = "no", BOOL;
    /// A list is one RocksDB row per element; OBJECT ENCODING reports `quicklist` for every
    /// list, as Redis 7.0 does.
    "list-compress-depth" = "0", int(0, INT_MAX);
    /// A list is one RocksDB row per element; OBJECT ENCODING reports `quicklist` for every
    /// list, as Redis 7.0 does.
    "list-max-listpack-size" | "list-max-ziplist-size" = "-2", int(INT_MIN, INT_MAX);
    "loading-process-events-interval-bytes" = "2097152", int(1024, INT_MAX), HIDDEN;
    "masterauth" = "", STR, SENSITIVE;
    "masteruser" = "", STR, SENSITIVE;
    /// Client memory is bounded by `client-query-buffer-limit` and `client-output-buffer-limit`.
    "maxmemory-clients" = "0", mem_percent(-100, LONG_MAX);
    "maxmemory-eviction-tenacity" = "10", int(0, 100);
    "maxmemory-samples" = "5", int(1, INT_MAX);
    "min-replicas-max-lag" | "min-slaves-max-lag" = "10", int(0, INT_MAX);
    "min-replicas-to-write" | "min-slaves-to-write" = "0", int(0, INT_MAX);
    "no-appendfsync-on-rewrite" = "no", BOOL;
    "oom-score-adj" = "no", RedisType::Enum(OOM_SCORE_ADJ);
    "oom-score-adj-values" = "0 200 800", special(redis::oom_score_adj_values);
    "pidfile" = "", STR, IMMUTABLE;
    "proc-title-template" = "{title} {listen-addr} {server-mode}", RedisType::Str(Some(proc_title_template));
    "propagation-error-behavior" = "ignore", RedisType::Enum(PROPAGATION_ERROR);
    /// Kiwi listens on `bind` only (127.0.0.1 by default) and asks for `requirepass` when set.
    "protected-mode" = "yes", BOOL;
    "rdb-del-sync-files" = "no", BOOL;
    "rdb-key-save-delay" = "0", int(INT_MIN, INT_MAX), HIDDEN;
    "rdb-save-incremental-fsync" = "yes", BOOL;
    "rdbchecksum" = "yes", BOOL, IMMUTABLE;
    "rdbcompression" = "yes", BOOL;
    "repl-backlog-size" = "1048576", mem(1, LONG_MAX);
    "repl-backlog-ttl" = "3600", int(0, LONG_MAX);
    "repl-disable-tcp-nodelay" = "no", BOOL;
    "repl-diskless-load" = "disabled", RedisType::Enum(REPL_DISKLESS_LOAD);
    "repl-diskless-sync" = "yes", BOOL;
    "repl-diskless-sync-delay" = "5", int(0, INT_MAX);
    "repl-diskless-sync-max-replicas" = "0", int(0, INT_MAX);
    "repl-ping-replica-period" | "repl-ping-slave-period" = "10", int(1, INT_MAX);
    "repl-timeout" = "60", int(1, INT_MAX);
    "replica-announce-ip" | "slave-announce-ip" = "", STR;
    "replica-announce-port" | "slave-announce-port" = "0", int(0, 65535);
    "replica-announced" = "yes", BOOL;
    "replica-ignore-disk-write-errors" = "no", BOOL;
    "replica-ignore-maxmemory" | "slave-ignore-maxmemory" = "yes", BOOL;
    "replica-lazy-flush" | "slave-lazy-flush" = "no", BOOL;
    "replica-priority" | "slave-priority" = "100", int(0, INT_MAX);
    "replica-read-only" | "slave-read-only" = "yes", BOOL;
    "replica-serve-stale-data" | "slave-serve-stale-data" = "yes", BOOL;
    /// Kiwi replicates through Raft (docs/cluster.md), not as a Redis replica.
    "replicaof" | "slaveof" = "", special(redis::replicaof), IMMUTABLE;
    "sanitize-dump-payload" = "no", RedisType::Enum(SANITIZE_DUMP);
    /// Kiwi always logs every write to RocksDB's write-ahead log, synced as `appendfsync` says;
    /// there are no snapshots to schedule.
    "save" = "3600 1 300 100 60 10000", special(redis::save);
    "server_cpulist" = "", STR, IMMUTABLE;
    "set-proc-title" = "yes", BOOL, IMMUTABLE;
    /// Kiwi shuts down gracefully on SIGINT and SIGTERM, its data already on disk.
    "shutdown-on-sigint" = "default", RedisType::Flags(SHUTDOWN, Some(shutdown_flags));
    /// Kiwi shuts down gracefully on SIGINT and SIGTERM, its data already on disk.
    "shutdown-on-sigterm" = "default", RedisType::Flags(SHUTDOWN, Some(shutdown_flags));
    "shutdown-timeout" = "10", int(0, INT_MAX);
    "socket-mark-id" = "0", uint(0, UINT_MAX), IMMUTABLE;
    "stop-writes-on-bgsave-error" = "yes", BOOL;
    "supervised" = "no", RedisType::Enum(SUPERVISED), IMMUTABLE;
    "syslog-enabled" = "no", BOOL, IMMUTABLE;
    "syslog-facility" = "local0", RedisType::Enum(SYSLOG_FACILITY), IMMUTABLE;
    "syslog-ident" = "redis", STR, IMMUTABLE;
    "tcp-backlog" = "511", int(0, INT_MAX), IMMUTABLE;
    "tcp-keepalive" = "300", int(0, INT_MAX);
    "tls-auth-clients" = "yes", RedisType::Enum(TLS_AUTH_CLIENTS);
    "tls-ca-cert-dir" = "", STR;
    "tls-ca-cert-file" = "", STR;
    "tls-cert-file" = "", STR;
    "tls-ciphers" = "", STR;
    "tls-ciphersuites" = "", STR;
    "tls-client-cert-file" = "", STR;
    "tls-client-key-file" = "", STR;
    "tls-client-key-file-pass" = "", STR, SENSITIVE;
    "tls-cluster" = "no", BOOL;
    "tls-dh-params-file" = "", STR;
    "tls-key-file" = "", STR;
    "tls-key-file-pass" = "", STR, SENSITIVE;
    /// Kiwi does not speak TLS yet: setting a port opens nothing.
    "tls-port" = "0", int(0, 65535);
    "tls-prefer-server-ciphers" = "no", BOOL;
    "tls-protocols" = "", STR;
    "tls-replication" = "no", BOOL;
    "tls-session-cache-size" = "20480", int(0, INT_MAX);
    "tls-session-cache-timeout" = "300", int(0, INT_MAX);
    "tls-session-caching" = "yes", BOOL;
    /// Client-side caching is not implemented yet.
    "tracking-table-max-keys" = "1000000", uint(0, LONG_MAX as u64);
    "unixsocket" = "", STR, IMMUTABLE;
    "unixsocketperm" = "0", octal(0, 0o777), IMMUTABLE;
    "use-exit-on-panic" = "no", BOOL, HIDDEN;
    "watchdog-period" = "0", int(0, INT_MAX), HIDDEN;
}
