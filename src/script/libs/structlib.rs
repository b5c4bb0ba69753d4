//! `struct`: binary packing with format strings (the `struct` library Redis ships):
//! `pack(fmt, ...)`, `unpack(fmt, data [, pos])` (the values, then the position after them) and
//! `size(fmt)`. Options: `<` `>` `=` byte order, `!n` alignment, `x` a zero byte, `b B h H l L
//! T` and `iN IN` integers (signed lowercase), `f d` floats, `cN` fixed strings (`c0`: the
//! whole string when packing, a length read just before when unpacking), `s` zero-terminated
//! strings, spaces ignored.

use std::ffi::c_int;

use mlua_sys as ffi;

use super::{new_library, raise_message};
use crate::script::convert::push_bytes;

/// Largest integer size an `iN` option may ask for.
const MAX_INT_SIZE: usize = 32;
/// The alignment `!` without a number sets (the platform's largest).
const NATIVE_ALIGN: usize = 8;

pub(super) unsafe fn open(l: *mut ffi::lua_State) {
    new_library(
        l,
        &[(c"pack", pack), (c"unpack", unpack), (c"size", size)],
        false,
    );
    ffi::lua_setglobal(l, c"struct".as_ptr());
}

/// One item of a format string.
#[derive(Debug, PartialEq)]
enum Item {
    Int { size: usize, signed: bool },
    Float,
    Double,
    Chars(usize),
    ZeroTerminated,
    Padding,
}

/// A bad format string: most problems are reported as a bad first argument, as the C library
/// does.
enum FormatError {
    Argument(String),
    Plain(String),
}

impl FormatError {
    /// Raises the error (the format is argument 1).
    unsafe fn raise(self, l: *mut ffi::lua_State) -> c_int {
        match self {
            FormatError::Plain(message) => raise_message(l, message),
            FormatError::Argument(message) => {
                push_bytes(l, message.as_bytes());
                drop(message);
                let text = ffi::lua_tolstring(l, -1, std::ptr::null_mut());
                ffi::luaL_argerror(l, 1, text)
            }
        }
    }
}

/// A format string being read, with the byte order and alignment set so far.
struct Format<'f> {
    text: &'f [u8],
    pos: usize,
    little: bool,
    align: usize,
}

impl<'f> Format<'f> {
    fn new(text: &'f [u8]) -> Self {
        Format {
            text,
            pos: 0,
            little: true,
            align: 1,
        }
    }

    fn number(&mut self, default: usize) -> usize {
        let start = self.pos;
        while self.text.get(self.pos).is_some_and(u8::is_ascii_digit) {
            self.pos += 1;
        }
        std::str::from_utf8(&self.text[start..self.pos])
            .ok()
            .and_then(|digits| digits.parse().ok())
            .unwrap_or(default)
    }

    /// The next item, after any order or alignment options; `None` at the end.
    fn next_item(&mut self) -> Result<Option<Item>, FormatError> {
        loop {
            let Some(&option) = self.text.get(self.pos) else {
                return Ok(None);
            };
            self.pos += 1;
            let item = match option {
                b' ' => continue,
                b'<' | b'=' => {
                    self.little = true;
                    continue;
                }
                b'>' => {
                    self.little = false;
                    continue;
                }
                b'!' => {
                    let align = self.number(NATIVE_ALIGN);
                    if !align.is_power_of_two() {
                        return Err(FormatError::Argument("alignment must be power of 2".into()));
                    }
                    self.align = align;
                    continue;
                }
                b'x' => Item::Padding,
                b'b' | b'B' => Item::Int {
                    size: 1,
                    signed: option == b'b',
                },
                b'h' | b'H' => Item::Int {
                    size: 2,
                    signed: option == b'h',
                },
                b'l' | b'L' | b'T' => Item::Int {
                    size: 8,
                    signed: option == b'l',
                },
                b'i' | b'I' => {
                    let size = self.number(4);
                    if size > MAX_INT_SIZE {
                        return Err(FormatError::Plain(format!(
                            "integral size {size} is larger than limit of {MAX_INT_SIZE}"
                        )));
                    }
                    Item::Int {
                        size,
                        signed: option == b'i',
                    }
                }
                b'f' => Item::Float,
                b'd' => Item::Double,
                b'c' => Item::Chars(self.number(1)),
                b's' => Item::ZeroTerminated,
                other => {
                    return Err(FormatError::Argument(format!(
                        "invalid format option '{}'",
                        other as char
                    )));
                }
            };
            return Ok(Some(item));
        }
    }

