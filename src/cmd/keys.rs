//! Where a command's keys are: Redis 7's key specs, one list per command in its table entry.
//!
//! A spec finds keys by position (`at`, `range`), after a key count (`numkeys`), after an
//! option word (`after`), or, for the few shapes no data describes, with a function the command
//! carries in its entry (`find`, `variable`). Every consumer of key positions — ACL key
//! patterns, COMMAND GETKEYS and GETKEYSANDFLAGS, transaction key locks, cluster routing, the
//! keys a blocked client waits on — reads them from here, so a command's entry is the only
//! place they are written down.

use bytes::Bytes;

use super::flags::KeyFlags;

/// One key of a call: its argument index and what the command does with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyRef {
    pub index: usize,
    pub flags: KeyFlags,
}

/// A function that adds the keys of a call to the list.
pub type FindKeys = fn(&[Bytes], &mut Vec<KeyRef>);

/// One key specification.
#[derive(Clone, Copy)]
pub enum KeySpec {
    /// Arguments `first..=last` by `step`; a negative `last` counts from the end (-1 is the last
    /// argument).
    Range {
        first: usize,
        last: i32,
        step: usize,
        flags: KeyFlags,
    },
    /// A key count at `at`, then that many keys (`numkeys key [key ...]`).
    Counted { at: usize, flags: KeyFlags },
    /// The argument after the first `word` at or after index `from` (`... STORE key`).
    After {
        word: &'static str,
        from: usize,
        flags: KeyFlags,
    },
    /// One key at `at` whose flags depend on the call's options (SET ... GET).
    Variable {
        at: usize,
        flags: fn(&[Bytes]) -> KeyFlags,
    },
    /// Keys only a function can find (SORT ... STORE, whose other options take arguments).
    Find(FindKeys),
}

/// One key at `index`.
pub const fn at(index: usize, flags: KeyFlags) -> KeySpec {
    range(index, index as i32, 1, flags)
}

/// Keys `first..=last` by `step` (`last` < 0 counts from the end).
pub const fn range(first: usize, last: i32, step: usize, flags: KeyFlags) -> KeySpec {
    KeySpec::Range {
        first,
        last,
        step,
        flags,
    }
}

/// A key count at `at`, then the keys.
pub const fn numkeys(at: usize, flags: KeyFlags) -> KeySpec {
    KeySpec::Counted { at, flags }
}

/// The argument after option `word`, searched from `from`.
pub const fn after(word: &'static str, from: usize, flags: KeyFlags) -> KeySpec {
    KeySpec::After { word, from, flags }
}

/// One key at `at` with flags computed from the call.
pub const fn variable(at: usize, flags: fn(&[Bytes]) -> KeyFlags) -> KeySpec {
    KeySpec::Variable { at, flags }
}

/// Keys found by a function.
pub const fn find(keys: FindKeys) -> KeySpec {
    KeySpec::Find(keys)
}

impl KeySpec {
    /// Whether this spec names real keys (shard channels sit in key positions but are not keys).
    pub fn is_key(&self) -> bool {
        match self {
            KeySpec::Range { flags, .. }
            | KeySpec::Counted { flags, .. }
            | KeySpec::After { flags, .. } => !flags.contains(KeyFlags::NOT_KEY),
            KeySpec::Variable { .. } | KeySpec::Find(_) => true,
        }
    }

    /// A spec COMMAND INFO's legacy (first, last, step) can describe: a fixed position.
    fn fixed(&self) -> Option<(usize, i32, usize)> {
        match *self {
            KeySpec::Range {
                first, last, step, ..
            } => Some((first, last, step)),
            KeySpec::Variable { at, .. } => Some((at, at as i32, 1)),
            _ => None,
        }
    }
}

