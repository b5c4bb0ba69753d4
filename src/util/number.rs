//! Redis's exact rules for reading and writing numbers.
//!
//! Clients depend on the corner cases (`"01"` is not an integer, `INCRBYFLOAT` prints `10.6` rather
//! than `10.599999999999999644`), so integer parsing follows `string2ll`, and float arithmetic for
//! INCRBYFLOAT runs in C `long double` with the same `%.17Lf` formatting Redis uses (see
//! `src/native/longdouble.c`); `%.17g` doubles come from the same C library.

use std::ffi::c_char;

extern "C" {
    fn kiwi_incr_long_double(
        cur: *const c_char,
        cur_len: usize,
        incr: *const c_char,
        incr_len: usize,
        out: *mut c_char,
        out_cap: usize,
    ) -> i32;
    fn kiwi_format_double(value: f64, out: *mut c_char, out_cap: usize) -> i32;
    fn kiwi_parse_long_double_ok(s: *const c_char, len: usize) -> i32;
}

// The C library's own number conversions, so parsing and printing match Redis's to the bit.
extern "C" {
    fn strtod(s: *const c_char, end: *mut *mut c_char) -> f64;
    fn snprintf(buf: *mut c_char, len: usize, format: *const c_char, ...) -> i32;
    fn __errno_location() -> *mut i32;
}

const ERANGE: i32 = 34;

/// Runs C `strtod` on `s` (copied with a terminating NUL): the value, how many bytes it read, and
/// whether it reported a range error.
fn c_strtod(s: &[u8]) -> (f64, usize, bool) {
    let mut text = Vec::with_capacity(s.len() + 1);
    text.extend_from_slice(s);
    text.push(0);
    let start = text.as_ptr().cast::<c_char>();
    let mut end = start.cast_mut();
    // SAFETY: `text` is NUL-terminated, so strtod stops inside it and sets `end` to a pointer
    // into it; errno is this thread's, reset first as strtod only sets it on error.
    unsafe {
        *__errno_location() = 0;
        let value = strtod(start, &mut end);
        let read = end.offset_from(start) as usize;
        (value, read, *__errno_location() == ERANGE)
    }
}

/// Formats a double with C's `%.*f` (`decimals` digits after the point).
fn c_fixed(value: f64, decimals: i32) -> String {
    let mut out = [0u8; 512];
    // SAFETY: `out` is writable for its length, which bounds snprintf's write; the format takes
    // exactly one int and one double, which are passed.
    let n = unsafe {
        snprintf(
            out.as_mut_ptr().cast(),
            out.len(),
            c"%.*f".as_ptr(),
            decimals,
            value,
        )
    };
    String::from_utf8_lossy(&out[..n.clamp(0, 511) as usize]).into_owned()
}

/// Parses a signed 64-bit integer the way `string2ll` does: optional `-`, no `+`, no spaces,
/// no leading zeros, no overflow.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (negative, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !(b'1'..=b'9').contains(&digits[0]) {
        return None;
    }
    let mut value: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    if negative {
        if value > i64::MAX as u64 + 1 {
            return None;
        }
        Some((value as i64).wrapping_neg())
    } else {
        i64::try_from(value).ok()
    }
}

