//! Small filesystems for disk-full tests: a size-limited tmpfs (mounting needs root, which CI
//! has; tests skip themselves otherwise).

use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs of a fixed size, unmounted on drop.
pub struct SmallDisk {
    pub path: PathBuf,
    _dir: Option<tempfile::TempDir>,
}

impl SmallDisk {
    /// A fresh tmpfs of `megabytes` in a temporary directory.
    pub fn mount(megabytes: u32) -> SmallDisk {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("disk");
        let mut disk = SmallDisk::mount_over(&path, megabytes);
        disk._dir = Some(dir);
        disk
    }

    /// A tmpfs of `megabytes` mounted at `path`, holding what the directory held before (a
    /// stopped node's data directory moves onto a small disk this way).
    pub fn mount_over(path: &Path, megabytes: u32) -> SmallDisk {
        let saved = path.with_extension("before-mount");
        let had_content = path.exists();
        if had_content {
            std::fs::rename(path, &saved).expect("move the directory aside");
        }
        std::fs::create_dir_all(path).expect("mount point");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(path)
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "mount a {megabytes} MB tmpfs (needs root)"
        );
        let disk = SmallDisk {
            path: path.to_path_buf(),
            _dir: None,
        };
        if had_content {
            let copied = Command::new("cp")
                .arg("-a")
                .arg(saved.join("."))
                .arg(path)
                .status()
                .expect("run cp");
            assert!(copied.success(), "copy the directory onto the tmpfs");
            std::fs::remove_dir_all(&saved).expect("remove the old copy");
        }
        disk
    }
}

impl SmallDisk {
    /// Grows (or shrinks) the filesystem in place, as an operator adding space would.
    pub fn resize(&self, megabytes: u32) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,size={megabytes}m")])
            .arg(&self.path)
            .status()
            .expect("run mount");
        assert!(status.success(), "resize the tmpfs to {megabytes} MB");
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// Whether this process may mount filesystems.
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Writes a file until the disk is full.
pub fn fill_to_the_brim(path: &Path) {
    use std::io::Write;
    let mut file = std::fs::File::create(path).expect("create filler");
    // Big writes first, then single bytes for what a big one could not take.
    for size in [1 << 20, 4096, 1] {
        let chunk = vec![0u8; size];
        while file.write_all(&chunk).is_ok() {}
    }
    let _ = file.sync_all();
}
