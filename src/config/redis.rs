//! Redis 7.0's parameter types: how `CONFIG SET` (and a `redis.conf` line) parses, checks and
//! shows a value, with Redis's error texts (`src/config.c` of Redis 7.0.15).
//!
//! Every option that has a Redis name carries one of these, whether Kiwi acts on it (`maxclients`,
//! `appendfsync`, ...) or only stores it (the table in `compat.rs`): the text is checked the way
//! Redis checks it, then turned into the form `CONFIG GET` shows (`1gb` → `1073741824`, `KEA` →
//! `AKE`), which is what the option stores. Redis parses by hand with C library calls
//! (`strtoll`, `memtoull`, `string2ll`); the helpers below follow them where their quirks show in
//! a reply (`CONFIG SET maxmemory ""` is 0, `save "3600 "` is `3600 0`).

use crate::util::number::parse_i64;

/// Sentinel bounds Redis writes as C limits.
pub const INT_MAX: i64 = i32::MAX as i64;
pub const INT_MIN: i64 = i32::MIN as i64;
pub const UINT_MAX: u64 = u32::MAX as u64;
pub const LONG_MAX: i64 = i64::MAX;

/// An extra check of a parsed value (Redis's `is_valid_fn`): the error text, if refused.
pub type Check<T> = Option<fn(T) -> Result<(), &'static str>>;
/// [`Check`] of a string value.
pub type StrCheck = Option<fn(&str) -> Result<(), &'static str>>;

/// A Redis parameter's type, as its `create*Config` line in `config.c` declares it.
#[derive(Clone, Copy)]
pub enum RedisType {
    /// `yes` / `no`, with an optional extra check of the new value.
    Bool(Check<bool>),
    /// A number between bounds.
    Num(Num),
    /// One name of a list; names sharing a value show as the first of them.
    Enum(&'static [(&'static str, u32)]),
    /// Space-separated names whose values are OR-ed (`shutdown-on-sigterm "save now"`).
    Flags(&'static [(&'static str, u32)], Check<u32>),
    /// Any string, with an optional check.
    Str(StrCheck),
    /// A parameter with its own syntax (`save`, `bind`, `replicaof`, ...): `check` returns the
    /// text CONFIG GET shows. `multi`: several words, split on single spaces as Redis splits them.
    Special {
        multi: bool,
        check: fn(&[&str]) -> Result<String, String>,
    },
    /// Checked by the option's own Kiwi type, whose errors already are Redis's
    /// (`client-output-buffer-limit`, `notify-keyspace-events`).
    Native { multi: bool },
}

/// How a number may be written.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// A plain integer (Redis's `string2ll`: no sign but `-`, no spaces, no leading zeros).
    Integer,
    /// A byte count with an optional unit (`memtoull`: b, k, kb, m, mb, g, gb).
    Memory,
    /// A byte count or a percentage (`10%`, kept as -10 the way Redis keeps it).
    MemoryPercent,
    /// An octal number (`unixsocketperm`).
    Octal,
}

/// A numeric parameter: bounds, whether Redis compares them unsigned (its `unsigned int`,
/// `size_t` and `unsigned long long` parameters), and the accepted form.
#[derive(Clone, Copy)]
pub struct Num {
    pub min: i128,
    pub max: i128,
    pub unsigned: bool,
    pub form: Form,
}

/// Signed integer (`int`, `long`, `long long`, `time_t` ... parameters).
pub const fn int(min: i64, max: i64) -> RedisType {
    num(min as i128, max as i128, false, Form::Integer)
}

/// Unsigned integer (`unsigned int`, `size_t`).
pub const fn uint(min: u64, max: u64) -> RedisType {
    num(min as i128, max as i128, true, Form::Integer)
}

/// Signed byte count.
pub const fn mem(min: i64, max: i64) -> RedisType {
    num(min as i128, max as i128, false, Form::Memory)
}

/// Unsigned byte count.
pub const fn umem(min: u64, max: u64) -> RedisType {
    num(min as i128, max as i128, true, Form::Memory)
}

/// Byte count or percentage (`maxmemory-clients`).
pub const fn mem_percent(min: i64, max: i64) -> RedisType {
    num(min as i128, max as i128, false, Form::MemoryPercent)
}

