//! The pieces of Redis's RDB format that payloads exchanged with clients use (DUMP, RESTORE,
//! FUNCTION DUMP and RESTORE): length-prefixed strings, LZF-compressed strings, the trailer of
//! a DUMP payload (RDB version, then CRC-64/Jones), and values of every type Kiwi stores —
//! written in one plain encoding per type, read in every encoding Redis 7.0 writes (or still
//! loads): listpacks, ziplists, intsets, quicklists.

/// The RDB version Kiwi writes: Redis 7.0's.
pub const RDB_VERSION: u16 = 10;

/// Redis's CRC-64 (Jones polynomial, reflected, no final xor), as its `crc64()` computes it.
pub fn crc64(mut crc: u64, data: &[u8]) -> u64 {
    static TABLE: std::sync::LazyLock<[u64; 256]> = std::sync::LazyLock::new(|| {
        // 0xad93d23594c935a9 with its bits reversed.
        const POLY: u64 = 0x95ac_9329_ac4b_c9b5;
        let mut table = [0u64; 256];
        for (i, slot) in table.iter_mut().enumerate() {
            let mut value = i as u64;
            for _ in 0..8 {
                value = if value & 1 == 1 {
                    (value >> 1) ^ POLY
                } else {
                    value >> 1
                };
            }
            *slot = value;
        }
        table
    });
    for &byte in data {
        crc = TABLE[((crc ^ byte as u64) & 0xff) as usize] ^ (crc >> 8);
    }
    crc
}

/// Appends an RDB length.
pub fn write_len(out: &mut Vec<u8>, len: u64) {
    if len < 1 << 6 {
        out.push(len as u8);
    } else if len < 1 << 14 {
        out.push(0x40 | (len >> 8) as u8);
        out.push(len as u8);
    } else if len <= u32::MAX as u64 {
        out.push(0x80);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&len.to_be_bytes());
    }
}

/// Appends an RDB string, uncompressed (every RDB reader accepts it).
pub fn write_string(out: &mut Vec<u8>, data: &[u8]) {
    write_len(out, data.len() as u64);
    out.extend_from_slice(data);
}

/// Appends the DUMP trailer: RDB version (little endian), then the CRC-64 of everything
/// before it and the version.
pub fn finish_payload(out: &mut Vec<u8>) {
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64(0, out);
    out.extend_from_slice(&crc.to_le_bytes());
}

/// The body of a DUMP payload whose version this server reads and whose checksum holds.
pub fn verify_payload(payload: &[u8]) -> Option<&[u8]> {
    if payload.len() < 10 {
        return None;
    }
    let (rest, crc) = payload.split_at(payload.len() - 8);
    let version = u16::from_le_bytes([rest[rest.len() - 2], rest[rest.len() - 1]]);
    if version > RDB_VERSION || crc64(0, rest) != u64::from_le_bytes(crc.try_into().ok()?) {
        return None;
    }
    Some(&rest[..rest.len() - 2])
}

/// A length, or an encoding marker for the special string forms.
enum Len {
    Plain(u64),
    Encoded(u8),
}

fn read_len(buf: &[u8], pos: &mut usize) -> Option<Len> {
    let first = *buf.get(*pos)?;
    *pos += 1;
    Some(match first >> 6 {
        0 => Len::Plain((first & 0x3f) as u64),
        1 => {
            let next = *buf.get(*pos)?;
            *pos += 1;
            Len::Plain((((first & 0x3f) as u64) << 8) | next as u64)
        }
        2 => match first {
            0x80 => {
                let bytes = buf.get(*pos..*pos + 4)?;
                *pos += 4;
                Len::Plain(u32::from_be_bytes(bytes.try_into().ok()?) as u64)
            }
            0x81 => {
                let bytes = buf.get(*pos..*pos + 8)?;
                *pos += 8;
                Len::Plain(u64::from_be_bytes(bytes.try_into().ok()?))
            }
            _ => return None,
        },
        _ => Len::Encoded(first & 0x3f),
    })
}

/// Reads a plain RDB length (not a string encoding marker).
pub fn read_length(buf: &[u8], pos: &mut usize) -> Option<usize> {
    match read_len(buf, pos)? {
        Len::Plain(n) => usize::try_from(n).ok(),
        Len::Encoded(_) => None,
    }
}

/// Reads an RDB string in any of its forms (plain, integer, LZF); `None` if malformed.
pub fn read_string(buf: &[u8], pos: &mut usize) -> Option<Vec<u8>> {
    match read_len(buf, pos)? {
        Len::Plain(n) => {
            let n = usize::try_from(n).ok()?;
            let data = buf.get(*pos..pos.checked_add(n)?)?.to_vec();
            *pos += n;
            Some(data)
        }
        Len::Encoded(kind @ 0..=2) => {
            let width = 1usize << kind;
            let bytes = buf.get(*pos..*pos + width)?;
            *pos += width;
            let value = match kind {
                0 => bytes[0] as i8 as i64,
                1 => i16::from_le_bytes(bytes.try_into().ok()?) as i64,
                _ => i32::from_le_bytes(bytes.try_into().ok()?) as i64,
            };
            Some(value.to_string().into_bytes())
        }
        Len::Encoded(3) => {
            let compressed = read_length(buf, pos)?;
            let len = read_length(buf, pos)?;
            let input = buf.get(*pos..pos.checked_add(compressed)?)?;
            *pos += compressed;
            lzf_decompress(input, len)
        }
        Len::Encoded(_) => None,
    }
}

