//! One Lua interpreter with Redis's sandbox and `redis` API.
//!
//! The interpreter is created the way Redis creates its own: the base, table, string, math and
//! debug libraries; `debug` kept only for the error handler and then removed; `pcall`,
//! `math.random` and `math.randomseed` replaced; the `redis` table; globals locked (a script that
//! assigns or reads an undeclared global gets Redis's errors); library tables read-only. Memory
//! goes through an allocator with a hard limit, so a runaway script fails with "not enough
//! memory" instead of growing the server.
//!
//! While a script runs, the functions Lua calls back (`redis.call` and the count hook) find their
//! [`Host`] through a thread-local pointer set for exactly the duration of the call; an
//! interpreter is only ever used under its owner's lock, on one thread at a time.

use std::alloc::Layout;
use std::cell::Cell;
use std::ffi::{c_int, c_void};
use std::ptr;

use bytes::Bytes;
use mlua_sys as ffi;

use super::convert::{mark_counted, pop_reply, push_bytes, push_error_table, push_reply, to_bytes};
use super::rand48::{self, Rand48};
use crate::resp::Frame;

/// What a script may do to the server: run commands, ask ACLs, log, and be stopped.
pub trait Host {
    /// Runs one command for `redis.call`/`redis.pcall`. `Ok` carries the command's reply
    /// (possibly an error reply); `Err` a refusal before it ran (unknown command, ACL, write
    /// in a read-only script ...), worded as Redis words it without the `ERR ` code.
    fn call(&mut self, args: Vec<Bytes>, resp3: bool) -> Result<Frame, String>;
    /// `redis.acl_check_cmd`: whether the user may run `args`; `Err` for an unknown command.
    fn acl_check(&mut self, args: &[Bytes]) -> Result<bool, String>;
    /// Called every few thousand instructions; an `Err` stops the script with that error
    /// (SCRIPT KILL). `Ok(true)` asks to be called more often (the script is past the busy
    /// threshold and other clients are waiting for it).
    fn tick(&mut self) -> Result<bool, String>;
    /// `redis.log(level, ...)` with Redis's levels (0 debug ... 3 warning).
    fn log(&mut self, level: i32, message: &str);
}

/// How to run one script.
pub struct RunOptions {
    /// Call [`Host::tick`] while the script runs (Redis does when `busy-reply-threshold` > 0).
    pub watch: bool,
}

/// Instructions between two [`Host::tick`] calls, and once the script is busy.
const TICK_INSTRUCTIONS: c_int = 100_000;
const BUSY_TICK_INSTRUCTIONS: c_int = 1_000;

