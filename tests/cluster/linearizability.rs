//! A linearizability checker for histories of single-key operations (SET, GET, INCR, and a
//! compare-and-set that Lua scripts perform), in the
//! style of Wing & Gong with Lowe's memoization: per key (linearizability is compositional), a
//! depth-first search for an order of the operations that respects real time and the sequential
//! model of a Redis string. Writes whose outcome the client never learned may take effect at any
//! point after their invocation, or never.

use std::collections::{BTreeMap, HashSet};

/// Nanoseconds since the history began.
pub type Time = u64;

/// What a client asked.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Call {
    Set(String),
    Get,
    Incr,
    /// Sets the second value if the key holds the first; answers 1 if it did, else 0.
    Cas(String, String),
}

/// What the client learned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// SET answered OK.
    Ok,
    /// GET answered (None: the key did not exist).
    Value(Option<String>),
    /// INCR answered with the new value.
    Int(i64),
    /// Definitely not applied (refused before it reached the log).
    Fail,
    /// May or may not have been applied (timeout, lost connection, TRYAGAIN).
    Unknown,
}

/// One operation of a history.
#[derive(Clone, Debug)]
pub struct Op {
    pub client: usize,
    pub key: String,
    pub call: Call,
    pub invoke: Time,
    pub complete: Time,
    pub outcome: Outcome,
}

/// Checks every key's sub-history; the error names the key and the operations the search
/// could not place.
pub fn check(history: &[Op]) -> Result<(), String> {
    let mut by_key: BTreeMap<&str, Vec<&Op>> = BTreeMap::new();
    for op in history {
        by_key.entry(&op.key).or_default().push(op);
    }
    for (key, ops) in by_key {
        check_key(&ops).map_err(|e| format!("key {key:?} is not linearizable: {e}"))?;
    }
    Ok(())
}

/// An operation prepared for the search.
#[derive(Debug)]
struct Entry<'a> {
    op: &'a Op,
    /// False while the outcome is unknown: then the entry is optional and never completes.
    known: bool,
    complete: Time,
}

/// Most search states explored per key before giving up (a safety net, not a verdict).
const MAX_STATES: usize = 5_000_000;

fn check_key(ops: &[&Op]) -> Result<(), String> {
    let read_values: HashSet<&str> = ops
        .iter()
        .filter_map(|op| match &op.outcome {
            Outcome::Value(Some(v)) => Some(v.as_str()),
            _ => None,
        })
        .collect();
    let mut entries: Vec<Entry> = ops
        .iter()
        .filter(|op| match (&op.call, &op.outcome) {
            (_, Outcome::Fail) => false,
            // Reads change nothing: one without an answer constrains nothing.
            (Call::Get, outcome) => matches!(outcome, Outcome::Value(_)),
            // An unknown SET nobody read can always be left out.
            (Call::Set(v), Outcome::Unknown) => read_values.contains(v.as_str()),
            _ => true,
        })
        .map(|op| {
            let known = op.outcome != Outcome::Unknown;
            Entry {
                op,
                known,
                complete: if known { op.complete } else { Time::MAX },
            }
        })
        .collect();
    entries.sort_by_key(|e| e.op.invoke);
    search(&entries)
}

/// A bitset of linearized entries.
type Done = Vec<u64>;

fn is_done(done: &Done, i: usize) -> bool {
    done[i / 64] & (1 << (i % 64)) != 0
}

fn search(entries: &[Entry]) -> Result<(), String> {
    let required = entries.iter().filter(|e| e.known).count();
    let words = entries.len().div_ceil(64).max(1);
    let mut visited: HashSet<(Done, Option<String>)> = HashSet::new();
    // (linearized entries, how many of them are required, the register's value)
    let mut stack: Vec<(Done, usize, Option<String>)> = vec![(vec![0; words], 0, None)];
    let mut deepest: (usize, Option<String>, Vec<usize>) = (0, None, Vec::new());
    while let Some((done, count, value)) = stack.pop() {
        if count == required {
            return Ok(());
        }
        if !visited.insert((done.clone(), value.clone())) {
            continue;
        }
        if visited.len() > MAX_STATES {
            return Err(format!("search gave up after {MAX_STATES} states"));
        }
        let candidates = candidates(entries, &done);
        if count >= deepest.0 {
            deepest = (count, value.clone(), candidates.clone());
        }
        for i in candidates {
            if let Some(next) = step(&value, entries[i].op) {
                let mut done = done.clone();
                done[i / 64] |= 1 << (i % 64);
                stack.push((done, count + usize::from(entries[i].known), next));
            }
        }
    }
    let (count, value, stuck) = deepest;
    let stuck: Vec<String> = stuck
        .iter()
        .map(|&i| format!("client {}: {:?}", entries[i].op.client, entries[i].op))
        .collect();
    Err(format!(
        "after {count} of {required} acknowledged operations the value is {value:?} and none of \
         these can go next:\n  {}",
        stuck.join("\n  ")
    ))
}

