//! What is sent: command templates with placeholders, the built-in tests, and weighted mixes.
//!
//! A template is compiled once into pieces (literal bytes and placeholders) so that encoding a
//! request is a handful of `extend_from_slice` calls into the connection's reusable output
//! buffer: no string formatting, no allocation per request.

use super::keys::{KeyGen, Rng};

/// Width of a key number in a key or value (`key:000000001234`), as redis-benchmark does, so
/// that key and value sizes are comparable with its numbers.
pub const KEY_DIGITS: usize = 12;

/// The built-in tests: name and template. Keys shared by all clients (`mylist`, `myset`, ...)
/// follow redis-benchmark, so the two tools measure the same thing.
const BUILTIN: &[(&str, &str)] = &[
    ("ping", "PING"),
    ("set", "SET key:__key__ __data__"),
    ("get", "GET key:__key__"),
    ("incr", "INCR counter:__key__"),
    ("lpush", "LPUSH mylist __data__"),
    ("rpush", "RPUSH mylist __data__"),
    ("lpop", "LPOP mylist"),
    ("rpop", "RPOP mylist"),
    ("sadd", "SADD myset element:__key__"),
    ("hset", "HSET myhash element:__key__ __data__"),
    ("spop", "SPOP myset"),
    ("zadd", "ZADD myzset __rand_int__ element:__key__"),
    ("zpopmin", "ZPOPMIN myzset"),
    ("lrange_100", "LRANGE mylist 0 99"),
    ("lrange_600", "LRANGE mylist 0 599"),
    (
        "mset",
        "MSET key:__key__ __data__ key:__key__ __data__ key:__key__ __data__ key:__key__ __data__ \
         key:__key__ __data__ key:__key__ __data__ key:__key__ __data__ key:__key__ __data__ \
         key:__key__ __data__ key:__key__ __data__",
    ),
];

/// Names of the built-in tests, for help texts and errors.
pub fn builtin_names() -> Vec<&'static str> {
    BUILTIN.iter().map(|(name, _)| *name).collect()
}

/// How long the list the LRANGE tests read must be (redis-benchmark pushes the same 600).
pub const LRANGE_LIST_LEN: u64 = 600;

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Literal(Vec<u8>),
    /// A key number from the key pattern, zero-padded to [`KEY_DIGITS`].
    Key,
    /// A uniform random number in the key space, zero-padded (redis-benchmark's placeholder).
    RandInt,
    /// The value; see [`ValueSpec`].
    Data,
}

#[derive(Debug, Clone, PartialEq)]
struct Arg {
    pieces: Vec<Piece>,
    /// Length without the value pieces (literals and numbers have fixed widths).
    fixed_len: usize,
    data_count: usize,
}

/// One command template, compiled.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    /// Lower-case command name, the row label in reports (`set`, `hset`, ...).
    pub command: String,
    args: Vec<Arg>,
    keys_per_request: usize,
}

impl Template {
    /// Compiles a redis-cli style line (`HSET h:__key__ f "a b"`); quotes group words.
    pub fn parse(line: &str) -> Result<Template, String> {
        let words = split_words(line)?;
        let Some(first) = words.first() else {
            return Err("empty command".into());
        };
        let command = String::from_utf8_lossy(first).to_ascii_lowercase();
        let args: Vec<Arg> = words.iter().map(|w| compile_arg(w)).collect();
        let keys_per_request = args
            .iter()
            .flat_map(|a| &a.pieces)
            .filter(|p| **p == Piece::Key)
            .count();
        Ok(Template {
            command,
            args,
            keys_per_request,
        })
    }

    /// The template of a built-in test.
    pub fn builtin(name: &str) -> Option<Template> {
        let (_, line) = BUILTIN.iter().find(|(n, _)| n.eq_ignore_ascii_case(name))?;
        Template::parse(line).ok()
    }

    /// Adds `EX seconds` to a SET, the one built-in write where an expiry is an option.
    pub fn with_expiry(mut self, seconds: u64) -> Template {
        if self.command == "set" {
            for word in ["EX".to_string(), seconds.to_string()] {
                self.args.push(compile_arg(word.as_bytes()));
            }
        }
        self
    }

