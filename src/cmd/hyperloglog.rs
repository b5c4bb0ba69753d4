//! HyperLogLog commands (PFADD, PFCOUNT, PFMERGE, PFDEBUG) with Redis's own algorithm and byte
//! layout, so counts agree with Redis exactly and a value moves between the two with GET and SET.
//!
//! An HLL is an ordinary string: a 16-byte header (`HYLL`, an encoding byte, three unused bytes,
//! the cached cardinality as a little-endian u64 whose top bit marks it stale) followed by 16384
//! registers of 6 bits, either packed ("dense", 12288 bytes) or run-length coded ("sparse", with
//! the opcodes ZERO `00xxxxxx`, XZERO `01xxxxxx yyyyyyyy` and VAL `1vvvvvxx`). New keys start
//! sparse and turn dense when a register passes 32 or the string would grow past
//! `hll-sparse-max-bytes`.
//!
//! The functions between the header constants and the command handlers are pure byte work that
//! follows Redis step by step, including its handling of malformed sparse streams, because every
//! byte is visible to clients. Values can be set by clients, so every read is bounds-checked: a
//! corrupt value gives `INVALIDOBJ`, never a panic, and the work done is bounded by its length.

use bytes::Bytes;

use super::strings::count_lookup;
use super::{Ctx, Ev};
use crate::error::{CmdResult, ReplyError};
use crate::resp::Frame;
use crate::storage::meta::{KeyType, Meta, StrEncoding};
use crate::util::now_ms;

/// Bits of the hash that pick a register.
const P: u32 = 14;
/// Bits of the hash left for the run of zeroes.
const Q: usize = 64 - P as usize;
const REGISTERS: usize = 1 << P;
const REGISTER_BITS: usize = 6;
const REGISTER_MAX: u16 = (1 << REGISTER_BITS) - 1;
const HEADER_LEN: usize = 16;
const DENSE_LEN: usize = HEADER_LEN + (REGISTERS * REGISTER_BITS).div_ceil(8);
/// Offset of the encoding byte in the header.
const ENCODING_AT: usize = 4;
const DENSE: u8 = 0;
const SPARSE: u8 = 1;
/// Offset of the cached cardinality in the header.
const CARD_AT: usize = 8;
/// Seed Redis hashes elements with.
const SEED: u64 = 0xadc8_3b19;
/// Largest register value a VAL opcode can hold.
const VAL_MAX_VALUE: u8 = 32;
/// Longest run of one VAL opcode.
const VAL_MAX_LEN: usize = 4;
/// Longest run of one ZERO opcode.
const ZERO_MAX_LEN: usize = 64;
/// 0.5 / ln 2, the bias correction of the estimator.
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

/// A sparse stream that does not describe exactly 16384 registers (Redis's `INVALIDOBJ`).
#[derive(Debug, PartialEq)]
struct Corrupt;

impl From<Corrupt> for ReplyError {
    fn from(_: Corrupt) -> ReplyError {
        ReplyError::InvalidHll
    }
}

