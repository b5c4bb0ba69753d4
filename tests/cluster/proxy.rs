//! A fault-injecting TCP proxy in front of one node's admin port. Every node announces its proxy
//! as its admin address, so all Raft RPC and forwarded pipelines *to* that node pass through it.
//! The proxy can refuse everyone (nobody reaches the node) or only connections opened by given
//! processes (the node cannot reach others): together these isolate a node in both directions.
//! A refused connection is held open and its bytes dropped, as a partitioned network would, so
//! the sender waits for its own timeout instead of retrying at once in a tight loop.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::AbortHandle;

/// What the proxy lets through right now, and the connections it relays.
#[derive(Default)]
struct State {
    /// Refuse and close every connection.
    cut_all: bool,
    /// Refuse and close connections opened by these processes.
    blocked_pids: HashSet<u32>,
    /// Open connections by number: the client's port, the task to abort, and whether it is a
    /// refused one (its bytes dropped).
    relays: HashMap<u64, (u16, AbortHandle, bool)>,
    /// Connections accepted while a rule names processes, waiting to learn whose they are: the
    /// relay number, the client's port and where to send the verdict.
    unsorted: Vec<(u64, u16, oneshot::Sender<bool>)>,
    next: u64,
}

impl State {
    /// The sockets the blocked processes hold.
    fn blocked_inodes(&self) -> HashSet<u64> {
        self.blocked_pids
            .iter()
            .flat_map(|&pid| socket_inodes(pid))
            .collect()
    }
}

/// A running proxy; stops when dropped.
pub struct Proxy {
    /// The port peers dial.
    pub port: u16,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
    sorter: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Listens on a free 127.0.0.1 port and forwards every connection to `target_port`.
    pub async fn start(target_port: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let state = Arc::new(Mutex::new(State::default()));
        let task = tokio::spawn(accept_loop(listener, port, target_port, state.clone()));
        let sorter = tokio::spawn(sort_loop(port, state.clone()));
        Proxy {
            port,
            state,
            task,
            sorter,
        }
    }

    /// Changes the rules and, before returning, aborts every open relay they no longer admit
    /// (so nothing sent after the change gets through), and every refused connection they now
    /// admit (so its sender reconnects).
    fn update(&self, edit: impl FnOnce(&mut State)) {
        let mut state = self.state.lock().expect("proxy state");
        edit(&mut state);
        let blocked = state.blocked_inodes();
        let inodes = if blocked.is_empty() {
            HashMap::new()
        } else {
            let ports: Vec<u16> = state.relays.values().map(|(port, _, _)| *port).collect();
            client_inodes(self.port, &ports)
        };
        let cut_all = state.cut_all;
        state.relays.retain(|_, (client_port, relay, refused)| {
            let inode = inodes.get(&*client_port);
            let admitted = !cut_all && !inode.is_some_and(|i| blocked.contains(i));
            let keep = admitted != *refused;
            if !keep {
                relay.abort();
            }
            keep
        });
    }

    /// Nobody reaches the node behind this proxy; open connections are closed.
    pub fn cut(&self) {
        self.update(|s| s.cut_all = true);
    }

    /// Connections opened by process `pid` are refused and closed.
    pub fn block_from(&self, pid: u32) {
        self.update(|s| {
            s.blocked_pids.insert(pid);
        });
    }

