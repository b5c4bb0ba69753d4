//! Function libraries (FUNCTION LOAD ... FCALL): what is loaded, in which interpreter.
//!
//! The libraries' code is the truth and lives in RocksDB (rows of the default column family,
//! written in the same batch as the command that changed them, so they follow the data through
//! crashes, Raft snapshots and replication of FUNCTION commands). The interpreter that holds
//! the registered functions is derived from it: built on first use after a start (or a Raft
//! snapshot), changed in place by LOAD and DELETE, rebuilt by RESTORE.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;

use crate::script::{self, Registered, Vm};

/// Key prefix of library rows in the default column family.
pub const LIBRARY_ROW_PREFIX: &[u8] = b"lua-library:";

/// Redis's limit on how long a library's top-level code may run at FUNCTION LOAD.
pub const LOAD_TIMEOUT_MS: u64 = 500;

/// A loaded library.
#[derive(Clone)]
pub struct Library {
    pub name: String,
    /// The whole FUNCTION LOAD payload, `#!lua name=...` line included.
    pub code: Bytes,
    pub functions: Vec<Registered>,
}

/// What FUNCTION LOAD's payload says about itself.
pub struct Metadata {
    pub name: String,
    /// Where the code Lua compiles starts (the line feed after the shebang, so line numbers in
    /// errors are the user's).
    pub code_start: usize,
}

/// Reads the `#!<engine> name=<library>` line, with Redis's errors.
pub fn parse_metadata(payload: &[u8]) -> Result<Metadata, String> {
    if !payload.starts_with(b"#!") {
        return Err("Missing library metadata".into());
    }
    let end = memchr::memchr(b'\n', payload).ok_or("Invalid library metadata")?;
    let parts = crate::resp::parse::split_args(&payload[..end])
        .filter(|parts| !parts.is_empty())
        .ok_or("Invalid library metadata")?;
    let engine = String::from_utf8_lossy(&parts[0][2..]).into_owned();
    let mut name = None;
    for part in &parts[1..] {
        if part.len() >= 5 && part[..5].eq_ignore_ascii_case(b"name=") {
            if name.is_some() {
                return Err(
                    "Invalid metadata value, name argument was given multiple times".into(),
                );
            }
            name = Some(String::from_utf8_lossy(&part[5..]).into_owned());
            continue;
        }
        return Err(format!(
            "Invalid metadata value given: {}",
            String::from_utf8_lossy(part)
        ));
    }
    let name = name.ok_or("Library name was not given")?;
    if !script::valid_name(&name) {
        return Err("Library names can only contain letters, numbers, or underscores(_) and must be at least one character long".into());
    }
    if !engine.eq_ignore_ascii_case("lua") {
        return Err(format!("Engine '{engine}' not found"));
    }
    Ok(Metadata {
        name,
        code_start: end,
    })
}

/// The loaded libraries and their interpreter.
#[derive(Default)]
pub struct Functions {
    libraries: BTreeMap<String, Library>,
    vm: Option<Vm>,
    /// Read from RocksDB since the start (or the last snapshot install).
    loaded: bool,
}

/// What the network runtime reads about the libraries without waiting for a running
/// function: FUNCTION STATS's counts, and each function's flags (CLIENT PAUSE WRITE lets a
/// `no-writes` function through).
#[derive(Default)]
pub struct FunctionCounts {
    pub libraries: AtomicUsize,
    pub functions: AtomicUsize,
    /// Lowercase function name → its flags.
    pub flags: parking_lot::RwLock<std::collections::HashMap<String, crate::script::ScriptFlags>>,
}

impl Functions {
    /// Whether the libraries were read from disk yet.
    pub fn is_loaded(&self) -> bool {
        self.loaded
    }

    /// Replaces everything with `libraries` (FUNCTION RESTORE, a start, a snapshot): builds a
    /// fresh interpreter with all of them, or changes nothing on error. Their code runs without
    /// a time limit, as when Redis loads an RDB file.
    pub fn rebuild(
        &mut self,
        libraries: Vec<Bytes>,
        limit: usize,
        version: &str,
    ) -> Result<(), String> {
        let mut vm = Vm::new(limit, version)?;
        let mut loaded: BTreeMap<String, Library> = BTreeMap::new();
        for code in libraries {
            let library = load_into(&mut vm, code, 0)?;
            if loaded.contains_key(&library.name) {
                return Err(format!("Library {} already exists", library.name));
            }
            check_unique(&library, loaded.values())?;
            vm.commit_library(&[], &library.functions);
            loaded.insert(library.name.clone(), library);
        }
        self.libraries = loaded;
        self.vm = Some(vm);
        self.loaded = true;
        Ok(())
    }

    /// Marks the libraries as to be read from disk again (a Raft snapshot replaced the data).
    pub fn invalidate(&mut self) {
        self.loaded = false;
        self.vm = None;
        self.libraries.clear();
    }

    /// FUNCTION LOAD [REPLACE]: the library's name, or Redis's error text. The library's
    /// top-level code may run `timeout_ms` (0: no limit, for a replicated load).
    pub fn load(
        &mut self,
        code: Bytes,
        replace: bool,
        timeout_ms: u64,
        limit: usize,
        version: &str,
    ) -> Result<String, String> {
        let metadata = parse_metadata(&code)?;
        let old = self.libraries.get(&metadata.name);
        if old.is_some() && !replace {
            return Err(format!("Library '{}' already exists", metadata.name));
        }
        let removed = old.map(|l| l.functions.clone()).unwrap_or_default();
        let library = load_into(self.vm(limit, version)?, code, timeout_ms)?;
        // Function names are unique across libraries (the replaced one's excepted).
        check_unique(
            &library,
            self.libraries.values().filter(|l| l.name != library.name),
        )?;
        self.vm(limit, version)?
            .commit_library(&removed, &library.functions);
        let name = library.name.clone();
        self.libraries.insert(name.clone(), library);
        Ok(name)
    }

