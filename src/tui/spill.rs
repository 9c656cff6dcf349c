//! The spill file: message payloads the terminal UI shows are written to an unlinked temporary
//! file by the loader and read back when a message is drawn, displayed, searched or exported,
//! so the UI keeps a reference (offset and length) per message instead of a copy.

use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;

/// Where one message's kept payload sits in the spill.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Spilled {
    /// Byte offset.
    pub offset: u64,
    /// Length.
    pub len: u32,
}

/// Most bytes the spill holds in all (4 GiB): past it, payloads are no longer kept (the
/// messages are still listed, and say so).
pub const SPILL_LIMIT: u64 = 4 << 30;

/// Append-only payload storage: written by the loader thread, read by the UI thread. A file
/// when one can be created, else memory.
#[derive(Debug)]
pub struct Spill {
    store: Store,
    end: AtomicU64,
    limit: u64,
}

#[derive(Debug)]
enum Store {
    File(File),
    Memory(RwLock<Vec<u8>>),
}

/// The directory spill files go to: `$TMPDIR`, else `/var/tmp` (on disk on most systems,
/// where `/tmp` is often memory), else the system temporary directory.
fn spill_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("TMPDIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    let var_tmp = PathBuf::from("/var/tmp");
    if var_tmp.is_dir() {
        return var_tmp;
    }
    std::env::temp_dir()
}

impl Spill {
    /// A spill file in [`spill_dir`], readable by this user only and unlinked at once (it
    /// lives as long as the handle); memory when no file can be created.
    pub fn create() -> Self {
        let store = match create_file(&spill_dir()).or_else(|_| create_file(&std::env::temp_dir()))
        {
            Ok(f) => Store::File(f),
            Err(_) => Store::Memory(RwLock::new(Vec::new())),
        };
        Spill {
            store,
            end: AtomicU64::new(0),
            limit: SPILL_LIMIT,
        }
    }

    /// Payloads kept in memory (tests).
    #[cfg(test)]
    pub fn in_memory() -> Self {
        Spill {
            store: Store::Memory(RwLock::new(Vec::new())),
            end: AtomicU64::new(0),
            limit: SPILL_LIMIT,
        }
    }

    /// True when payloads go to a file (else memory, charged to the budget by the loader).
    pub fn is_file(&self) -> bool {
        matches!(self.store, Store::File(_))
    }

    /// Bytes stored so far.
    pub fn len(&self) -> u64 {
        self.end.load(Ordering::Acquire)
    }

    /// Appends `bytes` (one writer only). Fails when the spill would pass its limit or the
    /// file cannot be written.
    pub fn append(&self, bytes: &[u8]) -> io::Result<Spilled> {
        let len = u32::try_from(bytes.len()).map_err(io::Error::other)?;
        let offset = self.end.load(Ordering::Acquire);
        if offset + u64::from(len) > self.limit {
            return Err(io::Error::other("the spill file reached its limit"));
        }
        match &self.store {
            Store::File(f) => write_at(f, bytes, offset)?,
            Store::Memory(m) => m
                .write()
                .map_err(|_| io::Error::other("spill lock poisoned"))?
                .extend_from_slice(bytes),
        }
        self.end.store(offset + u64::from(len), Ordering::Release);
        Ok(Spilled { offset, len })
    }

    /// Reads back what [`Spill::append`] wrote.
    pub fn read(&self, at: Spilled) -> io::Result<Vec<u8>> {
        self.read_prefix(at, at.len as usize)
    }

    /// Reads back the first `max` bytes of what [`Spill::append`] wrote.
    pub fn read_prefix(&self, at: Spilled, max: usize) -> io::Result<Vec<u8>> {
        let n = (at.len as usize).min(max);
        if n == 0 {
            return Ok(Vec::new());
        }
        match &self.store {
            Store::File(f) => {
                let mut buf = vec![0u8; n];
                read_at(f, &mut buf, at.offset)?;
                Ok(buf)
            }
            Store::Memory(m) => {
                let m = m
                    .read()
                    .map_err(|_| io::Error::other("spill lock poisoned"))?;
                let start = usize::try_from(at.offset).map_err(io::Error::other)?;
                m.get(start..start + n)
                    .map(<[u8]>::to_vec)
                    .ok_or_else(|| io::Error::other("spill offset out of range"))
            }
        }
    }
}