/// MurmurHash64A, the hash Redis feeds HLL registers with (read little-endian on every platform).
fn murmur64a(data: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (data.len() as u64).wrapping_mul(M);
    let words = data.chunks_exact(8);
    let tail = words.remainder();
    for word in words {
        let mut k = word.iter().rev().fold(0u64, |k, &b| k << 8 | u64::from(b));
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    if !tail.is_empty() {
        h ^= tail.iter().rev().fold(0u64, |k, &b| k << 8 | u64::from(b));
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^ (h >> R)
}

/// The register an element lands in and the length of its `0...01` pattern (1..=51).
fn pattern(element: &[u8]) -> (usize, u8) {
    let hash = murmur64a(element, SEED);
    let index = hash as usize & (REGISTERS - 1);
    // The guard bit ends the run after Q zeroes.
    let rest = (hash >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

/// Checks what Redis checks before using a string as an HLL: header, magic, a known encoding,
/// and the exact length of a dense value. Returns the encoding.
fn check(value: &[u8]) -> Result<u8, ReplyError> {
    let encoding = match value.get(..HEADER_LEN) {
        Some(header) if header.starts_with(b"HYLL") => header[ENCODING_AT],
        _ => return Err(ReplyError::NotHll),
    };
    match encoding {
        SPARSE => Ok(SPARSE),
        DENSE if value.len() == DENSE_LEN => Ok(DENSE),
        _ => Err(ReplyError::NotHll),
    }
}

/// An empty HLL as Redis creates it: sparse, one XZERO covering every register, cache valid at 0.
fn new_sparse() -> Vec<u8> {
    let mut value = Vec::with_capacity(HEADER_LEN + 2);
    value.extend_from_slice(b"HYLL");
    value.push(SPARSE);
    value.resize(HEADER_LEN, 0);
    value.extend_from_slice(&xzero_op(REGISTERS));
    value
}

/// True when the cached cardinality may be returned as is.
fn cache_valid(value: &[u8]) -> bool {
    value[CARD_AT + 7] & 0x80 == 0
}

fn cached(value: &[u8]) -> u64 {
    value[CARD_AT..HEADER_LEN]
        .iter()
        .rev()
        .fold(0, |card, &b| card << 8 | u64::from(b))
}

fn set_cache(value: &mut [u8], card: u64) {
    value[CARD_AT..HEADER_LEN].copy_from_slice(&card.to_le_bytes());
}

fn invalidate_cache(value: &mut [u8]) {
    value[CARD_AT + 7] |= 0x80;
}

// ----- dense registers -----

/// Register `index` of packed registers. The byte after the last register reads as zero, as the
/// NUL ending every Redis string does.
fn dense_get(registers: &[u8], index: usize) -> u8 {
    let byte = index * REGISTER_BITS / 8;
    let shift = (index * REGISTER_BITS) & 7;
    let low = u16::from(registers[byte]) >> shift;
    let high = u16::from(registers.get(byte + 1).copied().unwrap_or(0)) << (8 - shift);
    ((low | high) & REGISTER_MAX) as u8
}

fn dense_put(registers: &mut [u8], index: usize, value: u8) {
    let byte = index * REGISTER_BITS / 8;
    let shift = (index * REGISTER_BITS) & 7;
    let value = u16::from(value);
    registers[byte] = registers[byte] & !((REGISTER_MAX << shift) as u8) | (value << shift) as u8;
    if let Some(next) = registers.get_mut(byte + 1) {
        *next = *next & !((REGISTER_MAX >> (8 - shift)) as u8) | (value >> (8 - shift)) as u8;
    }
}

/// Raises register `index` to `count` if it is lower; true when it changed.
fn dense_raise(registers: &mut [u8], index: usize, count: u8) -> bool {
    let raise = count > dense_get(registers, index);
    if raise {
        dense_put(registers, index, count);
    }
    raise
}

// ----- sparse opcodes -----

/// One sparse opcode.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    /// 1..=64 zero registers, one byte.
    Zero(usize),
    /// 1..=16384 zero registers, two bytes.
    XZero(usize),
    /// 1..=4 registers holding 1..=32, one byte.
    Val(u8, usize),
}

impl Op {
    /// Decodes the opcode at `at` (which must be inside `s`). A two-byte opcode cut short by the
    /// end of the string reads a zero second byte, as Redis reads the terminating NUL.
    fn read(s: &[u8], at: usize) -> Op {
        let b = s[at];
        match b & 0xc0 {
            0x00 => Op::Zero(usize::from(b & 0x3f) + 1),
            0x40 => {
                let low = s.get(at + 1).copied().unwrap_or(0);
                Op::XZero((usize::from(b & 0x3f) << 8 | usize::from(low)) + 1)
            }
            _ => Op::Val((b >> 2 & 0x1f) + 1, usize::from(b & 3) + 1),
        }
    }

    /// Registers covered.
    fn span(self) -> usize {
        match self {
            Op::Zero(n) | Op::XZero(n) | Op::Val(_, n) => n,
        }
    }

    /// Bytes taken.
    fn width(self) -> usize {
        match self {
            Op::XZero(_) => 2,
            _ => 1,
        }
    }
}

fn val_op(value: u8, len: usize) -> u8 {
    0x80 | (value - 1) << 2 | (len - 1) as u8
}

fn xzero_op(len: usize) -> [u8; 2] {
    let n = len - 1;
    [0x40 | (n >> 8) as u8, n as u8]
}

/// Appends the shortest opcode for a run of `len` zero registers.
fn push_zeros(seq: &mut Vec<u8>, len: usize) {
    if len > ZERO_MAX_LEN {
        seq.extend_from_slice(&xzero_op(len));
    } else {
        seq.push((len - 1) as u8);
    }
}

/// The opcodes of a sparse value, in order.
fn ops(value: &[u8]) -> impl Iterator<Item = Op> + '_ {
    let mut at = HEADER_LEN;
    std::iter::from_fn(move || {
        let op = (at < value.len()).then(|| Op::read(value, at))?;
        at += op.width();
        Some(op)
    })
}

/// Calls `f` with each opcode of a sparse value and the first register it covers, failing (as
/// Redis does since the fix for CVE-2025-32023) unless they cover exactly the 16384 registers.
/// `f` never sees an opcode reaching past the last register.
fn for_each_run(value: &[u8], mut f: impl FnMut(usize, Op)) -> Result<(), Corrupt> {
    let mut index = 0usize;
    for op in ops(value) {
        if index + op.span() > REGISTERS {
            return Err(Corrupt);
        }
        f(index, op);
        index += op.span();
    }
    if index != REGISTERS {
        return Err(Corrupt);
    }
    Ok(())
}

/// Rewrites a sparse value as dense in place, keeping the header (so the cached cardinality too).
fn to_dense(value: &mut Vec<u8>) -> Result<(), Corrupt> {
    if value[ENCODING_AT] == DENSE {
        return Ok(());
    }
    let mut dense = vec![0u8; DENSE_LEN];
    dense[..HEADER_LEN].copy_from_slice(&value[..HEADER_LEN]);
    dense[ENCODING_AT] = DENSE;
    let registers = &mut dense[HEADER_LEN..];
    for_each_run(value, |first, op| {
        if let Op::Val(v, n) = op {
            (first..first + n).for_each(|index| dense_put(registers, index, v));
        }
    })?;
    *value = dense;
    Ok(())
}

/// Raises register `index` of a sparse value to `count`, splitting the opcode that covers it and
/// merging equal neighbours afterwards, exactly as Redis does. Promotes the value to dense when
/// `count` needs more than a VAL opcode or the string would outgrow `max_bytes`. True when the
/// register changed.
fn sparse_raise(
    value: &mut Vec<u8>,
    index: usize,
    count: u8,
    max_bytes: u64,
) -> Result<bool, Corrupt> {
    if count > VAL_MAX_VALUE {
        return promote(value, index, count);
    }
    // Step 1: find the opcode covering `index`.
    let end = value.len();
    let (mut at, mut first, mut span) = (HEADER_LEN, 0usize, 0usize);
    let mut prev = None;
    while at < end {
        let op = Op::read(value, at);
        span = op.span();
        if index < first + span {
            break;
        }
        prev = Some(at);
        at += op.width();
        first += span;
    }
    if span == 0 || at >= end {
        return Err(Corrupt);
    }
    let op = Op::read(value, at);
    let has_next = at + op.width() < end;
    // Step 2: the trivial in-place updates, or the split sequence.
    match op {
        Op::Val(old, _) if old >= count => return Ok(false),
        Op::Val(_, 1) | Op::Zero(1) => value[at] = val_op(count, 1),
        _ => {
            let last = first + span - 1;
            let mut seq = Vec::with_capacity(5);
            match op {
                Op::Val(old, _) => {
                    if index != first {
                        seq.push(val_op(old, index - first));
                    }
                    seq.push(val_op(count, 1));
                    if index != last {
                        seq.push(val_op(old, last - index));
                    }
                }
                _ => {
                    if index != first {
                        push_zeros(&mut seq, index - first);
                    }
                    seq.push(val_op(count, 1));
                    if index != last {
                        push_zeros(&mut seq, last - index);
                    }
                }
            }
            // Step 3: put the sequence in place of the opcode.
            let new_len = (end + seq.len()).saturating_sub(op.width());
            if new_len > end && new_len as u64 > max_bytes {
                return promote(value, index, count);
            }
            if has_next {
                value.splice(at..at + op.width(), seq);
            } else {
                // The last opcode; a truncated XZERO loses the sequence's last byte, as in Redis.
                value.truncate(at);
                value.extend_from_slice(&seq);
                value.truncate(new_len);
            }
        }
    }
    // Step 4: merge adjacent VAL opcodes of equal value, scanning up to five opcodes from the one
    // before the change.
    let mut at = prev.unwrap_or(HEADER_LEN);
    let mut budget = 5;
    while at < value.len() && budget > 0 {
        budget -= 1;
        let op = Op::read(value, at);
        let Op::Val(v, len) = op else {
            at += op.width();
            continue;
        };
        if at + 1 < value.len() {
            if let Op::Val(w, next_len) = Op::read(value, at + 1) {
                if v == w && len + next_len <= VAL_MAX_LEN {
                    value[at + 1] = val_op(v, len + next_len);
                    value.remove(at);
                    // Stay here: the merged opcode may merge again with the one after it.
                    continue;
                }
            }
        }
        at += 1;
    }
    invalidate_cache(value);
    Ok(true)
}

/// Converts to dense and sets the register there.
fn promote(value: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, Corrupt> {
    to_dense(value)?;
    Ok(dense_raise(&mut value[HEADER_LEN..], index, count))
}

/// Raises one register in either encoding. True when it changed.
fn raise(value: &mut Vec<u8>, index: usize, count: u8, max_bytes: u64) -> Result<bool, Corrupt> {
    match value[ENCODING_AT] {
        DENSE => Ok(dense_raise(&mut value[HEADER_LEN..], index, count)),
        _ => sparse_raise(value, index, count, max_bytes),
    }
}

/// Adds one element to a checked HLL value. True when a register changed.
fn add(value: &mut Vec<u8>, element: &[u8], max_bytes: u64) -> Result<bool, Corrupt> {
    let (index, count) = pattern(element);
    raise(value, index, count, max_bytes)
}

// ----- counting and merging -----

/// How many registers hold each value 0..=63.
type Histogram = [u64; 64];

/// The register histogram of a checked HLL value.
fn histogram(value: &[u8]) -> Result<Histogram, Corrupt> {
    let mut histogram = [0u64; 64];
    if value[ENCODING_AT] == DENSE {
        let registers = &value[HEADER_LEN..];
        for index in 0..REGISTERS {
            histogram[usize::from(dense_get(registers, index))] += 1;
        }
        return Ok(histogram);
    }
    for_each_run(value, |_, op| {
        let register = match op {
            Op::Val(v, _) => usize::from(v),
            _ => 0,
        };
        histogram[register] += op.span() as u64;
    })?;
    Ok(histogram)
}

/// Ertl's sigma helper ("New cardinality estimation algorithms for HyperLogLog sketches").
fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let (mut y, mut z) = (1.0, x);
    loop {
        x *= x;
        let before = z;
        z += x * y;
        y += y;
        if before == z {
            return z;
        }
    }
}

/// Ertl's tau helper.
fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let (mut y, mut z) = (1.0, 1.0 - x);
    loop {
        x = x.sqrt();
        let before = z;
        y *= 0.5;
        let d = 1.0 - x;
        z -= d * d * y;
        if before == z {
            return z / 3.0;
        }
    }
}

/// Redis 7's cardinality estimate from a register histogram, with its floating-point order.
fn estimate(histogram: &Histogram) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - histogram[Q + 1] as f64) / m);
    for j in (1..=Q).rev() {
        z += histogram[j] as f64;
        z *= 0.5;
    }
    z += m * sigma(histogram[0] as f64 / m);
    (ALPHA_INF * m * m / z).round() as u64
}

