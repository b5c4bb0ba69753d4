//! The command table: every command Kiwi understands, one line each, with every property it has
//! — arity, flags, key specs, documentation group, handler — so that nothing else in the code
//! keeps a list of command names.
//!
//! A line reads `cmd!(name, arity, FLAGS, [key specs], group, since, handler, summary)`, with
//! `subs:` (a container's subcommands) and `secrets:` (which arguments the slow log and MONITOR
//! hide) where a command has them. Key specs (see `keys.rs`) are `at(i; FLAGS)`, `range(first,
//! last, step; FLAGS)`, `numkeys(i; FLAGS)` (a count at i, then the keys), `after("WORD", from;
//! FLAGS)`, or a function the command's family provides: `variable(i, f)` (one key whose flags
//! depend on the options) and `find(f)`. Flags are those of [`Flags`] and [`KeyFlags`].

use super::flags::{Flags, KeyFlags};
use super::keys::{after, at, find, numkeys, range, variable};
use super::{
    bitmap, blocking, debug, dump, functions, geo, hash, hyperloglog, keyspace, latency, list,
    memory, migrate, scripting, server, set, slowlog, sort, stream, strings, zset, CommandSpec,
    Handler, SubSpec,
};

/// `[at(1; RO | ACCESS), numkeys(2; RW | DELETE), find(f)]`: key specs with their flags.
macro_rules! key_specs {
    ($($kind:ident($($arg:expr),* $(; $($flag:ident)|+)?)),*) => {
        &[$($kind($($arg,)* $(KeyFlags::of(&[$(KeyFlags::$flag),+]))?)),*]
    };
}

macro_rules! cmd {
    (
        $name:literal, $arity:literal, $($flag:ident)|+,
        [$($keys:tt)*], $group:literal, $since:literal, $handler:expr, $summary:literal
        $(, subs: $subs:expr)? $(, secrets: $secrets:expr)?
    ) => {
        CommandSpec {
            name: $name,
            arity: $arity,
            flags: Flags::of(&[$(Flags::$flag),+]),
            keys: key_specs!($($keys)*),
            group: $group,
            summary: $summary,
            since: $since,
            subcommands: cmd!(@or [$($subs)?] &[]),
            handler: $handler,
            secrets: cmd!(@or [$(Some($secrets))?] None),
        }
    };
    (@or [] $default:expr) => { $default };
    (@or [$value:expr] $default:expr) => { $value };
}

macro_rules! sub {
    (
        $name:literal, $arity:literal, $($flag:ident)|+,
        [$($keys:tt)*], $summary:literal
    ) => {
        SubSpec {
            name: $name,
            arity: $arity,
            flags: Flags::of(&[$(Flags::$flag),+]),
            keys: key_specs!($($keys)*),
            summary: $summary,
        }
    };
}

use Handler::{Connection as Net, Storage as St};

