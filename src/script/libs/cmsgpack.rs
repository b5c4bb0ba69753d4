//! `cmsgpack`: MessagePack for scripts, with the API Redis ships (`pack`, `unpack`,
//! `unpack_one`, `unpack_limit`). Integral numbers are packed as the smallest integer type,
//! others as a float when that is exact, else a double; a table whose keys are exactly 1..n is
//! an array, any other a map; nesting deeper than 16 tables is packed as nil (so a table that
//! contains itself is copied 16 levels deep, as in Redis).

use std::ffi::c_int;

use mlua_sys as ffi;

use super::{new_library, raise_message};
use crate::script::convert::{push_bytes, to_bytes};

/// Tables nested deeper than this are packed as nil.
const MAX_NESTING: usize = 16;

pub(super) unsafe fn open(l: *mut ffi::lua_State) {
    new_library(
        l,
        &[
            (c"pack", pack),
            (c"unpack", unpack),
            (c"unpack_one", unpack_one),
            (c"unpack_limit", unpack_limit),
        ],
        false,
    );
    push_bytes(l, b"cmsgpack");
    ffi::lua_setfield(l, -2, c"_NAME".as_ptr());
    push_bytes(l, b"lua-cmsgpack 0.4.0");
    ffi::lua_setfield(l, -2, c"_VERSION".as_ptr());
    ffi::lua_setglobal(l, c"cmsgpack".as_ptr());
}

unsafe extern "C-unwind" fn pack(l: *mut ffi::lua_State) -> c_int {
    let count = ffi::lua_gettop(l);
    if count == 0 {
        return raise_message(l, "MessagePack pack needs input.".into());
    }
    if ffi::lua_checkstack(l, count + 4) == 0 {
        return raise_message(l, "Too many arguments for MessagePack pack.".into());
    }
    let mut out = Vec::new();
    for i in 1..=count {
        ffi::lua_pushvalue(l, i);
        pack_value(l, &mut out, 0);
        ffi::lua_pop(l, 1);
    }
    push_bytes(l, &out);
    1
}

/// Appends the value on top of the stack (left in place).
unsafe fn pack_value(l: *mut ffi::lua_State, out: &mut Vec<u8>, level: usize) {
    match ffi::lua_type(l, -1) {
        ffi::LUA_TSTRING => pack_bytes(out, to_bytes(l, -1).unwrap_or_default()),
        ffi::LUA_TBOOLEAN => out.push(if ffi::lua_toboolean(l, -1) != 0 {
            0xc3
        } else {
            0xc2
        }),
        ffi::LUA_TNUMBER => pack_number(out, ffi::lua_tonumber(l, -1)),
        ffi::LUA_TTABLE if level < MAX_NESTING && ffi::lua_checkstack(l, 3) != 0 => {
            match array_length(l) {
                Some(length) => {
                    pack_header(out, length, 0x90, 0xdc);
                    for i in 1..=length {
                        ffi::lua_rawgeti(l, -1, i as ffi::lua_Integer);
                        pack_value(l, out, level + 1);
                        ffi::lua_pop(l, 1);
                    }
                }
                None => {
                    let mut entries = 0usize;
                    ffi::lua_pushnil(l);
                    while ffi::lua_next(l, -2) != 0 {
                        ffi::lua_pop(l, 1);
                        entries += 1;
                    }
                    pack_header(out, entries, 0x80, 0xde);
                    ffi::lua_pushnil(l);
                    while ffi::lua_next(l, -2) != 0 {
                        ffi::lua_pushvalue(l, -2);
                        pack_value(l, out, level + 1);
                        ffi::lua_pop(l, 1);
                        pack_value(l, out, level + 1);
                        ffi::lua_pop(l, 1);
                    }
                }
            }
        }
        _ => out.push(0xc0),
    }
}

/// The length of the table on top if its keys are exactly 1..n (n > 0).
unsafe fn array_length(l: *mut ffi::lua_State) -> Option<usize> {
    let mut count = 0usize;
    let mut max = 0f64;
    ffi::lua_pushnil(l);
    while ffi::lua_next(l, -2) != 0 {
        ffi::lua_pop(l, 1);
        let index = (ffi::lua_type(l, -1) == ffi::LUA_TNUMBER)
            .then(|| ffi::lua_tonumber(l, -1))
            .filter(|n| *n >= 1.0 && n.floor() == *n);
        let Some(index) = index else {
            ffi::lua_pop(l, 1);
            return None;
        };
        max = max.max(index);
        count += 1;
    }
    (count > 0 && max as usize == count).then_some(count)
}

