//! `kiwictl import FILE.rdb`, `kiwictl export FILE.rdb` and `kiwictl migrate --from URL`: whole
//! datasets between Redis and Kiwi, through Redis's RDB file or straight from a running server.
//!
//! Both talk to the node's RESP port only, so they work on a single node and on a cluster (whose
//! RESTOREs go through the Raft log like any write). Import streams the file
//! (`util::rdb_file::RdbReader`) and sends each key as `RESTORE key ttl payload REPLACE ABSTTL`
//! in pipelines; export walks every database with SCAN, DUMPs and PEXPIRETIMEs each key, and
//! writes the file as it goes.

use std::io::{BufReader, BufWriter, IsTerminal, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::resp::Frame;
use crate::util::rdb::finish_payload;
use crate::util::rdb_file::{RdbReader, RdbWriter, Record};

use super::args::{MigrateArgs, OutputFormat};
use super::error::CtlError;
use super::output::print_json;
use super::resp_node::{RespConn, RespNode};
use super::Ctx;

/// Keys sent per pipeline.
const BATCH: usize = 256;

fn file_error(path: &Path, err: impl std::fmt::Display) -> CtlError {
    CtlError::Usage(format!("{}: {err}", path.display()))
}

/// The Redis type name of an RDB value type byte.
fn type_name(kind: u8) -> &'static str {
    match kind {
        0 => "string",
        1 | 10 | 14 | 18 => "list",
        2 | 11 | 20 => "set",
        3 | 5 | 12 | 17 => "zset",
        4 | 9 | 13 | 16 => "hash",
        15 | 19 => "stream",
        _ => "other",
    }
}

/// A progress line on stderr, at most once a second, when stderr is a terminal.
struct Progress {
    shown: Instant,
    tty: bool,
}

impl Progress {
    fn new() -> Progress {
        Progress {
            shown: Instant::now(),
            tty: std::io::stderr().is_terminal(),
        }
    }

    fn show(&mut self, line: impl FnOnce() -> String) {
        if self.tty && self.shown.elapsed() >= Duration::from_secs(1) {
            eprint!("\r{}   ", line());
            self.shown = Instant::now();
        }
    }

    fn done(&self) {
        if self.tty {
            eprintln!();
        }
    }
}

/// What an import did.
#[derive(Default)]
struct ImportTally {
    by_type: std::collections::BTreeMap<&'static str, u64>,
    expired: u64,
    skipped: Vec<String>,
    failed: Vec<String>,
}