/// Every command, grouped by family.
#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    // strings
    cmd!("get", 2, READONLY | FAST, [at(1; RO | ACCESS)], "string", "1.0.0", St(strings::get), "Returns the string value of a key."),
    cmd!("set", -3, WRITE | DENYOOM, [variable(1, strings::set_key_flags)], "string", "1.0.0", St(strings::set), "Sets the string value of a key, with optional expiry and conditions."),
    cmd!("setnx", 3, WRITE | DENYOOM | FAST, [at(1; OW | INSERT)], "string", "1.0.0", St(strings::setnx), "Sets a key only if it does not exist."),
    cmd!("setex", 4, WRITE | DENYOOM, [at(1; OW | UPDATE)], "string", "2.0.0", St(strings::setex), "Sets a key with an expiry in seconds."),
    cmd!("psetex", 4, WRITE | DENYOOM, [at(1; OW | UPDATE)], "string", "2.6.0", St(strings::psetex), "Sets a key with an expiry in milliseconds."),
    cmd!("getset", 3, WRITE | DENYOOM | FAST, [at(1; RW | ACCESS | UPDATE)], "string", "1.0.0", St(strings::getset), "Sets a key and returns its old value."),
    cmd!("getdel", 2, WRITE | FAST, [at(1; RW | ACCESS | DELETE)], "string", "6.2.0", St(strings::getdel), "Returns a key's value and deletes it."),
    cmd!("getex", -2, WRITE | FAST, [at(1; RW | ACCESS | UPDATE)], "string", "6.2.0", St(strings::getex), "Returns a key's value and changes its expiry."),
    cmd!("mget", -2, READONLY | FAST, [range(1, -1, 1; RO | ACCESS)], "string", "1.0.0", St(strings::mget), "Returns the values of several keys."),
    cmd!("mset", -3, WRITE | DENYOOM, [range(1, -1, 2; OW | UPDATE)], "string", "1.0.1", St(strings::mset), "Sets several keys atomically."),
    cmd!("msetnx", -3, WRITE | DENYOOM, [range(1, -1, 2; OW | INSERT)], "string", "1.0.1", St(strings::msetnx), "Sets several keys atomically only if none exists."),
    cmd!("append", 3, WRITE | DENYOOM | FAST, [at(1; RW | INSERT)], "string", "2.0.0", St(strings::append), "Appends to a string value."),
    cmd!("strlen", 2, READONLY | FAST, [at(1; RO)], "string", "2.2.0", St(strings::strlen), "Returns the length of a string value."),
    cmd!("incr", 2, WRITE | DENYOOM | FAST, [at(1; RW | ACCESS | UPDATE)], "string", "1.0.0", St(strings::incr), "Increments an integer value by one."),
    cmd!("decr", 2, WRITE | DENYOOM | FAST, [at(1; RW | ACCESS | UPDATE)], "string", "1.0.0", St(strings::decr), "Decrements an integer value by one."),
    cmd!("incrby", 3, WRITE | DENYOOM | FAST, [at(1; RW | ACCESS | UPDATE)], "string", "1.0.0", St(strings::incrby), "Increments an integer value."),
    cmd!("decrby", 3, WRITE | DENYOOM | FAST, [at(1; RW | ACCESS | UPDATE)], "string", "1.0.0", St(strings::decrby), "Decrements an integer value."),
    cmd!("incrbyfloat", 3, WRITE | DENYOOM | FAST, [at(1; RW | ACCESS | UPDATE)], "string", "2.6.0", St(strings::incrbyfloat), "Increments a float value (long double arithmetic, like Redis)."),
    cmd!("getrange", 4, READONLY, [at(1; RO | ACCESS)], "string", "2.4.0", St(strings::getrange), "Returns a substring of a string value."),
    cmd!("substr", 4, READONLY, [at(1; RO | ACCESS)], "string", "1.0.0", St(strings::getrange), "Returns a substring of a string value (old name of GETRANGE)."),
    cmd!("setrange", 4, WRITE | DENYOOM, [at(1; RW | UPDATE)], "string", "2.2.0", St(strings::setrange), "Overwrites part of a string value."),
    cmd!("lcs", -3, READONLY, [range(1, 2, 1; RO | ACCESS)], "string", "7.0.0", St(strings::lcs), "Longest common subsequence of two string values."),
    // keyspace
    cmd!("del", -2, WRITE, [range(1, -1, 1; RM | DELETE)], "generic", "1.0.0", St(keyspace::del), "Deletes keys."),
    cmd!("unlink", -2, WRITE | FAST, [range(1, -1, 1; RM | DELETE)], "generic", "4.0.0", St(keyspace::del), "Deletes keys (O(1) for any size in Kiwi, like DEL)."),
    cmd!("exists", -2, READONLY | FAST | NO_TOUCH, [range(1, -1, 1; RO)], "generic", "1.0.0", St(keyspace::exists), "Counts how many of the keys exist."),
    cmd!("touch", -2, READONLY | FAST, [range(1, -1, 1; RO)], "generic", "3.2.1", St(keyspace::exists), "Counts how many of the keys exist (access time is not tracked)."),
    cmd!("type", 2, READONLY | FAST | NO_TOUCH, [at(1; RO)], "generic", "1.0.0", St(keyspace::type_), "Returns the type of a key."),
    cmd!("expire", -3, WRITE | FAST, [at(1; RW | UPDATE)], "generic", "1.0.0", St(keyspace::expire), "Sets a key's time to live in seconds."),
    cmd!("pexpire", -3, WRITE | FAST, [at(1; RW | UPDATE)], "generic", "2.6.0", St(keyspace::pexpire), "Sets a key's time to live in milliseconds."),
    cmd!("expireat", -3, WRITE | FAST, [at(1; RW | UPDATE)], "generic", "1.2.0", St(keyspace::expireat), "Sets a key's expiry as a Unix time in seconds."),
    cmd!("pexpireat", -3, WRITE | FAST, [at(1; RW | UPDATE)], "generic", "2.6.0", St(keyspace::pexpireat), "Sets a key's expiry as a Unix time in milliseconds."),
    cmd!("ttl", 2, READONLY | FAST | NO_TOUCH, [at(1; RO | ACCESS)], "generic", "1.0.0", St(keyspace::ttl), "Returns a key's time to live in seconds."),
    cmd!("pttl", 2, READONLY | FAST | NO_TOUCH, [at(1; RO | ACCESS)], "generic", "2.6.0", St(keyspace::pttl), "Returns a key's time to live in milliseconds."),
    cmd!("expiretime", 2, READONLY | FAST | NO_TOUCH, [at(1; RO | ACCESS)], "generic", "7.0.0", St(keyspace::expiretime), "Returns a key's expiry as a Unix time in seconds."),
    cmd!("pexpiretime", 2, READONLY | FAST | NO_TOUCH, [at(1; RO | ACCESS)], "generic", "7.0.0", St(keyspace::pexpiretime), "Returns a key's expiry as a Unix time in milliseconds."),
    cmd!("persist", 2, WRITE | FAST, [at(1; RW | UPDATE)], "generic", "2.2.0", St(keyspace::persist), "Removes a key's expiry."),
    cmd!("keys", 2, READONLY, [], "generic", "1.0.0", St(keyspace::keys), "Returns all keys matching a glob pattern."),
    cmd!("scan", -2, READONLY, [], "generic", "2.8.0", St(keyspace::scan), "Iterates over keys incrementally."),
    cmd!("randomkey", 1, READONLY, [], "generic", "1.0.0", St(keyspace::randomkey), "Returns a random key."),
    cmd!("rename", 3, WRITE, [at(1; RW | ACCESS | DELETE), at(2; OW | UPDATE)], "generic", "1.0.0", St(keyspace::rename), "Renames a key, overwriting the destination."),
    cmd!("renamenx", 3, WRITE | FAST, [at(1; RW | ACCESS | DELETE), at(2; OW | INSERT)], "generic", "1.0.0", St(keyspace::renamenx), "Renames a key if the destination does not exist."),
    cmd!("copy", -3, WRITE | DENYOOM, [at(1; RO | ACCESS), at(2; OW | UPDATE)], "generic", "6.2.0", St(keyspace::copy), "Copies a key, optionally to another database."),
    cmd!("move", 3, WRITE | FAST, [at(1; RW | ACCESS | UPDATE)], "generic", "1.0.0", St(keyspace::move_), "Moves a key to another database."),
    cmd!("dbsize", 1, READONLY | FAST, [], "server", "1.0.0", St(keyspace::dbsize), "Returns the exact number of keys in the database."),
    cmd!("flushdb", -1, WRITE, [], "server", "1.0.0", St(keyspace::flushdb), "Removes all keys of the current database (O(1) range delete)."),
    cmd!("flushall", -1, WRITE, [], "server", "1.0.0", St(keyspace::flushall), "Removes all keys of all databases (O(1) range delete)."),
    cmd!("swapdb", 3, WRITE | FAST, [], "server", "4.0.0", St(keyspace::swapdb), "Swaps two databases (O(1))."),
    cmd!("dump", 2, READONLY, [at(1; RO | ACCESS)], "generic", "2.6.0", St(dump::dump), "Serializes a key's value in Redis's DUMP format (RDB version 10)."),
    cmd!("restore", -4, WRITE | DENYOOM, [at(1; OW | UPDATE)], "generic", "2.6.0", St(dump::restore), "Creates a key from a DUMP payload of Kiwi or redis-server (every Redis 7.0 encoding)."),
    cmd!("migrate", -6, WRITE | MOVABLEKEYS, [at(3; RW | ACCESS | DELETE), find(migrate::migrate_keys)], "generic", "2.6.0", St(migrate::migrate), "Moves keys to another Kiwi or Redis server (DUMP there, RESTORE here, DEL), atomic per key.", secrets: migrate::migrate_secrets),
    cmd!("object", -2, NONE, [], "generic", "2.2.3", St(keyspace::object), "Inspects the internals of a key.", subs: OBJECT_SUBS),
    // hashes
    cmd!("hset", -4, WRITE | DENYOOM | FAST, [at(1; RW | UPDATE)], "hash", "2.0.0", St(hash::hset), "Sets fields of a hash, creating it if needed; returns how many fields are new."),
    cmd!("hsetnx", 4, WRITE | DENYOOM | FAST, [at(1; RW | INSERT)], "hash", "2.0.0", St(hash::hsetnx), "Sets a hash field only if it does not exist yet."),
    cmd!("hget", 3, READONLY | FAST, [at(1; RO | ACCESS)], "hash", "2.0.0", St(hash::hget), "Returns the value of a hash field."),
    cmd!("hmset", -4, WRITE | DENYOOM | FAST, [at(1; RW | UPDATE)], "hash", "2.0.0", St(hash::hmset), "Sets fields of a hash (deprecated form of HSET that replies OK)."),
    cmd!("hmget", -3, READONLY | FAST, [at(1; RO | ACCESS)], "hash", "2.0.0", St(hash::hmget), "Returns the values of several hash fields."),
    cmd!("hgetall", 2, READONLY, [at(1; RO | ACCESS)], "hash", "2.0.0", St(hash::hgetall), "Returns every field and value of a hash."),
    cmd!("hdel", -3, WRITE | FAST, [at(1; RW | DELETE)], "hash", "2.0.0", St(hash::hdel), "Deletes fields from a hash; an emptied hash disappears."),
    cmd!("hexists", 3, READONLY | FAST, [at(1; RO)], "hash", "2.0.0", St(hash::hexists), "Tells whether a hash field exists."),
    cmd!("hlen", 2, READONLY | FAST, [at(1; RO)], "hash", "2.0.0", St(hash::hlen), "Returns the number of fields in a hash (a metadata read)."),
    cmd!("hkeys", 2, READONLY, [at(1; RO | ACCESS)], "hash", "2.0.0", St(hash::hkeys), "Returns every field name of a hash."),
    cmd!("hvals", 2, READONLY, [at(1; RO | ACCESS)], "hash", "2.0.0", St(hash::hvals), "Returns every value of a hash."),
    cmd!("hincrby", 4, WRITE | DENYOOM | FAST, [at(1; RW | ACCESS | UPDATE)], "hash", "2.0.0", St(hash::hincrby), "Adds an integer to a hash field."),
    cmd!("hincrbyfloat", 4, WRITE | DENYOOM | FAST, [at(1; RW | ACCESS | UPDATE)], "hash", "2.6.0", St(hash::hincrbyfloat), "Adds a floating point number to a hash field (long double precision, as Redis)."),
    cmd!("hstrlen", 3, READONLY | FAST, [at(1; RO)], "hash", "3.2.0", St(hash::hstrlen), "Returns the length of a hash field's value."),
    cmd!("hrandfield", -2, READONLY, [at(1; RO | ACCESS)], "hash", "6.2.0", St(hash::hrandfield), "Returns random fields of a hash, distinct or with repetition."),
    cmd!("hscan", -3, READONLY, [at(1; RO | ACCESS)], "hash", "2.8.0", St(hash::hscan), "Iterates the fields and values of a hash with a cursor."),
    // sets
    cmd!("sadd", -3, WRITE | DENYOOM | FAST, [at(1; RW | INSERT)], "set", "1.0.0", St(set::sadd), "Adds members to a set, creating it if needed; returns how many are new."),
    cmd!("srem", -3, WRITE | FAST, [at(1; RW | DELETE)], "set", "1.0.0", St(set::srem), "Removes members from a set; an emptied set disappears."),
    cmd!("smembers", 2, READONLY, [at(1; RO | ACCESS)], "set", "1.0.0", St(set::smembers), "Returns every member of a set."),
    cmd!("sismember", 3, READONLY | FAST, [at(1; RO)], "set", "1.0.0", St(set::sismember), "Tells whether a value is a member of a set."),
    cmd!("smismember", -3, READONLY | FAST, [at(1; RO | ACCESS)], "set", "6.2.0", St(set::smismember), "Tells, for each value, whether it is a member of a set."),
    cmd!("scard", 2, READONLY | FAST, [at(1; RO)], "set", "1.0.0", St(set::scard), "Returns the number of members of a set (a metadata read)."),
    cmd!("spop", -2, WRITE | FAST, [at(1; RW | ACCESS | DELETE)], "set", "1.0.0", St(set::spop), "Removes and returns random members of a set."),
    cmd!("srandmember", -2, READONLY, [at(1; RO | ACCESS)], "set", "1.0.0", St(set::srandmember), "Returns random members of a set, distinct or with repetition."),
    cmd!("smove", 4, WRITE | FAST, [at(1; RW | ACCESS | DELETE), at(2; RW | INSERT)], "set", "1.0.0", St(set::smove), "Moves a member from one set to another, atomically."),
    cmd!("sinter", -2, READONLY, [range(1, -1, 1; RO | ACCESS)], "set", "1.0.0", St(set::sinter), "Returns the intersection of sets."),
    cmd!("sintercard", -3, READONLY | MOVABLEKEYS, [numkeys(1; RO | ACCESS)], "set", "7.0.0", St(set::sintercard), "Returns the size of the intersection of sets, optionally stopping at a limit."),
    cmd!("sinterstore", -3, WRITE | DENYOOM, [at(1; RW | UPDATE), range(2, -1, 1; RO | ACCESS)], "set", "1.0.0", St(set::sinterstore), "Stores the intersection of sets in a key."),
    cmd!("sunion", -2, READONLY, [range(1, -1, 1; RO | ACCESS)], "set", "1.0.0", St(set::sunion), "Returns the union of sets."),
    cmd!("sunionstore", -3, WRITE | DENYOOM, [at(1; OW | UPDATE), range(2, -1, 1; RO | ACCESS)], "set", "1.0.0", St(set::sunionstore), "Stores the union of sets in a key."),
    cmd!("sdiff", -2, READONLY, [range(1, -1, 1; RO | ACCESS)], "set", "1.0.0", St(set::sdiff), "Returns the members of the first set that are in none of the others."),
    cmd!("sdiffstore", -3, WRITE | DENYOOM, [at(1; OW | UPDATE), range(2, -1, 1; RO | ACCESS)], "set", "1.0.0", St(set::sdiffstore), "Stores the difference of sets in a key."),
    cmd!("sscan", -3, READONLY, [at(1; RO | ACCESS)], "set", "2.8.0", St(set::sscan), "Iterates the members of a set with a cursor."),
    // sorting
    cmd!("sort", -2, WRITE | DENYOOM | MOVABLEKEYS, [at(1; RO | ACCESS), find(sort::store_key)], "generic", "1.0.0", St(sort::sort), "Sorts a list, set or sorted set (by value or by other keys) and returns or stores the result."),
    cmd!("sort_ro", -2, READONLY | MOVABLEKEYS, [at(1; RO | ACCESS)], "generic", "7.0.0", St(sort::sort_ro), "Read-only SORT (no STORE)."),
    // lists
    cmd!("lpush", -3, WRITE | DENYOOM | FAST, [at(1; RW | INSERT)], "list", "1.0.0", St(list::lpush), "Prepends elements to a list, creating it if needed; returns the new length."),
    cmd!("rpush", -3, WRITE | DENYOOM | FAST, [at(1; RW | INSERT)], "list", "1.0.0", St(list::rpush), "Appends elements to a list, creating it if needed; returns the new length."),
    cmd!("lpushx", -3, WRITE | DENYOOM | FAST, [at(1; RW | INSERT)], "list", "2.2.0", St(list::lpushx), "Prepends elements only if the list already exists."),
    cmd!("rpushx", -3, WRITE | DENYOOM | FAST, [at(1; RW | INSERT)], "list", "2.2.0", St(list::rpushx), "Appends elements only if the list already exists."),
    cmd!("lpop", -2, WRITE | FAST, [at(1; RW | ACCESS | DELETE)], "list", "1.0.0", St(list::lpop), "Removes and returns the first element, or the first COUNT elements."),
    cmd!("rpop", -2, WRITE | FAST, [at(1; RW | ACCESS | DELETE)], "list", "1.0.0", St(list::rpop), "Removes and returns the last element, or the last COUNT elements."),
    cmd!("llen", 2, READONLY | FAST, [at(1; RO)], "list", "1.0.0", St(list::llen), "Returns the length of a list (a metadata read)."),
    cmd!("lindex", 3, READONLY, [at(1; RO | ACCESS)], "list", "1.0.0", St(list::lindex), "Returns the element at an index (one point read)."),
    cmd!("lrange", 4, READONLY, [at(1; RO | ACCESS)], "list", "1.0.0", St(list::lrange), "Returns a range of elements by index (a seek and a bounded walk)."),
    cmd!("lset", 4, WRITE | DENYOOM, [at(1; RW | UPDATE)], "list", "1.0.0", St(list::lset), "Replaces the element at an index."),
    cmd!("ltrim", 4, WRITE, [at(1; RW | DELETE)], "list", "1.0.0", St(list::ltrim), "Keeps only a range of elements, deleting the rest."),
    cmd!("lrem", 4, WRITE, [at(1; RW | DELETE)], "list", "1.0.0", St(list::lrem), "Removes occurrences of an element, from the head, the tail or everywhere."),
    cmd!("linsert", 5, WRITE | DENYOOM, [at(1; RW | INSERT)], "list", "2.2.0", St(list::linsert), "Inserts an element before or after the first occurrence of a pivot."),
    cmd!("lpos", -3, READONLY, [at(1; RO | ACCESS)], "list", "6.0.6", St(list::lpos), "Returns the index (or indexes) of matching elements, with RANK, COUNT and MAXLEN."),
    cmd!("lmove", 5, WRITE | DENYOOM, [at(1; RW | ACCESS | DELETE), at(2; RW | INSERT)], "list", "6.2.0", St(list::lmove), "Pops an element from one end of a list and pushes it onto an end of another."),
    cmd!("rpoplpush", 3, WRITE | DENYOOM, [at(1; RW | ACCESS | DELETE), at(2; RW | INSERT)], "list", "1.2.0", St(list::rpoplpush), "Pops the last element of a list and prepends it to another (LMOVE RIGHT LEFT)."),
    cmd!("lmpop", -4, WRITE | MOVABLEKEYS, [numkeys(1; RW | ACCESS | DELETE)], "list", "7.0.0", St(list::lmpop), "Pops elements from the first non-empty list among several keys."),
    // sorted sets
    cmd!("zadd", -4, WRITE | DENYOOM | FAST, [at(1; RW | UPDATE)], "sorted-set", "1.2.0", St(zset::zadd), "Adds members with scores to a sorted set, or updates their scores (NX, XX, GT, LT, CH, INCR)."),
    cmd!("zincrby", 4, WRITE | DENYOOM | FAST, [at(1; RW | ACCESS | UPDATE)], "sorted-set", "1.2.0", St(zset::zincrby), "Adds to a member's score, creating the member at the increment if needed."),
    cmd!("zrem", -3, WRITE | FAST, [at(1; RW | DELETE)], "sorted-set", "1.2.0", St(zset::zrem), "Removes members from a sorted set; returns how many were there."),
    cmd!("zcard", 2, READONLY | FAST, [at(1; RO)], "sorted-set", "1.2.0", St(zset::zcard), "Returns the number of members of a sorted set."),
    cmd!("zcount", 4, READONLY | FAST, [at(1; RO | ACCESS)], "sorted-set", "2.0.0", St(zset::zcount), "Counts the members whose score is within a range."),
    cmd!("zlexcount", 4, READONLY | FAST, [at(1; RO | ACCESS)], "sorted-set", "2.8.9", St(zset::zlexcount), "Counts the members within a lexicographical range."),
    cmd!("zscore", 3, READONLY | FAST, [at(1; RO | ACCESS)], "sorted-set", "1.2.0", St(zset::zscore), "Returns a member's score."),
    cmd!("zmscore", -3, READONLY | FAST, [at(1; RO | ACCESS)], "sorted-set", "6.2.0", St(zset::zmscore), "Returns the scores of several members."),
    cmd!("zrank", 3, READONLY | FAST, [at(1; RO | ACCESS)], "sorted-set", "2.0.0", St(zset::zrank), "Returns a member's rank, lowest score first."),
    cmd!("zrevrank", 3, READONLY | FAST, [at(1; RO | ACCESS)], "sorted-set", "2.0.0", St(zset::zrevrank), "Returns a member's rank, highest score first."),
    cmd!("zrange", -4, READONLY, [at(1; RO | ACCESS)], "sorted-set", "1.2.0", St(zset::zrange), "Returns members by rank, score or lexicographical range, optionally reversed and limited."),
    cmd!("zrangestore", -5, WRITE | DENYOOM, [at(1; OW | UPDATE), at(2; RO | ACCESS)], "sorted-set", "6.2.0", St(zset::zrangestore), "Stores a ZRANGE result in a sorted set."),
    cmd!("zrevrange", -4, READONLY, [at(1; RO | ACCESS)], "sorted-set", "1.2.0", St(zset::zrevrange), "Returns members by rank, highest score first."),
    cmd!("zrangebyscore", -4, READONLY, [at(1; RO | ACCESS)], "sorted-set", "1.0.5", St(zset::zrangebyscore), "Returns the members within a score range."),
    cmd!("zrevrangebyscore", -4, READONLY, [at(1; RO | ACCESS)], "sorted-set", "2.2.0", St(zset::zrevrangebyscore), "Returns the members within a score range, highest score first."),
    cmd!("zrangebylex", -4, READONLY, [at(1; RO | ACCESS)], "sorted-set", "2.8.9", St(zset::zrangebylex), "Returns the members within a lexicographical range."),
    cmd!("zrevrangebylex", -4, READONLY, [at(1; RO | ACCESS)], "sorted-set", "2.8.9", St(zset::zrevrangebylex), "Returns the members within a lexicographical range, in reverse order."),
    cmd!("zremrangebyrank", 4, WRITE, [at(1; RW | DELETE)], "sorted-set", "2.0.0", St(zset::zremrangebyrank), "Removes the members within a rank range."),
    cmd!("zremrangebyscore", 4, WRITE, [at(1; RW | DELETE)], "sorted-set", "1.2.0", St(zset::zremrangebyscore), "Removes the members within a score range."),
    cmd!("zremrangebylex", 4, WRITE, [at(1; RW | DELETE)], "sorted-set", "2.8.9", St(zset::zremrangebylex), "Removes the members within a lexicographical range."),
    cmd!("zpopmin", -2, WRITE | FAST, [at(1; RW | ACCESS | DELETE)], "sorted-set", "5.0.0", St(zset::zpopmin), "Removes and returns the members with the lowest scores."),
    cmd!("zpopmax", -2, WRITE | FAST, [at(1; RW | ACCESS | DELETE)], "sorted-set", "5.0.0", St(zset::zpopmax), "Removes and returns the members with the highest scores."),
    cmd!("zmpop", -4, WRITE | MOVABLEKEYS, [numkeys(1; RW | ACCESS | DELETE)], "sorted-set", "7.0.0", St(zset::zmpop), "Pops the lowest- or highest-scored members of the first non-empty sorted set among several keys."),
    cmd!("zrandmember", -2, READONLY, [at(1; RO | ACCESS)], "sorted-set", "6.2.0", St(zset::zrandmember), "Returns random members, optionally with scores and repetition."),
    cmd!("zunion", -3, READONLY | MOVABLEKEYS, [numkeys(1; RO | ACCESS)], "sorted-set", "6.2.0", St(zset::zunion), "Returns the union of sorted sets (and sets), with weights and aggregation."),
    cmd!("zinter", -3, READONLY | MOVABLEKEYS, [numkeys(1; RO | ACCESS)], "sorted-set", "6.2.0", St(zset::zinter), "Returns the intersection of sorted sets (and sets), with weights and aggregation."),
    cmd!("zdiff", -3, READONLY | MOVABLEKEYS, [numkeys(1; RO | ACCESS)], "sorted-set", "6.2.0", St(zset::zdiff), "Returns the members of the first sorted set that are in none of the others."),
    cmd!("zunionstore", -4, WRITE | DENYOOM | MOVABLEKEYS, [at(1; OW | UPDATE), numkeys(2; RO | ACCESS)], "sorted-set", "2.0.0", St(zset::zunionstore), "Stores the union of sorted sets (and sets) in a key."),
    cmd!("zinterstore", -4, WRITE | DENYOOM | MOVABLEKEYS, [at(1; OW | UPDATE), numkeys(2; RO | ACCESS)], "sorted-set", "2.0.0", St(zset::zinterstore), "Stores the intersection of sorted sets (and sets) in a key."),
    cmd!("zdiffstore", -4, WRITE | DENYOOM | MOVABLEKEYS, [at(1; OW | UPDATE), numkeys(2; RO | ACCESS)], "sorted-set", "6.2.0", St(zset::zdiffstore), "Stores the difference of sorted sets (and sets) in a key."),
    cmd!("zintercard", -3, READONLY | MOVABLEKEYS, [numkeys(1; RO | ACCESS)], "sorted-set", "7.0.0", St(zset::zintercard), "Counts the members of an intersection of sorted sets, optionally stopping at a limit."),
    cmd!("zscan", -3, READONLY, [at(1; RO | ACCESS)], "sorted-set", "2.8.0", St(zset::zscan), "Iterates over the members and scores of a sorted set."),
    // geo
    cmd!("geoadd", -5, WRITE | DENYOOM, [at(1; RW | UPDATE)], "geo", "3.2.0", St(geo::geoadd), "Adds members at longitude/latitude positions to a geo set (a sorted set scored by geohash)."),
    cmd!("geodist", -4, READONLY, [at(1; RO | ACCESS)], "geo", "3.2.0", St(geo::geodist), "Returns the distance between two members of a geo set."),
    cmd!("geohash", -2, READONLY, [at(1; RO | ACCESS)], "geo", "3.2.0", St(geo::geohash), "Returns the standard 11-character geohash strings of members."),
    cmd!("geopos", -2, READONLY, [at(1; RO | ACCESS)], "geo", "3.2.0", St(geo::geopos), "Returns the longitude and latitude of members."),
    cmd!("georadius", -6, WRITE | DENYOOM | MOVABLEKEYS, [at(1; RO | ACCESS), after("STORE", 6; OW | UPDATE), after("STOREDIST", 6; OW | UPDATE)], "geo", "3.2.0", St(geo::georadius), "Returns (or stores) the members within a radius of a position."),
    cmd!("georadius_ro", -6, READONLY, [at(1; RO | ACCESS)], "geo", "3.2.10", St(geo::georadius_ro), "Returns the members within a radius of a position."),
    cmd!("georadiusbymember", -5, WRITE | DENYOOM | MOVABLEKEYS, [at(1; RO | ACCESS), after("STORE", 5; OW | UPDATE), after("STOREDIST", 5; OW | UPDATE)], "geo", "3.2.0", St(geo::georadiusbymember), "Returns (or stores) the members within a radius of a member."),
    cmd!("georadiusbymember_ro", -5, READONLY, [at(1; RO | ACCESS)], "geo", "3.2.10", St(geo::georadiusbymember_ro), "Returns the members within a radius of a member."),
    cmd!("geosearch", -7, READONLY, [at(1; RO | ACCESS)], "geo", "6.2.0", St(geo::geosearch), "Returns the members within a radius or box around a member or position."),
    cmd!("geosearchstore", -8, WRITE | DENYOOM, [at(1; OW | UPDATE), at(2; RO | ACCESS)], "geo", "6.2.0", St(geo::geosearchstore), "Stores the members within a radius or box around a member or position."),
    // server
    cmd!("info", -1, LOADING | STALE, [], "server", "1.0.0", St(server::info), "Returns server information and statistics."),
    cmd!("config", -2, NONE, [], "server", "2.0.0", St(server::config), "Reads and changes the configuration at runtime.", subs: CONFIG_SUBS, secrets: slowlog::config_secrets),
    cmd!("command", -1, LOADING | STALE, [], "server", "2.8.13", St(server::command), "Describes the commands this server supports.", subs: COMMAND_SUBS),
    cmd!("time", 1, LOADING | STALE | FAST, [], "server", "2.6.0", St(server::time), "Returns the server time."),
    cmd!("memory", -2, NONE, [], "server", "4.0.0", St(memory::memory), "Reports the memory a key or the server uses.", subs: MEMORY_SUBS),
    cmd!("save", 1, ADMIN | NOSCRIPT | NO_ASYNC_LOADING | NO_MULTI, [], "server", "1.0.0", St(server::save), "Makes every write durable (WAL sync) and flushes memtables to table files, then returns."),
    cmd!("bgsave", -1, ADMIN | NOSCRIPT | NO_ASYNC_LOADING, [], "server", "1.0.0", St(server::bgsave), "Makes every write durable (WAL sync) and starts flushing memtables to table files in the background."),
    cmd!("lastsave", 1, LOADING | STALE | FAST, [], "server", "1.0.0", St(server::lastsave), "Returns the Unix time of the last flush to disk."),
    cmd!("cluster", -2, NONE, [], "cluster", "3.0.0", Net, "Shows the cluster as Redis Cluster clients expect it: one shard, led by the Raft leader.", subs: CLUSTER_SUBS),
    cmd!("readonly", 1, LOADING | STALE | FAST, [], "cluster", "3.0.0", Net, "Lets this connection read a follower's own data (possibly stale) in cluster mode."),
    cmd!("readwrite", 1, LOADING | STALE | FAST, [], "cluster", "3.0.0", Net, "Makes this connection's reads linearizable again after READONLY."),
    cmd!("asking", 1, FAST, [], "cluster", "3.0.0", Net, "Accepted for Redis Cluster clients; one shard owns every slot, so it changes nothing."),
    cmd!("acl", -2, NONE, [], "server", "6.0.0", Net, "Manages ACL users and shows the connection's user.", subs: ACL_SUBS),
    cmd!("slowlog", -2, NONE, [], "server", "2.2.12", St(slowlog::slowlog), "Reads or clears the log of slow commands.", subs: SLOWLOG_SUBS),
    cmd!("latency", -2, NONE, [], "server", "2.8.13", St(latency::latency), "Reports latency spikes recorded by the latency monitor.", subs: LATENCY_SUBS),
    cmd!("debug", -2, ADMIN | NOSCRIPT | LOADING | STALE, [], "server", "1.0.0", St(debug::debug), "Debugging commands; Kiwi has DIGEST and DIGEST-VALUE (content hashes of all data or of keys, equal for equal data), SET-ACTIVE-EXPIRE and HELP."),
    cmd!("shutdown", -1, ADMIN | NOSCRIPT | LOADING | STALE | NO_MULTI | ALLOW_BUSY, [], "server", "1.0.0", Net, "Stops the server gracefully."),
    // blocking pops
    cmd!("blpop", -3, WRITE | NOSCRIPT | BLOCKING, [range(1, -2, 1; RW | ACCESS | DELETE)], "list", "2.0.0", St(blocking::blpop), "Pops the first element of the first non-empty list, waiting up to a timeout for one."),
    cmd!("brpop", -3, WRITE | NOSCRIPT | BLOCKING, [range(1, -2, 1; RW | ACCESS | DELETE)], "list", "2.0.0", St(blocking::brpop), "Pops the last element of the first non-empty list, waiting up to a timeout for one."),
    cmd!("blmove", 6, WRITE | DENYOOM | NOSCRIPT | BLOCKING, [at(1; RW | ACCESS | DELETE), at(2; RW | INSERT)], "list", "6.2.0", St(blocking::blmove), "LMOVE that waits up to a timeout for the source list to have an element."),
    cmd!("brpoplpush", 4, WRITE | DENYOOM | NOSCRIPT | BLOCKING, [at(1; RW | ACCESS | DELETE), at(2; RW | INSERT)], "list", "2.2.0", St(blocking::brpoplpush), "RPOPLPUSH that waits up to a timeout for the source list to have an element."),
    cmd!("blmpop", -5, WRITE | BLOCKING | MOVABLEKEYS, [numkeys(2; RW | ACCESS | DELETE)], "list", "7.0.0", St(blocking::blmpop), "LMPOP that waits up to a timeout for one of the lists to have elements."),
    cmd!("bzpopmin", -3, WRITE | NOSCRIPT | BLOCKING | FAST, [range(1, -2, 1; RW | ACCESS | DELETE)], "sorted-set", "5.0.0", St(blocking::bzpopmin), "Pops the lowest-scored member of the first non-empty sorted set, waiting up to a timeout."),
    cmd!("bzpopmax", -3, WRITE | NOSCRIPT | BLOCKING | FAST, [range(1, -2, 1; RW | ACCESS | DELETE)], "sorted-set", "5.0.0", St(blocking::bzpopmax), "Pops the highest-scored member of the first non-empty sorted set, waiting up to a timeout."),
    cmd!("bzmpop", -5, WRITE | BLOCKING | MOVABLEKEYS, [numkeys(2; RW | ACCESS | DELETE)], "sorted-set", "7.0.0", St(blocking::bzmpop), "ZMPOP that waits up to a timeout for one of the sorted sets to have members."),
    // scripting
    cmd!("eval", -3, NOSCRIPT | SKIP_MONITOR | NO_MANDATORY_KEYS | STALE | MOVABLEKEYS | MAY_REPLICATE | REPLICATED | RUNS_SCRIPT, [numkeys(2; RW | ACCESS | UPDATE)], "scripting", "2.6.0", St(scripting::eval), "Runs a Lua script atomically (nothing else runs meanwhile)."),
    cmd!("evalsha", -3, NOSCRIPT | SKIP_MONITOR | NO_MANDATORY_KEYS | STALE | MOVABLEKEYS | MAY_REPLICATE | REPLICATED | RUNS_SCRIPT, [numkeys(2; RW | ACCESS | UPDATE)], "scripting", "2.6.0", St(scripting::evalsha), "Runs a cached Lua script by its SHA1."),
    cmd!("eval_ro", -3, NOSCRIPT | SKIP_MONITOR | NO_MANDATORY_KEYS | STALE | READONLY | MOVABLEKEYS | RUNS_SCRIPT, [numkeys(2; RO | ACCESS)], "scripting", "7.0.0", St(scripting::eval_ro), "Runs a Lua script that may not write."),
    cmd!("evalsha_ro", -3, NOSCRIPT | SKIP_MONITOR | NO_MANDATORY_KEYS | STALE | READONLY | MOVABLEKEYS | RUNS_SCRIPT, [numkeys(2; RO | ACCESS)], "scripting", "7.0.0", St(scripting::evalsha_ro), "Runs a cached Lua script that may not write, by its SHA1."),
    cmd!("script", -2, NONE, [], "scripting", "2.6.0", Net, "Manages the script cache.", subs: SCRIPT_SUBS),
    cmd!("fcall", -3, NOSCRIPT | SKIP_MONITOR | NO_MANDATORY_KEYS | STALE | MOVABLEKEYS | MAY_REPLICATE | REPLICATED | RUNS_SCRIPT, [numkeys(2; RW | ACCESS | UPDATE)], "scripting", "7.0.0", St(scripting::fcall), "Calls a function of a loaded library atomically."),
    cmd!("fcall_ro", -3, NOSCRIPT | SKIP_MONITOR | NO_MANDATORY_KEYS | STALE | READONLY | MOVABLEKEYS | RUNS_SCRIPT, [numkeys(2; RO | ACCESS)], "scripting", "7.0.0", St(scripting::fcall_ro), "Calls a function flagged no-writes."),
    cmd!("function", -2, REPLICATED, [], "scripting", "7.0.0", St(functions::function), "Manages function libraries (kept in RocksDB, replicated in cluster mode).", subs: FUNCTION_SUBS),
    // transactions
    cmd!("multi", 1, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY | NOW_IN_MULTI, [], "transactions", "1.2.0", Net, "Starts a transaction: later commands are queued until EXEC."),
    cmd!("exec", 1, NOSCRIPT | LOADING | STALE | SKIP_SLOWLOG | NOW_IN_MULTI, [], "transactions", "1.2.0", Net, "Runs the queued commands atomically (one locked storage job, one WriteBatch), or aborts if a watched key changed."),
    cmd!("discard", 1, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY | NOW_IN_MULTI, [], "transactions", "2.0.0", Net, "Drops the queued commands of a transaction."),
    cmd!("watch", -2, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY | NOW_IN_MULTI, [range(1, -1, 1; RO)], "transactions", "2.2.0", Net, "Watches keys: EXEC aborts if any of them is written (or expires) first."),
    cmd!("unwatch", 1, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY, [], "transactions", "2.2.0", Net, "Forgets every watched key."),
    // connection
    cmd!("monitor", 1, ADMIN | NOSCRIPT | LOADING | STALE, [], "server", "1.0.0", Net, "Streams every command the server runs, from every client, as it runs."),
    cmd!("ping", -1, FAST | WHILE_SUBSCRIBED, [], "connection", "1.0.0", Net, "Checks the connection."),
    cmd!("echo", 2, LOADING | STALE | FAST, [], "connection", "1.0.0", Net, "Returns the given string."),
    cmd!("select", 2, LOADING | STALE | FAST, [], "connection", "1.0.0", Net, "Selects the database of the connection."),
    cmd!("auth", -2, NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY, [], "connection", "1.0.0", Net, "Authenticates the connection.", secrets: slowlog::auth_secrets),
    cmd!("hello", -1, NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY, [], "connection", "6.0.0", Net, "Negotiates the protocol version and authenticates.", secrets: slowlog::hello_secrets),
    cmd!("quit", -1, NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY | NOW_IN_MULTI | WHILE_SUBSCRIBED, [], "connection", "1.0.0", Net, "Closes the connection."),
    cmd!("reset", 1, NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY | NOW_IN_MULTI | WHILE_SUBSCRIBED, [], "connection", "6.2.0", Net, "Resets the connection's state."),
    cmd!("client", -2, NOT_PAUSED, [], "connection", "2.4.0", Net, "Inspects and manages client connections.", subs: CLIENT_SUBS),
    // pubsub
    cmd!("subscribe", -2, PUBSUB | SUBSCRIBES | NOSCRIPT | LOADING | STALE | WHILE_SUBSCRIBED, [], "pubsub", "2.0.0", Net, "Listens to channels."),
    cmd!("unsubscribe", -1, PUBSUB | NOSCRIPT | LOADING | STALE | WHILE_SUBSCRIBED, [], "pubsub", "2.0.0", Net, "Stops listening to channels (all of them without arguments)."),
    cmd!("psubscribe", -2, PUBSUB | SUBSCRIBES | CHANNEL_PATTERNS | NOSCRIPT | LOADING | STALE | WHILE_SUBSCRIBED, [], "pubsub", "2.0.0", Net, "Listens to every channel matching glob patterns."),
    cmd!("punsubscribe", -1, PUBSUB | NOSCRIPT | LOADING | STALE | WHILE_SUBSCRIBED, [], "pubsub", "2.0.0", Net, "Stops listening to patterns (all of them without arguments)."),
    cmd!("publish", 3, PUBSUB | PUBLISHES | LOADING | STALE | FAST | REPLICATED, [], "pubsub", "2.0.0", Net, "Sends a message to a channel's and matching patterns' subscribers; returns how many got it."),
    cmd!("ssubscribe", -2, PUBSUB | SUBSCRIBES | NOSCRIPT | LOADING | STALE | WHILE_SUBSCRIBED, [range(1, -1, 1; NOT_KEY)], "pubsub", "7.0.0", Net, "Listens to shard channels."),
    cmd!("sunsubscribe", -1, PUBSUB | NOSCRIPT | LOADING | STALE | WHILE_SUBSCRIBED, [range(1, -1, 1; NOT_KEY)], "pubsub", "7.0.0", Net, "Stops listening to shard channels (all of them without arguments)."),
    cmd!("spublish", 3, PUBSUB | PUBLISHES | LOADING | STALE | FAST | REPLICATED, [at(1; NOT_KEY)], "pubsub", "7.0.0", Net, "Sends a message to a shard channel's subscribers; returns how many got it."),
    cmd!("pubsub", -2, NONE, [], "pubsub", "2.8.0", Net, "Inspects the pub/sub state.", subs: PUBSUB_SUBS),
    // bitmap
    cmd!("setbit", 4, WRITE | DENYOOM, [at(1; RW | ACCESS | UPDATE)], "bitmap", "2.2.0", St(bitmap::setbit), "Sets or clears one bit of a string, growing it as needed."),
    cmd!("getbit", 3, READONLY | FAST, [at(1; RO | ACCESS)], "bitmap", "2.2.0", St(bitmap::getbit), "Returns one bit of a string."),
    cmd!("bitcount", -2, READONLY, [at(1; RO | ACCESS)], "bitmap", "2.6.0", St(bitmap::bitcount), "Counts the set bits of a string, optionally in a byte or bit range."),
    cmd!("bitpos", -3, READONLY, [at(1; RO | ACCESS)], "bitmap", "2.8.7", St(bitmap::bitpos), "Finds the first set or clear bit of a string, optionally in a byte or bit range."),
    cmd!("bitop", -4, WRITE | DENYOOM, [at(2; OW | UPDATE), range(3, -1, 1; RO | ACCESS)], "bitmap", "2.6.0", St(bitmap::bitop), "Stores the AND, OR, XOR or NOT of strings in a key."),
    cmd!("bitfield", -2, WRITE | DENYOOM, [variable(1, bitmap::bitfield_key_flags)], "bitmap", "3.2.0", St(bitmap::bitfield), "Reads, sets and increments integer fields of a string."),
    cmd!("bitfield_ro", -2, READONLY | FAST, [at(1; RO | ACCESS)], "bitmap", "6.0.0", St(bitmap::bitfield_ro), "Reads integer fields of a string."),
    // streams
    cmd!("xadd", -5, WRITE | DENYOOM | FAST, [at(1; RW | UPDATE)], "stream", "5.0.0", St(stream::xadd), "Appends an entry to a stream (creating it unless NOMKSTREAM), optionally trimming it; returns the id."),
    cmd!("xrange", -4, READONLY, [at(1; RO | ACCESS)], "stream", "5.0.0", St(stream::xrange), "Returns the entries of a stream between two ids (a seek and a bounded walk)."),
    cmd!("xrevrange", -4, READONLY, [at(1; RO | ACCESS)], "stream", "5.0.0", St(stream::xrevrange), "Returns the entries of a stream between two ids, newest first."),
    cmd!("xlen", 2, READONLY | FAST, [at(1; RO)], "stream", "5.0.0", St(stream::xlen), "Returns the number of entries in a stream."),
    cmd!("xdel", -3, WRITE | FAST, [at(1; RW | DELETE)], "stream", "5.0.0", St(stream::xdel), "Deletes entries from a stream by id; returns how many existed."),
    cmd!("xtrim", -4, WRITE, [at(1; RW | DELETE)], "stream", "5.0.0", St(stream::xtrim), "Trims a stream by length or minimum id, exactly or by whole internal nodes (~)."),
    cmd!("xsetid", -3, WRITE | DENYOOM | FAST, [at(1; RW | UPDATE)], "stream", "5.0.0", St(stream::xsetid), "Sets a stream's last id, entries-added counter and max deleted id."),
    cmd!("xread", -4, READONLY | BLOCKING | MOVABLEKEYS, [find(stream::read_keys)], "stream", "5.0.0", St(stream::xread), "Reads entries after given ids from one or more streams, optionally waiting for new ones."),
    cmd!("xreadgroup", -7, WRITE | BLOCKING | MOVABLEKEYS, [find(stream::read_keys)], "stream", "5.0.0", St(stream::xreadgroup), "Reads new entries for a consumer of a group (recording them as pending), or the consumer's pending history."),
    cmd!("xack", -4, WRITE | FAST, [at(1; RW | UPDATE)], "stream", "5.0.0", St(stream::xack), "Acknowledges pending entries of a consumer group; returns how many were pending."),
    cmd!("xpending", -3, READONLY, [at(1; RO | ACCESS)], "stream", "5.0.0", St(stream::xpending), "Summarizes or lists the pending entries of a consumer group."),
    cmd!("xclaim", -6, WRITE | FAST, [at(1; RW | UPDATE)], "stream", "5.0.0", St(stream::xclaim), "Transfers pending entries to another consumer of the group."),
    cmd!("xautoclaim", -6, WRITE | FAST, [at(1; RW | DELETE)], "stream", "6.2.0", St(stream::xautoclaim), "Claims pending entries idle for long enough, scanning from a cursor."),
    cmd!("xgroup", -2, REPLICATED, [], "stream", "5.0.0", St(stream::xgroup), "Creates, repositions and destroys consumer groups and their consumers.", subs: XGROUP_SUBS),
    cmd!("xinfo", -2, NONE, [], "stream", "5.0.0", St(stream::xinfo), "Describes a stream, its consumer groups or a group's consumers.", subs: XINFO_SUBS),
    // hyperloglog
    cmd!("pfadd", -2, WRITE | DENYOOM | FAST, [at(1; RW | INSERT)], "hyperloglog", "2.8.9", St(hyperloglog::pfadd), "Adds elements to a HyperLogLog (Redis's byte format)."),
    cmd!("pfcount", -2, READONLY | MAY_REPLICATE, [range(1, -1, 1; RW | ACCESS)], "hyperloglog", "2.8.9", St(hyperloglog::pfcount), "Estimates the cardinality of one HyperLogLog (caching it) or of the union of several."),
    cmd!("pfmerge", -2, WRITE | DENYOOM, [at(1; RW | ACCESS | INSERT), range(2, -1, 1; RO | ACCESS)], "hyperloglog", "2.8.9", St(hyperloglog::pfmerge), "Merges HyperLogLogs into the first key."),
    cmd!("pfdebug", 3, WRITE | DENYOOM | ADMIN, [at(2; RW | ACCESS)], "hyperloglog", "2.8.9", St(hyperloglog::pfdebug), "Inspects a HyperLogLog: GETREG, DECODE, ENCODING or TODENSE."),
];

