//! The Lua libraries Redis gives scripts besides Lua's own: `bit`, `cjson`, `cmsgpack` and
//! `struct`. Written for Kiwi against the behaviour Redis's suite and
//! scripts in the wild rely on; they are C functions over the Lua API, like Redis's.
//!
//! Every function here is called by Lua inside a protected call. Errors are raised with
//! [`raise_message`] after every Rust value of the function is dropped: Lua unwinds with
//! `longjmp`, which would skip their destructors.

mod bit;
mod cjson;
mod cmsgpack;
mod structlib;

use std::ffi::{c_int, CStr};

use mlua_sys as ffi;

use super::convert::push_bytes;

/// Opens the libraries as globals (before the sandbox locks the globals table).
pub(super) unsafe fn open(l: *mut ffi::lua_State) {
    bit::open(l);
    cjson::open(l);
    cmsgpack::open(l);
    structlib::open(l);
}

/// Registers `functions` in a new table, each closing over the value on top of the stack if
/// `with_upvalue` (which is then consumed), and leaves the table on the stack.
unsafe fn new_library(
    l: *mut ffi::lua_State,
    functions: &[(&CStr, ffi::lua_CFunction)],
    with_upvalue: bool,
) {
    ffi::lua_createtable(l, 0, functions.len() as c_int);
    for (name, function) in functions {
        if with_upvalue {
            ffi::lua_pushvalue(l, -2);
            ffi::lua_pushcclosure(l, *function, 1);
        } else {
            ffi::lua_pushcfunction(l, *function);
        }
        ffi::lua_setfield(l, -2, name.as_ptr());
    }
    if with_upvalue {
        ffi::lua_remove(l, -2);
    }
}

/// Raises `message` as a Lua error the way `luaL_error` does: a plain string, prefixed with
/// the position of the Lua code that called the library.
unsafe fn raise_message(l: *mut ffi::lua_State, message: String) -> c_int {
    ffi::luaL_where(l, 1);
    push_bytes(l, message.as_bytes());
    drop(message);
    ffi::lua_concat(l, 2);
    ffi::lua_error(l)
}