/// The keys of a call, in spec order, as Redis finds them (`getKeysFromCommandWithSpecs`): a
/// spec that does not fit the call (a key count that is not a positive number of the arguments
/// left) leaves the call without any key, except that a key count Redis's older parser reads
/// (`atoi`: `2abc` is 2) still finds its keys, with no flags, as Redis's fallback does.
pub fn find_keys(specs: &[KeySpec], args: &[Bytes]) -> Vec<KeyRef> {
    let mut out = Vec::new();
    for spec in specs.iter().filter(|s| s.is_key()) {
        let fits = match *spec {
            KeySpec::Range {
                first,
                last,
                step,
                flags,
            } => push_range(args, first, last, step, flags, &mut out),
            KeySpec::Counted { at, flags } => {
                let count = args.get(at).and_then(|n| crate::util::number::parse_i64(n));
                let fits = count.is_some_and(|n| {
                    (0..=args.len() as i64).contains(&n)
                        && push_range(args, at + 1, (at as i64 + n) as i32, 1, flags, &mut out)
                });
                if !fits {
                    return counted_fallback(specs, args);
                }
                true
            }
            KeySpec::After { word, from, flags } => {
                let found = (from.max(1)..args.len().saturating_sub(1))
                    .find(|&i| args[i].eq_ignore_ascii_case(word.as_bytes()));
                if let Some(i) = found {
                    out.push(KeyRef {
                        index: i + 1,
                        flags,
                    });
                }
                true
            }
            KeySpec::Variable { at, flags } => {
                let fits = at < args.len();
                if fits {
                    out.push(KeyRef {
                        index: at,
                        flags: flags(args),
                    });
                }
                fits
            }
            KeySpec::Find(find) => {
                find(args, &mut out);
                true
            }
        };
        if !fits {
            return Vec::new();
        }
    }
    out
}

/// Adds `first..=last` by `step`; false (adding nothing) when the range does not fit the call.
fn push_range(
    args: &[Bytes],
    first: usize,
    last: i32,
    step: usize,
    flags: KeyFlags,
    out: &mut Vec<KeyRef>,
) -> bool {
    let argc = args.len() as i64;
    let last = if last < 0 {
        argc + last as i64
    } else {
        last as i64
    };
    let first = first as i64;
    if last >= argc || last < first || first >= argc {
        return false;
    }
    let indexes = (first..=last).step_by(step.max(1)).map(|i| i as usize);
    out.extend(indexes.map(|index| KeyRef { index, flags }));
    true
}

/// Redis's fallback when a key count is not a canonical integer: its per-command finders read
/// the count with `atoi` and list the counted keys, then the fixed ones, all without flags.
fn counted_fallback(specs: &[KeySpec], args: &[Bytes]) -> Vec<KeyRef> {
    let mut counted = Vec::new();
    let mut fixed = Vec::new();
    for spec in specs {
        match *spec {
            KeySpec::Counted { at, .. } => {
                let n = args.get(at).map_or(0, |n| atoi(n));
                let first = at + 1;
                if n < 1 || n > (args.len() - first.min(args.len())) as i64 {
                    return Vec::new();
                }
                let keys = first..first + n as usize;
                counted.extend(keys.map(|index| KeyRef {
                    index,
                    flags: KeyFlags::NONE,
                }));
            }
            _ => {
                if let Some((first, _, _)) = spec.fixed() {
                    fixed.push(KeyRef {
                        index: first,
                        flags: KeyFlags::NONE,
                    });
                }
            }
        }
    }
    counted.extend(fixed);
    counted
}

/// C's `atoi`: leading blanks, a sign and the digits that follow; anything else is ignored.
fn atoi(text: &[u8]) -> i64 {
    let text = match text.iter().position(|c| !b" \t\n\x0b\x0c\r".contains(c)) {
        Some(start) => &text[start..],
        None => return 0,
    };
    let (negative, digits) = match text.first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let value = digits
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .fold(0i64, |n, c| {
            n.saturating_mul(10).saturating_add(i64::from(c - b'0'))
        });
    if negative {
        -value
    } else {
        value
    }
}

