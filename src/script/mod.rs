//! The Lua 5.1 engine behind EVAL, EVALSHA and SCRIPT, as Redis 7.0 embeds it.
//!
//! This module knows Lua and Redis's scripting rules (the sandbox, the `redis` API, the reply
//! conversions in both directions, shebang flags, the error format) but nothing of where
//! commands run: a script reaches the data through a [`Host`], which `cmd::scripting` implements
//! on the storage runtime with the job's context. That keeps the one `unsafe` corner of the
//! code base — the Lua C API — small and free of server concerns.

mod convert;
mod libs;
mod rand48;
mod vm;

pub use vm::{check_syntax, in_script, Host, Registered, RunOptions, Vm};

use sha1::{Digest, Sha1};

/// A script's SHA1 as Redis names it: 40 lowercase hex digits.
pub fn sha1_hex(data: &[u8]) -> String {
    crate::util::hex(&Sha1::digest(data))
}

/// The flags a script declares in its `#!lua flags=...` line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScriptFlags {
    /// No shebang at all: Redis's backwards-compatible EVAL mode (writes allowed, no OOM check
    /// up front).
    pub compat: bool,
    pub no_writes: bool,
    pub allow_oom: bool,
    pub allow_stale: bool,
    pub no_cluster: bool,
    pub allow_cross_slot_keys: bool,
}

impl ScriptFlags {
    /// Sets the flag Redis names `name`; false for an unknown name.
    pub fn set(&mut self, name: &[u8]) -> bool {
        match name {
            b"no-writes" => self.no_writes = true,
            b"allow-oom" => self.allow_oom = true,
            b"allow-stale" => self.allow_stale = true,
            b"no-cluster" => self.no_cluster = true,
            b"allow-cross-slot-keys" => self.allow_cross_slot_keys = true,
            _ => return false,
        }
        true
    }

    /// The flags set, by Redis's names in Redis's order (FUNCTION LIST).
    pub fn names(&self) -> Vec<&'static str> {
        [
            (self.no_writes, "no-writes"),
            (self.allow_oom, "allow-oom"),
            (self.allow_stale, "allow-stale"),
            (self.no_cluster, "no-cluster"),
            (self.allow_cross_slot_keys, "allow-cross-slot-keys"),
        ]
        .into_iter()
        .filter_map(|(set, name)| set.then_some(name))
        .collect()
    }
}

/// Whether `name` is a valid library or function name: letters, digits and `_`, at least one.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A script body split into its flags and the code Lua compiles.
pub struct Shebang {
    pub flags: ScriptFlags,
    /// Bytes of the `#!` line, without its line feed: Lua compiles the rest, so line numbers in
    /// errors stay the user's.
    pub len: usize,
}

/// Parses the optional `#!lua [flags=a,b]` first line, with Redis's errors (without `ERR `).
pub fn parse_shebang(body: &[u8]) -> Result<Shebang, String> {
    if !body.starts_with(b"#!") {
        return Ok(Shebang {
            flags: ScriptFlags {
                compat: true,
                ..ScriptFlags::default()
            },
            len: 0,
        });
    }
    let Some(end) = memchr::memchr(b'\n', body) else {
        return Err("Invalid script shebang".into());
    };
    let line = &body[..end];
    let parts = crate::resp::parse::split_args(line).unwrap_or_default();
    let Some(engine) = parts.first() else {
        return Err("Invalid engine in script shebang".into());
    };
    if engine.as_slice() != b"#!lua" {
        return Err(format!(
            "Unexpected engine in script shebang: {}",
            String::from_utf8_lossy(engine)
        ));
    }
    let mut flags = ScriptFlags::default();
    for part in &parts[1..] {
        let Some(list) = part.strip_prefix(b"flags=".as_slice()) else {
            return Err(format!(
                "Unknown lua shebang option: {}",
                String::from_utf8_lossy(part)
            ));
        };
        for flag in list.split(|&b| b == b',').filter(|f| !f.is_empty()) {
            if !flags.set(flag) {
                return Err(format!(
                    "Unexpected flag in script shebang: {}",
                    String::from_utf8_lossy(flag)
                ));
            }
        }
    }
    Ok(Shebang { flags, len: end })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha1_matches_redis() {
        // SCRIPT LOAD "return 1" on redis-server.
        assert_eq!(
            sha1_hex(b"return 1"),
            "e0e1f9fabfc9d4800c877a703b823ac0578ff8db"
        );
    }

    #[test]
    fn shebang_flags_and_errors() {
        let plain = parse_shebang(b"return 1").unwrap();
        assert!(plain.flags.compat);
        let s = parse_shebang(b"#!lua flags=no-writes,allow-oom\nreturn 1").unwrap();
        assert!(s.flags.no_writes && s.flags.allow_oom && !s.flags.compat);
        assert_eq!(s.len, "#!lua flags=no-writes,allow-oom".len());
        assert_eq!(
            parse_shebang(b"#!lua flags=bad\n").err().unwrap(),
            "Unexpected flag in script shebang: bad"
        );
        assert_eq!(
            parse_shebang(b"#!python\n").err().unwrap(),
            "Unexpected engine in script shebang: #!python"
        );
        assert_eq!(
            parse_shebang(b"#!lua name=x\n").err().unwrap(),
            "Unknown lua shebang option: name=x"
        );
        assert_eq!(
            parse_shebang(b"#!lua").err().unwrap(),
            "Invalid script shebang"
        );
    }
}
