//! Collections — hashes, sets, lists and sorted sets — as a header in the metadata row plus one
//! RocksDB row per member.
//!
//! The header (`version u64 · size u64 · flags u8`, lists add `head u64 · tail u64`, sorted sets
//! the bounds of their live score rows) makes HLEN/SCARD/LLEN/ZCARD one read, and the version
//! makes DEL O(1): members live under `db · key · version`, so a new version hides every older
//! member at once, and the old version's range is dropped with one range tombstone (see
//! `Batch::delete`).
//!
//! A [`Collection`] is one command's view of one key: it reads members (its own pending writes
//! first, then the running job's overlay, then RocksDB), records writes into the caller's
//! [`Batch`], keeps the size in the header, and writes the header back in [`Collection::save`] —
//! or deletes the key when it became empty, as Redis does.

use bytes::Bytes;
use rocksdb::ReadOptions;

use super::job::{self, OpKind, Overlay};
use super::keys::{subkey_prefix, CF_SUBKEYS, CF_ZSET_SCORE};
use super::locks::KeyGuard;
use super::meta::{KeyType, Meta, StrEncoding};
use super::{Batch, Storage, StorageError, StorageResult};
use crate::error::ReplyError;

/// Collections at least this big get their deleted range compacted in the background right away.
pub const EAGER_RECLAIM_MEMBERS: u64 = 10_000;

/// First index of a new list: lists grow both ways from the middle of the u64 range.
const LIST_ORIGIN: u64 = 1 << 63;

const FLAG_EXPANDED: u8 = 1;

/// The collection header kept in the metadata row's body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub version: u64,
    /// Number of members (list length, hash fields, ...).
    pub size: u64,
    /// The key has outgrown Redis's compact encoding (listpack/intset), so OBJECT ENCODING reports
    /// hashtable/skiplist. Like Redis, it never converts back.
    pub expanded: bool,
    /// Lists only: index of the first element.
    pub head: u64,
    /// Lists only: index one past the last element.
    pub tail: u64,
    /// Sorted sets only: every live score row is at or above `floor` and below `ceiling`. Pops
    /// move them past the rows they delete, so the next pop (or range) seeks straight to the
    /// live rows instead of stepping over the tombstones of every member popped before — which
    /// made draining a sorted set quadratic.
    pub floor: Option<Bytes>,
    pub ceiling: Option<Bytes>,
    /// Streams only: the stream's own state (`storage::stream`), kept after the common fields.
    pub extra: Bytes,
}

impl Header {
    /// A fresh, empty collection header.
    fn new(version: u64) -> Header {
        Header {
            version,
            size: 0,
            expanded: false,
            head: LIST_ORIGIN,
            tail: LIST_ORIGIN,
            floor: None,
            ceiling: None,
            extra: Bytes::new(),
        }
    }

    /// The header of a collection row; `None` for strings (or bytes Kiwi did not write).
    pub fn of(meta: &Meta) -> Option<Header> {
        if meta.kind == KeyType::String {
            return None;
        }
        let b = &meta.body;
        let word = |at: usize| -> Option<u64> {
            b.get(at..at + 8)
                .and_then(|s| s.try_into().ok())
                .map(u64::from_be_bytes)
        };
        let mut header = Header::new(word(0)?);
        header.size = word(8)?;
        header.expanded = b.get(16)? & FLAG_EXPANDED != 0;
        if meta.kind == KeyType::List {
            header.head = word(17)?;
            header.tail = word(25)?;
        }
        if meta.kind == KeyType::ZSet && b.len() > 17 {
            // Each bound: a u32 length (u32::MAX = none), then the row.
            let mut at = 17;
            let mut bound = || -> Option<Option<Bytes>> {
                let len = u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?);
                at += 4;
                if len == u32::MAX {
                    return Some(None);
                }
                let row = b.get(at..at + len as usize)?;
                at += len as usize;
                Some(Some(b.slice_ref(row)))
            };
            header.floor = bound()?;
            header.ceiling = bound()?;
        }
        if meta.kind == KeyType::Stream {
            header.extra = b.slice(17..);
        }
        Some(header)
    }

    fn encode(&self, kind: KeyType) -> Bytes {
        let mut out = Vec::with_capacity(33);
        out.extend_from_slice(&self.version.to_be_bytes());
        out.extend_from_slice(&self.size.to_be_bytes());
        out.push(if self.expanded { FLAG_EXPANDED } else { 0 });
        if kind == KeyType::List {
            out.extend_from_slice(&self.head.to_be_bytes());
            out.extend_from_slice(&self.tail.to_be_bytes());
        }
        if kind == KeyType::ZSet && (self.floor.is_some() || self.ceiling.is_some()) {
            for bound in [&self.floor, &self.ceiling] {
                match bound {
                    Some(row) => {
                        out.extend_from_slice(&(row.len() as u32).to_be_bytes());
                        out.extend_from_slice(row);
                    }
                    None => out.extend_from_slice(&u32::MAX.to_be_bytes()),
                }
            }
        }
        out.extend_from_slice(&self.extra);
        Bytes::from(out)
    }
}

