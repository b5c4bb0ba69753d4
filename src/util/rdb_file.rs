//! Redis's RDB file (`dump.rdb`), read and written as a stream of keys: `kiwictl import` and
//! `kiwictl export` move whole datasets between Redis and Kiwi with it.
//!
//! The reader keeps only a window of the file: each key entry is parsed from the window, which
//! grows only while one entry does not fit, so a 10 GB file needs no more memory than its largest
//! value. Values keep their RDB bytes (type byte and body), which is what RESTORE takes once
//! the DUMP trailer is added; [`super::rdb::read_typed_value`] finds where each one ends and
//! checks it. Auxiliary fields are skipped; module data and function libraries are skipped with a
//! warning; the file's CRC-64 is checked at the end.

use std::io::{Read, Write};

use super::rdb::{crc64, read_length, read_string, read_typed_value, write_len, write_string};

const OP_FUNCTION2: u8 = 0xf5;
const OP_MODULE_AUX: u8 = 0xf7;
const OP_IDLE: u8 = 0xf8;
const OP_FREQ: u8 = 0xf9;
const OP_AUX: u8 = 0xfa;
const OP_RESIZEDB: u8 = 0xfb;
const OP_EXPIRETIME_MS: u8 = 0xfc;
const OP_EXPIRETIME: u8 = 0xfd;
const OP_SELECTDB: u8 = 0xfe;
const OP_EOF: u8 = 0xff;
const TYPE_MODULE_2: u8 = 7;
/// Module data ends with this opcode (`RDB_MODULE_OPCODE_EOF`).
const MODULE_OPCODE_EOF: usize = 0;

/// The newest RDB version this reader knows (Redis 7.0 writes 10).
pub const MAX_VERSION: u16 = 10;
/// One entry may not need a window larger than this: past it the file is taken as corrupt.
const MAX_WINDOW: usize = 1 << 30;

/// Why a file cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum RdbFileError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("not an RDB file (no REDIS header)")]
    NotRdb,
    #[error("RDB version {0} is newer than this reader knows ({MAX_VERSION}, Redis 7.0)")]
    TooNew(u16),
    #[error("corrupt or unsupported data at byte {offset}: {what}")]
    Corrupt { offset: u64, what: String },
    #[error("checksum mismatch: the file says {stored:016x}, its bytes give {computed:016x}")]
    Checksum { stored: u64, computed: u64 },
}

/// What the file holds next.
#[derive(Debug, PartialEq)]
pub enum Record {
    /// A key of database `db`, with its absolute expiry (Unix ms) and its value as RDB bytes:
    /// the type byte, then the body.
    Key {
        db: usize,
        key: Vec<u8>,
        expire_ms: Option<i64>,
        value: Vec<u8>,
    },
    /// Something Kiwi cannot load, skipped.
    Skipped(String),
}

/// Reads an RDB file entry by entry.
pub struct RdbReader<R> {
    src: R,
    window: Vec<u8>,
    /// Bytes of `window` already parsed.
    start: usize,
    /// File offset of `window[0]`.
    offset: u64,
    eof: bool,
    /// CRC-64 of every byte parsed so far.
    crc: u64,
    db: usize,
    expire_ms: Option<i64>,
    pub version: u16,
    done: bool,
}

impl<R: Read> RdbReader<R> {
    /// Reads the header (`REDIS` and a four-digit version).
    pub fn new(src: R) -> Result<RdbReader<R>, RdbFileError> {
        let mut reader = RdbReader {
            src,
            window: Vec::new(),
            start: 0,
            offset: 0,
            eof: false,
            crc: 0,
            db: 0,
            expire_ms: None,
            version: 0,
            done: false,
        };
        let header = reader
            .parse("header", |b, pos| {
                let h = b.get(..9)?;
                *pos = 9;
                Some(h.to_vec())
            })
            .map_err(|_| RdbFileError::NotRdb)?;
        if &header[..5] != b"REDIS" {
            return Err(RdbFileError::NotRdb);
        }
        let version = std::str::from_utf8(&header[5..])
            .ok()
            .and_then(|v| v.parse::<u16>().ok())
            .ok_or(RdbFileError::NotRdb)?;
        if version > MAX_VERSION {
            return Err(RdbFileError::TooNew(version));
        }
        reader.version = version;
        Ok(reader)
    }

    /// Bytes of the file read so far (for progress).
    pub fn position(&self) -> u64 {
        self.offset + self.start as u64
    }