/// An array (`fix` 0x90, `wide` 0xdc) or map (0x80, 0xde) header.
fn pack_header(out: &mut Vec<u8>, length: usize, fix: u8, wide: u8) {
    if length < 16 {
        out.push(fix | length as u8);
    } else if length <= 0xffff {
        out.push(wide);
        out.extend_from_slice(&(length as u16).to_be_bytes());
    } else {
        out.push(wide + 1);
        out.extend_from_slice(&(length as u32).to_be_bytes());
    }
}

fn pack_bytes(out: &mut Vec<u8>, data: &[u8]) {
    let len = data.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if len <= 0xff {
        out.extend_from_slice(&[0xd9, len as u8]);
    } else if len <= 0xffff {
        out.push(0xda);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(data);
}

fn pack_number(out: &mut Vec<u8>, n: f64) {
    let integral = n.is_finite() && n.floor() == n && n >= i64::MIN as f64 && n < 9.3e18;
    if !integral {
        if (n as f32) as f64 == n {
            out.push(0xca);
            out.extend_from_slice(&(n as f32).to_be_bytes());
        } else {
            out.push(0xcb);
            out.extend_from_slice(&n.to_be_bytes());
        }
        return;
    }
    if n >= 0.0 {
        let v = n as u64;
        match v {
            0..=0x7f => out.push(v as u8),
            0x80..=0xff => out.extend_from_slice(&[0xcc, v as u8]),
            0x100..=0xffff => {
                out.push(0xcd);
                out.extend_from_slice(&(v as u16).to_be_bytes());
            }
            0x1_0000..=0xffff_ffff => {
                out.push(0xce);
                out.extend_from_slice(&(v as u32).to_be_bytes());
            }
            _ => {
                out.push(0xcf);
                out.extend_from_slice(&v.to_be_bytes());
            }
        }
    } else {
        let v = n as i64;
        if v >= -32 {
            out.push(v as i8 as u8);
        } else if v >= i8::MIN as i64 {
            out.extend_from_slice(&[0xd0, v as i8 as u8]);
        } else if v >= i16::MIN as i64 {
            out.push(0xd1);
            out.extend_from_slice(&(v as i16).to_be_bytes());
        } else if v >= i32::MIN as i64 {
            out.push(0xd2);
            out.extend_from_slice(&(v as i32).to_be_bytes());
        } else {
            out.push(0xd3);
            out.extend_from_slice(&v.to_be_bytes());
        }
    }
}

/// `unpack(data)`: every object in `data`.
unsafe extern "C-unwind" fn unpack(l: *mut ffi::lua_State) -> c_int {
    unpack_from(l, 0, 0, false)
}

/// `unpack_one(data [, offset])`: the next object, after the offset of the one after it (-1
/// at the end).
unsafe extern "C-unwind" fn unpack_one(l: *mut ffi::lua_State) -> c_int {
    let offset = ffi::luaL_optinteger(l, 2, 0);
    unpack_from(l, 1, offset as i64, true)
}

/// `unpack_limit(data, limit [, offset])`: up to `limit` objects (0: all), after the offset.
unsafe extern "C-unwind" fn unpack_limit(l: *mut ffi::lua_State) -> c_int {
    let limit = ffi::luaL_checkinteger(l, 2);
    let offset = ffi::luaL_optinteger(l, 3, 0);
    unpack_from(l, limit as i64, offset as i64, true)
}

unsafe fn unpack_from(l: *mut ffi::lua_State, limit: i64, offset: i64, with_offset: bool) -> c_int {
    let mut len = 0usize;
    let ptr = ffi::luaL_checklstring(l, 1, &mut len);
    let data = std::slice::from_raw_parts(ptr.cast::<u8>(), len);
    if limit < 0 || offset < 0 {
        return raise_message(
            l,
            format!("Invalid request to unpack with offset of {offset} and limit of {limit}."),
        );
    }
    let Ok(mut pos) = usize::try_from(offset) else {
        return 0;
    };
    if pos > len {
        return raise_message(l, "Start offset greater than input length.".into());
    }
    if with_offset {
        // Placeholder for the offset, set once the objects are read.
        ffi::lua_pushnil(l);
    }
    let base = ffi::lua_gettop(l);
    let mut count = 0i64;
    while pos < len && (limit == 0 || count < limit) {
        if ffi::lua_checkstack(l, 8) == 0 {
            return raise_message(l, "Too many objects to unpack.".into());
        }
        match unpack_value(l, data, &mut pos, 0) {
            Ok(()) => count += 1,
            Err(message) => return raise_message(l, message.into()),
        }
    }
    if with_offset {
        let next = if pos >= len { -1.0 } else { pos as f64 };
        ffi::lua_pushnumber(l, next);
        ffi::lua_replace(l, base);
        count += 1;
    }
    count as c_int
}

/// Reads `n` bytes at `pos`.
fn take<'d>(data: &'d [u8], pos: &mut usize, n: usize) -> Result<&'d [u8], &'static str> {
    let end = pos.checked_add(n).ok_or("Missing bytes in input.")?;
    let bytes = data.get(*pos..end).ok_or("Missing bytes in input.")?;
    *pos = end;
    Ok(bytes)
}

