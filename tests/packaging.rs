//! The Linux packages, end to end: packaging/test.sh builds the .deb, .rpm and .tar.gz from the
//! release binaries this test run built (no second build in another profile), lints them,
//! installs the .deb, runs kiwi as its systemd unit would, upgrades, purges, and validates the
//! Windows and macOS recipes. It needs root and dpkg, which CI has; anywhere else it is skipped
//! with the reason printed, because installing packages on a developer's machine is not a test
//! side effect anyone wants.

use std::path::Path;
use std::process::Command;

#[test]
fn linux_packages_build_install_run_upgrade_and_purge() {
    if let Some(reason) = skip_reason() {
        eprintln!("skipped: {reason}");
        return;
    }
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_kiwi"))
        .parent()
        .expect("the kiwi binary has a directory");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/test.sh");
    let output = Command::new("bash")
        .arg(&script)
        .arg(bin_dir)
        .output()
        .expect("run packaging/test.sh");
    // The script's log is long: show it only when something failed.
    assert!(
        output.status.success(),
        "packaging/test.sh failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn skip_reason() -> Option<&'static str> {
    if !cfg!(target_os = "linux") {
        return Some("the packaging test runs on Linux only");
    }
    if Command::new("dpkg").arg("--version").output().is_err() {
        return Some("no dpkg: the packaging test installs a .deb");
    }
    let uid = Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Some("not root: the packaging test installs a .deb");
    }
    None
}