/// Unsigned octal number.
pub const fn octal(min: u64, max: u64) -> RedisType {
    num(min as i128, max as i128, true, Form::Octal)
}

const fn num(min: i128, max: i128, unsigned: bool, form: Form) -> RedisType {
    RedisType::Num(Num {
        min,
        max,
        unsigned,
        form,
    })
}

/// A boolean with no extra check.
pub const BOOL: RedisType = RedisType::Bool(None);
/// A string with no check.
pub const STR: RedisType = RedisType::Str(None);

impl RedisType {
    /// Checks a value as `CONFIG SET` does and returns the text `CONFIG GET` then shows, or
    /// Redis's error text (what follows `CONFIG SET failed (possibly related to argument ...) - `).
    pub fn check(&self, text: &str) -> Result<String, String> {
        match *self {
            RedisType::Bool(extra) => {
                let value = if text.eq_ignore_ascii_case("yes") {
                    true
                } else if text.eq_ignore_ascii_case("no") {
                    false
                } else {
                    return Err("argument must be 'yes' or 'no'".into());
                };
                if let Some(extra) = extra {
                    extra(value)?;
                }
                Ok(if value { "yes" } else { "no" }.into())
            }
            RedisType::Num(num) => num.check(text),
            RedisType::Enum(names) => {
                let value = enum_value(names, text).ok_or_else(|| enum_error(names))?;
                Ok(enum_name(names, value, false))
            }
            RedisType::Flags(names, extra) => {
                let words = split_args(text);
                let mut value = 0;
                if words.is_empty() {
                    return Err(enum_error(names));
                }
                for word in words {
                    value |= enum_value(names, word).ok_or_else(|| enum_error(names))?;
                }
                if let Some(extra) = extra {
                    extra(value)?;
                }
                Ok(enum_name(names, value, true))
            }
            RedisType::Str(extra) => {
                if let Some(extra) = extra {
                    extra(text)?;
                }
                Ok(text.to_string())
            }
            RedisType::Special { multi, check } => match multi {
                true => check(&split_args(text)),
                false => check(&[text]),
            },
            RedisType::Native { .. } => Ok(text.to_string()),
        }
    }

    /// Whether a configuration file line may give it several words (`save 3600 1`).
    pub fn multi_word(&self) -> bool {
        matches!(
            self,
            RedisType::Flags(..)
                | RedisType::Special { multi: true, .. }
                | RedisType::Native { multi: true }
        )
    }

    /// What the docs say the value is.
    pub fn describe(&self) -> String {
        match self {
            RedisType::Bool(_) => "yes/no".into(),
            RedisType::Num(num) => {
                let (min, max) = (bound(num.min), bound(num.max));
                match num.form {
                    Form::Integer => format!("integer {min}..{max}"),
                    Form::Memory => format!("bytes {min}..{max}"),
                    Form::MemoryPercent => format!("bytes or percent of maxmemory, up to {max}"),
                    Form::Octal => format!("octal {:o}..{:o}", num.min, num.max),
                }
            }
            RedisType::Enum(names) => format!("one of {}", one_of(names)),
            RedisType::Flags(names, _) => format!("some of {}", one_of(names)),
            RedisType::Str(_) => "string".into(),
            RedisType::Special { .. } | RedisType::Native { .. } => "see Redis".into(),
        }
    }
}

/// A bound as the docs show it: C's limits by name.
fn bound(value: i128) -> String {
    match value {
        v if v == INT_MAX as i128 => "INT_MAX".into(),
        v if v == INT_MIN as i128 => "INT_MIN".into(),
        v if v == UINT_MAX as i128 => "UINT_MAX".into(),
        v if v == LONG_MAX as i128 => "LLONG_MAX".into(),
        v if v == u64::MAX as i128 => "ULLONG_MAX".into(),
        v => v.to_string(),
    }
}

/// Every name of an enum, comma-separated, as Redis's error lists them (and the docs, where a
/// `|` would break the Markdown table).
fn one_of(names: &[(&str, u32)]) -> String {
    let shown: Vec<&str> = names.iter().map(|(name, _)| *name).collect();
    shown.join(", ")
}

