//! Capture files and pipes as a [`PacketSource`]: a regular file, standard input (`-`), a
//! FIFO or `<(...)`, read sequentially with [`StreamReader`].

use super::{PacketSource, SourceEnd, SourceNotice};
use crate::capture::{
    CaptureError, CaptureNotice, RawPacket, SecretsStats, StreamError, StreamReader,
};
use crate::tls::keylog::KeyStore;
use std::fs::File;
use std::io::{self, Read};

/// A capture file that could not be analysed at all.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// Opening or reading failed.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The error.
        source: io::Error,
    },
    /// A directory was given.
    #[error("{0}: is a directory, not a capture file")]
    Directory(String),
    /// The bytes are not a capture.
    #[error("{path}: {source}")]
    Capture {
        /// The path.
        path: String,
        /// What is wrong.
        source: CaptureError,
    },
}

/// An opened input: a regular file (with its size when opened), or a stream (standard input
/// for `-`, a pipe, `<(...)`, a device) read sequentially.
pub struct Input {
    /// The source.
    pub reader: Box<dyn Read>,
    /// The file, to notice it shrinking while read (regular files only).
    file: Option<File>,
    /// Size when opened (regular files only).
    pub size: Option<u64>,
}

/// Opens a capture for sequential reading: `-` is standard input; directories and empty
/// regular files are errors. Nothing is memory-mapped, so a file truncated while it is read
/// ends the capture early (reported) instead of faulting.
pub fn open_input(path: &str) -> Result<Input, InputError> {
    if path == "-" {
        return Ok(Input {
            reader: Box::new(io::stdin()),
            file: None,
            size: None,
        });
    }
    let io_err = |source| InputError::Io {
        path: path.to_string(),
        source,
    };
    let file = File::open(path).map_err(io_err)?;
    let meta = file.metadata().map_err(io_err)?;
    if meta.is_dir() {
        return Err(InputError::Directory(path.to_string()));
    }
    if !meta.is_file() {
        // A FIFO, `<(...)` (/dev/fd/N) or a device: stream it.
        return Ok(Input {
            reader: Box::new(file),
            file: None,
            size: None,
        });
    }
    if meta.len() == 0 {
        return Err(InputError::Capture {
            path: path.to_string(),
            source: CaptureError::Empty,
        });
    }
    let reader = file.try_clone().map_err(io_err)?;
    Ok(Input {
        reader: Box::new(reader),
        file: Some(file),
        size: Some(meta.len()),
    })
}

/// A capture read from a file or a stream.
pub struct FileSource {
    name: String,
    reader: StreamReader<Box<dyn Read>>,
    /// The file, to notice it shrinking while read (regular files only).
    file: Option<File>,
    size: Option<u64>,
    stopped: bool,
}

impl FileSource {
    /// Opens `path` (see [`open_input`]) and reads its file header.
    pub fn open(path: &str) -> Result<Self, InputError> {
        Self::from_input(path, open_input(path)?)
    }

    /// A capture streamed from any reader (a pipe, a socket, bytes in memory), named `name`.
    pub fn from_reader(name: &str, reader: impl Read + 'static) -> Result<Self, InputError> {
        Self::from_input(
            name,
            Input {
                reader: Box::new(reader),
                file: None,
                size: None,
            },
        )
    }

    /// Reads the file header of an opened input named `path`.
    pub fn from_input(path: &str, input: Input) -> Result<Self, InputError> {
        let reader = StreamReader::new(input.reader).map_err(|e| match e {
            StreamError::Capture(source) => InputError::Capture {
                path: path.to_string(),
                source,
            },
            StreamError::Io(source) => InputError::Io {
                path: path.to_string(),
                source,
            },
        })?;
        Ok(Self {
            name: path.to_string(),
            reader,
            file: input.file,
            size: input.size,
            stopped: false,
        })
    }
}

impl FileSource {
    /// Gives the TLS key logs of the capture's pcapng Decryption Secrets Blocks to `keys`, each
    /// before the packets that follow it (`editcap --inject-secrets tls,...`).
    pub fn with_keys(mut self, keys: KeyStore) -> Self {
        self.reader = self.reader.with_keys(keys);
        self
    }

    /// What the capture's Decryption Secrets Blocks held so far.
    pub fn secrets(&self) -> SecretsStats {
        self.reader.secrets()
    }
}

impl PacketSource for FileSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn next_packet(&mut self) -> Option<RawPacket<'_>> {
        if self.stopped {
            return None;
        }
        self.reader.next_packet()
    }

    fn position(&self) -> u64 {
        self.reader.position()
    }

    fn size(&self) -> Option<u64> {
        self.size
    }

    fn stop(&mut self) {
        self.stopped = true;
    }

    fn end(&mut self) -> SourceEnd {
        if let (Some(file), Some(from)) = (&self.file, self.size) {
            let to = file.metadata().map(|m| m.len()).unwrap_or(from);
            if to < from {
                self.reader.push_notice(CaptureNotice::Shrank { from, to });
            }
        }
        let mut notices: Vec<SourceNotice> = self
            .reader
            .notices()
            .iter()
            .map(|n| SourceNotice::once(n.to_string()))
            .collect();
        let unlisted = self.reader.unknown_interface_unlisted();
        if unlisted > 0 {
            notices.push(SourceNotice {
                text: format!(
                    "and {} more packets naming undescribed interfaces; skipped (only the first {} are listed)",
                    crate::finding::thousands(unlisted),
                    crate::capture::UNKNOWN_INTERFACE_LISTED
                ),
                count: unlisted,
            });
        }
        SourceEnd {
            format: self.reader.format().name(),
            linktypes: self.reader.linktypes().to_vec(),
            notices,
        }
    }
}
