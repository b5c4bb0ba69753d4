//! `cjson`: JSON for scripts, with the Lua CJSON 2.1 API Redis ships: `encode`, `decode`,
//! `null`, and the settings `encode_max_depth`, `decode_max_depth`, `encode_invalid_numbers`,
//! `decode_invalid_numbers`, `encode_number_precision`, `encode_keep_buffer` and
//! `encode_sparse_array`. Numbers are written with `%.14g`; a table whose keys are 1..n is an
//! array (an excessively sparse one is an error); the empty table is `{}`.

use std::ffi::{c_int, c_void};

use mlua_sys as ffi;

use super::{new_library, raise_message};
use crate::script::convert::{push_bytes, to_bytes};

/// The settings, one set per interpreter (a userdata every function closes over).
#[derive(Clone, Copy)]
struct Settings {
    encode_max_depth: i64,
    decode_max_depth: i64,
    /// 0: refuse NaN and infinities; 1: write them (`nan`, `inf`); 2: write `null`.
    encode_invalid_numbers: u8,
    decode_invalid_numbers: bool,
    encode_number_precision: i64,
    encode_keep_buffer: bool,
    sparse_convert: bool,
    sparse_ratio: i64,
    sparse_safe: i64,
}

const DEFAULTS: Settings = Settings {
    encode_max_depth: 1000,
    decode_max_depth: 1000,
    encode_invalid_numbers: 0,
    decode_invalid_numbers: true,
    encode_number_precision: 14,
    encode_keep_buffer: true,
    sparse_convert: false,
    sparse_ratio: 2,
    sparse_safe: 10,
};

pub(super) unsafe fn open(l: *mut ffi::lua_State) {
    let settings = ffi::lua_newuserdata(l, std::mem::size_of::<Settings>()).cast::<Settings>();
    settings.write(DEFAULTS);
    new_library(
        l,
        &[
            (c"encode", encode),
            (c"decode", decode),
            (c"encode_max_depth", encode_max_depth),
            (c"decode_max_depth", decode_max_depth),
            (c"encode_invalid_numbers", encode_invalid_numbers),
            (c"decode_invalid_numbers", decode_invalid_numbers),
            (c"encode_number_precision", encode_number_precision),
            (c"encode_keep_buffer", encode_keep_buffer),
            (c"encode_sparse_array", encode_sparse_array),
        ],
        true,
    );
    ffi::lua_pushlightuserdata(l, std::ptr::null_mut());
    ffi::lua_setfield(l, -2, c"null".as_ptr());
    push_bytes(l, b"cjson");
    ffi::lua_setfield(l, -2, c"_NAME".as_ptr());
    push_bytes(l, b"2.1.0");
    ffi::lua_setfield(l, -2, c"_VERSION".as_ptr());
    ffi::lua_setglobal(l, c"cjson".as_ptr());
}

unsafe fn settings<'a>(l: *mut ffi::lua_State) -> &'a mut Settings {
    &mut *ffi::lua_touserdata(l, ffi::lua_upvalueindex(1)).cast::<Settings>()
}

/// A setting function's optional integer argument in `min..=max`.
unsafe fn int_setting(
    l: *mut ffi::lua_State,
    index: c_int,
    min: i64,
    max: i64,
    slot: &mut i64,
) -> c_int {
    if ffi::lua_isnoneornil(l, index) == 0 {
        let value = ffi::luaL_checkinteger(l, index) as i64;
        if !(min..=max).contains(&value) {
            let message = format!("expected integer between {min} and {max}");
            return raise_arg_error(l, index, message);
        }
        *slot = value;
    }
    ffi::lua_pushinteger(l, *slot as ffi::lua_Integer);
    1
}

unsafe fn raise_arg_error(l: *mut ffi::lua_State, index: c_int, message: String) -> c_int {
    let text = std::ffi::CString::new(message).unwrap_or_default();
    // The CString is leaked only if luaL_argerror unwinds, which it always does; copy first.
    push_bytes(l, text.as_bytes());
    drop(text);
    let copy = ffi::lua_tolstring(l, -1, std::ptr::null_mut());
    ffi::luaL_argerror(l, index, copy)
}