/// Redis splits a multi-word value on every single space: `"a  b"` has an empty middle word.
/// An empty value has no words.
fn split_args(text: &str) -> Vec<&str> {
    match text.is_empty() {
        true => Vec::new(),
        false => text.split(' ').collect(),
    }
}

fn enum_value(names: &[(&str, u32)], word: &str) -> Option<u32> {
    names
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(word))
        .map(|(_, value)| *value)
}

fn enum_error(names: &[(&str, u32)]) -> String {
    format!(
        "argument(s) must be one of the following: {}",
        one_of(names)
    )
}

/// Redis's `configEnumGetName`: the name of an exact value, else (flags) the names whose bits
/// it holds, in table order.
fn enum_name(names: &[(&str, u32)], value: u32, flags: bool) -> String {
    let mut parts: Vec<&str> = Vec::new();
    let mut unmatched = value;
    for (name, bits) in names {
        if *bits == value {
            return name.to_string();
        }
        if flags && *bits != 0 && bits & unmatched == *bits {
            parts.push(name);
            unmatched &= !bits;
        }
    }
    if parts.is_empty() || unmatched != 0 {
        return "unknown".into();
    }
    parts.join(" ")
}

impl Num {
    fn check(&self, text: &str) -> Result<String, String> {
        let value = self.parse(text)?;
        let percent = self.form == Form::MemoryPercent && value < 0;
        if self.unsigned {
            let unsigned = value as u64 as i128;
            if unsigned > self.max || unsigned < self.min {
                return Err(match self.form {
                    Form::Octal => format!(
                        "argument must be between {:o} and {:o} inclusive",
                        self.min, self.max
                    ),
                    _ => format!(
                        "argument must be between {} and {} inclusive",
                        self.min, self.max
                    ),
                });
            }
        } else if percent {
            if (value as i128) < self.min {
                return Err(format!(
                    "percentage argument must be less or equal to {}",
                    -self.min
                ));
            }
        } else if (value as i128) > self.max || (value as i128) < self.min {
            return Err(format!(
                "argument must be between {} and {} inclusive",
                self.min, self.max
            ));
        }
        Ok(match self.form {
            _ if percent => format!("{}%", -(value as i128)),
            Form::Memory | Form::MemoryPercent => (value as u64).to_string(),
            Form::Octal => format!("{:o}", value),
            Form::Integer if self.unsigned => (value as u64).to_string(),
            Form::Integer => value.to_string(),
        })
    }

    /// Redis's `numericParseString`: the stored `long long`, or the error for the form.
    fn parse(&self, text: &str) -> Result<i64, String> {
        if matches!(self.form, Form::Memory | Form::MemoryPercent) {
            if let Some(bytes) = memtoull(text) {
                return Ok(bytes as i64);
            }
        }
        if self.form == Form::MemoryPercent && text.len() > 1 {
            if let Some(digits) = text.strip_suffix('%') {
                if let Some(n) = parse_i64(digits.as_bytes()).filter(|n| *n >= 0) {
                    return Ok(-n);
                }
            }
        }
        if self.form == Form::Octal {
            if let Some((n, true, false)) = strtoll(text, 8) {
                return Ok(n);
            }
        }
        if self.form == Form::Integer {
            if let Some(n) = parse_i64(text.as_bytes()) {
                return Ok(n);
            }
        }
        Err(match self.form {
            Form::MemoryPercent => "argument must be a memory or percent value",
            Form::Memory => "argument must be a memory value",
            Form::Octal => "argument couldn't be parsed as an octal number",
            Form::Integer => "argument couldn't be parsed into an integer",
        }
        .into())
    }
}

/// Redis's `memtoull`: digits and an optional unit, case-insensitive. Like Redis: an empty number
/// is 0 (`""`, `"kb"`), an overflowing one saturates, and the product wraps.
pub fn memtoull(text: &str) -> Option<u64> {
    if text.starts_with('-') {
        return None;
    }
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let multiplier: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    if digits.len() >= 128 {
        return None;
    }
    let value = digits
        .bytes()
        .try_fold(0u64, |acc, d| {
            acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        })
        .unwrap_or(u64::MAX);
    Some(value.wrapping_mul(multiplier))
}

