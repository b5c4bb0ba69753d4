//! Replies between Redis and Lua, converted exactly as Redis 7.0's `script_lua.c` does.
//!
//! Command replies become Lua values (a status is `{ok=...}`, an error `{err=...}`, a RESP2 null
//! `false`, a RESP3 null `nil`, RESP3 types tables such as `{double=...}` or `{map=...}`), and a
//! script's return value becomes a reply (a number is truncated to an integer, a table is an
//! array up to its first nil unless it carries one of those fields).
//!
//! Every function here works on the top of a Lua stack and is `unsafe` for that reason: the
//! caller owns the `lua_State` and has room for a few slots.

use std::ffi::{c_char, c_int};

use bytes::Bytes;
use mlua_sys as ffi;

use crate::resp::Frame;

/// Pushes a byte string.
pub(super) unsafe fn push_bytes(l: *mut ffi::lua_State, bytes: &[u8]) {
    ffi::lua_pushlstring(l, bytes.as_ptr().cast::<c_char>(), bytes.len());
}

/// Sets `table[name] = <top>` on the table just below the top, popping the value.
unsafe fn set_field(l: *mut ffi::lua_State, name: &str) {
    push_bytes(l, name.as_bytes());
    ffi::lua_insert(l, -2);
    ffi::lua_settable(l, -3);
}

/// The bytes of the string (or number) at `index`, if it is one.
pub(super) unsafe fn to_bytes<'a>(l: *mut ffi::lua_State, index: c_int) -> Option<&'a [u8]> {
    let mut len = 0usize;
    let ptr = ffi::lua_tolstring(l, index, &mut len);
    (!ptr.is_null()).then(|| std::slice::from_raw_parts(ptr.cast::<u8>(), len))
}

/// Pushes `{err = "CODE message"}` as Redis's `luaPushErrorBuff` builds it: a text that starts
/// with `-` carries its own code (`-WRONGTYPE ...`), any other text gets `ERR`.
pub(super) unsafe fn push_error_table(l: *mut ffi::lua_State, text: &str) {
    let (code, message) = match text.strip_prefix('-') {
        Some(rest) => match rest.split_once(' ') {
            Some((code, message)) => (code, message),
            None => ("ERR", rest),
        },
        None => ("ERR", text),
    };
    let message = message.trim_matches(['\r', '\n']);
    ffi::lua_createtable(l, 0, 2);
    push_bytes(l, format!("{code} {message}").as_bytes());
    set_field(l, "err");
}

/// Marks the error table on top as already counted in the error statistics (errors that a
/// command called from the script answered).
pub(super) unsafe fn mark_counted(l: *mut ffi::lua_State) {
    ffi::lua_pushboolean(l, 1);
    set_field(l, "ignore_error_stats_update");
}

