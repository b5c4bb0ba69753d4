//! The command table: every command Kiwi understands, in one list.

use super::{
    bitmap, blocking, geo, hash, hyperloglog, keyspace, latency, list, server, set, slowlog, sort,
    strings, zset, CommandSpec, Handler, SubSpec,
};

const NO_SUBS: &[SubSpec] = &[];

macro_rules! cmd {
    ($name:literal, $arity:expr, [$($flag:literal),*], $keys:expr, $group:literal, $since:literal, $handler:expr, $summary:literal) => {
        cmd!($name, $arity, [$($flag),*], $keys, $group, $since, $handler, $summary, NO_SUBS)
    };
    ($name:literal, $arity:expr, [$($flag:literal),*], $keys:expr, $group:literal, $since:literal, $handler:expr, $summary:literal, $subs:expr) => {
        CommandSpec {
            name: $name,
            arity: $arity,
            flags: &[$($flag),*],
            keys: $keys,
            group: $group,
            summary: $summary,
            since: $since,
            subcommands: $subs,
            handler: $handler,
        }
    };
}

macro_rules! sub {
    ($name:literal, $arity:expr, [$($flag:literal),*], $summary:literal) => {
        SubSpec { name: $name, arity: $arity, flags: &[$($flag),*], summary: $summary }
    };
}

use Handler::{Connection as Net, Storage as St};

const K1: (i32, i32, i32) = (1, 1, 1);
const K12: (i32, i32, i32) = (1, 2, 1);
const KALL: (i32, i32, i32) = (1, -1, 1);
const KPAIRS: (i32, i32, i32) = (1, -1, 2);
const K0: (i32, i32, i32) = (0, 0, 0);
const K2: (i32, i32, i32) = (2, 2, 1);