/// `import FILE`: loads an RDB file into the node.
pub async fn import(ctx: &Ctx, path: &Path) -> Result<(), CtlError> {
    let file = std::fs::File::open(path).map_err(|e| file_error(path, e))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut reader = RdbReader::new(BufReader::new(file)).map_err(|e| file_error(path, e))?;
    let mut conn = ctx.resp.connect().await?;
    let mut tally = ImportTally::default();
    let mut progress = Progress::new();
    let mut batch: Vec<Vec<Vec<u8>>> = Vec::with_capacity(BATCH + 1);
    let mut keys: Vec<(Vec<u8>, &'static str)> = Vec::with_capacity(BATCH);
    let mut db = None;
    let now = crate::util::now_ms() as i64;
    loop {
        let record = match reader.next_record() {
            Ok(Some(record)) => record,
            Ok(None) => break,
            Err(err) => {
                // What was read before the damage is in: say exactly how much.
                send(&mut conn, &mut batch, &mut keys, &mut tally).await?;
                progress.done();
                let loaded: u64 = tally.by_type.values().sum();
                return Err(file_error(
                    path,
                    format!("{err} (the {loaded} keys before it were imported)"),
                ));
            }
        };
        let (key_db, key, expire_ms, mut value) = match record {
            Record::Skipped(what) => {
                eprintln!("kiwictl: skipped {what}");
                tally.skipped.push(what);
                continue;
            }
            Record::Key {
                db,
                key,
                expire_ms,
                value,
            } => (db, key, expire_ms, value),
        };
        if expire_ms.is_some_and(|at| at <= now) {
            tally.expired += 1;
            continue;
        }
        if db != Some(key_db) {
            // SELECT goes in the same pipeline: its reply is checked like the RESTOREs'.
            batch.push(vec![b"SELECT".to_vec(), key_db.to_string().into_bytes()]);
            keys.push((format!("(SELECT {key_db})").into_bytes(), ""));
            db = Some(key_db);
        }
        let kind = type_name(value[0]);
        finish_payload(&mut value);
        let ttl = expire_ms.unwrap_or(0).to_string().into_bytes();
        batch.push(vec![
            b"RESTORE".to_vec(),
            key.clone(),
            ttl,
            value,
            b"REPLACE".to_vec(),
            b"ABSTTL".to_vec(),
        ]);
        keys.push((key, kind));
        if batch.len() >= BATCH {
            send(&mut conn, &mut batch, &mut keys, &mut tally).await?;
            let done = reader.position();
            progress.show(|| {
                let keys: u64 = tally.by_type.values().sum();
                format!(
                    "{keys} keys, {} of {} MB ({:.0}%)",
                    done >> 20,
                    size >> 20,
                    done as f64 * 100.0 / size.max(1) as f64
                )
            });
        }
    }
    send(&mut conn, &mut batch, &mut keys, &mut tally).await?;
    progress.done();
    let loaded: u64 = tally.by_type.values().sum();
    match ctx.settings.output {
        OutputFormat::Table => {
            let types: Vec<String> = tally
                .by_type
                .iter()
                .map(|(t, n)| format!("{n} {t}"))
                .collect();
            println!(
                "imported {loaded} keys ({}) from {}; {} already expired, {} items skipped, {} failed",
                if types.is_empty() { "none".into() } else { types.join(", ") },
                path.display(),
                tally.expired,
                tally.skipped.len(),
                tally.failed.len()
            );
        }
        OutputFormat::Json => print_json(&json!({
            "imported": loaded,
            "by_type": tally.by_type,
            "expired": tally.expired,
            "skipped": tally.skipped,
            "failed": tally.failed,
        })),
    }
    failures(ctx, &tally.failed)
}

/// Sends a pipeline of RESTOREs (and SELECTs) and counts the outcome of each.
async fn send(
    conn: &mut RespConn,
    batch: &mut Vec<Vec<Vec<u8>>>,
    keys: &mut Vec<(Vec<u8>, &'static str)>,
    tally: &mut ImportTally,
) -> Result<(), CtlError> {
    if batch.is_empty() {
        return Ok(());
    }
    let replies = conn.pipeline(batch).await?;
    for ((key, kind), reply) in keys.drain(..).zip(replies) {
        match reply {
            Frame::Error(e) => tally
                .failed
                .push(format!("{}: {e}", String::from_utf8_lossy(&key))),
            _ if kind.is_empty() => {}
            _ => *tally.by_type.entry(kind).or_default() += 1,
        }
    }
    batch.clear();
    Ok(())
}

/// `export FILE`: writes every key of every database to an RDB file.
pub async fn export(ctx: &Ctx, path: &Path) -> Result<(), CtlError> {
    let mut conn = ctx.resp.connect().await?;
    let databases = databases(&mut conn).await?;
    let file = std::fs::File::create(path).map_err(|e| file_error(path, e))?;
    let writer = format!("kiwictl {}", env!("CARGO_PKG_VERSION"));
    let mut out = RdbWriter::new(BufWriter::new(file), &writer).map_err(|e| file_error(path, e))?;
    let mut written = 0u64;
    let mut progress = Progress::new();
    for db in 0..databases {
        conn.call(&["SELECT", &db.to_string()]).await?;
        let mut cursor = b"0".to_vec();
        loop {
            let (next, keys) = dump_batch(&mut conn, &cursor, None).await?;
            for key in keys {
                out.key(db, &key.key, key.expire_ms, &key.body)
                    .map_err(|e| file_error(path, e))?;
                written += 1;
            }
            progress.show(|| format!("{written} keys written (database {db})"));
            if next.as_slice() == b"0" {
                break;
            }
            cursor = next;
        }
    }
    let mut file = out.finish().map_err(|e| file_error(path, e))?;
    file.flush().map_err(|e| file_error(path, e))?;
    progress.done();
    match ctx.settings.output {
        OutputFormat::Table => println!("exported {written} keys to {}", path.display()),
        OutputFormat::Json => print_json(&json!({ "exported": written, "file": path })),
    }
    Ok(())
}

/// How many databases a node has (CONFIG GET databases; 16 if it does not say).
async fn databases(conn: &mut RespConn) -> Result<usize, CtlError> {
    let value = match conn.call(&["CONFIG", "GET", "databases"]).await? {
        Frame::Array(items) => items.get(1).and_then(super::resp_node::frame_text),
        Frame::Map(pairs) => pairs
            .first()
            .and_then(|(_, v)| super::resp_node::frame_text(v)),
        _ => None,
    };
    Ok(value.and_then(|n| n.parse().ok()).unwrap_or(16))
}

/// A key read for moving: its DUMP payload without the trailer, and its absolute expiry.
struct DumpedKey {
    key: Vec<u8>,
    body: Vec<u8>,
    expire_ms: Option<i64>,
}

/// One SCAN step of the selected database: the next cursor and the keys it found, DUMPed with
/// their expiries in one pipeline. A key deleted since SCAN saw it is left out.
async fn dump_batch(
    conn: &mut RespConn,
    cursor: &[u8],
    pattern: Option<&str>,
) -> Result<(Vec<u8>, Vec<DumpedKey>), CtlError> {
    let mut scan: Vec<&[u8]> = vec![b"SCAN", cursor, b"COUNT", b"500"];
    if let Some(pattern) = pattern {
        scan.extend([b"MATCH".as_slice(), pattern.as_bytes()]);
    }
    let reply = conn.call(&scan).await?;
    let shape = |detail: &str| CtlError::Protocol {
        addr: String::new(),
        detail: detail.to_string(),
    };
    let Frame::Array(mut parts) = reply else {
        return Err(shape("SCAN did not answer an array"));
    };
    let (Some(Frame::Array(keys)), Some(Frame::Bulk(next))) = (parts.pop(), parts.pop()) else {
        return Err(shape("SCAN answered an unexpected shape"));
    };
    let keys: Vec<Vec<u8>> = keys
        .into_iter()
        .filter_map(|k| match k {
            Frame::Bulk(k) => Some(k.to_vec()),
            _ => None,
        })
        .collect();
    let mut commands = Vec::with_capacity(2 * keys.len());
    for key in &keys {
        commands.push(vec![b"DUMP".to_vec(), key.clone()]);
        commands.push(vec![b"PEXPIRETIME".to_vec(), key.clone()]);
    }
    let replies = conn.pipeline(&commands).await?;
    let mut out = Vec::with_capacity(keys.len());
    for (key, pair) in keys.into_iter().zip(replies.chunks(2)) {
        let (Frame::Bulk(payload), Frame::Integer(at)) = (&pair[0], &pair[1]) else {
            continue;
        };
        let Some(body) = payload.len().checked_sub(10).map(|n| payload[..n].to_vec()) else {
            continue;
        };
        out.push(DumpedKey {
            key,
            body,
            expire_ms: (*at > 0).then_some(*at),
        });
    }
    Ok((next.to_vec(), out))
}

/// Where `--from` points: the address and, if given, the user and password.
fn parse_source(url: &str) -> Result<(String, Option<String>, Option<String>), CtlError> {
    let rest = url.strip_prefix("redis://").unwrap_or(url);
    let (auth, addr) = match rest.rsplit_once('@') {
        Some((auth, addr)) => (Some(auth), addr),
        None => (None, rest),
    };
    let addr = addr.trim_end_matches('/');
    if addr
        .rsplit_once(':')
        .is_none_or(|(_, port)| port.parse::<u16>().is_err())
    {
        return Err(CtlError::Usage(format!(
            "--from {url}: expected redis://[[user]:password@]host:port"
        )));
    }
    let (user, password) = match auth.map(|a| a.split_once(':')) {
        None => (None, None),
        Some(Some((user, password))) => {
            let user = (!user.is_empty()).then(|| user.to_string());
            (user, Some(password.to_string()))
        }
        Some(None) => (None, auth.map(str::to_string)),
    };
    Ok((addr.to_string(), user, password))
}

/// What a migration did.
#[derive(Default)]
struct MigrateTally {
    moved: u64,
    bytes: u64,
    existed: u64,
    expired: u64,
    failed: Vec<String>,
}

/// `migrate --from URL`: copies a running server's keys into the node.
pub async fn migrate(ctx: &Ctx, args: &MigrateArgs) -> Result<(), CtlError> {
    let (addr, user, password) = parse_source(&args.from)?;
    let source_node = RespNode {
        addr: addr.clone(),
        password: if user.is_some() {
            None
        } else {
            password.clone()
        },
        timeout: ctx.resp.timeout,
    };
    let mut source = source_node.connect().await?;
    if let (Some(user), Some(password)) = (&user, &password) {
        source.call(&["AUTH", user, password]).await?;
    }
    let mut target = ctx.resp.connect().await?;
    let (resume_db, resume_cursor) = match &args.resume {
        Some(at) => {
            let parsed = at
                .split_once(':')
                .and_then(|(db, cursor)| Some((db.parse::<usize>().ok()?, cursor.to_string())));
            let Some(parsed) = parsed else {
                return Err(CtlError::Usage(format!(
                    "--resume {at}: expected DB:CURSOR"
                )));
            };
            (Some(parsed.0), Some(parsed.1))
        }
        None => (None, None),
    };
    let dbs: Vec<usize> = match args.db {
        Some(db) => vec![db],
        None => (0..databases(&mut source).await?).collect(),
    };
    let dbs: Vec<usize> = dbs
        .into_iter()
        .filter(|db| resume_db.is_none_or(|from| *db >= from))
        .collect();
    let mut total = 0u64;
    for &db in &dbs {
        source.call(&["SELECT", &db.to_string()]).await?;
        if let Frame::Integer(n) = source.call(&["DBSIZE"]).await? {
            total += n.max(0) as u64;
        }
    }
    let started = Instant::now();
    let mut tally = MigrateTally::default();
    let mut progress = Progress::new();
    for &db in &dbs {
        let select = ["SELECT".to_string(), db.to_string()];
        source.call(&select).await?;
        target.call(&select).await?;
        let mut cursor = match (&resume_cursor, resume_db) {
            (Some(cursor), Some(from)) if from == db => cursor.clone().into_bytes(),
            _ => b"0".to_vec(),
        };
        loop {
            let resume_hint = || {
                format!(
                    "resume with --resume {db}:{}",
                    String::from_utf8_lossy(&cursor)
                )
            };
            let step = async {
                let (next, keys) =
                    dump_batch(&mut source, &cursor, args.pattern.as_deref()).await?;
                let now = crate::util::now_ms() as i64;
                let mut commands = Vec::with_capacity(keys.len());
                let mut names = Vec::with_capacity(keys.len());
                for key in keys {
                    if key.expire_ms.is_some_and(|at| at <= now) {
                        tally.expired += 1;
                        continue;
                    }
                    let mut payload = key.body;
                    finish_payload(&mut payload);
                    let mut restore = vec![
                        b"RESTORE".to_vec(),
                        key.key.clone(),
                        key.expire_ms.unwrap_or(0).to_string().into_bytes(),
                        payload,
                        b"ABSTTL".to_vec(),
                    ];
                    if args.replace {
                        restore.push(b"REPLACE".to_vec());
                    }
                    names.push((key.key, restore[3].len() as u64));
                    commands.push(restore);
                }
                let replies = target.pipeline(&commands).await?;
                for ((name, bytes), reply) in names.into_iter().zip(replies) {
                    match reply {
                        Frame::Error(e) if e.starts_with("BUSYKEY") => tally.existed += 1,
                        Frame::Error(e) => tally
                            .failed
                            .push(format!("{}: {e}", String::from_utf8_lossy(&name))),
                        _ => {
                            tally.moved += 1;
                            tally.bytes += bytes;
                        }
                    }
                }
                Ok::<_, CtlError>(next)
            };
            let next = match step.await {
                Ok(next) => next,
                Err(err) => {
                    eprintln!(
                        "kiwictl: stopped at database {db}: {err}; {}",
                        resume_hint()
                    );
                    return Err(err);
                }
            };
            progress.show(|| {
                let secs = started.elapsed().as_secs_f64().max(0.001);
                let rate = tally.moved as f64 / secs;
                let left = total.saturating_sub(tally.moved + tally.existed + tally.expired);
                format!(
                    "{} of ~{total} keys, {} MB, {:.0} keys/s, ETA {:.0} s ({})",
                    tally.moved,
                    tally.bytes >> 20,
                    rate,
                    left as f64 / rate.max(1.0),
                    resume_hint()
                )
            });
            if next.as_slice() == b"0" {
                break;
            }
            cursor = next;
        }
    }
    progress.done();
    // The final count: what each side holds now (the source may have taken writes since).
    let (mut on_source, mut on_target) = (0i64, 0i64);
    for &db in &dbs {
        let select = ["SELECT".to_string(), db.to_string()];
        source.call(&select).await?;
        target.call(&select).await?;
        if let Frame::Integer(n) = source.call(&["DBSIZE"]).await? {
            on_source += n;
        }
        if let Frame::Integer(n) = target.call(&["DBSIZE"]).await? {
            on_target += n;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    match ctx.settings.output {
        OutputFormat::Table => println!(
            "migrated {} keys ({} MB) from {addr} in {secs:.1} s; {} existed{}, {} already expired, {} failed; the source now has {on_source} keys, the node {on_target}",
            tally.moved,
            tally.bytes >> 20,
            tally.existed,
            if tally.existed > 0 { " (--replace overwrites them)" } else { "" },
            tally.expired,
            tally.failed.len()
        ),
        OutputFormat::Json => print_json(&json!({
            "migrated": tally.moved,
            "bytes": tally.bytes,
            "existed": tally.existed,
            "expired": tally.expired,
            "failed": tally.failed,
            "seconds": secs,
            "source_keys": on_source,
            "target_keys": on_target,
        })),
    }
    failures(ctx, &tally.failed)
}

/// Shows the first keys the node refused; an error (exit status 1) if there were any.
fn failures(ctx: &Ctx, failed: &[String]) -> Result<(), CtlError> {
    for failure in failed.iter().take(10) {
        eprintln!("kiwictl: {failure}");
    }
    if failed.is_empty() {
        return Ok(());
    }
    Err(CtlError::Refused {
        addr: ctx.resp.addr.clone(),
        message: format!("{} keys were not restored", failed.len()),
    })
}
