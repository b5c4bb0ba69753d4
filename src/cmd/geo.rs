//! Geo commands: a geo set is a sorted set whose scores are 52-bit geohashes
//! (see `util::geohash`), so GEOADD is ZADD with encoded coordinates and a radius or box search
//! reads the score ranges of up to 9 geohash cells, filtering by distance — as Redis does, so
//! results (and their order when unsorted) are Redis's.

use bytes::Bytes;

use super::zset::{add, result_expanded, store_result, walk_interval, AddFlags, ScoreRange, ZSet};
use super::{arg_i64, is_opt, Ctx};
use crate::error::{CmdResult, ReplyError};
use crate::resp::Frame;
use crate::util::geohash::{
    decode_score, distance, encode, geohash_string, Reach, Shape, LAT_MAX, LAT_MIN, LONG_MAX,
    LONG_MIN, STEP_MAX,
};
use crate::util::number::{format_fixed, format_human_double, parse_f64};

/// Parses a longitude/latitude pair, checking Redis's limits.
fn parse_lonlat(lon: &[u8], lat: &[u8]) -> CmdResult<(f64, f64)> {
    let lon = parse_f64(lon).ok_or(ReplyError::NotFloat)?;
    let lat = parse_f64(lat).ok_or(ReplyError::NotFloat)?;
    if !(LONG_MIN..=LONG_MAX).contains(&lon) || !(LAT_MIN..=LAT_MAX).contains(&lat) {
        return Err(ReplyError::custom(format!(
            "ERR invalid longitude,latitude pair {},{}",
            format_fixed(lon, 6),
            format_fixed(lat, 6)
        )));
    }
    Ok((lon, lat))
}

/// Meters per unit.
fn parse_unit(unit: &[u8]) -> CmdResult<f64> {
    let lower = unit.to_ascii_lowercase();
    Ok(match lower.as_slice() {
        b"m" => 1.0,
        b"km" => 1000.0,
        b"ft" => 0.3048,
        b"mi" => 1609.34,
        _ => {
            return Err(ReplyError::custom(
                "ERR unsupported unit provided. please use M, KM, FT, MI",
            ))
        }
    })
}

/// A non-negative number with its own "need numeric ..." error.
fn parse_length(arg: &[u8], what: &str) -> CmdResult<f64> {
    parse_f64(arg).ok_or_else(|| ReplyError::custom(format!("ERR need numeric {what}")))
}

/// `radius unit`: (radius, meters per unit).
fn parse_radius(radius: &[u8], unit: &[u8]) -> CmdResult<(Reach, f64)> {
    let r = parse_length(radius, "radius")?;
    if r < 0.0 {
        return Err(ReplyError::custom("ERR radius cannot be negative"));
    }
    Ok((Reach::Radius(r), parse_unit(unit)?))
}

/// `width height unit`: (box, meters per unit).
fn parse_box(width: &[u8], height: &[u8], unit: &[u8]) -> CmdResult<(Reach, f64)> {
    let width = parse_length(width, "width")?;
    let height = parse_length(height, "height")?;
    if height < 0.0 || width < 0.0 {
        return Err(ReplyError::custom("ERR height or width cannot be negative"));
    }
    Ok((Reach::Box { width, height }, parse_unit(unit)?))
}

/// The stored position of a member.
fn member_position(zset: &ZSet<'_>, member: &[u8]) -> CmdResult<Option<(f64, f64)>> {
    Ok(zset.score(member)?.map(decode_score))
}

fn position_of(zset: &ZSet<'_>, member: &[u8]) -> CmdResult<(f64, f64)> {
    member_position(zset, member)?
        .ok_or_else(|| ReplyError::custom("ERR could not decode requested zset member"))
}

/// A coordinate as Redis prints it (human-readable long double; a double in RESP3).
fn coordinate(value: f64) -> Frame {
    Frame::DoubleText(Bytes::from(format_human_double(value)))
}

/// A distance as Redis prints it: a bulk string with four decimals.
fn distance_reply(value: f64) -> Frame {
    Frame::text(format_fixed(value, 4))
}