/// The script being run on this thread, for the functions Lua calls back.
struct Run {
    host: *mut (dyn Host + 'static),
    resp3: bool,
    rand: *mut Rand48,
}

thread_local! {
    static RUN: Cell<*mut Run> = const { Cell::new(ptr::null_mut()) };
}

/// Whether a script runs on this thread: commands that refuse to block inside scripts (XREAD
/// BLOCK) ask.
pub fn in_script() -> bool {
    !RUN.with(Cell::get).is_null()
}

/// The running script, if a script is running on this thread.
unsafe fn current<'a>() -> Option<&'a mut Run> {
    RUN.with(Cell::get).as_mut()
}

/// Lua's memory, counted against a limit.
struct Allocator {
    used: usize,
    limit: usize,
    /// The limit applies only while user code runs (inside a protected call): a failed
    /// allocation anywhere else would be an unprotected Lua error, which aborts the process.
    enforced: bool,
}

const ALIGN: usize = 16;

unsafe extern "C" fn allocate(
    ud: *mut c_void,
    ptr: *mut c_void,
    old_size: usize,
    new_size: usize,
) -> *mut c_void {
    let counter = &mut *(ud as *mut Allocator);
    // Lua 5.1 passes 0 as the old size of a new block.
    let old_size = if ptr.is_null() { 0 } else { old_size };
    if new_size == 0 {
        if !ptr.is_null() {
            std::alloc::dealloc(
                ptr.cast(),
                Layout::from_size_align_unchecked(old_size, ALIGN),
            );
            counter.used -= old_size;
        }
        return ptr::null_mut();
    }
    // Shrinking must never fail (Lua relies on it); growing past the limit does.
    if counter.enforced && new_size > old_size && counter.used - old_size + new_size > counter.limit
    {
        return ptr::null_mut();
    }
    let block = if ptr.is_null() {
        std::alloc::alloc(Layout::from_size_align_unchecked(new_size, ALIGN))
    } else {
        std::alloc::realloc(
            ptr.cast(),
            Layout::from_size_align_unchecked(old_size, ALIGN),
            new_size,
        )
    };
    if !block.is_null() {
        counter.used = counter.used - old_size + new_size;
    }
    block.cast()
}

/// A Lua interpreter set up as Redis sets up its scripting engine.
pub struct Vm {
    l: *mut ffi::lua_State,
    allocator: Box<Allocator>,
    rand: Box<Rand48>,
    runs: u64,
    /// The last run's error reply repeats the error of a command it called (which was
    /// counted in INFO errorstats then).
    error_counted: bool,
}

// SAFETY: the interpreter is owned by this value alone and used by one thread at a time (its
// owner keeps it behind a mutex); Lua keeps no thread affinity.
unsafe impl Send for Vm {}

impl Drop for Vm {
    fn drop(&mut self) {
        // SAFETY: the state was created by `Vm::new` and is closed once.
        unsafe { ffi::lua_close(self.l) };
    }
}

/// Lua code run once at start: Redis's error handler (which needs `debug`, then dropped) and
/// the sandbox. Only Redis's allowed globals stay (less `newproxy`, whose `__gc` could raise
/// an error where nothing catches it); the globals table scripts see is an empty
/// read-only view of them (assigning any global, existing or not, fails as in Redis, and
/// reading an undeclared one is an error); library tables are read-only views too;
/// `setmetatable` and `rawset` refuse the protected tables; binary chunks cannot be loaded.
/// The real globals and the error handler are kept in the registry for the host.
const PRELUDE: &str = r#"
local dbg = debug
local registry = dbg.getregistry()
local globals = _G
function __redis__err__handler(err)
  -- The frame that failed: past C functions (error, redis.call) and the sandbox's own
  -- functions, at the user's code.
  local level = 2
  local i = dbg.getinfo(level,'nSl')
  while i and (i.what == 'C' or i.source == '@kiwi_prelude') do
    level = level + 1
    i = dbg.getinfo(level,'nSl')
  end
  if type(err) ~= 'table' then
    err = {err='ERR ' .. tostring(err)}
  end
  if i then
    err['source'] = i.source
    err['line'] = i.currentline
  end
  return err
end
registry.kiwi_err_handler = __redis__err__handler
registry.kiwi_globals = globals

local allowed = {}
for _, name in ipairs({
  'string', 'cjson', 'bit', 'cmsgpack', 'math', 'table', 'struct', 'redis',
  '__redis__err__handler', 'xpcall', 'tostring', 'getfenv', 'setmetatable', 'next', 'assert',
  'tonumber', 'rawequal', 'collectgarbage', 'getmetatable', 'rawset', 'pcall', 'coroutine',
  'type', '_G', 'select', 'unpack', 'gcinfo', 'pairs', 'rawget', 'loadstring', 'ipairs',
  '_VERSION', 'setfenv', 'load', 'error',
}) do allowed[name] = true end
local removed = {}
for name in pairs(globals) do
  if not allowed[name] then removed[#removed + 1] = name end
end
for _, name in ipairs(removed) do globals[name] = nil end

local raw_setmetatable, raw_rawset, raw_loadstring, raw_load, raw_type =
  setmetatable, rawset, loadstring, load, type
local protected = raw_setmetatable({}, {__mode = 'k'})
local function readonly_error()
  error("Attempt to modify a readonly table", 2)
end
local function readonly(t)
  local view = raw_setmetatable({}, {__index = t, __newindex = readonly_error})
  getmetatable(view).__metatable = view
  protected[view] = true
  return view
end
for _, name in ipairs({'redis', 'string', 'math', 'table', 'coroutine', 'cjson', 'bit', 'cmsgpack', 'struct'}) do
  if globals[name] then globals[name] = readonly(globals[name]) end
end
-- Refused inside a C function in Redis: the message has no position.
local function refused_by_builtin()
  error("Attempt to modify a readonly table", 0)
end
globals.setmetatable = function(t, mt)
  if protected[t] then refused_by_builtin() end
  return raw_setmetatable(t, mt)
end
globals.rawset = function(t, k, v)
  if protected[t] then refused_by_builtin() end
  return raw_rawset(t, k, v)
end
local function no_binary(code)
  if raw_type(code) == 'string' and code:byte(1) == 27 then
    return nil, "binary code loading is not allowed"
  end
end
globals.loadstring = function(code, name)
  local refused, why = no_binary(code)
  if why then return refused, why end
  return raw_loadstring(code, name)
end
globals.load = function(reader, name)
  local pieces = {}
  while true do
    local piece = reader()
    if piece == nil or piece == '' then break end
    pieces[#pieces + 1] = piece
  end
  return globals.loadstring(table.concat(pieces), name)
end

registry.kiwi_readonly = readonly
local view = readonly(globals)
globals._G = view
raw_setmetatable(globals, {__index = function(_, name)
  error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
end})
setfenv(0, view)
"#;

impl Vm {
    /// A fresh interpreter whose memory may not exceed `memory_limit` bytes, announcing
    /// `redis_version` (`redis.REDIS_VERSION`) to scripts.
    pub fn new(memory_limit: usize, redis_version: &str) -> Result<Vm, String> {
        let mut allocator = Box::new(Allocator {
            used: 0,
            limit: memory_limit.max(1 << 20),
            enforced: false,
        });
        // SAFETY: the allocator outlives the state (both are owned by the `Vm`, and the state
        // is closed first in `drop`).
        let l = unsafe { ffi::lua_newstate(allocate, (&mut *allocator as *mut Allocator).cast()) };
        if l.is_null() {
            return Err("cannot create a Lua interpreter".into());
        }
        // SAFETY: installs a plain function pointer on the fresh state.
        unsafe { ffi::lua_atpanic(l, on_panic) };
        let vm = Vm {
            l,
            allocator,
            rand: Box::new(Rand48::default()),
            runs: 0,
            error_counted: false,
        };
        // SAFETY: a fresh state with room for the few slots each step uses.
        unsafe {
            for (name, open) in [
                ("", ffi::luaopen_base as ffi::lua_CFunction),
                ("table", ffi::luaopen_table),
                ("string", ffi::luaopen_string),
                ("math", ffi::luaopen_math),
                ("debug", ffi::luaopen_debug),
            ] {
                ffi::lua_pushcfunction(l, open);
                push_bytes(l, name.as_bytes());
                ffi::lua_call(l, 1, 0);
            }
            super::libs::open(l);
            ffi::lua_pushcfunction(l, redis_pcall_builtin);
            ffi::lua_setglobal(l, c"pcall".as_ptr());
            vm.register_redis_api(redis_version);
            vm.exec(PRELUDE, "@kiwi_prelude")?;
            vm.register_library_api(redis_version);
        }
        Ok(vm)
    }

    unsafe fn register_redis_api(&self, version: &str) {
        let l = self.l;
        ffi::lua_newtable(l);
        let functions: [(&std::ffi::CStr, ffi::lua_CFunction); 12] = [
            (c"call", redis_call),
            (c"pcall", redis_pcall),
            (c"log", redis_log),
            (c"setresp", redis_setresp),
            (c"sha1hex", redis_sha1hex),
            (c"error_reply", redis_error_reply),
            (c"status_reply", redis_status_reply),
            (c"set_repl", redis_set_repl),
            (c"replicate_commands", redis_replicate_commands),
            (c"acl_check_cmd", redis_acl_check_cmd),
            (c"breakpoint", redis_breakpoint),
            (c"debug", redis_debug),
        ];
        for (name, function) in functions {
            ffi::lua_pushcfunction(l, function);
            ffi::lua_setfield(l, -2, name.as_ptr());
        }
        let numbers: [(&std::ffi::CStr, f64); 10] = [
            (c"LOG_DEBUG", 0.0),
            (c"LOG_VERBOSE", 1.0),
            (c"LOG_NOTICE", 2.0),
            (c"LOG_WARNING", 3.0),
            (c"REPL_NONE", 0.0),
            (c"REPL_AOF", 1.0),
            (c"REPL_SLAVE", 2.0),
            (c"REPL_REPLICA", 2.0),
            (c"REPL_ALL", 3.0),
            (c"REDIS_VERSION_NUM", version_number(version) as f64),
        ];
        for (name, value) in numbers {
            ffi::lua_pushnumber(l, value);
            ffi::lua_setfield(l, -2, name.as_ptr());
        }
        push_bytes(l, version.as_bytes());
        ffi::lua_setfield(l, -2, c"REDIS_VERSION".as_ptr());
        ffi::lua_setglobal(l, c"redis".as_ptr());
        ffi::lua_getglobal(l, c"math".as_ptr());
        ffi::lua_pushcfunction(l, math_random);
        ffi::lua_setfield(l, -2, c"random".as_ptr());
        ffi::lua_pushcfunction(l, math_randomseed);
        ffi::lua_setfield(l, -2, c"randomseed".as_ptr());
        ffi::lua_pop(l, 1);
    }

    /// The globals a library sees while it loads (`redis.register_function`, `redis.log` and
    /// the version fields, nothing else), and the table registered functions are filed in.
    unsafe fn register_library_api(&self, version: &str) {
        let l = self.l;
        for table in [c"kiwi_functions", c"kiwi_pending"] {
            ffi::lua_newtable(l);
            ffi::lua_setfield(l, ffi::LUA_REGISTRYINDEX, table.as_ptr());
        }
        ffi::lua_newtable(l); // the library globals
        ffi::lua_newtable(l); // their `redis`
        ffi::lua_pushcfunction(l, register_function);
        ffi::lua_setfield(l, -2, c"register_function".as_ptr());
        ffi::lua_pushcfunction(l, redis_log);
        ffi::lua_setfield(l, -2, c"log".as_ptr());
        for (name, value) in [
            (c"LOG_DEBUG", 0.0),
            (c"LOG_VERBOSE", 1.0),
            (c"LOG_NOTICE", 2.0),
            (c"LOG_WARNING", 3.0),
            (c"REDIS_VERSION_NUM", version_number(version) as f64),
        ] {
            ffi::lua_pushnumber(l, value);
            ffi::lua_setfield(l, -2, name.as_ptr());
        }
        push_bytes(l, version.as_bytes());
        ffi::lua_setfield(l, -2, c"REDIS_VERSION".as_ptr());
        // Anything else, in `redis` or among the globals, is an undeclared global, as in Redis.
        ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, c"kiwi_globals".as_ptr());
        ffi::lua_getmetatable(l, -1);
        ffi::lua_setmetatable(l, -3);
        ffi::lua_pop(l, 1);
        // Read-only, even to a function that kept a reference to it.
        ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, c"kiwi_readonly".as_ptr());
        ffi::lua_insert(l, -2);
        ffi::lua_call(l, 1, 1);
        ffi::lua_setfield(l, -2, c"redis".as_ptr());
        ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, c"kiwi_globals".as_ptr());
        ffi::lua_getmetatable(l, -1);
        ffi::lua_setmetatable(l, -3);
        ffi::lua_pop(l, 1);
        ffi::lua_setfield(l, ffi::LUA_REGISTRYINDEX, c"kiwi_library_api".as_ptr());
    }