/// The smallest row after `row`.
fn successor(row: &[u8]) -> Bytes {
    let mut next = Vec::with_capacity(row.len() + 1);
    next.extend_from_slice(row);
    next.push(0);
    Bytes::from(next)
}

/// Which column family a member row lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Space {
    /// Hash fields, set members, list elements (by index), sorted-set member → score.
    Members,
    /// The sorted-set score index: `score · member` → empty, in score order.
    Scores,
}

impl Space {
    fn cf(self) -> &'static str {
        match self {
            Space::Members => CF_SUBKEYS,
            Space::Scores => CF_ZSET_SCORE,
        }
    }
}

/// One command's view of one collection key.
pub struct Collection<'s> {
    store: &'s Storage,
    db: usize,
    key: Vec<u8>,
    kind: KeyType,
    pub header: Header,
    expire_at: u64,
    /// The stored row (even an expired one), which `save` replaces.
    old: Option<Meta>,
    live: bool,
    /// `db · key · version`: the prefix of every member row.
    prefix: Vec<u8>,
    /// This command's own writes to `Space::Members`, so it reads what it wrote.
    pending: crate::util::FastMap<Vec<u8>, Option<Bytes>>,
    /// Readers hold the key's lock too: the header and the member rows are separate reads, and a
    /// writer committing between them would show a state that never existed.
    _guard: KeyGuard<'s>,
}

impl Storage {
    /// Opens a key for reading as a collection of `kind`: `None` when it does not exist,
    /// WRONGTYPE when it holds another type. Takes the key's lock (a no-op if the caller holds it).
    pub fn read_collection(
        &self,
        db: usize,
        key: &[u8],
        kind: KeyType,
        now: u64,
    ) -> Result<Option<Collection<'_>>, ReplyError> {
        let guard = self.lock(db, key);
        let mut coll = self.open_collection(db, key, kind, now)?;
        coll._guard = guard;
        Ok(coll.live.then_some(coll))
    }

    /// Opens a key for a write as a collection of `kind` (WRONGTYPE when it holds another type).
    /// A missing or expired key opens as a new empty collection with a fresh version. The caller
    /// holds the key's lock.
    pub fn open_collection(
        &self,
        db: usize,
        key: &[u8],
        kind: KeyType,
        now: u64,
    ) -> Result<Collection<'_>, ReplyError> {
        let old = self.lookup_raw(db, key, now)?;
        let live = old.as_ref().filter(|m| !m.is_expired(now));
        let (header, expire_at) = match live {
            Some(m) if m.kind != kind => return Err(ReplyError::WrongType),
            Some(m) => (Header::of(m).ok_or(StorageError::Corrupt)?, m.expire_at),
            None => (Header::new(self.next_version()), 0),
        };
        let live = live.is_some();
        Ok(Collection::new(
            self, db, key, kind, header, expire_at, old, live,
        ))
    }

    /// Starts a new, empty collection of `kind` at `key`, replacing whatever the key holds, of
    /// any type (the STORE forms of set and sorted-set algebra). `save` replaces the old row in the
    /// same batch, or deletes it when the new collection stays empty.
    pub fn replace_collection(
        &self,
        db: usize,
        key: &[u8],
        kind: KeyType,
    ) -> StorageResult<Collection<'_>> {
        let header = Header::new(self.next_version());
        let old = self.lookup_raw(db, key, crate::util::now_ms())?;
        Ok(Collection::new(self, db, key, kind, header, 0, old, false))
    }

    /// True when deleted big collections wait for [`Self::reclaim_deleted`].
    pub fn reclaim_pending(&self) -> bool {
        !self.reclaim.lock().is_empty()
    }

    /// Runs the background compaction of big deleted collections' ranges, so their disk space
    /// comes back in bounded time. Called by the background task.
    pub fn reclaim_deleted(&self) {
        let ranges = std::mem::take(&mut *self.reclaim.lock());
        for (cf, start, end) in &ranges {
            self.db
                .compact_range_cf(self.cf(cf), Some(start.as_slice()), Some(end.as_slice()));
        }
        if !ranges.is_empty() {
            // The deleted members may still sit in WAL files that other column families' memtables
            // keep alive; flushing those lets RocksDB delete the files.
            for name in super::keys::ALL_CFS {
                if let Err(err) = self.db.flush_cf(self.cf(name)) {
                    tracing::warn!(%err, "flush after reclaiming a deleted collection failed");
                }
            }
        }
    }
}