pub fn geoadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let mut flags = AddFlags::default();
    let at = flags.parse(args, 2, false);
    let rest = &args[at..];
    if rest.len() % 3 != 0 || (flags.nx && flags.xx) || rest.is_empty() {
        return Err(ReplyError::Syntax);
    }
    let pairs = rest
        .chunks(3)
        .map(|t| {
            let (lon, lat) = parse_lonlat(&t[0], &t[1])?;
            let cell = encode(lon, lat, STEP_MAX).ok_or(ReplyError::NotFloat)?;
            Ok((cell.align52() as f64, &t[2]))
        })
        .collect::<CmdResult<Vec<_>>>()?;
    let done = add(ctx, &args[1], flags, &pairs)?;
    Ok(Frame::Integer(if flags.ch {
        done.added + done.updated
    } else {
        done.added
    }))
}

/// The scores of `args[2..]` in the geo set `args[1]`: `None` for a missing member or key.
fn member_scores(ctx: &Ctx<'_>, args: &[Bytes]) -> CmdResult<Vec<Option<f64>>> {
    let members = &args[2..];
    Ok(match ZSet::lookup(ctx, &args[1])? {
        Some(zset) => zset.scores(members)?,
        None => vec![None; members.len()],
    })
}

pub fn geopos(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let scores = member_scores(ctx, args)?;
    Ok(Frame::Array(
        scores
            .into_iter()
            .map(|score| match score {
                Some(score) => {
                    let (lon, lat) = decode_score(score);
                    Frame::Array(vec![coordinate(lon), coordinate(lat)])
                }
                None => Frame::NullArray,
            })
            .collect(),
    ))
}

pub fn geohash(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let scores = member_scores(ctx, args)?;
    Ok(Frame::Array(
        scores
            .into_iter()
            .map(|s| s.map_or(Frame::Null, |s| Frame::text(geohash_string(s))))
            .collect(),
    ))
}

pub fn geodist(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let to_meters = match args.len() {
        4 => 1.0,
        5 => parse_unit(&args[4])?,
        _ => return Err(ReplyError::Syntax),
    };
    let Some(zset) = ZSet::lookup(ctx, &args[1])? else {
        return Ok(Frame::Null);
    };
    let (Some(a), Some(b)) = (
        member_position(&zset, &args[2])?,
        member_position(&zset, &args[3])?,
    ) else {
        return Ok(Frame::Null);
    };
    Ok(distance_reply(distance(a.0, a.1, b.0, b.1) / to_meters))
}

/// Which command of the search family is running.
#[derive(Clone, Copy, PartialEq)]
enum Form {
    /// GEORADIUS[_RO] key lon lat radius unit ...
    Radius,
    /// GEORADIUSBYMEMBER[_RO] key member radius unit ...
    ByMember,
    /// GEOSEARCH key FROMMEMBER|FROMLONLAT BYRADIUS|BYBOX ...
    Search,
    /// GEOSEARCHSTORE dst key ...
    SearchStore,
}

/// ASC/DESC by distance, or the cells' scan order.
#[derive(Clone, Copy, PartialEq)]
enum Order {
    None,
    Asc,
    Desc,
}

/// One match of a search.
struct Found {
    member: Bytes,
    score: f64,
    lon: f64,
    lat: f64,
    /// Meters from the centre, converted to the unit before replying.
    dist: f64,
}

/// Scans the cells covering `shape` in Redis's order, keeping members inside it; with a
/// `limit` (ANY), stops once that many are found.
fn search_cells(zset: &ZSet<'_>, shape: &Shape, limit: usize) -> CmdResult<Vec<Found>> {
    let cells = shape.cells();
    let mut found = Vec::new();
    let full = |found: &Vec<Found>| limit > 0 && found.len() >= limit;
    // Redis skips a cell equal to the one scanned just before (huge radii), but never compares
    // with the centre cell.
    let mut last = 0;
    for (i, cell) in cells.iter().enumerate() {
        let Some(cell) = cell else {
            continue;
        };
        if last != 0 && cells[last] == Some(*cell) {
            continue;
        }
        if full(&found) {
            break;
        }
        let (min, max) = cell.score_range();
        let range = ScoreRange {
            min: min as f64,
            max: max as f64,
            minex: false,
            maxex: true,
        };
        walk_interval(zset, &range, false, 0, -1, |score, member| {
            let (lon, lat) = decode_score(score);
            if let Some(dist) = shape.contains(lon, lat) {
                found.push(Found {
                    member: Bytes::copy_from_slice(member),
                    score,
                    lon,
                    lat,
                    dist,
                });
            }
            !full(&found)
        })?;
        last = i;
    }
    Ok(found)
}

