//! Typed option values: how each is read from text and shown back by `CONFIG GET`.

use std::fmt;

/// A type usable as an option value.
pub trait ConfValue: Sized {
    /// Parses the text form; the error says what was expected.
    fn parse(text: &str) -> Result<Self, String>;
    /// The text `CONFIG GET` and `CONFIG REWRITE` show.
    fn render(&self) -> String;
    /// Applies a value given in a file or by `CONFIG SET`. Replaces the whole value, except for
    /// compound options whose text may name only some of their parts.
    fn apply(&mut self, text: &str) -> Result<(), String> {
        *self = Self::parse(text)?;
        Ok(())
    }
}

macro_rules! int_value {
    ($($ty:ty),*) => {$(
        impl ConfValue for $ty {
            fn parse(text: &str) -> Result<Self, String> {
                text.trim().parse().map_err(|_| "argument couldn't be parsed into an integer".to_string())
            }
            fn render(&self) -> String {
                self.to_string()
            }
        }
    )*};
}
int_value!(u16, u32, u64, i32, i64, usize);

impl ConfValue for String {
    fn parse(text: &str) -> Result<Self, String> {
        Ok(text.to_string())
    }
    fn render(&self) -> String {
        self.clone()
    }
}

/// A byte count written with an optional unit: `1GB`, `512mb`, `64k`, `1073741824`.
/// Like Redis, `k/m/g` are powers of 1000 and `kb/mb/gb` powers of 1024; `b`, `tb`/`t` too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl ConfValue for ByteSize {
    fn parse(text: &str) -> Result<Self, String> {
        let lower = text.trim().to_ascii_lowercase();
        let split = lower
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(lower.len());
        let (digits, unit) = lower.split_at(split);
        let bad = || {
            format!("invalid size '{text}' (expected a number with an optional unit B, KB, MB, GB or TB)")
        };
        let number: u64 = digits.parse().map_err(|_| bad())?;
        let multiplier: u64 = match unit {
            "" | "b" => 1,
            "k" => 1000,
            "kb" => 1 << 10,
            "m" => 1000 * 1000,
            "mb" => 1 << 20,
            "g" => 1000 * 1000 * 1000,
            "gb" => 1 << 30,
            "t" => 1000 * 1000 * 1000 * 1000,
            "tb" => 1 << 40,
            _ => return Err(bad()),
        };
        number.checked_mul(multiplier).map(ByteSize).ok_or_else(bad)
    }
    fn render(&self) -> String {
        self.0.to_string()
    }
}

/// A thread count where `0` (or `auto`) means one per available core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Threads(pub usize);

impl Threads {
    /// The concrete thread count.
    pub fn resolve(self) -> usize {
        if self.0 > 0 {
            self.0
        } else {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        }
    }
}

impl ConfValue for Threads {
    fn parse(text: &str) -> Result<Self, String> {
        if text.eq_ignore_ascii_case("auto") {
            return Ok(Threads(0));
        }
        let n: usize = text
            .parse()
            .map_err(|_| format!("expected a thread count or 'auto', got '{text}'"))?;
        if n > 1024 {
            return Err("at most 1024 threads".into());
        }
        Ok(Threads(n))
    }
    fn render(&self) -> String {
        self.0.to_string()
    }
}

/// One client class's output buffer limits, in Redis's terms: a client is disconnected once its
/// pending output reaches `hard` bytes, or after staying at or above `soft` bytes for more than
/// `soft_seconds`. A zero limit is off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BufferLimit {
    pub hard: u64,
    pub soft: u64,
    pub soft_seconds: u64,
}

/// Redis's `client-output-buffer-limit`: one [`BufferLimit`] per client class, written as
/// `<class> <hard> <soft> <soft-seconds>` groups (`pubsub 32mb 8mb 60`). Setting some classes keeps
/// the others, as in Redis. Kiwi enforces the `pubsub` class on subscribers' message queues; the
/// `normal` and `replica` classes are kept so `CONFIG GET/SET` and Redis configuration files work
/// unchanged, but replies to ordinary clients stream with backpressure and never pile up, and
/// there are no replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputBufferLimits {
    pub normal: BufferLimit,
    pub replica: BufferLimit,
    pub pubsub: BufferLimit,
}

impl Default for OutputBufferLimits {
    /// Redis 7.0's defaults.
    fn default() -> Self {
        OutputBufferLimits {
            normal: BufferLimit::default(),
            replica: BufferLimit {
                hard: 256 << 20,
                soft: 64 << 20,
                soft_seconds: 60,
            },
            pubsub: BufferLimit {
                hard: 32 << 20,
                soft: 8 << 20,
                soft_seconds: 60,
            },
        }
    }
}

impl ConfValue for OutputBufferLimits {
    fn parse(text: &str) -> Result<Self, String> {
        let mut limits = OutputBufferLimits::default();
        limits.apply(text)?;
        Ok(limits)
    }