/// Decompresses LZF data (the format of liblzf, which Redis uses) that must expand to exactly
/// `len` bytes.
pub fn lzf_decompress(input: &[u8], len: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(len);
    let mut i = 0;
    while i < input.len() {
        let control = input[i] as usize;
        i += 1;
        if control < 32 {
            // A literal run of control + 1 bytes.
            let run = input.get(i..i + control + 1)?;
            out.extend_from_slice(run);
            i += control + 1;
        } else {
            // A back reference: length in the top 3 bits (7 = one more length byte).
            let mut run = control >> 5;
            if run == 7 {
                run += *input.get(i)? as usize;
                i += 1;
            }
            let low = *input.get(i)? as usize;
            i += 1;
            let back = ((control & 0x1f) << 8) + low + 1;
            let start = out.len().checked_sub(back)?;
            for k in 0..run + 2 {
                let byte = out[start + k];
                out.push(byte);
            }
        }
        if out.len() > len {
            return None;
        }
    }
    (out.len() == len).then_some(out)
}

/// Field-value pairs of a hash (or member-score text pairs, before parsing).
pub type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// A key's value, as DUMP carries it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    String(Vec<u8>),
    List(Vec<Vec<u8>>),
    Set(Vec<Vec<u8>>),
    /// Members with their scores, in any order.
    ZSet(Vec<(Vec<u8>, f64)>),
    Hash(Pairs),
    Stream(Box<StreamValue>),
}

/// A stream id as two numbers (milliseconds, sequence).
pub type RawId = (u64, u64);

/// A stream entry: its id, then its fields and values (flat).
pub type RawEntry = (RawId, Vec<Vec<u8>>);

/// A stream as DUMP carries it: live entries, the stream's counters, and its consumer groups.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StreamValue {
    /// Entries in id order.
    pub entries: Vec<RawEntry>,
    pub last_id: RawId,
    pub first_id: RawId,
    pub max_deleted: RawId,
    pub entries_added: u64,
    pub groups: Vec<StreamGroup>,
    /// From a 6.x payload, which keeps no read counters: each group's is to be estimated from
    /// its last delivered id once the stream is rebuilt (`StreamState::entries_up_to`).
    pub estimate_entries_read: bool,
}

/// A consumer group of a dumped stream.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StreamGroup {
    pub name: Vec<u8>,
    pub last_id: RawId,
    /// `None` when unknown (Redis's -1).
    pub entries_read: Option<u64>,
    /// Pending entries: id, last delivery time (Unix ms), delivery count.
    pub pending: Vec<(RawId, u64, u64)>,
    pub consumers: Vec<StreamConsumer>,
}

/// A consumer of a dumped group, with the ids it owns.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StreamConsumer {
    pub name: Vec<u8>,
    pub seen_time: u64,
    pub pending: Vec<RawId>,
}

impl Value {
    /// A list, set, sorted set or hash without members (no key holds one; Redis refuses it).
    pub fn is_empty_collection(&self) -> bool {
        match self {
            Value::String(_) => false,
            Value::List(items) | Value::Set(items) => items.is_empty(),
            Value::ZSet(members) => members.is_empty(),
            Value::Hash(fields) => fields.is_empty(),
            // An emptied stream is still a stream.
            Value::Stream(_) => false,
        }
    }
}

const TYPE_STRING: u8 = 0;
const TYPE_LIST: u8 = 1;
const TYPE_SET: u8 = 2;
const TYPE_ZSET: u8 = 3;
const TYPE_HASH: u8 = 4;
const TYPE_ZSET_2: u8 = 5;
const TYPE_LIST_ZIPLIST: u8 = 10;
const TYPE_SET_INTSET: u8 = 11;
const TYPE_ZSET_ZIPLIST: u8 = 12;
const TYPE_HASH_ZIPLIST: u8 = 13;
const TYPE_LIST_QUICKLIST: u8 = 14;
const TYPE_HASH_LISTPACK: u8 = 16;
const TYPE_ZSET_LISTPACK: u8 = 17;
const TYPE_LIST_QUICKLIST_2: u8 = 18;
const TYPE_STREAM_LISTPACKS: u8 = 15;
const TYPE_SET_LISTPACK: u8 = 20;
const TYPE_STREAM_LISTPACKS_2: u8 = 19;