fn be(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0, |acc, &b| (acc << 8) | b as u64)
}

/// Pushes the object at `pos`.
unsafe fn unpack_value(
    l: *mut ffi::lua_State,
    data: &[u8],
    pos: &mut usize,
    depth: usize,
) -> Result<(), &'static str> {
    if depth > 1000 || ffi::lua_checkstack(l, 4) == 0 {
        return Err("Too deeply nested MessagePack input.");
    }
    let kind = take(data, pos, 1)?[0];
    match kind {
        0x00..=0x7f => ffi::lua_pushnumber(l, kind as f64),
        0xe0..=0xff => ffi::lua_pushnumber(l, kind as i8 as f64),
        0xc0 => ffi::lua_pushnil(l),
        0xc2 => ffi::lua_pushboolean(l, 0),
        0xc3 => ffi::lua_pushboolean(l, 1),
        0xcc..=0xcf => {
            let width = 1 << (kind - 0xcc);
            ffi::lua_pushnumber(l, be(take(data, pos, width)?) as f64);
        }
        0xd0..=0xd3 => {
            let width = 1 << (kind - 0xd0);
            let raw = be(take(data, pos, width)?);
            let shift = 64 - 8 * width as u32;
            ffi::lua_pushnumber(l, ((raw << shift) as i64 >> shift) as f64);
        }
        0xca => {
            let raw = be(take(data, pos, 4)?) as u32;
            ffi::lua_pushnumber(l, f32::from_bits(raw) as f64);
        }
        0xcb => ffi::lua_pushnumber(l, f64::from_bits(be(take(data, pos, 8)?))),
        0xa0..=0xbf => push_bytes(l, take(data, pos, (kind & 0x1f) as usize)?),
        0xd9 | 0xc4 => {
            let n = be(take(data, pos, 1)?) as usize;
            push_bytes(l, take(data, pos, n)?);
        }
        0xda | 0xc5 => {
            let n = be(take(data, pos, 2)?) as usize;
            push_bytes(l, take(data, pos, n)?);
        }
        0xdb | 0xc6 => {
            let n = be(take(data, pos, 4)?) as usize;
            push_bytes(l, take(data, pos, n)?);
        }
        0x90..=0x9f => unpack_table(l, data, pos, (kind & 0x0f) as usize, depth, false)?,
        0xdc | 0xdd => {
            let n = be(take(data, pos, if kind == 0xdc { 2 } else { 4 })?) as usize;
            unpack_table(l, data, pos, n, depth, false)?;
        }
        0x80..=0x8f => unpack_table(l, data, pos, (kind & 0x0f) as usize, depth, true)?,
        0xde | 0xdf => {
            let n = be(take(data, pos, if kind == 0xde { 2 } else { 4 })?) as usize;
            unpack_table(l, data, pos, n, depth, true)?;
        }
        _ => return Err("Bad data format in input."),
    }
    Ok(())
}

/// Pushes a table of `n` elements (an array) or `n` key-value pairs (a map).
unsafe fn unpack_table(
    l: *mut ffi::lua_State,
    data: &[u8],
    pos: &mut usize,
    n: usize,
    depth: usize,
    map: bool,
) -> Result<(), &'static str> {
    // Every value takes at least one byte: a huge count in a short input is refused before
    // anything is allocated for it.
    let per_entry = if map { 2 } else { 1 };
    if n > (data.len() - *pos) / per_entry {
        return Err("Missing bytes in input.");
    }
    if map {
        ffi::lua_createtable(l, 0, n as c_int);
    } else {
        ffi::lua_createtable(l, n as c_int, 0);
    }
    for i in 1..=n {
        if !map {
            unpack_value(l, data, pos, depth + 1)?;
            ffi::lua_rawseti(l, -2, i as ffi::lua_Integer);
            continue;
        }
        unpack_value(l, data, pos, depth + 1)?;
        unpack_value(l, data, pos, depth + 1)?;
        // A nil key cannot be stored; Redis drops such pairs too.
        if ffi::lua_type(l, -2) == ffi::LUA_TNIL {
            ffi::lua_pop(l, 2);
        } else {
            ffi::lua_rawset(l, -3);
        }
    }
    Ok(())
}