impl<'s> Collection<'s> {
    /// A view of `key` at `header`'s version, holding no lock of its own.
    #[allow(clippy::too_many_arguments)]
    fn new(
        store: &'s Storage,
        db: usize,
        key: &[u8],
        kind: KeyType,
        header: Header,
        expire_at: u64,
        old: Option<Meta>,
        live: bool,
    ) -> Collection<'s> {
        Collection {
            store,
            db,
            key: key.to_vec(),
            kind,
            prefix: subkey_prefix(store.phys(db), key, header.version),
            header,
            expire_at,
            live,
            old,
            pending: Default::default(),
            _guard: store.locks.none(),
        }
    }
}

impl Collection<'_> {
    /// True when the key existed (and had not expired) when opened.
    pub fn exists(&self) -> bool {
        self.live
    }

    /// Number of members.
    pub fn len(&self) -> u64 {
        self.header.size
    }

    /// True when the collection has no members.
    pub fn is_empty(&self) -> bool {
        self.header.size == 0
    }

    /// The key's expiry (0 = none).
    pub fn expire_at(&self) -> u64 {
        self.expire_at
    }

    fn row_key(&self, field: &[u8]) -> Vec<u8> {
        let mut row = Vec::with_capacity(self.prefix.len() + field.len());
        row.extend_from_slice(&self.prefix);
        row.extend_from_slice(field);
        row
    }

    /// Reads one member row.
    pub fn get(&self, field: &[u8]) -> StorageResult<Option<Bytes>> {
        if let Some(value) = self.pending.get(field) {
            return Ok(value.clone());
        }
        let row = self.row_key(field);
        if let Some(pending) =
            super::pending_row(Overlay::Members, &row, |v| Ok(Bytes::copy_from_slice(v)))
        {
            return pending;
        }
        let cf = self.store.cf(CF_SUBKEYS);
        let value = self.store.db.get_pinned_cf(cf, row)?;
        Ok(value.map(|v| Bytes::copy_from_slice(&v)))
    }

    /// Reads several member rows with one batched lookup (HMGET, SMISMEMBER, ZMSCORE).
    pub fn get_many(&self, fields: &[Bytes]) -> StorageResult<Vec<Option<Bytes>>> {
        if let [field] = fields {
            return Ok(vec![self.get(field)?]);
        }
        let rows: Vec<Vec<u8>> = fields.iter().map(|f| self.row_key(f)).collect();
        let cf = self.store.cf(CF_SUBKEYS);
        let stored = self.store.db.batched_multi_get_cf(cf, rows.iter(), false);
        let in_job = job::active();
        fields
            .iter()
            .zip(rows.iter().zip(stored))
            .map(|(field, (row, stored))| {
                if let Some(value) = self.pending.get(field.as_ref()) {
                    return Ok(value.clone());
                }
                let overlay = in_job
                    .then(|| {
                        super::pending_row(Overlay::Members, row, |v| Ok(Bytes::copy_from_slice(v)))
                    })
                    .flatten();
                match overlay {
                    Some(pending) => pending,
                    None => Ok(stored?.map(|v| Bytes::copy_from_slice(&v))),
                }
            })
            .collect()
    }

    /// Adds or replaces a member, keeping the size; returns the previous value.
    pub fn insert(
        &mut self,
        batch: &mut Batch<'_>,
        field: &[u8],
        value: Bytes,
    ) -> StorageResult<Option<Bytes>> {
        let previous = self.get(field)?;
        if previous.is_none() {
            self.header.size += 1;
        }
        self.put(batch, field, value);
        Ok(previous)
    }

    /// Removes a member if present, keeping the size; returns its value.
    pub fn remove(&mut self, batch: &mut Batch<'_>, field: &[u8]) -> StorageResult<Option<Bytes>> {
        let previous = self.get(field)?;
        if previous.is_some() {
            self.header.size -= 1;
            self.delete(batch, field);
        }
        Ok(previous)
    }

    /// Whether this command deleted the member row `field`, which iterators still show until
    /// the command's batch is committed.
    pub fn deleted_here(&self, field: &[u8]) -> bool {
        matches!(self.pending.get(field), Some(None))
    }

    /// Writes a member row without touching the size (list elements moved by index).
    pub fn put(&mut self, batch: &mut Batch<'_>, field: &[u8], value: Bytes) {
        let row = self.row_key(field);
        batch.raw(CF_SUBKEYS, OpKind::Put, row, value.to_vec());
        self.pending.insert(field.to_vec(), Some(value));
    }

    /// Deletes a member row without touching the size.
    pub fn delete(&mut self, batch: &mut Batch<'_>, field: &[u8]) {
        let row = self.row_key(field);
        batch.raw(CF_SUBKEYS, OpKind::Delete, row, Vec::new());
        self.pending.insert(field.to_vec(), None);
    }

    /// Deletes the member rows from `from` (inclusive) to `to` (exclusive) with one range
    /// tombstone, without touching the size: LTRIM or a big LPOP drops many list elements at once
    /// without writing one delete per row. Point reads in the running job's overlay do not see a
    /// range tombstone, so the caller must never read a row of the range again before writing it
    /// (true of list indexes, which are read only between head and tail).
    pub fn delete_range(&mut self, batch: &mut Batch<'_>, from: &[u8], to: &[u8]) {
        batch.raw(
            CF_SUBKEYS,
            OpKind::DeleteRange,
            self.row_key(from),
            self.row_key(to),
        );
        for (field, value) in self.pending.iter_mut() {
            if (from..to).contains(&field.as_slice()) {
                *value = None;
            }
        }
    }

    /// Adds a row to the sorted-set score index; `value` carries what the key cannot (the sign of
    /// a zero score, which sorts with +0). Widens the live-row bounds to include it.
    pub fn put_score(&mut self, batch: &mut Batch<'_>, entry: &[u8], value: Vec<u8>) {
        let header = &mut self.header;
        if header.floor.as_deref().is_some_and(|floor| entry < floor) {
            header.floor = Some(Bytes::copy_from_slice(entry));
        }
        if header
            .ceiling
            .as_deref()
            .is_some_and(|ceiling| entry >= ceiling)
        {
            header.ceiling = Some(successor(entry));
        }
        let row = self.row_key(entry);
        batch.raw(CF_ZSET_SCORE, OpKind::Put, row, value);
    }

    /// After deleting every score row up to and including `entry` (pops from the low end): the
    /// live rows now start after it.
    pub fn raise_score_floor(&mut self, entry: &[u8]) {
        self.header.floor = Some(successor(entry));
    }

    /// After deleting every score row from `entry` up (pops from the high end): the live rows now
    /// end before it.
    pub fn lower_score_ceiling(&mut self, entry: &[u8]) {
        self.header.ceiling = Some(Bytes::copy_from_slice(entry));
    }

    /// Removes a row from the sorted-set score index.
    pub fn delete_score(&mut self, batch: &mut Batch<'_>, entry: &[u8]) {
        let row = self.row_key(entry);
        batch.raw(CF_ZSET_SCORE, OpKind::Delete, row, Vec::new());
    }

    /// Walks the rows of `space` in order (or reverse order), starting at `from` (inclusive: the
    /// first row at or after it, or at or before it when reversed); `f` returns false to stop.
    /// Sees every committed write, including the running job's, but not this command's own
    /// pending ones: commands iterate before they write.
    pub fn scan(
        &self,
        space: Space,
        from: Option<&[u8]>,
        reverse: bool,
        mut f: impl FnMut(&[u8], &[u8]) -> StorageResult<bool>,
    ) -> StorageResult<()> {
        self.store.settle();
        let mut ro = ReadOptions::default();
        let mut lower = self.prefix.clone();
        let mut upper = subkey_prefix(self.store.phys(self.db), &self.key, self.header.version + 1);
        if space == Space::Scores {
            if let Some(floor) = &self.header.floor {
                lower = self.row_key(floor);
            }
            if let Some(ceiling) = &self.header.ceiling {
                upper = self.row_key(ceiling);
            }
        }
        // A seek outside the bounds starts at the nearest bound.
        let start = from
            .map(|field| self.row_key(field))
            .map(|row| match reverse {
                false => row.max(lower.clone()),
                true if row >= upper => Vec::new(),
                true => row,
            });
        let start = start.filter(|row| !row.is_empty());
        ro.set_iterate_lower_bound(lower);
        ro.set_iterate_upper_bound(upper);
        // The raw iterator lends each row instead of allocating two boxes per row.
        let mut iter = self
            .store
            .db
            .raw_iterator_cf_opt(self.store.cf(space.cf()), ro);
        match (&start, reverse) {
            (Some(at), false) => iter.seek(at),
            (Some(at), true) => iter.seek_for_prev(at),
            (None, false) => iter.seek_to_first(),
            (None, true) => iter.seek_to_last(),
        }
        let skip = self.prefix.len();
        while let (Some(row), Some(value)) = (iter.key(), iter.value()) {
            if !f(&row[skip..], value)? {
                return Ok(());
            }
            if reverse {
                iter.prev();
            } else {
                iter.next();
            }
        }
        iter.status()?;
        Ok(())
    }

    /// Every member row in order, up to `limit` (whole small collections, set algebra).
    pub fn collect(&self, space: Space, limit: usize) -> StorageResult<Vec<(Bytes, Bytes)>> {
        let mut out = Vec::with_capacity(self.header.size.min(limit as u64) as usize);
        if limit == 0 {
            return Ok(out);
        }
        self.scan(space, None, false, |field, value| {
            out.push((Bytes::copy_from_slice(field), Bytes::copy_from_slice(value)));
            Ok(out.len() < limit)
        })?;
        Ok(out)
    }

    /// Writes the header back — or deletes the key if the collection is now empty, as Redis
    /// removes empty collections.
    pub fn save(self, batch: &mut Batch<'_>) {
        self.write_back(batch, false, true);
    }

    /// Writes the header back even when the collection is empty: a stream stays when its last
    /// entry goes. With `watched` false, WATCHers of the key are not flagged
    /// ([`Batch::put_unwatched`]).
    pub fn save_keeping_empty(self, batch: &mut Batch<'_>, watched: bool) {
        self.write_back(batch, true, watched);
    }

    fn write_back(self, batch: &mut Batch<'_>, keep_empty: bool, watched: bool) {
        if self.header.size == 0 && !keep_empty {
            if let Some(old) = &self.old {
                // A live collection emptied by this command already deleted its members one by
                // one; only a replaced expired row still has members to drop.
                batch.remove_row(self.db, &self.key, old, !self.live);
            }
            return;
        }
        let meta = Meta {
            kind: self.kind,
            expire_at: self.expire_at,
            encoding: StrEncoding::Auto,
            body: self.header.encode(self.kind),
        };
        if watched {
            batch.put(self.db, &self.key, &meta, self.old.as_ref());
        } else {
            batch.put_unwatched(self.db, &self.key, &meta, self.old.as_ref());
        }
    }
}