/// Entries that may be linearized next: invoked before every pending acknowledged operation
/// completed. Unknown operations with the same call are interchangeable, so only the earliest
/// invoked of them is tried (it is available whenever a later one is).
fn candidates(entries: &[Entry], done: &Done) -> Vec<usize> {
    let horizon = entries
        .iter()
        .enumerate()
        .filter(|(i, _)| !is_done(done, *i))
        .map(|(_, e)| e.complete)
        .min()
        .unwrap_or(Time::MAX);
    let mut unknown_calls: Vec<&Call> = Vec::new();
    let mut out = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        if e.op.invoke > horizon {
            break;
        }
        if is_done(done, i) {
            continue;
        }
        if !e.known {
            if unknown_calls.contains(&&e.op.call) {
                continue;
            }
            unknown_calls.push(&e.op.call);
        }
        out.push(i);
    }
    out
}

/// The sequential model of one Redis string key: the next value if `op` is consistent with it.
fn step(value: &Option<String>, op: &Op) -> Option<Option<String>> {
    match (&op.call, &op.outcome) {
        (Call::Set(v), Outcome::Ok | Outcome::Unknown) => Some(Some(v.clone())),
        (Call::Get, Outcome::Value(seen)) => (seen == value).then(|| value.clone()),
        (Call::Incr, outcome) => {
            let current: i64 = match value {
                None => 0,
                Some(text) => text.parse().ok()?,
            };
            let next = current.checked_add(1)?;
            match outcome {
                Outcome::Int(n) if *n == next => Some(Some(next.to_string())),
                Outcome::Unknown => Some(Some(next.to_string())),
                _ => None,
            }
        }
        (Call::Cas(expected, new), outcome) => {
            let matches = value.as_deref() == Some(expected.as_str());
            match (outcome, matches) {
                (Outcome::Int(1) | Outcome::Unknown, true) => Some(Some(new.clone())),
                (Outcome::Int(0) | Outcome::Unknown, false) => Some(value.clone()),
                _ => None,
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(client: usize, call: Call, invoke: Time, complete: Time, outcome: Outcome) -> Op {
        Op {
            client,
            key: "k".into(),
            call,
            invoke,
            complete,
            outcome,
        }
    }

    fn set(v: &str) -> Call {
        Call::Set(v.into())
    }

    fn read(v: Option<&str>) -> Outcome {
        Outcome::Value(v.map(str::to_string))
    }

    #[test]
    fn sequential_history_is_accepted() {
        let h = [
            op(0, Call::Get, 0, 1, read(None)),
            op(0, set("a"), 2, 3, Outcome::Ok),
            op(0, Call::Get, 4, 5, read(Some("a"))),
        ];
        assert!(check(&h).is_ok());
    }

    #[test]
    fn concurrent_reads_may_see_either_side_of_a_write() {
        let h = [
            op(0, set("a"), 0, 1, Outcome::Ok),
            op(1, set("b"), 2, 10, Outcome::Ok),
            op(2, Call::Get, 3, 4, read(Some("b"))),
            op(3, Call::Get, 5, 6, read(Some("b"))),
            op(4, Call::Get, 3, 9, read(Some("a"))),
        ];
        assert!(check(&h).is_ok());
    }

    #[test]
    fn stale_read_is_rejected() {
        let h = [
            op(0, set("a"), 0, 1, Outcome::Ok),
            op(0, set("b"), 2, 3, Outcome::Ok),
            op(1, Call::Get, 4, 5, read(Some("a"))),
        ];
        assert!(check(&h).is_err());
    }

    #[test]
    fn read_going_back_in_time_is_rejected() {
        // The write is concurrent with both reads, but once one read saw it a later one must too.
        let h = [
            op(0, set("a"), 0, 1, Outcome::Ok),
            op(0, set("b"), 2, 20, Outcome::Ok),
            op(1, Call::Get, 3, 4, read(Some("b"))),
            op(2, Call::Get, 5, 6, read(Some("a"))),
        ];
        assert!(check(&h).is_err());
    }

    #[test]
    fn lost_acknowledged_write_is_rejected() {
        let h = [
            op(0, set("a"), 0, 1, Outcome::Ok),
            op(1, Call::Get, 2, 3, read(None)),
        ];
        assert!(check(&h).is_err());
        let counter = [
            op(0, Call::Incr, 0, 1, Outcome::Int(1)),
            op(1, Call::Incr, 2, 3, Outcome::Int(2)),
            op(2, Call::Get, 4, 5, read(Some("1"))),
        ];
        assert!(check(&counter).is_err());
    }

    #[test]
    fn unknown_write_may_apply_late_or_never() {
        let late = [
            op(0, set("a"), 0, 1, Outcome::Ok),
            op(1, set("x"), 2, 3, Outcome::Unknown),
            op(2, Call::Get, 4, 5, read(Some("a"))),
            op(2, Call::Get, 6, 7, read(Some("x"))),
        ];
        assert!(check(&late).is_ok());
        let never = [
            op(0, set("a"), 0, 1, Outcome::Ok),
            op(1, set("x"), 2, 3, Outcome::Unknown),
            op(2, Call::Get, 4, 5, read(Some("a"))),
        ];
        assert!(check(&never).is_ok());
        // ...but not before it was invoked.
        let early = [
            op(2, Call::Get, 0, 1, read(Some("x"))),
            op(1, set("x"), 2, 3, Outcome::Unknown),
        ];
        assert!(check(&early).is_err());
    }

    #[test]
    fn failed_write_must_not_be_seen() {
        let h = [
            op(1, set("x"), 0, 1, Outcome::Fail),
            op(2, Call::Get, 2, 3, read(Some("x"))),
        ];
        assert!(check(&h).is_err());
    }

    #[test]
    fn counter_with_unknown_increments() {
        let ok = [
            op(0, Call::Incr, 0, 1, Outcome::Int(1)),
            op(1, Call::Incr, 2, 3, Outcome::Unknown),
            op(2, Call::Incr, 2, 3, Outcome::Unknown),
            op(0, Call::Incr, 4, 5, Outcome::Int(3)),
            op(3, Call::Get, 6, 7, read(Some("4"))),
        ];
        assert!(check(&ok).is_ok());
        // Two unknown increments cannot account for three.
        let too_many = [
            op(0, Call::Incr, 0, 1, Outcome::Int(1)),
            op(1, Call::Incr, 2, 3, Outcome::Unknown),
            op(2, Call::Incr, 2, 3, Outcome::Unknown),
            op(3, Call::Get, 6, 7, read(Some("4"))),
        ];
        assert!(check(&too_many).is_err());
        // An increment applied twice (e.g. retried after it was applied) is caught.
        let doubled = [
            op(0, Call::Incr, 0, 1, Outcome::Int(1)),
            op(3, Call::Get, 2, 3, read(Some("2"))),
        ];
        assert!(check(&doubled).is_err());
    }

    #[test]
    fn large_concurrent_history_is_checked_quickly() {
        // 8 clients, 4000 operations, each overlapping its neighbours.
        let mut h = Vec::new();
        let mut value: Option<String> = None;
        for i in 0..4000u64 {
            let client = (i % 8) as usize;
            let (invoke, complete) = (i * 10, i * 10 + 35);
            if i % 3 == 0 {
                let v = format!("v{i}");
                h.push(op(client, set(&v), invoke, complete, Outcome::Ok));
                value = Some(v);
            } else if i % 7 == 0 {
                h.push(op(
                    client,
                    set(&format!("u{i}")),
                    invoke,
                    complete,
                    Outcome::Unknown,
                ));
            } else {
                h.push(op(
                    client,
                    Call::Get,
                    invoke,
                    complete,
                    Outcome::Value(value.clone()),
                ));
            }
        }
        let started = std::time::Instant::now();
        assert!(check(&h).is_ok());
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
    }

    #[test]
    fn compare_and_set_follows_the_value() {
        let cas = |e: &str, n: &str| Call::Cas(e.into(), n.into());
        let ok = vec![
            op(1, set("a"), 0, 1, Outcome::Ok),
            op(2, cas("a", "b"), 2, 3, Outcome::Int(1)),
            op(1, cas("a", "c"), 4, 5, Outcome::Int(0)),
            op(2, Call::Get, 6, 7, read(Some("b"))),
        ];
        assert!(check(&ok).is_ok());
        // A CAS that claims success on a value the key never held.
        let bad = vec![
            op(1, set("a"), 0, 1, Outcome::Ok),
            op(2, cas("x", "b"), 2, 3, Outcome::Int(1)),
        ];
        assert!(check(&bad).is_err());
    }
}
