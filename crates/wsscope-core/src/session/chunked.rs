//! Chunked bodies.

use super::*;

/// Longest chunk-size line (with extensions) of a chunked body.
pub(super) const MAX_CHUNK_LINE: usize = 1024;

/// Where a chunked body (RFC 9112 7.1) being skipped is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Chunk {
    /// Reading a chunk-size line.
    Size,
    /// This many chunk-data bytes left.
    Data(u64),
    /// The CRLF after chunk data.
    DataEnd,
    /// Trailer lines after the last chunk (bytes read so far).
    Trailer(usize),
}

impl Connection {
    /// Skips as much of the chunked body in `bufs[d]` as is there. `Ok(true)`: the body ended
    /// (or none is being skipped); `Ok(false)`: more bytes needed; `Err`: not chunked coding
    /// (a size line over [`MAX_CHUNK_LINE`] or not hex, trailers over [`MAX_HEAD_BYTES`]).
    /// The buffer is drained once, however many chunks it holds.
    pub(super) fn skip_chunked(&mut self, d: usize) -> Result<bool, ()> {
        let mut pos = 0;
        let result = self.skip_chunks_from(d, &mut pos);
        self.bufs[d].drain(..pos);
        result
    }

    /// [`Self::skip_chunked`] from `pos`, which it advances past what it consumed.
    pub(super) fn skip_chunks_from(&mut self, d: usize, pos: &mut usize) -> Result<bool, ()> {
        while let Some(state) = self.chunked[d] {
            let buf = &self.bufs[d][*pos..];
            let next = match state {
                Chunk::Data(n) => {
                    let take = n.min(buf.len() as u64);
                    *pos += take as usize;
                    if take < n {
                        self.chunked[d] = Some(Chunk::Data(n - take));
                        return Ok(false);
                    }
                    Chunk::DataEnd
                }
                Chunk::DataEnd => match buf {
                    [b'\n', ..] => {
                        *pos += 1;
                        Chunk::Size
                    }
                    [b'\r', b'\n', ..] => {
                        *pos += 2;
                        Chunk::Size
                    }
                    [] | [b'\r'] => return Ok(false),
                    _ => return Err(()),
                },
                Chunk::Size | Chunk::Trailer(_) => {
                    // `scanned` counts from `pos`: a line waiting for its end is re-examined
                    // only from where the last search stopped.
                    let from = self.scanned[d].min(buf.len());
                    let Some(i) = buf[from..].iter().position(|&b| b == b'\n') else {
                        let limit = match state {
                            Chunk::Trailer(seen) => MAX_HEAD_BYTES.saturating_sub(seen),
                            _ => MAX_CHUNK_LINE,
                        };
                        if buf.len() > limit {
                            return Err(());
                        }
                        self.scanned[d] = buf.len();
                        return Ok(false);
                    };
                    let nl = from + i;
                    let line = &buf[..nl];
                    let line = line.strip_suffix(b"\r").unwrap_or(line);
                    let next = match state {
                        Chunk::Size => {
                            let size = line.split(|&b| b == b';').next().unwrap_or_default();
                            let size = std::str::from_utf8(size).map_err(|_| ())?.trim();
                            if size.is_empty() || size.len() > 16 {
                                return Err(());
                            }
                            match u64::from_str_radix(size, 16).map_err(|_| ())? {
                                0 => Chunk::Trailer(0),
                                n => Chunk::Data(n),
                            }
                        }
                        Chunk::Trailer(_) if line.is_empty() => {
                            *pos += nl + 1;
                            self.scanned[d] = 0;
                            self.chunked[d] = None;
                            return Ok(true);
                        }
                        Chunk::Trailer(seen) if seen + nl + 1 > MAX_HEAD_BYTES => return Err(()),
                        Chunk::Trailer(seen) => Chunk::Trailer(seen + nl + 1),
                        _ => return Err(()),
                    };
                    *pos += nl + 1;
                    self.scanned[d] = 0;
                    next
                }
            };
            self.chunked[d] = Some(next);
        }
        Ok(true)
    }
}