/// Registers of a merge, one byte each.
type Registers = [u8; REGISTERS];

/// Raises `max` to the registers of a checked HLL value.
fn merge_into(max: &mut Registers, value: &[u8]) -> Result<(), Corrupt> {
    if value[ENCODING_AT] == DENSE {
        let registers = &value[HEADER_LEN..];
        for (index, slot) in max.iter_mut().enumerate() {
            *slot = (*slot).max(dense_get(registers, index));
        }
        return Ok(());
    }
    for_each_run(value, |first, op| {
        if let Op::Val(v, n) = op {
            for slot in &mut max[first..first + n] {
                *slot = (*slot).max(v);
            }
        }
    })
}

/// The cardinality of merged registers.
fn estimate_registers(max: &Registers) -> u64 {
    let mut histogram = [0u64; 64];
    for &r in max {
        histogram[usize::from(r & REGISTER_MAX as u8)] += 1;
    }
    estimate(&histogram)
}

/// PFCOUNT of one value: the cache if valid, else a fresh estimate written into the cache.
fn cardinality(value: &mut [u8]) -> Result<u64, Corrupt> {
    if cache_valid(value) {
        return Ok(cached(value));
    }
    let card = estimate(&histogram(value)?);
    set_cache(value, card);
    Ok(card)
}

