//! Bitmap commands: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD and BITFIELD_RO.
//!
//! A bitmap is an ordinary string read as bits, most significant bit of the first byte first, so
//! these commands share the string storage and its read-modify-write path with GET/SET/APPEND.
//! Bits past the end of a string read as 0; writes grow the string with zero bytes, bounded by
//! `proto-max-bulk-len` through the offset check, like Redis. Counting and searching go a 64-bit
//! word at a time.

use bytes::{Bytes, BytesMut};

use super::strings::{count_lookup, max_bulk, modify_string_announcing, read_string, Rewrite};
use super::{arg_i64, is_opt, Ctx, Ev, KeyFlags};
use crate::error::{CmdResult, ReplyError};
use crate::resp::Frame;
use crate::storage::meta::{KeyType, Meta, StrEncoding};
use crate::util::now_ms;
use crate::util::number::parse_i64;

// ---------------------------------------------------------------------------------------------
// Pure bit helpers
// ---------------------------------------------------------------------------------------------

/// Up to 8 bytes as a big-endian word, zero-padded on the right, so bit 0 of the bitmap is the
/// word's most significant bit.
fn word(chunk: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w[..chunk.len()].copy_from_slice(chunk);
    u64::from_be_bytes(w)
}

/// Number of set bits in `bytes`, a word at a time.
fn popcount(bytes: &[u8]) -> u64 {
    bytes
        .chunks(8)
        .map(|c| u64::from(word(c).count_ones()))
        .sum()
}

/// Number of set bits at positions `first..=last` (both inside `buf`).
fn count_ones(buf: &[u8], first: u64, last: u64) -> u64 {
    let region = &buf[(first >> 3) as usize..=(last >> 3) as usize];
    let head = u32::from(region[0]) >> (8 - (first & 7));
    let tail = u32::from(region[region.len() - 1]) & ((1 << (7 - (last & 7))) - 1);
    popcount(region) - u64::from(head.count_ones()) - u64::from(tail.count_ones())
}

/// The first position in `first..=last` (both inside `buf`) whose bit equals `bit`.
fn find_bit(buf: &[u8], bit: bool, first: u64, last: u64) -> Option<u64> {
    let first_byte = first >> 3;
    let region = &buf[first_byte as usize..=(last >> 3) as usize];
    for (i, chunk) in region.chunks(8).enumerate() {
        let base = (first_byte + 8 * i as u64) * 8;
        let mut w = word(chunk);
        if !bit {
            w = !w;
        }
        // Keep only the positions inside the range (this also drops the padding of a short chunk).
        if first > base {
            w &= u64::MAX >> (first - base);
        }
        if last - base < 63 {
            w &= !(u64::MAX >> (last - base + 1));
        }
        if w != 0 {
            return Some(base + u64::from(w.leading_zeros()));
        }
    }
    None
}

/// Resolves a start/end pair (negative counts from the end) against `len` units, clamping the
/// way BITCOUNT and BITPOS do. `None` when nothing is left.
fn clamp_range(start: i64, end: i64, len: i64) -> Option<(u64, u64)> {
    let from_end = |i: i64| if i < 0 { (len + i).max(0) } else { i };
    let (start, end) = (from_end(start), from_end(end).min(len - 1));
    (start <= end).then_some((start as u64, end as u64))
}

/// Reads a `bits`-wide field (1..=64) at bit `offset`; bits past the end of `buf` read as 0.
fn read_bits(buf: &[u8], offset: u64, bits: u32) -> u64 {
    let mut window = [0u8; 16];
    if let Some(rest) = usize::try_from(offset >> 3).ok().and_then(|b| buf.get(b..)) {
        let n = rest.len().min(9);
        window[..n].copy_from_slice(&rest[..n]);
    }
    let shift = 128 - (offset & 7) as u32 - bits;
    (u128::from_be_bytes(window) >> shift) as u64 & low_mask(bits)
}