    /// The next key or skipped item; `None` at the end of the file (after its checksum held).
    pub fn next_record(&mut self) -> Result<Option<Record>, RdbFileError> {
        while !self.done {
            let op = self.parse("opcode", |b, pos| {
                *pos = 1;
                b.first().copied()
            })?;
            match op {
                OP_EOF => {
                    self.done = true;
                    self.check_sum()?;
                }
                OP_SELECTDB => {
                    self.db = self.parse("SELECTDB", read_length)?;
                }
                OP_RESIZEDB => {
                    self.parse("RESIZEDB", |b, pos| {
                        read_length(b, pos)?;
                        read_length(b, pos)
                    })?;
                }
                OP_AUX => {
                    self.parse("AUX", |b, pos| {
                        read_string(b, pos)?;
                        read_string(b, pos)
                    })?;
                }
                OP_EXPIRETIME_MS | OP_EXPIRETIME => {
                    let width = if op == OP_EXPIRETIME_MS { 8 } else { 4 };
                    let at = self.parse("expire time", |b, pos| {
                        let raw = b.get(..width)?;
                        *pos = width;
                        Some(if width == 8 {
                            i64::from_le_bytes(raw.try_into().ok()?)
                        } else {
                            i64::from(u32::from_le_bytes(raw.try_into().ok()?)) * 1000
                        })
                    })?;
                    self.expire_ms = Some(at);
                }
                OP_FREQ => {
                    self.parse("FREQ", |b, pos| {
                        *pos = 1;
                        b.first().copied()
                    })?;
                }
                OP_IDLE => {
                    self.parse("IDLE", read_length)?;
                }
                OP_MODULE_AUX => {
                    self.parse("module aux data", |b, pos| {
                        read_length(b, pos)?;
                        read_length(b, pos)?;
                        skip_module_data(b, pos)
                    })?;
                    return Ok(Some(Record::Skipped("module auxiliary data".into())));
                }
                OP_FUNCTION2 => {
                    self.parse("function library", read_string)?;
                    return Ok(Some(Record::Skipped(
                        "a function library (load it with FUNCTION LOAD)".into(),
                    )));
                }
                TYPE_MODULE_2 => {
                    self.expire_ms = None;
                    let key = self.parse("module value", |b, pos| {
                        let key = read_string(b, pos)?;
                        read_length(b, pos)?;
                        skip_module_data(b, pos)?;
                        Some(key)
                    })?;
                    return Ok(Some(Record::Skipped(format!(
                        "key {:?} holds a module type",
                        String::from_utf8_lossy(&key)
                    ))));
                }
                kind => {
                    let what = format!("a key entry of RDB type {kind}");
                    let (key, value) = self.parse(&what, |b, pos| {
                        let key = read_string(b, pos)?;
                        let start = *pos;
                        let (_, end) = read_typed_value(kind, b, start)?;
                        *pos = end;
                        let mut value = Vec::with_capacity(1 + end - start);
                        value.push(kind);
                        value.extend_from_slice(&b[start..end]);
                        Some((key, value))
                    })?;
                    return Ok(Some(Record::Key {
                        db: self.db,
                        key,
                        expire_ms: self.expire_ms.take(),
                        value,
                    }));
                }
            }
        }
        Ok(None)
    }

    /// The 8-byte checksum after EOF (version 5 and later; 0 means "not computed").
    fn check_sum(&mut self) -> Result<(), RdbFileError> {
        if self.version < 5 {
            return Ok(());
        }
        let computed = self.crc;
        let stored = self.parse("checksum", |b, pos| {
            *pos = 8;
            Some(u64::from_le_bytes(b.get(..8)?.try_into().ok()?))
        })?;
        if stored != 0 && stored != computed {
            return Err(RdbFileError::Checksum { stored, computed });
        }
        Ok(())
    }

    /// Parses one item from the window, growing it from the file until the item fits (or the
    /// file ends: then the data is corrupt).
    fn parse<T>(
        &mut self,
        what: &str,
        f: impl Fn(&[u8], &mut usize) -> Option<T>,
    ) -> Result<T, RdbFileError> {
        loop {
            let mut pos = 0;
            if let Some(value) = f(&self.window[self.start..], &mut pos) {
                let parsed = &self.window[self.start..self.start + pos];
                self.crc = crc64(self.crc, parsed);
                self.start += pos;
                return Ok(value);
            }
            let available = self.window.len() - self.start;
            if self.eof || available >= MAX_WINDOW {
                return Err(RdbFileError::Corrupt {
                    offset: self.position(),
                    what: what.to_string(),
                });
            }
            self.fill(available.max(1 << 16))?;
        }
    }

