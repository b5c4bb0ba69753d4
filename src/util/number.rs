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

/// Parses a double the way `getDoubleFromObject` does (`strtod`, no leading space, no NaN),
/// accepting `inf`/`-inf`/`+inf`.
pub fn parse_f64(s: &[u8]) -> Option<f64> {
    if s.is_empty() || s[0].is_ascii_whitespace() {
        return None;
    }
    let text = std::str::from_utf8(s).ok()?;
    let lower = text.to_ascii_lowercase();
    let value = match lower.as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        _ => {
            if lower.contains("nan") || lower.contains("inf") {
                return None;
            }
            // strtod accepts hex floats too; Rust does not, which only matters for exotic input.
            text.parse::<f64>().ok()?
        }
    };
    Some(value)
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
    fn doubles_use_17_significant_digits() {
        assert_eq!(format_double(1.5), "1.5");
        assert_eq!(format_double(0.1), "0.10000000000000001");
        assert_eq!(format_double(f64::NEG_INFINITY), "-inf");
        assert_eq!(format_double(1e20), "1e+20");
    }
}