    /// Runs trusted setup code.
    unsafe fn exec(&self, code: &str, name: &str) -> Result<(), String> {
        let name = std::ffi::CString::new(name).map_err(|e| e.to_string())?;
        let loaded = ffi::luaL_loadbuffer(self.l, code.as_ptr().cast(), code.len(), name.as_ptr());
        if loaded != 0 || ffi::lua_pcall(self.l, 0, 0, 0) != 0 {
            let message = to_bytes(self.l, -1)
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            ffi::lua_pop(self.l, 1);
            return Err(message);
        }
        Ok(())
    }

    /// Reseeds `math.random` (a replicated script starts from its log entry's seed, so every
    /// node draws the same numbers).
    pub fn seed_random(&mut self, seed: i32) {
        *self.rand = Rand48::seeded(seed);
    }

    /// Changes the memory limit (CONFIG SET lua-memory-limit); memory already in use stays.
    pub fn set_memory_limit(&mut self, limit: usize) {
        self.allocator.limit = limit.max(1 << 20);
    }

    /// Whether the last run's error reply repeats the error of a command the script called
    /// (Redis's `ignore_error_stats_update`): it was counted already.
    pub fn error_counted(&self) -> bool {
        self.error_counted
    }

    /// Bytes of memory the interpreter uses (INFO's `used_memory_lua`).
    pub fn used_memory(&self) -> usize {
        self.allocator.used
    }

    /// Whether the script `sha` is compiled in this interpreter.
    pub fn has_script(&self, sha: &str) -> bool {
        let name = script_name(sha);
        // SAFETY: a registry lookup that leaves the stack as it found it.
        unsafe {
            ffi::lua_getfield(self.l, ffi::LUA_REGISTRYINDEX, name.as_ptr());
            let found = ffi::lua_type(self.l, -1) == ffi::LUA_TFUNCTION;
            ffi::lua_pop(self.l, 1);
            found
        }
    }

    /// Compiles `code` (a script body after its shebang line) as the script `sha`, unless it is
    /// compiled already. The error is Redis's reply text.
    pub fn compile(&mut self, sha: &str, code: &[u8]) -> Result<(), String> {
        if self.has_script(sha) {
            return Ok(());
        }
        let name = script_name(sha);
        // SAFETY: load leaves exactly one value (function or message) on the stack.
        unsafe {
            let loaded = ffi::luaL_loadbuffer(
                self.l,
                code.as_ptr().cast(),
                code.len(),
                c"@user_script".as_ptr(),
            );
            if loaded != 0 {
                let message = to_bytes(self.l, -1)
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .unwrap_or_default();
                ffi::lua_pop(self.l, 1);
                return Err(format!(
                    "ERR Error compiling script (new function): {message}"
                ));
            }
            ffi::lua_setfield(self.l, ffi::LUA_REGISTRYINDEX, name.as_ptr());
        }
        Ok(())
    }