    fn render(&self) -> String {
        let group = |class: &str, l: &BufferLimit| {
            format!("{class} {} {} {}", l.hard, l.soft, l.soft_seconds)
        };
        [
            group("normal", &self.normal),
            group("slave", &self.replica),
            group("pubsub", &self.pubsub),
        ]
        .join(" ")
    }

    /// Validates every group before changing anything, with Redis's error texts.
    fn apply(&mut self, text: &str) -> Result<(), String> {
        let words: Vec<&str> = text.split_whitespace().collect();
        if words.len() % 4 != 0 {
            return Err("Wrong number of arguments in buffer limit configuration.".into());
        }
        let mut next = *self;
        for group in words.chunks(4) {
            let class = match group[0].to_ascii_lowercase().as_str() {
                "normal" => &mut next.normal,
                "slave" | "replica" => &mut next.replica,
                "pubsub" => &mut next.pubsub,
                _ => {
                    return Err(
                        "Invalid client class specified in buffer limit configuration.".into(),
                    )
                }
            };
            let bad = || {
                "Error in hard, soft or soft_seconds setting in buffer limit configuration."
                    .to_string()
            };
            *class = BufferLimit {
                hard: ByteSize::parse(group[1]).map_err(|_| bad())?.0,
                soft: ByteSize::parse(group[2]).map_err(|_| bad())?.0,
                soft_seconds: group[3].parse().map_err(|_| bad())?,
            };
        }
        *self = next;
        Ok(())
    }
}

macro_rules! enum_value {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name { $($variant),* }

        impl ConfValue for $name {
            fn parse(text: &str) -> Result<Self, String> {
                match text.to_ascii_lowercase().as_str() {
                    $($text => Ok($name::$variant),)*
                    _ => Err(format!(
                        "invalid value '{}' (expected one of: {})",
                        text,
                        [$($text),*].join(", ")
                    )),
                }
            }
            fn render(&self) -> String {
                match self { $($name::$variant => $text.to_string()),* }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.render())
            }
        }
    };
}

enum_value!(
    /// When the RocksDB write-ahead log reaches the disk (Redis's `appendfsync`).
    FsyncPolicy { Always = "always", Everysec = "everysec", No = "no" }
);
enum_value!(
    /// Log verbosity, with Redis's level names.
    LogLevel { Debug = "debug", Verbose = "verbose", Notice = "notice", Warning = "warning", Nothing = "nothing" }
);
enum_value!(
    /// What Redis does past `maxmemory`. Kiwi never evicts: every policy refuses `denyoom`
    /// commands as `noeviction` does.
    MaxmemoryPolicy {
        VolatileLru = "volatile-lru", VolatileLfu = "volatile-lfu", VolatileRandom = "volatile-random",
        VolatileTtl = "volatile-ttl", AllkeysLru = "allkeys-lru", AllkeysLfu = "allkeys-lfu",
        AllkeysRandom = "allkeys-random", Noeviction = "noeviction",
    }
);
enum_value!(
    /// SST block compression.
    Compression { None = "none", Snappy = "snappy", Lz4 = "lz4", Zstd = "zstd" }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_accept_redis_units() {
        assert_eq!(ByteSize::parse("1GB").unwrap().0, 1 << 30);
        assert_eq!(ByteSize::parse("1gb").unwrap().0, 1 << 30);
        assert_eq!(ByteSize::parse("1g").unwrap().0, 1_000_000_000);
        assert_eq!(ByteSize::parse("512MB").unwrap().0, 512 << 20);
        assert_eq!(ByteSize::parse("64kb").unwrap().0, 64 << 10);
        assert_eq!(ByteSize::parse("100B").unwrap().0, 100);
        assert_eq!(ByteSize::parse("2TB").unwrap().0, 2 << 40);
        assert_eq!(ByteSize::parse("42").unwrap().0, 42);
        assert!(ByteSize::parse("1XB").is_err());
        assert!(ByteSize::parse("GB").is_err());
        assert!(ByteSize::parse("-1").is_err());
        assert!(ByteSize::parse("99999999999TB").is_err());
    }

    #[test]
    fn output_limits_change_only_the_named_classes() {
        let mut limits = OutputBufferLimits::default();
        assert_eq!(
            limits.render(),
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
        );
        limits.apply("PUBSUB 1mb 512kb 5").unwrap();
        limits.apply("").unwrap();
        assert_eq!(
            limits.render(),
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 524288 5"
        );
        assert!(limits
            .apply("pubsub 1mb 512kb")
            .unwrap_err()
            .contains("Wrong number"));
        assert!(limits
            .apply("master 1 1 1")
            .unwrap_err()
            .contains("Invalid client class"));
        assert!(limits
            .apply("normal 1 1 1 pubsub 1mb 2mb -1")
            .unwrap_err()
            .contains("soft_seconds"));
        assert_eq!(
            limits.normal,
            BufferLimit::default(),
            "a failed set changes nothing"
        );
    }

    #[test]
    fn enums_list_choices_on_error() {
        assert_eq!(FsyncPolicy::parse("ALWAYS").unwrap(), FsyncPolicy::Always);
        assert!(Compression::parse("brotli").unwrap_err().contains("zstd"));
    }
}