/// Pushes a command's reply as Redis hands it to a script speaking RESP2 (`resp3 == false`) or
/// RESP3.
pub(super) unsafe fn push_reply(l: *mut ffi::lua_State, frame: &Frame, resp3: bool) {
    ffi::lua_checkstack(l, 4);
    match frame {
        Frame::Simple(text) => {
            ffi::lua_createtable(l, 0, 1);
            push_bytes(l, text);
            set_field(l, "ok");
        }
        Frame::Error(text) => {
            push_error_table(l, &format!("-{text}"));
            mark_counted(l);
        }
        Frame::Integer(n) => ffi::lua_pushnumber(l, *n as f64),
        Frame::Bulk(data) => push_bytes(l, data),
        Frame::Null | Frame::NullArray => {
            if resp3 {
                ffi::lua_pushnil(l)
            } else {
                ffi::lua_pushboolean(l, 0)
            }
        }
        Frame::Array(items) | Frame::Push(items) => push_array(l, items.iter(), resp3),
        Frame::Set(items) if !resp3 => push_array(l, items.iter(), resp3),
        Frame::Set(items) => {
            ffi::lua_createtable(l, 0, 1);
            ffi::lua_createtable(l, 0, items.len() as c_int);
            for item in items {
                push_reply(l, item, resp3);
                ffi::lua_pushboolean(l, 1);
                ffi::lua_settable(l, -3);
            }
            set_field(l, "set");
        }
        Frame::Map(pairs) if !resp3 => push_array(l, pairs.iter().flat_map(|(k, v)| [k, v]), resp3),
        Frame::Map(pairs) => {
            ffi::lua_createtable(l, 0, 1);
            ffi::lua_createtable(l, 0, pairs.len() as c_int);
            for (key, value) in pairs {
                push_reply(l, key, resp3);
                push_reply(l, value, resp3);
                ffi::lua_settable(l, -3);
            }
            set_field(l, "map");
        }
        Frame::Double(d) if resp3 => push_double_table(l, *d),
        Frame::Double(d) => push_bytes(l, crate::util::number::format_double(*d).as_bytes()),
        Frame::DoubleText(text) if resp3 => {
            let value = crate::util::number::parse_f64(text).unwrap_or(f64::NAN);
            push_double_table(l, value)
        }
        Frame::DoubleText(text) | Frame::Verbatim(text) | Frame::BigNumber(text) if !resp3 => {
            push_bytes(l, text)
        }
        Frame::DoubleText(_) => unreachable!("handled above"),
        Frame::Boolean(b) if resp3 => ffi::lua_pushboolean(l, c_int::from(*b)),
        Frame::Boolean(b) => ffi::lua_pushnumber(l, if *b { 1.0 } else { 0.0 }),
        Frame::Verbatim(text) => {
            ffi::lua_createtable(l, 0, 1);
            ffi::lua_createtable(l, 0, 2);
            push_bytes(l, text);
            set_field(l, "string");
            push_bytes(l, b"txt");
            set_field(l, "format");
            set_field(l, "verbatim_string");
        }
        Frame::BigNumber(text) => {
            ffi::lua_createtable(l, 0, 1);
            push_bytes(l, text);
            set_field(l, "big_number");
        }
    }
}

unsafe fn push_double_table(l: *mut ffi::lua_State, value: f64) {
    ffi::lua_createtable(l, 0, 1);
    ffi::lua_pushnumber(l, value);
    set_field(l, "double");
}

unsafe fn push_array<'f>(
    l: *mut ffi::lua_State,
    items: impl Iterator<Item = &'f Frame>,
    resp3: bool,
) {
    ffi::lua_newtable(l);
    for (i, item) in items.enumerate() {
        push_reply(l, item, resp3);
        ffi::lua_rawseti(l, -2, i as ffi::lua_Integer + 1);
    }
}

/// The string field `name` of the table at the top, if there is one (raw access, as Redis).
unsafe fn string_field(l: *mut ffi::lua_State, name: &str) -> Option<Bytes> {
    push_bytes(l, name.as_bytes());
    ffi::lua_rawget(l, -2);
    let value = (ffi::lua_type(l, -1) == ffi::LUA_TSTRING)
        .then(|| to_bytes(l, -1).map(Bytes::copy_from_slice))
        .flatten();
    ffi::lua_pop(l, 1);
    value
}

/// How deep a script's reply may nest. Redis stops where its Lua stack ends (about 8000
/// levels); Kiwi stops earlier, where encoding the reply is still cheap, with the same error.
const MAX_REPLY_DEPTH: usize = 1000;

/// Turns the value on top of the stack into a reply and pops it. `resp3` is the protocol the
/// script chose with `redis.setresp` (booleans are RESP3 booleans only then).
pub(super) unsafe fn pop_reply(l: *mut ffi::lua_State, resp3: bool) -> Frame {
    pop_nested_reply(l, resp3, 0)
}