    /// FUNCTION DELETE: false if there is no such library.
    pub fn delete(&mut self, name: &str) -> bool {
        let Some(library) = self.libraries.remove(name) else {
            return false;
        };
        if let Some(vm) = self.vm.as_mut() {
            vm.remove_functions(&library.functions);
        }
        true
    }

    /// FUNCTION FLUSH.
    pub fn flush(&mut self) {
        self.libraries.clear();
        self.vm = None;
    }

    /// The loaded libraries, by name.
    pub fn libraries(&self) -> impl Iterator<Item = &Library> {
        self.libraries.values()
    }

    /// The function `name` (any case, as Redis matches function names).
    pub fn function(&self, name: &str) -> Option<&Registered> {
        self.libraries
            .values()
            .flat_map(|l| l.functions.iter())
            .find(|f| f.name.eq_ignore_ascii_case(name))
    }

    /// The interpreter, created if there is none.
    pub fn vm(&mut self, limit: usize, version: &str) -> Result<&mut Vm, String> {
        if self.vm.is_none() {
            self.vm = Some(Vm::new(limit, version)?);
        }
        let vm = self.vm.as_mut().ok_or("no interpreter")?;
        vm.set_memory_limit(limit);
        Ok(vm)
    }

    /// Publishes what the network runtime reads (see [`FunctionCounts`]).
    pub fn count_into(&self, counts: &FunctionCounts) {
        counts
            .libraries
            .store(self.libraries.len(), Ordering::Relaxed);
        let functions = self.libraries.values().map(|l| l.functions.len()).sum();
        counts.functions.store(functions, Ordering::Relaxed);
        *counts.flags.write() = self
            .libraries
            .values()
            .flat_map(|l| l.functions.iter())
            .map(|f| (f.name.to_ascii_lowercase(), f.flags))
            .collect();
    }
}

/// Runs one library's payload in `vm`: its functions are registered but not callable until
/// the caller commits them.
fn load_into(vm: &mut Vm, code: Bytes, timeout_ms: u64) -> Result<Library, String> {
    let metadata = parse_metadata(&code)?;
    let functions = vm.load_library(&code[metadata.code_start..], timeout_ms)?;
    Ok(Library {
        name: metadata.name,
        code,
        functions,
    })
}

/// Refuses a library that registers a function another library has.
fn check_unique<'a>(
    library: &Library,
    mut others: impl Iterator<Item = &'a Library>,
) -> Result<(), String> {
    let taken: Vec<String> = others
        .by_ref()
        .flat_map(|l| l.functions.iter().map(|f| f.name.to_ascii_lowercase()))
        .collect();
    match library
        .functions
        .iter()
        .find(|f| taken.contains(&f.name.to_ascii_lowercase()))
    {
        Some(function) => Err(format!("Function {} already exists", function.name)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_errors_are_redis_s() {
        assert_eq!(
            parse_metadata(b"return 1").err().unwrap(),
            "Missing library metadata"
        );
        assert_eq!(
            parse_metadata(b"#!lua name=x").err().unwrap(),
            "Invalid library metadata"
        );
        assert_eq!(
            parse_metadata(b"#!lua\n").err().unwrap(),
            "Library name was not given"
        );
        assert_eq!(
            parse_metadata(b"#!lua name=a name=b\n").err().unwrap(),
            "Invalid metadata value, name argument was given multiple times"
        );
        assert_eq!(
            parse_metadata(b"#!lua foo=bar\n").err().unwrap(),
            "Invalid metadata value given: foo=bar"
        );
        assert_eq!(
            parse_metadata(b"#!python name=x\n").err().unwrap(),
            "Engine 'python' not found"
        );
        let ok = parse_metadata(b"#!lua name=mylib\nreturn 1").unwrap();
        assert_eq!((ok.name.as_str(), ok.code_start), ("mylib", 16));
    }

    #[test]
    fn libraries_load_replace_and_delete() {
        let mut f = Functions::default();
        let lib = |body: &str| Bytes::from(format!("#!lua name=lib\n{body}"));
        let one = lib("redis.register_function('f1', function() return 1 end)");
        assert_eq!(
            f.load(one.clone(), false, 500, 64 << 20, "7.0.15").unwrap(),
            "lib"
        );
        assert_eq!(
            f.load(one, false, 500, 64 << 20, "7.0.15").err().unwrap(),
            "Library 'lib' already exists"
        );
        let two = lib("redis.register_function('f2', function() return 2 end)");
        f.load(two, true, 500, 64 << 20, "7.0.15").unwrap();
        assert!(f.function("f1").is_none() && f.function("f2").is_some());
        let other = Bytes::from("#!lua name=other\nredis.register_function('f2', function() end)");
        assert_eq!(
            f.load(other, false, 500, 64 << 20, "7.0.15").err().unwrap(),
            "Function f2 already exists"
        );
        assert!(f.delete("lib"));
        assert!(!f.delete("lib"));
        assert!(f.function("f2").is_none());
    }
}