    /// Lets everything through again.
    pub fn heal(&self) {
        self.update(|s| {
            s.cut_all = false;
            s.blocked_pids.clear();
        });
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
        self.sorter.abort();
        for (_, relay, _) in self.state.lock().expect("proxy state").relays.values() {
            relay.abort();
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    own_port: u16,
    target_port: u16,
    state: Arc<Mutex<State>>,
) {
    loop {
        // An accept can fail for a connection its peer already gave up on (the leader's append
        // deadline is one heartbeat); ending the loop there would cut the node off for good.
        let (inbound, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                eprintln!("proxy {own_port}: accept failed ({err}); going on");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let mut guard = state.lock().expect("proxy state");
        let id = guard.next;
        guard.next += 1;
        // Only a rule naming processes needs to find whose connection this is, by a scan of
        // /proc that takes tens of milliseconds on a loaded machine: `sort_loop` does it for all
        // the connections accepted meanwhile at once, while they wait. (Scanning here, once per
        // accept, slowed the loop below the rate of a lagging follower's retries, whose
        // connections then filled the listen backlog for good.)
        let (task, refused) = if guard.cut_all {
            (tokio::spawn(drop_bytes(inbound, state.clone(), id)), true)
        } else if guard.blocked_pids.is_empty() {
            let task = tokio::spawn(relay(inbound, target_port, state.clone(), id));
            (task, false)
        } else {
            let (verdict, admitted) = oneshot::channel();
            guard.unsorted.push((id, peer.port(), verdict));
            let state = state.clone();
            let task = tokio::spawn(async move {
                match admitted.await {
                    Ok(true) => relay(inbound, target_port, state, id).await,
                    _ => drop_bytes(inbound, state, id).await,
                }
            });
            (task, false)
        };
        guard
            .relays
            .insert(id, (peer.port(), task.abort_handle(), refused));
    }
}

/// Decides, every few milliseconds, on the connections accepted since: refused when opened by a
/// blocked process, or by one already gone.
async fn sort_loop(own_port: u16, state: Arc<Mutex<State>>) {
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let (batch, pids) = {
            let mut guard = state.lock().expect("proxy state");
            if guard.unsorted.is_empty() {
                continue;
            }
            (
                std::mem::take(&mut guard.unsorted),
                guard.blocked_pids.clone(),
            )
        };
        let ports: Vec<u16> = batch.iter().map(|(_, port, _)| *port).collect();
        let found = tokio::task::spawn_blocking(move || {
            let blocked: HashSet<u64> = pids.iter().flat_map(|&pid| socket_inodes(pid)).collect();
            (client_inodes(own_port, &ports), blocked)
        })
        .await;
        let Ok((inodes, blocked)) = found else {
            continue;
        };
        let mut guard = state.lock().expect("proxy state");
        let cut_all = guard.cut_all;
        for (id, port, verdict) in batch {
            let admitted = !cut_all
                && inodes
                    .get(&port)
                    .is_some_and(|inode| !blocked.contains(inode));
            if let Some(relay) = guard.relays.get_mut(&id) {
                relay.2 = !admitted;
            }
            let _ = verdict.send(admitted);
        }
    }
}

/// Reads and drops everything the peer sends, answering nothing, until it gives up.
async fn drop_bytes(mut inbound: TcpStream, state: Arc<Mutex<State>>, id: u64) {
    let _ = tokio::io::copy(&mut inbound, &mut tokio::io::sink()).await;
    state.lock().expect("proxy state").relays.remove(&id);
}

/// Copies bytes both ways until either side closes (or the task is aborted by a rule change).
async fn relay(mut inbound: TcpStream, target_port: u16, state: Arc<Mutex<State>>, id: u64) {
    if let Ok(mut outbound) = TcpStream::connect(("127.0.0.1", target_port)).await {
        // As the nodes' own sockets: without it Nagle holds back each request's last segment
        // until the peer's delayed ACK, adding up to 40 ms to every RPC.
        let _ = inbound.set_nodelay(true);
        let _ = outbound.set_nodelay(true);
        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
    }
    state.lock().expect("proxy state").relays.remove(&id);
}

/// The client ends of loopback TCP connections to `server_port`, by client port, with their
/// inodes (Linux: /proc/net/tcp and tcp6).
/// The kernel writes these tables a few rows at a time: while connections come and go (a
/// thousand retries in TIME_WAIT), one reading can miss a live row, and a missed connection would
/// stay unblocked. So the tables are read again, a few times, until every port in `wanted` (those
/// of connections known to be open) is found.
fn client_inodes(server_port: u16, wanted: &[u16]) -> HashMap<u16, u64> {
    let mut found = HashMap::new();
    for _ in 0..5 {
        scan_client_inodes(server_port, &mut found);
        if wanted.iter().all(|port| found.contains_key(port)) {
            break;
        }
    }
    found
}

/// One reading of the tables into `found` (see [`client_inodes`]); rows without a socket
/// (TIME_WAIT, inode 0) never replace one with.
fn scan_client_inodes(server_port: u16, found: &mut HashMap<u16, u64>) {
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 10 {
                continue;
            }
            let port_of = |addr: &str| {
                addr.rsplit(':')
                    .next()
                    .and_then(|p| u16::from_str_radix(p, 16).ok())
            };
            if port_of(fields[2]) != Some(server_port) {
                continue;
            }
            match (port_of(fields[1]), fields[9].parse::<u64>()) {
                (Some(client), Ok(inode)) if inode != 0 => {
                    found.insert(client, inode);
                }
                _ => {}
            }
        }
    }
}

/// Inodes of the sockets process `pid` holds open.
fn socket_inodes(pid: u32) -> HashSet<u64> {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return HashSet::new();
    };
    fds.flatten()
        .filter_map(|fd| {
            let target = std::fs::read_link(fd.path()).ok()?;
            let text = target.to_str()?;
            text.strip_prefix("socket:[")?
                .strip_suffix(']')?
                .parse()
                .ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// An echo server, a proxy in front of it, and one round trip through the proxy.
    async fn round_trip(proxy: &Proxy) -> bool {
        let Ok(mut c) = TcpStream::connect(("127.0.0.1", proxy.port)).await else {
            return false;
        };
        let mut buf = [0u8; 4];
        let exchange = async {
            c.write_all(b"ping").await?;
            c.read_exact(&mut buf).await
        };
        matches!(
            tokio::time::timeout(std::time::Duration::from_millis(300), exchange).await,
            Ok(Ok(_))
        ) && &buf == b"ping"
    }

    async fn echo_server() -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind echo");
        let port = listener.local_addr().expect("echo address").port();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = s.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        port
    }

    #[tokio::test]
    async fn cut_block_and_heal() {
        let proxy = Proxy::start(echo_server().await).await;
        assert!(round_trip(&proxy).await);
        proxy.cut();
        assert!(!round_trip(&proxy).await);
        proxy.heal();
        assert!(round_trip(&proxy).await);
        // Connections of this very process are the ones refused now.
        proxy.block_from(std::process::id());
        assert!(!round_trip(&proxy).await);
        proxy.heal();
        proxy.block_from(std::process::id() + 1_000_000);
        assert!(round_trip(&proxy).await);
    }

    #[tokio::test]
    async fn open_connections_are_closed_when_blocked() {
        let proxy = Proxy::start(echo_server().await).await;
        let mut c = TcpStream::connect(("127.0.0.1", proxy.port))
            .await
            .expect("connect");
        c.write_all(b"ping").await.expect("write");
        let mut buf = [0u8; 4];
        c.read_exact(&mut buf).await.expect("echo");
        proxy.block_from(std::process::id());
        let mut rest = Vec::new();
        let closed =
            tokio::time::timeout(std::time::Duration::from_secs(2), c.read_to_end(&mut rest)).await;
        assert!(
            matches!(closed, Ok(Ok(0))),
            "connection left open: {closed:?}"
        );
    }
}