/// C's `strtoll` as Redis calls it: leading white space, an optional sign, digits of `base`.
/// Returns the value (saturated), whether the whole text was used, and whether it overflowed;
/// `None` only when the text is not even a prefix of a number and not empty (then C returns 0
/// with the end pointer at the start, which callers treat as "not consumed").
pub fn strtoll(text: &str, base: u32) -> Option<(i64, bool, bool)> {
    let trimmed = text.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (negative, rest) = match trimmed.as_bytes().first() {
        Some(b'-') => (true, &trimmed[1..]),
        Some(b'+') => (false, &trimmed[1..]),
        _ => (false, trimmed),
    };
    let digits = rest.find(|c: char| !c.is_digit(base)).unwrap_or(rest.len());
    if digits == 0 {
        // No conversion: the end pointer stays at the start of the text.
        return Some((0, text.is_empty(), false));
    }
    let mut value: i128 = 0;
    let mut overflow = false;
    for c in rest[..digits].chars() {
        value = value * i128::from(base) + i128::from(c.to_digit(base).unwrap_or(0));
        if value > i128::from(i64::MAX) + 1 {
            overflow = true;
            value = i128::from(i64::MAX) + 1;
        }
    }
    let value = if negative { -value } else { value };
    let clamped = value.clamp(i128::from(i64::MIN), i128::from(i64::MAX));
    overflow |= clamped != value;
    Some((clamped as i64, digits == rest.len(), overflow))
}

/// C's `strtoll(text, &end, 10)` followed by Redis's usual `*end == '\0'` check.
fn whole_strtoll(text: &str) -> Option<i64> {
    match strtoll(text, 10) {
        Some((n, true, _)) => Some(n),
        _ => None,
    }
}

// ---- The checks of particular parameters (Redis's `is_valid_fn`s and special setters). ----

/// `activedefrag`: Kiwi has no allocator to defragment; refused as a Redis built without
/// jemalloc's defrag support refuses it (Debian's build answers the same).
pub fn no_active_defrag(value: bool) -> Result<(), &'static str> {
    match value {
        true => Err("Active defragmentation cannot be enabled: it requires a Redis server compiled with a modified Jemalloc like the one shipped by default with the Redis source distribution"),
        false => Ok(()),
    }
}

/// Whether a path is a bare file name (Redis's `pathIsBaseName`).
fn is_base_name(path: &str) -> bool {
    !path.contains('/') && !path.contains('\\')
}

pub fn db_filename(value: &str) -> Result<(), &'static str> {
    match is_base_name(value) {
        true => Ok(()),
        false => Err("dbfilename can't be a path, just a filename"),
    }
}

pub fn aof_filename(value: &str) -> Result<(), &'static str> {
    match value {
        "" => Err("appendfilename can't be empty"),
        v if !is_base_name(v) => Err("appendfilename can't be a path, just a filename"),
        _ => Ok(()),
    }
}

pub fn aof_dirname(value: &str) -> Result<(), &'static str> {
    match value {
        "" => Err("appenddirname can't be empty"),
        v if !is_base_name(v) => Err("appenddirname can't be a path, just a dirname"),
        _ => Ok(()),
    }
}

pub fn shutdown_flags(value: u32) -> Result<(), &'static str> {
    // SAVE (1) and NOSAVE (2) together.
    match value & 3 == 3 {
        true => Err("shutdown options SAVE and NOSAVE can't be used simultaneously"),
        false => Ok(()),
    }
}

pub fn announced_hostname(value: &str) -> Result<(), &'static str> {
    if value.len() >= 256 {
        return Err("Hostnames must be less than 256 characters");
    }
    match value
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.')
    {
        true => Ok(()),
        false => Err("Hostnames may only contain alphanumeric characters, hyphens or dots"),
    }
}

/// `proc-title-template`: known `{variables}` only (`{{` is a literal brace), and something left
/// once expanded with an empty title.
pub fn proc_title_template(value: &str) -> Result<(), &'static str> {
    const INVALID: &str = "template format is invalid or contains unknown variables";
    let mut out = String::new();
    let mut rest = value;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        if after.is_empty() {
            return Err(INVALID);
        }
        if let Some(quoted) = after.strip_prefix('{') {
            out.push('{');
            rest = quoted;
            continue;
        }
        let close = after.find('}').ok_or(INVALID)?;
        out.push_str(match &after[..close] {
            "title" | "server-mode" | "unixsocket" => "",
            "listen-addr" | "config-file" | "port" | "tls-port" => "x",
            _ => return Err(INVALID),
        });
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    match out.trim_matches(' ').is_empty() {
        true => Err(INVALID),
        false => Ok(()),
    }
}