    /// Appends one request to `out` and returns the request's first key (the one `--verify`
    /// checks), drawing keys, numbers and value sizes from `fill`.
    pub fn encode(&self, out: &mut Vec<u8>, fill: &mut Fill) -> u64 {
        fill.keys.clear();
        for _ in 0..self.keys_per_request {
            let key = fill.keygen.next(&mut fill.rng);
            fill.keys.push(key);
        }
        let first_key = fill.keys.first().copied().unwrap_or(0);
        push_header(out, b'*', self.args.len());
        let mut key_index = 0;
        for arg in &self.args {
            // The value belongs to the key drawn just before it (MSET's key/value pairs).
            let value_key = fill
                .keys
                .get(key_index.max(1) - 1)
                .copied()
                .unwrap_or(first_key);
            let value_len = fill.values.len_for(value_key);
            push_header(out, b'$', arg.fixed_len + arg.data_count * value_len);
            for piece in &arg.pieces {
                match piece {
                    Piece::Literal(bytes) => out.extend_from_slice(bytes),
                    Piece::Key => {
                        let key = fill.keys.get(key_index).copied().unwrap_or(0);
                        key_index += 1;
                        push_padded(out, key);
                    }
                    Piece::RandInt => {
                        let n = fill.rng.below(fill.keyspace);
                        push_padded(out, n);
                    }
                    Piece::Data => fill.values.push(out, value_key),
                }
            }
            out.extend_from_slice(b"\r\n");
        }
        first_key
    }
}

/// The value of a key: its size is a function of the key (fixed, or spread over a range), its
/// first bytes are the key number and the rest is random alphanumeric filler drawn from the
/// seed and the key. Because the value follows from the key alone, `--verify` can check any
/// read; because every key's filler differs, a compressing store (RocksDB) cannot squeeze a
/// data set into a fraction of its size, as it could `xxxx` values or one filler shared by all.
#[derive(Debug, Clone)]
pub struct ValueSpec {
    min: usize,
    max: usize,
    seed: u64,
}

/// The filler's characters.
const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

impl ValueSpec {
    /// Values of `min..=max` bytes; the filler is drawn from `seed` and each key.
    pub fn new(min: usize, max: usize, seed: u64) -> ValueSpec {
        ValueSpec {
            min,
            max: max.max(min),
            seed: seed ^ 0x5EED_DA7A,
        }
    }

    /// Calls `f` with each filler byte of `key`, for positions `from..to`.
    fn filler(&self, key: u64, from: usize, to: usize, mut f: impl FnMut(u8)) {
        let mut rng = Rng::new(self.seed ^ key.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut bits = 0u64;
        for i in 0..to {
            // Eight characters per draw: 6 bits each (a slight bias towards the first two).
            if i % 8 == 0 {
                bits = rng.next_u64();
            }
            let c = ALPHABET[(bits & 63) as usize % ALPHABET.len()];
            bits >>= 6;
            if i >= from {
                f(c);
            }
        }
    }

    /// The value size of `key`.
    pub fn len_for(&self, key: u64) -> usize {
        if self.min == self.max {
            return self.min;
        }
        // A multiplicative hash spreads consecutive keys over the whole range.
        let span = (self.max - self.min + 1) as u64;
        self.min + (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32).wrapping_rem(span) as usize
    }

    /// Appends the value of `key`.
    pub fn push(&self, out: &mut Vec<u8>, key: u64) {
        let len = self.len_for(key);
        let mut digits = [0u8; KEY_DIGITS];
        format_padded(&mut digits, key);
        let head = len.min(KEY_DIGITS);
        out.extend_from_slice(&digits[..head]);
        self.filler(key, head, len, |c| out.push(c));
    }

    /// Whether `value` is what [`push`](Self::push) writes for `key`.
    pub fn matches(&self, key: u64, value: &[u8]) -> bool {
        let len = self.len_for(key);
        let mut digits = [0u8; KEY_DIGITS];
        format_padded(&mut digits, key);
        let head = len.min(KEY_DIGITS);
        if value.len() != len || value[..head] != digits[..head] {
            return false;
        }
        let mut same = true;
        let mut rest = value[head..].iter();
        self.filler(key, head, len, |c| same &= rest.next() == Some(&c));
        same
    }
}

/// Per-connection state that fills placeholders.
#[derive(Debug, Clone)]
pub struct Fill {
    pub rng: Rng,
    pub keygen: KeyGen,
    pub keyspace: u64,
    pub values: std::sync::Arc<ValueSpec>,
    /// Keys drawn for the request being encoded (reused, so encoding does not allocate).
    keys: Vec<u64>,
}

impl Fill {
    /// Placeholder state for one connection.
    pub fn new(rng: Rng, keygen: KeyGen, keyspace: u64, values: std::sync::Arc<ValueSpec>) -> Fill {
        Fill {
            rng,
            keygen,
            keyspace: keyspace.max(1),
            values,
            keys: Vec::with_capacity(16),
        }
    }
}

/// A test: one template, or several drawn by weight (`--workload get:8,set:2`).
#[derive(Debug, Clone)]
pub struct Test {
    /// Label in reports.
    pub name: String,
    pub templates: Vec<Template>,
    /// Cumulative weights, for drawing a template with one random number.
    cumulative: Vec<u64>,
}

impl Test {
    /// A test of one template.
    pub fn single(name: &str, template: Template) -> Test {
        Test {
            name: name.to_string(),
            templates: vec![template],
            cumulative: vec![1],
        }
    }