/// A setting function's optional boolean argument (`true`, `false`, or `on`/`off` strings).
unsafe fn bool_setting(l: *mut ffi::lua_State, index: c_int, slot: &mut bool) -> c_int {
    match ffi::lua_type(l, index) {
        ffi::LUA_TNONE | ffi::LUA_TNIL => {}
        ffi::LUA_TBOOLEAN => *slot = ffi::lua_toboolean(l, index) != 0,
        _ => match to_bytes(l, index) {
            Some(b"on") => *slot = true,
            Some(b"off") => *slot = false,
            _ => return raise_arg_error(l, index, "invalid option".into()),
        },
    }
    ffi::lua_pushboolean(l, c_int::from(*slot));
    1
}

unsafe extern "C-unwind" fn encode_max_depth(l: *mut ffi::lua_State) -> c_int {
    int_setting(l, 1, 1, i32::MAX as i64, &mut settings(l).encode_max_depth)
}

unsafe extern "C-unwind" fn decode_max_depth(l: *mut ffi::lua_State) -> c_int {
    int_setting(l, 1, 1, i32::MAX as i64, &mut settings(l).decode_max_depth)
}

unsafe extern "C-unwind" fn encode_number_precision(l: *mut ffi::lua_State) -> c_int {
    int_setting(l, 1, 1, 14, &mut settings(l).encode_number_precision)
}

unsafe extern "C-unwind" fn encode_keep_buffer(l: *mut ffi::lua_State) -> c_int {
    bool_setting(l, 1, &mut settings(l).encode_keep_buffer)
}

unsafe extern "C-unwind" fn decode_invalid_numbers(l: *mut ffi::lua_State) -> c_int {
    bool_setting(l, 1, &mut settings(l).decode_invalid_numbers)
}

unsafe extern "C-unwind" fn encode_invalid_numbers(l: *mut ffi::lua_State) -> c_int {
    let settings = settings(l);
    match ffi::lua_type(l, 1) {
        ffi::LUA_TNONE | ffi::LUA_TNIL => {}
        ffi::LUA_TBOOLEAN => {
            settings.encode_invalid_numbers = u8::from(ffi::lua_toboolean(l, 1) != 0)
        }
        _ => match to_bytes(l, 1) {
            Some(b"on") => settings.encode_invalid_numbers = 1,
            Some(b"off") => settings.encode_invalid_numbers = 0,
            Some(b"null") => settings.encode_invalid_numbers = 2,
            _ => return raise_arg_error(l, 1, "invalid option".into()),
        },
    }
    match settings.encode_invalid_numbers {
        2 => push_bytes(l, b"null"),
        n => ffi::lua_pushboolean(l, c_int::from(n == 1)),
    }
    1
}

unsafe extern "C-unwind" fn encode_sparse_array(l: *mut ffi::lua_State) -> c_int {
    let settings = settings(l);
    bool_setting(l, 1, &mut settings.sparse_convert);
    ffi::lua_pop(l, 1);
    int_setting(l, 2, 0, i32::MAX as i64, &mut settings.sparse_ratio);
    ffi::lua_pop(l, 1);
    int_setting(l, 3, 0, i32::MAX as i64, &mut settings.sparse_safe);
    ffi::lua_pop(l, 1);
    ffi::lua_pushboolean(l, c_int::from(settings.sparse_convert));
    ffi::lua_pushinteger(l, settings.sparse_ratio as ffi::lua_Integer);
    ffi::lua_pushinteger(l, settings.sparse_safe as ffi::lua_Integer);
    3
}

unsafe extern "C-unwind" fn encode(l: *mut ffi::lua_State) -> c_int {
    if ffi::lua_gettop(l) != 1 {
        return ffi::luaL_argerror(l, 1, c"expected 1 argument".as_ptr());
    }
    let settings = *settings(l);
    let mut out = Vec::new();
    match encode_value(l, &settings, &mut out, 0) {
        Ok(()) => {
            push_bytes(l, &out);
            1
        }
        Err(message) => {
            drop(out);
            raise_message(l, message)
        }
    }
}

