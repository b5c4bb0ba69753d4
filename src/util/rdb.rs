//! The pieces of Redis's RDB format that payloads exchanged with clients use (FUNCTION DUMP and
//! RESTORE today): length-prefixed strings, LZF-compressed strings, and the trailer of a DUMP
//! payload (RDB version, then CRC-64/Jones).

/// The RDB version Kiwi writes: Redis 7.0's.
pub const RDB_VERSION: u16 = 10;

/// Redis's CRC-64 (Jones polynomial, reflected, no final xor), as its `crc64()` computes it.
pub fn crc64(mut crc: u64, data: &[u8]) -> u64 {
    static TABLE: std::sync::LazyLock<[u64; 256]> = std::sync::LazyLock::new(|| {
        // 0xad93d23594c935a9 with its bits reversed.
        const POLY: u64 = 0x95ac_9329_ac4b_c9b5;
        let mut table = [0u64; 256];
        for (i, slot) in table.iter_mut().enumerate() {
            let mut value = i as u64;
            for _ in 0..8 {
                value = if value & 1 == 1 {
                    (value >> 1) ^ POLY
                } else {
                    value >> 1
                };
            }
            *slot = value;
        }
        table
    });
    for &byte in data {
        crc = TABLE[((crc ^ byte as u64) & 0xff) as usize] ^ (crc >> 8);
    }
    crc
}

/// Appends an RDB length.
pub fn write_len(out: &mut Vec<u8>, len: u64) {
    if len < 1 << 6 {
        out.push(len as u8);
    } else if len < 1 << 14 {
        out.push(0x40 | (len >> 8) as u8);
        out.push(len as u8);
    } else if len <= u32::MAX as u64 {
        out.push(0x80);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&len.to_be_bytes());
    }
}

/// Appends an RDB string, uncompressed (every RDB reader accepts it).
pub fn write_string(out: &mut Vec<u8>, data: &[u8]) {
    write_len(out, data.len() as u64);
    out.extend_from_slice(data);
}

/// Appends the DUMP trailer: RDB version (little endian), then the CRC-64 of everything
/// before it and the version.
pub fn finish_payload(out: &mut Vec<u8>) {
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64(0, out);
    out.extend_from_slice(&crc.to_le_bytes());
}

/// The body of a DUMP payload whose version this server reads and whose checksum holds.
pub fn verify_payload(payload: &[u8]) -> Option<&[u8]> {
    if payload.len() < 10 {
        return None;
    }
    let (rest, crc) = payload.split_at(payload.len() - 8);
    let version = u16::from_le_bytes([rest[rest.len() - 2], rest[rest.len() - 1]]);
    if version > RDB_VERSION || crc64(0, rest) != u64::from_le_bytes(crc.try_into().ok()?) {
        return None;
    }
    Some(&rest[..rest.len() - 2])
}

/// A length, or an encoding marker for the special string forms.
enum Len {
    Plain(u64),
    Encoded(u8),
}

fn read_len(buf: &[u8], pos: &mut usize) -> Option<Len> {
    let first = *buf.get(*pos)?;
    *pos += 1;
    Some(match first >> 6 {
        0 => Len::Plain((first & 0x3f) as u64),
        1 => {
            let next = *buf.get(*pos)?;
            *pos += 1;
            Len::Plain((((first & 0x3f) as u64) << 8) | next as u64)
        }
        2 => match first {
            0x80 => {
                let bytes = buf.get(*pos..*pos + 4)?;
                *pos += 4;
                Len::Plain(u32::from_be_bytes(bytes.try_into().ok()?) as u64)
            }
            0x81 => {
                let bytes = buf.get(*pos..*pos + 8)?;
                *pos += 8;
                Len::Plain(u64::from_be_bytes(bytes.try_into().ok()?))
            }
            _ => return None,
        },
        _ => Len::Encoded(first & 0x3f),
    })
}