/// Stream entry flags inside a node's listpack.
const STREAM_ITEM_DELETED: i64 = 1;
const STREAM_ITEM_SAME_FIELDS: i64 = 2;
/// Entries per listpack node when DUMP writes a stream (Redis's default node size).
const STREAM_NODE_ENTRIES: usize = 100;

/// Appends a value as its type byte and body: the plain encodings (a string, a linked list, a
/// set, a sorted set with binary doubles, a hash) that every Redis version since 2.6 reads.
pub fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::String(data) => {
            out.push(TYPE_STRING);
            write_string(out, data);
        }
        Value::List(items) | Value::Set(items) => {
            out.push(if matches!(value, Value::List(_)) {
                TYPE_LIST
            } else {
                TYPE_SET
            });
            write_len(out, items.len() as u64);
            for item in items {
                write_string(out, item);
            }
        }
        Value::ZSet(members) => {
            out.push(TYPE_ZSET_2);
            write_len(out, members.len() as u64);
            for (member, score) in members {
                write_string(out, member);
                out.extend_from_slice(&score.to_le_bytes());
            }
        }
        Value::Hash(fields) => {
            out.push(TYPE_HASH);
            write_len(out, fields.len() as u64);
            for (field, value) in fields {
                write_string(out, field);
                write_string(out, value);
            }
        }
        Value::Stream(stream) => {
            out.push(TYPE_STREAM_LISTPACKS_2);
            write_stream(out, stream);
        }
    }
}

/// The body of a stream in Redis 7.0's format (`RDB_TYPE_STREAM_LISTPACKS_2`): listpack nodes
/// of up to 100 entries keyed by their first id, the counters, then the groups with their
/// pending entries and consumers.
fn write_stream(out: &mut Vec<u8>, stream: &StreamValue) {
    let nodes: Vec<&[RawEntry]> = stream.entries.chunks(STREAM_NODE_ENTRIES).collect();
    write_len(out, nodes.len() as u64);
    for node in &nodes {
        let master = node[0].0;
        let mut key = Vec::with_capacity(16);
        key.extend_from_slice(&master.0.to_be_bytes());
        key.extend_from_slice(&master.1.to_be_bytes());
        write_string(out, &key);
        write_string(out, &stream_node(master, node));
    }
    write_len(out, stream.entries.len() as u64);
    for n in [
        stream.last_id.0,
        stream.last_id.1,
        stream.first_id.0,
        stream.first_id.1,
        stream.max_deleted.0,
        stream.max_deleted.1,
        stream.entries_added,
    ] {
        write_len(out, n);
    }
    write_len(out, stream.groups.len() as u64);
    let raw_id = |out: &mut Vec<u8>, id: RawId| {
        out.extend_from_slice(&id.0.to_be_bytes());
        out.extend_from_slice(&id.1.to_be_bytes());
    };
    for group in &stream.groups {
        write_string(out, &group.name);
        write_len(out, group.last_id.0);
        write_len(out, group.last_id.1);
        write_len(out, group.entries_read.unwrap_or(u64::MAX));
        write_len(out, group.pending.len() as u64);
        for &(id, time, count) in &group.pending {
            raw_id(out, id);
            out.extend_from_slice(&time.to_le_bytes());
            write_len(out, count);
        }
        write_len(out, group.consumers.len() as u64);
        for consumer in &group.consumers {
            write_string(out, &consumer.name);
            out.extend_from_slice(&consumer.seen_time.to_le_bytes());
            write_len(out, consumer.pending.len() as u64);
            for &id in &consumer.pending {
                raw_id(out, id);
            }
        }
    }
}

/// One stream node's listpack: the master entry (counts and the first entry's fields), then
/// each entry as flags, id deltas, fields (omitted when the master's), values and its element
/// count.
fn stream_node(master: RawId, entries: &[RawEntry]) -> Vec<u8> {
    let mut lp = ListpackWriter::default();
    let master_fields: Vec<&Vec<u8>> = entries[0].1.iter().step_by(2).collect();
    lp.int(entries.len() as i64);
    lp.int(0);
    lp.int(master_fields.len() as i64);
    for field in &master_fields {
        lp.string(field);
    }
    lp.int(0);
    for (id, pairs) in entries {
        let fields = pairs.len() / 2;
        let same = fields == master_fields.len()
            && pairs
                .iter()
                .step_by(2)
                .zip(&master_fields)
                .all(|(a, b)| a == *b);
        lp.int(if same { STREAM_ITEM_SAME_FIELDS } else { 0 });
        lp.int(id.0.wrapping_sub(master.0) as i64);
        lp.int(id.1.wrapping_sub(master.1) as i64);
        if !same {
            lp.int(fields as i64);
        }
        for (i, item) in pairs.iter().enumerate() {
            if !same || i % 2 == 1 {
                lp.string(item);
            }
        }
        let count = if same { fields + 3 } else { 2 * fields + 4 };
        lp.int(count as i64);
    }
    lp.finish()
}

/// Builds a listpack the way Redis encodes one.
#[derive(Default)]
struct ListpackWriter {
    body: Vec<u8>,
    count: usize,
}

