//! `kiwictl`: operator commands against a running node over RESP.
//!
//! This first cut covers what a single node offers today (ping, info, config, health); cluster
//! management and the live `top` view arrive with the admin port and Raft.

use anyhow::{bail, Context as _};

use crate::resp::client::Client;
use crate::resp::Frame;

/// Where and how to reach the node.
#[derive(Debug, Clone)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub password: Option<String>,
}

impl Target {
    /// Connects and authenticates.
    pub async fn connect(&self) -> anyhow::Result<Client> {
        let addr = format!("{}:{}", self.host, self.port);
        let mut client = Client::connect(&addr).await?;
        if let Some(password) = &self.password {
            if let Frame::Error(e) = client.call(&["AUTH", password.as_str()]).await? {
                bail!("authentication failed: {e}");
            }
        }
        Ok(client)
    }
}

/// Renders a reply the way redis-cli does, for humans.
pub fn render(frame: &Frame) -> String {
    fn go(frame: &Frame, indent: usize, out: &mut String) {
        let pad = " ".repeat(indent);
        match frame {
            Frame::Simple(s)
            | Frame::Bulk(s)
            | Frame::Verbatim(s)
            | Frame::BigNumber(s)
            | Frame::DoubleText(s) => {
                out.push_str(&String::from_utf8_lossy(s));
                out.push('\n');
            }
            Frame::Error(e) => {
                out.push_str(&format!("(error) {e}\n"));
            }
            Frame::Integer(n) => out.push_str(&format!("(integer) {n}\n")),
            Frame::Double(d) => out.push_str(&format!("(double) {d}\n")),
            Frame::Boolean(b) => out.push_str(&format!("({b})\n")),
            Frame::Null | Frame::NullArray => out.push_str("(nil)\n"),
            Frame::Array(items) | Frame::Set(items) | Frame::Push(items) => {
                if items.is_empty() {
                    out.push_str("(empty array)\n");
                }
                for (i, item) in items.iter().enumerate() {
                    out.push_str(&format!("{pad}{}) ", i + 1));
                    go(item, indent + 3, out);
                }
            }
            Frame::Map(pairs) => {
                for (k, v) in pairs {
                    out.push_str(&pad);
                    go(k, indent, out);
                    out.push_str(&format!("{pad}  => "));
                    go(v, indent + 5, out);
                }
            }
        }
    }
    let mut out = String::new();
    go(frame, 0, &mut out);
    out
}

/// Sends one command and fails on an error reply.
pub async fn run_command(target: &Target, args: &[String]) -> anyhow::Result<Frame> {
    let mut client = target.connect().await?;
    let reply = client.call(args).await.context("send command")?;
    if let Frame::Error(e) = &reply {
        bail!("{e}");
    }
    Ok(reply)
}

/// Health as a script sees it: the node answers PING and its storage breaker is closed.
/// Returns the problems found (empty = healthy).
pub async fn health(target: &Target) -> anyhow::Result<Vec<String>> {
    let mut problems = Vec::new();
    let mut client = target.connect().await?;
    match client.call(&["PING"]).await? {
        Frame::Simple(s) if &s[..] == b"PONG" => {}
        other => problems.push(format!("PING answered {other:?}")),
    }
    let info = match client.call(&["INFO", "runtime"]).await? {
        Frame::Bulk(b) | Frame::Verbatim(b) => String::from_utf8_lossy(&b).into_owned(),
        other => bail!("unexpected INFO reply: {other:?}"),
    };
    for line in info.lines() {
        if let Some(state) = line.strip_prefix("storage_breaker:") {
            if state.trim() != "closed" {
                problems.push("storage circuit breaker is open: writes are refused".into());
            }
        }
        if let Some(reason) = line.strip_prefix("storage_breaker_reason:") {
            if !reason.trim().is_empty() {
                problems.push(format!("storage error: {}", reason.trim()));
            }
        }
    }
    Ok(problems)
}
