//! Streams on RocksDB: one row per entry, keyed by its big-endian id, plus rows for Redis's
//! internal nodes, consumer groups, consumers and pending entries — all under the key's
//! collection version, so DEL, RENAME and COPY treat a stream like any other collection.
//!
//! Rows under `db · key · version` (a tag byte, then):
//! - `e · ms · seq` → the entry's fields and values;
//! - `n · master id` → one of Redis's listpack nodes: live and deleted counts, its size in bytes
//!   as Redis would encode it, its last id and master fields. Kiwi keeps no listpacks, but
//!   `MAXLEN ~`/`MINID ~` trim whole nodes and XINFO reports them, so the node boundaries must
//!   be the ones Redis would have drawn (`stream-node-max-entries`, `stream-node-max-bytes`);
//! - `g · group` → a consumer group (last delivered id, entries read, counts);
//! - `c · len · group · consumer` → a consumer (seen time, pending count);
//! - `p · len · group · id` → a pending entry (owner, delivery time and count);
//! - `q · len · group · len · consumer · id` → the owner's index of its pending entries, so
//!   XPENDING and XREADGROUP history for one consumer never scan the whole group.
//!
//! The stream's own state (last id, first id, entries added, max deleted id, node bounds)
//! follows the collection header in the metadata row; the header's size is the length.

use bytes::Bytes;

use super::collection::{Collection, Space};
use super::meta::KeyType;
use super::{Batch, Storage, StorageError, StorageResult};
use crate::error::ReplyError;
use crate::util::rdb::{
    listpack_int_size, listpack_string_size, RawId, StreamConsumer, StreamGroup, StreamValue,
};

const ENTRY: u8 = b'e';
const NODE: u8 = b'n';
const GROUP: u8 = b'g';
const CONSUMER: u8 = b'c';
const PENDING: u8 = b'p';
const OWNED: u8 = b'q';

/// Redis's bound on one listpack (and so on one entry's fields and values together).
pub const LISTPACK_MAX_SIZE: u64 = 1 << 30;

/// A stream entry id: milliseconds and a sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    /// 0-0: `-` in ranges, and the last id of a stream nothing was ever added to.
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    /// The last possible id: `+` in ranges; a stream that reached it refuses `*`.
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    /// The id `ms-seq`.
    pub fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    /// The 16 big-endian bytes that make ids sort as rows.
    pub fn encode(self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&self.ms.to_be_bytes());
        out[8..].copy_from_slice(&self.seq.to_be_bytes());
        out
    }

    /// The id a row name's 16 bytes encode; `None` for fewer bytes.
    pub fn decode(raw: &[u8]) -> Option<StreamId> {
        Some(StreamId {
            ms: u64::from_be_bytes(raw.get(..8)?.try_into().ok()?),
            seq: u64::from_be_bytes(raw.get(8..16)?.try_into().ok()?),
        })
    }

    /// The next id, `None` past the maximum (Redis's `streamIncrID`).
    pub fn next(self) -> Option<StreamId> {
        match (self.ms, self.seq) {
            (u64::MAX, u64::MAX) => None,
            (ms, u64::MAX) => Some(StreamId::new(ms + 1, 0)),
            (ms, seq) => Some(StreamId::new(ms, seq + 1)),
        }
    }

    /// The previous id, `None` before 0-0 (Redis's `streamDecrID`).
    pub fn prev(self) -> Option<StreamId> {
        match (self.ms, self.seq) {
            (0, 0) => None,
            (ms, 0) => Some(StreamId::new(ms - 1, u64::MAX)),
            (ms, seq) => Some(StreamId::new(ms, seq - 1)),
        }
    }

    /// Whether this is 0-0, which Redis uses for "none" (max deleted id, XSETID).
    pub fn is_zero(self) -> bool {
        self == StreamId::MIN
    }

    /// The id as replies show it (without the formatting machinery: every entry of every range
    /// reply goes through here).
    pub fn to_bytes(self) -> Bytes {
        let mut ms = itoa::Buffer::new();
        let mut seq = itoa::Buffer::new();
        let (ms, seq) = (ms.format(self.ms), seq.format(self.seq));
        let mut out = Vec::with_capacity(ms.len() + 1 + seq.len());
        out.extend_from_slice(ms.as_bytes());
        out.push(b'-');
        out.extend_from_slice(seq.as_bytes());
        Bytes::from(out)
    }
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// A stream's own state, kept after the collection header in its metadata row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamState {
    pub last_id: StreamId,
    /// The first live entry (0-0 when empty).
    pub first_id: StreamId,
    pub max_deleted: StreamId,
    pub entries_added: u64,
    pub groups: u64,
    /// Number of internal nodes, and the master ids of the first and last (when any).
    pub nodes: u64,
    pub head_node: StreamId,
    pub tail_node: StreamId,
}

impl StreamState {
    fn decode(raw: &[u8]) -> Option<StreamState> {
        let id = |at: usize| StreamId::decode(raw.get(at..at + 16)?);
        let word = |at: usize| -> Option<u64> {
            Some(u64::from_be_bytes(raw.get(at..at + 8)?.try_into().ok()?))
        };
        Some(StreamState {
            last_id: id(0)?,
            first_id: id(16)?,
            max_deleted: id(32)?,
            entries_added: word(48)?,
            groups: word(56)?,
            nodes: word(64)?,
            head_node: id(72)?,
            tail_node: id(88)?,
        })
    }

