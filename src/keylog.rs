//! TLS key logs for decrypting `wss://`: the files named by `--tls-keylog` and the
//! `SSLKEYLOGFILE` environment variable, read into the analyzer's [`KeyStore`] at the start
//! (`analyze`, `flows`, `tui`) or followed as they grow (`live`, where a browser writes the
//! keys of a connection just after its handshake).

use crate::cli::AnalysisArgs;
use anyhow::bail;
use std::fs::File;
use std::io::Read;
use std::path::PathBuf;
use wsscope_core::escape::for_terminal;
use wsscope_core::tls::keylog::KeyStore;

/// A key log file and where its name came from.
#[derive(Clone, Debug)]
pub struct KeyLogFile {
    /// The path.
    pub path: PathBuf,
    /// Named by `SSLKEYLOGFILE` rather than `--tls-keylog`: a missing file is a warning, not an
    /// error (the variable is often set for every program, and the file made on first use).
    pub from_env: bool,
}

/// The key log files of a run: every `--tls-keylog`, then `SSLKEYLOGFILE` when set and not
/// named already.
pub fn files(analysis: &AnalysisArgs) -> Vec<KeyLogFile> {
    let mut files: Vec<KeyLogFile> = analysis
        .tls_keylog
        .iter()
        .map(|p| KeyLogFile {
            path: p.clone(),
            from_env: false,
        })
        .collect();
    if let Some(env) = std::env::var_os("SSLKEYLOGFILE").filter(|v| !v.is_empty()) {
        let path = PathBuf::from(env);
        if !files.iter().any(|f| f.path == path) {
            files.push(KeyLogFile {
                path,
                from_env: true,
            });
        }
    }
    files
}

/// Largest key log read (a key log line is under 300 bytes: 1 GiB is millions of connections).
const MAX_KEYLOG_BYTES: u64 = 1 << 30;

/// Reads every key log into `store`. A `--tls-keylog` that cannot be read is an error naming
/// the file; an unreadable `SSLKEYLOGFILE`, or a file with no secret in it, is a warning on
/// standard error.
pub fn load(analysis: &AnalysisArgs, store: &KeyStore) -> anyhow::Result<()> {
    for f in files(analysis) {
        let shown = for_terminal(&f.path.display().to_string());
        let text = match read_limited(&f.path) {
            Ok(t) => t,
            Err(e) if f.from_env => {
                eprintln!("wsscope: warning: SSLKEYLOGFILE {shown}: {e}; not used");
                continue;
            }
            Err(e) => bail!("{shown}: {e}"),
        };
        let (_, before, malformed_before) = store.counts();
        store.push_complete(&text);
        let (_, after, malformed_after) = store.counts();
        if after == before {
            let malformed = malformed_after - malformed_before;
            eprintln!(
                "wsscope: warning: {shown}: no TLS secrets found{} (expected NSS key log lines such as `CLIENT_RANDOM <64 hex> <96 hex>`)",
                if malformed > 0 {
                    format!(" ({malformed} malformed lines)")
                } else {
                    String::new()
                }
            );
        }
    }
    Ok(())
}

fn read_limited(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    let file = File::open(path).map_err(describe_io)?;
    let mut text = Vec::new();
    file.take(MAX_KEYLOG_BYTES + 1)
        .read_to_end(&mut text)
        .map_err(describe_io)?;
    if text.len() as u64 > MAX_KEYLOG_BYTES {
        bail!("key log larger than 1 GiB");
    }
    Ok(text)
}

fn describe_io(e: std::io::Error) -> anyhow::Error {
    match e.kind() {
        std::io::ErrorKind::NotFound => anyhow::anyhow!("no such file"),
        std::io::ErrorKind::PermissionDenied => anyhow::anyhow!("permission denied"),
        _ => anyhow::anyhow!("{e}"),
    }
}

#[cfg(feature = "live")]
pub use follow::Follower;

#[cfg(feature = "live")]
mod follow {
    use super::{describe_io, KeyLogFile};
    use anyhow::Context;
    use std::fs::File;
    use std::io::{Read, Seek, SeekFrom};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;
    use wsscope_core::escape::for_terminal;
    use wsscope_core::tls::keylog::KeyStore;

    /// Follows key log files as they grow (`live`): what is there at the start is read at once,
    /// then new lines every 20 ms until `stop`. Files are opened before privileges are dropped
    /// and kept open; a file that shrinks (rewritten) is read again from its start; a file missing
    /// at the start is looked for again at each poll.
    pub struct Follower {
        handle: Option<std::thread::JoinHandle<()>>,
        stop: Arc<AtomicBool>,
    }

    struct Followed {
        file: KeyLogFile,
        open: Option<File>,
        read: u64,
        warned: bool,
        /// The last line read so far without its newline (a writer may be in the middle of
        /// it): kept per file, so that two files' partial lines never mix.
        partial: Vec<u8>,
    }

