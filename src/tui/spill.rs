//! The spill file: message payloads the terminal UI shows are written to an unlinked temporary
//! file by the loader and read back when a message is displayed or searched, so the UI keeps a
//! reference (offset and length) per message instead of a copy of up to 64 KiB.

use std::fs::File;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};

/// Where one message's kept payload sits in the spill file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spilled {
    /// Byte offset in the file.
    pub offset: u64,
    /// Length.
    pub len: u32,
}

/// An append-only temporary file, written by the loader thread, read by the UI thread.
#[derive(Debug)]
pub struct Spill {
    file: File,
    end: AtomicU64,
}

impl Spill {
    /// Creates the file in the temporary directory, readable by this user only, and unlinks it
    /// at once (it lives as long as the handle).
    #[cfg(unix)]
    pub fn create() -> io::Result<Self> {
        use std::os::unix::fs::OpenOptionsExt;
        let dir = std::env::temp_dir();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let mut last = io::Error::other("no name");
        for attempt in 0..16u32 {
            let path = dir.join(format!(
                "wsscope-spill-{}-{nanos}-{attempt}",
                std::process::id()
            ));
            match std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
            {
                Ok(file) => {
                    let _ = std::fs::remove_file(&path);
                    return Ok(Spill {
                        file,
                        end: AtomicU64::new(0),
                    });
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// Not available here: the UI keeps payloads in memory.
    #[cfg(not(unix))]
    pub fn create() -> io::Result<Self> {
        Err(io::Error::new(io::ErrorKind::Unsupported, "no spill file"))
    }

    /// Appends `bytes` (one writer only).
    #[cfg(unix)]
    pub fn append(&self, bytes: &[u8]) -> io::Result<Spilled> {
        use std::os::unix::fs::FileExt;
        let len = u32::try_from(bytes.len()).map_err(io::Error::other)?;
        let offset = self.end.load(Ordering::Acquire);
        self.file.write_all_at(bytes, offset)?;
        self.end.store(offset + u64::from(len), Ordering::Release);
        Ok(Spilled { offset, len })
    }

    /// Not available here.
    #[cfg(not(unix))]
    pub fn append(&self, _bytes: &[u8]) -> io::Result<Spilled> {
        Err(io::Error::new(io::ErrorKind::Unsupported, "no spill file"))
    }

    /// Reads back what [`Spill::append`] wrote.
    #[cfg(unix)]
    pub fn read(&self, at: Spilled) -> io::Result<Vec<u8>> {
        use std::os::unix::fs::FileExt;
        let mut buf = vec![0u8; at.len as usize];
        self.file.read_exact_at(&mut buf, at.offset)?;
        Ok(buf)
    }

    /// Not available here.
    #[cfg(not(unix))]
    pub fn read(&self, _at: Spilled) -> io::Result<Vec<u8>> {
        Err(io::Error::new(io::ErrorKind::Unsupported, "no spill file"))
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn appends_and_reads_back() {
        let s = Spill::create().expect("spill");
        let a = s.append(b"hello").expect("a");
        let b = s.append(&[7u8; 70_000]).expect("b");
        assert_eq!(a, Spilled { offset: 0, len: 5 });
        assert_eq!(b.offset, 5);
        assert_eq!(s.read(b).expect("read b"), vec![7u8; 70_000]);
        assert_eq!(s.read(a).expect("read a"), b"hello");
    }
}