/// PFDEBUG DECODE's listing of a sparse value's opcodes. A valid value has at most one opcode
/// per register; the listing stops there, so a huge corrupt value cannot make a reply several
/// times its own size (Redis lists every opcode).
fn decode_text(value: &[u8]) -> String {
    let parts: Vec<String> = ops(value)
        .take(REGISTERS)
        .map(|op| match op {
            Op::Zero(n) => format!("z:{n}"),
            Op::XZero(n) => format!("Z:{n}"),
            Op::Val(v, n) => format!("v:{v},{n}"),
        })
        .collect();
    parts.join(" ")
}

// ----- commands -----

/// An HLL key read under its lock, and written back as Redis leaves it: TTL kept, and `OBJECT
/// ENCODING` `raw`, because Redis turns the string into a private raw copy before using it.
struct Slot {
    /// The stored row (maybe expired), which the write replaces.
    stored: Option<Meta>,
    live: Option<Meta>,
}

impl Slot {
    fn load(ctx: &Ctx<'_>, key: &[u8], now: u64) -> CmdResult<Slot> {
        let row = ctx.store().lookup_raw(ctx.db, key, now)?;
        Ok(Slot {
            live: row.clone().filter(|m| !m.is_expired(now)),
            stored: row,
        })
    }

    /// The live value after the checks Redis makes, or `None` for a missing key.
    fn value(&self) -> CmdResult<Option<Vec<u8>>> {
        match &self.live {
            None => Ok(None),
            Some(m) if m.kind != KeyType::String => Err(ReplyError::WrongType),
            Some(m) => {
                check(&m.body)?;
                Ok(Some(m.body.to_vec()))
            }
        }
    }