impl ListpackWriter {
    fn int(&mut self, v: i64) {
        let start = self.body.len();
        let b = &mut self.body;
        match v {
            0..=127 => b.push(v as u8),
            -4096..=4095 => {
                let raw = (v as u16) & 0x1fff;
                b.push(0xc0 | (raw >> 8) as u8);
                b.push(raw as u8);
            }
            -32768..=32767 => {
                b.push(0xf1);
                b.extend_from_slice(&(v as i16).to_le_bytes());
            }
            -8_388_608..=8_388_607 => {
                b.push(0xf2);
                b.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
            }
            -2_147_483_648..=2_147_483_647 => {
                b.push(0xf3);
                b.extend_from_slice(&(v as i32).to_le_bytes());
            }
            _ => {
                b.push(0xf4);
                b.extend_from_slice(&v.to_le_bytes());
            }
        }
        self.backlen(start);
    }

    /// A string element, stored as an integer when it reads as one, as `lpAppend` does.
    fn string(&mut self, s: &[u8]) {
        if let Some(v) = crate::util::number::parse_i64(s) {
            return self.int(v);
        }
        let start = self.body.len();
        let n = s.len();
        let b = &mut self.body;
        if n < 64 {
            b.push(0x80 | n as u8);
        } else if n < 4096 {
            b.push(0xe0 | (n >> 8) as u8);
            b.push(n as u8);
        } else {
            b.push(0xf0);
            b.extend_from_slice(&(n as u32).to_le_bytes());
        }
        b.extend_from_slice(s);
        self.backlen(start);
    }

    /// Ends the element that starts at `start` with its length, readable backwards.
    fn backlen(&mut self, start: usize) {
        let l = (self.body.len() - start) as u64;
        let size = backlen_size(l as usize);
        for i in (0..size).rev() {
            let group = ((l >> (7 * i)) & 127) as u8;
            self.body
                .push(if i == size - 1 { group } else { group | 128 });
        }
        self.count += 1;
    }

    fn finish(self) -> Vec<u8> {
        let total = 6 + self.body.len() + 1;
        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(&(total as u32).to_le_bytes());
        out.extend_from_slice(&(self.count.min(65535) as u16).to_le_bytes());
        out.extend_from_slice(&self.body);
        out.push(0xff);
        out
    }
}

/// The bytes a listpack spends on an integer element: its encoding (the same ranges
/// [`ListpackWriter`] picks) plus its one back-length byte.
pub fn listpack_int_size(v: i64) -> u64 {
    let encoded = match v {
        0..=127 => 1,
        -4096..=4095 => 2,
        -32768..=32767 => 3,
        -8_388_608..=8_388_607 => 4,
        -2_147_483_648..=2_147_483_647 => 5,
        _ => 9,
    };
    encoded + 1
}

/// The bytes a listpack spends on a string element; strings that read as integers are stored
/// as integers, as `lpAppend` (and [`ListpackWriter::string`]) does.
pub fn listpack_string_size(s: &[u8]) -> u64 {
    if let Some(v) = crate::util::number::parse_i64(s) {
        return listpack_int_size(v);
    }
    let len = s.len();
    let encoded = match len {
        0..=63 => 1 + len,
        64..=4095 => 2 + len,
        _ => 5 + len,
    };
    (encoded + backlen_size(encoded)) as u64
}

/// Bytes of a listpack element's back-length for an element of `l` bytes (`lpEncodeBacklen`).
fn backlen_size(l: usize) -> usize {
    match l {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2_097_150 => 3,
        2_097_151..=268_435_454 => 4,
        _ => 5,
    }
}