    fn encode(&self) -> Bytes {
        let mut out = Vec::with_capacity(104);
        for id in [self.last_id, self.first_id, self.max_deleted] {
            out.extend_from_slice(&id.encode());
        }
        for word in [self.entries_added, self.groups, self.nodes] {
            out.extend_from_slice(&word.to_be_bytes());
        }
        out.extend_from_slice(&self.head_node.encode());
        out.extend_from_slice(&self.tail_node.encode());
        Bytes::from(out)
    }
}

impl StreamState {
    /// Whether entries at or after `start` may have been deleted (Redis's
    /// `streamRangeHasTombstones` with an open end).
    fn has_tombstones_after(&self, len: u64, start: StreamId) -> bool {
        len != 0
            && !self.max_deleted.is_zero()
            && self.first_id <= self.max_deleted
            && start <= self.max_deleted
    }

    /// How many entries were added up to and including `id`, when that can be known (Redis's
    /// `streamEstimateDistanceFromFirstEverEntry`).
    pub fn entries_up_to(&self, len: u64, id: StreamId) -> Option<u64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if len == 0 && id <= self.last_id {
            return Some(self.entries_added);
        }
        if id == self.last_id {
            return Some(self.entries_added);
        }
        if id > self.last_id {
            return None;
        }
        if self.max_deleted.is_zero() || self.max_deleted < self.first_id {
            if id < self.first_id {
                return Some(self.entries_added - len);
            }
            if id == self.first_id {
                return Some(self.entries_added - len + 1);
            }
        }
        None
    }

    /// A group's lag: entries added that it has not read yet, when that can be known.
    pub fn lag(&self, len: u64, group: &Group) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        let read = match group.entries_read {
            Some(read) if !self.has_tombstones_after(len, group.last_id) => Some(read),
            _ => self.entries_up_to(len, group.last_id),
        };
        read.map(|read| self.entries_added as i64 - read as i64)
    }

    /// Moves a group's position to `id`, an entry it is being delivered, keeping its read
    /// counter when it can (Redis's bookkeeping in `streamReplyWithRange`).
    pub fn advance(&self, len: u64, group: &mut Group, id: StreamId) {
        if id <= group.last_id {
            return;
        }
        match group.entries_read {
            Some(read) if !self.has_tombstones_after(len, id) => {
                group.entries_read = Some(read + 1)
            }
            _ if self.entries_added != 0 => group.entries_read = self.entries_up_to(len, id),
            _ => {}
        }
        group.last_id = id;
    }
}

/// How Redis sizes its nodes: `stream-node-max-bytes` and `stream-node-max-entries`.
#[derive(Debug, Clone, Copy)]
pub struct NodeLimits {
    pub max_bytes: u64,
    pub max_entries: u64,
}

/// One of Redis's listpack nodes, as far as trimming and XINFO need it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Node {
    live: u64,
    deleted: u64,
    /// The listpack's size without its two counters (which change size as they grow).
    fixed_bytes: u64,
    last: StreamId,
    master_fields: Vec<Bytes>,
}

impl Node {
    fn decode(raw: &[u8]) -> Option<Node> {
        let word = |at: usize| -> Option<u64> {
            Some(u64::from_be_bytes(raw.get(at..at + 8)?.try_into().ok()?))
        };
        Some(Node {
            live: word(0)?,
            deleted: word(8)?,
            fixed_bytes: word(16)?,
            last: StreamId::decode(raw.get(24..40)?)?,
            master_fields: decode_items(raw.get(40..)?)?,
        })
    }

    fn encode(&self) -> Bytes {
        let mut out = Vec::with_capacity(48);
        for word in [self.live, self.deleted, self.fixed_bytes] {
            out.extend_from_slice(&word.to_be_bytes());
        }
        out.extend_from_slice(&self.last.encode());
        encode_items(&self.master_fields, &mut out);
        Bytes::from(out)
    }

    /// The listpack's size in bytes, as `lpBytes` would report it.
    fn bytes(&self) -> u64 {
        self.fixed_bytes
            + listpack_int_size(self.live as i64)
            + listpack_int_size(self.deleted as i64)
    }
}

/// A consumer group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub last_id: StreamId,
    /// Entries the group has read, `None` when it cannot be known (Redis's -1).
    pub entries_read: Option<u64>,
    pub pending: u64,
    pub consumers: u64,
}

impl Group {
    /// A group positioned after `last_id`, with nothing pending and no consumers yet.
    pub fn new(last_id: StreamId, entries_read: Option<u64>) -> Group {
        Group {
            last_id,
            entries_read,
            pending: 0,
            consumers: 0,
        }
    }

    fn decode(raw: &[u8]) -> Option<Group> {
        let word = |at: usize| -> Option<u64> {
            Some(u64::from_be_bytes(raw.get(at..at + 8)?.try_into().ok()?))
        };
        let read = word(16)?;
        Some(Group {
            last_id: StreamId::decode(raw)?,
            entries_read: (read != u64::MAX).then_some(read),
            pending: word(24)?,
            consumers: word(32)?,
        })
    }

    fn encode(&self) -> Bytes {
        let mut out = Vec::with_capacity(40);
        out.extend_from_slice(&self.last_id.encode());
        out.extend_from_slice(&self.entries_read.unwrap_or(u64::MAX).to_be_bytes());
        out.extend_from_slice(&self.pending.to_be_bytes());
        out.extend_from_slice(&self.consumers.to_be_bytes());
        Bytes::from(out)
    }
}

/// A consumer of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumer {
    pub seen_time: u64,
    pub pending: u64,
}

impl Consumer {
    fn decode(raw: &[u8]) -> Option<Consumer> {
        Some(Consumer {
            seen_time: u64::from_be_bytes(raw.get(..8)?.try_into().ok()?),
            pending: u64::from_be_bytes(raw.get(8..16)?.try_into().ok()?),
        })
    }