    /// Stores `value` unless the stored row already is exactly that.
    fn save(&self, ctx: &Ctx<'_>, key: &[u8], value: &[u8]) -> CmdResult<()> {
        if let Some(m) = &self.live {
            if m.encoding == StrEncoding::Raw && m.body == value {
                return Ok(());
            }
        }
        let meta = Meta {
            kind: KeyType::String,
            expire_at: self.live.as_ref().map_or(0, |m| m.expire_at),
            encoding: StrEncoding::Raw,
            body: Bytes::copy_from_slice(value),
        };
        let store = ctx.store();
        let mut batch = store.batch();
        batch.put(ctx.db, key, &meta, self.stored.as_ref());
        store.commit(batch)?;
        Ok(())
    }
}

fn sparse_max_bytes(ctx: &Ctx<'_>) -> u64 {
    ctx.state.config().hll_sparse_max_bytes.0
}

/// `PFADD key [element ...]`: 1 when the key was created or a register changed.
pub fn pfadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let _guard = ctx.store().lock(ctx.db, key);
    let slot = Slot::load(ctx, key, now_ms())?;
    let (mut value, mut updated) = match slot.value()? {
        Some(value) => (value, false),
        None => (new_sparse(), true),
    };
    let max_bytes = sparse_max_bytes(ctx);
    let mut outcome = Ok(());
    for element in &args[2..] {
        match add(&mut value, element, max_bytes) {
            Ok(changed) => updated |= changed,
            Err(corrupt) => {
                outcome = Err(corrupt);
                break;
            }
        }
    }
    if outcome.is_ok() && updated {
        invalidate_cache(&mut value);
    }
    // Registers raised before a corrupt opcode was met stay raised, as in Redis.
    slot.save(ctx, key, &value)?;
    outcome?;
    if updated {
        ctx.notify(Ev::STRING, "pfadd", key);
    }
    Ok(Frame::Integer(updated as i64))
}