    /// Parses `name:weight,...` (weight defaults to 1) over built-in tests.
    pub fn mix(spec: &str) -> Result<Test, String> {
        let mut templates = Vec::new();
        let mut cumulative = Vec::new();
        let mut total = 0u64;
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, weight) = match part.split_once(':') {
                Some((n, w)) => {
                    let w: u64 = w.trim().parse().map_err(|_| {
                        format!("weight '{w}' in workload '{spec}' is not a whole number")
                    })?;
                    (n.trim(), w)
                }
                None => (part, 1),
            };
            if weight == 0 {
                continue;
            }
            let template = Template::builtin(name).ok_or_else(|| unknown_test(name))?;
            total += weight;
            templates.push(template);
            cumulative.push(total);
        }
        if templates.is_empty() {
            return Err(format!(
                "workload '{spec}' has no command with a positive weight"
            ));
        }
        Ok(Test {
            name: "mix".into(),
            templates,
            cumulative,
        })
    }

    /// Draws which template the next request uses.
    pub fn pick(&self, rng: &mut Rng) -> usize {
        if self.templates.len() == 1 {
            return 0;
        }
        let total = self.cumulative.last().copied().unwrap_or(1);
        let ticket = rng.below(total);
        self.cumulative.partition_point(|&c| c <= ticket)
    }

    /// Whether the test reads the list the LRANGE tests need filled first.
    pub fn needs_list(&self) -> bool {
        self.templates.iter().any(|t| t.command == "lrange")
    }
}

/// The error for a test name we do not know.
pub fn unknown_test(name: &str) -> String {
    format!(
        "unknown test '{name}' (known: {})",
        builtin_names().join(", ")
    )
}

fn compile_arg(word: &[u8]) -> Arg {
    const PLACEHOLDERS: [(&[u8], Piece); 3] = [
        (b"__key__", Piece::Key),
        (b"__rand_int__", Piece::RandInt),
        (b"__data__", Piece::Data),
    ];
    let mut pieces = Vec::new();
    let mut literal = Vec::new();
    let mut rest = word;
    'scan: while !rest.is_empty() {
        for (name, piece) in &PLACEHOLDERS {
            if rest.starts_with(name) {
                if !literal.is_empty() {
                    pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                }
                pieces.push(piece.clone());
                rest = &rest[name.len()..];
                continue 'scan;
            }
        }
        literal.push(rest[0]);
        rest = &rest[1..];
    }
    if !literal.is_empty() {
        pieces.push(Piece::Literal(literal));
    }
    let fixed_len = pieces
        .iter()
        .map(|p| match p {
            Piece::Literal(b) => b.len(),
            Piece::Key | Piece::RandInt => KEY_DIGITS,
            Piece::Data => 0,
        })
        .sum();
    let data_count = pieces.iter().filter(|p| **p == Piece::Data).count();
    Arg {
        pieces,
        fixed_len,
        data_count,
    }
}

/// Splits a command line into words: whitespace separates, `"..."` and `'...'` group, and
/// `\"` or `\\` escape inside double quotes.
fn split_words(line: &str) -> Result<Vec<Vec<u8>>, String> {
    let mut words = Vec::new();
    let mut chars = line.bytes().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_ascii_whitespace() {
            chars.next();
            continue;
        }
        let mut word = Vec::new();
        while let Some(&c) = chars.peek() {
            if c.is_ascii_whitespace() {
                break;
            }
            chars.next();
            if c == b'"' || c == b'\'' {
                loop {
                    match chars.next() {
                        None => return Err(format!("unbalanced quotes in '{line}'")),
                        Some(q) if q == c => break,
                        Some(b'\\') if c == b'"' => match chars.next() {
                            Some(e) => word.push(e),
                            None => return Err(format!("unbalanced quotes in '{line}'")),
                        },
                        Some(other) => word.push(other),
                    }
                }
            } else {
                word.push(c);
            }
        }
        words.push(word);
    }
    Ok(words)
}

fn push_header(out: &mut Vec<u8>, kind: u8, n: usize) {
    out.push(kind);
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    out.extend_from_slice(b"\r\n");
}