    /// Padding before an item of `size` bytes at offset `at`.
    fn padding(&self, item: &Item, at: usize) -> usize {
        let size = match item {
            Item::Int { size, .. } => *size,
            Item::Float => 4,
            Item::Double => 8,
            _ => return 0,
        };
        let align = size.min(self.align);
        if align <= 1 {
            0
        } else {
            (align - at % align) % align
        }
    }
}

unsafe extern "C-unwind" fn pack(l: *mut ffi::lua_State) -> c_int {
    let mut len = 0usize;
    let ptr = ffi::luaL_checklstring(l, 1, &mut len);
    let text = std::slice::from_raw_parts(ptr.cast::<u8>(), len);
    let mut format = Format::new(text);
    let mut out: Vec<u8> = Vec::new();
    let mut arg = 2;
    loop {
        let item = match format.next_item() {
            Ok(Some(item)) => item,
            Ok(None) => break,
            Err(error) => {
                drop(out);
                return error.raise(l);
            }
        };
        out.resize(out.len() + format.padding(&item, out.len()), 0);
        match item {
            Item::Padding => out.push(0),
            Item::Int { size, .. } => {
                let value = ffi::luaL_checknumber(l, arg) as i64;
                arg += 1;
                let mut bytes: Vec<u8> = (0..size)
                    .map(|i| {
                        if i < 8 {
                            (value >> (8 * i)) as u8
                        } else if value < 0 {
                            0xff
                        } else {
                            0
                        }
                    })
                    .collect();
                if !format.little {
                    bytes.reverse();
                }
                out.extend_from_slice(&bytes);
            }
            Item::Float | Item::Double => {
                let value = ffi::luaL_checknumber(l, arg);
                arg += 1;
                let bytes = match (item == Item::Float, format.little) {
                    (true, true) => (value as f32).to_le_bytes().to_vec(),
                    (true, false) => (value as f32).to_be_bytes().to_vec(),
                    (false, true) => value.to_le_bytes().to_vec(),
                    (false, false) => value.to_be_bytes().to_vec(),
                };
                out.extend_from_slice(&bytes);
            }
            Item::Chars(size) => {
                let mut n = 0usize;
                let ptr = ffi::luaL_checklstring(l, arg, &mut n);
                arg += 1;
                let data = std::slice::from_raw_parts(ptr.cast::<u8>(), n);
                let size = if size == 0 { n } else { size };
                if n < size {
                    drop(out);
                    return ffi::luaL_argerror(l, arg - 1, c"string too short".as_ptr());
                }
                out.extend_from_slice(&data[..size]);
            }
            Item::ZeroTerminated => {
                let mut n = 0usize;
                let ptr = ffi::luaL_checklstring(l, arg, &mut n);
                arg += 1;
                let data = std::slice::from_raw_parts(ptr.cast::<u8>(), n);
                if data.contains(&0) {
                    drop(out);
                    return ffi::luaL_argerror(l, arg - 1, c"string contains zeros".as_ptr());
                }
                out.extend_from_slice(data);
                out.push(0);
            }
        }
    }
    push_bytes(l, &out);
    1
}

