//! Typed option values: how each is read from text and shown back by `CONFIG GET`.

use std::fmt;

/// A type usable as an option value.
pub trait ConfValue: Sized {
    /// Parses the text form; the error says what was expected.
    fn parse(text: &str) -> Result<Self, String>;
    /// The text `CONFIG GET` and `CONFIG REWRITE` show.
    fn render(&self) -> String;
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
    fn enums_list_choices_on_error() {
        assert_eq!(FsyncPolicy::parse("ALWAYS").unwrap(), FsyncPolicy::Always);
        assert!(Compression::parse("brotli").unwrap_err().contains("zstd"));
    }
}
