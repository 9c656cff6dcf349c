//! Skipping a chunked body (RFC 9112 7.1) during the HTTP phase: chunk-size lines, chunk
//! data, the CRLF after it, trailer lines, in whatever segments they arrive.

use crate::http::MAX_HEAD_BYTES;

/// Longest chunk-size line (with extensions) of a chunked body.
const MAX_CHUNK_LINE: usize = 1024;

/// Where a chunked body being skipped is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Chunk {
    /// Reading a chunk-size line.
    Size,
    /// This many chunk-data bytes left.
    Data(u64),
    /// The CRLF after chunk data.
    DataEnd,
    /// Trailer lines after the last chunk (bytes read so far).
    Trailer(usize),
}

/// The bytes are not chunked coding (a size line over [`MAX_CHUNK_LINE`] or not hex, no
/// CRLF after chunk data, trailers over [`MAX_HEAD_BYTES`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct NotChunked;

/// A chunked body being skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct ChunkedBody {
    state: Chunk,
    /// How far the line being read was searched for its end (the search resumes there).
    scanned: usize,
}

impl ChunkedBody {
    /// A body whose first chunk-size line comes next.
    pub(super) fn new() -> Self {
        ChunkedBody {
            state: Chunk::Size,
            scanned: 0,
        }
    }

    /// `len` bytes went missing: true when they fall inside the chunk data being skipped
    /// (the body goes on after them), false when they cannot be accounted for.
    pub(super) fn absorb_gap(&mut self, len: u64) -> bool {
        match self.state {
            Chunk::Data(n) if n >= len => {
                self.state = Chunk::Data(n - len);
                true
            }
            _ => false,
        }
    }

    /// Skips what `buf` holds of the body. Returns the bytes consumed from the front of `buf`
    /// and `Ok(true)` when the body ended, `Ok(false)` when more bytes are needed. A line
    /// waiting for its end is not consumed (nor searched again on the next call).
    pub(super) fn skip(&mut self, buf: &[u8]) -> (usize, Result<bool, NotChunked>) {
        let mut pos = 0;
        let result = self.skip_from(buf, &mut pos);
        (pos, result)
    }