/// Every command, grouped by family.
pub static COMMANDS: &[CommandSpec] = &[
    // strings
    cmd!(
        "get",
        2,
        ["readonly", "fast"],
        K1,
        "string",
        "1.0.0",
        St(strings::get),
        "Returns the string value of a key."
    ),
    cmd!(
        "set",
        -3,
        ["write", "denyoom"],
        K1,
        "string",
        "1.0.0",
        St(strings::set),
        "Sets the string value of a key, with optional expiry and conditions."
    ),
    cmd!(
        "setnx",
        3,
        ["write", "denyoom", "fast"],
        K1,
        "string",
        "1.0.0",
        St(strings::setnx),
        "Sets a key only if it does not exist."
    ),
    cmd!(
        "setex",
        4,
        ["write", "denyoom"],
        K1,
        "string",
        "2.0.0",
        St(strings::setex),
        "Sets a key with an expiry in seconds."
    ),
    cmd!(
        "psetex",
        4,
        ["write", "denyoom"],
        K1,
        "string",
        "2.6.0",
        St(strings::psetex),
        "Sets a key with an expiry in milliseconds."
    ),
    cmd!(
        "getset",
        3,
        ["write", "denyoom", "fast"],
        K1,
        "string",
        "1.0.0",
        St(strings::getset),
        "Sets a key and returns its old value."
    ),
    cmd!(
        "getdel",
        2,
        ["write", "fast"],
        K1,
        "string",
        "6.2.0",
        St(strings::getdel),
        "Returns a key's value and deletes it."
    ),
    cmd!(
        "getex",
        -2,
        ["write", "fast"],
        K1,
        "string",
        "6.2.0",
        St(strings::getex),
        "Returns a key's value and changes its expiry."
    ),
    cmd!(
        "mget",
        -2,
        ["readonly", "fast"],
        KALL,
        "string",
        "1.0.0",
        St(strings::mget),
        "Returns the values of several keys."
    ),
    cmd!(
        "mset",
        -3,
        ["write", "denyoom"],
        KPAIRS,
        "string",
        "1.0.1",
        St(strings::mset),
        "Sets several keys atomically."
    ),
    cmd!(
        "msetnx",
        -3,
        ["write", "denyoom"],
        KPAIRS,
        "string",
        "1.0.1",
        St(strings::msetnx),
        "Sets several keys atomically only if none exists."
    ),
    cmd!(
        "append",
        3,
        ["write", "denyoom", "fast"],
        K1,
        "string",
        "2.0.0",
        St(strings::append),
        "Appends to a string value."
    ),
    cmd!(
        "strlen",
        2,
        ["readonly", "fast"],
        K1,
        "string",
        "2.2.0",
        St(strings::strlen),
        "Returns the length of a string value."
    ),
    cmd!(
        "incr",
        2,
        ["write", "denyoom", "fast"],
        K1,
        "string",
        "1.0.0",
        St(strings::incr),
        "Increments an integer value by one."
    ),
    cmd!(
        "decr",
        2,
        ["write", "denyoom", "fast"],
        K1,
        "string",
        "1.0.0",
        St(strings::decr),
        "Decrements an integer value by one."
    ),
    cmd!(
        "incrby",
        3,
        ["write", "denyoom", "fast"],
        K1,
        "string",
        "1.0.0",
        St(strings::incrby),
        "Increments an integer value."
    ),
    cmd!(
        "decrby",
        3,
        ["write", "denyoom", "fast"],
        K1,
        "string",
        "1.0.0",
        St(strings::decrby),
        "Decrements an integer value."
    ),
    cmd!(
        "incrbyfloat",
        3,
        ["write", "denyoom", "fast"],
        K1,
        "string",
        "2.6.0",
        St(strings::incrbyfloat),
        "Increments a float value (long double arithmetic, like Redis)."
    ),
    cmd!(
        "getrange",
        4,
        ["readonly"],
        K1,
        "string",
        "2.4.0",
        St(strings::getrange),
        "Returns a substring of a string value."
    ),
    cmd!(
        "substr",
        4,
        ["readonly"],
        K1,
        "string",
        "1.0.0",
        St(strings::getrange),
        "Returns a substring of a string value (old name of GETRANGE)."
    ),
    cmd!(
        "setrange",
        4,
        ["write", "denyoom"],
        K1,
        "string",
        "2.2.0",
        St(strings::setrange),
        "Overwrites part of a string value."
    ),
    cmd!(
        "lcs",
        -3,
        ["readonly"],
        K12,
        "string",
        "7.0.0",
        St(strings::lcs),
        "Longest common subsequence of two string values."
    ),
    // keyspace
    cmd!(
        "del",
        -2,
        ["write"],
        KALL,
        "generic",
        "1.0.0",
        St(keyspace::del),
        "Deletes keys."
    ),
    cmd!(
        "unlink",
        -2,
        ["write", "fast"],
        KALL,
        "generic",
        "4.0.0",
        St(keyspace::del),
        "Deletes keys (O(1) for any size in Kiwi, like DEL)."
    ),
    cmd!(
        "exists",
        -2,
        ["readonly", "fast"],
        KALL,
        "generic",
        "1.0.0",
        St(keyspace::exists),
        "Counts how many of the keys exist."
    ),
    cmd!(
        "touch",
        -2,
        ["readonly", "fast"],
        KALL,
        "generic",
        "3.2.1",
        St(keyspace::exists),
        "Counts how many of the keys exist (access time is not tracked)."
    ),
    cmd!(
        "type",
        2,
        ["readonly", "fast"],
        K1,
        "generic",
        "1.0.0",
        St(keyspace::type_),
        "Returns the type of a key."
    ),
    cmd!(
        "expire",
        -3,
        ["write", "fast"],
        K1,
        "generic",
        "1.0.0",
        St(keyspace::expire),
        "Sets a key's time to live in seconds."
    ),
    cmd!(
        "pexpire",
        -3,
        ["write", "fast"],
        K1,
        "generic",
        "2.6.0",
        St(keyspace::pexpire),
        "Sets a key's time to live in milliseconds."
    ),
    cmd!(
        "expireat",
        -3,
        ["write", "fast"],
        K1,
        "generic",
        "1.2.0",
        St(keyspace::expireat),
        "Sets a key's expiry as a Unix time in seconds."
    ),
    cmd!(
        "pexpireat",
        -3,
        ["write", "fast"],
        K1,
        "generic",
        "2.6.0",
        St(keyspace::pexpireat),
        "Sets a key's expiry as a Unix time in milliseconds."
    ),
    cmd!(
        "ttl",
        2,
        ["readonly", "fast"],
        K1,
        "generic",
        "1.0.0",
        St(keyspace::ttl),
        "Returns a key's time to live in seconds."
    ),
    cmd!(
        "pttl",
        2,
        ["readonly", "fast"],
        K1,
        "generic",
        "2.6.0",
        St(keyspace::pttl),
        "Returns a key's time to live in milliseconds."
    ),
    cmd!(
        "expiretime",
        2,
        ["readonly", "fast"],
        K1,
        "generic",
        "7.0.0",
        St(keyspace::expiretime),
        "Returns a key's expiry as a Unix time in seconds."
    ),
    cmd!(
        "pexpiretime",
        2,
        ["readonly", "fast"],
        K1,
        "generic",
        "7.0.0",
        St(keyspace::pexpiretime),
        "Returns a key's expiry as a Unix time in milliseconds."
    ),
    cmd!(
        "persist",
        2,
        ["write", "fast"],
        K1,
        "generic",
        "2.2.0",
        St(keyspace::persist),
        "Removes a key's expiry."
    ),
    cmd!(
        "keys",
        2,
        ["readonly"],
        K0,
        "generic",
        "1.0.0",
        St(keyspace::keys),
        "Returns all keys matching a glob pattern."
    ),
    cmd!(
        "scan",
        -2,
        ["readonly"],
        K0,
        "generic",
        "2.8.0",
        St(keyspace::scan),
        "Iterates over keys incrementally."
    ),
    cmd!(
        "randomkey",
        1,
        ["readonly"],
        K0,
        "generic",
        "1.0.0",
        St(keyspace::randomkey),
        "Returns a random key."
    ),
    cmd!(
        "rename",
        3,
        ["write"],
        K12,
        "generic",
        "1.0.0",
        St(keyspace::rename),
        "Renames a key, overwriting the destination."
    ),
    cmd!(
        "renamenx",
        3,
        ["write", "fast"],
        K12,
        "generic",
        "1.0.0",
        St(keyspace::renamenx),
        "Renames a key if the destination does not exist."
    ),
    cmd!(
        "copy",
        -3,
        ["write", "denyoom"],
        K12,
        "generic",
        "6.2.0",
        St(keyspace::copy),
        "Copies a key, optionally to another database."
    ),
    cmd!(
        "move",
        3,
        ["write", "fast"],
        K1,
        "generic",
        "1.0.0",
        St(keyspace::move_),
        "Moves a key to another database."
    ),
    cmd!(
        "dbsize",
        1,
        ["readonly", "fast"],
        K0,
        "server",
        "1.0.0",
        St(keyspace::dbsize),
        "Returns the exact number of keys in the database."
    ),
    cmd!(
        "flushdb",
        -1,
        ["write"],
        K0,
        "server",
        "1.0.0",
        St(keyspace::flushdb),
        "Removes all keys of the current database (O(1) range delete)."
    ),
    cmd!(
        "flushall",
        -1,
        ["write"],
        K0,
        "server",
        "1.0.0",
        St(keyspace::flushall),
        "Removes all keys of all databases (O(1) range delete)."
    ),
    cmd!(
        "swapdb",
        3,
        ["write", "fast"],
        K0,
        "server",
        "4.0.0",
        St(keyspace::swapdb),
        "Swaps two databases (O(1))."
    ),
    cmd!(
        "object",
        -2,
        [],
        (2, 2, 1),
        "generic",
        "2.2.3",
        St(keyspace::object),
        "Inspects the internals of a key.",
        &[
            sub!(
                "encoding",
                3,
                ["readonly"],
                "Returns the internal encoding of a key's value."
            ),
            sub!(
                "freq",
                3,
                ["readonly"],
                "Returns the access frequency counter (needs an LFU policy)."
            ),
            sub!(
                "idletime",
                3,
                ["readonly"],
                "Returns the idle time of a key (not tracked: 0)."
            ),
            sub!(
                "refcount",
                3,
                ["readonly"],
                "Returns the reference count of a key's value."
            ),
            sub!(
                "help",
                2,
                ["loading", "stale"],
                "Shows OBJECT's subcommands."
            ),
        ]
    ),
    // hashes
    cmd!(
        "hset",
        -4,
        ["write", "denyoom", "fast"],
        (1, 1, 1),
        "hash",
        "2.0.0",
        St(hash::hset),
        "Sets fields of a hash, creating it if needed; returns how many fields are new."
    ),
    cmd!(
        "hsetnx",
        4,
        ["write", "denyoom", "fast"],
        (1, 1, 1),
        "hash",
        "2.0.0",
        St(hash::hsetnx),
        "Sets a hash field only if it does not exist yet."
    ),
    cmd!(
        "hget",
        3,
        ["readonly", "fast"],
        (1, 1, 1),
        "hash",
        "2.0.0",
        St(hash::hget),
        "Returns the value of a hash field."
    ),
    cmd!(
        "hmset",
        -4,
        ["write", "denyoom", "fast"],
        (1, 1, 1),
        "hash",
        "2.0.0",
        St(hash::hmset),
        "Sets fields of a hash (deprecated form of HSET that replies OK)."
    ),
    cmd!(
        "hmget",
        -3,
        ["readonly", "fast"],
        (1, 1, 1),
        "hash",
        "2.0.0",
        St(hash::hmget),
        "Returns the values of several hash fields."
    ),
    cmd!(
        "hgetall",
        2,
        ["readonly"],
        (1, 1, 1),
        "hash",
        "2.0.0",
        St(hash::hgetall),
        "Returns every field and value of a hash."
    ),
    cmd!(
        "hdel",
        -3,
        ["write", "fast"],
        (1, 1, 1),
        "hash",
        "2.0.0",
        St(hash::hdel),
        "Deletes fields from a hash; an emptied hash disappears."
    ),
    cmd!(
        "hexists",
        3,
        ["readonly", "fast"],
        (1, 1, 1),
        "hash",
        "2.0.0",
        St(hash::hexists),
        "Tells whether a hash field exists."
    ),
    cmd!(
        "hlen",
        2,
        ["readonly", "fast"],
        (1, 1, 1),
        "hash",
        "2.0.0",
        St(hash::hlen),
        "Returns the number of fields in a hash (a metadata read)."
    ),
    cmd!(
        "hkeys",
        2,
        ["readonly"],
        (1, 1, 1),
        "hash",
        "2.0.0",
        St(hash::hkeys),
        "Returns every field name of a hash."
    ),
    cmd!(
        "hvals",
        2,
        ["readonly"],
        (1, 1, 1),
        "hash",
        "2.0.0",
        St(hash::hvals),
        "Returns every value of a hash."
    ),
    cmd!(
        "hincrby",
        4,
        ["write", "denyoom", "fast"],
        (1, 1, 1),
        "hash",
        "2.0.0",
        St(hash::hincrby),
        "Adds an integer to a hash field."
    ),
    cmd!(
        "hincrbyfloat",
        4,
        ["write", "denyoom", "fast"],
        (1, 1, 1),
        "hash",
        "2.6.0",
        St(hash::hincrbyfloat),
        "Adds a floating point number to a hash field (long double precision, as Redis)."
    ),
    cmd!(
        "hstrlen",
        3,
        ["readonly", "fast"],
        (1, 1, 1),
        "hash",
        "3.2.0",
        St(hash::hstrlen),
        "Returns the length of a hash field's value."
    ),
    cmd!(
        "hrandfield",
        -2,
        ["readonly"],
        (1, 1, 1),
        "hash",
        "6.2.0",
        St(hash::hrandfield),
        "Returns random fields of a hash, distinct or with repetition."
    ),
    cmd!(
        "hscan",
        -3,
        ["readonly"],
        (1, 1, 1),
        "hash",
        "2.8.0",
        St(hash::hscan),
        "Iterates the fields and values of a hash with a cursor."
    ),
    // sets
    cmd!(
        "sadd",
        -3,
        ["write", "denyoom", "fast"],
        (1, 1, 1),
        "set",
        "1.0.0",
        St(set::sadd),
        "Adds members to a set, creating it if needed; returns how many are new."
    ),
    cmd!(
        "srem",
        -3,
        ["write", "fast"],
        (1, 1, 1),
        "set",
        "1.0.0",
        St(set::srem),
        "Removes members from a set; an emptied set disappears."
    ),
    cmd!(
        "smembers",
        2,
        ["readonly"],
        (1, 1, 1),
        "set",
        "1.0.0",
        St(set::smembers),
        "Returns every member of a set."
    ),
    cmd!(
        "sismember",
        3,
        ["readonly", "fast"],
        (1, 1, 1),
        "set",
        "1.0.0",
        St(set::sismember),
        "Tells whether a value is a member of a set."
    ),
    cmd!(
        "smismember",
        -3,
        ["readonly", "fast"],
        (1, 1, 1),
        "set",
        "6.2.0",
        St(set::smismember),
        "Tells, for each value, whether it is a member of a set."
    ),
    cmd!(
        "scard",
        2,
        ["readonly", "fast"],
        (1, 1, 1),
        "set",
        "1.0.0",
        St(set::scard),
        "Returns the number of members of a set (a metadata read)."
    ),
    cmd!(
        "spop",
        -2,
        ["write", "fast"],
        (1, 1, 1),
        "set",
        "1.0.0",
        St(set::spop),
        "Removes and returns random members of a set."
    ),
    cmd!(
        "srandmember",
        -2,
        ["readonly"],
        (1, 1, 1),
        "set",
        "1.0.0",
        St(set::srandmember),
        "Returns random members of a set, distinct or with repetition."
    ),
    cmd!(
        "smove",
        4,
        ["write", "fast"],
        (1, 2, 1),
        "set",
        "1.0.0",
        St(set::smove),
        "Moves a member from one set to another, atomically."
    ),
    cmd!(
        "sinter",
        -2,
        ["readonly"],
        (1, -1, 1),
        "set",
        "1.0.0",
        St(set::sinter),
        "Returns the intersection of sets."
    ),
    cmd!(
        "sintercard",
        -3,
        ["readonly", "movablekeys"],
        (0, 0, 0),
        "set",
        "7.0.0",
        St(set::sintercard),
        "Returns the size of the intersection of sets, optionally stopping at a limit."
    ),
    cmd!(
        "sinterstore",
        -3,
        ["write", "denyoom"],
        (1, -1, 1),
        "set",
        "1.0.0",
        St(set::sinterstore),
        "Stores the intersection of sets in a key."
    ),
    cmd!(
        "sunion",
        -2,
        ["readonly"],
        (1, -1, 1),
        "set",
        "1.0.0",
        St(set::sunion),
        "Returns the union of sets."
    ),
    cmd!(
        "sunionstore",
        -3,
        ["write", "denyoom"],
        (1, -1, 1),
        "set",
        "1.0.0",
        St(set::sunionstore),
        "Stores the union of sets in a key."
    ),
    cmd!(
        "sdiff",
        -2,
        ["readonly"],
        (1, -1, 1),
        "set",
        "1.0.0",
        St(set::sdiff),
        "Returns the members of the first set that are in none of the others."
    ),
    cmd!(
        "sdiffstore",
        -3,
        ["write", "denyoom"],
        (1, -1, 1),
        "set",
        "1.0.0",
        St(set::sdiffstore),
        "Stores the difference of sets in a key."
    ),
    cmd!(
        "sscan",
        -3,
        ["readonly"],
        (1, 1, 1),
        "set",
        "2.8.0",
        St(set::sscan),
        "Iterates the members of a set with a cursor."
    ),
    // sorting
    cmd!(
        "sort",
        -2,
        ["write", "denyoom", "movablekeys"],
        (1, 1, 1),
        "generic",
        "1.0.0",
        St(sort::sort),
        "Sorts a list, set or sorted set (by value or by other keys) and returns or stores the result."
    ),
    cmd!(
        "sort_ro",
        -2,
        ["readonly", "movablekeys"],
        (1, 1, 1),
        "generic",
        "7.0.0",
        St(sort::sort_ro),
        "Read-only SORT (no STORE)."
    ),
    // lists
    cmd!(
        "lpush",
        -3,
        ["write", "denyoom", "fast"],
        (1, 1, 1),
        "list",
        "1.0.0",
        St(list::lpush),
        "Prepends elements to a list, creating it if needed; returns the new length."
    ),
    cmd!(
        "rpush",
        -3,
        ["write", "denyoom", "fast"],
        (1, 1, 1),
        "list",
        "1.0.0",
        St(list::rpush),
        "Appends elements to a list, creating it if needed; returns the new length."
    ),
    cmd!(
        "lpushx",
        -3,
        ["write", "denyoom", "fast"],
        (1, 1, 1),
        "list",
        "2.2.0",
        St(list::lpushx),
        "Prepends elements only if the list already exists."
    ),
    cmd!(
        "rpushx",
        -3,
        ["write", "denyoom", "fast"],
        (1, 1, 1),
        "list",
        "2.2.0",
        St(list::rpushx),
        "Appends elements only if the list already exists."
    ),
    cmd!(
        "lpop",
        -2,
        ["write", "fast"],
        (1, 1, 1),
        "list",
        "1.0.0",
        St(list::lpop),
        "Removes and returns the first element, or the first COUNT elements."
    ),
    cmd!(
        "rpop",
        -2,
        ["write", "fast"],
        (1, 1, 1),
        "list",
        "1.0.0",
        St(list::rpop),
        "Removes and returns the last element, or the last COUNT elements."
    ),
    cmd!(
        "llen",
        2,
        ["readonly", "fast"],
        (1, 1, 1),
        "list",
        "1.0.0",
        St(list::llen),
        "Returns the length of a list (a metadata read)."
    ),
    cmd!(
        "lindex",
        3,
        ["readonly"],
        (1, 1, 1),
        "list",
        "1.0.0",
        St(list::lindex),
        "Returns the element at an index (one point read)."
    ),
    cmd!(
        "lrange",
        4,
        ["readonly"],
        (1, 1, 1),
        "list",
        "1.0.0",
        St(list::lrange),
        "Returns a range of elements by index (a seek and a bounded walk)."
    ),
    cmd!(
        "lset",
        4,
        ["write", "denyoom"],
        (1, 1, 1),
        "list",
        "1.0.0",
        St(list::lset),
        "Replaces the element at an index."
    ),
    cmd!(
        "ltrim",
        4,
        ["write"],
        (1, 1, 1),
        "list",
        "1.0.0",
        St(list::ltrim),
        "Keeps only a range of elements, deleting the rest."
    ),
    cmd!(
        "lrem",
        4,
        ["write"],
        (1, 1, 1),
        "list",
        "1.0.0",
        St(list::lrem),
        "Removes occurrences of an element, from the head, the tail or everywhere."
    ),
    cmd!(
        "linsert",
        5,
        ["write", "denyoom"],
        (1, 1, 1),
        "list",
        "2.2.0",
        St(list::linsert),
        "Inserts an element before or after the first occurrence of a pivot."
    ),
    cmd!(
        "lpos",
        -3,
        ["readonly"],
        (1, 1, 1),
        "list",
        "6.0.6",
        St(list::lpos),
        "Returns the index (or indexes) of matching elements, with RANK, COUNT and MAXLEN."
    ),
    cmd!(
        "lmove",
        5,
        ["write", "denyoom"],
        (1, 2, 1),
        "list",
        "6.2.0",
        St(list::lmove),
        "Pops an element from one end of a list and pushes it onto an end of another."
    ),
    cmd!(
        "rpoplpush",
        3,
        ["write", "denyoom"],
        (1, 2, 1),
        "list",
        "1.2.0",
        St(list::rpoplpush),
        "Pops the last element of a list and prepends it to another (LMOVE RIGHT LEFT)."
    ),
    cmd!(
        "lmpop",
        -4,
        ["write", "movablekeys"],
        (0, 0, 0),
        "list",
        "7.0.0",
        St(list::lmpop),
        "Pops elements from the first non-empty list among several keys."
    ),
    // sorted sets
    cmd!(
        "zadd",
        -4,
        ["write", "denyoom", "fast"],
        (1, 1, 1),
        "sorted-set",
        "1.2.0",
        St(zset::zadd),
        "Adds members with scores to a sorted set, or updates their scores (NX, XX, GT, LT, CH, INCR)."
    ),
    cmd!(
        "zincrby",
        4,
        ["write", "denyoom", "fast"],
        (1, 1, 1),
        "sorted-set",
        "1.2.0",
        St(zset::zincrby),
        "Adds to a member's score, creating the member at the increment if needed."
    ),
    cmd!(
        "zrem",
        -3,
        ["write", "fast"],
        (1, 1, 1),
        "sorted-set",
        "1.2.0",
        St(zset::zrem),
        "Removes members from a sorted set; returns how many were there."
    ),
    cmd!(
        "zcard",
        2,
        ["readonly", "fast"],
        (1, 1, 1),
        "sorted-set",
        "1.2.0",
        St(zset::zcard),
        "Returns the number of members of a sorted set."
    ),
    cmd!(
        "zcount",
        4,
        ["readonly", "fast"],
        (1, 1, 1),
        "sorted-set",
        "2.0.0",
        St(zset::zcount),
        "Counts the members whose score is within a range."
    ),
    cmd!(
        "zlexcount",
        4,
        ["readonly", "fast"],
        (1, 1, 1),
        "sorted-set",
        "2.8.9",
        St(zset::zlexcount),
        "Counts the members within a lexicographical range."
    ),
    cmd!(
        "zscore",
        3,
        ["readonly", "fast"],
        (1, 1, 1),
        "sorted-set",
        "1.2.0",
        St(zset::zscore),
        "Returns a member's score."
    ),
    cmd!(
        "zmscore",
        -3,
        ["readonly", "fast"],
        (1, 1, 1),
        "sorted-set",
        "6.2.0",
        St(zset::zmscore),
        "Returns the scores of several members."
    ),
    cmd!(
        "zrank",
        3,
        ["readonly", "fast"],
        (1, 1, 1),
        "sorted-set",
        "2.0.0",
        St(zset::zrank),
        "Returns a member's rank, lowest score first."
    ),
    cmd!(
        "zrevrank",
        3,
        ["readonly", "fast"],
        (1, 1, 1),
        "sorted-set",
        "2.0.0",
        St(zset::zrevrank),
        "Returns a member's rank, highest score first."
    ),
    cmd!(
        "zrange",
        -4,
        ["readonly"],
        (1, 1, 1),
        "sorted-set",
        "1.2.0",
        St(zset::zrange),
        "Returns members by rank, score or lexicographical range, optionally reversed and limited."
    ),
    cmd!(
        "zrangestore",
        -5,
        ["write", "denyoom"],
        (1, 2, 1),
        "sorted-set",
        "6.2.0",
        St(zset::zrangestore),
        "Stores a ZRANGE result in a sorted set."
    ),
    cmd!(
        "zrevrange",
        -4,
        ["readonly"],
        (1, 1, 1),
        "sorted-set",
        "1.2.0",
        St(zset::zrevrange),
        "Returns members by rank, highest score first."
    ),
    cmd!(
        "zrangebyscore",
        -4,
        ["readonly"],
        (1, 1, 1),
        "sorted-set",
        "1.0.5",
        St(zset::zrangebyscore),
        "Returns the members within a score range."
    ),
    cmd!(
        "zrevrangebyscore",
        -4,
        ["readonly"],
        (1, 1, 1),
        "sorted-set",
        "2.2.0",
        St(zset::zrevrangebyscore),
        "Returns the members within a score range, highest score first."
    ),
    cmd!(
        "zrangebylex",
        -4,
        ["readonly"],
        (1, 1, 1),
        "sorted-set",
        "2.8.9",
        St(zset::zrangebylex),
        "Returns the members within a lexicographical range."
    ),
    cmd!(
        "zrevrangebylex",
        -4,
        ["readonly"],
        (1, 1, 1),
        "sorted-set",
        "2.8.9",
        St(zset::zrevrangebylex),
        "Returns the members within a lexicographical range, in reverse order."
    ),
    cmd!(
        "zremrangebyrank",
        4,
        ["write"],
        (1, 1, 1),
        "sorted-set",
        "2.0.0",
        St(zset::zremrangebyrank),
        "Removes the members within a rank range."
    ),
    cmd!(
        "zremrangebyscore",
        4,
        ["write"],
        (1, 1, 1),
        "sorted-set",
        "1.2.0",
        St(zset::zremrangebyscore),
        "Removes the members within a score range."
    ),
    cmd!(
        "zremrangebylex",
        4,
        ["write"],
        (1, 1, 1),
        "sorted-set",
        "2.8.9",
        St(zset::zremrangebylex),
        "Removes the members within a lexicographical range."
    ),
    cmd!(
        "zpopmin",
        -2,
        ["write", "fast"],
        (1, 1, 1),
        "sorted-set",
        "5.0.0",
        St(zset::zpopmin),
        "Removes and returns the members with the lowest scores."
    ),
    cmd!(
        "zpopmax",
        -2,
        ["write", "fast"],
        (1, 1, 1),
        "sorted-set",
        "5.0.0",
        St(zset::zpopmax),
        "Removes and returns the members with the highest scores."
    ),
    cmd!(
        "zmpop",
        -4,
        ["write", "movablekeys"],
        (0, 0, 0),
        "sorted-set",
        "7.0.0",
        St(zset::zmpop),
        "Pops the lowest- or highest-scored members of the first non-empty sorted set among several keys."
    ),
    cmd!(
        "zrandmember",
        -2,
        ["readonly"],
        (1, 1, 1),
        "sorted-set",
        "6.2.0",
        St(zset::zrandmember),
        "Returns random members, optionally with scores and repetition."
    ),
    cmd!(
        "zunion",
        -3,
        ["readonly", "movablekeys"],
        (0, 0, 0),
        "sorted-set",
        "6.2.0",
        St(zset::zunion),
        "Returns the union of sorted sets (and sets), with weights and aggregation."
    ),
    cmd!(
        "zinter",
        -3,
        ["readonly", "movablekeys"],
        (0, 0, 0),
        "sorted-set",
        "6.2.0",
        St(zset::zinter),
        "Returns the intersection of sorted sets (and sets), with weights and aggregation."
    ),
    cmd!(
        "zdiff",
        -3,
        ["readonly", "movablekeys"],
        (0, 0, 0),
        "sorted-set",
        "6.2.0",
        St(zset::zdiff),
        "Returns the members of the first sorted set that are in none of the others."
    ),
    cmd!(
        "zunionstore",
        -4,
        ["write", "denyoom", "movablekeys"],
        (1, 1, 1),
        "sorted-set",
        "2.0.0",
        St(zset::zunionstore),
        "Stores the union of sorted sets (and sets) in a key."
    ),
    cmd!(
        "zinterstore",
        -4,
        ["write", "denyoom", "movablekeys"],
        (1, 1, 1),
        "sorted-set",
        "2.0.0",
        St(zset::zinterstore),
        "Stores the intersection of sorted sets (and sets) in a key."
    ),
    cmd!(
        "zdiffstore",
        -4,
        ["write", "denyoom", "movablekeys"],
        (1, 1, 1),
        "sorted-set",
        "6.2.0",
        St(zset::zdiffstore),
        "Stores the difference of sorted sets (and sets) in a key."
    ),
    cmd!(
        "zintercard",
        -3,
        ["readonly", "movablekeys"],
        (0, 0, 0),
        "sorted-set",
        "7.0.0",
        St(zset::zintercard),
        "Counts the members of an intersection of sorted sets, optionally stopping at a limit."
    ),
    cmd!(
        "zscan",
        -3,
        ["readonly"],
        (1, 1, 1),
        "sorted-set",
        "2.8.0",
        St(zset::zscan),
        "Iterates over the members and scores of a sorted set."
    ),
    // geo
    cmd!(
        "geoadd",
        -5,
        ["write", "denyoom"],
        (1, 1, 1),
        "geo",
        "3.2.0",
        St(geo::geoadd),
        "Adds members at longitude/latitude positions to a geo set (a sorted set scored by geohash)."
    ),
    cmd!(
        "geodist",
        -4,
        ["readonly"],
        (1, 1, 1),
        "geo",
        "3.2.0",
        St(geo::geodist),
        "Returns the distance between two members of a geo set."
    ),
    cmd!(
        "geohash",
        -2,
        ["readonly"],
        (1, 1, 1),
        "geo",
        "3.2.0",
        St(geo::geohash),
        "Returns the standard 11-character geohash strings of members."
    ),
    cmd!(
        "geopos",
        -2,
        ["readonly"],
        (1, 1, 1),
        "geo",
        "3.2.0",
        St(geo::geopos),
        "Returns the longitude and latitude of members."
    ),
    cmd!(
        "georadius",
        -6,
        ["write", "denyoom", "movablekeys"],
        (1, 1, 1),
        "geo",
        "3.2.0",
        St(geo::georadius),
        "Returns (or stores) the members within a radius of a position."
    ),
    cmd!(
        "georadius_ro",
        -6,
        ["readonly"],
        (1, 1, 1),
        "geo",
        "3.2.10",
        St(geo::georadius_ro),
        "Returns the members within a radius of a position."
    ),
    cmd!(
        "georadiusbymember",
        -5,
        ["write", "denyoom", "movablekeys"],
        (1, 1, 1),
        "geo",
        "3.2.0",
        St(geo::georadiusbymember),
        "Returns (or stores) the members within a radius of a member."
    ),
    cmd!(
        "georadiusbymember_ro",
        -5,
        ["readonly"],
        (1, 1, 1),
        "geo",
        "3.2.10",
        St(geo::georadiusbymember_ro),
        "Returns the members within a radius of a member."
    ),
    cmd!(
        "geosearch",
        -7,
        ["readonly"],
        (1, 1, 1),
        "geo",
        "6.2.0",
        St(geo::geosearch),
        "Returns the members within a radius or box around a member or position."
    ),
    cmd!(
        "geosearchstore",
        -8,
        ["write", "denyoom"],
        (1, 2, 1),
        "geo",
        "6.2.0",
        St(geo::geosearchstore),
        "Stores the members within a radius or box around a member or position."
    ),
    // server
    cmd!(
        "info",
        -1,
        ["loading", "stale"],
        K0,
        "server",
        "1.0.0",
        St(server::info),
        "Returns server information and statistics."
    ),
    cmd!(
        "config",
        -2,
        [],
        K0,
        "server",
        "2.0.0",
        St(server::config),
        "Reads and changes the configuration at runtime.",
        &[
            sub!(
                "get",
                -3,
                ["admin", "noscript", "loading", "stale"],
                "Returns the values of options matching glob patterns."
            ),
            sub!(
                "set",
                -4,
                ["admin", "noscript", "loading", "stale"],
                "Changes options at runtime."
            ),
            sub!(
                "resetstat",
                2,
                ["admin", "noscript", "loading", "stale"],
                "Resets the statistics INFO reports."
            ),
            sub!(
                "rewrite",
                2,
                ["admin", "noscript", "loading", "stale"],
                "Writes the running configuration back to the config file."
            ),
            sub!(
                "help",
                2,
                ["loading", "stale"],
                "Shows CONFIG's subcommands."
            ),
        ]
    ),
    cmd!(
        "command",
        -1,
        ["loading", "stale"],
        K0,
        "server",
        "2.8.13",
        St(server::command),
        "Describes the commands this server supports.",
        &[
            sub!(
                "count",
                2,
                ["loading", "stale"],
                "Returns the number of commands."
            ),
            sub!(
                "info",
                -2,
                ["loading", "stale"],
                "Returns details about commands."
            ),
            sub!(
                "docs",
                -2,
                ["loading", "stale"],
                "Returns documentation about commands."
            ),
            sub!(
                "getkeys",
                -4,
                ["loading", "stale"],
                "Extracts the key names of a command invocation."
            ),
            sub!("list", -2, ["loading", "stale"], "Lists command names."),
            sub!(
                "help",
                2,
                ["loading", "stale"],
                "Shows COMMAND's subcommands."
            ),
        ]
    ),
    cmd!(
        "time",
        1,
        ["loading", "stale", "fast"],
        K0,
        "server",
        "2.6.0",
        St(server::time),
        "Returns the server time."
    ),
    cmd!(
        "lastsave",
        1,
        ["loading", "stale", "fast"],
        K0,
        "server",
        "1.0.0",
        St(server::lastsave),
        "Returns the Unix time of the last flush to disk."
    ),
    cmd!(
        "cluster",
        -2,
        [],
        K0,
        "cluster",
        "3.0.0",
        Net,
        "Shows the cluster as Redis Cluster clients expect it: one shard, led by the Raft leader.",
        &[
            sub!("info", 2, ["loading", "stale"], "Returns the cluster's state."),
            sub!("myid", 2, ["loading", "stale"], "Returns this node's id."),
            sub!("nodes", 2, ["loading", "stale"], "Returns the members in CLUSTER NODES format."),
            sub!("slots", 2, ["loading", "stale"], "Returns the slot ranges and their nodes."),
            sub!("shards", 2, ["loading", "stale"], "Returns the shards and their nodes."),
            sub!("keyslot", 3, ["stale"], "Returns the hash slot of a key."),
            sub!(
                "countkeysinslot",
                3,
                ["stale"],
                "Counts this node's keys in a hash slot (walks the whole database)."
            ),
            sub!(
                "getkeysinslot",
                4,
                ["stale"],
                "Returns up to count of this node's keys in a hash slot (walks the whole database)."
            )
        ]
    ),
    cmd!(
        "readonly",
        1,
        ["fast", "loading", "stale"],
        K0,
        "cluster",
        "3.0.0",
        Net,
        "Lets this connection read a follower's own data (possibly stale) in cluster mode."
    ),
    cmd!(
        "readwrite",
        1,
        ["fast", "loading", "stale"],
        K0,
        "cluster",
        "3.0.0",
        Net,
        "Makes this connection's reads linearizable again after READONLY."
    ),
    cmd!(
        "asking",
        1,
        ["fast"],
        K0,
        "cluster",
        "3.0.0",
        Net,
        "Accepted for Redis Cluster clients; one shard owns every slot, so it changes nothing."
    ),
    cmd!(
        "acl",
        -2,
        [],
        K0,
        "server",
        "6.0.0",
        Net,
        "Manages ACL users and shows the connection's user.",
        &[
            sub!(
                "cat",
                -2,
                ["noscript", "loading", "stale"],
                "Lists the ACL categories, or the commands in one."
            ),
            sub!(
                "deluser",
                -3,
                ["admin", "noscript", "loading", "stale"],
                "Deletes users and disconnects their connections."
            ),
            sub!(
                "getuser",
                3,
                ["admin", "noscript", "loading", "stale"],
                "Shows one user's rules."
            ),
            sub!(
                "help",
                2,
                ["loading", "stale"],
                "Shows ACL's subcommands."
            ),
            sub!(
                "list",
                2,
                ["admin", "noscript", "loading", "stale"],
                "Shows every user's rules in config-file syntax."
            ),
            sub!(
                "setuser",
                -3,
                ["admin", "noscript", "loading", "stale"],
                "Creates a user or changes its rules."
            ),
            sub!(
                "users",
                2,
                ["admin", "noscript", "loading", "stale"],
                "Lists the user names."
            ),
            sub!(
                "whoami",
                2,
                ["noscript", "loading", "stale"],
                "Returns the connection's user."
            ),
        ]
    ),
    cmd!(
        "slowlog",
        -2,
        [],
        K0,
        "server",
        "2.2.12",
        St(slowlog::slowlog),
        "Reads or clears the log of slow commands.",
        &[
            sub!(
                "get",
                -2,
                ["admin", "loading", "stale"],
                "Returns the newest slow log entries."
            ),
            sub!(
                "len",
                2,
                ["admin", "loading", "stale"],
                "Returns the number of slow log entries."
            ),
            sub!(
                "reset",
                2,
                ["admin", "loading", "stale"],
                "Clears the slow log."
            ),
            sub!(
                "help",
                2,
                ["loading", "stale"],
                "Shows SLOWLOG's subcommands."
            ),
        ]
    ),
    cmd!(
        "latency",
        -2,
        [],
        K0,
        "server",
        "2.8.13",
        St(latency::latency),
        "Reports latency spikes recorded by the latency monitor.",
        &[
            sub!(
                "latest",
                2,
                ["admin", "noscript", "loading", "stale"],
                "Returns the latest sample of every event."
            ),
            sub!(
                "history",
                3,
                ["admin", "noscript", "loading", "stale"],
                "Returns the samples of one event."
            ),
            sub!(
                "reset",
                -2,
                ["admin", "noscript", "loading", "stale"],
                "Forgets the samples of some or all events."
            ),
            sub!(
                "graph",
                3,
                ["admin", "noscript", "loading", "stale"],
                "Draws an ASCII graph of one event's samples."
            ),
            sub!(
                "doctor",
                2,
                ["admin", "noscript", "loading", "stale"],
                "Returns a human-readable analysis of the recorded events."
            ),
            sub!(
                "help",
                2,
                ["loading", "stale"],
                "Shows LATENCY's subcommands."
            ),
        ]
    ),
    cmd!(
        "shutdown",
        -1,
        ["admin", "noscript", "loading", "stale"],
        K0,
        "server",
        "1.0.0",
        Net,
        "Stops the server gracefully."
    ),
    // blocking pops
    cmd!(
        "blpop",
        -3,
        ["write", "noscript", "blocking"],
        (1, -2, 1),
        "list",
        "2.0.0",
        St(blocking::blpop),
        "Pops the first element of the first non-empty list, waiting up to a timeout for one."
    ),
    cmd!(
        "brpop",
        -3,
        ["write", "noscript", "blocking"],
        (1, -2, 1),
        "list",
        "2.0.0",
        St(blocking::brpop),
        "Pops the last element of the first non-empty list, waiting up to a timeout for one."
    ),
    cmd!(
        "blmove",
        6,
        ["write", "denyoom", "noscript", "blocking"],
        (1, 2, 1),
        "list",
        "6.2.0",
        St(blocking::blmove),
        "LMOVE that waits up to a timeout for the source list to have an element."
    ),
    cmd!(
        "brpoplpush",
        4,
        ["write", "denyoom", "noscript", "blocking"],
        (1, 2, 1),
        "list",
        "2.2.0",
        St(blocking::brpoplpush),
        "RPOPLPUSH that waits up to a timeout for the source list to have an element."
    ),
    cmd!(
        "blmpop",
        -5,
        ["write", "blocking", "movablekeys"],
        (0, 0, 0),
        "list",
        "7.0.0",
        St(blocking::blmpop),
        "LMPOP that waits up to a timeout for one of the lists to have elements."
    ),
    cmd!(
        "bzpopmin",
        -3,
        ["write", "noscript", "blocking", "fast"],
        (1, -2, 1),
        "sorted-set",
        "5.0.0",
        St(blocking::bzpopmin),
        "Pops the lowest-scored member of the first non-empty sorted set, waiting up to a timeout."
    ),
    cmd!(
        "bzpopmax",
        -3,
        ["write", "noscript", "blocking", "fast"],
        (1, -2, 1),
        "sorted-set",
        "5.0.0",
        St(blocking::bzpopmax),
        "Pops the highest-scored member of the first non-empty sorted set, waiting up to a timeout."
    ),
    cmd!(
        "bzmpop",
        -5,
        ["write", "blocking", "movablekeys"],
        (0, 0, 0),
        "sorted-set",
        "7.0.0",
        St(blocking::bzmpop),
        "ZMPOP that waits up to a timeout for one of the sorted sets to have members."
    ),
    // transactions
    cmd!(
        "multi",
        1,
        ["noscript", "loading", "stale", "fast", "allow_busy"],
        (0, 0, 0),
        "transactions",
        "1.2.0",
        Net,
        "Starts a transaction: later commands are queued until EXEC."
    ),
    cmd!(
        "exec",
        1,
        ["noscript", "loading", "stale", "skip_slowlog"],
        (0, 0, 0),
        "transactions",
        "1.2.0",
        Net,
        "Runs the queued commands atomically (one locked storage job, one WriteBatch), or aborts if a watched key changed."
    ),
    cmd!(
        "discard",
        1,
        ["noscript", "loading", "stale", "fast", "allow_busy"],
        (0, 0, 0),
        "transactions",
        "2.0.0",
        Net,
        "Drops the queued commands of a transaction."
    ),
    cmd!(
        "watch",
        -2,
        ["noscript", "loading", "stale", "fast", "allow_busy"],
        (1, -1, 1),
        "transactions",
        "2.2.0",
        Net,
        "Watches keys: EXEC aborts if any of them is written (or expires) first."
    ),
    cmd!(
        "unwatch",
        1,
        ["noscript", "loading", "stale", "fast", "allow_busy"],
        (0, 0, 0),
        "transactions",
        "2.2.0",
        Net,
        "Forgets every watched key."
    ),
    // connection
    cmd!(
        "monitor",
        1,
        ["admin", "noscript", "loading", "stale"],
        (0, 0, 0),
        "server",
        "1.0.0",
        Net,
        "Streams every command the server runs, from every client, as it runs."
    ),
    cmd!(
        "ping",
        -1,
        ["fast"],
        K0,
        "connection",
        "1.0.0",
        Net,
        "Checks the connection."
    ),
    cmd!(
        "echo",
        2,
        ["fast"],
        K0,
        "connection",
        "1.0.0",
        Net,
        "Returns the given string."
    ),
    cmd!(
        "select",
        2,
        ["loading", "stale", "fast"],
        K0,
        "connection",
        "1.0.0",
        Net,
        "Selects the database of the connection."
    ),
    cmd!(
        "auth",
        -2,
        ["noscript", "loading", "stale", "fast", "no-auth"],
        K0,
        "connection",
        "1.0.0",
        Net,
        "Authenticates the connection."
    ),
    cmd!(
        "hello",
        -1,
        ["noscript", "loading", "stale", "fast", "no-auth"],
        K0,
        "connection",
        "6.0.0",
        Net,
        "Negotiates the protocol version and authenticates."
    ),
    cmd!(
        "quit",
        -1,
        ["noscript", "loading", "stale", "fast", "no-auth"],
        K0,
        "connection",
        "1.0.0",
        Net,
        "Closes the connection."
    ),
    cmd!(
        "reset",
        1,
        ["noscript", "loading", "stale", "fast", "no-auth"],
        K0,
        "connection",
        "6.2.0",
        Net,
        "Resets the connection's state."
    ),
    cmd!(
        "client",
        -2,
        [],
        K0,
        "connection",
        "2.4.0",
        Net,
        "Inspects and manages client connections.",
        &[
            sub!(
                "id",
                2,
                ["noscript", "loading", "stale"],
                "Returns the connection's id."
            ),
            sub!(
                "getname",
                2,
                ["noscript", "loading", "stale"],
                "Returns the connection's name."
            ),
            sub!(
                "setname",
                3,
                ["noscript", "loading", "stale"],
                "Names the connection."
            ),
            sub!(
                "list",
                -2,
                ["admin", "noscript", "loading", "stale"],
                "Lists connections."
            ),
            sub!(
                "info",
                2,
                ["noscript", "loading", "stale"],
                "Describes this connection."
            ),
            sub!(
                "kill",
                -3,
                ["admin", "noscript", "loading", "stale"],
                "Closes connections."
            ),
            sub!(
                "setinfo",
                4,
                ["noscript", "loading", "stale"],
                "Records the client library name and version."
            ),
            sub!(
                "reply",
                3,
                ["noscript", "loading", "stale"],
                "Accepts ON (replies are always sent)."
            ),
            sub!(
                "pause",
                -3,
                ["admin", "noscript", "loading", "stale"],
                "Holds back every client's commands (or only writes) for some milliseconds."
            ),
            sub!(
                "unpause",
                2,
                ["admin", "noscript", "loading", "stale"],
                "Lifts CLIENT PAUSE."
            ),
            sub!(
                "unblock",
                -3,
                ["admin", "noscript", "loading", "stale"],
                "Releases a client blocked in BLPOP and friends, with a nil reply or an error."
            ),
            sub!(
                "no-evict",
                3,
                ["admin", "noscript", "loading", "stale"],
                "Accepted for compatibility."
            ),
            sub!(
                "no-touch",
                3,
                ["noscript", "loading", "stale"],
                "Accepted for compatibility."
            ),
            sub!(
                "help",
                2,
                ["loading", "stale"],
                "Shows CLIENT's subcommands."
            ),
        ]
    ),
    // pubsub
    cmd!(
        "subscribe",
        -2,
        ["pubsub", "noscript", "loading", "stale"],
        K0,
        "pubsub",
        "2.0.0",
        Net,
        "Listens to channels."
    ),
    cmd!(
        "unsubscribe",
        -1,
        ["pubsub", "noscript", "loading", "stale"],
        K0,
        "pubsub",
        "2.0.0",
        Net,
        "Stops listening to channels (all of them without arguments)."
    ),
    cmd!(
        "psubscribe",
        -2,
        ["pubsub", "noscript", "loading", "stale"],
        K0,
        "pubsub",
        "2.0.0",
        Net,
        "Listens to every channel matching glob patterns."
    ),
    cmd!(
        "punsubscribe",
        -1,
        ["pubsub", "noscript", "loading", "stale"],
        K0,
        "pubsub",
        "2.0.0",
        Net,
        "Stops listening to patterns (all of them without arguments)."
    ),
    cmd!(
        "publish",
        3,
        ["pubsub", "loading", "stale", "fast"],
        K0,
        "pubsub",
        "2.0.0",
        Net,
        "Sends a message to a channel's and matching patterns' subscribers; returns how many got it."
    ),
    cmd!(
        "ssubscribe",
        -2,
        ["pubsub", "noscript", "loading", "stale"],
        KALL,
        "pubsub",
        "7.0.0",
        Net,
        "Listens to shard channels."
    ),
    cmd!(
        "sunsubscribe",
        -1,
        ["pubsub", "noscript", "loading", "stale"],
        KALL,
        "pubsub",
        "7.0.0",
        Net,
        "Stops listening to shard channels (all of them without arguments)."
    ),
    cmd!(
        "spublish",
        3,
        ["pubsub", "loading", "stale", "fast"],
        K1,
        "pubsub",
        "7.0.0",
        Net,
        "Sends a message to a shard channel's subscribers; returns how many got it."
    ),
    cmd!(
        "pubsub",
        -2,
        [],
        K0,
        "pubsub",
        "2.8.0",
        Net,
        "Inspects the pub/sub state.",
        &[
            sub!(
                "channels",
                -2,
                ["pubsub", "loading", "stale"],
                "Lists channels with subscribers, optionally matching a pattern."
            ),
            sub!(
                "numsub",
                -2,
                ["pubsub", "loading", "stale"],
                "Counts the subscribers of channels."
            ),
            sub!(
                "numpat",
                2,
                ["pubsub", "loading", "stale"],
                "Counts the patterns with subscribers."
            ),
            sub!(
                "shardchannels",
                -2,
                ["pubsub", "loading", "stale"],
                "Lists shard channels with subscribers, optionally matching a pattern."
            ),
            sub!(
                "shardnumsub",
                -2,
                ["pubsub", "loading", "stale"],
                "Counts the subscribers of shard channels."
            ),
            sub!(
                "help",
                2,
                ["loading", "stale"],
                "Shows PUBSUB's subcommands."
            ),
        ]
    ),
    // bitmap
    cmd!(
        "setbit",
        4,
        ["write", "denyoom"],
        K1,
        "bitmap",
        "2.2.0",
        St(bitmap::setbit),
        "Sets or clears one bit of a string, growing it as needed."
    ),
    cmd!(
        "getbit",
        3,
        ["readonly", "fast"],
        K1,
        "bitmap",
        "2.2.0",
        St(bitmap::getbit),
        "Returns one bit of a string."
    ),
    cmd!(
        "bitcount",
        -2,
        ["readonly"],
        K1,
        "bitmap",
        "2.6.0",
        St(bitmap::bitcount),
        "Counts the set bits of a string, optionally in a byte or bit range."
    ),
    cmd!(
        "bitpos",
        -3,
        ["readonly"],
        K1,
        "bitmap",
        "2.8.7",
        St(bitmap::bitpos),
        "Finds the first set or clear bit of a string, optionally in a byte or bit range."
    ),
    cmd!(
        "bitop",
        -4,
        ["write", "denyoom"],
        (2, -1, 1),
        "bitmap",
        "2.6.0",
        St(bitmap::bitop),
        "Stores the AND, OR, XOR or NOT of strings in a key."
    ),
    cmd!(
        "bitfield",
        -2,
        ["write", "denyoom"],
        K1,
        "bitmap",
        "3.2.0",
        St(bitmap::bitfield),
        "Reads, sets and increments integer fields of a string."
    ),
    cmd!(
        "bitfield_ro",
        -2,
        ["readonly", "fast"],
        K1,
        "bitmap",
        "6.0.0",
        St(bitmap::bitfield_ro),
        "Reads integer fields of a string."
    ),
    // hyperloglog
    cmd!(
        "pfadd",
        -2,
        ["write", "denyoom", "fast"],
        K1,
        "hyperloglog",
        "2.8.9",
        St(hyperloglog::pfadd),
        "Adds elements to a HyperLogLog (Redis's byte format)."
    ),
    cmd!(
        "pfcount",
        -2,
        ["readonly"],
        KALL,
        "hyperloglog",
        "2.8.9",
        St(hyperloglog::pfcount),
        "Estimates the cardinality of one HyperLogLog (caching it) or of the union of several."
    ),
    cmd!(
        "pfmerge",
        -2,
        ["write", "denyoom"],
        KALL,
        "hyperloglog",
        "2.8.9",
        St(hyperloglog::pfmerge),
        "Merges HyperLogLogs into the first key."
    ),
    cmd!(
        "pfdebug",
        3,
        ["write", "denyoom", "admin"],
        K2,
        "hyperloglog",
        "2.8.9",
        St(hyperloglog::pfdebug),
        "Inspects a HyperLogLog: GETREG, DECODE, ENCODING or TODENSE."
    ),
];
