//! What both runtimes know about Lua scripts: the script cache, the interpreter, the function
//! libraries, the gate that makes a script run alone, and the running script's status.
//!
//! A script is atomic because no other command runs while it does: every storage job holds the
//! gate shared, a job that runs a script holds it exclusively (`runtime::run_job`, and the Raft
//! apply in cluster mode). The network runtime never waits for the gate; it reads the status to
//! answer `BUSY` once a script has run longer than `busy-reply-threshold`, and SCRIPT KILL sets
//! the kill flag that the script's count hook reads.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use bytes::Bytes;
use parking_lot::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::functions::{FunctionCounts, Functions};
use crate::error::ReplyError;
use crate::script::Vm;

/// Scripting state shared by the network and storage runtimes.
#[derive(Default)]
pub struct Scripts {
    /// SHA1 → body, for EVALSHA: what EVAL ran and SCRIPT LOAD loaded.
    bodies: Mutex<HashMap<String, Bytes>>,
    /// The interpreter, created on first use.
    vm: Mutex<Option<Vm>>,
    /// SCRIPT FLUSH asked for a fresh interpreter (replaced at its next use, so that FLUSH
    /// never waits for a running script).
    vm_stale: AtomicBool,
    gate: RwLock<()>,
    running: Running,
    /// Function libraries and their interpreter (`state/functions.rs`).
    functions: Mutex<Functions>,
    /// Their counts, readable while a function runs (FUNCTION STATS).
    function_counts: FunctionCounts,
}

/// The script in progress, if any.
#[derive(Default)]
struct Running {
    /// Set when a script starts, cleared when it ends.
    active: AtomicBool,
    /// The script has run past `busy-reply-threshold`: other clients get BUSY.
    busy: AtomicBool,
    /// SCRIPT KILL asked it to stop.
    kill: AtomicBool,
    /// It wrote, so it can no longer be killed.
    wrote: AtomicBool,
    /// It is applied from the Raft log, where every node must run it to the end.
    replicated: AtomicBool,
    /// An EVAL script rather than a function (which KILL and which BUSY text apply).
    eval: AtomicBool,
    started: Mutex<Option<Instant>>,
    /// Its name (SHA1 or function name) and the command that runs it (FUNCTION STATS).
    what: Mutex<Option<(String, Vec<Bytes>)>>,
}

/// FUNCTION STATS's `running_script`.
pub struct RunningScript {
    pub name: String,
    pub command: Vec<Bytes>,
    pub duration_ms: u64,
}