unsafe extern "C-unwind" fn unpack(l: *mut ffi::lua_State) -> c_int {
    let mut len = 0usize;
    let ptr = ffi::luaL_checklstring(l, 1, &mut len);
    let text = std::slice::from_raw_parts(ptr.cast::<u8>(), len);
    let mut data_len = 0usize;
    let ptr = ffi::luaL_checklstring(l, 2, &mut data_len);
    let data = std::slice::from_raw_parts(ptr.cast::<u8>(), data_len);
    let start = ffi::luaL_optinteger(l, 3, 1);
    if start < 1 {
        return ffi::luaL_argerror(l, 3, c"offset must be 1 or greater".as_ptr());
    }
    let mut pos = start as usize - 1;
    let mut format = Format::new(text);
    let mut pushed = 0;
    // The last number unpacked: the length a following `c0` reads.
    let mut previous: Option<f64> = None;
    loop {
        let item = match format.next_item() {
            Ok(Some(item)) => item,
            Ok(None) => break,
            Err(error) => return error.raise(l),
        };
        pos += format.padding(&item, pos);
        if ffi::lua_checkstack(l, 2) == 0 {
            return raise_message(l, "too many results".into());
        }
        let needed = match item {
            Item::Padding => 1,
            Item::Int { size, .. } => size,
            Item::Float => 4,
            Item::Double => 8,
            Item::Chars(0) => match previous.take() {
                // The size is consumed: it is not among the results.
                Some(n) if n >= 0.0 => {
                    ffi::lua_pop(l, 1);
                    pushed -= 1;
                    n as usize
                }
                _ => return raise_message(l, "format 'c0' needs a previous size".into()),
            },
            Item::Chars(size) => size,
            Item::ZeroTerminated => {
                match data.get(pos..).and_then(|d| d.iter().position(|&b| b == 0)) {
                    Some(end) => end + 1,
                    None => return raise_message(l, "unfinished string in data".into()),
                }
            }
        };
        let Some(bytes) = pos.checked_add(needed).and_then(|end| data.get(pos..end)) else {
            return ffi::luaL_argerror(l, 2, c"data string too short".as_ptr());
        };
        if !matches!(item, Item::Int { .. }) {
            previous = None;
        }
        match item {
            Item::Padding => {}
            Item::Int { size, signed } => {
                let mut value: u64 = 0;
                for i in 0..size.min(8) {
                    let byte = if format.little {
                        bytes[i]
                    } else {
                        bytes[size - 1 - i]
                    };
                    value |= (byte as u64) << (8 * i);
                }
                let number = if signed && size < 8 {
                    let shift = 64 - 8 * size as u32;
                    ((value << shift) as i64 >> shift) as f64
                } else if signed {
                    value as i64 as f64
                } else {
                    value as f64
                };
                previous = Some(number);
                ffi::lua_pushnumber(l, number);
                pushed += 1;
            }
            Item::Float => {
                let raw: [u8; 4] = bytes.try_into().unwrap_or_default();
                let value = if format.little {
                    f32::from_le_bytes(raw)
                } else {
                    f32::from_be_bytes(raw)
                };
                ffi::lua_pushnumber(l, value as f64);
                pushed += 1;
            }
            Item::Double => {
                let raw: [u8; 8] = bytes.try_into().unwrap_or_default();
                let value = if format.little {
                    f64::from_le_bytes(raw)
                } else {
                    f64::from_be_bytes(raw)
                };
                ffi::lua_pushnumber(l, value);
                pushed += 1;
            }
            Item::Chars(_) => {
                push_bytes(l, bytes);
                pushed += 1;
            }
            Item::ZeroTerminated => {
                push_bytes(l, &bytes[..bytes.len() - 1]);
                pushed += 1;
            }
        }
        pos += needed;
    }
    ffi::lua_pushinteger(l, pos as ffi::lua_Integer + 1);
    pushed + 1
}

unsafe extern "C-unwind" fn size(l: *mut ffi::lua_State) -> c_int {
    let mut len = 0usize;
    let ptr = ffi::luaL_checklstring(l, 1, &mut len);
    let text = std::slice::from_raw_parts(ptr.cast::<u8>(), len);
    let mut format = Format::new(text);
    let mut total = 0usize;
    loop {
        let item = match format.next_item() {
            Ok(Some(item)) => item,
            Ok(None) => break,
            Err(error) => return error.raise(l),
        };
        total += format.padding(&item, total);
        total += match item {
            Item::Padding => 1,
            Item::Int { size, .. } => size,
            Item::Float => 4,
            Item::Double => 8,
            Item::Chars(0) => {
                return ffi::luaL_argerror(l, 1, c"option 'c0' has no fixed size".as_ptr())
            }
            Item::ZeroTerminated => {
                return ffi::luaL_argerror(l, 1, c"option 's' has no fixed size".as_ptr())
            }
            Item::Chars(size) => size,
        };
    }
    ffi::lua_pushinteger(l, total as ffi::lua_Integer);
    1
}