/// Reads a stream body (`RDB_TYPE_STREAM_LISTPACKS` or `_2`): listpack nodes whose deleted
/// entries are skipped, the counters (estimated for the old format, as Redis does), groups.
fn read_stream(body: &[u8], pos: &mut usize, v2: bool) -> Option<StreamValue> {
    let mut stream = StreamValue::default();
    let nodes = read_length(body, pos)?;
    for _ in 0..bounded_count(nodes, body.len() - *pos)? {
        let key = read_string(body, pos)?;
        if key.len() != 16 {
            return None;
        }
        let master = (
            u64::from_be_bytes(key[..8].try_into().ok()?),
            u64::from_be_bytes(key[8..].try_into().ok()?),
        );
        stream
            .entries
            .extend(read_stream_node(master, &read_string(body, pos)?)?);
    }
    if stream.entries.windows(2).any(|w| w[0].0 >= w[1].0) {
        return None;
    }
    let mut len = || read_length(body, pos).map(|n| n as u64);
    let length = len()?;
    if length != stream.entries.len() as u64 {
        return None;
    }
    stream.last_id = (len()?, len()?);
    if v2 {
        stream.first_id = (len()?, len()?);
        stream.max_deleted = (len()?, len()?);
        stream.entries_added = len()?;
    } else {
        stream.first_id = stream.entries.first().map_or((0, 0), |e| e.0);
        stream.entries_added = length;
        stream.estimate_entries_read = true;
    }
    let groups = read_length(body, pos)?;
    for _ in 0..bounded_count(groups, body.len() - *pos)? {
        let name = read_string(body, pos)?;
        let last_id = (read_u64_len(body, pos)?, read_u64_len(body, pos)?);
        // The old format has no read counters: the restore estimates them, as Redis does.
        let entries_read = if v2 {
            Some(read_u64_len(body, pos)?).filter(|&n| n != u64::MAX)
        } else {
            None
        };
        let mut group = StreamGroup {
            name,
            last_id,
            entries_read,
            ..Default::default()
        };
        let pending = read_length(body, pos)?;
        for _ in 0..bounded_count(pending, body.len() - *pos)? {
            let id = read_raw_id(body, pos)?;
            let time = u64::from_le_bytes(body.get(*pos..*pos + 8)?.try_into().ok()?);
            *pos += 8;
            let count = read_u64_len(body, pos)?;
            group.pending.push((id, time, count));
        }
        let pending_ids: std::collections::HashSet<RawId> =
            group.pending.iter().map(|p| p.0).collect();
        let consumers = read_length(body, pos)?;
        for _ in 0..bounded_count(consumers, body.len() - *pos)? {
            let name = read_string(body, pos)?;
            let seen_time = u64::from_le_bytes(body.get(*pos..*pos + 8)?.try_into().ok()?);
            *pos += 8;
            let owned = read_length(body, pos)?;
            let mut consumer = StreamConsumer {
                name,
                seen_time,
                pending: Vec::new(),
            };
            for _ in 0..bounded_count(owned, body.len() - *pos)? {
                let id = read_raw_id(body, pos)?;
                // Every id a consumer owns is in the group's list, as Redis checks on load.
                if !pending_ids.contains(&id) {
                    return None;
                }
                consumer.pending.push(id);
            }
            group.consumers.push(consumer);
        }
        stream.groups.push(group);
    }
    Some(stream)
}

/// A plain RDB length as a u64 (ids and counters use the whole range).
fn read_u64_len(buf: &[u8], pos: &mut usize) -> Option<u64> {
    match read_len(buf, pos)? {
        Len::Plain(n) => Some(n),
        Len::Encoded(_) => None,
    }
}

fn read_raw_id(buf: &[u8], pos: &mut usize) -> Option<RawId> {
    let bytes = buf.get(*pos..*pos + 16)?;
    *pos += 16;
    Some((
        u64::from_be_bytes(bytes[..8].try_into().ok()?),
        u64::from_be_bytes(bytes[8..].try_into().ok()?),
    ))
}

/// The live entries of one stream node's listpack.
fn read_stream_node(master: RawId, lp: &[u8]) -> Option<Vec<RawEntry>> {
    let items = listpack(lp)?;
    let mut it = items.into_iter();
    fn int(it: &mut std::vec::IntoIter<Vec<u8>>) -> Option<i64> {
        crate::util::number::parse_i64(&it.next()?)
    }
    let live = int(&mut it)?;
    let deleted = int(&mut it)?;
    let master_count = usize::try_from(int(&mut it)?).ok()?;
    let master_fields: Vec<Vec<u8>> = it.by_ref().take(master_count).collect();
    if master_fields.len() != master_count || int(&mut it)? != 0 {
        return None;
    }
    let total = usize::try_from(live.checked_add(deleted)?).ok()?;
    let mut out = Vec::new();
    for _ in 0..total {
        let flags = int(&mut it)?;
        let id = (
            master.0.wrapping_add(int(&mut it)? as u64),
            master.1.wrapping_add(int(&mut it)? as u64),
        );
        let pairs = if flags & STREAM_ITEM_SAME_FIELDS != 0 {
            let mut pairs = Vec::with_capacity(2 * master_count);
            for field in &master_fields {
                pairs.push(field.clone());
                pairs.push(it.next()?);
            }
            pairs
        } else {
            let n = usize::try_from(int(&mut it)?).ok()?;
            let pairs: Vec<Vec<u8>> = it.by_ref().take(2 * n).collect();
            if pairs.len() != 2 * n {
                return None;
            }
            pairs
        };
        int(&mut it)?;
        if flags & STREAM_ITEM_DELETED == 0 {
            if pairs.is_empty() {
                return None;
            }
            out.push((id, pairs));
        }
    }
    (it.next().is_none() && out.len() as i64 == live).then_some(out)
}

/// Reads a value written by [`write_value`] or by Redis (DUMP's body, after the trailer was
/// checked); `None` if it is malformed, of a type Kiwi does not store (modules), or followed by
/// anything.
pub fn read_value(body: &[u8]) -> Option<Value> {
    let (&kind, _) = body.split_first()?;
    let (value, end) = read_typed_value(kind, body, 1)?;
    (end == body.len()).then_some(value)
}