    /// Runs the compiled script `sha` with `KEYS` and `ARGV`, and returns its reply (an error
    /// reply in Redis's "... script: <sha>, on @user_script:<line>." form when it failed).
    pub fn run(
        &mut self,
        host: &mut dyn Host,
        sha: &str,
        keys: &[Bytes],
        argv: &[Bytes],
        options: RunOptions,
    ) -> Frame {
        let l = self.l;
        let name = script_name(sha);
        // SAFETY: pushes the handler and the function for `invoke`, or leaves the stack as it
        // found it.
        unsafe {
            if ffi::lua_checkstack(l, 8) == 0 {
                return Frame::Error("ERR reached lua stack limit".into());
            }
            ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, c"kiwi_err_handler".as_ptr());
            ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, name.as_ptr());
            if ffi::lua_type(l, -1) != ffi::LUA_TFUNCTION {
                ffi::lua_pop(l, 2);
                return Frame::Error("NOSCRIPT No matching script. Please use EVAL.".into());
            }
            // KEYS and ARGV live among the real globals, behind the read-only view.
            ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, c"kiwi_globals".as_ptr());
            for (global, values) in [("KEYS", keys), ("ARGV", argv)] {
                push_bytes(l, global.as_bytes());
                push_array(l, values);
                ffi::lua_rawset(l, -3);
            }
            ffi::lua_pop(l, 1);
            self.invoke(host, sha, 0, options)
        }
    }

    /// Calls the registered function `name` (FCALL) with its keys and arguments as its two
    /// parameters, as Redis does.
    pub fn call_function(
        &mut self,
        host: &mut dyn Host,
        name: &str,
        keys: &[Bytes],
        argv: &[Bytes],
        options: RunOptions,
    ) -> Frame {
        let l = self.l;
        // SAFETY: pushes the handler, the function and its two arguments for `invoke`, or
        // leaves the stack as it found it.
        unsafe {
            if ffi::lua_checkstack(l, 8) == 0 {
                return Frame::Error("ERR reached lua stack limit".into());
            }
            ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, c"kiwi_err_handler".as_ptr());
            ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, c"kiwi_functions".as_ptr());
            push_bytes(l, name.to_ascii_lowercase().as_bytes());
            ffi::lua_rawget(l, -2);
            ffi::lua_remove(l, -2);
            if ffi::lua_type(l, -1) != ffi::LUA_TFUNCTION {
                ffi::lua_pop(l, 2);
                return Frame::Error("ERR Function not found".into());
            }
            push_array(l, keys);
            push_array(l, argv);
            self.invoke(host, name, 2, options)
        }
    }

    /// Calls the function under its `nargs` arguments (above the error handler) with `host`
    /// reachable from Lua, and converts its result or error. Pops all of them.
    unsafe fn invoke(
        &mut self,
        host: &mut dyn Host,
        name: &str,
        nargs: c_int,
        options: RunOptions,
    ) -> Frame {
        let l = self.l;
        // SAFETY (lifetime): the pointer is only dereferenced during the call below.
        let host: *mut (dyn Host + '_) = host;
        let host: *mut (dyn Host + 'static) = std::mem::transmute(host);
        let mut run = Run {
            host,
            resp3: false,
            rand: &mut *self.rand,
        };
        RUN.with(|r| r.set(&mut run));
        if options.watch {
            ffi::lua_sethook(l, Some(count_hook), ffi::LUA_MASKCOUNT, TICK_INSTRUCTIONS);
        }
        self.allocator.enforced = true;
        let status = ffi::lua_pcall(l, nargs, 1, -(nargs + 2));
        self.allocator.enforced = false;
        ffi::lua_sethook(l, None, 0, 0);
        RUN.with(|r| r.set(ptr::null_mut()));
        self.error_counted = ffi::lua_type(l, -1) == ffi::LUA_TTABLE && {
            // Raw accesses only from here on: a metamethod could raise an error outside any
            // protected call.
            push_bytes(l, b"ignore_error_stats_update");
            ffi::lua_rawget(l, -2);
            let counted = ffi::lua_toboolean(l, -1) != 0;
            ffi::lua_pop(l, 1);
            counted
        };
        let reply = if status == 0 {
            pop_reply(l, run.resp3)
        } else {
            pop_error(l, name)
        };
        ffi::lua_pop(l, 1); // the error handler
        self.collect_garbage(status);
        reply
    }

    /// Frees what the last run left behind: a step every 50 runs, as Redis does, and a full
    /// collection after "not enough memory" or when half the memory limit is in use — Lua 5.1
    /// does not collect before it reports "not enough memory", so garbage would fail the next
    /// script. (Not after every failure: a full collection walks every cached script.)
    unsafe fn collect_garbage(&mut self, status: c_int) {
        self.runs += 1;
        if status == ffi::LUA_ERRMEM || self.allocator.used > self.allocator.limit / 2 {
            ffi::lua_gc(self.l, ffi::LUA_GCCOLLECT, 0);
        } else if self.runs % 50 == 0 {
            ffi::lua_gc(self.l, ffi::LUA_GCSTEP, 50);
        }
    }

    /// Runs a library's code (after its `#!lua name=...` line) so that it registers its
    /// functions, as FUNCTION LOAD does: only `redis.register_function`, `redis.log` and the
    /// version fields are reachable, and the code gets `timeout_ms` (0: no limit). Returns the
    /// functions it registered, or Redis's error text.
    pub fn load_library(
        &mut self,
        code: &[u8],
        timeout_ms: u64,
    ) -> Result<Vec<Registered>, String> {
        let l = self.l;
        let mut registered: Vec<Registered> = Vec::new();
        // SAFETY: the globals view's metatable is switched to the library API for the load
        // and back on every path; the load context points to locals that outlive the call.
        unsafe {
            ffi::lua_checkstack(l, 8);
            ffi::lua_newtable(l);
            ffi::lua_setfield(l, ffi::LUA_REGISTRYINDEX, c"kiwi_pending".as_ptr());
            set_globals_index(l, c"kiwi_library_api");
            let loaded = ffi::luaL_loadbuffer(
                l,
                code.as_ptr().cast(),
                code.len(),
                c"@user_function".as_ptr(),
            );
            let outcome = if loaded != 0 {
                let message = to_bytes(l, -1)
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .unwrap_or_default();
                ffi::lua_pop(l, 1);
                Err(format!("Error compiling function: {message}"))
            } else {
                let mut load = Load {
                    registered: Vec::new(),
                    started: std::time::Instant::now(),
                    timeout_ms,
                };
                LOAD.with(|c| c.set(&mut load));
                ffi::lua_sethook(l, Some(load_hook), ffi::LUA_MASKCOUNT, TICK_INSTRUCTIONS);
                self.allocator.enforced = true;
                let status = ffi::lua_pcall(l, 0, 0, 0);
                self.allocator.enforced = false;
                ffi::lua_sethook(l, None, 0, 0);
                LOAD.with(|c| c.set(ptr::null_mut()));
                registered = load.registered;
                self.collect_garbage(status);
                if status != 0 {
                    let message = error_message(l);
                    Err(format!("Error registering functions: {message}"))
                } else {
                    Ok(())
                }
            };
            set_globals_index(l, c"kiwi_globals");
            outcome?;
        }
        if registered.is_empty() {
            return Err("No functions registered".into());
        }
        Ok(registered)
    }

    /// Makes the functions of the last successful [`Vm::load_library`] callable, in place of
    /// `removed` (the functions of the library it replaces).
    pub fn commit_library(&mut self, removed: &[Registered], added: &[Registered]) {
        let l = self.l;
        // SAFETY: registry table updates that leave the stack as they found it.
        unsafe {
            ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, c"kiwi_functions".as_ptr());
            for function in removed {
                push_bytes(l, function.name.to_ascii_lowercase().as_bytes());
                ffi::lua_pushnil(l);
                ffi::lua_rawset(l, -3);
            }
            ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, c"kiwi_pending".as_ptr());
            for function in added {
                let key = function.name.to_ascii_lowercase();
                push_bytes(l, key.as_bytes());
                push_bytes(l, key.as_bytes());
                ffi::lua_rawget(l, -3);
                ffi::lua_rawset(l, -4);
            }
            ffi::lua_pop(l, 2);
            ffi::lua_newtable(l);
            ffi::lua_setfield(l, ffi::LUA_REGISTRYINDEX, c"kiwi_pending".as_ptr());
        }
    }

    /// Forgets the functions of a deleted library.
    pub fn remove_functions(&mut self, removed: &[Registered]) {
        self.commit_library(removed, &[]);
    }
}

