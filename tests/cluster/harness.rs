//! A multi-process Raft cluster on 127.0.0.1 for fault tests: every node is a real `kiwi`
//! process with its own config file and data directory, reached by the others through a
//! fault-injecting proxy (see `proxy.rs`) so links can be cut. Nodes can be killed (SIGKILL),
//! paused (SIGSTOP/SIGCONT), restarted with the same directory, added and removed.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::common::free_port;
use super::proxy::Proxy;

/// The cluster secret every test node shares.
const SECRET: &str = "cluster-test-secret";

/// Timing and snapshot policy written into every node's config.
#[derive(Clone)]
pub struct Options {
    pub heartbeat_ms: u64,
    pub election_ms: u64,
    pub snapshot_logs: u64,
    pub logs_kept: u64,
    /// How long a write waits for its entry to commit before answering TIMEOUT.
    pub proposal_timeout_ms: u64,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            heartbeat_ms: 50,
            election_ms: 300,
            snapshot_logs: 20000,
            logs_kept: 5000,
            proposal_timeout_ms: 3000,
        }
    }
}

/// `GET /v1/cluster/members`.
#[derive(Debug, Deserialize)]
pub struct Members {
    pub leader: Option<u64>,
    pub members: Vec<Member>,
}

/// One entry of the member list.
#[derive(Debug, Deserialize)]
pub struct Member {
    pub id: u64,
}

/// One node: its ports, its directory (config, data, log) and its process when running.
pub struct Node {
    pub id: u64,
    pub port: u16,
    pub admin_port: u16,
    pub proxy: Proxy,
    root: PathBuf,
    child: Option<Child>,
    paused: bool,
}

impl Node {
    /// `127.0.0.1:port` of the RESP listener.
    pub fn resp_addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The process id while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Running and not paused: expected to answer.
    pub fn is_up(&self) -> bool {
        self.child.is_some() && !self.paused
    }