/// Reads the body of a value of type `kind` (an RDB type byte) starting at `start`; returns it
/// with the offset just after it (an RDB file's key entries carry the key between the type byte
/// and the body, and more entries follow).
pub fn read_typed_value(kind: u8, body: &[u8], start: usize) -> Option<(Value, usize)> {
    let mut pos = start;
    let value =
        match kind {
            TYPE_STRING => Value::String(read_string(body, &mut pos)?),
            TYPE_LIST | TYPE_SET => {
                let n = read_length(body, &mut pos)?;
                let items = bounded(n, body.len() - pos, |_| read_string(body, &mut pos))?;
                if kind == TYPE_LIST {
                    Value::List(items)
                } else {
                    Value::Set(items)
                }
            }
            TYPE_ZSET | TYPE_ZSET_2 => {
                let n = read_length(body, &mut pos)?;
                let members = bounded(n, body.len() - pos, |_| {
                    let member = read_string(body, &mut pos)?;
                    let score = if kind == TYPE_ZSET_2 {
                        let bytes = body.get(pos..pos + 8)?;
                        pos += 8;
                        f64::from_le_bytes(bytes.try_into().ok()?)
                    } else {
                        read_text_double(body, &mut pos)?
                    };
                    Some((member, score))
                })?;
                Value::ZSet(members)
            }
            TYPE_HASH => {
                let n = read_length(body, &mut pos)?;
                let fields = bounded(n, body.len() - pos, |_| {
                    Some((read_string(body, &mut pos)?, read_string(body, &mut pos)?))
                })?;
                Value::Hash(fields)
            }
            TYPE_LIST_ZIPLIST => Value::List(ziplist(&read_string(body, &mut pos)?)?),
            TYPE_SET_INTSET => Value::Set(intset(&read_string(body, &mut pos)?)?),
            TYPE_SET_LISTPACK => Value::Set(listpack(&read_string(body, &mut pos)?)?),
            TYPE_ZSET_ZIPLIST | TYPE_ZSET_LISTPACK => {
                let blob = read_string(body, &mut pos)?;
                let flat = if kind == TYPE_ZSET_ZIPLIST {
                    ziplist(&blob)?
                } else {
                    listpack(&blob)?
                };
                Value::ZSet(
                    pairs(flat)?
                        .into_iter()
                        .map(|(m, s)| {
                            let score = crate::util::number::parse_f64(&s)?;
                            Some((m, score))
                        })
                        .collect::<Option<Vec<_>>>()?,
                )
            }
            TYPE_HASH_ZIPLIST | TYPE_HASH_LISTPACK => {
                let blob = read_string(body, &mut pos)?;
                let flat = if kind == TYPE_HASH_ZIPLIST {
                    ziplist(&blob)?
                } else {
                    listpack(&blob)?
                };
                Value::Hash(pairs(flat)?)
            }
            TYPE_LIST_QUICKLIST | TYPE_LIST_QUICKLIST_2 => {
                let nodes = read_length(body, &mut pos)?;
                let mut items = Vec::new();
                for _ in 0..bounded_count(nodes, body.len() - pos)? {
                    // Quicklist 2 nodes say whether they hold one plain element or a listpack.
                    let plain = if kind == TYPE_LIST_QUICKLIST_2 {
                        read_length(body, &mut pos)? == 1
                    } else {
                        false
                    };
                    let blob = read_string(body, &mut pos)?;
                    match (kind, plain) {
                        (TYPE_LIST_QUICKLIST, _) => items.extend(ziplist(&blob)?),
                        (_, true) => items.push(blob),
                        (_, false) => items.extend(listpack(&blob)?),
                    }
                }
                Value::List(items)
            }
            TYPE_STREAM_LISTPACKS | TYPE_STREAM_LISTPACKS_2 => Value::Stream(Box::new(
                read_stream(body, &mut pos, kind == TYPE_STREAM_LISTPACKS_2)?,
            )),
            _ => return None,
        };
    // A NaN score cannot be in a sorted set (Redis refuses such a payload too).
    if let Value::ZSet(members) = &value {
        if members.iter().any(|(_, score)| score.is_nan()) {
            return None;
        }
    }
    Some((value, pos))
}

/// `n` entries read by `read`, refusing a count larger than the bytes left could hold (every
/// entry takes at least one byte), so a forged count allocates nothing.
fn bounded<T>(n: usize, left: usize, mut read: impl FnMut(usize) -> Option<T>) -> Option<Vec<T>> {
    let n = bounded_count(n, left)?;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        out.push(read(i)?);
    }
    Some(out)
}

fn bounded_count(n: usize, left: usize) -> Option<usize> {
    (n <= left).then_some(n)
}

/// Pairs of a flat list (field, value, field, value ...).
pub fn pairs(flat: Vec<Vec<u8>>) -> Option<Pairs> {
    if flat.len() % 2 != 0 {
        return None;
    }
    let mut out = Vec::with_capacity(flat.len() / 2);
    let mut items = flat.into_iter();
    while let (Some(a), Some(b)) = (items.next(), items.next()) {
        out.push((a, b));
    }
    Some(out)
}

