//! FUNCTION LOAD, DELETE, FLUSH, LIST, DUMP, RESTORE and HELP: the function libraries, changed
//! on the storage runtime so that each change is written (as rows of the default column
//! family) in the batch of the job that made it — replicated in cluster mode like any write.
//! FUNCTION STATS and KILL are answered on the network runtime (`server/script_cmds.rs`),
//! since they must work while a function runs.

use bytes::Bytes;
use parking_lot::MutexGuard;

use super::server::help_lines;
use super::{is_opt, Ctx};
use crate::error::{CmdResult, ReplyError};
use crate::resp::Frame;
use crate::state::functions::{Functions, LIBRARY_ROW_PREFIX, LOAD_TIMEOUT_MS};
use crate::util::rdb;

/// RDB type byte of a function library in a DUMP payload (Redis's `RDB_OPCODE_FUNCTION2`).
const FUNCTION_OPCODE: u8 = 245;
/// The format Redis 7.0 release candidates wrote, which it still reads.
const OLD_FUNCTION_OPCODE: u8 = 246;

const HELP: &[&str] = &[
    "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Library description",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
    "      libraries with the new libraries (notice that even on this option there is a chance of failure",
    "      in case of functions name collision with another library).",
    "HELP",
    "    Prints this help.",
];

/// The libraries, read from RocksDB on first use.
pub(crate) fn libraries<'s>(
    ctx: &Ctx<'s>,
    memory_limit: usize,
) -> Result<MutexGuard<'s, Functions>, ReplyError> {
    let storage = &ctx.state.storage;
    ctx.state.scripts.functions(
        || {
            let rows = storage
                .bookkeeping_rows(LIBRARY_ROW_PREFIX)
                .map_err(|e| format!("ERR {e}"))?;
            Ok(rows
                .into_iter()
                .map(|(_, code)| Bytes::from(code))
                .collect())
        },
        memory_limit,
        super::server::REDIS_COMPAT_VERSION,
    )
}

/// The row a library's code is kept in.
fn row_key(name: &str) -> Vec<u8> {
    [LIBRARY_ROW_PREFIX, name.as_bytes()].concat()
}

/// The exclusive end of a key range holding exactly `key`.
fn just_after(key: &[u8]) -> Vec<u8> {
    [key, b"\0"].concat()
}

/// FUNCTION <subcommand> (the arity was checked against the table).
pub fn function(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let memory_limit = ctx.state.config().lua_memory_limit.0 as usize;
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    if sub == "help" {
        return Ok(help_lines(HELP));
    }
    let mut functions = libraries(ctx, memory_limit)?;
    let storage = ctx.store();
    let reply = match sub.as_str() {
        "load" => {
            let (replace, code) = load_args(&args[2..])?;
            // A replicated load must give every node the same outcome: no clock involved.
            let timeout = if crate::util::is_replaying() {
                0
            } else {
                LOAD_TIMEOUT_MS
            };
            let version = super::server::REDIS_COMPAT_VERSION;
            let name = functions
                .load(code.clone(), replace, timeout, memory_limit, version)
                .map_err(|e| ReplyError::custom(format!("ERR {e}")))?;
            storage.job_put_bookkeeping(row_key(&name), code.to_vec());
            Frame::Bulk(Bytes::from(name))
        }
        "delete" => {
            let name = String::from_utf8_lossy(&args[2]).into_owned();
            if !functions.delete(&name) {
                return Err(ReplyError::custom("ERR Library not found"));
            }
            let key = row_key(&name);
            let end = just_after(&key);
            storage.job_delete_bookkeeping(key, end);
            Frame::ok()
        }
        "flush" => {
            if args.len() > 3 {
                return Err(ReplyError::custom(
                    "ERR unknown subcommand or wrong number of arguments for 'flush'. Try FUNCTION HELP.",
                ));
            }
            if !super::flush_mode_ok(args.get(2)) {
                return Err(ReplyError::custom(
                    "ERR FUNCTION FLUSH only supports SYNC|ASYNC option",
                ));
            }
            functions.flush();
            forget_all_rows(ctx);
            Frame::ok()
        }
        "list" => list(&functions, &args[2..])?,
        "dump" => {
            let mut payload = Vec::new();
            for library in functions.libraries() {
                payload.push(FUNCTION_OPCODE);
                rdb::write_string(&mut payload, &library.code);
            }
            rdb::finish_payload(&mut payload);
            Frame::Bulk(Bytes::from(payload))
        }
        "restore" => {
            restore(ctx, &mut functions, args, memory_limit)?;
            Frame::ok()
        }
        other => {
            return Err(ReplyError::custom(format!(
                "ERR FUNCTION {other} is answered by the network runtime"
            )))
        }
    };
    ctx.state.scripts.functions_changed(&functions);
    Ok(reply)
}

/// FUNCTION LOAD's `[REPLACE] code`.
fn load_args(args: &[Bytes]) -> Result<(bool, Bytes), ReplyError> {
    let mut replace = false;
    let (code, options) = args
        .split_last()
        .ok_or_else(|| ReplyError::custom("ERR Function code is missing"))?;
    for option in options {
        if is_opt(option, "replace") {
            replace = true;
        } else {
            return Err(ReplyError::custom(format!(
                "ERR Unknown option given: {}",
                String::from_utf8_lossy(option)
            )));
        }
    }
    Ok((replace, code.clone()))
}

fn forget_all_rows(ctx: &Ctx<'_>) {
    let mut end = LIBRARY_ROW_PREFIX.to_vec();
    if let Some(last) = end.last_mut() {
        *last += 1;
    }
    ctx.store()
        .job_delete_bookkeeping(LIBRARY_ROW_PREFIX.to_vec(), end);
}

/// FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE].
fn list(functions: &Functions, args: &[Bytes]) -> CmdResult {
    let mut with_code = false;
    let mut pattern: Option<&Bytes> = None;
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if !with_code && is_opt(arg, "withcode") {
            with_code = true;
        } else if pattern.is_none() && is_opt(arg, "libraryname") {
            i += 1;
            pattern =
                Some(args.get(i).ok_or_else(|| {
                    ReplyError::custom("ERR library name argument was not given")
                })?);
        } else {
            return Err(ReplyError::custom(format!(
                "ERR Unknown argument {}",
                String::from_utf8_lossy(arg)
            )));
        }
        i += 1;
    }
    let text = |s: &str| Frame::Bulk(Bytes::copy_from_slice(s.as_bytes()));
    let libraries = functions
        .libraries()
        .filter(|l| {
            pattern.is_none_or(|p| crate::util::glob::glob_match(p, l.name.as_bytes(), false))
        })
        .map(|library| {
            let described = library
                .functions
                .iter()
                .map(|f| {
                    Frame::Map(vec![
                        (text("name"), text(&f.name)),
                        (
                            text("description"),
                            f.description.clone().map_or(Frame::Null, Frame::Bulk),
                        ),
                        (
                            text("flags"),
                            Frame::Set(f.flags.names().into_iter().map(Frame::simple).collect()),
                        ),
                    ])
                })
                .collect();
            let mut fields = vec![
                (text("library_name"), text(&library.name)),
                (text("engine"), text("LUA")),
                (text("functions"), Frame::Array(described)),
            ];
            if with_code {
                fields.push((text("library_code"), Frame::Bulk(library.code.clone())));
            }
            Frame::Map(fields)
        })
        .collect();
    Ok(Frame::Array(libraries))
}

/// FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE].
fn restore(
    ctx: &Ctx<'_>,
    functions: &mut Functions,
    args: &[Bytes],
    memory_limit: usize,
) -> Result<(), ReplyError> {
    if args.len() > 4 {
        return Err(ReplyError::custom(
            "ERR unknown subcommand or wrong number of arguments for 'restore'. Try FUNCTION HELP.",
        ));
    }
    #[derive(PartialEq)]
    enum Policy {
        Append,
        Replace,
        Flush,
    }
    let policy =
        match args.get(3) {
            None => Policy::Append,
            Some(p) if is_opt(p, "append") => Policy::Append,
            Some(p) if is_opt(p, "replace") => Policy::Replace,
            Some(p) if is_opt(p, "flush") => Policy::Flush,
            Some(_) => return Err(ReplyError::custom(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            )),
        };
    let body = rdb::verify_payload(&args[2])
        .ok_or_else(|| ReplyError::custom("ERR DUMP payload version or checksum are wrong"))?;
    let restored = parse_dump(body).map_err(|e| ReplyError::custom(format!("ERR {e}")))?;
    // The libraries after the restore, rebuilt together: all of them load, or nothing changes.
    let mut names: Vec<String> = Vec::new();
    for code in &restored {
        let metadata = crate::state::functions::parse_metadata(code)
            .map_err(|e| ReplyError::custom(format!("ERR {e}")))?;
        names.push(metadata.name);
    }
    let mut result: Vec<Bytes> = Vec::new();
    if policy != Policy::Flush {
        for library in functions.libraries() {
            if names.contains(&library.name) {
                if policy == Policy::Append {
                    return Err(ReplyError::custom(format!(
                        "ERR Library {} already exists",
                        library.name
                    )));
                }
                continue;
            }
            result.push(library.code.clone());
        }
    }
    result.extend(restored);
    functions
        .rebuild(result, memory_limit, super::server::REDIS_COMPAT_VERSION)
        .map_err(|e| ReplyError::custom(format!("ERR {e}")))?;
    forget_all_rows(ctx);
    for library in functions.libraries() {
        ctx.store()
            .job_put_bookkeeping(row_key(&library.name), library.code.to_vec());
    }
    Ok(())
}

/// The libraries of a DUMP payload's body (after its trailer was checked).
fn parse_dump(body: &[u8]) -> Result<Vec<Bytes>, &'static str> {
    let mut pos = 0;
    let mut libraries = Vec::new();
    while pos < body.len() {
        let kind = body[pos];
        pos += 1;
        let code = match kind {
            FUNCTION_OPCODE => rdb::read_string(body, &mut pos)
                .ok_or("failed loading the given functions payload")?,
            OLD_FUNCTION_OPCODE => {
                // Name, engine, an optional description, then the code without its shebang.
                let name = rdb::read_string(body, &mut pos).ok_or("Failed loading library name")?;
                let engine =
                    rdb::read_string(body, &mut pos).ok_or("Failed loading engine name")?;
                let described = rdb::read_length(body, &mut pos)
                    .ok_or("Failed loading library description indicator")?;
                if described != 0 {
                    rdb::read_string(body, &mut pos).ok_or("Failed loading library description")?;
                }
                let blob = rdb::read_string(body, &mut pos).ok_or("Failed loading library blob")?;
                let mut code = format!(
                    "#!{} name={}\n",
                    String::from_utf8_lossy(&engine),
                    String::from_utf8_lossy(&name)
                )
                .into_bytes();
                code.extend_from_slice(&blob);
                code
            }
            _ => return Err("given type is not a function"),
        };
        libraries.push(Bytes::from(code));
    }
    Ok(libraries)
}
