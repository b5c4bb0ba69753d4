# Homebrew formula for Kiwi, built from the release's source tarball. To publish: replace
# OWNER with the GitHub owner of the Kiwi repository, set url and sha256 to the tagged release
# (`shasum -a 256` of the tarball) and copy the file to a tap (a repository named
# homebrew-kiwi, as Formula/kiwi.rb); `brew install --HEAD` works before a release exists.
class Kiwi < Formula
  desc "Redis-compatible key-value database on RocksDB"
  homepage "https://github.com/OWNER/kiwi"
  url "https://github.com/OWNER/kiwi/archive/refs/tags/v0.1.0.tar.gz"
  sha256 "0000000000000000000000000000000000000000000000000000000000000000"
  license "Apache-2.0"
  head "https://github.com/OWNER/kiwi.git", branch: "main"

  depends_on "rust" => :build

  def install
    system "cargo", "install", *std_cargo_args
    # The sample configuration with Homebrew's data and log paths; Homebrew keeps an edited
    # etc/kiwi/kiwi.conf on upgrade (the new default lands next to it as kiwi.conf.default).
    (buildpath/"kiwi.conf").write Utils.safe_popen_read(
      "packaging/make-conf.sh", (var/"kiwi").to_s, (var/"log/kiwi.log").to_s
    )
    (etc/"kiwi").install "kiwi.conf"
  end

  def post_install
    (var/"kiwi").mkpath
    (var/"log").mkpath
  end

  service do
    run [opt_bin/"kiwi", "--config", etc/"kiwi/kiwi.conf"]
    keep_alive true
    working_dir var/"kiwi"
    # Errors before the log file is open (a bad configuration) land here too.
    error_log_path var/"log/kiwi.log"
  end

  test do
    port = free_port
    pid = spawn bin/"kiwi", "--single-node", "--port", port.to_s, "--dir", (testpath/"data").to_s
    begin
      sleep 3
      assert_match "PONG", shell_output("#{bin}/kiwictl --port #{port} ping")
    ensure
      Process.kill("TERM", pid)
      Process.wait(pid)
    end
  end
end