/// Reads a plain RDB length (not a string encoding marker).
pub fn read_length(buf: &[u8], pos: &mut usize) -> Option<usize> {
    match read_len(buf, pos)? {
        Len::Plain(n) => usize::try_from(n).ok(),
        Len::Encoded(_) => None,
    }
}

/// Reads an RDB string in any of its forms (plain, integer, LZF); `None` if malformed.
pub fn read_string(buf: &[u8], pos: &mut usize) -> Option<Vec<u8>> {
    match read_len(buf, pos)? {
        Len::Plain(n) => {
            let n = usize::try_from(n).ok()?;
            let data = buf.get(*pos..pos.checked_add(n)?)?.to_vec();
            *pos += n;
            Some(data)
        }
        Len::Encoded(kind @ 0..=2) => {
            let width = 1usize << kind;
            let bytes = buf.get(*pos..*pos + width)?;
            *pos += width;
            let value = match kind {
                0 => bytes[0] as i8 as i64,
                1 => i16::from_le_bytes(bytes.try_into().ok()?) as i64,
                _ => i32::from_le_bytes(bytes.try_into().ok()?) as i64,
            };
            Some(value.to_string().into_bytes())
        }
        Len::Encoded(3) => {
            let compressed = read_length(buf, pos)?;
            let len = read_length(buf, pos)?;
            let input = buf.get(*pos..pos.checked_add(compressed)?)?;
            *pos += compressed;
            lzf_decompress(input, len)
        }
        Len::Encoded(_) => None,
    }
}

/// Decompresses LZF data (the format of liblzf, which Redis uses) that must expand to exactly
/// `len` bytes.
pub fn lzf_decompress(input: &[u8], len: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(len);
    let mut i = 0;
    while i < input.len() {
        let control = input[i] as usize;
        i += 1;
        if control < 32 {
            // A literal run of control + 1 bytes.
            let run = input.get(i..i + control + 1)?;
            out.extend_from_slice(run);
            i += control + 1;
        } else {
            // A back reference: length in the top 3 bits (7 = one more length byte).
            let mut run = control >> 5;
            if run == 7 {
                run += *input.get(i)? as usize;
                i += 1;
            }
            let low = *input.get(i)? as usize;
            i += 1;
            let back = ((control & 0x1f) << 8) + low + 1;
            let start = out.len().checked_sub(back)?;
            for k in 0..run + 2 {
                let byte = out[start + k];
                out.push(byte);
            }
        }
        if out.len() > len {
            return None;
        }
    }
    (out.len() == len).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc64_is_redis_jones() {
        // Redis's crc64 test vector.
        assert_eq!(crc64(0, b"123456789"), 0xe9c6d914c4b8d9ca);
    }

    #[test]
    fn strings_round_trip_in_every_length_form() {
        for len in [0usize, 63, 64, 16383, 16384, 70000] {
            let data = vec![b'x'; len];
            let mut out = Vec::new();
            write_string(&mut out, &data);
            let mut pos = 0;
            assert_eq!(read_string(&out, &mut pos).unwrap(), data);
            assert_eq!(pos, out.len());
        }
    }

    #[test]
    fn integer_and_lzf_strings_decode() {
        let mut pos = 0;
        assert_eq!(read_string(&[0xc0, 0xfe], &mut pos).unwrap(), b"-2");
        // "aaaaaaaaaa": a literal 'a', then a back reference of 9 bytes at distance 1.
        let lzf = [0x00, b'a', 0xe0, 0x00, 0x00];
        assert_eq!(lzf_decompress(&lzf, 10).unwrap(), b"aaaaaaaaaa");
        assert!(lzf_decompress(&lzf, 9).is_none());
        assert!(lzf_decompress(&[0x20, 0x05], 4).is_none());
    }

    #[test]
    fn payload_trailer_is_checked() {
        let mut out = vec![245];
        write_string(&mut out, b"code");
        finish_payload(&mut out);
        assert_eq!(verify_payload(&out).unwrap(), &out[..out.len() - 10]);
        let last = out.len() - 1;
        out[last] ^= 1;
        assert!(verify_payload(&out).is_none());
    }
}