/// A function a library registered (FUNCTION LIST shows them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    pub name: String,
    pub description: Option<Bytes>,
    pub flags: super::ScriptFlags,
}

/// The library being loaded on this thread, for `redis.register_function`.
struct Load {
    registered: Vec<Registered>,
    started: std::time::Instant,
    timeout_ms: u64,
}

thread_local! {
    static LOAD: Cell<*mut Load> = const { Cell::new(ptr::null_mut()) };
}

/// Points the globals view at the table the registry holds under `name`: the real globals, or
/// the library API while a library loads.
unsafe fn set_globals_index(l: *mut ffi::lua_State, name: &std::ffi::CStr) {
    ffi::lua_getmetatable(l, ffi::LUA_GLOBALSINDEX);
    ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, name.as_ptr());
    ffi::lua_setfield(l, -2, c"__index".as_ptr());
    ffi::lua_pop(l, 1);
}

/// The message of the error object on top (popped), as Redis extracts it: a string gets `ERR `,
/// a table gives its `err` field.
unsafe fn error_message(l: *mut ffi::lua_State) -> String {
    let message = if ffi::lua_type(l, -1) == ffi::LUA_TTABLE {
        push_bytes(l, b"err");
        ffi::lua_rawget(l, -2);
        let text = to_bytes(l, -1).map(|b| String::from_utf8_lossy(b).into_owned());
        ffi::lua_pop(l, 1);
        text.unwrap_or_default()
    } else {
        let text = to_bytes(l, -1).map(|b| String::from_utf8_lossy(b).into_owned());
        format!("ERR {}", text.unwrap_or_default())
    };
    ffi::lua_pop(l, 1);
    message
}

/// Pushes a Lua array of byte strings.
unsafe fn push_array(l: *mut ffi::lua_State, values: &[Bytes]) {
    ffi::lua_createtable(l, values.len() as c_int, 0);
    for (i, value) in values.iter().enumerate() {
        push_bytes(l, value);
        ffi::lua_rawseti(l, -2, i as ffi::lua_Integer + 1);
    }
}

/// Stops a library load past its timeout.
unsafe extern "C-unwind" fn load_hook(l: *mut ffi::lua_State, _ar: *mut ffi::lua_Debug) {
    let Some(load) = LOAD.with(Cell::get).as_mut() else {
        return;
    };
    if load.timeout_ms > 0 && load.started.elapsed().as_millis() as u64 > load.timeout_ms {
        ffi::lua_sethook(l, Some(load_hook), ffi::LUA_MASKLINE, 0);
        push_error_table(l, "FUNCTION LOAD timeout");
        raise(l);
    }
}

/// Reads `redis.register_function`'s arguments: `(name, callback)` or one table of named
/// arguments. On success the callback is left on top of the stack.
unsafe fn register_args(l: *mut ffi::lua_State) -> Result<Registered, &'static str> {
    let mut flags = super::ScriptFlags::default();
    match ffi::lua_gettop(l) {
        1 => {
            if ffi::lua_type(l, 1) != ffi::LUA_TTABLE {
                return Err("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).");
            }
            let mut name = None;
            let mut description = None;
            let mut callback = false;
            // Slot 2 keeps the callback; the iteration runs above it.
            ffi::lua_settop(l, 1);
            ffi::lua_pushnil(l);
            ffi::lua_pushnil(l);
            while ffi::lua_next(l, 1) != 0 {
                if ffi::lua_type(l, -2) != ffi::LUA_TSTRING {
                    return Err(
                        "named argument key given to redis.register_function is not a string",
                    );
                }
                let key = String::from_utf8_lossy(to_bytes(l, -2).unwrap_or_default())
                    .to_ascii_lowercase();
                match key.as_str() {
                    "function_name" => {
                        if ffi::lua_type(l, -1) != ffi::LUA_TSTRING {
                            return Err("function_name argument given to redis.register_function must be a string");
                        }
                        name = to_bytes(l, -1).map(|b| String::from_utf8_lossy(b).into_owned());
                    }
                    "description" => {
                        if ffi::lua_type(l, -1) != ffi::LUA_TSTRING {
                            return Err("description argument given to redis.register_function must be a string");
                        }
                        description = to_bytes(l, -1).map(Bytes::copy_from_slice);
                    }
                    "callback" => {
                        if ffi::lua_type(l, -1) != ffi::LUA_TFUNCTION {
                            return Err("callback argument given to redis.register_function must be a function");
                        }
                        ffi::lua_pushvalue(l, -1);
                        ffi::lua_replace(l, 2);
                        callback = true;
                    }
                    "flags" => {
                        if ffi::lua_type(l, -1) != ffi::LUA_TTABLE {
                            return Err("flags argument to redis.register_function must be a table representing function flags");
                        }
                        flags = read_flags(l)?;
                    }
                    _ => return Err("unknown argument given to redis.register_function"),
                }
                ffi::lua_pop(l, 1);
            }
            let name = name.ok_or("redis.register_function must get a function name argument")?;
            if !callback {
                return Err("redis.register_function must get a callback argument");
            }
            ffi::lua_settop(l, 2);
            Ok(Registered {
                name,
                description,
                flags,
            })
        }
        2 => {
            // A number is a string to Lua here, as in Redis.
            if ffi::lua_isstring(l, 1) == 0 {
                return Err("first argument to redis.register_function must be a string");
            }
            if ffi::lua_type(l, 2) != ffi::LUA_TFUNCTION {
                return Err("second argument to redis.register_function must be a function");
            }
            let name = String::from_utf8_lossy(to_bytes(l, 1).unwrap_or_default()).into_owned();
            Ok(Registered {
                name,
                description: None,
                flags,
            })
        }
        _ => Err("wrong number of arguments to redis.register_function"),
    }
}