/// COMMAND INFO's legacy (first, last, step), derived from the specs as Redis does
/// (`populateCommandLegacyRangeSpec`): one fixed spec as it is, several joined when they follow
/// each other with step 1, specs that move skipped; (0, 0, 0) when nothing fits.
pub fn legacy_range(specs: &[KeySpec]) -> (i32, i32, i32) {
    if let [spec] = specs {
        if let Some((first, last, step)) = spec.fixed() {
            return (first as i32, last, step as i32);
        }
    }
    let mut first = None;
    let mut last: i32 = 0;
    let mut prev_last: i32 = 0;
    for (start, end, step) in specs.iter().filter_map(KeySpec::fixed) {
        if step != 1 || (prev_last != 0 && prev_last != start as i32 - 1) {
            return (0, 0, 0);
        }
        first = Some(first.map_or(start, |f: usize| f.min(start)));
        // Redis compares as unsigned, so a negative (counted from the end) last wins.
        if end as u32 >= last as u32 {
            last = end;
        }
        prev_last = last;
    }
    match first {
        Some(first) => (first as i32, last, 1),
        None => (0, 0, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RO: KeyFlags = KeyFlags::RO;
    const OW: KeyFlags = KeyFlags::OW;

    fn call(words: &str) -> Vec<Bytes> {
        words
            .split_whitespace()
            .map(|w| Bytes::from(w.to_string()))
            .collect()
    }

    fn indexes(specs: &[KeySpec], words: &str) -> Vec<usize> {
        find_keys(specs, &call(words))
            .into_iter()
            .map(|k| k.index)
            .collect()
    }

    #[test]
    fn ranges_counts_and_options_find_redis_positions() {
        let mset = [range(1, -1, 2, OW)];
        assert_eq!(indexes(&mset, "mset a 1 b 2"), [1, 3]);
        let store = [at(1, OW), numkeys(2, RO)];
        assert_eq!(
            indexes(&store, "zunionstore d 2 a b weights 1 2"),
            [1, 3, 4]
        );
        assert!(indexes(&store, "zunionstore d 0 a").is_empty());
        assert!(indexes(&store, "zunionstore d 5 a").is_empty());
        // Redis's atoi fallback: counted keys first, no flags.
        let keys = find_keys(&store, &call("zunionstore d 2abc a b"));
        assert_eq!(keys.iter().map(|k| k.index).collect::<Vec<_>>(), [3, 4, 1]);
        assert!(keys.iter().all(|k| k.flags == KeyFlags::NONE));
        let geo = [at(1, RO), after("STORE", 6, OW), after("STOREDIST", 6, OW)];
        assert_eq!(
            indexes(&geo, "georadius k 1 2 3 m storedist e store d"),
            [1, 9, 7]
        );
        assert_eq!(indexes(&geo, "georadius k 1 2 3 m store"), [1]);
        let channels = [range(1, -1, 1, KeyFlags::NOT_KEY)];
        assert!(indexes(&channels, "ssubscribe a b").is_empty());
    }

    #[test]
    fn legacy_ranges_follow_redis() {
        assert_eq!(legacy_range(&[]), (0, 0, 0));
        assert_eq!(legacy_range(&[range(1, -1, 2, OW)]), (1, -1, 2));
        assert_eq!(legacy_range(&[at(1, RO), at(2, OW)]), (1, 2, 1));
        assert_eq!(legacy_range(&[at(1, OW), range(2, -1, 1, RO)]), (1, -1, 1));
        assert_eq!(legacy_range(&[at(1, OW), numkeys(2, RO)]), (1, 1, 1));
        assert_eq!(legacy_range(&[numkeys(2, RO)]), (0, 0, 0));
    }

    #[test]
    fn atoi_reads_like_c() {
        assert_eq!(atoi(b" 2abc"), 2);
        assert_eq!(atoi(b"-3"), -3);
        assert_eq!(atoi(b"x"), 0);
    }
}