/// Redis's `string2ull`: a canonical integer, or whatever C's `strtoull` accepts in full
/// (leading blanks, a sign, leading zeros; a minus negates modulo 2^64).
pub fn string2ull(s: &[u8]) -> Option<u64> {
    if let Some(v) = parse_i64(s) {
        return u64::try_from(v).ok();
    }
    let mut rest = s;
    while let [b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r', tail @ ..] = rest {
        rest = tail;
    }
    let negative = rest.first() == Some(&b'-');
    if let [b'+' | b'-', tail @ ..] = rest {
        rest = tail;
    }
    if rest.is_empty() || !rest.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut value: u64 = 0;
    for &d in rest {
        value = value.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(if negative {
        0u64.wrapping_sub(value)
    } else {
        value
    })
}

/// Parses a double the way Redis's `string2d` does (scores, weights, coordinates): C `strtod`
/// over the whole argument, so hex floats and `inf`/`infinity` pass; leading space, NaN, overflow
/// and total underflow do not.
pub fn parse_f64(s: &[u8]) -> Option<f64> {
    // C's isspace in the "C" locale.
    if s.is_empty() || matches!(s[0], b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        return None;
    }
    let (value, read, range_error) = c_strtod(s);
    let overflow = range_error && (value.is_infinite() || value == 0.0);
    (read == s.len() && !overflow && !value.is_nan()).then_some(value)
}

/// Parses a score range bound (after its `(`) as ZRANGEBYSCORE does: C `strtod` up to the first
/// NUL byte, which must end the number. Looser than [`parse_f64`]: leading spaces, an empty string
/// (0) and overflow (±inf) pass; NaN does not.
pub fn parse_range_f64(s: &[u8]) -> Option<f64> {
    let (value, read, _) = c_strtod(s);
    let ends = s.get(read).is_none_or(|&c| c == 0);
    (ends && !value.is_nan()).then_some(value)
}

/// Why a `long double` increment failed, mapped to Redis's error replies by the caller.
#[derive(Debug, PartialEq, Eq)]
pub enum FloatIncrError {
    /// The stored value or the increment is not a valid float.
    NotFloat,
    /// The result is NaN or infinite.
    NanOrInfinity,
}

/// Computes `current + incr` in `long double` and formats it like Redis's INCRBYFLOAT.
pub fn incr_long_double(current: &[u8], incr: &[u8]) -> Result<String, FloatIncrError> {
    let mut out = vec![0u8; 5 * 1024 + 64];
    // SAFETY: both inputs are valid for their lengths and `out` is writable for `out.len()` bytes;
    // the C side never writes past `out_cap` and returns the written length or a negative code.
    let n = unsafe {
        kiwi_incr_long_double(
            current.as_ptr().cast(),
            current.len(),
            incr.as_ptr().cast(),
            incr.len(),
            out.as_mut_ptr().cast(),
            out.len(),
        )
    };
    match n {
        -2 => Err(FloatIncrError::NanOrInfinity),
        n if n < 0 => Err(FloatIncrError::NotFloat),
        n => {
            out.truncate(n as usize);
            Ok(String::from_utf8_lossy(&out).into_owned())
        }
    }
}

/// True when `s` is a valid `long double` as Redis's `string2ld` reads it.
pub fn is_long_double(s: &[u8]) -> bool {
    // SAFETY: `s` is valid for `s.len()` bytes; the C side copies it into its own buffer.
    unsafe { kiwi_parse_long_double_ok(s.as_ptr().cast(), s.len()) == 1 }
}

/// Formats a double as Redis 7.0's `addReplyDouble` does (`%.17g`, `inf`, `-inf`).
pub fn format_double(value: f64) -> String {
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    let mut out = [0u8; 64];
    // SAFETY: `out` is writable for its full length; the C side bounds its write by `out_cap`.
    let n = unsafe { kiwi_format_double(value, out.as_mut_ptr().cast(), out.len()) };
    String::from_utf8_lossy(&out[..n.clamp(0, 63) as usize]).into_owned()
}

/// Formats a double like C's `%.<precision>g` (Lua CJSON writes numbers with `%.14g`).
pub fn format_g(value: f64, precision: i32) -> String {
    let mut out = [0u8; 64];
    // SAFETY: `out` is writable for its full length and snprintf bounds its write by it; the
    // format takes one int and one double, as passed.
    let n = unsafe {
        snprintf(
            out.as_mut_ptr().cast(),
            out.len(),
            c"%.*g".as_ptr(),
            precision,
            value,
        )
    };
    String::from_utf8_lossy(&out[..n.clamp(0, 63) as usize]).into_owned()
}

/// Formats a score the way a listpack stores it (Redis's `d2string`), which ZSCAN of a small
/// sorted set shows: integral values within ±2^62 as integers (so `-0` is `0`), others as
/// [`format_double`].
pub fn format_listpack_double(value: f64) -> String {
    const LIMIT: f64 = (i64::MAX / 2) as f64;
    if value.is_finite() && (-LIMIT..=LIMIT).contains(&value) && value.fract() == 0.0 {
        return (value as i64).to_string();
    }
    format_double(value)
}

/// Formats a double like Redis's human-readable `long double` replies (GEOPOS coordinates):
/// `%.17Lf` without trailing zeros. A double widened to `long double` keeps its exact value, so
/// `%.17f` of the double prints the same digits.
pub fn format_human_double(value: f64) -> String {
    let mut text = c_fixed(value, 17);
    if text.contains('.') {
        let kept = text.trim_end_matches('0').trim_end_matches('.').len();
        text.truncate(kept);
    }
    if text == "-0" {
        text = "0".to_string();
    }
    text
}

/// Formats a double like C's `%.Nf` with `decimals` digits: GEODIST and WITHDIST print
/// distances with 4, error messages print coordinates with 6.
pub fn format_fixed(value: f64, decimals: i32) -> String {
    c_fixed(value, decimals)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_follow_string2ll() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        assert_eq!(parse_i64(b"01"), None);
        assert_eq!(parse_i64(b"+1"), None);
        assert_eq!(parse_i64(b" 1"), None);
        assert_eq!(parse_i64(b"-0"), None);
        assert_eq!(parse_i64(b"-"), None);
        assert_eq!(parse_i64(b""), None);
    }

    #[test]
    fn long_double_increments_print_like_redis() {
        assert_eq!(incr_long_double(b"10.5", b"0.1").unwrap(), "10.6");
        assert_eq!(incr_long_double(b"0", b"3.0e3").unwrap(), "3000");
        assert_eq!(incr_long_double(b"5", b"-5").unwrap(), "0");
        assert_eq!(
            incr_long_double(b"abc", b"1"),
            Err(FloatIncrError::NotFloat)
        );
        assert_eq!(incr_long_double(b"1", b" 1"), Err(FloatIncrError::NotFloat));
        assert_eq!(
            incr_long_double(b"0", b"inf"),
            Err(FloatIncrError::NanOrInfinity)
        );
    }

    #[test]
    fn doubles_parse_like_strtod() {
        assert_eq!(parse_f64(b"1.5"), Some(1.5));
        assert_eq!(parse_f64(b"0x10"), Some(16.0));
        assert_eq!(parse_f64(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b"+Infinity"), Some(f64::INFINITY));
        for bad in [
            &b""[..],
            b" 1",
            b"1 ",
            b"nan",
            b"1e400",
            b"1e-400",
            b"1\x002",
            b"abc",
        ] {
            assert_eq!(parse_f64(bad), None, "{bad:?}");
        }
        assert_eq!(parse_range_f64(b""), Some(0.0));
        assert_eq!(parse_range_f64(b" 1"), Some(1.0));
        assert_eq!(parse_range_f64(b"1e400"), Some(f64::INFINITY));
        assert_eq!(parse_range_f64(b"1\x002"), Some(1.0));
        assert_eq!(parse_range_f64(b"1 "), None);
        assert_eq!(parse_range_f64(b"nan"), None);
    }

    #[test]
    fn listpack_scores_print_integers_plainly() {
        assert_eq!(format_listpack_double(1e17), "100000000000000000");
        assert_eq!(format_listpack_double(-0.0), "0");
        assert_eq!(format_listpack_double(5e18), "5e+18");
        assert_eq!(format_listpack_double(0.1), "0.10000000000000001");
        assert_eq!(format_listpack_double(f64::INFINITY), "inf");
    }

    #[test]
    fn geo_formats() {
        assert_eq!(
            format_human_double(13.361389338970184),
            "13.36138933897018433"
        );
        assert_eq!(format_human_double(-0.0), "0");
        assert_eq!(format_fixed(0.125, 2), "0.12"); // C rounds an exact tie to even
        assert_eq!(format_fixed(200.0, 6), "200.000000");
        assert_eq!(format_fixed(f64::INFINITY, 6), "inf");
    }

    #[test]
    fn doubles_use_17_significant_digits() {
        assert_eq!(format_double(1.5), "1.5");
        assert_eq!(format_double(0.1), "0.10000000000000001");
        assert_eq!(format_double(f64::NEG_INFINITY), "-inf");
        assert_eq!(format_double(1e20), "1e+20");
    }
}