/// The flags table of a named registration (on top of the stack; left there).
unsafe fn read_flags(l: *mut ffi::lua_State) -> Result<super::ScriptFlags, &'static str> {
    let mut flags = super::ScriptFlags::default();
    let count = ffi::lua_objlen(l, -1);
    for i in 1..=count {
        ffi::lua_rawgeti(l, -1, i as ffi::lua_Integer);
        let flag = (ffi::lua_type(l, -1) == ffi::LUA_TSTRING)
            .then(|| to_bytes(l, -1))
            .flatten()
            .unwrap_or_default();
        let known = flags.set(flag);
        ffi::lua_pop(l, 1);
        if !known {
            return Err("unknown flag given");
        }
    }
    Ok(flags)
}

unsafe extern "C-unwind" fn register_function(l: *mut ffi::lua_State) -> c_int {
    let Some(load) = LOAD.with(Cell::get).as_mut() else {
        return fail(
            l,
            "redis.register_function can only be called on FUNCTION LOAD command",
        );
    };
    let function = match register_args(l) {
        Ok(function) => function,
        Err(message) => return fail(l, message),
    };
    if !super::valid_name(&function.name) {
        drop(function);
        return fail(l, "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long");
    }
    if load
        .registered
        .iter()
        .any(|f| f.name.eq_ignore_ascii_case(&function.name))
    {
        drop(function);
        return fail(l, "Function already exists in the library");
    }
    // The callback is on top: file it under its name until the load succeeds.
    ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, c"kiwi_pending".as_ptr());
    push_bytes(l, function.name.to_ascii_lowercase().as_bytes());
    ffi::lua_pushvalue(l, -3);
    ffi::lua_rawset(l, -3);
    ffi::lua_pop(l, 1);
    load.registered.push(function);
    0
}

/// An error outside every protected call: Lua exits the process after this returns, so say why.
unsafe extern "C-unwind" fn on_panic(l: *mut ffi::lua_State) -> c_int {
    let message = to_bytes(l, -1)
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default();
    tracing::error!(%message, "unprotected error in the Lua interpreter");
    0
}

/// `redis.REDIS_VERSION_NUM`: `0x00MMmmpp` from `MM.mm.pp`.
fn version_number(version: &str) -> u32 {
    version
        .split('.')
        .map(|part| part.parse::<u32>().unwrap_or(0))
        .chain(std::iter::repeat(0))
        .take(3)
        .fold(0, |acc, part| (acc << 8) | (part & 0xff))
}

/// The registry name of a compiled script, as Redis names it (`f_<sha>`).
fn script_name(sha: &str) -> std::ffi::CString {
    std::ffi::CString::new(format!("f_{sha}")).unwrap_or_default()
}

/// The error reply of a failed script, from the error object on top (popped).
unsafe fn pop_error(l: *mut ffi::lua_State, sha: &str) -> Frame {
    if ffi::lua_type(l, -1) != ffi::LUA_TTABLE {
        let message = to_bytes(l, -1)
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_else(|| "execution failure".into());
        ffi::lua_pop(l, 1);
        let message: String = message.chars().take(100).collect();
        return Frame::Error(format!("ERR Error running script {sha}, {message}"));
    }
    let field = |name: &std::ffi::CStr| {
        push_bytes(l, name.to_bytes());
        ffi::lua_rawget(l, -2);
        let value = (ffi::lua_isstring(l, -1) != 0)
            .then(|| to_bytes(l, -1).map(|b| String::from_utf8_lossy(b).into_owned()))
            .flatten();
        ffi::lua_pop(l, 1);
        value
    };
    let message = field(c"err").unwrap_or_default();
    let source = field(c"source");
    let line = field(c"line");
    ffi::lua_pop(l, 1);
    match (source, line) {
        (Some(source), Some(line)) => {
            Frame::Error(format!("{message} script: {sha}, on {source}:{line}."))
        }
        _ => Frame::Error(message),
    }
}

/// Raises the error table on top of the stack. Nothing owning memory may be alive in the
/// caller's frame: Lua unwinds with `longjmp`.
unsafe fn raise(l: *mut ffi::lua_State) -> c_int {
    ffi::lua_error(l)
}

/// Pushes Redis's error table for `message` and raises it.
unsafe fn fail(l: *mut ffi::lua_State, message: &str) -> c_int {
    push_error_table(l, message);
    raise(l)
}

/// The arguments of a `redis.*` call as Redis converts them: strings as they are, numbers
/// with `%.17g`, anything else refused.
unsafe fn command_args(l: *mut ffi::lua_State) -> Result<Vec<Bytes>, &'static str> {
    let argc = ffi::lua_gettop(l);
    if argc == 0 {
        return Err("Please specify at least one argument for this redis lib call");
    }
    let mut args = Vec::with_capacity(argc as usize);
    for i in 1..=argc {
        let arg = match ffi::lua_type(l, i) {
            ffi::LUA_TNUMBER => {
                Bytes::from(crate::util::number::format_double(ffi::lua_tonumber(l, i)))
            }
            ffi::LUA_TSTRING => Bytes::copy_from_slice(to_bytes(l, i).unwrap_or_default()),
            _ => return Err("Lua redis lib command arguments must be strings or integers"),
        };
        args.push(arg);
    }
    ffi::lua_settop(l, 0);
    Ok(args)
}

/// Runs the command of a `redis.call`/`redis.pcall` and pushes its reply; true when what it
/// pushed is an error table.
unsafe fn call_command(l: *mut ffi::lua_State) -> bool {
    let Some(run) = current() else {
        push_error_table(
            l,
            "redis.call/pcall can only be called inside a script invocation",
        );
        return true;
    };
    let args = match command_args(l) {
        Ok(args) => args,
        Err(message) => {
            push_error_table(l, message);
            return true;
        }
    };
    match (*run.host).call(args, run.resp3) {
        Ok(Frame::Error(error)) => {
            push_error_table(l, &format!("-{error}"));
            mark_counted(l);
            true
        }
        Ok(reply) => {
            push_reply(l, &reply, run.resp3);
            false
        }
        Err(refusal) => {
            push_error_table(l, &refusal);
            mark_counted(l);
            true
        }
    }
}

unsafe extern "C-unwind" fn redis_call(l: *mut ffi::lua_State) -> c_int {
    if call_command(l) {
        return raise(l);
    }
    1
}

unsafe extern "C-unwind" fn redis_pcall(l: *mut ffi::lua_State) -> c_int {
    call_command(l);
    1
}

/// Lua's `pcall` as Redis 7 replaces it: an error table from `redis.call` comes back as its
/// message, as in older versions.
unsafe extern "C-unwind" fn redis_pcall_builtin(l: *mut ffi::lua_State) -> c_int {
    let argc = ffi::lua_gettop(l);
    ffi::lua_pushboolean(l, 1);
    ffi::lua_insert(l, 1);
    if ffi::lua_pcall(l, argc - 1, ffi::LUA_MULTRET, 0) != 0 {
        ffi::lua_remove(l, 1);
        if ffi::lua_type(l, -1) == ffi::LUA_TTABLE {
            ffi::lua_getfield(l, -1, c"err".as_ptr());
            if ffi::lua_isstring(l, -1) != 0 {
                ffi::lua_replace(l, -2);
            }
        }
        ffi::lua_pushboolean(l, 0);
        ffi::lua_insert(l, 1);
    }
    ffi::lua_gettop(l)
}

