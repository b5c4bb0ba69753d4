//! Resolved client settings: command line, then environment (both via clap), then the client
//! config file, then defaults.
//!
//! The config file exists so an operator who always talks to the same cluster does not repeat
//! `--host`, `--admin-port` and `--token` on every call. It is a plain `key = value` file (`#`
//! comments) rather than TOML so that reading it needs no extra dependency and no schema.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::args::{GlobalOpts, OutputFormat};
use super::error::CtlError;

/// The RESP port a node listens on unless configured otherwise.
pub const DEFAULT_PORT: u16 = 7379;
/// The admin HTTP port a node listens on unless configured otherwise.
pub const DEFAULT_ADMIN_PORT: u16 = 7380;

/// Everything a command needs to reach a node.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub host: String,
    pub port: u16,
    pub admin_port: u16,
    pub token: Option<String>,
    pub password: Option<String>,
    pub output: OutputFormat,
    pub timeout: Duration,
}

impl Settings {
    /// `host:port` of the RESP listener.
    pub fn resp_addr(&self) -> String {
        join_host_port(&self.host, self.port)
    }

    /// `host:port` of the admin listener.
    pub fn admin_addr(&self) -> String {
        join_host_port(&self.host, self.admin_port)
    }

    /// Resolves the options. The default config file may be absent; an explicitly named one must
    /// exist.
    pub fn resolve(opts: &GlobalOpts) -> Result<Settings, CtlError> {
        let file = match &opts.config {
            Some(path) => read_config_file(path)?,
            None => match default_config_path() {
                Some(path) if path.exists() => read_config_file(&path)?,
                _ => FileOpts::default(),
            },
        };
        Self::merge(opts, &file)
    }

    /// Applies the precedence rules; separate from file reading so it is testable.
    fn merge(opts: &GlobalOpts, file: &FileOpts) -> Result<Settings, CtlError> {
        let timeout = opts.timeout.or(file.timeout).unwrap_or(5.0);
        if !(timeout.is_finite() && timeout > 0.0) {
            return Err(CtlError::Usage(format!(
                "timeout must be a positive number of seconds, got {timeout}"
            )));
        }
        Ok(Settings {
            host: opts
                .host
                .clone()
                .or_else(|| file.host.clone())
                .unwrap_or_else(|| "127.0.0.1".into()),
            port: opts.port.or(file.port).unwrap_or(DEFAULT_PORT),
            admin_port: opts
                .admin_port
                .or(file.admin_port)
                .unwrap_or(DEFAULT_ADMIN_PORT),
            token: opts.token.clone().or_else(|| file.token.clone()),
            password: opts.password.clone().or_else(|| file.password.clone()),
            output: opts.output.or(file.output).unwrap_or_default(),
            timeout: Duration::from_secs_f64(timeout),
        })
    }
}

/// `host:port`, bracketing IPv6 literals.
pub fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Values found in the config file.
#[derive(Debug, Default, PartialEq)]
struct FileOpts {
    host: Option<String>,
    port: Option<u16>,
    admin_port: Option<u16>,
    token: Option<String>,
    password: Option<String>,
    output: Option<OutputFormat>,
    timeout: Option<f64>,
}

/// `$XDG_CONFIG_HOME/kiwi/kiwictl.conf`, else `~/.config/kiwi/kiwictl.conf`, else (Windows)
/// `%APPDATA%\kiwi\kiwictl.conf`.
fn default_config_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .or_else(|| std::env::var_os("APPDATA").map(PathBuf::from))?;
    Some(base.join("kiwi").join("kiwictl.conf"))
}

fn read_config_file(path: &Path) -> Result<FileOpts, CtlError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CtlError::Usage(format!("cannot read config file {}: {e}", path.display())))?;
    parse_config(&text).map_err(|e| CtlError::Usage(format!("{}: {e}", path.display())))
}

/// Parses `key = value` lines; keys are the long option names (`admin-port`, `token`, ...).
fn parse_config(text: &str) -> Result<FileOpts, String> {
    let mut opts = FileOpts::default();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let lineno = n + 1;
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| format!("line {lineno}: expected `key = value`"))?;
        let value = value.trim().trim_matches('"').to_string();
        let bad = |what: &str| format!("line {lineno}: {what} is not valid: {value:?}");
        match key.trim().replace('_', "-").as_str() {
            "host" => opts.host = Some(value),
            "port" => opts.port = Some(value.parse().map_err(|_| bad("port"))?),
            "admin-port" => opts.admin_port = Some(value.parse().map_err(|_| bad("admin-port"))?),
            "token" => opts.token = Some(value),
            "password" => opts.password = Some(value),
            "timeout" => opts.timeout = Some(value.parse().map_err(|_| bad("timeout"))?),
            "output" => {
                opts.output = Some(
                    <OutputFormat as clap::ValueEnum>::from_str(&value, true)
                        .map_err(|_| bad("output"))?,
                )
            }
            other => return Err(format!("line {lineno}: unknown key {other:?}")),
        }
    }
    Ok(opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_file_fills_what_the_command_line_leaves_open() {
        let file = parse_config(
            "# cluster A\nhost = 10.0.0.5\nadmin_port=9000\ntoken = \"s3cret\"\noutput = json\n",
        )
        .expect("parse");
        let opts = GlobalOpts {
            host: Some("10.0.0.7".into()),
            ..GlobalOpts::default()
        };
        let s = Settings::merge(&opts, &file).expect("merge");
        assert_eq!(s.host, "10.0.0.7", "the command line wins");
        assert_eq!(s.admin_port, 9000);
        assert_eq!(s.port, DEFAULT_PORT);
        assert_eq!(s.token.as_deref(), Some("s3cret"));
        assert_eq!(s.output, OutputFormat::Json);
        assert_eq!(s.admin_addr(), "10.0.0.7:9000");
    }

    #[test]
    fn config_file_errors_name_the_line() {
        assert_eq!(
            parse_config("port = x").unwrap_err(),
            "line 1: port is not valid: \"x\""
        );
        assert_eq!(
            parse_config("\nbogus = 1").unwrap_err(),
            "line 2: unknown key \"bogus\""
        );
        assert_eq!(
            parse_config("host").unwrap_err(),
            "line 1: expected `key = value`"
        );
    }

    #[test]
    fn ipv6_hosts_are_bracketed() {
        assert_eq!(join_host_port("::1", 7379), "[::1]:7379");
        assert_eq!(join_host_port("[::1]", 7379), "[::1]:7379");
    }
}