/// Writes the members of a collection under a new key (RENAME, COPY, MOVE): a copy of every row
/// under the destination's fresh version.
pub fn copy_members(
    store: &Storage,
    batch: &mut Batch<'_>,
    (src_db, src_key): (usize, &[u8]),
    src: &Meta,
    (dst_db, dst_key): (usize, &[u8]),
    dst_version: u64,
) -> StorageResult<()> {
    let Some(header) = Header::of(src) else {
        return Ok(());
    };
    let from = Collection::new(
        store,
        src_db,
        src_key,
        src.kind,
        header,
        src.expire_at,
        None,
        true,
    );
    let dst_prefix = subkey_prefix(store.phys(dst_db), dst_key, dst_version);
    let mut spaces = vec![Space::Members];
    if src.kind == KeyType::ZSet {
        spaces.push(Space::Scores);
    }
    for space in spaces {
        from.scan(space, None, false, |field, value| {
            let mut row = dst_prefix.clone();
            row.extend_from_slice(field);
            batch.raw(space.cf(), OpKind::Put, row, value.to_vec());
            Ok(true)
        })?;
    }
    Ok(())
}

/// The same metadata row with a new collection version (the copy's).
pub fn with_version(meta: &Meta, version: u64) -> Meta {
    let mut out = meta.clone();
    if let Some(mut header) = Header::of(meta) {
        header.version = version;
        out.body = header.encode(meta.kind);
    }
    out
}