/// Reads payloads in ascending offset order through a 1 MiB window, so that a scan of many
/// small payloads (a search) costs one read per window instead of one per payload.
pub struct SpillCursor<'a> {
    spill: &'a Spill,
    window: Vec<u8>,
    start: u64,
}

/// Bytes read at a time by a [`SpillCursor`].
const WINDOW: usize = 1 << 20;

impl<'a> SpillCursor<'a> {
    /// A cursor over `spill`.
    pub fn new(spill: &'a Spill) -> Self {
        SpillCursor {
            spill,
            window: Vec::new(),
            start: 0,
        }
    }

    /// The payload at `at` (read directly when larger than the window).
    pub fn read(&mut self, at: Spilled) -> io::Result<std::borrow::Cow<'_, [u8]>> {
        let len = at.len as usize;
        if len > WINDOW / 2 {
            return self.spill.read(at).map(std::borrow::Cow::Owned);
        }
        let end = at.offset + at.len as u64;
        let inside = at.offset >= self.start && end <= self.start + self.window.len() as u64;
        if !inside {
            let avail = self.spill.len().saturating_sub(at.offset);
            let n = (WINDOW as u64).min(avail).max(at.len as u64) as u32;
            self.window = self.spill.read(Spilled {
                offset: at.offset,
                len: n,
            })?;
            self.start = at.offset;
        }
        let from = (at.offset - self.start) as usize;
        Ok(std::borrow::Cow::Borrowed(&self.window[from..from + len]))
    }
}

#[cfg(unix)]
fn create_file(dir: &std::path::Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
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
                return Ok(file);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

#[cfg(not(unix))]
fn create_file(_dir: &std::path::Path) -> io::Result<File> {
    Err(io::Error::new(io::ErrorKind::Unsupported, "no spill file"))
}

#[cfg(unix)]
fn write_at(f: &File, bytes: &[u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(f, bytes, offset)
}

#[cfg(unix)]
fn read_at(f: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(f, buf, offset)
}

#[cfg(not(unix))]
fn write_at(_f: &File, _bytes: &[u8], _offset: u64) -> io::Result<()> {
    Err(io::Error::new(io::ErrorKind::Unsupported, "no spill file"))
}

#[cfg(not(unix))]
fn read_at(_f: &File, _buf: &mut [u8], _offset: u64) -> io::Result<()> {
    Err(io::Error::new(io::ErrorKind::Unsupported, "no spill file"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(s: &Spill) {
        let a = s.append(b"hello").expect("a");
        let b = s.append(&[7u8; 70_000]).expect("b");
        assert_eq!(a, Spilled { offset: 0, len: 5 });
        assert_eq!(b.offset, 5);
        assert_eq!(s.read(b).expect("read b"), vec![7u8; 70_000]);
        assert_eq!(s.read(a).expect("read a"), b"hello");
        assert_eq!(s.read_prefix(a, 2).expect("prefix"), b"he");
        assert_eq!(s.len(), 70_005);
    }

    #[test]
    fn file_and_memory_append_and_read_back() {
        let f = Spill::create();
        assert!(f.is_file() || cfg!(not(unix)));
        round_trip(&f);
        round_trip(&Spill::in_memory());
    }

    #[test]
    fn a_cursor_reads_what_was_appended() {
        let s = Spill::in_memory();
        let mut at = Vec::new();
        for i in 0..3000u32 {
            let bytes = vec![(i % 251) as u8; (i % 700) as usize];
            at.push((s.append(&bytes).expect("append"), bytes));
        }
        let big = vec![9u8; 3 << 20];
        at.push((s.append(&big).expect("append"), big));
        let mut c = SpillCursor::new(&s);
        for (a, bytes) in &at {
            assert_eq!(&*c.read(*a).expect("read"), &bytes[..]);
        }
        // Out of order too.
        for (a, bytes) in at.iter().rev().step_by(7) {
            assert_eq!(&*c.read(*a).expect("read"), &bytes[..]);
        }
    }

    #[test]
    fn refuses_past_its_limit() {
        let mut s = Spill::in_memory();
        s.limit = 10;
        assert!(s.append(b"0123456789").is_ok());
        assert!(s.append(b"x").is_err());
        assert!(s.append(b"").is_ok());
    }
}