fn format_padded(digits: &mut [u8; KEY_DIGITS], mut n: u64) {
    for d in digits.iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

fn push_padded(out: &mut Vec<u8>, n: u64) {
    let mut digits = [0u8; KEY_DIGITS];
    format_padded(&mut digits, n);
    out.extend_from_slice(&digits);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::keys::KeyPattern;
    use std::sync::Arc;

    fn fill(values: ValueSpec) -> Fill {
        Fill::new(
            Rng::new(1),
            KeyGen::new(KeyPattern::Sequential, 1000, 7),
            1000,
            Arc::new(values),
        )
    }

    fn encode(t: &Template, f: &mut Fill) -> String {
        let mut out = Vec::new();
        t.encode(&mut out, f);
        String::from_utf8(out).expect("ascii")
    }

    #[test]
    fn encodes_placeholders() {
        let mut f = fill(ValueSpec::new(15, 15, 3));
        let set = Template::builtin("set").expect("set");
        let text = encode(&set, &mut f);
        let mut filler = Vec::new();
        f.values.filler(7, 12, 15, |c| filler.push(c));
        let value = format!(
            "000000000007{}",
            std::str::from_utf8(&filler).expect("ascii")
        );
        assert_eq!(
            text,
            format!("*3\r\n$3\r\nSET\r\n$16\r\nkey:000000000007\r\n$15\r\n{value}\r\n")
        );
        // The next request takes the next sequential key.
        assert!(encode(&set, &mut f).contains("key:000000000008"));
    }

    #[test]
    fn parses_quoted_custom_commands() {
        let t = Template::parse(r#"HSET "h:__key__" 'a b' "x\"y" __data__"#).expect("parse");
        assert_eq!(t.command, "hset");
        let mut f = fill(ValueSpec::new(2, 2, 3));
        let text = encode(&t, &mut f);
        assert_eq!(
            text,
            "*5\r\n$4\r\nHSET\r\n$14\r\nh:000000000007\r\n$3\r\na b\r\n$3\r\nx\"y\r\n$2\r\n00\r\n"
        );
        assert!(Template::parse("GET 'open").is_err());
        assert!(Template::parse("   ").is_err());
    }

    #[test]
    fn mset_pairs_each_key_with_its_own_value() {
        let mut f = fill(ValueSpec::new(12, 12, 3));
        let text = encode(&Template::builtin("mset").expect("mset"), &mut f);
        assert!(text.starts_with("*21\r\n$4\r\nMSET\r\n$16\r\nkey:000000000007\r\n$12\r\n000000000007\r\n$16\r\nkey:000000000008\r\n$12\r\n000000000008\r\n"));
    }

    #[test]
    fn expiry_applies_to_set_only() {
        let mut f = fill(ValueSpec::new(1, 1, 3));
        let set = Template::builtin("set").expect("set").with_expiry(30);
        assert!(encode(&set, &mut f).ends_with("$2\r\nEX\r\n$2\r\n30\r\n"));
        let get = Template::builtin("get").expect("get");
        assert_eq!(get.clone().with_expiry(30), get);
    }

    #[test]
    fn values_follow_from_the_key() {
        let v = ValueSpec::new(4, 40, 9);
        let sizes: Vec<usize> = (0..200).map(|k| v.len_for(k)).collect();
        assert!(sizes.iter().all(|&s| (4..=40).contains(&s)));
        assert!(
            sizes.iter().min() < Some(&8) && sizes.iter().max() > Some(&36),
            "{sizes:?}"
        );
        let mut out = Vec::new();
        v.push(&mut out, 77);
        assert!(v.matches(77, &out));
        assert!(!v.matches(78, &out));
        out.push(b'z');
        assert!(!v.matches(77, &out));
        // Each key has its own filler: nothing for a compressor to share between values.
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let wide = ValueSpec::new(100, 100, 9);
        wide.push(&mut a, 1);
        wide.push(&mut b, 2);
        let same = a[12..].iter().zip(&b[12..]).filter(|(x, y)| x == y).count();
        assert!(same < 10, "{same} of 88 filler bytes equal");
    }

    #[test]
    fn mix_weights() {
        let mix = Test::mix("get:8, set:2,ping:0").expect("mix");
        assert_eq!(mix.templates.len(), 2);
        let mut rng = Rng::new(5);
        let gets = (0..100_000).filter(|_| mix.pick(&mut rng) == 0).count();
        assert!((79_000..81_000).contains(&gets), "{gets}");
        assert!(Test::mix("get:x").is_err());
        assert!(Test::mix("nope:1")
            .unwrap_err()
            .contains("known: ping, set"));
        assert!(Test::mix("get:0").is_err());
        assert!(Test::mix("lrange_100,get").expect("mix").needs_list());
    }
}