/// `PFCOUNT key [key ...]`: one key answers from (and refreshes) its cache; several keys count
/// their union without writing.
pub fn pfcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let now = now_ms();
    if args.len() > 2 {
        let rows = ctx.store().multi_get(ctx.db, &args[1..], now)?;
        let mut max = [0u8; REGISTERS];
        for (row, key) in rows.into_iter().zip(&args[1..]) {
            count_lookup(ctx, row.is_some());
            let Some(meta) = row else {
                ctx.keymiss(key);
                continue;
            };
            if meta.kind != KeyType::String {
                return Err(ReplyError::WrongType);
            }
            check(&meta.body)?;
            merge_into(&mut max, &meta.body)?;
        }
        return Ok(Frame::Integer(estimate_registers(&max) as i64));
    }
    let key = &args[1];
    let store = ctx.store();
    let _guard = store.lock(ctx.db, key);
    let slot = Slot::load(ctx, key, now)?;
    count_lookup(ctx, slot.live.is_some());
    let Some(mut value) = slot.value()? else {
        ctx.keymiss(key);
        return Ok(Frame::Integer(0));
    };
    let card = cardinality(&mut value);
    // The cache is an optimisation: while the storage breaker refuses writes, still answer.
    if !store.breaker().is_open() {
        slot.save(ctx, key, &value)?;
    }
    Ok(Frame::Integer(card? as i64))
}

/// `PFMERGE dest [src ...]`: the destination (itself a source) gets the registers' maxima. It
/// stays sparse unless a source is dense or it outgrows the sparse limit.
pub fn pfmerge(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let store = ctx.store();
    let _guard = store.lock_many(args[1..].iter().map(|k| (ctx.db, k.as_ref())));
    let now = now_ms();
    let mut max = [0u8; REGISTERS];
    let mut any_dense = false;
    for key in &args[1..] {
        let row = store.get(ctx.db, key, now)?;
        count_lookup(ctx, row.is_some());
        let Some(meta) = row else {
            ctx.keymiss(key);
            continue;
        };
        if meta.kind != KeyType::String {
            return Err(ReplyError::WrongType);
        }
        any_dense |= check(&meta.body)? == DENSE;
        merge_into(&mut max, &meta.body)?;
    }
    let dest = &args[1];
    let slot = Slot::load(ctx, dest, now)?;
    let mut value = slot.value()?.unwrap_or_else(new_sparse);
    let max_bytes = sparse_max_bytes(ctx);
    if any_dense {
        to_dense(&mut value)?;
    }
    for (index, &count) in max.iter().enumerate().filter(|(_, &c)| c > 0) {
        // The destination was checked as a source, so this cannot fail; Redis ignores it too.
        let _ = raise(&mut value, index, count, max_bytes);
    }
    invalidate_cache(&mut value);
    slot.save(ctx, dest, &value)?;
    // Redis announces a merge as a mass PFADD.
    ctx.notify(Ev::STRING, "pfadd", dest);
    Ok(Frame::ok())
}

/// `PFDEBUG GETREG|DECODE|ENCODING|TODENSE key`: Redis's debugging view of an HLL value.
pub fn pfdebug(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let key = &args[2];
    let _guard = ctx.store().lock(ctx.db, key);
    let slot = Slot::load(ctx, key, now_ms())?;
    let Some(mut value) = slot.value()? else {
        return Err(ReplyError::custom("ERR The specified key does not exist"));
    };
    let reply = debug(&args[1], &mut value);
    slot.save(ctx, key, &value)?;
    reply
}