    /// Reads about `more` bytes into the window, first dropping what was parsed.
    fn fill(&mut self, more: usize) -> Result<(), RdbFileError> {
        if self.start > 0 {
            self.window.drain(..self.start);
            self.offset += self.start as u64;
            self.start = 0;
        }
        let old = self.window.len();
        self.window.resize(old + more, 0);
        let mut got = 0;
        while got < more {
            match self.src.read(&mut self.window[old + got..]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.window.truncate(old + got);
        Ok(())
    }
}

/// Skips a module's serialized data: typed fields until the EOF opcode.
fn skip_module_data(b: &[u8], pos: &mut usize) -> Option<()> {
    loop {
        match read_length(b, pos)? {
            MODULE_OPCODE_EOF => return Some(()),
            // signed and unsigned integers: a length-encoded number
            1 | 2 => {
                read_length(b, pos)?;
            }
            // float, double: 4 and 8 raw bytes
            3 => *pos = pos.checked_add(4).filter(|&p| p <= b.len())?,
            4 => *pos = pos.checked_add(8).filter(|&p| p <= b.len())?,
            5 => {
                read_string(b, pos)?;
            }
            _ => return None,
        }
    }
}

/// Writes an RDB file (version 10, as Redis 7.0) key by key.
pub struct RdbWriter<W: Write> {
    out: W,
    crc: u64,
    db: Option<usize>,
}

impl<W: Write> RdbWriter<W> {
    /// Writes the header and an auxiliary field naming the writer.
    pub fn new(out: W, writer: &str) -> std::io::Result<RdbWriter<W>> {
        let mut w = RdbWriter {
            out,
            crc: 0,
            db: None,
        };
        w.put(format!("REDIS{:04}", MAX_VERSION).as_bytes())?;
        let mut aux = vec![OP_AUX];
        write_string(&mut aux, b"kiwi-ver");
        write_string(&mut aux, writer.as_bytes());
        w.put(&aux)?;
        Ok(w)
    }

    fn put(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.crc = crc64(self.crc, bytes);
        self.out.write_all(bytes)
    }

    /// Writes one key: `value` is a DUMP payload's body (type byte and value, without the
    /// trailer).
    pub fn key(
        &mut self,
        db: usize,
        key: &[u8],
        expire_ms: Option<i64>,
        value: &[u8],
    ) -> std::io::Result<()> {
        let mut entry = Vec::with_capacity(key.len() + value.len() + 24);
        if self.db != Some(db) {
            entry.push(OP_SELECTDB);
            write_len(&mut entry, db as u64);
            self.db = Some(db);
        }
        if let Some(at) = expire_ms {
            entry.push(OP_EXPIRETIME_MS);
            entry.extend_from_slice(&at.to_le_bytes());
        }
        let (&kind, body) = value
            .split_first()
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "empty value"))?;
        entry.push(kind);
        write_string(&mut entry, key);
        self.put(&entry)?;
        self.put(body)
    }

    /// Writes the end marker and the checksum, and flushes.
    pub fn finish(mut self) -> std::io::Result<W> {
        self.put(&[OP_EOF])?;
        let crc = self.crc;
        self.out.write_all(&crc.to_le_bytes())?;
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_file_reads_back_key_by_key() {
        let mut file = RdbWriter::new(Vec::new(), "test").unwrap();
        file.key(0, b"s", None, &[0, 3, b'a', b'b', b'c']).unwrap();
        file.key(2, b"t", Some(1_700_000_000_000), &[0, 1, b'x'])
            .unwrap();
        let bytes = file.finish().unwrap();
        // A tiny window is grown as entries need it.
        let mut reader = RdbReader::new(&bytes[..]).unwrap();
        assert_eq!(reader.version, 10);
        assert_eq!(
            reader.next_record().unwrap(),
            Some(Record::Key {
                db: 0,
                key: b"s".to_vec(),
                expire_ms: None,
                value: vec![0, 3, b'a', b'b', b'c'],
            })
        );
        assert_eq!(
            reader.next_record().unwrap(),
            Some(Record::Key {
                db: 2,
                key: b"t".to_vec(),
                expire_ms: Some(1_700_000_000_000),
                value: vec![0, 1, b'x'],
            })
        );
        assert_eq!(reader.next_record().unwrap(), None);
        // A flipped byte fails the checksum; a cut file is corrupt.
        let mut bad = bytes.clone();
        bad[20] ^= 1;
        let mut reader = RdbReader::new(&bad[..]).unwrap();
        let err = std::iter::from_fn(|| Some(reader.next_record()))
            .find(|r| !matches!(r, Ok(Some(_))))
            .unwrap();
        assert!(err.is_err());
        let cut = &bytes[..bytes.len() - 12];
        let mut reader = RdbReader::new(cut).unwrap();
        let err = std::iter::from_fn(|| Some(reader.next_record()))
            .find(|r| !matches!(r, Ok(Some(_))))
            .unwrap();
        assert!(matches!(err, Err(RdbFileError::Corrupt { .. })));
        assert!(matches!(
            RdbReader::new(&b"REDIS0012"[..]),
            Err(RdbFileError::TooNew(12))
        ));
    }
}