/// Appends the value on top of the stack (left in place).
unsafe fn encode_value(
    l: *mut ffi::lua_State,
    settings: &Settings,
    out: &mut Vec<u8>,
    depth: i64,
) -> Result<(), String> {
    match ffi::lua_type(l, -1) {
        ffi::LUA_TSTRING => encode_string(out, to_bytes(l, -1).unwrap_or_default()),
        ffi::LUA_TNUMBER => encode_number(settings, out, ffi::lua_tonumber(l, -1))?,
        ffi::LUA_TBOOLEAN => out.extend_from_slice(if ffi::lua_toboolean(l, -1) != 0 {
            b"true"
        } else {
            b"false"
        }),
        ffi::LUA_TNIL => out.extend_from_slice(b"null"),
        ffi::LUA_TLIGHTUSERDATA if ffi::lua_touserdata(l, -1).is_null() => {
            out.extend_from_slice(b"null")
        }
        ffi::LUA_TTABLE => {
            let depth = depth + 1;
            if depth > settings.encode_max_depth {
                return Err(format!("Cannot serialise, excessive nesting ({depth})"));
            }
            if ffi::lua_checkstack(l, 3) == 0 {
                return Err("Cannot serialise, excessive nesting".into());
            }
            match array_length(l, settings)? {
                Some(length) => encode_array(l, settings, out, depth, length)?,
                None => encode_object(l, settings, out, depth)?,
            }
        }
        other => {
            let name = std::ffi::CStr::from_ptr(ffi::lua_typename(l, other)).to_string_lossy();
            return Err(format!("Cannot serialise {name}: type not supported"));
        }
    }
    Ok(())
}

/// The array length of the table on top if its keys are exactly 1..n (holes allowed unless
/// excessively sparse), `None` if it is an object (any other key, or no key at all).
unsafe fn array_length(
    l: *mut ffi::lua_State,
    settings: &Settings,
) -> Result<Option<usize>, String> {
    let mut max = 0f64;
    let mut items = 0usize;
    ffi::lua_pushnil(l);
    while ffi::lua_next(l, -2) != 0 {
        ffi::lua_pop(l, 1);
        let is_index = ffi::lua_type(l, -1) == ffi::LUA_TNUMBER && {
            let key = ffi::lua_tonumber(l, -1);
            key >= 1.0 && key.floor() == key
        };
        if !is_index {
            ffi::lua_pop(l, 1);
            return Ok(None);
        }
        max = max.max(ffi::lua_tonumber(l, -1));
        items += 1;
    }
    if items == 0 {
        return Ok(None);
    }
    let max_i = max as i64;
    if settings.sparse_ratio > 0
        && max_i > items as i64 * settings.sparse_ratio
        && max_i > settings.sparse_safe
    {
        if settings.sparse_convert {
            return Ok(None);
        }
        return Err("Cannot serialise table: excessively sparse array".into());
    }
    Ok(Some(max_i as usize))
}

unsafe fn encode_array(
    l: *mut ffi::lua_State,
    settings: &Settings,
    out: &mut Vec<u8>,
    depth: i64,
    length: usize,
) -> Result<(), String> {
    out.push(b'[');
    for i in 1..=length {
        if i > 1 {
            out.push(b',');
        }
        ffi::lua_rawgeti(l, -1, i as ffi::lua_Integer);
        let result = encode_value(l, settings, out, depth);
        ffi::lua_pop(l, 1);
        result?;
    }
    out.push(b']');
    Ok(())
}

unsafe fn encode_object(
    l: *mut ffi::lua_State,
    settings: &Settings,
    out: &mut Vec<u8>,
    depth: i64,
) -> Result<(), String> {
    out.push(b'{');
    let mut first = true;
    ffi::lua_pushnil(l);
    while ffi::lua_next(l, -2) != 0 {
        if !first {
            out.push(b',');
        }
        first = false;
        match ffi::lua_type(l, -2) {
            ffi::LUA_TSTRING => encode_string(out, to_bytes(l, -2).unwrap_or_default()),
            ffi::LUA_TNUMBER => {
                out.push(b'"');
                encode_number(settings, out, ffi::lua_tonumber(l, -2))?;
                out.push(b'"');
            }
            other => {
                let name = std::ffi::CStr::from_ptr(ffi::lua_typename(l, other)).to_string_lossy();
                let message =
                    format!("Cannot serialise {name}: table key must be a number or string");
                ffi::lua_pop(l, 2);
                return Err(message);
            }
        }
        out.push(b':');
        let result = encode_value(l, settings, out, depth);
        ffi::lua_pop(l, 1);
        if let Err(e) = result {
            ffi::lua_pop(l, 1);
            return Err(e);
        }
    }
    out.push(b'}');
    Ok(())
}

fn encode_number(settings: &Settings, out: &mut Vec<u8>, value: f64) -> Result<(), String> {
    if !value.is_finite() {
        match settings.encode_invalid_numbers {
            0 => return Err("Cannot serialise number: must not be NaN or Inf".into()),
            2 => {
                out.extend_from_slice(b"null");
                return Ok(());
            }
            _ => {}
        }
    }
    let text = crate::util::number::format_g(value, settings.encode_number_precision as i32);
    out.extend_from_slice(text.as_bytes());
    Ok(())
}