    /// Its data directory (the `dir` of its config).
    pub fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    /// Whether its process ended by itself (a kill by the harness forgets the process instead).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    fn log_path(&self) -> PathBuf {
        self.root.join("node.log")
    }

    fn write_config(&self, opts: &Options) {
        let text = format!(
            "port {port}\nadmin-port {admin}\ndir {dir}\nlogfile {log}\nloglevel notice\n\
             cluster-node-id {id}\ncluster-secret {SECRET}\ncluster-announce-admin-port {proxy}\n\
             raft-heartbeat-interval {hb}\nraft-election-timeout {el}\nraft-snapshot-logs {snap}\n\
             raft-logs-kept {kept}\nraft-proposal-timeout {pt}\n\
             storage-threads 2\nnetwork-threads 2\nmemory 64MB\ndisk-reserve 0\n",
            port = self.port,
            admin = self.admin_port,
            dir = self.root.join("data").display(),
            log = self.log_path().display(),
            id = self.id,
            proxy = self.proxy.port,
            hb = opts.heartbeat_ms,
            el = opts.election_ms,
            snap = opts.snapshot_logs,
            kept = opts.logs_kept,
            pt = opts.proposal_timeout_ms,
        );
        std::fs::write(self.root.join("kiwi.conf"), text).expect("write node config");
    }

    /// Starts the process (on the same ports and directory as before) and waits for its ports.
    /// A port that a parallel test's outgoing connection holds for a moment is waited out.
    fn spawn(&mut self, init: bool) {
        assert!(self.child.is_none(), "node {} already running", self.id);
        for attempt in 1.. {
            match self.try_spawn(init) {
                Ok(child) => {
                    self.child = Some(child);
                    self.paused = false;
                    return;
                }
                Err(why) if attempt < 8 && why.contains("in use") => {
                    eprintln!("node {}: retrying a start whose port was taken", self.id);
                    std::thread::sleep(Duration::from_millis(250));
                }
                Err(why) => panic!("{why}"),
            }
        }
    }

    fn try_spawn(&mut self, init: bool) -> Result<Child, String> {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kiwi"));
        cmd.arg("--config").arg(self.root.join("kiwi.conf"));
        if init {
            cmd.arg("--init-cluster");
        }
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.root.join("stderr.log"))
            .expect("open stderr log");
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("spawn kiwi");
        let deadline = Instant::now() + Duration::from_secs(30);
        for port in [self.port, self.admin_port] {
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(format!(
                        "node {} exited during start-up with {status}:\n{}",
                        self.id,
                        self.log_tail()
                    ));
                }
                assert!(
                    Instant::now() < deadline,
                    "node {} did not open port {port}",
                    self.id
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Ok(child)
    }

    fn signal(&self, name: &str) {
        if let Some(pid) = self.pid() {
            let _ = Command::new("kill")
                .arg(format!("-{name}"))
                .arg(pid.to_string())
                .status();
        }
    }

    /// The last lines of the node's log and standard error, for failure messages.
    pub fn log_tail(&self) -> String {
        [self.log_path(), self.root.join("stderr.log")]
            .iter()
            .map(|path| {
                let text = std::fs::read_to_string(path).unwrap_or_default();
                let lines: Vec<&str> = text.lines().collect();
                lines[lines.len().saturating_sub(30)..].join("\n")
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// A running cluster. Every process is killed on drop; after a failed test the directories are
/// kept and each node's log tail is printed.
pub struct Cluster {
    pub nodes: Vec<Node>,
    opts: Options,
    http: reqwest::Client,
    root: Option<tempfile::TempDir>,
}

impl Cluster {
    /// Starts `n` nodes: node 1 initialises the cluster, the others join one by one as voters.
    pub async fn start(n: usize, opts: Options) -> Cluster {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("http client");
        let mut cluster = Cluster {
            nodes: Vec::new(),
            opts,
            http,
            root: Some(tempfile::tempdir().expect("create temp dir")),
        };
        cluster.new_node(true).await;
        cluster.wait_leader(None).await;
        for _ in 1..n {
            cluster.add_node().await;
        }
        cluster
    }

    async fn new_node(&mut self, init: bool) -> u64 {
        let id = self.nodes.iter().map(|n| n.id).max().unwrap_or(0) + 1;
        let root = self
            .root
            .as_ref()
            .expect("cluster root")
            .path()
            .join(format!("n{id}"));
        std::fs::create_dir_all(&root).expect("create node dir");
        let admin_port = free_port();
        let mut node = Node {
            id,
            port: free_port(),
            admin_port,
            proxy: Proxy::start(admin_port).await,
            root,
            child: None,
            paused: false,
        };
        node.write_config(&self.opts);
        tokio::task::block_in_place(|| node.spawn(init));
        self.nodes.push(node);
        id
    }

    /// The node with this id.
    pub fn node(&self, id: u64) -> &Node {
        self.nodes
            .iter()
            .find(|n| n.id == id)
            .expect("known node id")
    }

    pub fn node_mut(&mut self, id: u64) -> &mut Node {
        self.nodes
            .iter_mut()
            .find(|n| n.id == id)
            .expect("known node id")
    }

    /// Ids of nodes that are running and not paused.
    pub fn up_ids(&self) -> Vec<u64> {
        self.nodes
            .iter()
            .filter(|n| n.is_up())
            .map(|n| n.id)
            .collect()
    }

    /// GETs a JSON document from one node's admin port directly (not through its proxy).
    async fn admin_get<T: serde::de::DeserializeOwned>(&self, id: u64, path: &str) -> Option<T> {
        let url = format!("http://127.0.0.1:{}{path}", self.node(id).admin_port);
        let response = self
            .http
            .get(url)
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .ok()?;
        response.json().await.ok()
    }

    /// One node's view of the membership.
    pub async fn members(&self, id: u64) -> Option<Members> {
        self.admin_get(id, "/v1/cluster/members").await
    }

    /// One node's Raft view from its `/v1/status` (`last_log_index`, `purged_index`, ...).
    pub async fn raft_status(&self, id: u64) -> Option<serde_json::Value> {
        let status: serde_json::Value = self.admin_get(id, "/v1/status").await?;
        status.get("raft").cloned()
    }

    /// Waits until a majority of the running nodes that know of a leader name the same one
    /// (other than `not`) and that leader names itself; returns its id. (A node still joining
    /// knows of none.)
    pub async fn wait_leader(&self, not: Option<u64>) -> u64 {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let up = self.up_ids();
            let mut views = Vec::new();
            for &id in &up {
                if let Some(leader) = self.members(id).await.and_then(|m| m.leader) {
                    views.push(leader);
                }
            }
            for &candidate in &up {
                let votes = views.iter().filter(|v| **v == candidate).count();
                if Some(candidate) != not && votes * 2 > views.len() {
                    if let Some(m) = self.members(candidate).await {
                        if m.leader == Some(candidate) {
                            return candidate;
                        }
                    }
                }
            }
            assert!(
                Instant::now() < deadline,
                "no leader agreed on within 30 s: {views:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// POSTs a membership call to the current leader, retrying while leadership moves.
    async fn admin_post(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let leader = self.wait_leader(None).await;
            let url = format!("http://127.0.0.1:{}{path}", self.node(leader).admin_port);
            let answer = self.http.post(url).json(&body).send().await;
            let last = match answer {
                Ok(r) if r.status().is_success() => {
                    return r.json().await.unwrap_or(serde_json::Value::Null);
                }
                Ok(r) => format!("{}: {}", r.status(), r.text().await.unwrap_or_default()),
                Err(e) => e.to_string(),
            };
            assert!(Instant::now() < deadline, "{path} {body}: {last}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Starts a new node that waits to be added (by the caller, e.g. through kiwictl).
    pub async fn start_spare(&mut self) -> u64 {
        self.new_node(false).await
    }

    /// Starts a new node and adds it through the leader; returns once it is a voter.
    pub async fn add_node(&mut self) -> u64 {
        let id = self.new_node(false).await;
        let node = self.node(id);
        let body = serde_json::json!({
            "id": id,
            "admin_addr": format!("127.0.0.1:{}", node.proxy.port),
            "resp_addr": node.resp_addr(),
        });
        self.admin_post("/v1/cluster/add-node", body).await;
        id
    }

    /// Removes a node from the cluster (its process keeps running until killed).
    pub async fn remove_node(&self, id: u64) {
        self.admin_post("/v1/cluster/remove-node", serde_json::json!({ "id": id }))
            .await;
    }

    /// SIGKILL, and forget the process (the directory stays for a restart).
    pub fn kill(&mut self, id: u64) {
        let node = self.node_mut(id);
        if let Some(mut child) = node.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        node.paused = false;
    }

    /// Starts a killed node again with the same config and directory.
    pub fn restart(&mut self, id: u64) {
        let node = self.node_mut(id);
        tokio::task::block_in_place(|| node.spawn(false));
    }

    /// SIGSTOP: the process freezes with its sockets open.
    pub fn pause(&mut self, id: u64) {
        let node = self.node_mut(id);
        node.signal("STOP");
        node.paused = true;
    }

    /// SIGCONT after `pause`.
    pub fn resume(&mut self, id: u64) {
        let node = self.node_mut(id);
        node.signal("CONT");
        node.paused = false;
    }

    /// Cuts every Raft link of node `id` both ways: nobody reaches it through its proxy, and
    /// every other node's proxy refuses its connections.
    pub fn isolate(&self, id: u64) {
        let pid = self.node(id).pid().expect("isolate a running node");
        for node in &self.nodes {
            if node.id == id {
                node.proxy.cut();
            } else {
                node.proxy.block_from(pid);
            }
        }
    }

    /// Restores every link.
    pub fn heal(&self) {
        for node in &self.nodes {
            node.proxy.heal();
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if node.paused {
                node.signal("CONT");
            }
            if let Some(mut child) = node.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        if std::thread::panicking() || std::env::var_os("KIWI_CLUSTER_KEEP").is_some() {
            for node in &self.nodes {
                eprintln!(
                    "---- node {} log tail ({}):\n{}",
                    node.id,
                    node.log_path().display(),
                    node.log_tail()
                );
            }
            if let Some(root) = self.root.take() {
                eprintln!("cluster directories kept in {}", root.keep().display());
            }
        }
    }
}