    fn encode(&self) -> Bytes {
        let mut out = Vec::with_capacity(16);
        out.extend_from_slice(&self.seen_time.to_be_bytes());
        out.extend_from_slice(&self.pending.to_be_bytes());
        Bytes::from(out)
    }
}

/// A pending (delivered, unacknowledged) entry of a group: Redis's NACK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nack {
    pub delivery_time: u64,
    pub delivery_count: u64,
    pub consumer: Bytes,
}

impl Nack {
    fn decode(raw: &[u8]) -> Option<Nack> {
        Some(Nack {
            delivery_time: u64::from_be_bytes(raw.get(..8)?.try_into().ok()?),
            delivery_count: u64::from_be_bytes(raw.get(8..16)?.try_into().ok()?),
            consumer: Bytes::copy_from_slice(raw.get(16..)?),
        })
    }

    fn encode(&self) -> Bytes {
        let mut out = Vec::with_capacity(16 + self.consumer.len());
        out.extend_from_slice(&self.delivery_time.to_be_bytes());
        out.extend_from_slice(&self.delivery_count.to_be_bytes());
        out.extend_from_slice(&self.consumer);
        Bytes::from(out)
    }
}

/// Length-prefixed items (an entry's fields and values, a node's master fields).
fn encode_items(items: &[Bytes], out: &mut Vec<u8>) {
    out.extend_from_slice(&(items.len() as u32).to_be_bytes());
    for item in items {
        out.extend_from_slice(&(item.len() as u32).to_be_bytes());
        out.extend_from_slice(item);
    }
}

fn decode_items(raw: &[u8]) -> Option<Vec<Bytes>> {
    decode_shared_items(&Bytes::copy_from_slice(raw))
}

/// Items of a row already held in `Bytes`: slices of it, not one allocation per item.
fn decode_shared_items(raw: &Bytes) -> Option<Vec<Bytes>> {
    let count = u32::from_be_bytes(raw.get(..4)?.try_into().ok()?) as usize;
    let mut items = Vec::with_capacity(count.min(raw.len() / 4));
    let mut at = 4;
    for _ in 0..count {
        let len = u32::from_be_bytes(raw.get(at..at + 4)?.try_into().ok()?) as usize;
        at += 4;
        raw.get(at..at + len)?;
        items.push(raw.slice(at..at + len));
        at += len;
    }
    Some(items)
}

/// A new node's size without its counters: header, master fields, terminator.
fn master_bytes(fields: &[Bytes]) -> u64 {
    7 + listpack_int_size(fields.len() as i64)
        + fields.iter().map(|f| listpack_string_size(f)).sum::<u64>()
        + listpack_int_size(0)
}

/// What an entry adds to its node's listpack.
fn entry_bytes(master: StreamId, id: StreamId, pairs: &[Bytes], same_fields: bool) -> u64 {
    let numfields = (pairs.len() / 2) as i64;
    let mut size = listpack_int_size(if same_fields { 2 } else { 0 })
        + listpack_int_size(id.ms.wrapping_sub(master.ms) as i64)
        + listpack_int_size(id.seq.wrapping_sub(master.seq) as i64);
    let mut lp_count = numfields + 3;
    if !same_fields {
        size += listpack_int_size(numfields);
        lp_count += numfields + 1;
    }
    for (i, item) in pairs.iter().enumerate() {
        if !same_fields || i % 2 == 1 {
            size += listpack_string_size(item);
        }
    }
    size + listpack_int_size(lp_count)
}

/// The row names of one consumer group's rows.
fn group_part(tag: u8, group: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + group.len() + 16);
    out.push(tag);
    out.extend_from_slice(&(group.len() as u32).to_be_bytes());
    out.extend_from_slice(group);
    out
}

fn with_id(mut prefix: Vec<u8>, id: StreamId) -> Vec<u8> {
    prefix.extend_from_slice(&id.encode());
    prefix
}

fn tagged(tag: u8, id: StreamId) -> Vec<u8> {
    with_id(vec![tag], id)
}

fn owned_prefix(group: &[u8], consumer: &[u8]) -> Vec<u8> {
    let mut out = group_part(OWNED, group);
    out.extend_from_slice(&(consumer.len() as u32).to_be_bytes());
    out.extend_from_slice(consumer);
    out
}

fn corrupt<T>(value: Option<T>) -> StorageResult<T> {
    value.ok_or(StorageError::Corrupt)
}

/// One command's view of one stream key.
pub struct Stream<'s> {
    coll: Collection<'s>,
    pub state: StreamState,
    /// The entry this command appended, which iterators cannot see until the command ends.
    appended: Option<StreamId>,
}

impl Storage {
    /// Opens a stream for reading: `None` when the key does not exist, WRONGTYPE for another type.
    pub fn read_stream(
        &self,
        db: usize,
        key: &[u8],
        now: u64,
    ) -> Result<Option<Stream<'_>>, ReplyError> {
        self.read_collection(db, key, KeyType::Stream, now)?
            .map(Stream::of)
            .transpose()
            .map_err(ReplyError::from)
    }

    /// Opens a stream for a write; a missing key opens as a new empty stream (which `save`
    /// creates). The caller holds the key's lock.
    pub fn open_stream(&self, db: usize, key: &[u8], now: u64) -> Result<Stream<'_>, ReplyError> {
        let coll = self.open_collection(db, key, KeyType::Stream, now)?;
        Ok(Stream::of(coll)?)
    }
}