fn encode_string(out: &mut Vec<u8>, text: &[u8]) {
    out.push(b'"');
    for &byte in text {
        match byte {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            0..=0x1f | 0x7f => out.extend_from_slice(format!("\\u{byte:04x}").as_bytes()),
            _ => out.push(byte),
        }
    }
    out.push(b'"');
}

unsafe extern "C-unwind" fn decode(l: *mut ffi::lua_State) -> c_int {
    if ffi::lua_gettop(l) != 1 {
        return ffi::luaL_argerror(l, 1, c"expected 1 argument".as_ptr());
    }
    let settings = *settings(l);
    let mut len = 0usize;
    let ptr = ffi::luaL_checklstring(l, 1, &mut len);
    let text = std::slice::from_raw_parts(ptr.cast::<u8>(), len);
    let mut parser = Parser {
        text,
        pos: 0,
        settings,
    };
    let result = parser.value(l, 0).and_then(|()| {
        parser.skip_space();
        if parser.pos < text.len() {
            Err(parser.expected("the end"))
        } else {
            Ok(())
        }
    });
    match result {
        Ok(()) => 1,
        Err(message) => raise_message(l, message),
    }
}

struct Parser<'t> {
    text: &'t [u8],
    pos: usize,
    settings: Settings,
}

impl Parser<'_> {
    fn skip_space(&mut self) {
        while self
            .text
            .get(self.pos)
            .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        {
            self.pos += 1;
        }
    }

    /// Lua CJSON's "Expected X but found Y at character N".
    fn expected(&self, what: &str) -> String {
        let found = match self.text.get(self.pos) {
            None => "T_END",
            Some(b'{') => "T_OBJ_BEGIN",
            Some(b'}') => "T_OBJ_END",
            Some(b'[') => "T_ARR_BEGIN",
            Some(b']') => "T_ARR_END",
            Some(b',') => "T_COMMA",
            Some(b':') => "T_COLON",
            Some(b'"') => "T_STRING",
            Some(b'-' | b'0'..=b'9') => "T_NUMBER",
            Some(_) if self.text[self.pos..].starts_with(b"true") => "T_BOOLEAN",
            Some(_) if self.text[self.pos..].starts_with(b"false") => "T_BOOLEAN",
            Some(_) if self.text[self.pos..].starts_with(b"null") => "T_NULL",
            Some(_) => "invalid token",
        };
        format!(
            "Expected {what} but found {found} at character {}",
            self.pos + 1
        )
    }

    /// Pushes the next value.
    unsafe fn value(&mut self, l: *mut ffi::lua_State, depth: i64) -> Result<(), String> {
        self.skip_space();
        let Some(&byte) = self.text.get(self.pos) else {
            return Err(self.expected("value"));
        };
        match byte {
            b'{' | b'[' => {
                let depth = depth + 1;
                if depth > self.settings.decode_max_depth || ffi::lua_checkstack(l, 3) == 0 {
                    return Err(format!(
                        "Found too many nested data structures ({depth}) at character {}",
                        self.pos + 1
                    ));
                }
                self.pos += 1;
                if byte == b'{' {
                    self.object(l, depth)
                } else {
                    self.array(l, depth)
                }
            }
            b'"' => {
                let text = self.string()?;
                push_bytes(l, &text);
                Ok(())
            }
            b't' if self.text[self.pos..].starts_with(b"true") => {
                self.pos += 4;
                ffi::lua_pushboolean(l, 1);
                Ok(())
            }
            b'f' if self.text[self.pos..].starts_with(b"false") => {
                self.pos += 5;
                ffi::lua_pushboolean(l, 0);
                Ok(())
            }
            b'n' if self.text[self.pos..].starts_with(b"null") => {
                self.pos += 4;
                ffi::lua_pushlightuserdata(l, std::ptr::null_mut::<c_void>());
                Ok(())
            }
            _ => {
                let value = self.number()?;
                ffi::lua_pushnumber(l, value);
                Ok(())
            }
        }
    }

    unsafe fn object(&mut self, l: *mut ffi::lua_State, depth: i64) -> Result<(), String> {
        ffi::lua_newtable(l);
        self.skip_space();
        if self.text.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.skip_space();
            if self.text.get(self.pos) != Some(&b'"') {
                return Err(self.expected("object key string"));
            }
            let key = self.string()?;
            push_bytes(l, &key);
            self.skip_space();
            if self.text.get(self.pos) != Some(&b':') {
                return Err(self.expected("colon"));
            }
            self.pos += 1;
            self.value(l, depth)?;
            ffi::lua_rawset(l, -3);
            self.skip_space();
            match self.text.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.expected("comma or object end")),
            }
        }
    }

    unsafe fn array(&mut self, l: *mut ffi::lua_State, depth: i64) -> Result<(), String> {
        ffi::lua_newtable(l);
        self.skip_space();
        if self.text.get(self.pos) == Some(&b']') {
            self.pos += 1;
            return Ok(());
        }
        for index in 1.. {
            self.value(l, depth)?;
            ffi::lua_rawseti(l, -2, index);
            self.skip_space();
            match self.text.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.expected("comma or array end")),
            }
        }
        Ok(())
    }

    /// A string token (the opening quote is at `pos`), unescaped; `\u` escapes become UTF-8.
    fn string(&mut self) -> Result<Vec<u8>, String> {
        let start = self.pos;
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let Some(&byte) = self.text.get(self.pos) else {
                self.pos = start;
                return Err(self.expected("string end"));
            };
            self.pos += 1;
            match byte {
                b'"' => return Ok(out),
                b'\\' => {
                    let escape = self.text.get(self.pos).copied();
                    self.pos += 1;
                    match escape {
                        Some(b'"') => out.push(b'"'),
                        Some(b'\\') => out.push(b'\\'),
                        Some(b'/') => out.push(b'/'),
                        Some(b'b') => out.push(0x08),
                        Some(b'f') => out.push(0x0c),
                        Some(b'n') => out.push(b'\n'),
                        Some(b'r') => out.push(b'\r'),
                        Some(b't') => out.push(b'\t'),
                        Some(b'u') => self.unicode_escape(&mut out, start)?,
                        _ => {
                            self.pos = start;
                            return Err(self.expected("valid escape"));
                        }
                    }
                }
                _ => out.push(byte),
            }
        }
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.text.get(self.pos..self.pos + 4)?;
        let value = u32::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()?;
        self.pos += 4;
        Some(value)
    }

    fn unicode_escape(&mut self, out: &mut Vec<u8>, start: usize) -> Result<(), String> {
        let invalid = |parser: &mut Self| {
            parser.pos = start;
            parser.expected("valid unicode escape")
        };
        let Some(first) = self.hex4() else {
            return Err(invalid(self));
        };
        let code = if (0xd800..0xdc00).contains(&first) {
            // A high surrogate must be followed by a low one.
            if !self.text[self.pos..].starts_with(b"\\u") {
                return Err(invalid(self));
            }
            self.pos += 2;
            match self.hex4() {
                Some(low) if (0xdc00..0xe000).contains(&low) => {
                    0x10000 + ((first - 0xd800) << 10) + (low - 0xdc00)
                }
                _ => return Err(invalid(self)),
            }
        } else if (0xdc00..0xe000).contains(&first) {
            return Err(invalid(self));
        } else {
            first
        };
        let ch = char::from_u32(code).ok_or_else(|| invalid(self))?;
        let mut buf = [0u8; 4];
        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
        Ok(())
    }

    /// A number token, read with C's `strtod` rules (hex and `inf`/`nan` only when
    /// `decode_invalid_numbers` allows them).
    fn number(&mut self) -> Result<f64, String> {
        let rest = &self.text[self.pos..];
        let end = rest
            .iter()
            .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')))
            .unwrap_or(rest.len());
        let token = &rest[..end];
        let lowered = token.to_ascii_lowercase();
        let special =
            lowered.contains(&b'x') || lowered.windows(3).any(|w| w == b"inf" || w == b"nan");
        let valid_start = token
            .first()
            .is_some_and(|b| b.is_ascii_digit() || *b == b'-');
        let parsed = std::str::from_utf8(token).ok().and_then(|t| {
            if special {
                if !self.settings.decode_invalid_numbers {
                    return None;
                }
                crate::util::number::parse_f64(t.as_bytes())
            } else {
                t.parse::<f64>().ok()
            }
        });
        match parsed {
            Some(value) if valid_start || special => {
                self.pos += end;
                Ok(value)
            }
            _ => Err(self.expected("value")),
        }
    }
}
