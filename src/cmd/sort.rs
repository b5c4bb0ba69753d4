//! SORT and SORT_RO: sorts the elements of a list, set or sorted set — numerically or as bytes,
//! optionally by values read from other keys (`BY weight_*`, `BY obj_*->field`) — and returns them
//! or values of other keys (`GET`), or stores the result as a list (`STORE`).

use std::cmp::Ordering;

use bytes::Bytes;

use super::collection::{delete_destination, read};
use super::{arg_i64, is_opt, Ctx, Ev, KeyFlags, KeyRef};
use crate::error::{CmdResult, ReplyError};
use crate::resp::Frame;
use crate::storage::collection::{Collection, Space};
use crate::storage::meta::KeyType;
use crate::util::now_ms;
use crate::util::number::parse_f64;

/// A parsed SORT request.
struct SortSpec<'a> {
    by: Option<&'a [u8]>,
    /// `BY` a pattern without `*` (e.g. `nosort`): keep the collection's own order.
    dont_sort: bool,
    limit: Option<(i64, i64)>,
    gets: Vec<&'a [u8]>,
    desc: bool,
    alpha: bool,
    store: Option<&'a Bytes>,
}

fn parse(args: &[Bytes], read_only: bool) -> CmdResult<SortSpec<'_>> {
    let mut spec = SortSpec {
        by: None,
        dont_sort: false,
        limit: None,
        gets: Vec::new(),
        desc: false,
        alpha: false,
        store: None,
    };
    let mut j = 2;
    while j < args.len() {
        let left = args.len() - j - 1;
        let arg = &args[j];
        if is_opt(arg, "asc") {
            spec.desc = false;
        } else if is_opt(arg, "desc") {
            spec.desc = true;
        } else if is_opt(arg, "alpha") {
            spec.alpha = true;
        } else if is_opt(arg, "limit") && left >= 2 {
            spec.limit = Some((arg_i64(&args[j + 1])?, arg_i64(&args[j + 2])?));
            j += 2;
        } else if is_opt(arg, "store") && left >= 1 && !read_only {
            spec.store = Some(&args[j + 1]);
            j += 1;
        } else if is_opt(arg, "by") && left >= 1 {
            let pattern = &args[j + 1][..];
            spec.dont_sort = !pattern.contains(&b'*');
            spec.by = Some(pattern);
            j += 1;
        } else if is_opt(arg, "get") && left >= 1 {
            spec.gets.push(&args[j + 1]);
            j += 1;
        } else {
            return Err(ReplyError::Syntax);
        }
        j += 1;
    }
    Ok(spec)
}

/// The value a `BY`/`GET` pattern names for one element: `#` is the element itself; otherwise the
/// first `*` is replaced by the element and the result names a string key, or with `->field` a
/// hash field. Patterns without `*`, missing keys and other types yield nothing.
fn lookup(ctx: &Ctx<'_>, pattern: &[u8], element: &Bytes) -> CmdResult<Option<Bytes>> {
    if pattern == b"#" {
        return Ok(Some(element.clone()));
    }
    let Some(star) = pattern.iter().position(|&b| b == b'*') else {
        return Ok(None);
    };
    let arrow = pattern[star + 1..]
        .windows(2)
        .position(|w| w == b"->")
        .map(|p| star + 1 + p)
        .filter(|&p| p + 2 < pattern.len());
    let key_end = arrow.unwrap_or(pattern.len());
    let mut key = pattern[..star].to_vec();
    key.extend_from_slice(element);
    key.extend_from_slice(&pattern[star + 1..key_end]);
    let Some(meta) = ctx.store().get(ctx.db, &key, now_ms())? else {
        ctx.keymiss(&key);
        return Ok(None);
    };
    match (arrow, meta.kind) {
        (None, KeyType::String) => Ok(Some(meta.body)),
        // Not locked: a command takes all its locks up front, and these keys are only known now.
        (Some(at), KeyType::Hash) => {
            let hash = ctx
                .store()
                .open_collection(ctx.db, &key, KeyType::Hash, now_ms())?;
            Ok(hash.get(&pattern[at + 2..])?)
        }
        _ => Ok(None),
    }
}

/// The elements of the sorted key in its own order (list order, score order, member order).
fn elements(coll: &Collection<'_>, kind: KeyType) -> CmdResult<Vec<Bytes>> {
    let rows = match kind {
        KeyType::ZSet => coll.collect(Space::Scores, usize::MAX)?,
        _ => coll.collect(Space::Members, usize::MAX)?,
    };
    Ok(rows
        .into_iter()
        .map(|(row, value)| match kind {
            KeyType::List => value,
            // Score-index rows are `score (8 bytes) · member`.
            KeyType::ZSet => row.slice(8.min(row.len())..),
            _ => row,
        })
        .collect())
}

/// Opens the key to sort: a list, set or sorted set, or nothing.
fn open_sortable<'a>(ctx: &'a Ctx<'_>, key: &[u8]) -> CmdResult<Option<(Collection<'a>, KeyType)>> {
    let Some(meta) = ctx.store().get(ctx.db, key, now_ms())? else {
        ctx.keymiss(key);
        return Ok(None);
    };
    match meta.kind {
        KeyType::List | KeyType::Set | KeyType::ZSet => {
            Ok(read(ctx, key, meta.kind)?.map(|c| (c, meta.kind)))
        }
        _ => Err(ReplyError::WrongType),
    }
}

/// What an element is compared by.
enum SortKey {
    Number(f64),
    Bytes(Option<Bytes>),
}