/// The old sorted-set score: a length byte (253 nan, 254 +inf, 255 -inf) then its text.
fn read_text_double(buf: &[u8], pos: &mut usize) -> Option<f64> {
    let len = *buf.get(*pos)?;
    *pos += 1;
    match len {
        253 => Some(f64::NAN),
        254 => Some(f64::INFINITY),
        255 => Some(f64::NEG_INFINITY),
        n => {
            let text = buf.get(*pos..*pos + n as usize)?;
            *pos += n as usize;
            crate::util::number::parse_f64(text)
        }
    }
}

/// The elements of a listpack.
pub fn listpack(lp: &[u8]) -> Option<Vec<Vec<u8>>> {
    let declared = u32::from_le_bytes(lp.get(0..4)?.try_into().ok()?) as usize;
    if declared != lp.len() {
        return None;
    }
    let mut pos = 6;
    let mut out = Vec::new();
    loop {
        let b = *lp.get(pos)?;
        if b == 0xff {
            return (pos + 1 == lp.len()).then_some(out);
        }
        let (element, size) = match b {
            0x00..=0x7f => ((b as i64).to_string().into_bytes(), 1),
            0x80..=0xbf => {
                let n = (b & 0x3f) as usize;
                (lp.get(pos + 1..pos + 1 + n)?.to_vec(), 1 + n)
            }
            0xc0..=0xdf => {
                let raw = (((b & 0x1f) as i64) << 8) | *lp.get(pos + 1)? as i64;
                let value = if raw >= 1 << 12 { raw - (1 << 13) } else { raw };
                (value.to_string().into_bytes(), 2)
            }
            0xe0..=0xef => {
                let n = (((b & 0x0f) as usize) << 8) | *lp.get(pos + 1)? as usize;
                (lp.get(pos + 2..pos + 2 + n)?.to_vec(), 2 + n)
            }
            0xf0 => {
                let n = u32::from_le_bytes(lp.get(pos + 1..pos + 5)?.try_into().ok()?) as usize;
                (lp.get(pos + 5..pos.checked_add(5 + n)?)?.to_vec(), 5 + n)
            }
            0xf1..=0xf4 => {
                let width = [2, 3, 4, 8][(b - 0xf1) as usize];
                let bytes = lp.get(pos + 1..pos + 1 + width)?;
                (signed_le(bytes).to_string().into_bytes(), 1 + width)
            }
            _ => return None,
        };
        // Each entry ends with its own length, in 1 to 5 bytes.
        let backlen = backlen_size(size);
        pos = pos.checked_add(size + backlen)?;
        out.push(element);
    }
}

/// The elements of a ziplist (Redis before 7.0 wrote them; 7.0 still loads them).
pub fn ziplist(zl: &[u8]) -> Option<Vec<Vec<u8>>> {
    let declared = u32::from_le_bytes(zl.get(0..4)?.try_into().ok()?) as usize;
    if declared != zl.len() {
        return None;
    }
    let mut pos = 10;
    let mut out = Vec::new();
    loop {
        let first = *zl.get(pos)?;
        if first == 0xff {
            return (pos + 1 == zl.len()).then_some(out);
        }
        // The previous entry's length: one byte, or 0xfe and four.
        pos += if first == 0xfe { 5 } else { 1 };
        let b = *zl.get(pos)?;
        let (element, size) = match b >> 6 {
            0 => {
                let n = (b & 0x3f) as usize;
                (zl.get(pos + 1..pos + 1 + n)?.to_vec(), 1 + n)
            }
            1 => {
                let n = (((b & 0x3f) as usize) << 8) | *zl.get(pos + 1)? as usize;
                (zl.get(pos + 2..pos + 2 + n)?.to_vec(), 2 + n)
            }
            2 => {
                let n = u32::from_be_bytes(zl.get(pos + 1..pos + 5)?.try_into().ok()?) as usize;
                (zl.get(pos + 5..pos.checked_add(5 + n)?)?.to_vec(), 5 + n)
            }
            _ => {
                let width = match b {
                    0xc0 => 2,
                    0xd0 => 4,
                    0xe0 => 8,
                    0xf0 => 3,
                    0xfe => 1,
                    0xf1..=0xfd => 0,
                    _ => return None,
                };
                let value = if width == 0 {
                    (b & 0x0f) as i64 - 1
                } else {
                    signed_le(zl.get(pos + 1..pos + 1 + width)?)
                };
                (value.to_string().into_bytes(), 1 + width)
            }
        };
        pos = pos.checked_add(size)?;
        out.push(element);
    }
}