impl<'s> Stream<'s> {
    fn of(coll: Collection<'s>) -> StorageResult<Stream<'s>> {
        let state = if coll.header.extra.is_empty() {
            StreamState::default()
        } else {
            corrupt(StreamState::decode(&coll.header.extra))?
        };
        Ok(Stream {
            coll,
            state,
            appended: None,
        })
    }

    /// True when the key existed when opened.
    pub fn exists(&self) -> bool {
        self.coll.exists()
    }

    /// Number of entries.
    pub fn len(&self) -> u64 {
        self.coll.len()
    }

    /// Whether it has no entries (the key stays: streams are not deleted when emptied).
    pub fn is_empty(&self) -> bool {
        self.coll.is_empty()
    }

    /// Writes the stream's state back (creating the key if it is new). Streams, unlike other
    /// collections, stay when they become empty.
    pub fn save(self, batch: &mut Batch<'_>) {
        self.write_back(batch, true);
    }

    /// Writes the stream's state back for a change Redis does not count as modifying the key
    /// (XGROUP CREATE on an existing stream, XGROUP DESTROY, XSETID): a WATCH of it holds.
    pub fn save_unwatched(self, batch: &mut Batch<'_>) {
        self.write_back(batch, false);
    }

    fn write_back(mut self, batch: &mut Batch<'_>, watched: bool) {
        self.coll.header.extra = self.state.encode();
        self.coll.save_keeping_empty(batch, watched);
    }

    /// Walks member rows from `from` like `Collection::scan`, hiding the rows this command
    /// already deleted.
    fn scan(
        &self,
        from: &[u8],
        rev: bool,
        mut f: impl FnMut(&[u8], &[u8]) -> StorageResult<bool>,
    ) -> StorageResult<()> {
        self.coll
            .scan(Space::Members, Some(from), rev, |row, value| {
                if self.coll.deleted_here(row) {
                    return Ok(true);
                }
                f(row, value)
            })
    }

    // ---- entries ----

    /// An entry's fields and values, `None` if it does not exist.
    pub fn entry(&self, id: StreamId) -> StorageResult<Option<Vec<Bytes>>> {
        match self.coll.get(&tagged(ENTRY, id))? {
            Some(raw) => Ok(Some(corrupt(decode_shared_items(&raw))?)),
            None => Ok(None),
        }
    }

    /// Walks the entries from `start` to `end` (both inclusive), backwards when `rev`; `f`
    /// returns false to stop. Must run before the command writes to the stream.
    pub fn range(
        &self,
        start: StreamId,
        end: StreamId,
        rev: bool,
        mut f: impl FnMut(StreamId, Vec<Bytes>) -> bool,
    ) -> StorageResult<()> {
        if start > end || self.is_empty() {
            return Ok(());
        }
        // Everything before the first entry is deleted: seeking there skips their tombstones.
        let start = start.max(self.state.first_id);
        let end = end.min(self.state.last_id);
        if start > end {
            return Ok(());
        }
        let from = if rev { end } else { start };
        self.scan(&tagged(ENTRY, from), rev, |row, value| {
            if row.first() != Some(&ENTRY) {
                return Ok(false);
            }
            let id = corrupt(StreamId::decode(&row[1..]))?;
            if id < start || id > end {
                return Ok(false);
            }
            Ok(f(id, corrupt(decode_items(value))?))
        })
    }

    /// Up to `count` entries (0 = all) from `start` to `end`.
    pub fn collect(
        &self,
        start: StreamId,
        end: StreamId,
        rev: bool,
        count: usize,
    ) -> StorageResult<Vec<(StreamId, Vec<Bytes>)>> {
        let mut out = Vec::new();
        self.range(start, end, rev, |id, fields| {
            out.push((id, fields));
            count == 0 || out.len() < count
        })?;
        Ok(out)
    }

    /// The last live entry's id, if any (Redis's `streamLastValidID`).
    pub fn last_entry_id(&self) -> StorageResult<Option<StreamId>> {
        let mut last = None;
        self.range(StreamId::MIN, StreamId::MAX, true, |id, _| {
            last = Some(id);
            false
        })?;
        Ok(last)
    }

    fn node(&self, master: StreamId) -> StorageResult<Option<Node>> {
        match self.coll.get(&tagged(NODE, master))? {
            Some(raw) => Ok(Some(corrupt(Node::decode(&raw))?)),
            None => Ok(None),
        }
    }

    fn put_node(&mut self, batch: &mut Batch<'_>, master: StreamId, node: &Node) {
        self.coll.put(batch, &tagged(NODE, master), node.encode());
    }

    /// The node holding `id`: the last one whose master id is at or before it.
    fn node_of(&self, id: StreamId) -> StorageResult<Option<(StreamId, Node)>> {
        if self.state.nodes == 0 || id < self.state.head_node {
            return Ok(None);
        }
        if id >= self.state.tail_node {
            let master = self.state.tail_node;
            return Ok(self.node(master)?.map(|n| (master, n)));
        }
        let mut found = None;
        self.scan(&tagged(NODE, id), true, |row, _| {
            if row.first() == Some(&NODE) {
                found = Some(corrupt(StreamId::decode(&row[1..]))?);
            }
            Ok(false)
        })?;
        // The iterator's value predates this command's own writes (an XDEL of two entries of
        // one node updates it twice): read the node again through them.
        match found {
            Some(master) => Ok(self.node(master)?.map(|n| (master, n))),
            None => Ok(None),
        }
    }

    /// The first node after (`forward`) or before `master`.
    fn neighbour_node(&self, master: StreamId, forward: bool) -> StorageResult<Option<StreamId>> {
        let from = if forward {
            master.next()
        } else {
            master.prev()
        };
        let Some(from) = from else {
            return Ok(None);
        };
        let mut found = None;
        self.scan(&tagged(NODE, from), !forward, |row, _| {
            if row.first() == Some(&NODE) {
                found = Some(corrupt(StreamId::decode(&row[1..]))?);
            }
            Ok(false)
        })?;
        // The tail may be a node this command opened, which iterators cannot see yet.
        let tail = self.state.tail_node;
        if forward && tail > master && found.is_none_or(|f| f > tail) {
            found = Some(tail);
        }
        Ok(found)
    }

    /// Forgets a node whose entries are all gone, keeping the head and tail bounds.
    fn drop_node(&mut self, batch: &mut Batch<'_>, master: StreamId) -> StorageResult<()> {
        self.coll.delete(batch, &tagged(NODE, master));
        self.state.nodes -= 1;
        if self.state.nodes == 0 {
            self.state.head_node = StreamId::MIN;
            self.state.tail_node = StreamId::MIN;
            return Ok(());
        }
        if master == self.state.head_node {
            self.state.head_node = corrupt(self.neighbour_node(master, true)?)?;
        }
        if master == self.state.tail_node {
            self.state.tail_node = corrupt(self.neighbour_node(master, false)?)?;
        }
        Ok(())
    }

    /// Appends an entry with id `id` (already checked to be above the last id), opening a new
    /// node where Redis would.
    pub fn append(
        &mut self,
        batch: &mut Batch<'_>,
        id: StreamId,
        pairs: &[Bytes],
        limits: NodeLimits,
    ) -> StorageResult<()> {
        let total: u64 = pairs.iter().map(|p| p.len() as u64).sum();
        let max_bytes = match limits.max_bytes {
            0 => LISTPACK_MAX_SIZE,
            n => n.min(LISTPACK_MAX_SIZE),
        };
        let tail = match self.state.nodes {
            0 => None,
            _ => self.node(self.state.tail_node)?,
        };
        let tail = tail.filter(|node| {
            node.bytes() + total < max_bytes
                && (limits.max_entries == 0 || node.live + node.deleted < limits.max_entries)
        });
        let (master, mut node, same_fields) = match tail {
            Some(node) => {
                let same = node.master_fields.len() * 2 == pairs.len()
                    && node
                        .master_fields
                        .iter()
                        .zip(pairs.iter().step_by(2))
                        .all(|(a, b)| a == b);
                (self.state.tail_node, node, same)
            }
            None => {
                let fields: Vec<Bytes> = pairs.iter().step_by(2).cloned().collect();
                let node = Node {
                    live: 0,
                    deleted: 0,
                    fixed_bytes: master_bytes(&fields),
                    last: id,
                    master_fields: fields,
                };
                if self.state.nodes == 0 {
                    self.state.head_node = id;
                }
                self.state.nodes += 1;
                self.state.tail_node = id;
                (id, node, true)
            }
        };
        node.live += 1;
        node.fixed_bytes += entry_bytes(master, id, pairs, same_fields);
        node.last = id;
        self.put_node(batch, master, &node);
        let mut value = Vec::with_capacity(4 + total as usize + 4 * pairs.len());
        encode_items(pairs, &mut value);
        self.coll.put(batch, &tagged(ENTRY, id), Bytes::from(value));
        self.coll.header.size += 1;
        self.state.entries_added += 1;
        self.state.last_id = id;
        if self.len() == 1 {
            self.state.first_id = id;
        }
        self.appended = Some(id);
        Ok(())
    }

    /// Deletes one entry if it exists (XDEL); its node forgets it, and goes when it was its last.
    pub fn delete(&mut self, batch: &mut Batch<'_>, id: StreamId) -> StorageResult<bool> {
        if self.coll.get(&tagged(ENTRY, id))?.is_none() {
            return Ok(false);
        }
        self.coll.delete(batch, &tagged(ENTRY, id));
        self.coll.header.size -= 1;
        if let Some((master, mut node)) = self.node_of(id)? {
            if node.live <= 1 {
                self.drop_node(batch, master)?;
            } else {
                node.live -= 1;
                node.deleted += 1;
                self.put_node(batch, master, &node);
            }
        }
        Ok(true)
    }

    /// After deleting entries: the first id is the first live entry's, found by seeking from the
    /// old one (everything before it was already gone).
    pub fn refresh_first_id(&mut self) -> StorageResult<()> {
        if self.is_empty() {
            self.state.first_id = StreamId::MIN;
            return Ok(());
        }
        let mut first = None;
        let pending_first = self.appended;
        self.range(self.state.first_id, StreamId::MAX, false, |id, _| {
            first = Some(id);
            false
        })?;
        // Only this command's own append can be invisible to the walk, and it is the last.
        self.state.first_id = corrupt(first.or(pending_first))?;
        Ok(())
    }

    /// Redis's `streamTrim`: removes entries from the head by length or by id, whole nodes only
    /// when `approx`, at most `limit` entries (0 = no limit). Returns how many it removed.
    pub fn trim(
        &mut self,
        batch: &mut Batch<'_>,
        by: Trim,
        approx: bool,
        limit: u64,
    ) -> StorageResult<u64> {
        let mut deleted = 0u64;
        while self.state.nodes > 0 {
            if let Trim::MaxLen(maxlen) = by {
                if self.len() <= maxlen {
                    break;
                }
            }
            let master = self.state.head_node;
            let mut node = corrupt(self.node(master)?)?;
            let entries = node.live;
            if limit != 0 && deleted + entries > limit {
                break;
            }
            let remove_node = match by {
                Trim::MaxLen(maxlen) => self.len() - entries >= maxlen,
                Trim::MinId(min) => node.last < min,
            };
            if remove_node {
                let ids = self.node_entries(master, node.last)?;
                for id in ids {
                    self.coll.delete(batch, &tagged(ENTRY, id));
                }
                self.coll.header.size -= entries;
                deleted += entries;
                self.drop_node(batch, master)?;
                continue;
            }
            if approx {
                break;
            }
            // Delete entries from inside the node until the condition holds.
            let mut removed = 0u64;
            let len = self.len();
            let ids = self.node_entries(master, node.last)?;
            for id in ids {
                let stop = match by {
                    Trim::MaxLen(maxlen) => len - removed <= maxlen,
                    Trim::MinId(min) => id >= min,
                };
                if stop {
                    break;
                }
                self.coll.delete(batch, &tagged(ENTRY, id));
                removed += 1;
            }
            self.coll.header.size -= removed;
            node.live -= removed;
            node.deleted += removed;
            deleted += removed;
            self.put_node(batch, master, &node);
            break;
        }
        if deleted > 0 {
            self.refresh_first_id()?;
        } else if self.is_empty() {
            self.state.first_id = StreamId::MIN;
        }
        Ok(deleted)
    }

    /// The live entries of the node at `master` (up to `last`), including this command's own
    /// append if it falls there.
    fn node_entries(&self, master: StreamId, last: StreamId) -> StorageResult<Vec<StreamId>> {
        let mut ids = Vec::new();
        self.range(master, last, false, |id, _| {
            ids.push(id);
            true
        })?;
        if let Some(appended) = self.appended.filter(|id| (master..=last).contains(id)) {
            if !ids.contains(&appended) {
                ids.push(appended);
            }
        }
        Ok(ids)
    }

    // ---- consumer groups ----

    fn group_row(name: &[u8]) -> Vec<u8> {
        let mut row = Vec::with_capacity(1 + name.len());
        row.push(GROUP);
        row.extend_from_slice(name);
        row
    }

    /// A consumer group by name.
    pub fn group(&self, name: &[u8]) -> StorageResult<Option<Group>> {
        match self.coll.get(&Self::group_row(name))? {
            Some(raw) => Ok(Some(corrupt(Group::decode(&raw))?)),
            None => Ok(None),
        }
    }

    /// Writes a group's row (its position and counts).
    pub fn put_group(&mut self, batch: &mut Batch<'_>, name: &[u8], group: &Group) {
        self.coll.put(batch, &Self::group_row(name), group.encode());
    }

    /// Every group in name order.
    pub fn groups(&self) -> StorageResult<Vec<(Bytes, Group)>> {
        let mut out = Vec::new();
        if self.state.groups == 0 {
            return Ok(out);
        }
        self.scan(&[GROUP], false, |row, value| {
            if row.first() != Some(&GROUP) {
                return Ok(false);
            }
            out.push((
                Bytes::copy_from_slice(&row[1..]),
                corrupt(Group::decode(value))?,
            ));
            Ok(true)
        })?;
        Ok(out)
    }

    /// Creates a group; false if it exists.
    pub fn create_group(
        &mut self,
        batch: &mut Batch<'_>,
        name: &[u8],
        group: &Group,
    ) -> StorageResult<bool> {
        if self.group(name)?.is_some() {
            return Ok(false);
        }
        self.put_group(batch, name, group);
        self.state.groups += 1;
        Ok(true)
    }

    /// Deletes a group with its consumers and pending entries.
    pub fn destroy_group(&mut self, batch: &mut Batch<'_>, name: &[u8]) -> StorageResult<bool> {
        if self.group(name)?.is_none() {
            return Ok(false);
        }
        self.coll.delete(batch, &Self::group_row(name));
        for tag in [CONSUMER, PENDING, OWNED] {
            for row in self.rows_with_prefix(&group_part(tag, name))? {
                self.coll.delete(batch, &row);
            }
        }
        self.state.groups -= 1;
        Ok(true)
    }

    /// The names of every row that starts with `prefix`.
    fn rows_with_prefix(&self, prefix: &[u8]) -> StorageResult<Vec<Vec<u8>>> {
        let mut rows = Vec::new();
        self.scan(prefix, false, |row, _| {
            if !row.starts_with(prefix) {
                return Ok(false);
            }
            rows.push(row.to_vec());
            Ok(true)
        })?;
        Ok(rows)
    }

    fn consumer_row(group: &[u8], name: &[u8]) -> Vec<u8> {
        let mut row = group_part(CONSUMER, group);
        row.extend_from_slice(name);
        row
    }

    /// A consumer of a group by name.
    pub fn consumer(&self, group: &[u8], name: &[u8]) -> StorageResult<Option<Consumer>> {
        match self.coll.get(&Self::consumer_row(group, name))? {
            Some(raw) => Ok(Some(corrupt(Consumer::decode(&raw))?)),
            None => Ok(None),
        }
    }

    /// Writes a consumer's row (seen time, pending count).
    pub fn put_consumer(
        &mut self,
        batch: &mut Batch<'_>,
        group: &[u8],
        name: &[u8],
        consumer: &Consumer,
    ) {
        self.coll
            .put(batch, &Self::consumer_row(group, name), consumer.encode());
    }

    /// Every consumer of a group, in name order.
    pub fn consumers(&self, group: &[u8]) -> StorageResult<Vec<(Bytes, Consumer)>> {
        let prefix = group_part(CONSUMER, group);
        let mut out = Vec::new();
        self.scan(&prefix, false, |row, value| {
            if !row.starts_with(&prefix) {
                return Ok(false);
            }
            out.push((
                Bytes::copy_from_slice(&row[prefix.len()..]),
                corrupt(Consumer::decode(value))?,
            ));
            Ok(true)
        })?;
        Ok(out)
    }

    /// Deletes a consumer with its pending entries; returns how many it had.
    pub fn delete_consumer(
        &mut self,
        batch: &mut Batch<'_>,
        group: &[u8],
        name: &[u8],
    ) -> StorageResult<Option<u64>> {
        let Some(consumer) = self.consumer(group, name)? else {
            return Ok(None);
        };
        let owned = self.owned(group, name, StreamId::MIN, StreamId::MAX, 0)?;
        for id in &owned {
            self.coll
                .delete(batch, &with_id(group_part(PENDING, group), *id));
            self.coll
                .delete(batch, &with_id(owned_prefix(group, name), *id));
        }
        self.coll.delete(batch, &Self::consumer_row(group, name));
        Ok(Some(consumer.pending))
    }

    /// The pending entry `id` of a group, if it is pending.
    pub fn nack(&self, group: &[u8], id: StreamId) -> StorageResult<Option<Nack>> {
        match self.coll.get(&with_id(group_part(PENDING, group), id))? {
            Some(raw) => Ok(Some(corrupt(Nack::decode(&raw))?)),
            None => Ok(None),
        }
    }

    /// Writes a pending entry, moving it between consumers' indexes when its owner changed
    /// (`previous` is its owner before, if it was pending).
    pub fn put_nack(
        &mut self,
        batch: &mut Batch<'_>,
        group: &[u8],
        id: StreamId,
        nack: &Nack,
        previous: Option<&[u8]>,
    ) {
        self.coll.put(
            batch,
            &with_id(group_part(PENDING, group), id),
            nack.encode(),
        );
        if previous != Some(&nack.consumer[..]) {
            if let Some(previous) = previous {
                self.coll
                    .delete(batch, &with_id(owned_prefix(group, previous), id));
            }
            self.coll.put(
                batch,
                &with_id(owned_prefix(group, &nack.consumer), id),
                Bytes::new(),
            );
        }
    }

    /// Removes a pending entry from the group and its owner.
    pub fn delete_nack(&mut self, batch: &mut Batch<'_>, group: &[u8], id: StreamId, nack: &Nack) {
        self.coll
            .delete(batch, &with_id(group_part(PENDING, group), id));
        self.coll
            .delete(batch, &with_id(owned_prefix(group, &nack.consumer), id));
    }

    /// The group's pending entries from `start` to `end`, at most `count` (0 = all).
    pub fn pending(
        &self,
        group: &[u8],
        start: StreamId,
        end: StreamId,
        count: usize,
    ) -> StorageResult<Vec<(StreamId, Nack)>> {
        let prefix = group_part(PENDING, group);
        let mut out = Vec::new();
        self.scan_ids(&prefix, start, end, false, |id, value| {
            out.push((id, corrupt(Nack::decode(value))?));
            Ok(count == 0 || out.len() < count)
        })?;
        Ok(out)
    }

    /// The first or last pending id of a group.
    pub fn pending_edge(&self, group: &[u8], last: bool) -> StorageResult<Option<StreamId>> {
        let prefix = group_part(PENDING, group);
        let mut found = None;
        self.scan_ids(&prefix, StreamId::MIN, StreamId::MAX, last, |id, _| {
            found = Some(id);
            Ok(false)
        })?;
        Ok(found)
    }

    /// The ids a consumer owns from `start` to `end`, at most `count` (0 = all).
    pub fn owned(
        &self,
        group: &[u8],
        consumer: &[u8],
        start: StreamId,
        end: StreamId,
        count: usize,
    ) -> StorageResult<Vec<StreamId>> {
        let prefix = owned_prefix(group, consumer);
        let mut out = Vec::new();
        self.scan_ids(&prefix, start, end, false, |id, _| {
            out.push(id);
            Ok(count == 0 || out.len() < count)
        })?;
        Ok(out)
    }

    /// Walks the rows `prefix · id` with ids from `start` to `end`.
    fn scan_ids(
        &self,
        prefix: &[u8],
        start: StreamId,
        end: StreamId,
        rev: bool,
        mut f: impl FnMut(StreamId, &[u8]) -> StorageResult<bool>,
    ) -> StorageResult<()> {
        if start > end {
            return Ok(());
        }
        let from = with_id(prefix.to_vec(), if rev { end } else { start });
        self.scan(&from, rev, |row, value| {
            let Some(rest) = row.strip_prefix(prefix).filter(|r| r.len() == 16) else {
                return Ok(false);
            };
            let id = corrupt(StreamId::decode(rest))?;
            if id < start || id > end {
                return Ok(false);
            }
            f(id, value)
        })
    }
}

/// A stream id as DUMP's format carries it.
fn raw(id: StreamId) -> RawId {
    (id.ms, id.seq)
}

fn from_raw((ms, seq): RawId) -> StreamId {
    StreamId::new(ms, seq)
}

impl Stream<'_> {
    /// Everything DUMP carries: entries, counters, groups with their pending entries and
    /// consumers.
    pub fn export(&self) -> StorageResult<StreamValue> {
        let entries = self
            .collect(StreamId::MIN, StreamId::MAX, false, 0)?
            .into_iter()
            .map(|(id, pairs)| (raw(id), pairs.into_iter().map(|b| b.to_vec()).collect()))
            .collect();
        let mut groups = Vec::new();
        for (name, group) in self.groups()? {
            let pending = self
                .pending(&name, StreamId::MIN, StreamId::MAX, 0)?
                .into_iter()
                .map(|(id, nack)| (raw(id), nack.delivery_time, nack.delivery_count))
                .collect();
            let mut consumers = Vec::new();
            for (consumer_name, consumer) in self.consumers(&name)? {
                let owned = self.owned(&name, &consumer_name, StreamId::MIN, StreamId::MAX, 0)?;
                consumers.push(StreamConsumer {
                    name: consumer_name.to_vec(),
                    seen_time: consumer.seen_time,
                    pending: owned.into_iter().map(raw).collect(),
                });
            }
            groups.push(StreamGroup {
                name: name.to_vec(),
                last_id: raw(group.last_id),
                entries_read: group.entries_read,
                pending,
                consumers,
            });
        }
        Ok(StreamValue {
            entries,
            last_id: raw(self.state.last_id),
            first_id: raw(self.state.first_id),
            max_deleted: raw(self.state.max_deleted),
            entries_added: self.state.entries_added,
            groups,
            estimate_entries_read: false,
        })
    }