/// OBJECT's subcommands.
#[rustfmt::skip]
static XGROUP_SUBS: &[SubSpec] = &[
    sub!("create", -5, WRITE | DENYOOM, [at(2; RW | INSERT)], "Creates a consumer group (and the stream with MKSTREAM)."),
    sub!("setid", -5, WRITE, [at(2; RW | UPDATE)], "Sets the last delivered id (and entries-read) of a group."),
    sub!("destroy", 4, WRITE, [at(2; RW | DELETE)], "Deletes a consumer group with its consumers and pending entries."),
    sub!("createconsumer", 5, WRITE | DENYOOM, [at(2; RW | INSERT)], "Creates a consumer in a group."),
    sub!("delconsumer", 5, WRITE, [at(2; RW | DELETE)], "Deletes a consumer; returns how many entries it had pending."),
    sub!("help", 2, LOADING | STALE, [], "Shows the subcommands."),
];

static XINFO_SUBS: &[SubSpec] = &[
    sub!("consumers", 4, READONLY, [at(2; RO | ACCESS)], "Lists the consumers of a group."),
    sub!("groups", 3, READONLY, [at(2; RO | ACCESS)], "Lists the consumer groups of a stream."),
    sub!("stream", -3, READONLY, [at(2; RO | ACCESS)], "Describes a stream (FULL: with its entries, groups and pending entries)."),
    sub!("help", 2, LOADING | STALE, [], "Shows the subcommands."),
];