/// Held by a storage job for as long as it runs (see the module documentation).
pub enum JobGate<'a> {
    Shared { _guard: RwLockReadGuard<'a, ()> },
    Exclusive { _guard: RwLockWriteGuard<'a, ()> },
}

/// Redis's replies to a command sent while a script or a function is busy.
const BUSY_EVAL: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
const BUSY_FUNCTION: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";

impl Scripts {
    /// Enters a storage job: exclusively when it runs a script, so that nothing interleaves.
    pub fn enter_job(&self, runs_script: bool) -> JobGate<'_> {
        if runs_script {
            JobGate::Exclusive {
                _guard: self.gate.write(),
            }
        } else {
            JobGate::Shared {
                _guard: self.gate.read(),
            }
        }
    }

    /// Enters as a plain job unless a script runs now (the expiry sweep skips a round rather
    /// than wait: a script sees the keyspace as it was when it started, as in Redis).
    pub fn try_enter_job(&self) -> Option<JobGate<'_>> {
        self.gate
            .try_read()
            .map(|guard| JobGate::Shared { _guard: guard })
    }

    /// The body of the cached script `sha` (any case).
    pub fn body(&self, sha: &[u8]) -> Option<Bytes> {
        let sha = std::str::from_utf8(sha).ok()?.to_ascii_lowercase();
        self.bodies.lock().get(&sha).cloned()
    }

    /// Caches a script body under its SHA1 (EVAL and SCRIPT LOAD).
    pub fn remember(&self, sha: &str, body: &Bytes) {
        let mut bodies = self.bodies.lock();
        if !bodies.contains_key(sha) {
            bodies.insert(sha.to_string(), body.clone());
        }
    }

    /// Whether the script `sha` is cached (SCRIPT EXISTS).
    pub fn exists(&self, sha: &[u8]) -> bool {
        self.body(sha).is_some()
    }

    /// SCRIPT FLUSH: forgets every script and starts a fresh interpreter on next use.
    pub fn flush(&self) {
        self.bodies.lock().clear();
        self.vm_stale.store(true, Ordering::Release);
    }

    /// Cached scripts (INFO's `number_of_cached_scripts`).
    pub fn count(&self) -> usize {
        self.bodies.lock().len()
    }

    /// Bytes the cached bodies take (INFO's `used_memory_scripts`).
    pub fn bodies_memory(&self) -> usize {
        self.bodies
            .lock()
            .iter()
            .map(|(k, v)| k.len() + v.len())
            .sum()
    }

    /// The interpreter's memory (INFO's `used_memory_lua`); 0 while none exists. Never waits
    /// for a running script.
    pub fn vm_memory(&self) -> usize {
        self.vm
            .try_lock()
            .and_then(|vm| vm.as_ref().map(Vm::used_memory))
            .unwrap_or(0)
    }

    /// The interpreter, created with `memory_limit` if there is none yet.
    pub fn vm(
        &self,
        memory_limit: usize,
        redis_version: &str,
    ) -> Result<parking_lot::MappedMutexGuard<'_, Vm>, ReplyError> {
        let mut guard = self.vm.lock();
        if self.vm_stale.swap(false, Ordering::AcqRel) {
            *guard = None;
        }
        if guard.is_none() {
            let vm = Vm::new(memory_limit, redis_version).map_err(|e| {
                ReplyError::custom(format!("ERR cannot start the Lua interpreter: {e}"))
            })?;
            *guard = Some(vm);
        }
        Ok(MutexGuard::map(guard, |vm| {
            vm.as_mut().expect("created above")
        }))
    }

    /// The function libraries, read from disk first if they were not yet (`load` returns
    /// every stored library's code).
    pub fn functions(
        &self,
        load: impl FnOnce() -> Result<Vec<Bytes>, String>,
        limit: usize,
        version: &str,
    ) -> Result<MutexGuard<'_, Functions>, ReplyError> {
        let mut functions = self.functions.lock();
        if !functions.is_loaded() {
            let libraries = load().map_err(ReplyError::custom)?;
            functions.rebuild(libraries, limit, version).map_err(|e| {
                ReplyError::custom(format!(
                    "ERR cannot load the stored function libraries: {e}"
                ))
            })?;
            functions.count_into(&self.function_counts);
        }
        Ok(functions)
    }

    /// Publishes the libraries' counts after a change.
    pub fn functions_changed(&self, functions: &Functions) {
        functions.count_into(&self.function_counts);
    }

    /// A Raft snapshot replaced the stored libraries: read them again on next use.
    pub fn functions_replaced_on_disk(&self) {
        self.functions.lock().invalidate();
    }

    /// Whether a call of EVAL, EVALSHA or FCALL may write, as Redis derives it from the
    /// script's declared flags (CLIENT PAUSE WRITE holds only those): a script that declares
    /// flags writes unless it says `no-writes`; one without a shebang, or not known here, may.
    pub fn call_may_write(&self, command: &str, args: &[Bytes]) -> bool {
        let declared = |body: &[u8]| {
            crate::script::parse_shebang(body).map_or(true, |shebang| {
                shebang.flags.compat || !shebang.flags.no_writes
            })
        };
        match (command, args.get(1)) {
            ("eval", Some(body)) => declared(body),
            ("evalsha", Some(sha)) => self.body(sha).is_none_or(|body| declared(&body)),
            ("fcall", Some(name)) => {
                let name = String::from_utf8_lossy(name).to_ascii_lowercase();
                let flags = self.function_counts.flags.read();
                flags.get(&name).is_none_or(|f| !f.no_writes)
            }
            _ => true,
        }
    }

    /// (libraries, functions) for FUNCTION STATS.
    pub fn function_counts(&self) -> (usize, usize) {
        let counts = &self.function_counts;
        (
            counts.libraries.load(Ordering::Relaxed),
            counts.functions.load(Ordering::Relaxed),
        )
    }

    /// The script running now, for FUNCTION STATS.
    pub fn running_script(&self) -> Option<RunningScript> {
        let running = &self.running;
        if !running.active.load(Ordering::Acquire) {
            return None;
        }
        let (name, command) = running.what.lock().clone()?;
        let duration_ms = running
            .started
            .lock()
            .map_or(0, |started| started.elapsed().as_millis() as u64);
        Some(RunningScript {
            name,
            command,
            duration_ms,
        })
    }

    /// Marks a script (`eval`) or a function as running; its job holds the gate exclusively.
    /// `name` and `command` are what FUNCTION STATS shows of it.
    pub fn begin_run(&self, replicated: bool, eval: bool, name: &str, command: &[Bytes]) {
        let running = &self.running;
        *running.what.lock() = Some((name.to_string(), command.to_vec()));
        running.eval.store(eval, Ordering::Relaxed);
        *running.started.lock() = Some(Instant::now());
        running.busy.store(false, Ordering::Relaxed);
        running.kill.store(false, Ordering::Relaxed);
        running.wrote.store(false, Ordering::Relaxed);
        running.replicated.store(replicated, Ordering::Relaxed);
        running.active.store(true, Ordering::Release);
    }

    /// Marks the running script as done.
    pub fn end_run(&self) {
        let running = &self.running;
        running.active.store(false, Ordering::Release);
        running.busy.store(false, Ordering::Release);
        *running.started.lock() = None;
        *running.what.lock() = None;
    }

    /// The running script wrote: SCRIPT KILL can no longer stop it.
    pub fn note_write(&self) {
        self.running.wrote.store(true, Ordering::Relaxed);
    }

    /// The running script's periodic check: `Err` when it was killed, `Ok(true)` once it has
    /// run `busy_threshold_ms` or longer (it is then busy for everyone else).
    pub fn tick(&self, busy_threshold_ms: u64) -> Result<bool, String> {
        let running = &self.running;
        if running.kill.load(Ordering::Relaxed) {
            return Err(if running.eval.load(Ordering::Relaxed) {
                "Script killed by user with SCRIPT KILL..."
            } else {
                "Script killed by user with FUNCTION KILL..."
            }
            .into());
        }
        if running.busy.load(Ordering::Relaxed) {
            return Ok(true);
        }
        let elapsed = running
            .started
            .lock()
            .map_or(0, |started| started.elapsed().as_millis() as u64);
        if busy_threshold_ms > 0 && elapsed >= busy_threshold_ms {
            running.busy.store(true, Ordering::Release);
            tracing::warn!(
                elapsed_ms = elapsed,
                "a script is still running; other clients get BUSY until it ends or SCRIPT KILL"
            );
            return Ok(true);
        }
        Ok(false)
    }

    /// The BUSY error a command without `allow-busy` gets while a script is busy.
    pub fn busy_error(&self) -> Option<ReplyError> {
        let running = &self.running;
        running.busy.load(Ordering::Acquire).then(|| {
            ReplyError::custom(if running.eval.load(Ordering::Relaxed) {
                BUSY_EVAL
            } else {
                BUSY_FUNCTION
            })
        })
    }

    /// SCRIPT KILL (`eval`) or FUNCTION KILL, answered on the network runtime while the
    /// script runs on storage. Each kills only its own kind.
    pub fn kill(&self, eval: bool) -> Result<(), ReplyError> {
        let running = &self.running;
        if !running.active.load(Ordering::Acquire) {
            return Err(ReplyError::custom(
                "NOTBUSY No scripts in execution right now.",
            ));
        }
        if running.replicated.load(Ordering::Relaxed) {
            return Err(ReplyError::custom("UNKILLABLE The busy script was sent by a master instance in the context of replication and cannot be killed."));
        }
        if running.wrote.load(Ordering::Relaxed) {
            return Err(ReplyError::custom("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command."));
        }
        match (eval, running.eval.load(Ordering::Relaxed)) {
            (true, false) => return Err(ReplyError::custom(BUSY_FUNCTION)),
            (false, true) => return Err(ReplyError::custom(BUSY_EVAL)),
            _ => {}
        }
        running.kill.store(true, Ordering::Relaxed);
        Ok(())
    }
}