/// `save`: pairs of `<seconds> <changes>`, seconds at least 1; empty turns snapshots off.
pub fn save(words: &[&str]) -> Result<String, String> {
    const INVALID: &str = "Invalid save parameters";
    if words.len() % 2 == 1 {
        return Err(INVALID.into());
    }
    let mut pairs = Vec::new();
    for pair in words.chunks(2) {
        let seconds = whole_strtoll(pair[0]).filter(|s| *s >= 1);
        let changes = whole_strtoll(pair[1]).filter(|c| *c >= 0);
        match (seconds, changes) {
            // Redis keeps the count in an `int`.
            (Some(seconds), Some(changes)) => pairs.push(format!("{seconds} {}", changes as i32)),
            _ => return Err(INVALID.into()),
        }
    }
    Ok(pairs.join(" "))
}

/// `bind`: up to 16 addresses.
pub fn bind(words: &[&str]) -> Result<String, String> {
    match words.len() > 16 {
        true => Err("Too many bind addresses specified.".into()),
        false => Ok(words.join(" ")),
    }
}

/// `replicaof` / `slaveof`: `<host> <port>` or `no one`. An empty value (what CONFIG GET shows
/// for "not a replica") is taken too, so that a value shown can always be set back.
pub fn replicaof(words: &[&str]) -> Result<String, String> {
    if words.is_empty() {
        return Ok(String::new());
    }
    let [host, port] = words else {
        return Err("wrong number of arguments".into());
    };
    if host.eq_ignore_ascii_case("no") && port.eq_ignore_ascii_case("one") {
        return Ok(String::new());
    }
    match whole_strtoll(port).filter(|p| (0..=65535).contains(p)) {
        Some(port) => Ok(format!("{host} {port}")),
        None => Err("Invalid master port".into()),
    }
}

/// `oom-score-adj-values`: three values between -2000 and 2000.
pub fn oom_score_adj_values(words: &[&str]) -> Result<String, String> {
    if words.len() != 3 {
        return Err("wrong number of arguments".into());
    }
    let mut values = Vec::new();
    for word in words {
        match whole_strtoll(word).filter(|v| (-2000..=2000).contains(v)) {
            Some(v) => values.push(v.to_string()),
            None => {
                return Err(
                    "Invalid oom-score-adj-values, elements must be between -2000 and 2000.".into(),
                )
            }
        }
    }
    Ok(values.join(" "))
}

/// `latency-tracking-info-percentiles`: percentiles between 0 and 100, shown as `%f` without
/// trailing zeros.
pub fn percentiles(words: &[&str]) -> Result<String, String> {
    let mut shown = Vec::new();
    for word in words {
        let value = string2d(word)
            .ok_or_else(|| "Invalid latency-tracking-info-percentiles parameters".to_string())?;
        if !(0.0..=100.0).contains(&value) {
            return Err(
                "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"
                    .into(),
            );
        }
        let text = format!("{value:.6}");
        let text = text.trim_end_matches('0').trim_end_matches('.');
        shown.push(text.to_string());
    }
    Ok(shown.join(" "))
}