/// The members of an intset.
pub fn intset(is: &[u8]) -> Option<Vec<Vec<u8>>> {
    let width = u32::from_le_bytes(is.get(0..4)?.try_into().ok()?) as usize;
    let count = u32::from_le_bytes(is.get(4..8)?.try_into().ok()?) as usize;
    if !matches!(width, 2 | 4 | 8) || is.len() != 8 + width.checked_mul(count)? {
        return None;
    }
    Some(
        is[8..]
            .chunks(width)
            .map(|c| signed_le(c).to_string().into_bytes())
            .collect(),
    )
}

/// A little-endian two's complement integer of 1 to 8 bytes.
fn signed_le(bytes: &[u8]) -> i64 {
    let mut value: u64 = 0;
    for (i, &b) in bytes.iter().enumerate() {
        value |= (b as u64) << (8 * i);
    }
    let shift = 64 - 8 * bytes.len() as u32;
    ((value << shift) as i64) >> shift
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc64_is_redis_jones() {
        // Redis's crc64 test vector.
        assert_eq!(crc64(0, b"123456789"), 0xe9c6d914c4b8d9ca);
    }

    #[test]
    fn strings_round_trip_in_every_length_form() {
        for len in [0usize, 63, 64, 16383, 16384, 70000] {
            let data = vec![b'x'; len];
            let mut out = Vec::new();
            write_string(&mut out, &data);
            let mut pos = 0;
            assert_eq!(read_string(&out, &mut pos).unwrap(), data);
            assert_eq!(pos, out.len());
        }
    }

    #[test]
    fn integer_and_lzf_strings_decode() {
        let mut pos = 0;
        assert_eq!(read_string(&[0xc0, 0xfe], &mut pos).unwrap(), b"-2");
        // "aaaaaaaaaa": a literal 'a', then a back reference of 9 bytes at distance 1.
        let lzf = [0x00, b'a', 0xe0, 0x00, 0x00];
        assert_eq!(lzf_decompress(&lzf, 10).unwrap(), b"aaaaaaaaaa");
        assert!(lzf_decompress(&lzf, 9).is_none());
        assert!(lzf_decompress(&[0x20, 0x05], 4).is_none());
    }

    #[test]
    fn payload_trailer_is_checked() {
        let mut out = vec![245];
        write_string(&mut out, b"code");
        finish_payload(&mut out);
        assert_eq!(verify_payload(&out).unwrap(), &out[..out.len() - 10]);
        let last = out.len() - 1;
        out[last] ^= 1;
        assert!(verify_payload(&out).is_none());
    }

    #[test]
    fn values_round_trip_in_the_plain_encodings() {
        let values = [
            Value::String(b"hello".to_vec()),
            Value::List(vec![b"a".to_vec(), b"bb".to_vec()]),
            Value::Set(vec![b"x".to_vec()]),
            Value::ZSet(vec![
                (b"m".to_vec(), 1.5),
                (b"n".to_vec(), f64::NEG_INFINITY),
            ]),
            Value::Hash(vec![(b"f".to_vec(), b"v".to_vec())]),
        ];
        for value in values {
            let mut out = Vec::new();
            write_value(&mut out, &value);
            assert_eq!(read_value(&out), Some(value.clone()));
            out.push(0);
            assert_eq!(read_value(&out), None, "trailing bytes are refused");
        }
    }

    #[test]
    fn compact_encodings_decode() {
        // A listpack of "a", 7, -2 and 1000 (as redis-server 7.0 lays them out).
        let mut lp = vec![0, 0, 0, 0, 4, 0];
        lp.extend_from_slice(&[0x81, b'a', 2]); // 6-bit string
        lp.extend_from_slice(&[0x07, 1]); // 7-bit uint
        lp.extend_from_slice(&[0xdf, 0xfe, 2]); // 13-bit int: -2
        lp.extend_from_slice(&[0xc3, 0xe8, 2]); // 13-bit int: 1000
        lp.push(0xff);
        let len = lp.len() as u32;
        lp[0..4].copy_from_slice(&len.to_le_bytes());
        assert_eq!(
            listpack(&lp).unwrap(),
            [
                b"a".to_vec(),
                b"7".to_vec(),
                b"-2".to_vec(),
                b"1000".to_vec()
            ]
        );
        lp[0] ^= 1;
        assert!(listpack(&lp).is_none());
        // An intset of 16-bit integers.
        let is = [2, 0, 0, 0, 2, 0, 0, 0, 0xff, 0xff, 5, 0];
        assert_eq!(intset(&is).unwrap(), [b"-1".to_vec(), b"5".to_vec()]);
        // A ziplist of "ab" and the immediate integer 3.
        let mut zl = vec![0, 0, 0, 0, 0, 0, 0, 0, 2, 0];
        zl.extend_from_slice(&[0, 0x02, b'a', b'b']);
        zl.extend_from_slice(&[4, 0xf4]);
        zl.push(0xff);
        let len = zl.len() as u32;
        zl[0..4].copy_from_slice(&len.to_le_bytes());
        assert_eq!(ziplist(&zl).unwrap(), [b"ab".to_vec(), b"3".to_vec()]);
    }
}
