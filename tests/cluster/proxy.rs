//! A fault-injecting TCP proxy in front of one node's admin port. Every node announces its proxy
//! as its admin address, so all Raft RPC and forwarded pipelines *to* that node pass through it.
//! The proxy can refuse everyone (nobody reaches the node) or only connections opened by given
//! processes (the node cannot reach others): together these isolate a node in both directions.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the proxy lets through right now.
#[derive(Clone, Default)]
struct Rules {
    /// Refuse and close every connection.
    cut_all: bool,
    /// Refuse and close connections opened by these processes.
    blocked_pids: HashSet<u32>,
}

/// A running proxy; stops when dropped.
pub struct Proxy {
    /// The port peers dial.
    pub port: u16,
    rules: Arc<Mutex<Rules>>,
    changed: watch::Sender<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Listens on a free 127.0.0.1 port and forwards every connection to `target_port`.
    pub async fn start(target_port: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let rules = Arc::new(Mutex::new(Rules::default()));
        let (changed, _) = watch::channel(0u64);
        let task = tokio::spawn(accept_loop(listener, target_port, rules.clone(), changed.clone()));
        Proxy {
            port,
            rules,
            changed,
            task,
        }
    }

    fn update(&self, edit: impl FnOnce(&mut Rules)) {
        edit(&mut self.rules.lock().expect("proxy rules"));
        self.changed.send_modify(|generation| *generation += 1);
    }

    /// Nobody reaches the node behind this proxy; open connections are closed.
    pub fn cut(&self) {
        self.update(|r| r.cut_all = true);
    }

    /// Connections opened by process `pid` are refused and closed.
    pub fn block_from(&self, pid: u32) {
        self.update(|r| {
            r.blocked_pids.insert(pid);
        });
    }

    /// Lets everything through again.
    pub fn heal(&self) {
        self.update(|r| *r = Rules::default());
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(
    listener: TcpListener,
    target_port: u16,
    rules: Arc<Mutex<Rules>>,
    changed: watch::Sender<u64>,
) {
    let own_port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
    while let Ok((inbound, peer)) = listener.accept().await {
        let (rules, changes) = (rules.clone(), changed.subscribe());
        tokio::spawn(relay(inbound, peer, own_port, target_port, rules, changes));
    }
}

fn allowed(rules: &Mutex<Rules>, peer: SocketAddr, own_port: u16) -> bool {
    let rules = rules.lock().expect("proxy rules").clone();
    if rules.cut_all {
        return false;
    }
    if rules.blocked_pids.is_empty() {
        return true;
    }
    match socket_inode(peer.port(), own_port) {
        Some(inode) => !rules.blocked_pids.iter().any(|&pid| owns_socket(pid, inode)),
        // The peer is gone already: nothing to relay either way.
        None => false,
    }
}

/// Copies bytes both ways until either side closes or the rules stop allowing this connection.
async fn relay(
    mut inbound: TcpStream,
    peer: SocketAddr,
    own_port: u16,
    target_port: u16,
    rules: Arc<Mutex<Rules>>,
    mut changes: watch::Receiver<u64>,
) {
    if !allowed(&rules, peer, own_port) {
        return;
    }
    let Ok(mut outbound) = TcpStream::connect(("127.0.0.1", target_port)).await else {
        return;
    };
    let copy = tokio::io::copy_bidirectional(&mut inbound, &mut outbound);
    tokio::pin!(copy);
    loop {
        tokio::select! {
            _ = &mut copy => return,
            change = changes.changed() => {
                if change.is_err() || !allowed(&rules, peer, own_port) {
                    return;
                }
            }
        }
    }
}

/// The inode of the client end of a loopback TCP connection from `client_port` to `server_port`
/// (Linux: /proc/net/tcp and tcp6).
fn socket_inode(client_port: u16, server_port: u16) -> Option<u64> {
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
            if port_of(fields[1]) == Some(client_port) && port_of(fields[2]) == Some(server_port) {
                return fields[9].parse().ok();
            }
        }
    }
    None
}

/// Whether process `pid` holds the socket with this inode.
fn owns_socket(pid: u32, inode: u64) -> bool {
    let wanted = format!("socket:[{inode}]");
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path())
            .map(|target| target.as_os_str() == wanted.as_str())
            .unwrap_or(false)
    })
}
