//! Commands about one node: ping, info, config, health, checkpoint, compact, slowlog, clients.

use serde_json::{json, Map, Value};

use crate::resp::Frame;

use super::args::{ClientsAction, ConfigAction, OutputFormat, SlowlogAction};
use super::error::CtlError;
use super::format;
use super::output::{print_done, print_json, print_table, Table};
use super::resp_node::{frame_text, render};
use super::Ctx;

/// `ping`: PONG and the round trip.
pub async fn ping(ctx: &Ctx) -> Result<(), CtlError> {
    let mut conn = ctx.resp.connect().await?;
    let start = std::time::Instant::now();
    let reply = conn.call(&["PING"]).await?;
    let ms = start.elapsed().as_secs_f64() * 1e3;
    match ctx.settings.output {
        OutputFormat::Table => println!("{} ({ms:.2} ms)", render(&reply).trim_end()),
        OutputFormat::Json => print_json(&json!({ "reply": frame_text(&reply), "rtt_ms": ms })),
    }
    Ok(())
}

/// `info [section]`: INFO as the node prints it, or sections of fields in JSON.
pub async fn info(ctx: &Ctx, section: Option<&str>) -> Result<(), CtlError> {
    let mut conn = ctx.resp.connect().await?;
    let mut cmd = vec!["INFO"];
    cmd.extend(section);
    let text = conn.text(&cmd).await?;
    match ctx.settings.output {
        OutputFormat::Table => print!("{}", text.replace("\r\n", "\n")),
        OutputFormat::Json => print_json(&info_to_json(&text)),
    }
    Ok(())
}

/// `{"server": {"redis_version": "7.0.15", ...}, ...}` from INFO's `# Section` / `k:v` lines.
pub fn info_to_json(text: &str) -> Value {
    let mut sections = Map::new();
    let mut current = String::from("info");
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix("# ") {
            current = name.to_lowercase();
        } else if let Some((k, v)) = line.split_once(':') {
            let entry = sections
                .entry(current.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(fields) = entry {
                fields.insert(k.to_string(), Value::String(v.to_string()));
            }
        }
    }
    Value::Object(sections)
}

/// `config get|set`.
pub async fn config(ctx: &Ctx, action: &ConfigAction) -> Result<(), CtlError> {
    let mut conn = ctx.resp.connect().await?;
    match action {
        ConfigAction::Get { pattern } => {
            let reply = conn.call(&["CONFIG", "GET", pattern.as_str()]).await?;
            let mut pairs: Vec<(String, String)> = match &reply {
                Frame::Array(items) => items
                    .chunks(2)
                    .filter_map(|kv| Some((frame_text(kv.first()?)?, frame_text(kv.get(1)?)?)))
                    .collect(),
                Frame::Map(kvs) => kvs
                    .iter()
                    .filter_map(|(k, v)| Some((frame_text(k)?, frame_text(v)?)))
                    .collect(),
                other => return Err(unexpected(ctx, "CONFIG GET", other)),
            };
            pairs.sort();
            let mut table = Table::new(&["name", "value"]);
            for (k, v) in pairs {
                table.push(vec![k, v]);
            }
            print_table(&table, ctx.settings.output);
        }
        ConfigAction::Set { key, value } => {
            conn.call(&["CONFIG", "SET", key.as_str(), value.as_str()])
                .await?;
            print_done("OK", &json!({ "ok": true }), ctx.settings.output);
        }
    }
    Ok(())
}

/// `health`: the node answers PING and its storage breaker is closed. Returns whether healthy;
/// the caller turns that into the exit code.
pub async fn health(ctx: &Ctx) -> Result<bool, CtlError> {
    let mut conn = ctx.resp.connect().await?;
    let mut problems = Vec::new();
    match conn.call(&["PING"]).await? {
        Frame::Simple(s) if &s[..] == b"PONG" => {}
        other => problems.push(format!("PING answered {}", render(&other).trim_end())),
    }
    let info = conn.text(&["INFO", "runtime"]).await?;
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':').map(str::trim))
    };
    if field("storage_breaker").is_some_and(|s| s != "closed") {
        problems.push("storage circuit breaker is open: writes are refused".into());
    }
    if let Some(reason) = field("storage_breaker_reason").filter(|r| !r.is_empty()) {
        problems.push(format!("storage error: {reason}"));
    }
    match ctx.settings.output {
        OutputFormat::Table if problems.is_empty() => println!("healthy"),
        OutputFormat::Table => problems.iter().for_each(|p| println!("unhealthy: {p}")),
        OutputFormat::Json => {
            print_json(&json!({ "healthy": problems.is_empty(), "problems": problems }))
        }
    }
    Ok(problems.is_empty())
}

/// `checkpoint <dir>` through the admin port.
pub async fn checkpoint(ctx: &Ctx, dir: &str) -> Result<(), CtlError> {
    let answer = ctx
        .admin
        .checkpoint(&ctx.settings.admin_addr(), dir)
        .await?;
    print_done(
        &format!("checkpoint written to {dir}"),
        &answer,
        ctx.settings.output,
    );
    Ok(())
}