/// Redis's `string2d`: a whole `strtod` number, no leading space, not NaN, no overflow.
fn string2d(text: &str) -> Option<f64> {
    if text.is_empty() || text.starts_with(|c: char| c.is_ascii_whitespace()) {
        return None;
    }
    let value: f64 = text.parse().ok()?;
    let infinite_text = text.trim_start_matches(['+', '-']).to_ascii_lowercase();
    let overflow = value.is_infinite() && !infinite_text.starts_with("inf");
    (!value.is_nan() && !overflow).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_parse_like_redis() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in ["", "05", "+5", " 5", "1.5", "-", "9223372036854775808"] {
            assert_eq!(parse_i64(bad.as_bytes()), None, "{bad:?}");
        }
        assert_eq!(memtoull("1Gb"), Some(1 << 30));
        assert_eq!(memtoull("1k"), Some(1000));
        assert_eq!(memtoull(""), Some(0));
        assert_eq!(memtoull("kb"), Some(0));
        assert_eq!(memtoull("99999999999999999999"), Some(u64::MAX));
        for bad in ["-1", "1tb", "1 mb", " 1"] {
            assert_eq!(memtoull(bad), None, "{bad:?}");
        }
        assert_eq!(strtoll("  -12", 10), Some((-12, true, false)));
        assert_eq!(strtoll("", 10), Some((0, true, false)));
        assert_eq!(strtoll("12x", 10), Some((12, false, false)));
        assert_eq!(strtoll("x", 10), Some((0, false, false)));
    }

    #[test]
    fn numeric_checks_answer_redis_errors() {
        let maxclients = uint(1, UINT_MAX);
        assert_eq!(maxclients.check("10").unwrap(), "10");
        let bounds = "argument must be between 1 and 4294967295 inclusive";
        assert_eq!(maxclients.check("0").unwrap_err(), bounds);
        assert_eq!(maxclients.check("-1").unwrap_err(), bounds);
        let maxmemory = umem(0, u64::MAX);
        assert_eq!(maxmemory.check("1gb").unwrap(), "1073741824");
        assert_eq!(
            maxmemory.check("-1").unwrap_err(),
            "argument must be a memory value"
        );
        let clients = mem_percent(-100, LONG_MAX);
        assert_eq!(clients.check("10%").unwrap(), "10%");
        assert_eq!(
            clients.check("101%").unwrap_err(),
            "percentage argument must be less or equal to 100"
        );
        assert_eq!(
            clients.check("-5").unwrap_err(),
            "argument must be a memory or percent value"
        );
        assert_eq!(octal(0, 0o777).check("700").unwrap(), "700");
        assert_eq!(
            octal(0, 0o777).check("1000").unwrap_err(),
            "argument must be between 0 and 777 inclusive"
        );
    }

    #[test]
    fn enums_and_flags_show_their_first_name() {
        const OOM: &[(&str, u32)] = &[("no", 0), ("yes", 1), ("relative", 1), ("absolute", 2)];
        assert_eq!(RedisType::Enum(OOM).check("RELATIVE").unwrap(), "yes");
        const SHUTDOWN: &[(&str, u32)] = &[
            ("default", 0),
            ("save", 1),
            ("nosave", 2),
            ("now", 4),
            ("force", 8),
        ];
        let flags = RedisType::Flags(SHUTDOWN, Some(shutdown_flags));
        assert_eq!(flags.check("NOW Force save").unwrap(), "save now force");
        assert_eq!(flags.check("default now").unwrap(), "now");
        assert!(flags.check("").is_err());
        assert!(flags.check("save  now").is_err());
        assert!(flags.check("save nosave").unwrap_err().contains("NOSAVE"));
    }

    #[test]
    fn special_values() {
        assert_eq!(
            save(&["3600", "1", "300", "100"]).unwrap(),
            "3600 1 300 100"
        );
        assert_eq!(save(&["3600", ""]).unwrap(), "3600 0");
        assert!(save(&["0", "1"]).is_err());
        assert!(save(&["3600", "1", ""]).is_err());
        assert_eq!(save(&[]).unwrap(), "");
        assert_eq!(
            percentiles(&["50.0", "99.90", "1e1"]).unwrap(),
            "50 99.9 10"
        );
        assert!(percentiles(&["101"]).unwrap_err().contains("[0.0,100.0]"));
        assert!(percentiles(&["x"]).unwrap_err().starts_with("Invalid"));
        assert_eq!(replicaof(&["No", "ONE"]).unwrap(), "");
        assert_eq!(
            replicaof(&["h", "70000"]).unwrap_err(),
            "Invalid master port"
        );
        assert!(proc_title_template("{title} {listen-addr} {server-mode}").is_ok());
        assert!(proc_title_template("{title} {nope}").is_err());
        assert!(proc_title_template("").is_err());
        assert!(proc_title_template("{{x").is_ok());
    }
}