unsafe extern "C-unwind" fn redis_log(l: *mut ffi::lua_State) -> c_int {
    let argc = ffi::lua_gettop(l);
    if argc < 2 {
        return fail(l, "redis.log() requires two arguments or more.");
    }
    if ffi::lua_isnumber(l, 1) == 0 {
        return fail(l, "First argument must be a number (log level).");
    }
    let level = ffi::lua_tonumber(l, 1) as i32;
    if !(0..=3).contains(&level) {
        return fail(l, "Invalid debug level.");
    }
    let mut message = Vec::new();
    for i in 2..=argc {
        if let Some(part) = to_bytes(l, i) {
            if i != 2 {
                message.push(b' ');
            }
            message.extend_from_slice(part);
        }
    }
    if let Some(run) = current() {
        (*run.host).log(level, &String::from_utf8_lossy(&message));
    }
    0
}

unsafe extern "C-unwind" fn redis_setresp(l: *mut ffi::lua_State) -> c_int {
    let Some(run) = current() else {
        return fail(
            l,
            "redis.setresp can only be called inside a script invocation",
        );
    };
    if ffi::lua_gettop(l) != 1 {
        return fail(l, "redis.setresp() requires one argument.");
    }
    match ffi::lua_tonumber(l, 1) as i32 {
        2 => run.resp3 = false,
        3 => run.resp3 = true,
        _ => return fail(l, "RESP version must be 2 or 3."),
    }
    0
}

unsafe extern "C-unwind" fn redis_sha1hex(l: *mut ffi::lua_State) -> c_int {
    if ffi::lua_gettop(l) != 1 {
        return fail(l, "wrong number of arguments");
    }
    let digest = super::sha1_hex(to_bytes(l, 1).unwrap_or_default());
    push_bytes(l, digest.as_bytes());
    1
}

/// `redis.error_reply` and `redis.status_reply` check their one string argument alike.
unsafe fn single_string_arg(l: *mut ffi::lua_State) -> bool {
    ffi::lua_gettop(l) == 1 && ffi::lua_type(l, -1) == ffi::LUA_TSTRING
}

unsafe extern "C-unwind" fn redis_error_reply(l: *mut ffi::lua_State) -> c_int {
    if !single_string_arg(l) {
        push_error_table(l, "wrong number or type of arguments");
        return 1;
    }
    let text = String::from_utf8_lossy(to_bytes(l, 1).unwrap_or_default()).into_owned();
    let text = if text.starts_with('-') {
        text
    } else {
        format!("-{text}")
    };
    push_error_table(l, &text);
    1
}

unsafe extern "C-unwind" fn redis_status_reply(l: *mut ffi::lua_State) -> c_int {
    if !single_string_arg(l) {
        push_error_table(l, "wrong number or type of arguments");
        return 1;
    }
    ffi::lua_newtable(l);
    push_bytes(l, b"ok");
    ffi::lua_pushvalue(l, 1);
    ffi::lua_settable(l, -3);
    1
}

/// `redis.set_repl`: Kiwi replicates the script call itself, so the flags are checked and
/// otherwise change nothing.
unsafe extern "C-unwind" fn redis_set_repl(l: *mut ffi::lua_State) -> c_int {
    if current().is_none() {
        return fail(
            l,
            "redis.set_repl can only be called inside a script invocation",
        );
    }
    if ffi::lua_gettop(l) != 1 {
        return fail(l, "redis.set_repl() requires two arguments.");
    }
    let flags = ffi::lua_tonumber(l, -1) as i64;
    if flags & !3 != 0 {
        return fail(
            l,
            "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
        );
    }
    0
}

/// `redis.replicate_commands`: always on since Redis 7.
unsafe extern "C-unwind" fn redis_replicate_commands(l: *mut ffi::lua_State) -> c_int {
    ffi::lua_pushboolean(l, 1);
    1
}

/// `redis.breakpoint`: Kiwi has no script debugger, as Redis outside a debugging session.
unsafe extern "C-unwind" fn redis_breakpoint(l: *mut ffi::lua_State) -> c_int {
    ffi::lua_pushboolean(l, 0);
    1
}

/// `redis.debug`: a no-op outside the script debugger, as in Redis.
unsafe extern "C-unwind" fn redis_debug(_l: *mut ffi::lua_State) -> c_int {
    0
}

unsafe extern "C-unwind" fn redis_acl_check_cmd(l: *mut ffi::lua_State) -> c_int {
    let Some(run) = current() else {
        return fail(
            l,
            "redis.acl_check_cmd can only be called inside a script invocation",
        );
    };
    let allowed = match command_args(l) {
        Ok(args) => (*run.host).acl_check(&args),
        Err(message) => Err(message.to_string()),
    };
    match allowed {
        Ok(allowed) => {
            ffi::lua_pushboolean(l, c_int::from(allowed));
            1
        }
        Err(message) => {
            push_error_table(l, &message);
            drop(message);
            raise(l)
        }
    }
}

/// Stops the script when its host says so (SCRIPT KILL), and checks more often once the script
/// is busy.
unsafe extern "C-unwind" fn count_hook(l: *mut ffi::lua_State, _ar: *mut ffi::lua_Debug) {
    let Some(run) = current() else { return };
    match (*run.host).tick() {
        Ok(false) => {}
        Ok(true) => {
            ffi::lua_sethook(
                l,
                Some(count_hook),
                ffi::LUA_MASKCOUNT | ffi::LUA_MASKLINE,
                BUSY_TICK_INSTRUCTIONS,
            );
        }
        Err(message) => {
            push_error_table(l, &message);
            drop(message);
            raise(l);
        }
    }
}

unsafe extern "C-unwind" fn math_random(l: *mut ffi::lua_State) -> c_int {
    let Some(run) = current() else {
        return ffi::luaL_error(
            l,
            c"math.random can only be called inside a script invocation".as_ptr(),
        );
    };
    let r = ((*run.rand).next() % rand48::MAX) as f64 / rand48::MAX as f64;
    match ffi::lua_gettop(l) {
        0 => ffi::lua_pushnumber(l, r),
        1 => {
            let upper = ffi::luaL_checkinteger(l, 1);
            if upper < 1 {
                return ffi::luaL_argerror(l, 1, c"interval is empty".as_ptr());
            }
            ffi::lua_pushnumber(l, (r * upper as f64).floor() + 1.0);
        }
        2 => {
            let lower = ffi::luaL_checkinteger(l, 1);
            let upper = ffi::luaL_checkinteger(l, 2);
            if lower > upper {
                return ffi::luaL_argerror(l, 2, c"interval is empty".as_ptr());
            }
            ffi::lua_pushnumber(l, (r * (upper - lower + 1) as f64).floor() + lower as f64);
        }
        _ => return ffi::luaL_error(l, c"wrong number of arguments".as_ptr()),
    }
    1
}

