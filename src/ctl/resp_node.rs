//! A node's RESP port as `kiwictl` uses it: commands that exist in Redis (INFO, CONFIG, SLOWLOG,
//! CLIENT) go there, so they work on any node even without the admin port.

use std::time::Duration;

use crate::resp::client::Client;
use crate::resp::Frame;

use super::error::CtlError;

/// Where and how to reach a node's RESP port.
#[derive(Debug, Clone)]
pub struct RespNode {
    pub addr: String,
    pub password: Option<String>,
    pub timeout: Duration,
}

/// An authenticated connection that maps every failure to a [`CtlError`].
pub struct RespConn {
    client: Client,
    node: RespNode,
}

impl RespNode {
    /// Connects and authenticates, within the timeout.
    pub async fn connect(&self) -> Result<RespConn, CtlError> {
        let client = self
            .bounded(async { Client::connect(&self.addr).await })
            .await?;
        let mut conn = RespConn {
            client,
            node: self.clone(),
        };
        if let Some(password) = &self.password {
            if let Frame::Error(e) = conn.raw(&["AUTH", password.as_str()]).await? {
                return Err(CtlError::Refused {
                    addr: self.addr.clone(),
                    message: format!("authentication failed: {e}"),
                });
            }
        }
        Ok(conn)
    }

    /// Runs a client future under the timeout, mapping its error.
    async fn bounded<T>(
        &self,
        fut: impl std::future::Future<Output = Result<T, crate::resp::client::ClientError>>,
    ) -> Result<T, CtlError> {
        let secs = self.timeout.as_secs_f64();
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(CtlError::from_resp(&self.addr, e, secs)),
            Err(_) => Err(CtlError::Timeout {
                addr: self.addr.clone(),
                secs,
            }),
        }
    }
}

impl RespConn {
    /// Sends one command; an error reply is returned as a frame.
    pub async fn raw<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<Frame, CtlError> {
        let node = self.node.clone();
        node.bounded(self.client.call(args)).await
    }

    /// Sends one command; an error reply becomes [`CtlError::Refused`].
    pub async fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<Frame, CtlError> {
        match self.raw(args).await? {
            Frame::Error(message) => Err(CtlError::Refused {
                addr: self.node.addr.clone(),
                message,
            }),
            reply => Ok(reply),
        }
    }

    /// Sends several commands in one write and returns their replies in order (error replies
    /// as frames): bulk work such as `import` without a round trip per key.
    pub async fn pipeline(&mut self, commands: &[Vec<Vec<u8>>]) -> Result<Vec<Frame>, CtlError> {
        for command in commands {
            self.client.queue(command);
        }
        let node = self.node.clone();
        let client = &mut self.client;
        node.bounded(async move {
            client.flush().await?;
            let mut replies = Vec::with_capacity(commands.len());
            for _ in commands {
                replies.push(client.read_reply().await?);
            }
            Ok(replies)
        })
        .await
    }

    /// Sends a command whose reply is text (INFO, CLIENT LIST).
    pub async fn text<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<String, CtlError> {
        match self.call(args).await? {
            Frame::Bulk(b) | Frame::Verbatim(b) | Frame::Simple(b) => {
                Ok(String::from_utf8_lossy(&b).into_owned())
            }
            other => Err(CtlError::Protocol {
                addr: self.node.addr.clone(),
                detail: format!("expected text, got {other:?}"),
            }),
        }
    }
}

/// Renders a reply the way redis-cli does, for replies without a dedicated table.
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
            Frame::Error(e) => out.push_str(&format!("(error) {e}\n")),
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

/// The text of a bulk/simple frame, for walking array replies (CONFIG GET, SLOWLOG GET).
pub fn frame_text(frame: &Frame) -> Option<String> {
    match frame {
        Frame::Bulk(b) | Frame::Simple(b) | Frame::Verbatim(b) => {
            Some(String::from_utf8_lossy(b).into_owned())
        }
        Frame::Integer(n) => Some(n.to_string()),
        _ => None,
    }
}