    impl Follower {
        /// Starts following `files` into `store`. A `--tls-keylog` that exists but cannot be
        /// opened is an error; a missing one is waited for (a browser creates it on first use).
        pub fn start(files: Vec<KeyLogFile>, store: KeyStore) -> anyhow::Result<Option<Follower>> {
            if files.is_empty() {
                return Ok(None);
            }
            let mut followed = Vec::new();
            for file in files {
                let open = match File::open(&file.path) {
                    Ok(f) => Some(f),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                    Err(e) if file.from_env => {
                        eprintln!(
                            "wsscope: warning: SSLKEYLOGFILE {}: {}; not used",
                            for_terminal(&file.path.display().to_string()),
                            describe_io(e)
                        );
                        continue;
                    }
                    Err(e) => {
                        return Err(describe_io(e))
                            .with_context(|| for_terminal(&file.path.display().to_string()))
                    }
                };
                followed.push(Followed {
                    file,
                    open,
                    read: 0,
                    warned: false,
                    partial: Vec::new(),
                });
            }
            for f in &mut followed {
                poll(f, &store);
            }
            let stop = Arc::new(AtomicBool::new(false));
            let thread_stop = Arc::clone(&stop);
            let handle = std::thread::Builder::new()
                .name("keylog".into())
                .spawn(move || {
                    while !thread_stop.load(Ordering::Relaxed) {
                        std::thread::sleep(Duration::from_millis(20));
                        for f in &mut followed {
                            poll(f, &store);
                        }
                    }
                })
                .context("starting the key log follower")?;
            Ok(Some(Follower {
                handle: Some(handle),
                stop,
            }))
        }
    }

    impl Drop for Follower {
        fn drop(&mut self) {
            self.stop.store(true, Ordering::Relaxed);
            if let Some(h) = self.handle.take() {
                let _ = h.join();
            }
        }
    }

    /// Reads what was appended to one followed file since the last poll.
    fn poll(f: &mut Followed, store: &KeyStore) {
        if f.open.is_none() {
            match File::open(&f.file.path) {
                Ok(file) => {
                    f.open = Some(file);
                    f.read = 0;
                }
                Err(e) => {
                    if e.kind() != std::io::ErrorKind::NotFound && !f.warned {
                        f.warned = true;
                        eprintln!(
                            "wsscope: warning: key log {}: {}; not followed",
                            for_terminal(&f.file.path.display().to_string()),
                            describe_io(e)
                        );
                    }
                    return;
                }
            }
        }
        let Some(file) = f.open.as_mut() else { return };
        let Ok(len) = file.metadata().map(|m| m.len()) else {
            return;
        };
        if len < f.read {
            // Rewritten from scratch: read it again (secrets already known stay known).
            f.read = 0;
            f.partial.clear();
        }
        if len == f.read || file.seek(SeekFrom::Start(f.read)).is_err() {
            return;
        }
        let mut buf = std::mem::take(&mut f.partial);
        let before = buf.len();
        // At most 16 MiB a poll (a huge file is read over several polls, memory stays bounded).
        let chunk = (len - f.read).min(16 << 20);
        if let Ok(n) = file.take(chunk).read_to_end(&mut buf) {
            f.read += n as u64;
            // Only whole lines go to the store; the rest waits for its newline (a line
            // longer than a key log line can be is dropped, as the store would).
            match buf[before..].iter().rposition(|&b| b == b'\n') {
                Some(nl) => {
                    let end = before + nl + 1;
                    store.push(&buf[..end]);
                    f.partial = buf[end..].to_vec();
                }
                None => f.partial = buf,
            }
            if f.partial.len() > wsscope_core::tls::keylog::MAX_LINE {
                f.partial.clear();
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use std::io::Write;

        fn line(random: u8) -> String {
            format!(
                "CLIENT_RANDOM {} {}\n",
                format!("{random:02x}").repeat(32),
                "ab".repeat(48)
            )
        }

        fn followed(path: &std::path::Path) -> Followed {
            Followed {
                file: KeyLogFile {
                    path: path.to_path_buf(),
                    from_env: false,
                },
                open: None,
                read: 0,
                warned: false,
                partial: Vec::new(),
            }
        }

        /// Two files written a piece at a time, polled in between: their half-written lines
        /// never mix, and a file that appears late is picked up.
        #[test]
        fn lines_written_in_pieces_in_two_files_are_all_read() {
            let dir = tempfile::tempdir().expect("tempdir");
            let (a, b) = (dir.path().join("a.log"), dir.path().join("b.log"));
            let store = KeyStore::new();
            let mut fa = followed(&a);
            let mut fb = followed(&b);
            poll(&mut fa, &store); // neither exists yet
            poll(&mut fb, &store);
            let (la, lb) = (line(1), line(2));
            let mut wa = File::create(&a).expect("a");
            let mut wb = File::create(&b).expect("b");
            wa.write_all(&la.as_bytes()[..40]).expect("write");
            wb.write_all(&lb.as_bytes()[..70]).expect("write");
            poll(&mut fa, &store);
            poll(&mut fb, &store);
            wa.write_all(&la.as_bytes()[40..]).expect("write");
            wb.write_all(&lb.as_bytes()[70..]).expect("write");
            poll(&mut fb, &store);
            poll(&mut fa, &store);
            assert_eq!(store.counts(), (2, 2, 0));
            assert!(store.get(&[1; 32]).is_some() && store.get(&[2; 32]).is_some());
        }
    }
}