    /// Fills this new, empty stream with a restored one; `None` when the value contradicts
    /// itself (a group twice, a pending entry without an owner), which RESTORE reports as bad
    /// data.
    pub fn import(
        &mut self,
        batch: &mut Batch<'_>,
        value: &StreamValue,
        limits: NodeLimits,
    ) -> StorageResult<Option<()>> {
        for (id, pairs) in &value.entries {
            let pairs: Vec<Bytes> = pairs.iter().map(|p| Bytes::copy_from_slice(p)).collect();
            self.append(batch, from_raw(*id), &pairs, limits)?;
        }
        self.state.last_id = from_raw(value.last_id);
        self.state.first_id = from_raw(value.first_id);
        self.state.max_deleted = from_raw(value.max_deleted);
        self.state.entries_added = value.entries_added;
        for g in &value.groups {
            let entries_read = match value.estimate_entries_read {
                true => self.state.entries_up_to(self.len(), from_raw(g.last_id)),
                false => g.entries_read,
            };
            let mut group = Group::new(from_raw(g.last_id), entries_read);
            group.pending = g.pending.len() as u64;
            group.consumers = g.consumers.len() as u64;
            if !self.create_group(batch, &g.name, &group)? {
                return Ok(None);
            }
            for c in &g.consumers {
                let consumer = Consumer {
                    seen_time: c.seen_time,
                    pending: c.pending.len() as u64,
                };
                if self.consumer(&g.name, &c.name)?.is_some() {
                    return Ok(None);
                }
                self.put_consumer(batch, &g.name, &c.name, &consumer);
            }
            for &(id, delivery_time, delivery_count) in &g.pending {
                let Some(owner) = g.consumers.iter().find(|c| c.pending.contains(&id)) else {
                    return Ok(None);
                };
                let nack = Nack {
                    delivery_time,
                    delivery_count,
                    consumer: Bytes::copy_from_slice(&owner.name),
                };
                self.put_nack(batch, &g.name, from_raw(id), &nack, None);
            }
        }
        Ok(Some(()))
    }
}