/// GEORADIUS, GEORADIUSBYMEMBER, GEOSEARCH, GEOSEARCHSTORE and the read-only forms, with Redis's
/// order of argument checks.
fn search(ctx: &Ctx<'_>, args: &[Bytes], kind: Form, read_only: bool) -> CmdResult {
    let searching = matches!(kind, Form::Search | Form::SearchStore);
    let src = if kind == Form::SearchStore {
        &args[2]
    } else {
        &args[1]
    };
    // Lock the source and every key the command might store into before reading anything.
    let mut written: Vec<&Bytes> = Vec::new();
    if kind == Form::SearchStore {
        written.push(&args[1]);
    } else if !searching && !read_only {
        written.extend(
            args.windows(2)
                .filter(|w| is_opt(&w[0], "store") || is_opt(&w[0], "storedist"))
                .map(|w| &w[1]),
        );
    }
    let store = ctx.store();
    let _guard = (!written.is_empty()).then(|| {
        store.lock_many(
            written
                .iter()
                .chain(std::iter::once(&src))
                .map(|k| (ctx.db, &k[..])),
        )
    });
    let zset = ZSet::lookup(ctx, src)?;

    let mut center = (0.0, 0.0);
    let mut reach = (Reach::Radius(0.0), 1.0);
    let mut store_key: Option<&Bytes> = None;
    let base = match kind {
        Form::Radius => {
            center = parse_lonlat(&args[2], &args[3])?;
            reach = parse_radius(&args[4], &args[5])?;
            6
        }
        Form::ByMember => {
            // Without a source key Redis goes on parsing only to pick the right empty reply.
            if let Some(zset) = &zset {
                center = position_of(zset, &args[2])?;
                reach = parse_radius(&args[3], &args[4])?;
            }
            5
        }
        Form::Search => 2,
        Form::SearchStore => {
            store_key = Some(&args[1]);
            3
        }
    };
    let (mut withdist, mut withhash, mut withcoord, mut any) = (false, false, false, false);
    let (mut from_member, mut from_lonlat, mut by_radius, mut by_box) =
        (false, false, false, false);
    let mut store_dist = false;
    let mut order = Order::None;
    let mut count = 0usize;
    let mut i = base;
    while i < args.len() {
        let arg = &args[i];
        let more = args.len() - i - 1;
        if is_opt(arg, "withdist") {
            withdist = true;
        } else if is_opt(arg, "withhash") {
            withhash = true;
        } else if is_opt(arg, "withcoord") {
            withcoord = true;
        } else if is_opt(arg, "any") {
            any = true;
        } else if is_opt(arg, "asc") {
            order = Order::Asc;
        } else if is_opt(arg, "desc") {
            order = Order::Desc;
        } else if is_opt(arg, "count") && more >= 1 {
            let n = arg_i64(&args[i + 1])?;
            if n <= 0 {
                return Err(ReplyError::custom("ERR COUNT must be > 0"));
            }
            count = n as usize;
            i += 1;
        } else if (is_opt(arg, "store") || is_opt(arg, "storedist"))
            && more >= 1
            && !read_only
            && !searching
        {
            store_key = Some(&args[i + 1]);
            store_dist = is_opt(arg, "storedist");
            i += 1;
        } else if is_opt(arg, "storedist") && kind == Form::SearchStore {
            store_dist = true;
        } else if is_opt(arg, "frommember") && more >= 1 && searching && !from_lonlat {
            if let Some(zset) = &zset {
                center = position_of(zset, &args[i + 1])?;
            }
            from_member = true;
            i += 1;
        } else if is_opt(arg, "fromlonlat") && more >= 2 && searching && !from_member {
            center = parse_lonlat(&args[i + 1], &args[i + 2])?;
            from_lonlat = true;
            i += 2;
        } else if is_opt(arg, "byradius") && more >= 2 && searching && !by_box {
            reach = parse_radius(&args[i + 1], &args[i + 2])?;
            by_radius = true;
            i += 2;
        } else if is_opt(arg, "bybox") && more >= 3 && searching && !by_radius {
            reach = parse_box(&args[i + 1], &args[i + 2], &args[i + 3])?;
            by_box = true;
            i += 3;
        } else {
            return Err(ReplyError::Syntax);
        }
        i += 1;
    }
    if store_key.is_some() && (withdist || withhash || withcoord) {
        let what = if kind == Form::SearchStore {
            "GEOSEARCHSTORE"
        } else {
            "STORE option in GEORADIUS"
        };
        return Err(ReplyError::custom(format!(
            "ERR {what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
        )));
    }
    let name = String::from_utf8_lossy(&args[0]);
    if searching && !(from_member || from_lonlat) {
        return Err(ReplyError::custom(format!(
            "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}"
        )));
    }
    if searching && !(by_radius || by_box) {
        return Err(ReplyError::custom(format!(
            "ERR exactly one of BYRADIUS and BYBOX can be specified for {name}"
        )));
    }
    if any && count == 0 {
        return Err(ReplyError::custom(
            "ERR the ANY argument requires COUNT argument",
        ));
    }
    let found = match &zset {
        Some(zset) => {
            let shape = Shape {
                lon: center.0,
                lat: center.1,
                area: reach.0,
                conversion: reach.1,
            };
            search_cells(zset, &shape, if any { count } else { 0 })?
        }
        None => Vec::new(),
    };
    if count > 0 && order == Order::None && !any {
        order = Order::Asc;
    }
    let mut found = found;
    match order {
        Order::Asc => found.sort_by(|a, b| a.dist.total_cmp(&b.dist)),
        Order::Desc => found.sort_by(|a, b| b.dist.total_cmp(&a.dist)),
        Order::None => {}
    }
    if count > 0 {
        found.truncate(count);
    }
    let conversion = reach.1;
    for f in &mut found {
        f.dist /= conversion;
    }
    if let Some(dst) = store_key {
        let entries: Vec<(Bytes, f64)> = found
            .into_iter()
            .map(|f| (f.member, if store_dist { f.dist } else { f.score }))
            .collect();
        let expanded = result_expanded(ctx, &entries);
        let event = if searching {
            "geosearchstore"
        } else {
            "georadiusstore"
        };
        let stored = store_result(ctx, dst, &entries, expanded, event)?;
        return Ok(Frame::Integer(stored));
    }
    let plain = !(withdist || withhash || withcoord);
    Ok(Frame::Array(
        found
            .into_iter()
            .map(|f| {
                if plain {
                    return Frame::Bulk(f.member);
                }
                let mut item = vec![Frame::Bulk(f.member)];
                if withdist {
                    item.push(distance_reply(f.dist));
                }
                if withhash {
                    item.push(Frame::Integer(f.score as i64));
                }
                if withcoord {
                    item.push(Frame::Array(vec![coordinate(f.lon), coordinate(f.lat)]));
                }
                Frame::Array(item)
            })
            .collect(),
    ))
}

pub fn georadius(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    search(ctx, args, Form::Radius, false)
}

pub fn georadius_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    search(ctx, args, Form::Radius, true)
}

pub fn georadiusbymember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    search(ctx, args, Form::ByMember, false)
}

pub fn georadiusbymember_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    search(ctx, args, Form::ByMember, true)
}

pub fn geosearch(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    search(ctx, args, Form::Search, false)
}

pub fn geosearchstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    search(ctx, args, Form::SearchStore, false)
}