static OBJECT_SUBS: &[SubSpec] = &[
    sub!("encoding", 3, READONLY | NO_TOUCH, [at(2; RO)], "Returns the internal encoding of a key's value."),
    sub!("freq", 3, READONLY | NO_TOUCH, [at(2; RO)], "Returns the access frequency counter (needs an LFU policy)."),
    sub!("idletime", 3, READONLY | NO_TOUCH, [at(2; RO)], "Returns the idle time of a key (not tracked: 0)."),
    sub!("refcount", 3, READONLY | NO_TOUCH, [at(2; RO)], "Returns the reference count of a key's value."),
    sub!(
        "help",
        2,
        LOADING | STALE,
        [],
        "Shows OBJECT's subcommands."
    ),
];

/// SCRIPT's subcommands.
#[rustfmt::skip]
static SCRIPT_SUBS: &[SubSpec] = &[
    sub!("exists", -3, NOSCRIPT, [], "Tells which of the given SHA1s name cached scripts."),
    sub!("flush", -2, NOSCRIPT, [], "Empties the script cache."),
    sub!("kill", 2, NOSCRIPT | ALLOW_BUSY, [], "Stops the running script if it has not written."),
    sub!("load", 3, NOSCRIPT | STALE, [], "Compiles a script and caches it without running it."),
    sub!("help", 2, LOADING | STALE, [], "Shows SCRIPT's subcommands."),
];