/// How XADD and XTRIM trim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trim {
    MaxLen(u64),
    MinId(StreamId),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_step_like_redis() {
        assert_eq!(StreamId::new(1, u64::MAX).next(), Some(StreamId::new(2, 0)));
        assert_eq!(StreamId::MAX.next(), None);
        assert_eq!(StreamId::new(2, 0).prev(), Some(StreamId::new(1, u64::MAX)));
        assert_eq!(StreamId::MIN.prev(), None);
        let id = StreamId::new(5, 7);
        assert_eq!(StreamId::decode(&id.encode()), Some(id));
        assert!(StreamId::new(1, 9).encode() < StreamId::new(2, 0).encode());
    }

    #[test]
    fn listpack_sizes_follow_redis_encodings() {
        assert_eq!(listpack_int_size(0), 2);
        assert_eq!(listpack_int_size(128), 3);
        assert_eq!(listpack_string_size(b"123"), 2);
        assert_eq!(listpack_string_size(b"0123"), 6);
        assert_eq!(listpack_string_size(&[b'a'; 64]), 67);
        // A fresh node of one `item 1` entry: Redis reports lpBytes 23 for it.
        let pairs = [Bytes::from_static(b"item"), Bytes::from_static(b"1")];
        let node = Node {
            live: 1,
            deleted: 0,
            fixed_bytes: master_bytes(&pairs[..1])
                + entry_bytes(StreamId::MIN, StreamId::MIN, &pairs, true),
            last: StreamId::MIN,
            master_fields: vec![pairs[0].clone()],
        };
        assert_eq!(node.bytes(), 7 + 2 + 2 + 2 + 6 + 2 + (2 + 2 + 2 + 2 + 2));
        assert_eq!(Node::decode(&node.encode()), Some(node));
    }

    #[test]
    fn rows_round_trip() {
        let state = StreamState {
            last_id: StreamId::new(9, 1),
            entries_added: 3,
            nodes: 1,
            ..Default::default()
        };
        assert_eq!(StreamState::decode(&state.encode()), Some(state));
        let group = Group::new(StreamId::new(1, 1), None);
        assert_eq!(Group::decode(&group.encode()), Some(group));
        let nack = Nack {
            delivery_time: 5,
            delivery_count: 2,
            consumer: Bytes::from_static(b"alice"),
        };
        assert_eq!(Nack::decode(&nack.encode()), Some(nack));
    }
}