fn debug(sub: &[u8], value: &mut Vec<u8>) -> CmdResult {
    let sparse = value[ENCODING_AT] == SPARSE;
    match sub.to_ascii_lowercase().as_slice() {
        b"getreg" => {
            to_dense(value)?;
            let registers = &value[HEADER_LEN..];
            Ok(Frame::Array(
                (0..REGISTERS)
                    .map(|i| Frame::Integer(i64::from(dense_get(registers, i))))
                    .collect(),
            ))
        }
        b"decode" if sparse => Ok(Frame::Bulk(decode_text(value).into())),
        b"decode" => Err(ReplyError::custom("ERR HLL encoding is not sparse")),
        b"encoding" => Ok(Frame::simple(if sparse { "sparse" } else { "dense" })),
        b"todense" => {
            to_dense(value)?;
            Ok(Frame::Integer(sparse as i64))
        }
        _ => Err(ReplyError::custom(format!(
            "ERR Unknown PFDEBUG subcommand '{}'",
            String::from_utf8_lossy(sub)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a value by adding `elements` to an empty HLL.
    fn hll_of<'a>(elements: impl IntoIterator<Item = &'a [u8]>, max_bytes: u64) -> Vec<u8> {
        let mut value = new_sparse();
        for e in elements {
            add(&mut value, e, max_bytes).unwrap();
        }
        value
    }

    fn numbered(n: usize) -> Vec<Vec<u8>> {
        (0..n).map(|i| format!("e{i}").into_bytes()).collect()
    }

    #[test]
    fn murmur_passes_the_smhasher_verification() {
        // SMHasher's check: hash {}, {0}, {0,1}, ... {0..254} with seed 256-n, then hash the
        // concatenated results with seed 0; MurmurHash64A's published value is 0x1F0D3804.
        let key: Vec<u8> = (0..=255).collect();
        let mut hashes = Vec::with_capacity(256 * 8);
        for n in 0..256 {
            hashes.extend_from_slice(&murmur64a(&key[..n], 256 - n as u64).to_le_bytes());
        }
        let check = murmur64a(&hashes, 0).to_le_bytes();
        assert_eq!(
            u32::from_le_bytes([check[0], check[1], check[2], check[3]]),
            0x1F0D_3804
        );
    }

    #[test]
    fn patterns_match_redis() {
        // PFADD h a b c on redis-server 7.0.15, then PFDEBUG DECODE h:
        // Z:8436 v:1,1 Z:4274 v:2,1 Z:3068 v:1,1 Z:603
        let mut got: Vec<(usize, u8)> = [&b"a"[..], b"b", b"c"].map(pattern).to_vec();
        got.sort();
        assert_eq!(got, vec![(8436, 1), (12711, 2), (15780, 1)]);
        let value = hll_of([&b"a"[..], b"b", b"c"], 3000);
        assert_eq!(
            decode_text(&value),
            "Z:8436 v:1,1 Z:4274 v:2,1 Z:3068 v:1,1 Z:603"
        );
    }

    #[test]
    fn empty_hll_is_one_xzero() {
        let value = new_sparse();
        assert_eq!(
            value,
            b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\0\x7f\xff".to_vec(),
            "Redis's PFADD of a new key starts from this"
        );
        assert_eq!(check(&value), Ok(SPARSE));
        assert_eq!(decode_text(&value), "Z:16384");
        assert_eq!(cardinality(&mut value.clone()), Ok(0));
    }

    #[test]
    fn check_follows_redis() {
        assert_eq!(check(b"HYLL"), Err(ReplyError::NotHll));
        assert_eq!(
            check(b"HYLX\x01\0\0\0\0\0\0\0\0\0\0\0"),
            Err(ReplyError::NotHll)
        );
        assert_eq!(
            check(b"HYLL\x02\0\0\0\0\0\0\0\0\0\0\0"),
            Err(ReplyError::NotHll)
        );
        assert_eq!(
            check(b"HYLL\x00\0\0\0\0\0\0\0\0\0\0\0"),
            Err(ReplyError::NotHll)
        );
        let mut dense = vec![0u8; DENSE_LEN];
        dense[..4].copy_from_slice(b"HYLL");
        assert_eq!(check(&dense), Ok(DENSE));
        // A sparse header with no opcodes passes the check but cannot be counted.
        let empty = b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\x80".to_vec();
        assert_eq!(check(&empty), Ok(SPARSE));
        assert_eq!(cardinality(&mut empty.clone()), Err(Corrupt));
        assert_eq!(add(&mut empty.clone(), b"x", 3000), Err(Corrupt));
    }

    #[test]
    fn dense_registers_round_trip() {
        let mut registers = vec![0u8; DENSE_LEN - HEADER_LEN];
        for i in 0..REGISTERS {
            dense_put(&mut registers, i, (i * 7 % 64) as u8);
        }
        for i in 0..REGISTERS {
            assert_eq!(dense_get(&registers, i), (i * 7 % 64) as u8, "register {i}");
        }
    }

    #[test]
    fn sparse_and_dense_agree() {
        for n in [1, 2, 10, 100, 500, 1000] {
            let elements = numbered(n);
            let sparse = hll_of(elements.iter().map(|e| e.as_slice()), u64::MAX);
            assert_eq!(sparse[ENCODING_AT], SPARSE);
            let mut dense = sparse.clone();
            to_dense(&mut dense).unwrap();
            let mut direct = new_sparse();
            to_dense(&mut direct).unwrap();
            for e in &elements {
                add(&mut direct, e, 0).unwrap();
            }
            assert_eq!(dense[HEADER_LEN..], direct[HEADER_LEN..], "n={n}");
            assert_eq!(
                estimate(&histogram(&sparse).unwrap()),
                estimate(&histogram(&dense).unwrap())
            );
        }
    }

    #[test]
    fn sparse_promotes_past_the_limit() {
        let elements = numbered(400);
        let value = hll_of(elements.iter().map(|e| e.as_slice()), 300);
        assert_eq!(value[ENCODING_AT], DENSE);
        assert_eq!(value.len(), DENSE_LEN);
        let small = hll_of(elements.iter().take(50).map(|e| e.as_slice()), 300);
        assert_eq!(small[ENCODING_AT], SPARSE);
        assert!(small.len() <= 300);
    }

    #[test]
    fn counts_match_redis() {
        // PFADD hll e0 .. e(n-1) then PFCOUNT hll on redis-server 7.0.15.
        let expected = [
            (1, 1),
            (10, 10),
            (100, 100),
            (1000, 1008),
            (5000, 4968),
            (20000, 19901),
        ];
        for (n, card) in expected {
            let elements = numbered(n);
            let mut value = hll_of(elements.iter().map(|e| e.as_slice()), 3000);
            assert_eq!(cardinality(&mut value), Ok(card), "n={n}");
            assert!(cache_valid(&value));
            assert_eq!(cached(&value), card);
        }
    }

    #[test]
    fn merge_equals_adding_everything() {
        let a = numbered(300);
        let b: Vec<Vec<u8>> = (200..900).map(|i| format!("e{i}").into_bytes()).collect();
        let ha = hll_of(a.iter().map(|e| e.as_slice()), 3000);
        let hb = hll_of(b.iter().map(|e| e.as_slice()), 3000);
        let both = hll_of(a.iter().chain(&b).map(|e| e.as_slice()), 3000);
        let mut max = [0u8; REGISTERS];
        merge_into(&mut max, &ha).unwrap();
        merge_into(&mut max, &hb).unwrap();
        assert_eq!(
            estimate_registers(&max),
            estimate(&histogram(&both).unwrap())
        );
    }

    #[test]
    fn corrupt_sparse_streams_are_rejected_without_panics() {
        let header = b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\x80";
        let cases: [&[u8]; 6] = [
            b"",
            b"\x7f",         // truncated XZERO
            b"\x7f\xfe",     // one register short
            b"\x7f\xff\x00", // one register too many
            b"\xff\xff\xff\xff\x7f\xff",
            b"\x7f\xff\xfc", // a VAL past the last register
        ];
        for tail in cases {
            let mut value = header.to_vec();
            value.extend_from_slice(tail);
            assert_eq!(cardinality(&mut value.clone()), Err(Corrupt), "{tail:?}");
            let mut max = [0u8; REGISTERS];
            assert_eq!(merge_into(&mut max, &value), Err(Corrupt), "{tail:?}");
            assert_eq!(to_dense(&mut value.clone()), Err(Corrupt), "{tail:?}");
            // Adding may succeed on the part that is well formed; it must never panic.
            for e in numbered(50) {
                let _ = add(&mut value, &e, 3000);
            }
        }
    }
}
