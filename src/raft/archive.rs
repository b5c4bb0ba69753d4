//! The snapshot stream: a checkpoint directory sent as a sequence of files, read and written in
//! chunks so that neither side ever holds a whole snapshot in memory.
//!
//! Layout: `u32 header length · header (postcard)` then per file `u16 name length · name · u64
//! size · bytes`, ended by a zero name length.

use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Largest accepted header: it holds the vote and the membership, never data.
const MAX_HEADER: u32 = 1 << 20;

fn invalid(message: impl Into<String>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message.into())
}

/// Writes `header` and every file of `dir` to `out`.
pub async fn write<H: Serialize>(
    header: &H,
    dir: &Path,
    out: &mut (impl AsyncWrite + Unpin),
) -> std::io::Result<()> {
    let header = postcard::to_allocvec(header).map_err(|e| invalid(e.to_string()))?;
    out.write_u32(header.len() as u32).await?;
    out.write_all(&header).await?;
    let mut entries = tokio::fs::read_dir(dir).await?;
    while let Some(entry) = entries.next_entry().await? {
        if !entry.file_type().await?.is_file() {
            continue;
        }
        let name = entry.file_name();
        let name = name
            .to_str()
            .ok_or_else(|| invalid("non-UTF-8 file name"))?;
        let mut file = tokio::fs::File::open(entry.path()).await?;
        let size = file.metadata().await?.len();
        out.write_u16(name.len() as u16).await?;
        out.write_all(name.as_bytes()).await?;
        out.write_u64(size).await?;
        let copied = tokio::io::copy(&mut (&mut file).take(size), out).await?;
        if copied != size {
            return Err(invalid(format!("{name} shrank while being sent")));
        }
    }
    out.write_u16(0).await?;
    out.flush().await
}

/// Reads the header from `input`.
pub async fn read_header<H: DeserializeOwned>(
    input: &mut (impl AsyncRead + Unpin),
) -> std::io::Result<H> {
    let len = input.read_u32().await?;
    if len > MAX_HEADER {
        return Err(invalid(format!("snapshot header of {len} bytes")));
    }
    let mut raw = vec![0; len as usize];
    input.read_exact(&mut raw).await?;
    postcard::from_bytes(&raw).map_err(|e| invalid(e.to_string()))
}

/// Reads the files that follow the header into `dir` (created).
pub async fn read_files(input: &mut (impl AsyncRead + Unpin), dir: &Path) -> std::io::Result<()> {
    tokio::fs::create_dir_all(dir).await?;
    loop {
        let len = input.read_u16().await? as usize;
        if len == 0 {
            return Ok(());
        }
        let mut name = vec![0; len];
        input.read_exact(&mut name).await?;
        let name = String::from_utf8(name).map_err(|_| invalid("non-UTF-8 file name"))?;
        if name.contains(['/', '\\']) || name == "." || name == ".." {
            return Err(invalid(format!("bad file name {name:?} in snapshot")));
        }
        let size = input.read_u64().await?;
        let mut file = tokio::fs::File::create(dir.join(&name)).await?;
        let copied = tokio::io::copy(&mut input.take(size), &mut file).await?;
        if copied != size {
            return Err(invalid(format!("snapshot stream ended inside {name}")));
        }
        file.sync_all().await?;
    }
}