/// `compact` through the admin port.
pub async fn compact(ctx: &Ctx) -> Result<(), CtlError> {
    let answer = ctx.admin.compact(&ctx.settings.admin_addr()).await?;
    print_done("compaction started", &answer, ctx.settings.output);
    Ok(())
}

/// `slowlog [get [n]|len|reset]`.
pub async fn slowlog(ctx: &Ctx, action: Option<&SlowlogAction>) -> Result<(), CtlError> {
    let mut conn = ctx.resp.connect().await?;
    match action.unwrap_or(&SlowlogAction::Get { count: None }) {
        SlowlogAction::Get { count } => {
            let n = count.unwrap_or(10).to_string();
            let reply = conn.call(&["SLOWLOG", "GET", n.as_str()]).await?;
            let Frame::Array(entries) = &reply else {
                return Err(unexpected(ctx, "SLOWLOG GET", &reply));
            };
            let mut table = Table::new(&["id", "age", "duration us", "command", "client"]);
            for entry in entries {
                if let Frame::Array(f) = entry {
                    table.push(slowlog_row(f));
                }
            }
            print_table(&table, ctx.settings.output);
        }
        SlowlogAction::Len => {
            let reply = conn.call(&["SLOWLOG", "LEN"]).await?;
            let n = frame_text(&reply).unwrap_or_default();
            print_done(
                &n,
                &json!({ "len": n.parse::<u64>().ok() }),
                ctx.settings.output,
            );
        }
        SlowlogAction::Reset => {
            conn.call(&["SLOWLOG", "RESET"]).await?;
            print_done("OK", &json!({ "ok": true }), ctx.settings.output);
        }
    }
    Ok(())
}

/// One SLOWLOG entry: `[id, unix time, micros, [argv...], client addr, client name]`. The time
/// is shown as an age: "2m10s" answers "is this from the incident?" faster than a timestamp.
fn slowlog_row(fields: &[Frame]) -> Vec<String> {
    let text = |i: usize| fields.get(i).and_then(frame_text).unwrap_or_default();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let age = match fields.get(1) {
        Some(Frame::Integer(t)) => {
            format::duration(now.saturating_sub(u64::try_from(*t).unwrap_or(0)))
        }
        _ => String::new(),
    };
    let argv = match fields.get(3) {
        Some(Frame::Array(args)) => args
            .iter()
            .filter_map(frame_text)
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    };
    vec![text(0), age, text(2), argv, text(4)]
}

/// `clients [list|kill <id|addr>]`.
pub async fn clients(ctx: &Ctx, action: Option<&ClientsAction>) -> Result<(), CtlError> {
    let mut conn = ctx.resp.connect().await?;
    match action.unwrap_or(&ClientsAction::List) {
        ClientsAction::List => {
            let text = conn.text(&["CLIENT", "LIST"]).await?;
            let rows = parse_client_list(&text);
            if ctx.settings.output == OutputFormat::Json {
                print_json(&Value::Array(rows.into_iter().map(Value::Object).collect()));
                return Ok(());
            }
            let cols = ["id", "addr", "name", "age", "idle", "db", "flags", "cmd"];
            let mut table = Table::new(&cols);
            for row in rows {
                let cell = |k: &str| row.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                table.push(cols.iter().map(|c| cell(c)).collect());
            }
            print_table(&table, OutputFormat::Table);
        }
        ClientsAction::Kill { client } => {
            let filter = if client.parse::<u64>().is_ok() {
                "ID"
            } else {
                "ADDR"
            };
            let reply = conn
                .call(&["CLIENT", "KILL", filter, client.as_str()])
                .await?;
            let killed = match reply {
                Frame::Integer(n) => n,
                _ => 0,
            };
            if killed == 0 {
                return Err(CtlError::Refused {
                    addr: ctx.resp.addr.clone(),
                    message: format!("no client {client}"),
                });
            }
            print_done(
                &format!("killed {client}"),
                &json!({ "killed": killed }),
                ctx.settings.output,
            );
        }
    }
    Ok(())
}

/// CLIENT LIST lines (`id=7 addr=... cmd=client|list`) as objects.
fn parse_client_list(text: &str) -> Vec<Map<String, Value>> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            line.split(' ')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
                .collect()
        })
        .collect()
}

fn unexpected(ctx: &Ctx, what: &str, reply: &Frame) -> CtlError {
    CtlError::Protocol {
        addr: ctx.resp.addr.clone(),
        detail: format!("{what} answered {}", render(reply).trim_end()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_sections_become_objects() {
        let v = info_to_json(
            "# Server\r\nredis_version:7.0.15\r\n\r\n# Keyspace\r\ndb0:keys=1,expires=0\r\n",
        );
        assert_eq!(v["server"]["redis_version"], "7.0.15");
        assert_eq!(v["keyspace"]["db0"], "keys=1,expires=0");
    }

    #[test]
    fn client_list_lines_become_rows() {
        let rows = parse_client_list("id=3 addr=127.0.0.1:5000 name= cmd=client|list\n");
        assert_eq!(rows[0]["addr"], "127.0.0.1:5000");
        assert_eq!(rows[0]["name"], "");
    }
}
