#!/usr/bin/env bash
# Type-checks (clippy, warnings as errors) the code that differs by OS for Windows and macOS
# from a Linux machine: src/sys and src/bin/kiwi.rs, compiled in a scratch crate whose stand-ins
# replace the few library items kiwi.rs calls, so RocksDB (which needs a C++ cross compiler) is
# not built. Needs the targets: rustup target add x86_64-pc-windows-gnu x86_64-apple-darwin.
# Usage: scripts/check-other-targets.sh [TARGET...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(x86_64-pc-windows-gnu x86_64-apple-darwin)
crate=${CARGO_TARGET_DIR:-$root/target}/other-targets-check
mkdir -p "$crate/src"
cp "$root/Cargo.lock" "$crate/"
# The same versions and features as Cargo.toml, for what src/sys and kiwi.rs use.
cat > "$crate/Cargo.toml" <<TOML
[package]
name = "kiwi"
version = "0.0.0"
edition = "2021"

[lib]
path = "src/lib.rs"

[[bin]]
name = "kiwi"
path = "$root/src/bin/kiwi.rs"

[dependencies]
$(grep -E '^(anyhow|clap|tokio|tracing) = ' "$root/Cargo.toml")

[target.'cfg(windows)'.dependencies]
$(sed -n "/^\[target.\"cfg(windows)\".dependencies\]/,/^\[/p" "$root/Cargo.toml" | grep -v '^\[')

[target.'cfg(unix)'.dependencies]
$(sed -n "/^\[target.'cfg(unix)'.dependencies\]/,/^\[/p" "$root/Cargo.toml" | grep -v '^\[')
TOML
cat > "$crate/src/lib.rs" <<RUST
//! Stand-ins for the library items src/bin/kiwi.rs calls; src/sys is the real one.
#[path = "$root/src/sys/mod.rs"]
pub mod sys;
pub mod config {
    #[derive(Debug)]
    pub struct Config {
        pub cluster_node_id: u64,
    }
    impl Config {
        pub fn from_file(_: &std::path::Path) -> Result<Config, std::io::Error> { Ok(Config::sample()) }
        pub fn sample() -> Config { Config { cluster_node_id: 0 } }
        pub fn set(&mut self, _: &str, _: &str) -> Result<(), String> { Ok(()) }
        pub fn validate(&self) -> Result<(), (String, String)> { Ok(()) }
    }
}
pub mod logging {
    pub fn init(_: &crate::config::Config) -> anyhow::Result<()> { Ok(()) }
}
pub mod server {
    pub enum Bootstrap { Initialize, Join }
    pub enum Mode { SingleNode, Cluster { id: u64, bootstrap: Bootstrap } }
    pub fn run(_: crate::config::Config, _: Mode) -> anyhow::Result<()> { Ok(()) }
}
RUST
for target in "${targets[@]}"; do
  echo "== $target"
  (cd "$crate" && cargo clippy --quiet --target "$target" --all-targets -- -D warnings)
done
