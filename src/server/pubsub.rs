//! The connection side of pub/sub: what one connection listens to, the (P|S)SUBSCRIBE family,
//! PUBLISH, SPUBLISH and PUBSUB, Redis's restriction of RESP2 connections in pub/sub mode, and
//! writing queued messages while the client sends nothing. The shared half (who listens to what,
//! the bounded queues) is `state::pubsub`.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::connection::Connection;
use crate::cmd::{CommandSpec, Flags};
use crate::error::ReplyError;
use crate::resp::{Frame, Protocol};
use crate::state::clients::ClientHandle;
use crate::state::pubsub::{Broker, Kind, Subscriber};
use crate::state::stats::bump;

/// What one connection listens to. Leaving the broker on drop means a closed or killed
/// connection can never be left behind as a subscriber.
pub(super) struct Subscriptions {
    broker: Arc<Broker>,
    client: Arc<ClientHandle>,
    /// Created on the first subscription; kept afterwards so messages queued before an
    /// unsubscribe are still delivered.
    mailbox: Option<Arc<Subscriber>>,
    /// Per [`Kind`]; sorted, so UNSUBSCRIBE without arguments answers in a stable order.
    names: [BTreeSet<Bytes>; 3],
}

impl Subscriptions {
    /// No subscriptions yet.
    pub(super) fn new(broker: Arc<Broker>, client: Arc<ClientHandle>) -> Subscriptions {
        Subscriptions {
            broker,
            client,
            mailbox: None,
            names: Default::default(),
        }
    }

    /// Redis's pub/sub mode: listening to anything at all, shard channels included.
    pub(super) fn active(&self) -> bool {
        self.names.iter().any(|n| !n.is_empty())
    }

    /// The count (P|S)(UN)SUBSCRIBE confirmations carry: channels and patterns together, shard
    /// channels on their own.
    fn reply_count(&self, kind: Kind) -> i64 {
        let len = |k: Kind| self.names[k.index()].len() as i64;
        match kind {
            Kind::Shard => len(Kind::Shard),
            Kind::Channel | Kind::Pattern => len(Kind::Channel) + len(Kind::Pattern),
        }
    }

    fn add(&mut self, kind: Kind, name: &Bytes) {
        if self.names[kind.index()].insert(name.clone()) {
            let mailbox = self
                .mailbox
                .get_or_insert_with(|| Subscriber::new(self.client.clone()));
            self.broker.subscribe(kind, name.clone(), mailbox);
            self.show_counts();
        }
    }

    fn remove(&mut self, kind: Kind, name: &[u8]) {
        if self.names[kind.index()].remove(name) {
            self.broker.unsubscribe(kind, name, self.client.id);
            self.show_counts();
        }
    }

    /// The connection's mailbox, created on first use (subscriptions, MONITOR).
    pub(super) fn mailbox(&mut self) -> Arc<Subscriber> {
        self.mailbox
            .get_or_insert_with(|| Subscriber::new(self.client.clone()))
            .clone()
    }

    /// Leaves every channel, pattern and shard channel without confirmations (RESET, close).
    pub(super) fn clear(&mut self) {
        for kind in [Kind::Channel, Kind::Pattern, Kind::Shard] {
            for name in std::mem::take(&mut self.names[kind.index()]) {
                self.broker.unsubscribe(kind, &name, self.client.id);
            }
        }
        self.show_counts();
    }

    /// Publishes the counts for CLIENT LIST and the idle timeout.
    fn show_counts(&self) {
        let counts = &self.client.subscriptions;
        let len = |k: Kind| self.names[k.index()].len();
        counts.channels.store(len(Kind::Channel), Ordering::Relaxed);
        counts.patterns.store(len(Kind::Pattern), Ordering::Relaxed);
        counts
            .shard_channels
            .store(len(Kind::Shard), Ordering::Relaxed);
    }

    /// Resolves when messages are waiting; never for a connection that never subscribed.
    pub(super) async fn ready(&self) {
        match &self.mailbox {
            Some(mailbox) => mailbox.ready().await,
            None => std::future::pending().await,
        }
    }

    /// Moves waiting messages into the reply buffer. Called before every reply, so a connection
    /// that publishes to a channel it listens to gets the message before PUBLISH's reply, as
    /// with Redis.
    pub(super) fn drain_into(&self, out: &mut BytesMut) {
        if let Some(mailbox) = &self.mailbox {
            if let Some(chunk) = mailbox.take() {
                out.extend_from_slice(&chunk);
                mailbox.written();
            }
        }
    }
}

impl Drop for Subscriptions {
    fn drop(&mut self) {
        self.clear();
    }
}

/// The confirmation verbs of one kind: (subscribe, unsubscribe).
fn verbs(kind: Kind) -> (&'static str, &'static str) {
    match kind {
        Kind::Channel => ("subscribe", "unsubscribe"),
        Kind::Pattern => ("psubscribe", "punsubscribe"),
        Kind::Shard => ("ssubscribe", "sunsubscribe"),
    }
}

fn confirmation(verb: &'static str, name: Frame, count: i64) -> Frame {
    Frame::Push(vec![
        Frame::Bulk(Bytes::from_static(verb.as_bytes())),
        name,
        Frame::Integer(count),
    ])
}

