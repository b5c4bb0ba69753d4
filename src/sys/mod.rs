//! Operating-system specific facts and hooks, kept behind `cfg` in this one module so that the
//! rest of Kiwi reads the same on Linux, macOS and Windows: process statistics, the stop signal
//! and, on Windows, running as a service.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::shutdown_signal;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::{run_command, shutdown_signal, PlatformCommand};

/// Raises this process's soft limit on open files towards `wanted`, as far as the hard limit
/// allows, and returns the limit now in force: a server with the distribution's default of 1024
/// would otherwise refuse clients (and RocksDB files) long before `maxclients`. `None` where the
/// platform has no such per-process limit (Windows).
pub fn raise_open_files_limit(wanted: u64) -> Option<u64> {
    #[cfg(unix)]
    {
        rlimit::increase_nofile_limit(wanted).ok()
    }
    #[cfg(not(unix))]
    {
        let _ = wanted;
        None
    }
}

/// A connection's socket, for code that runs while the connection's task owns the stream: a
/// blocked command watches through it for the client hanging up.
#[derive(Clone, Copy)]
pub struct SocketHandle(
    #[cfg(unix)] std::os::fd::RawFd,
    #[cfg(windows)] std::os::windows::io::RawSocket,
);

impl SocketHandle {
    pub fn of(stream: &tokio::net::TcpStream) -> SocketHandle {
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd;
            SocketHandle(stream.as_raw_fd())
        }
        #[cfg(windows)]
        {
            use std::os::windows::io::AsRawSocket;
            SocketHandle(stream.as_raw_socket())
        }
    }

    /// A second stream on the same connection, registered with the running Tokio runtime.
    ///
    /// # Safety
    /// The stream this handle was taken from must still be open.
    pub unsafe fn duplicate(self) -> std::io::Result<tokio::net::TcpStream> {
        #[cfg(unix)]
        let owned = std::os::fd::BorrowedFd::borrow_raw(self.0).try_clone_to_owned()?;
        #[cfg(windows)]
        let owned =
            std::os::windows::io::BorrowedSocket::borrow_raw(self.0).try_clone_to_owned()?;
        let stream = std::net::TcpStream::from(owned);
        stream.set_nonblocking(true)?;
        tokio::net::TcpStream::from_std(stream)
    }
}

/// Replaces this process with a fresh run of the same binary and arguments, plus `env`,
/// keeping its pid (so a service manager or a shell sees no exit): the way to recover from a
/// state only a restart clears. Returns only on failure; on platforms without `exec` (Windows)
/// it fails with `Unsupported`, and the caller exits for the service manager to restart it.
pub fn restart_in_place(env: &[(&str, String)]) -> std::io::Error {
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        match std::env::current_exe() {
            Ok(exe) => std::process::Command::new(exe)
                .args(std::env::args_os().skip(1))
                .envs(env.iter().map(|(k, v)| (k, v)))
                .exec(),
            Err(err) => err,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = env;
        std::io::Error::from(std::io::ErrorKind::Unsupported)
    }
}

/// Resident set size of this process in bytes, where the platform tells us cheaply.
pub fn rss_bytes() -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
        let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
        Some(pages * 4096)
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// The largest resident set size this process has had, in bytes (Linux: `VmHWM`).
pub fn peak_rss_bytes() -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// User and system CPU seconds used by this process, where the platform tells us cheaply.
pub fn cpu_seconds() -> Option<(f64, f64)> {
    #[cfg(target_os = "linux")]
    {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
        let rest = stat.rsplit_once(')')?.1;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks = 100.0; // USER_HZ is 100 on every Linux architecture Kiwi builds for
        let user: f64 = fields.get(11)?.parse().ok()?;
        let system: f64 = fields.get(12)?.parse().ok()?;
        Some((user / ticks, system / ticks))
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}
