//! Shared test harness: starts real `kiwi` and `redis-server` processes on free ports with their
//! own temporary directories, and talks to them with Kiwi's own RESP client.
#![allow(dead_code)]

pub mod disk;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kiwi::resp::client::Client;
use kiwi::resp::Frame;

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("find a free port")
}

/// Waits until something answers PING on `port`. `Err` carries the exit status when the process
/// ended first, so callers can show its standard error (and retry a port taken meanwhile).
pub fn wait_ready(port: u16, child: &mut Child, what: &str) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let rt = runtime();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("{what} exited during start-up with {status}"));
        }
        let ok = rt.block_on(async {
            let Ok(mut c) = Client::connect(&format!("127.0.0.1:{port}")).await else {
                return false;
            };
            match c.call(&["PING"]).await {
                Ok(Frame::Simple(_)) => true,
                Ok(Frame::Error(e)) => e.starts_with("NOAUTH"),
                _ => false,
            }
        });
        if ok {
            return Ok(());
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not answer PING on port {port} within 30 s"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// How many times a start is tried when a port it was given got taken in the meantime: a port
/// from [`free_port`] is free when asked, but a parallel test's outgoing connection can take it
/// before the server binds it.
const START_ATTEMPTS: usize = 8;

/// A file for a child's standard error, so a failed start can say why.
fn stderr_file() -> (tempfile::NamedTempFile, Stdio) {
    let file = tempfile::NamedTempFile::new().expect("create a stderr file");
    let handle = append_to(&file);
    (file, Stdio::from(handle))
}

/// A handle that appends to `file`, so two streams sent to it do not overwrite each other.
fn append_to(file: &tempfile::NamedTempFile) -> std::fs::File {
    std::fs::OpenOptions::new()
        .append(true)
        .open(file.path())
        .expect("open the stderr file")
}

/// The failure of a start, with the child's standard error; `true` when a port was taken.
fn start_failure(reason: String, stderr: &tempfile::NamedTempFile) -> (String, bool) {
    let text = std::fs::read_to_string(stderr.path()).unwrap_or_default();
    let port_taken = text.contains("in use") || text.contains("os error 98");
    (format!("{reason}:\n{text}"), port_taken)
}

/// A single-threaded tokio runtime for driving async clients from sync tests.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("build a tokio runtime")
}

/// A two-worker tokio runtime, for tests that run many clients at once.
pub fn multi_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("build a tokio runtime")
}

/// A running kiwi process. Killed (SIGKILL) on drop if still running.
pub struct Kiwi {
    pub port: u16,
    /// Port of its admin HTTP API (a free one, unless `extra` sets `admin-port`).
    pub admin_port: u16,
    pub dir: PathBuf,
    pub child: Child,
    _tmp: Option<tempfile::TempDir>,
    /// Its standard error, shown when a start fails.
    _stderr: tempfile::NamedTempFile,
    pub extra: Vec<String>,
}

impl Kiwi {
    /// Starts kiwi on a free port with a fresh data directory and optional extra flags.
    pub fn start(extra: &[&str]) -> Kiwi {
        let tmp = tempfile::tempdir().expect("create temp dir");
        let dir = tmp.path().join("data");
        let mut k = Kiwi::start_on(None, &dir, extra);
        k._tmp = Some(tmp);
        k
    }

    /// Starts kiwi on a given port and data directory (for restarts).
    pub fn spawn(port: u16, dir: &Path, extra: &[&str]) -> Kiwi {
        Kiwi::start_on(Some(port), dir, extra)
    }