/// FUNCTION's subcommands.
#[rustfmt::skip]
static FUNCTION_SUBS: &[SubSpec] = &[
    sub!("load", -3, WRITE | DENYOOM | NOSCRIPT, [], "Loads a library, optionally replacing one of the same name."),
    sub!("delete", 3, WRITE | NOSCRIPT, [], "Deletes a library and its functions."),
    sub!("flush", -2, WRITE | NOSCRIPT, [], "Deletes every library."),
    sub!("list", -2, NOSCRIPT, [], "Lists the libraries and their functions."),
    sub!("dump", 2, NOSCRIPT, [], "Serializes every library in Redis's payload format."),
    sub!("restore", -3, WRITE | DENYOOM | NOSCRIPT, [], "Restores libraries from a FUNCTION DUMP payload."),
    sub!("stats", 2, NOSCRIPT | ALLOW_BUSY | ON_NETWORK, [], "Describes the running function and the loaded libraries."),
    sub!("kill", 2, NOSCRIPT | ALLOW_BUSY | ON_NETWORK, [], "Stops the running function if it has not written."),
    sub!("help", 2, LOADING | STALE, [], "Shows FUNCTION's subcommands."),
];

/// MEMORY's subcommands.
#[rustfmt::skip]
static MEMORY_SUBS: &[SubSpec] = &[
    sub!("usage", -3, READONLY | NO_TOUCH, [at(2; RO)], "Returns the bytes a key's rows take in RocksDB (sampled for large collections)."),
    sub!("stats", 2, NONE, [], "Returns the process's and RocksDB's memory use."),
    sub!("doctor", 2, NONE, [], "Returns a short reading of the memory figures."),
    sub!("malloc-stats", 2, NONE, [], "Returns the allocator's report (none for the system allocator)."),
    sub!("purge", 2, NONE, [], "Asks the allocator to return free memory (nothing to do for the system allocator)."),
    sub!("help", 2, LOADING | STALE, [], "Shows MEMORY's subcommands."),
];

