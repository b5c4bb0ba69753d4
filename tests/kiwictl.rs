//! `kiwictl` as operators run it: the built binary against a real kiwi node, checking output,
//! exit codes and the one-line errors.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{free_port, Kiwi};

/// Runs kiwictl with a clean environment: no KIWI_* variables and a HOME without a config file,
/// unless the test provides one.
fn kiwictl_in(home: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kiwictl"));
    for (key, _) in std::env::vars() {
        if key.starts_with("KIWI") || key == "XDG_CONFIG_HOME" {
            cmd.env_remove(key);
        }
    }
    cmd.env("HOME", home)
        .env("RUST_BACKTRACE", "1")
        .envs(envs.iter().copied())
        .args(args)
        .output()
        .expect("run kiwictl")
}

fn kiwictl(args: &[&str]) -> Output {
    let home = tempfile::tempdir().expect("temp home");
    kiwictl_in(home.path(), args, &[])
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts success and returns stdout.
fn ok(out: Output) -> String {
    assert_eq!(out.status.code(), Some(0), "stdout: {}\nstderr: {}", stdout(&out), stderr(&out));
    stdout(&out)
}

/// Asserts a failure reported as exactly one `kiwictl: ...` line, and returns it.
fn one_line_failure(out: &Output, code: i32) -> String {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "one line, no backtrace: {err}");
    assert!(err.starts_with("kiwictl: "), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    err.trim_end().to_string()
}

#[test]
fn info_config_ping_and_health_against_a_node() {
    let kiwi = Kiwi::start(&[]);
    let p = kiwi.port.to_string();

    assert!(ok(kiwictl(&["-p", &p, "ping"])).starts_with("PONG ("));
    let info = ok(kiwictl(&["-p", &p, "info", "server"]));
    assert!(info.contains("redis_version:"), "{info}");
    assert!(!info.contains('\r'));
    let json: serde_json::Value =
        serde_json::from_str(&ok(kiwictl(&["-p", &p, "info", "-o", "json"]))).expect("info json");
    assert!(json["server"]["tcp_port"] == p.as_str(), "{json}");

    assert_eq!(ok(kiwictl(&["-p", &p, "config", "set", "maxclients", "5000"])), "OK\n");
    assert_eq!(
        ok(kiwictl(&["-p", &p, "config", "get", "maxclient*"])),
        "NAME        VALUE\nmaxclients   5000\n"
    );
    let json: serde_json::Value =
        serde_json::from_str(&ok(kiwictl(&["-p", &p, "-o", "json", "config", "get", "maxclients"])))
            .expect("config json");
    assert_eq!(json, serde_json::json!([{ "name": "maxclients", "value": "5000" }]));
    let bad = kiwictl(&["-p", &p, "config", "set", "maxclients", "lots"]);
    let line = one_line_failure(&bad, 1);
    assert!(line.contains("ERR CONFIG SET failed"), "{line}");

    assert_eq!(ok(kiwictl(&["-p", &p, "health"])), "healthy\n");
}

#[test]
fn slowlog_and_clients() {
    let kiwi = Kiwi::start(&[]);
    let p = kiwi.port.to_string();
    ok(kiwictl(&["-p", &p, "config", "set", "slowlog-log-slower-than", "0"]));
    ok(kiwictl(&["-p", &p, "ping"]));
    let log = ok(kiwictl(&["-p", &p, "slowlog", "get", "5"]));
    assert!(log.starts_with("ID  AGE"), "{log}");
    assert!(log.contains("CONFIG SET slowlog-log-slower-than 0"), "{log}");
    ok(kiwictl(&["-p", &p, "slowlog", "reset"]));

    let list = ok(kiwictl(&["-p", &p, "clients"]));
    assert!(list.starts_with("ID "), "{list}");
    assert!(list.contains("client|list"), "kiwictl's own connection is listed: {list}");
    let line = one_line_failure(&kiwictl(&["-p", &p, "clients", "kill", "999999"]), 1);
    assert!(line.ends_with("no client 999999") || line.contains("No such client"), "{line}");
}

#[test]
fn unreachable_nodes_fail_with_one_line_and_exit_2() {
    let port = free_port().to_string();
    for args in [
        vec!["-p", &port, "info"],
        vec!["-p", &port, "health"],
        vec!["--admin-port", &port, "cluster", "status"],
        vec!["--admin-port", &port, "top"],
        vec!["--admin-port", &port, "compact"],
    ] {
        let line = one_line_failure(&kiwictl(&args), 2);
        assert_eq!(
            line,
            format!("kiwictl: cannot reach node at 127.0.0.1:{port}: connection refused"),
            "{args:?}"
        );
    }
    let line = one_line_failure(&kiwictl(&["-H", "no-such-host.invalid", "ping"]), 2);
    assert!(line.starts_with("kiwictl: cannot reach node at no-such-host.invalid:7379: "), "{line}");
}

#[test]
fn wrong_password_is_one_line() {
    let kiwi = Kiwi::start(&["--set", "requirepass=sesame"]);
    let p = kiwi.port.to_string();
    let line = one_line_failure(&kiwictl(&["-p", &p, "-a", "wrong", "info"]), 1);
    assert!(line.contains("authentication failed"), "{line}");
    assert!(ok(kiwictl(&["-p", &p, "-a", "sesame", "info", "server"])).contains("redis_version"));
}

#[test]
fn settings_come_from_environment_and_config_file() {
    let kiwi = Kiwi::start(&[]);
    let p = kiwi.port.to_string();
    let home = tempfile::tempdir().expect("temp home");
    assert!(ok(kiwictl_in(home.path(), &["ping"], &[("KIWI_PORT", &p)])).starts_with("PONG"));

    let conf = home.path().join(".config/kiwi");
    std::fs::create_dir_all(&conf).expect("config dir");
    std::fs::write(conf.join("kiwictl.conf"), format!("# test\nport = {p}\noutput = json\n"))
        .expect("write config");
    let out = ok(kiwictl_in(home.path(), &["ping"], &[]));
    assert!(out.contains("\"rtt_ms\""), "output = json from the file: {out}");
    let out = ok(kiwictl_in(home.path(), &["ping", "-o", "table"], &[]));
    assert!(out.starts_with("PONG"), "the command line wins: {out}");

    std::fs::write(conf.join("kiwictl.conf"), "port = seven\n").expect("write config");
    let line = one_line_failure(&kiwictl_in(home.path(), &["ping"], &[]), 2);
    assert!(line.ends_with("kiwictl.conf: line 1: port is not valid: \"seven\""), "{line}");
}

#[test]
fn completions_for_every_shell() {
    for (shell, marker) in [
        ("bash", "_kiwictl"),
        ("zsh", "#compdef kiwictl"),
        ("fish", "complete -c kiwictl"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let script = ok(kiwictl(&["completions", shell]));
        assert!(script.contains(marker), "{shell}");
        assert!(script.contains("add-node"), "{shell} completes subcommands");
    }
}