/// Writes the low `bits` bits of `value` at bit `offset`; `buf` must already cover them.
fn write_bits(buf: &mut [u8], offset: u64, bits: u32, value: u64) {
    let first = (offset >> 3) as usize;
    let touched = ((offset & 7) as usize + bits as usize).div_ceil(8);
    let bytes = &mut buf[first..first + touched];
    let mut window = [0u8; 16];
    window[..touched].copy_from_slice(bytes);
    let shift = 128 - (offset & 7) as u32 - bits;
    let mask = u128::from(low_mask(bits)) << shift;
    let merged = (u128::from_be_bytes(window) & !mask) | (u128::from(value) << shift & mask);
    bytes.copy_from_slice(&merged.to_be_bytes()[..touched]);
}

/// The low `bits` bits set (1..=64).
fn low_mask(bits: u32) -> u64 {
    u64::MAX >> (64 - bits)
}

/// Parses a bit offset like Redis. `field_bits` enables BITFIELD's `#N` form (N fields of that
/// width; the product wraps like Redis's C arithmetic). Offsets whose byte is at or past
/// `proto-max-bulk-len` are refused, so no command can grow a string beyond it.
fn bit_offset(arg: &[u8], field_bits: Option<u32>, max_bulk: u64) -> CmdResult<u64> {
    let (digits, scale) = match (arg.first(), field_bits) {
        (Some(b'#'), Some(bits)) => (&arg[1..], i64::from(bits)),
        _ => (arg, 1),
    };
    let offset = parse_i64(digits)
        .ok_or(ReplyError::BitOffset)?
        .wrapping_mul(scale);
    if offset < 0 || (offset as u64 >> 3) >= max_bulk {
        return Err(ReplyError::BitOffset);
    }
    Ok(offset as u64)
}

/// What BITFIELD does when a value does not fit its field.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

/// A BITFIELD type: `i1`..`i64` or `u1`..`u63`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct FieldType {
    signed: bool,
    bits: u32,
}

impl FieldType {
    fn parse(arg: &[u8]) -> CmdResult<FieldType> {
        let (signed, max) = match arg.first() {
            Some(b'i') => (true, 64),
            Some(b'u') => (false, 63),
            _ => return Err(ReplyError::BitfieldType),
        };
        let bits = parse_i64(&arg[1..])
            .filter(|b| (1..=max).contains(b))
            .ok_or(ReplyError::BitfieldType)?;
        Ok(FieldType {
            signed,
            bits: bits as u32,
        })
    }

    /// The field's value at `offset`.
    fn get(self, buf: &[u8], offset: u64) -> i64 {
        self.value_of(read_bits(buf, offset, self.bits))
    }

    /// `value + incr` as this field stores it, following Redis's overflow checks (including how
    /// they treat SET values near `i64::MIN`, whose unsigned arithmetic wraps). `None` when
    /// OVERFLOW FAIL refuses the write.
    fn fit(self, value: i64, incr: i64, overflow: Overflow) -> Option<i64> {
        let sum = value.wrapping_add(incr);
        let (up, down, max, min) = if self.signed {
            let max = (low_mask(self.bits) >> 1) as i64;
            let min = -max - 1;
            let max_incr = (max as u64).wrapping_sub(value as u64) as i64;
            let min_incr = min.wrapping_sub(value);
            let up = value > max
                || (self.bits != 64 && incr > max_incr)
                || (value >= 0 && incr > 0 && incr > max_incr);
            let down = value < min
                || (self.bits != 64 && incr < min_incr)
                || (value < 0 && incr < 0 && incr < min_incr);
            (up, down, max, min)
        } else {
            let (value, max) = (value as u64, low_mask(self.bits));
            let up = value > max || (incr > 0 && incr > max.wrapping_sub(value) as i64);
            let down = incr < 0 && incr < value.wrapping_neg() as i64;
            (up, down, max as i64, 0)
        };
        if !up && !down {
            return Some(sum);
        }
        match overflow {
            Overflow::Fail => None,
            Overflow::Sat => Some(if up { max } else { min }),
            Overflow::Wrap => Some(self.value_of(sum as u64)),
        }
    }

    /// The value the low `bits` bits of `raw` hold in this type (sign-extended when signed).
    fn value_of(self, raw: u64) -> i64 {
        if self.bits == 64 {
            return raw as i64;
        }
        let raw = raw & low_mask(self.bits);
        if self.signed && raw >> (self.bits - 1) & 1 == 1 {
            (raw | u64::MAX << self.bits) as i64
        } else {
            raw as i64
        }
    }
}