fn compare(a: &(Bytes, SortKey), b: &(Bytes, SortKey)) -> Ordering {
    let by_key = match (&a.1, &b.1) {
        (SortKey::Number(x), SortKey::Number(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
        (SortKey::Bytes(x), SortKey::Bytes(y)) => x.cmp(y),
        _ => Ordering::Equal,
    };
    // Equal keys fall back to the elements themselves, so the result is deterministic.
    by_key.then_with(|| a.0.cmp(&b.0))
}

/// Parses a sort weight as Redis does with `strtod`: leading spaces allowed, the empty string is 0,
/// the rest must be a number, not NaN and not out of range.
fn weight(text: &[u8]) -> Option<f64> {
    let start = text
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(text.len());
    let text = &text[start..];
    if text.is_empty() {
        return Some(0.0);
    }
    let value = parse_f64(text)?;
    let spelled_infinite = text.iter().any(|b| b.eq_ignore_ascii_case(&b'i'));
    (value.is_finite() || spelled_infinite).then_some(value)
}

/// Replaces `dst` (of any type) with a list of `values` (`sortstore`); an empty result deletes
/// it (`del`).
fn store_list(ctx: &Ctx<'_>, dst: &[u8], values: Vec<Bytes>) -> CmdResult<()> {
    if values.is_empty() {
        return delete_destination(ctx, dst);
    }
    let store = ctx.store();
    let mut list = store.replace_collection(ctx.db, dst, KeyType::List)?;
    let mut batch = store.batch();
    for value in values {
        let index = list.header.tail;
        list.put(&mut batch, &index.to_be_bytes(), value);
        list.header.tail += 1;
        list.header.size += 1;
    }
    list.save(&mut batch);
    store.commit(batch)?;
    ctx.notify(Ev::LIST, "sortstore", dst);
    Ok(())
}

fn sort_generic(ctx: &Ctx<'_>, args: &[Bytes], read_only: bool) -> CmdResult {
    let mut spec = parse(args, read_only)?;
    let store = ctx.store();
    let _guard = store.lock_many(
        std::iter::once(&args[1])
            .chain(spec.store)
            .map(|k| (ctx.db, k.as_ref())),
    );
    let (mut items, kind) = match open_sortable(ctx, &args[1])? {
        Some((coll, kind)) => (elements(&coll, kind)?, Some(kind)),
        None => (Vec::new(), None),
    };
    // A set has no order of its own: when the result is stored, sort it so it is deterministic.
    if spec.dont_sort && kind == Some(KeyType::Set) && spec.store.is_some() {
        spec.dont_sort = false;
        spec.alpha = true;
        spec.by = None;
    }
    if spec.dont_sort {
        if spec.desc && kind != Some(KeyType::Set) {
            items.reverse();
        }
    } else {
        let mut keyed = Vec::with_capacity(items.len());
        for element in items {
            let by_value = match spec.by {
                Some(pattern) => lookup(ctx, pattern, &element)?,
                None => Some(element.clone()),
            };
            let key = if spec.alpha {
                SortKey::Bytes(by_value)
            } else {
                match by_value {
                    Some(v) => SortKey::Number(weight(&v).ok_or_else(|| {
                        ReplyError::custom("ERR One or more scores can't be converted into double")
                    })?),
                    None => SortKey::Number(0.0),
                }
            };
            keyed.push((element, key));
        }
        keyed.sort_by(|a, b| {
            let order = compare(a, b);
            if spec.desc {
                order.reverse()
            } else {
                order
            }
        });
        items = keyed.into_iter().map(|(element, _)| element).collect();
    }
    let items = apply_limit(items, spec.limit);
    let mut out: Vec<Option<Bytes>> = Vec::with_capacity(items.len() * spec.gets.len().max(1));
    for element in items {
        if spec.gets.is_empty() {
            out.push(Some(element));
            continue;
        }
        for pattern in &spec.gets {
            out.push(lookup(ctx, pattern, &element)?);
        }
    }
    match spec.store {
        None => Ok(Frame::Array(out.into_iter().map(Frame::opt_bulk).collect())),
        Some(dst) => {
            let count = out.len() as i64;
            let values = out.into_iter().map(|v| v.unwrap_or_default()).collect();
            store_list(ctx, dst, values)?;
            Ok(Frame::Integer(count))
        }
    }
}

/// Redis's LIMIT arithmetic: a negative offset is 0, a negative count means "to the end".
fn apply_limit(items: Vec<Bytes>, limit: Option<(i64, i64)>) -> Vec<Bytes> {
    let Some((offset, count)) = limit else {
        return items;
    };
    let start = offset.max(0) as usize;
    if start >= items.len() {
        return Vec::new();
    }
    let end = if count < 0 {
        items.len()
    } else {
        start.saturating_add(count as usize).min(items.len())
    };
    items.into_iter().skip(start).take(end - start).collect()
}

/// SORT's STORE key, found as Redis's `sortGetKeys` finds it: options are skipped with their
/// arguments (LIMIT 2, GET and BY 1), and the last STORE wins.
pub fn store_key(args: &[Bytes], out: &mut Vec<KeyRef>) {
    let mut store = None;
    let mut i = 2;
    while i < args.len() {
        if is_opt(&args[i], "limit") {
            i += 2;
        } else if is_opt(&args[i], "get") || is_opt(&args[i], "by") {
            i += 1;
        } else if is_opt(&args[i], "store") && i + 1 < args.len() {
            store = Some(i + 1);
        }
        i += 1;
    }
    if let Some(index) = store {
        let flags = KeyFlags::of(&[KeyFlags::OW, KeyFlags::UPDATE]);
        out.push(KeyRef { index, flags });
    }
}

pub fn sort(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    sort_generic(ctx, args, false)
}

pub fn sort_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    sort_generic(ctx, args, true)
}