    /// Starts kiwi on `port` (a free one when `None`), retrying while a port it was given turns
    /// out to be taken: a fresh port for a new node, the same one after a pause for a restart.
    fn start_on(port: Option<u16>, dir: &Path, extra: &[&str]) -> Kiwi {
        let mut attempt = 1;
        loop {
            match Kiwi::try_spawn(port.unwrap_or_else(free_port), dir, extra) {
                Ok(kiwi) => return kiwi,
                Err((why, true)) if attempt < START_ATTEMPTS => {
                    eprintln!("retrying a start whose port was taken: {why}");
                    attempt += 1;
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err((why, _)) => panic!("{why}"),
            }
        }
    }

    fn try_spawn(port: u16, dir: &Path, extra: &[&str]) -> Result<Kiwi, (String, bool)> {
        let admin_port = free_port();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kiwi"));
        // `--init-cluster` among the extra flags starts a one-node Raft cluster instead.
        if !extra.contains(&"--init-cluster") {
            cmd.arg("--single-node");
        }
        let (stderr, child_stderr) = stderr_file();
        cmd.arg("--port")
            .arg(port.to_string())
            .arg("--dir")
            .arg(dir)
            .args([
                "--set",
                "storage-threads=2",
                "--set",
                "network-threads=2",
                "--set",
                "memory=64MB",
                // No 64 MB disk reserve per test node (tests/disk.rs sets its own).
                "--set",
                "disk-reserve=0",
            ])
            .arg("--set")
            .arg(format!("admin-port={admin_port}"))
            .args(extra)
            .stdout(Stdio::null())
            .stderr(child_stderr);
        let mut child = cmd.spawn().expect("spawn kiwi");
        if let Err(why) = wait_ready(port, &mut child, "kiwi") {
            return Err(start_failure(why, &stderr));
        }
        Ok(Kiwi {
            port,
            admin_port,
            dir: dir.to_path_buf(),
            child,
            _tmp: None,
            _stderr: stderr,
            extra: extra.iter().map(|s| s.to_string()).collect(),
        })
    }

    /// `127.0.0.1:port`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:admin_port` followed by `path`.
    pub fn admin_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.admin_port)
    }

    /// Stops with SIGKILL and waits.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Asks for a graceful stop (SIGTERM on Unix) and waits for the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        #[cfg(unix)]
        {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(self.child.id().to_string())
                .status();
        }
        #[cfg(not(unix))]
        {
            let _ = self.child.kill();
        }
        self.child.wait().expect("wait for kiwi")
    }

    /// Starts a new process on the same port and directory, keeping the temp dir alive.
    pub fn restart(mut self) -> Kiwi {
        let _ = self.child.try_wait();
        let extra: Vec<String> = self.extra.clone();
        let extra_refs: Vec<&str> = extra.iter().map(String::as_str).collect();
        let mut next = Kiwi::spawn(self.port, &self.dir, &extra_refs);
        next._tmp = self._tmp.take();
        next
    }
}

impl Drop for Kiwi {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running redis-server, the reference implementation for differential tests.
pub struct Redis {
    pub port: u16,
    child: Child,
    _tmp: tempfile::TempDir,
}

impl Redis {
    /// Starts Debian's redis-server without persistence. Panics with a clear message if absent.
    pub fn start() -> Redis {
        Redis::start_with(&[])
    }

    /// As [`Redis::start`], with extra flags (such as `--cluster-enabled yes`).
    pub fn start_with(extra: &[&str]) -> Redis {
        let mut attempt = 1;
        loop {
            match Redis::try_start(extra) {
                Ok(redis) => return redis,
                Err((why, true)) if attempt < START_ATTEMPTS => {
                    eprintln!("retrying a start whose port was taken: {why}");
                    attempt += 1;
                }
                Err((why, _)) => panic!("{why}"),
            }
        }
    }

    fn try_start(extra: &[&str]) -> Result<Redis, (String, bool)> {
        let tmp = tempfile::tempdir().expect("create temp dir");
        let port = free_port();
        let (stderr, child_stderr) = stderr_file();
        // redis-server reports a taken port on standard output.
        let child_stdout = Stdio::from(append_to(&stderr));
        let mut child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(tmp.path())
            .args(extra)
            .stdout(child_stdout)
            .stderr(child_stderr)
            .spawn()
            .expect("redis-server must be installed for differential tests (apt-get install redis-server)");
        if let Err(why) = wait_ready(port, &mut child, "redis-server") {
            return Err(start_failure(why, &stderr));
        }
        Ok(Redis {
            port,
            child,
            _tmp: tmp,
        })
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A reply and its exact bytes on the wire.
pub type Reply = (Frame, bytes::Bytes);

/// Sends one command and returns its reply with the bytes it came in, to compare replies
/// byte for byte (`$-1` is not `_`, `*2` is not `%1`).
pub async fn exchange<A: AsRef<[u8]>>(
    client: &mut Client,
    args: &[A],
) -> Result<Reply, kiwi::resp::client::ClientError> {
    client.queue(args);
    client.flush().await?;
    client.read_reply_with_bytes().await
}

/// Opens a connection, switched to RESP3 when asked.
pub async fn connect(addr: &str, resp3: bool) -> Client {
    let mut c = Client::connect(addr).await.expect("connect");
    if resp3 {
        assert!(matches!(
            c.call(&["HELLO", "3"]).await.expect("hello"),
            Frame::Map(_)
        ));
    }
    c
}

/// Sends one command and returns the reply, panicking on I/O errors.
pub async fn call(client: &mut Client, args: &[&str]) -> Frame {
    client
        .call(args)
        .await
        .unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// Shorthand for a bulk reply.
pub fn bulk(s: &str) -> Frame {
    Frame::Bulk(bytes::Bytes::copy_from_slice(s.as_bytes()))
}

/// The virtualenv with redis-py that `scripts/install-deps.sh` creates (override with
/// `KIWI_PYTHON`).
pub fn python() -> std::path::PathBuf {
    if let Ok(path) = std::env::var("KIWI_PYTHON") {
        return path.into();
    }
    let home = std::env::var("HOME").unwrap_or_else(|_| ".".into());
    std::path::PathBuf::from(home).join(".cache/kiwi/pyenv/bin/python")
}