unsafe extern "C-unwind" fn math_randomseed(l: *mut ffi::lua_State) -> c_int {
    let Some(run) = current() else {
        return ffi::luaL_error(
            l,
            c"math.randomseed can only be called inside a script invocation".as_ptr(),
        );
    };
    *run.rand = Rand48::seeded(ffi::luaL_checkinteger(l, 1) as i32);
    0
}

/// Whether `code` compiles, without running it (SCRIPT LOAD on the network side); the error is
/// Redis's reply text. Uses a bare interpreter of its own.
pub fn check_syntax(code: &[u8]) -> Result<(), String> {
    let mut vm = Vm::new(64 << 20, "")?;
    vm.compile("syntax_check", code)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Echo;

    impl Host for Echo {
        fn call(&mut self, args: Vec<Bytes>, _resp3: bool) -> Result<Frame, String> {
            match &args[0][..] {
                b"fail" => Ok(Frame::Error("WRONGTYPE nope".into())),
                b"refuse" => Err("Unknown Redis command called from script".into()),
                _ => Ok(Frame::Array(args.into_iter().map(Frame::Bulk).collect())),
            }
        }
        fn acl_check(&mut self, _args: &[Bytes]) -> Result<bool, String> {
            Ok(true)
        }
        fn tick(&mut self) -> Result<bool, String> {
            Err("Script killed by user with SCRIPT KILL...".into())
        }
        fn log(&mut self, _level: i32, _message: &str) {}
    }

    fn eval(vm: &mut Vm, code: &str, watch: bool) -> Frame {
        let sha = super::super::sha1_hex(code.as_bytes());
        if let Err(e) = vm.compile(&sha, code.as_bytes()) {
            return Frame::Error(e);
        }
        let keys = [Bytes::from("k")];
        let argv = [Bytes::from("a"), Bytes::from("b")];
        vm.run(&mut Echo, &sha, &keys, &argv, RunOptions { watch })
    }

    fn error_text(frame: Frame) -> String {
        match frame {
            Frame::Error(e) => e,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn conversions_follow_redis() {
        let mut vm = Vm::new(64 << 20, "7.0.15").unwrap();
        assert_eq!(eval(&mut vm, "return 3.99", false), Frame::Integer(3));
        assert_eq!(eval(&mut vm, "return true", false), Frame::Integer(1));
        assert_eq!(eval(&mut vm, "return false", false), Frame::Null);
        assert_eq!(
            eval(&mut vm, "return {1, 'x', nil, 3}", false),
            Frame::Array(vec![Frame::Integer(1), Frame::Bulk("x".into())])
        );
        assert_eq!(
            eval(&mut vm, "return redis.status_reply('FINE')", false),
            Frame::Simple("FINE".into())
        );
        assert_eq!(
            eval(
                &mut vm,
                "return redis.call('echo', KEYS[1], ARGV[2], 1.5)",
                false
            ),
            Frame::Array(vec![
                Frame::Bulk("echo".into()),
                Frame::Bulk("k".into()),
                Frame::Bulk("b".into()),
                Frame::Bulk("1.5".into()),
            ])
        );
        assert_eq!(
            eval(&mut vm, "return redis.pcall('fail')", false),
            Frame::Error("WRONGTYPE nope".into())
        );
    }

    #[test]
    fn errors_name_the_script_and_line() {
        let mut vm = Vm::new(64 << 20, "7.0.15").unwrap();
        let code = "local x = 1\nreturn redis.call('fail')";
        let sha = super::super::sha1_hex(code.as_bytes());
        assert_eq!(
            error_text(eval(&mut vm, code, false)),
            format!("WRONGTYPE nope script: {sha}, on @user_script:2.")
        );
        assert!(
            error_text(eval(&mut vm, "return redis.call('refuse')", false))
                .starts_with("ERR Unknown Redis command called from script script: ")
        );
        assert!(error_text(eval(&mut vm, "return +", false))
            .starts_with("ERR Error compiling script (new function): user_script:1:"));
        assert!(error_text(eval(&mut vm, "x = 5", false))
            .contains("Attempt to modify a readonly table"));
        assert!(error_text(eval(&mut vm, "return y", false))
            .contains("Script attempted to access nonexistent global variable 'y'"));
        assert!(error_text(eval(&mut vm, "redis.call = nil", false))
            .contains("Attempt to modify a readonly table"));
        // The sandbox has no os, io or loadfile, and existing globals are read-only too.
        assert!(error_text(eval(&mut vm, "return os.time()", false))
            .contains("nonexistent global variable 'os'"));
        assert!(error_text(eval(&mut vm, "loadfile('/etc/passwd')", false))
            .contains("nonexistent global variable 'loadfile'"));
        for trick in [
            "redis = 1",
            "_G = {}",
            "setmetatable(_G, {})",
            "rawset(_G, 'x', 1)",
            "getmetatable(_G).__index = {}",
        ] {
            assert!(
                error_text(eval(&mut vm, trick, false))
                    .contains("Attempt to modify a readonly table"),
                "{trick}"
            );
        }
        assert!(error_text(eval(
            &mut vm,
            "return loadstring(string.dump(function() return 1 end))()",
            false
        ))
        .contains("attempt to call a nil value"));
    }

    #[test]
    fn the_hook_stops_a_runaway_script() {
        let mut vm = Vm::new(64 << 20, "7.0.15").unwrap();
        let reply = error_text(eval(&mut vm, "while true do end", true));
        assert!(
            reply.starts_with("ERR Script killed by user with SCRIPT KILL..."),
            "{reply}"
        );
        // The interpreter is usable afterwards.
        assert_eq!(eval(&mut vm, "return 1", false), Frame::Integer(1));
    }

    #[test]
    fn memory_is_bounded() {
        let mut vm = Vm::new(2 << 20, "7.0.15").unwrap();
        let reply = eval(
            &mut vm,
            "local t = {} for i = 1, 1e8 do t[i] = i end",
            false,
        );
        assert!(error_text(reply).contains("not enough memory"));
        assert_eq!(eval(&mut vm, "return 2", false), Frame::Integer(2));
    }
}