unsafe fn pop_nested_reply(l: *mut ffi::lua_State, resp3: bool, depth: usize) -> Frame {
    if depth > MAX_REPLY_DEPTH || ffi::lua_checkstack(l, 4) == 0 {
        ffi::lua_pop(l, 1);
        return Frame::Error("ERR reached lua stack limit".into());
    }
    let frame = match ffi::lua_type(l, -1) {
        ffi::LUA_TSTRING => Frame::Bulk(
            to_bytes(l, -1)
                .map(Bytes::copy_from_slice)
                .unwrap_or_default(),
        ),
        ffi::LUA_TBOOLEAN => {
            let value = ffi::lua_toboolean(l, -1) != 0;
            match (resp3, value) {
                (true, b) => Frame::Boolean(b),
                (false, true) => Frame::Integer(1),
                (false, false) => Frame::Null,
            }
        }
        ffi::LUA_TNUMBER => Frame::Integer(ffi::lua_tonumber(l, -1) as i64),
        ffi::LUA_TTABLE => table_reply(l, resp3, depth),
        _ => Frame::Null,
    };
    ffi::lua_pop(l, 1);
    frame
}

/// A table's reply: an error, a status, a RESP3 type, or an array (leaves the table in place).
unsafe fn table_reply(l: *mut ffi::lua_State, resp3: bool, depth: usize) -> Frame {
    if let Some(err) = string_field(l, "err") {
        return Frame::Error(String::from_utf8_lossy(&err).into_owned());
    }
    if let Some(ok) = string_field(l, "ok") {
        return Frame::Simple(spaces_for_newlines(&ok));
    }
    push_bytes(l, b"double");
    ffi::lua_rawget(l, -2);
    if ffi::lua_type(l, -1) == ffi::LUA_TNUMBER {
        let value = ffi::lua_tonumber(l, -1);
        ffi::lua_pop(l, 1);
        return Frame::Double(value);
    }
    ffi::lua_pop(l, 1);
    if let Some(number) = string_field(l, "big_number") {
        return Frame::BigNumber(spaces_for_newlines(&number));
    }
    push_bytes(l, b"verbatim_string");
    ffi::lua_rawget(l, -2);
    if ffi::lua_type(l, -1) == ffi::LUA_TTABLE {
        let format = string_field(l, "format");
        let text = string_field(l, "string");
        if let (Some(_), Some(text)) = (format, text) {
            ffi::lua_pop(l, 1);
            return Frame::Verbatim(text);
        }
    }
    ffi::lua_pop(l, 1);
    for kind in ["map", "set"] {
        push_bytes(l, kind.as_bytes());
        ffi::lua_rawget(l, -2);
        if ffi::lua_type(l, -1) == ffi::LUA_TTABLE {
            let mut items = Vec::new();
            let mut pairs = Vec::new();
            ffi::lua_pushnil(l);
            while ffi::lua_next(l, -2) != 0 {
                // Stack: table, key, value.
                if kind == "map" {
                    ffi::lua_pushvalue(l, -2);
                    let key = pop_nested_reply(l, resp3, depth + 1);
                    let value = pop_nested_reply(l, resp3, depth + 1);
                    pairs.push((key, value));
                } else {
                    ffi::lua_pop(l, 1);
                    ffi::lua_pushvalue(l, -1);
                    items.push(pop_nested_reply(l, resp3, depth + 1));
                }
            }
            ffi::lua_pop(l, 1);
            return if kind == "map" {
                Frame::Map(pairs)
            } else {
                Frame::Set(items)
            };
        }
        ffi::lua_pop(l, 1);
    }
    let mut items = Vec::new();
    for i in 1.. {
        ffi::lua_rawgeti(l, -1, i);
        if ffi::lua_type(l, -1) == ffi::LUA_TNIL {
            ffi::lua_pop(l, 1);
            break;
        }
        items.push(pop_nested_reply(l, resp3, depth + 1));
    }
    Frame::Array(items)
}

/// Redis maps CR and LF to spaces in status and big-number replies built by scripts.
fn spaces_for_newlines(text: &[u8]) -> Bytes {
    text.iter()
        .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b })
        .collect::<Vec<u8>>()
        .into()
}