/// CONFIG's subcommands.
#[rustfmt::skip]
static CONFIG_SUBS: &[SubSpec] = &[
    sub!("get", -3, ADMIN | NOSCRIPT | LOADING | STALE, [], "Returns the values of options matching glob patterns."),
    sub!("set", -4, ADMIN | NOSCRIPT | LOADING | STALE, [], "Changes options at runtime."),
    sub!("resetstat", 2, ADMIN | NOSCRIPT | LOADING | STALE, [], "Resets the statistics INFO reports."),
    sub!("rewrite", 2, ADMIN | NOSCRIPT | LOADING | STALE, [], "Writes the running configuration back to the config file."),
    sub!("help", 2, LOADING | STALE, [], "Shows CONFIG's subcommands."),
];

/// COMMAND's subcommands.
#[rustfmt::skip]
static COMMAND_SUBS: &[SubSpec] = &[
    sub!("count", 2, LOADING | STALE, [], "Returns the number of commands."),
    sub!("info", -2, LOADING | STALE, [], "Returns details about commands."),
    sub!("docs", -2, LOADING | STALE, [], "Returns documentation about commands."),
    sub!("getkeys", -4, LOADING | STALE, [], "Extracts the key names of a command invocation."),
    sub!("getkeysandflags", -4, LOADING | STALE, [], "Extracts the key names of a command invocation, with what the command does to each."),
    sub!("list", -2, LOADING | STALE, [], "Lists command names."),
    sub!("help", 2, LOADING | STALE, [], "Shows COMMAND's subcommands."),
];