impl Connection {
    /// Runs a pub/sub command. Subscription changes send one confirmation per name themselves
    /// and return `None`; the others return their reply.
    pub(super) fn pubsub_command(&mut self, name: &str, args: &[Bytes]) -> Option<Frame> {
        match name {
            "subscribe" => self.subscribe(Kind::Channel, &args[1..]),
            "psubscribe" => self.subscribe(Kind::Pattern, &args[1..]),
            "ssubscribe" => self.subscribe(Kind::Shard, &args[1..]),
            "unsubscribe" => self.unsubscribe(Kind::Channel, &args[1..]),
            "punsubscribe" => self.unsubscribe(Kind::Pattern, &args[1..]),
            "sunsubscribe" => self.unsubscribe(Kind::Shard, &args[1..]),
            "publish" => return Some(self.publish(args, false)),
            "spublish" => return Some(self.publish(args, true)),
            _ => return Some(self.pubsub_introspection(args)),
        }
        None
    }

    fn subscribe(&mut self, kind: Kind, names: &[Bytes]) {
        for name in names {
            self.subs.add(kind, name);
            let count = self.subs.reply_count(kind);
            self.push_notification(confirmation(
                verbs(kind).0,
                Frame::Bulk(name.clone()),
                count,
            ));
        }
    }

    /// Without names, leaves everything of that kind; with nothing to leave, Redis still
    /// confirms once, with a null name.
    fn unsubscribe(&mut self, kind: Kind, names: &[Bytes]) {
        let verb = verbs(kind).1;
        let names: Vec<Bytes> = if names.is_empty() {
            self.subs.names[kind.index()].iter().cloned().collect()
        } else {
            names.to_vec()
        };
        if names.is_empty() {
            let count = self.subs.reply_count(kind);
            self.push_notification(confirmation(verb, Frame::Null, count));
        }
        for name in names {
            self.subs.remove(kind, &name);
            let count = self.subs.reply_count(kind);
            self.push_notification(confirmation(verb, Frame::Bulk(name), count));
        }
    }

    fn publish(&mut self, args: &[Bytes], shard: bool) -> Frame {
        let limit = self.state.config().client_output_buffer_limit.pubsub;
        let receivers = self.state.pubsub.publish(&args[1], &args[2], shard, &limit);
        Frame::Integer(receivers as i64)
    }

    /// PUBLISH in cluster mode: through the Raft log, so that every node delivers it to its own
    /// subscribers.
    pub(super) async fn publish_replicated(
        &mut self,
        spec: &'static crate::cmd::CommandSpec,
        args: Vec<Bytes>,
    ) -> Frame {
        let command = crate::runtime::QueuedCommand {
            db: self.db,
            spec,
            args,
        };
        match self
            .storage
            .execute(vec![command], self.proto, &self.client)
            .await
        {
            Ok(mut replies) => replies.pop().unwrap_or(Frame::Integer(0)),
            Err(err) => err.into(),
        }
    }

    fn pubsub_introspection(&self, args: &[Bytes]) -> Frame {
        let broker = &self.state.pubsub;
        let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
        let names = |kind: Kind| {
            let pattern = args.get(2).map(|p| &p[..]);
            Frame::Array(
                broker
                    .active(kind, pattern)
                    .into_iter()
                    .map(Frame::Bulk)
                    .collect(),
            )
        };
        let counts = |kind: Kind| {
            Frame::Array(
                args[2..]
                    .iter()
                    .flat_map(|name| {
                        let count = broker.listeners(kind, name) as i64;
                        [Frame::Bulk(name.clone()), Frame::Integer(count)]
                    })
                    .collect(),
            )
        };
        match sub.as_str() {
            "channels" if args.len() <= 3 => names(Kind::Channel),
            "shardchannels" if args.len() <= 3 => names(Kind::Shard),
            "numsub" => counts(Kind::Channel),
            "shardnumsub" => counts(Kind::Shard),
            "numpat" => Frame::Integer(broker.count(Kind::Pattern) as i64),
            "help" => pubsub_help(),
            _ => ReplyError::subcommand_syntax(&args[1], "pubsub").into(),
        }
    }

    /// Redis's rule for RESP2 connections in pub/sub mode: only (P|S)(UN)SUBSCRIBE, PING, QUIT
    /// and RESET, because replies and messages could not be told apart. RESP3 has no limit.
    pub(super) fn subscribed_refusal(
        &self,
        spec: &CommandSpec,
        args: &[Bytes],
    ) -> Option<ReplyError> {
        if self.proto != Protocol::Resp2
            || !self.subs.active()
            || spec.flags.contains(Flags::WHILE_SUBSCRIBED)
        {
            return None;
        }
        let name = match args.get(1) {
            Some(sub) if !spec.subcommands.is_empty() => format!(
                "{}|{}",
                spec.name,
                String::from_utf8_lossy(sub).to_ascii_lowercase()
            ),
            _ => spec.name.to_string(),
        };
        Some(ReplyError::SubscribedContext(name))
    }

    /// Writes messages that arrived while the client sent nothing. False when the connection
    /// must close: the write failed, the client was killed (for its output limits, say, while
    /// the write waited on a client that does not read), or the server is stopping.
    pub(super) async fn write_messages(&mut self, socket: &mut TcpStream) -> bool {
        let Some(mailbox) = self.subs.mailbox.clone() else {
            return true;
        };
        let Some(chunk) = mailbox.take() else {
            return true;
        };
        bump(&self.state.stats.net_output_bytes, chunk.len() as u64);
        let mut shutdown = self.state.shutdown.subscribe();
        let written = tokio::select! {
            result = socket.write_all(&chunk) => result.is_ok(),
            _ = self.client.kill_signal.notified() => false,
            _ = shutdown.wait_for(|stop| *stop) => false,
        };
        mailbox.written();
        written && !self.client.killed.load(Ordering::Acquire)
    }
}

fn pubsub_help() -> Frame {
    Frame::Array(
        [
            "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
            "HELP",
            "    Prints this help.",
        ]
        .iter()
        .map(|line| Frame::Simple(Bytes::from_static(line.as_bytes())))
        .collect(),
    )
}