    fn skip_from(&mut self, all: &[u8], pos: &mut usize) -> Result<bool, NotChunked> {
        loop {
            let buf = &all[*pos..];
            let next = match self.state {
                Chunk::Data(n) => {
                    let take = n.min(buf.len() as u64);
                    *pos += take as usize;
                    if take < n {
                        self.state = Chunk::Data(n - take);
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
                    _ => return Err(NotChunked),
                },
                state @ (Chunk::Size | Chunk::Trailer(_)) => {
                    // `scanned` counts from `pos`: a line waiting for its end is re-examined
                    // only from where the last search stopped.
                    let from = self.scanned.min(buf.len());
                    let Some(i) = buf[from..].iter().position(|&b| b == b'\n') else {
                        let limit = match state {
                            Chunk::Trailer(seen) => MAX_HEAD_BYTES.saturating_sub(seen),
                            _ => MAX_CHUNK_LINE,
                        };
                        if buf.len() > limit {
                            return Err(NotChunked);
                        }
                        self.scanned = buf.len();
                        return Ok(false);
                    };
                    let nl = from + i;
                    let line = &buf[..nl];
                    let line = line.strip_suffix(b"\r").unwrap_or(line);
                    let next = match state {
                        Chunk::Size => {
                            let size = line.split(|&b| b == b';').next().unwrap_or_default();
                            let size = std::str::from_utf8(size).map_err(|_| NotChunked)?.trim();
                            if size.is_empty() || size.len() > 16 {
                                return Err(NotChunked);
                            }
                            match u64::from_str_radix(size, 16).map_err(|_| NotChunked)? {
                                0 => Chunk::Trailer(0),
                                n => Chunk::Data(n),
                            }
                        }
                        Chunk::Trailer(_) if line.is_empty() => {
                            *pos += nl + 1;
                            self.scanned = 0;
                            return Ok(true);
                        }
                        Chunk::Trailer(seen) if seen + nl + 1 > MAX_HEAD_BYTES => {
                            return Err(NotChunked)
                        }
                        Chunk::Trailer(seen) => Chunk::Trailer(seen + nl + 1),
                        _ => return Err(NotChunked),
                    };
                    *pos += nl + 1;
                    self.scanned = 0;
                    next
                }
            };
            self.state = next;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `body` in segments of `seg` bytes the way the HTTP phase does (the unconsumed
    /// rest stays in front of the next segment); returns where the body ended in `body`.
    fn skip_in_segments(body: &[u8], seg: usize) -> Result<Option<usize>, NotChunked> {
        let mut c = ChunkedBody::new();
        let mut held = Vec::new();
        let mut consumed = 0;
        for piece in body.chunks(seg) {
            held.extend_from_slice(piece);
            let (used, result) = c.skip(&held);
            held.drain(..used);
            consumed += used;
            if result? {
                return Ok(Some(consumed));
            }
        }
        Ok(None)
    }

    const BODY: &[u8] = b"5\r\nhello\r\n1;ext=v\r\nx\r\n0\r\nTrailer: 1\r\n\r\n";

    #[test]
    fn a_chunked_body_ends_at_its_last_empty_line_however_it_is_cut() {
        let rest = b"GET / HTTP/1.1\r\n\r\n";
        let mut all = BODY.to_vec();
        all.extend_from_slice(rest);
        for seg in 1..=all.len() {
            assert_eq!(
                skip_in_segments(&all, seg),
                Ok(Some(BODY.len())),
                "segments of {seg}"
            );
        }
    }

    #[test]
    fn a_body_cut_short_waits_for_more() {
        for cut in 0..BODY.len() {
            assert_eq!(skip_in_segments(&BODY[..cut], 3), Ok(None), "cut at {cut}");
        }
    }

    #[test]
    fn bytes_that_are_not_chunked_coding_are_refused() {
        for bad in [
            &b"zz\r\n"[..],
            &[b'1'; 2000][..],
            b"5\r\nhelloXY",
            b"\r\n",
            b"11111111111111111\r\n",
        ] {
            assert_eq!(
                skip_in_segments(bad, 3),
                Err(NotChunked),
                "{:?}",
                String::from_utf8_lossy(&bad[..bad.len().min(20)])
            );
        }
    }

    #[test]
    fn trailers_are_bounded_like_a_head() {
        let mut body = b"0\r\n".to_vec();
        while body.len() <= MAX_HEAD_BYTES {
            body.extend_from_slice(b"X-Trailer: 0123456789\r\n");
        }
        assert_eq!(skip_in_segments(&body, 4096), Err(NotChunked));
    }

    #[test]
    fn a_gap_inside_chunk_data_is_absorbed_elsewhere_not() {
        let mut c = ChunkedBody::new();
        assert!(!c.absorb_gap(1), "inside a size line");
        let (used, result) = c.skip(b"a\r\n0123");
        assert_eq!((used, result), (7, Ok(false)));
        assert!(c.absorb_gap(6), "6 of the 6 data bytes left");
        assert!(!c.absorb_gap(1), "past the data");
        assert_eq!(c.skip(b"\r\n0\r\n\r\n"), (7, Ok(true)));
    }

    #[test]
    fn a_size_line_waiting_for_its_end_is_searched_once() {
        let mut c = ChunkedBody::new();
        let mut held = b"1;".to_vec();
        for _ in 0..1000 {
            held.push(b'e');
            assert_eq!(c.skip(&held), (0, Ok(false)));
            // The next search resumes where this one stopped.
            assert_eq!(c.scanned, held.len());
        }
        held.extend_from_slice(b"\r\nx\r\n0\r\n\r\n");
        assert_eq!(c.skip(&held), (held.len(), Ok(true)));
    }
}