/// CLUSTER's subcommands.
#[rustfmt::skip]
static CLUSTER_SUBS: &[SubSpec] = &[
    sub!("info", 2, STALE, [], "Returns the cluster's state."),
    sub!("myid", 2, STALE, [], "Returns this node's id."),
    sub!("nodes", 2, STALE, [], "Returns the members in CLUSTER NODES format."),
    sub!("slots", 2, STALE, [], "Returns the slot ranges and their nodes."),
    sub!("shards", 2, STALE, [], "Returns the shards and their nodes."),
    sub!("keyslot", 3, STALE, [], "Returns the hash slot of a key."),
    sub!("countkeysinslot", 3, STALE, [], "Counts this node's keys in a hash slot (walks the whole database)."),
    sub!("getkeysinslot", 4, STALE, [], "Returns up to count of this node's keys in a hash slot (walks the whole database)."),
    sub!("help", 2, LOADING | STALE, [], "Shows CLUSTER's subcommands."),
];

/// ACL's subcommands.
#[rustfmt::skip]
static ACL_SUBS: &[SubSpec] = &[
    sub!("cat", -2, NOSCRIPT | LOADING | STALE, [], "Lists the ACL categories, or the commands in one."),
    sub!("deluser", -3, ADMIN | NOSCRIPT | LOADING | STALE, [], "Deletes users and disconnects their connections."),
    sub!("dryrun", -4, ADMIN | NOSCRIPT | LOADING | STALE, [], "Tells whether a user may run a command, without running it."),
    sub!("genpass", -2, NOSCRIPT | LOADING | STALE, [], "Returns a random password from the operating system's secure generator (256 bits, hex)."),
    sub!("getuser", 3, ADMIN | NOSCRIPT | LOADING | STALE, [], "Shows one user's rules."),
    sub!("help", 2, LOADING | STALE, [], "Shows ACL's subcommands."),
    sub!("list", 2, ADMIN | NOSCRIPT | LOADING | STALE, [], "Shows every user's rules in config-file syntax."),
    sub!("load", 2, ADMIN | NOSCRIPT | LOADING | STALE, [], "Replaces the users by the ACL file's (`aclfile`), all or none; closes the replaced users' connections."),
    sub!("log", -2, ADMIN | NOSCRIPT | LOADING | STALE, [], "Shows the newest refused commands, keys, channels and authentications, or clears them."),
    sub!("save", 2, ADMIN | NOSCRIPT | LOADING | STALE, [], "Writes the users to the ACL file (`aclfile`)."),
    sub!("setuser", -3, ADMIN | NOSCRIPT | LOADING | STALE, [], "Creates a user or changes its rules."),
    sub!("users", 2, ADMIN | NOSCRIPT | LOADING | STALE, [], "Lists the user names."),
    sub!("whoami", 2, NOSCRIPT | LOADING | STALE, [], "Returns the connection's user."),
];