/// One BITFIELD subcommand, parsed.
#[derive(Debug, Clone, Copy, PartialEq)]
struct FieldOp {
    kind: FieldOpKind,
    field: FieldType,
    offset: u64,
    overflow: Overflow,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum FieldOpKind {
    Get,
    Set(i64),
    IncrBy(i64),
}

impl FieldOp {
    fn writes(&self) -> bool {
        self.kind != FieldOpKind::Get
    }

    /// Runs the operation on `buf` (grown to cover every write beforehand). Returns its reply and
    /// whether the bytes changed.
    fn apply(&self, buf: &mut [u8]) -> (Frame, bool) {
        let old = self.field.get(buf, self.offset);
        let (value, incr, reply_old) = match self.kind {
            FieldOpKind::Get => return (Frame::Integer(old), false),
            FieldOpKind::Set(v) => (v, 0, true),
            FieldOpKind::IncrBy(d) => (old, d, false),
        };
        let Some(new) = self.field.fit(value, incr, self.overflow) else {
            return (Frame::Null, false);
        };
        write_bits(buf, self.offset, self.field.bits, new as u64);
        (
            Frame::Integer(if reply_old { old } else { new }),
            new != old,
        )
    }

    /// The last bit a write touches.
    fn last_bit(&self) -> u64 {
        self.offset + u64::from(self.field.bits) - 1
    }
}

/// Parses BITFIELD's subcommands (`args` after the key) in Redis's order of checks.
fn parse_field_ops(args: &[Bytes], max_bulk: u64) -> CmdResult<Vec<FieldOp>> {
    let mut ops = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut j = 0;
    while j < args.len() {
        let (sub, remaining) = (&args[j], args.len() - j - 1);
        let takes_value = if is_opt(sub, "get") && remaining >= 2 {
            false
        } else if (is_opt(sub, "set") || is_opt(sub, "incrby")) && remaining >= 3 {
            true
        } else if is_opt(sub, "overflow") && remaining >= 1 {
            let mode = &args[j + 1];
            overflow = if is_opt(mode, "wrap") {
                Overflow::Wrap
            } else if is_opt(mode, "sat") {
                Overflow::Sat
            } else if is_opt(mode, "fail") {
                Overflow::Fail
            } else {
                return Err(ReplyError::custom("ERR Invalid OVERFLOW type specified"));
            };
            j += 2;
            continue;
        } else {
            return Err(ReplyError::Syntax);
        };
        let field = FieldType::parse(&args[j + 1])?;
        let offset = bit_offset(&args[j + 2], Some(field.bits), max_bulk)?;
        let kind = if !takes_value {
            FieldOpKind::Get
        } else if is_opt(sub, "set") {
            FieldOpKind::Set(arg_i64(&args[j + 3])?)
        } else {
            FieldOpKind::IncrBy(arg_i64(&args[j + 3])?)
        };
        ops.push(FieldOp {
            kind,
            field,
            offset,
            overflow,
        });
        j += if takes_value { 4 } else { 3 };
    }
    Ok(ops)
}

/// A BITOP operation.
#[derive(Debug, Clone, Copy, PartialEq)]
enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

/// Combines the sources byte by byte; shorter sources count as zero-padded. The result is as
/// long as the longest source.
fn combine(op: BitOp, sources: &[&[u8]]) -> Vec<u8> {
    let Some((first, rest)) = sources.split_first() else {
        return Vec::new();
    };
    let len = sources.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut out = vec![0u8; len];
    out[..first.len()].copy_from_slice(first);
    if op == BitOp::Not {
        out.iter_mut().for_each(|b| *b = !*b);
    }
    for src in rest {
        let pairs = out.iter_mut().zip(src.iter());
        match op {
            BitOp::And => {
                pairs.for_each(|(o, s)| *o &= s);
                out[src.len()..].fill(0);
            }
            BitOp::Or => pairs.for_each(|(o, s)| *o |= s),
            BitOp::Xor => pairs.for_each(|(o, s)| *o ^= s),
            BitOp::Not => {}
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------------------------

/// A live string for a read-only bitmap command (missing keys are `None`), counted as a lookup.
fn read_bitmap(ctx: &Ctx<'_>, key: &[u8]) -> CmdResult<Option<Bytes>> {
    let value = read_string(ctx, key, now_ms())?.map(|m| m.body);
    count_lookup(ctx, value.is_some());
    Ok(value)
}

/// Copies a live value (or nothing) into a buffer of at least `len` bytes for in-place bit writes.
fn grown(live: Option<&Meta>, len: usize) -> BytesMut {
    let old = live.map_or(&b""[..], |m| &m.body[..]);
    let mut buf = BytesMut::with_capacity(old.len().max(len));
    buf.extend_from_slice(old);
    if buf.len() < len {
        buf.resize(len, 0);
    }
    buf
}

/// The write-back decision of SETBIT/BITFIELD: Redis turns the value into a fresh `raw` string
/// whenever such a command writes, so the key is stored again if its bytes or encoding change.
fn rewrite(live: Option<&Meta>, buf: BytesMut, changed: bool, reply: Frame) -> Rewrite {
    let same_len = live.is_some_and(|m| m.body.len() == buf.len());
    let already_raw = live.is_some_and(|m| m.encoding == StrEncoding::Raw);
    if same_len && already_raw && !changed {
        return (None, reply);
    }
    (Some((buf.freeze(), StrEncoding::Raw)), reply)
}

/// SETBIT key offset 0|1: replies with the bit's previous value.
pub fn setbit(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let offset = bit_offset(&args[2], None, max_bulk(ctx))?;
    let on = match parse_i64(&args[3]) {
        Some(0) => false,
        Some(1) => true,
        _ => return Err(ReplyError::BitValue),
    };
    modify_string_announcing(ctx, &args[1], "setbit", |live| {
        let mut buf = grown(live, (offset >> 3) as usize + 1);
        // Redis announces a new or grown string, or a changed bit.
        let grew = live.is_none_or(|m| m.body.len() < buf.len());
        let (byte, mask) = ((offset >> 3) as usize, 0x80u8 >> (offset & 7));
        let was = buf[byte] & mask != 0;
        if on {
            buf[byte] |= mask;
        } else {
            buf[byte] &= !mask;
        }
        let (update, reply) = rewrite(live, buf, was != on, Frame::Integer(was as i64));
        Ok((update, reply, grew || was != on))
    })
}

/// GETBIT key offset: bits past the end (or of a missing key) are 0.
pub fn getbit(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let offset = bit_offset(&args[2], None, max_bulk(ctx))?;
    let value = read_bitmap(ctx, &args[1])?.unwrap_or_default();
    Ok(Frame::Integer(read_bits(&value, offset, 1) as i64))
}

/// Parses BITCOUNT/BITPOS's optional BYTE|BIT unit: true for BIT.
fn unit_is_bit(arg: &[u8]) -> CmdResult<bool> {
    if is_opt(arg, "bit") {
        Ok(true)
    } else if is_opt(arg, "byte") {
        Ok(false)
    } else {
        Err(ReplyError::Syntax)
    }
}

/// A start..=end range in bytes or bits, as bit positions inside a `len`-byte string.
fn bit_range(start: i64, end: i64, len: usize, in_bits: bool) -> Option<(u64, u64)> {
    let len = len as i64;
    if in_bits {
        clamp_range(start, end, len * 8)
    } else {
        clamp_range(start, end, len).map(|(s, e)| (s * 8, e * 8 + 7))
    }
}

/// BITCOUNT key [start end [BYTE|BIT]]. Like Redis 7.0, the key is looked up before the range is
/// parsed, so a missing key answers 0 whatever follows.
pub fn bitcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let Some(value) = read_bitmap(ctx, &args[1])? else {
        return Ok(Frame::Integer(0));
    };
    let range = match args.len() {
        2 => bit_range(0, -1, value.len(), false),
        4 | 5 => {
            let start = arg_i64(&args[2])?;
            let end = arg_i64(&args[3])?;
            let in_bits = args.len() == 5 && unit_is_bit(&args[4])?;
            if start < 0 && end < 0 && start > end {
                None
            } else {
                bit_range(start, end, value.len(), in_bits)
            }
        }
        _ => return Err(ReplyError::Syntax),
    };
    let count = range.map_or(0, |(first, last)| count_ones(&value, first, last));
    Ok(Frame::Integer(count as i64))
}

/// BITPOS key bit [start [end [BYTE|BIT]]]. A missing key is all zeros; without an explicit end
/// a search for 0 in an all-ones range answers the first bit past the string.
pub fn bitpos(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let bit = match arg_i64(&args[2])? {
        0 => false,
        1 => true,
        _ => return Err(ReplyError::custom("ERR The bit argument must be 1 or 0.")),
    };
    let Some(value) = read_bitmap(ctx, &args[1])? else {
        return Ok(Frame::Integer(if bit { -1 } else { 0 }));
    };
    let (range, end_given) = match args.len() {
        3 => (bit_range(0, -1, value.len(), false), false),
        4..=6 => {
            let start = arg_i64(&args[3])?;
            let in_bits = args.len() == 6 && unit_is_bit(&args[5])?;
            let end = match args.get(4) {
                Some(end) => arg_i64(end)?,
                None => -1,
            };
            (bit_range(start, end, value.len(), in_bits), args.len() > 4)
        }
        _ => return Err(ReplyError::Syntax),
    };
    let Some((first, last)) = range else {
        return Ok(Frame::Integer(-1));
    };
    let pos = match find_bit(&value, bit, first, last) {
        Some(pos) => pos as i64,
        None if !bit && !end_given => (last + 1) as i64,
        None => -1,
    };
    Ok(Frame::Integer(pos))
}

/// BITOP op destkey key [key ...]: missing sources are empty strings; an empty result deletes
/// the destination. The sources are read in one consistent snapshot under the destination's lock.
pub fn bitop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let name = &args[1];
    let op = if is_opt(name, "and") {
        BitOp::And
    } else if is_opt(name, "or") {
        BitOp::Or
    } else if is_opt(name, "xor") {
        BitOp::Xor
    } else if is_opt(name, "not") {
        BitOp::Not
    } else {
        return Err(ReplyError::Syntax);
    };
    if op == BitOp::Not && args.len() != 4 {
        return Err(ReplyError::custom(
            "ERR BITOP NOT must be called with a single source key.",
        ));
    }
    let (dest, keys) = (&args[2], &args[3..]);
    let store = ctx.store();
    let _guard = store.lock(ctx.db, dest);
    let now = now_ms();
    let rows = store.multi_get(ctx.db, keys, now)?;
    let mut sources = Vec::with_capacity(rows.len());
    for (row, key) in rows.iter().zip(keys) {
        match row {
            Some(m) if m.kind != KeyType::String => return Err(ReplyError::WrongType),
            Some(m) => sources.push(&m.body[..]),
            None => {
                ctx.keymiss(key);
                sources.push(&[][..]);
            }
        }
        count_lookup(ctx, row.is_some());
    }
    let result = combine(op, &sources);
    let len = result.len() as i64;
    let old = store.lookup_raw(ctx.db, dest, now)?;
    let mut batch = store.batch();
    let event = if !result.is_empty() {
        let meta = Meta {
            encoding: StrEncoding::Raw,
            ..Meta::string(Bytes::from(result), 0)
        };
        batch.put(ctx.db, dest, &meta, old.as_ref());
        Some((Ev::STRING, "set"))
    } else if let Some(old) = &old {
        batch.delete(ctx.db, dest, old);
        (!old.is_expired(now)).then_some((Ev::GENERIC, "del"))
    } else {
        None
    };
    store.commit(batch)?;
    if let Some((class, event)) = event {
        ctx.notify(class, event, dest);
    }
    Ok(Frame::Integer(len))
}

/// BITFIELD key [GET|SET|INCRBY|OVERFLOW ...].
/// BITFIELD's key flags, as Redis's `bitfieldGetKeys` decides them: read-only while the
/// subcommands are well-formed GETs (and OVERFLOWs), read-write from the first SET or INCRBY
/// or anything it cannot read.
pub fn bitfield_key_flags(args: &[Bytes]) -> KeyFlags {
    let mut i = 2;
    while i < args.len() {
        let remaining = args.len() - i - 1;
        if is_opt(&args[i], "get") && remaining >= 2 {
            i += 3;
        } else if is_opt(&args[i], "overflow") && remaining >= 1 {
            i += 2;
        } else {
            return KeyFlags::of(&[KeyFlags::RW, KeyFlags::ACCESS, KeyFlags::UPDATE]);
        }
    }
    KeyFlags::of(&[KeyFlags::RO, KeyFlags::ACCESS])
}

pub fn bitfield(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    bitfield_generic(ctx, args, false)
}

/// BITFIELD_RO key [GET type offset ...]: the read-only variant, safe on replicas.
pub fn bitfield_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    bitfield_generic(ctx, args, true)
}

/// BITFIELD and BITFIELD_RO. Only GETs: a lock-free read where missing keys read as zeros. Any
/// write: one read-modify-write that first grows the string to the farthest written bit, so the
/// key is created (and becomes `raw`) even when OVERFLOW FAIL refuses every write, as in Redis.
fn bitfield_generic(ctx: &Ctx<'_>, args: &[Bytes], read_only: bool) -> CmdResult {
    let ops = parse_field_ops(&args[2..], max_bulk(ctx))?;
    let Some(last_bit) = ops
        .iter()
        .filter(|o| o.writes())
        .map(FieldOp::last_bit)
        .max()
    else {
        let value = read_bitmap(ctx, &args[1])?.unwrap_or_default();
        let replies = ops
            .iter()
            .map(|op| Frame::Integer(op.field.get(&value, op.offset)))
            .collect();
        return Ok(Frame::Array(replies));
    };
    if read_only {
        return Err(ReplyError::custom(
            "ERR BITFIELD_RO only supports the GET subcommand",
        ));
    }
    modify_string_announcing(ctx, &args[1], "setbit", |live| {
        let mut buf = grown(live, (last_bit >> 3) as usize + 1);
        let mut changed = false;
        // Redis announces a BITFIELD that performed a SET or INCRBY (not one OVERFLOW FAIL
        // refused), whether or not it changed a bit.
        let mut performed = false;
        let replies = ops
            .iter()
            .map(|op| {
                let (reply, wrote) = op.apply(&mut buf);
                changed |= wrote;
                performed |= op.writes() && reply != Frame::Null;
                reply
            })
            .collect();
        let (update, reply) = rewrite(live, buf, changed, Frame::Array(replies));
        Ok((update, reply, performed))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_bits_in_ranges() {
        let buf = b"foobar";
        assert_eq!(popcount(buf), 26);
        assert_eq!(count_ones(buf, 0, 47), 26);
        assert_eq!(count_ones(buf, 8, 15), 6);
        assert_eq!(count_ones(buf, 5, 30), 17);
        assert_eq!(count_ones(&[0xff; 20], 3, 150), 148);
        assert_eq!(count_ones(&[0x81], 0, 0), 1);
        assert_eq!(count_ones(&[0x81], 1, 6), 0);
    }

    #[test]
    fn finds_bits_across_words() {
        let mut buf = vec![0u8; 20];
        buf[13] = 0x10;
        assert_eq!(find_bit(&buf, true, 0, 159), Some(13 * 8 + 3));
        assert_eq!(find_bit(&buf, true, 108, 159), None);
        assert_eq!(find_bit(&buf, true, 0, 106), None);
        assert_eq!(find_bit(&buf, false, 0, 159), Some(0));
        let ones = vec![0xffu8; 20];
        assert_eq!(find_bit(&ones, false, 5, 150), None);
        assert_eq!(find_bit(&[0xff, 0xfe], false, 3, 15), Some(15));
        assert_eq!(find_bit(&[0xff, 0xfe], false, 3, 14), None);
    }

    #[test]
    fn ranges_clamp_like_redis() {
        assert_eq!(clamp_range(0, -1, 6), Some((0, 5)));
        assert_eq!(clamp_range(-100, 100, 6), Some((0, 5)));
        assert_eq!(clamp_range(4, 2, 6), None);
        assert_eq!(clamp_range(0, -1, 0), None);
        assert_eq!(clamp_range(i64::MIN, i64::MAX, 3), Some((0, 2)));
    }

    #[test]
    fn fields_read_and_write_big_endian() {
        let mut buf = vec![0u8; 10];
        write_bits(&mut buf, 5, 64, u64::MAX);
        assert_eq!(read_bits(&buf, 5, 64), u64::MAX);
        assert_eq!(buf[0], 0x07);
        assert_eq!(buf[8], 0xf8);
        write_bits(&mut buf, 6, 3, 0b010);
        assert_eq!(read_bits(&buf, 4, 6), 0b010101);
        assert_eq!(read_bits(b"\x80", 0, 1), 1);
        assert_eq!(read_bits(b"\x80", 1_000_000, 64), 0);
        assert_eq!(read_bits(b"\xff", 4, 8), 0xf0);
    }

    #[test]
    fn field_types_parse_like_redis() {
        let t = |s: &str| FieldType::parse(s.as_bytes()).ok();
        assert_eq!(
            t("i64"),
            Some(FieldType {
                signed: true,
                bits: 64
            })
        );
        assert_eq!(
            t("u63"),
            Some(FieldType {
                signed: false,
                bits: 63
            })
        );
        for bad in ["u64", "i65", "i0", "I8", "u", "u08", "x8", "", "i-1"] {
            assert_eq!(t(bad), None, "{bad}");
        }
    }

    #[test]
    fn offsets_respect_the_limit_and_hash_form() {
        let max = 512 << 20;
        assert_eq!(bit_offset(b"#3", Some(16), max), Ok(48));
        assert_eq!(bit_offset(b"#3", None, max), Err(ReplyError::BitOffset));
        assert_eq!(bit_offset(b"4294967295", None, max), Ok(4294967295));
        assert_eq!(
            bit_offset(b"4294967296", None, max),
            Err(ReplyError::BitOffset)
        );
        assert_eq!(bit_offset(b"-1", None, max), Err(ReplyError::BitOffset));
        // 2^61 fields of 16 bits wrap to offset 0, as in Redis.
        assert_eq!(bit_offset(b"#2305843009213693952", Some(16), max), Ok(0));
    }

    #[test]
    fn overflow_rules_match_redis() {
        let i8 = FieldType {
            signed: true,
            bits: 8,
        };
        let u8 = FieldType {
            signed: false,
            bits: 8,
        };
        let i64 = FieldType {
            signed: true,
            bits: 64,
        };
        assert_eq!(i8.fit(100, 50, Overflow::Wrap), Some(-106));
        assert_eq!(i8.fit(100, 50, Overflow::Sat), Some(127));
        assert_eq!(i8.fit(-100, -50, Overflow::Sat), Some(-128));
        assert_eq!(i8.fit(100, 50, Overflow::Fail), None);
        assert_eq!(i8.fit(-129, 0, Overflow::Sat), Some(-128));
        // Redis's unsigned arithmetic makes these SET values saturate upwards.
        assert_eq!(i8.fit(i64::MIN, 0, Overflow::Sat), Some(127));
        assert_eq!(i8.fit(i64::MIN + 128, 0, Overflow::Sat), Some(-128));
        assert_eq!(u8.fit(250, 10, Overflow::Wrap), Some(4));
        assert_eq!(u8.fit(5, -10, Overflow::Wrap), Some(251));
        assert_eq!(u8.fit(5, -10, Overflow::Sat), Some(0));
        assert_eq!(u8.fit(-1, 0, Overflow::Sat), Some(255));
        assert_eq!(i64.fit(i64::MAX, 1, Overflow::Wrap), Some(i64::MIN));
        assert_eq!(i64.fit(i64::MAX, 1, Overflow::Sat), Some(i64::MAX));
        assert_eq!(i64.fit(i64::MIN, -1, Overflow::Sat), Some(i64::MIN));
        assert_eq!(i64.fit(-1, i64::MIN, Overflow::Fail), None);
    }

    #[test]
    fn bitop_pads_shorter_sources() {
        let (a, b) = (&b"\xff\x0f\xf0"[..], &b"\x0f"[..]);
        assert_eq!(combine(BitOp::And, &[a, b]), b"\x0f\x00\x00");
        assert_eq!(combine(BitOp::Or, &[b, a]), b"\xff\x0f\xf0");
        assert_eq!(combine(BitOp::Xor, &[a, b, b]), a);
        assert_eq!(combine(BitOp::Not, &[b]), b"\xf0");
        assert_eq!(combine(BitOp::And, &[&b""[..], a]), b"\x00\x00\x00");
    }
}
