//! `bit`: 32-bit operations on Lua numbers (the LuaBitOp API): `tobit`, `tohex`, `bnot`,
//! `band`, `bor`, `bxor`, `lshift`, `rshift`, `arshift`, `rol`, `ror`, `bswap`.

use std::ffi::c_int;

use mlua_sys as ffi;

use super::new_library;
use crate::script::convert::push_bytes;

pub(super) unsafe fn open(l: *mut ffi::lua_State) {
    new_library(
        l,
        &[
            (c"tobit", tobit),
            (c"tohex", tohex),
            (c"bnot", bnot),
            (c"band", band),
            (c"bor", bor),
            (c"bxor", bxor),
            (c"lshift", lshift),
            (c"rshift", rshift),
            (c"arshift", arshift),
            (c"rol", rol),
            (c"ror", ror),
            (c"bswap", bswap),
        ],
        false,
    );
    ffi::lua_setglobal(l, c"bit".as_ptr());
}

/// A number argument reduced to 32 bits the way LuaBitOp does: rounded to an integer, then
/// taken modulo 2^32 (adding 2^52 + 2^51 puts the rounded integer in the low mantissa bits).
unsafe fn arg(l: *mut ffi::lua_State, index: c_int) -> u32 {
    let n = ffi::luaL_checknumber(l, index);
    (n + 6_755_399_441_055_744.0).to_bits() as u32
}

unsafe fn push(l: *mut ffi::lua_State, value: u32) -> c_int {
    ffi::lua_pushnumber(l, value as i32 as f64);
    1
}

unsafe extern "C-unwind" fn tobit(l: *mut ffi::lua_State) -> c_int {
    push(l, arg(l, 1))
}

unsafe extern "C-unwind" fn bnot(l: *mut ffi::lua_State) -> c_int {
    push(l, !arg(l, 1))
}

/// Folds every argument with `op` (at least one is required).
unsafe fn fold(l: *mut ffi::lua_State, op: fn(u32, u32) -> u32) -> c_int {
    let mut acc = arg(l, 1);
    for i in 2..=ffi::lua_gettop(l) {
        acc = op(acc, arg(l, i));
    }
    push(l, acc)
}

unsafe extern "C-unwind" fn band(l: *mut ffi::lua_State) -> c_int {
    fold(l, |a, b| a & b)
}

unsafe extern "C-unwind" fn bor(l: *mut ffi::lua_State) -> c_int {
    fold(l, |a, b| a | b)
}

unsafe extern "C-unwind" fn bxor(l: *mut ffi::lua_State) -> c_int {
    fold(l, |a, b| a ^ b)
}

/// A shift or rotation by the second argument's low 5 bits.
unsafe fn shift(l: *mut ffi::lua_State, op: fn(u32, u32) -> u32) -> c_int {
    let value = arg(l, 1);
    let by = arg(l, 2) & 31;
    push(l, op(value, by))
}

unsafe extern "C-unwind" fn lshift(l: *mut ffi::lua_State) -> c_int {
    shift(l, |v, n| v << n)
}

unsafe extern "C-unwind" fn rshift(l: *mut ffi::lua_State) -> c_int {
    shift(l, |v, n| v >> n)
}

unsafe extern "C-unwind" fn arshift(l: *mut ffi::lua_State) -> c_int {
    shift(l, |v, n| ((v as i32) >> n) as u32)
}

unsafe extern "C-unwind" fn rol(l: *mut ffi::lua_State) -> c_int {
    shift(l, u32::rotate_left)
}

unsafe extern "C-unwind" fn ror(l: *mut ffi::lua_State) -> c_int {
    shift(l, u32::rotate_right)
}

unsafe extern "C-unwind" fn bswap(l: *mut ffi::lua_State) -> c_int {
    push(l, arg(l, 1).swap_bytes())
}

/// `tohex(x [, n])`: the low `n` hex digits (8 by default; a negative `n` means uppercase).
unsafe extern "C-unwind" fn tohex(l: *mut ffi::lua_State) -> c_int {
    let value = arg(l, 1);
    let mut digits: i64 = if ffi::lua_isnoneornil(l, 2) != 0 {
        8
    } else {
        arg(l, 2) as i32 as i64
    };
    let upper = digits < 0;
    if upper {
        digits = -digits;
    }
    let digits = digits.clamp(0, 8) as usize;
    let text = if upper {
        format!("{value:08X}")
    } else {
        format!("{value:08x}")
    };
    push_bytes(l, &text.as_bytes()[8 - digits..]);
    1
}