/// SLOWLOG's subcommands.
#[rustfmt::skip]
static SLOWLOG_SUBS: &[SubSpec] = &[
    sub!("get", -2, ADMIN | LOADING | STALE, [], "Returns the newest slow log entries."),
    sub!("len", 2, ADMIN | LOADING | STALE, [], "Returns the number of slow log entries."),
    sub!("reset", 2, ADMIN | LOADING | STALE, [], "Clears the slow log."),
    sub!("help", 2, LOADING | STALE, [], "Shows SLOWLOG's subcommands."),
];

/// LATENCY's subcommands.
#[rustfmt::skip]
static LATENCY_SUBS: &[SubSpec] = &[
    sub!("latest", 2, ADMIN | NOSCRIPT | LOADING | STALE, [], "Returns the latest sample of every event."),
    sub!("history", 3, ADMIN | NOSCRIPT | LOADING | STALE, [], "Returns the samples of one event."),
    sub!("reset", -2, ADMIN | NOSCRIPT | LOADING | STALE, [], "Forgets the samples of some or all events."),
    sub!("graph", 3, ADMIN | NOSCRIPT | LOADING | STALE, [], "Draws an ASCII graph of one event's samples."),
    sub!("doctor", 2, ADMIN | NOSCRIPT | LOADING | STALE, [], "Returns a human-readable analysis of the recorded events."),
    sub!("help", 2, LOADING | STALE, [], "Shows LATENCY's subcommands."),
];

/// CLIENT's subcommands.
#[rustfmt::skip]
static CLIENT_SUBS: &[SubSpec] = &[
    sub!("id", 2, NOSCRIPT | LOADING | STALE, [], "Returns the connection's id."),
    sub!("getname", 2, NOSCRIPT | LOADING | STALE, [], "Returns the connection's name."),
    sub!("setname", 3, NOSCRIPT | LOADING | STALE, [], "Names the connection."),
    sub!("list", -2, ADMIN | NOSCRIPT | LOADING | STALE, [], "Lists connections."),
    sub!("info", 2, NOSCRIPT | LOADING | STALE, [], "Describes this connection."),
    sub!("kill", -3, ADMIN | NOSCRIPT | LOADING | STALE, [], "Closes connections."),
    sub!("setinfo", 4, NOSCRIPT | LOADING | STALE, [], "Records the client library name and version."),
    sub!("reply", 3, NOSCRIPT | LOADING | STALE, [], "Accepts ON (replies are always sent)."),
    sub!("pause", -3, ADMIN | NOSCRIPT | LOADING | STALE, [], "Holds back every client's commands (or only writes) for some milliseconds."),
    sub!("unpause", 2, ADMIN | NOSCRIPT | LOADING | STALE, [], "Lifts CLIENT PAUSE."),
    sub!("unblock", -3, ADMIN | NOSCRIPT | LOADING | STALE, [], "Releases a client blocked in BLPOP and friends, with a nil reply or an error."),
    sub!("no-evict", 3, ADMIN | NOSCRIPT | LOADING | STALE, [], "Accepted for compatibility."),
    sub!("no-touch", 3, NOSCRIPT | LOADING | STALE, [], "Accepted for compatibility."),
    sub!("help", 2, LOADING | STALE, [], "Shows CLIENT's subcommands."),
];

/// PUBSUB's subcommands.
#[rustfmt::skip]
static PUBSUB_SUBS: &[SubSpec] = &[
    sub!("channels", -2, PUBSUB | LOADING | STALE, [], "Lists channels with subscribers, optionally matching a pattern."),
    sub!("numsub", -2, PUBSUB | LOADING | STALE, [], "Counts the subscribers of channels."),
    sub!("numpat", 2, PUBSUB | LOADING | STALE, [], "Counts the patterns with subscribers."),
    sub!("shardchannels", -2, PUBSUB | LOADING | STALE, [], "Lists shard channels with subscribers, optionally matching a pattern."),
    sub!("shardnumsub", -2, PUBSUB | LOADING | STALE, [], "Counts the subscribers of shard channels."),
    sub!("help", 2, LOADING | STALE, [], "Shows PUBSUB's subcommands."),
];
