//! The bytes of one direction held during the HTTP phase.

/// The bytes of one direction waiting in the HTTP phase. Consuming from the front is O(1)
/// (a start offset; the storage is compacted once the consumed part outweighs the rest), so
/// reading thousands of pipelined heads and bodies out of one buffer stays linear.
#[derive(Default)]
pub(super) struct HttpBuf {
    pub(super) data: Vec<u8>,
    pub(super) start: usize,
    /// Bytes moved by compaction (tests hold it linear).
    #[cfg(test)]
    pub(super) moved: usize,
}

impl HttpBuf {
    /// Drops the first `range.end` bytes.
    pub(super) fn drain(&mut self, range: std::ops::RangeTo<usize>) {
        self.start += range.end.min(self.data.len() - self.start);
        if self.start == self.data.len() {
            self.clear();
        } else if self.start > self.data.len() - self.start {
            #[cfg(test)]
            {
                self.moved += self.data.len() - self.start;
            }
            self.data.drain(..self.start);
            self.start = 0;
        }
    }

    pub(super) fn extend_from_slice(&mut self, bytes: &[u8]) {
        self.data.extend_from_slice(bytes);
    }

    pub(super) fn clear(&mut self) {
        self.data.clear();
        self.start = 0;
    }

    pub(super) fn as_slice(&self) -> &[u8] {
        &self.data[self.start..]
    }
}

impl std::ops::Deref for HttpBuf {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

#[cfg(test)]
mod tests {
    use super::super::http_phase::MAX_HTTP_BUFFER;
    use super::*;

    /// Reading many small heads out of one full HTTP buffer moves each byte a bounded number
    /// of times (a `Vec::drain` per head moved the whole rest every time: quadratic).
    #[test]
    fn consuming_an_http_buffer_head_by_head_is_linear() {
        let mut buf = HttpBuf::default();
        let item = b"GET / HTTP/1.1\r\n\r\n";
        for _ in 0..(MAX_HTTP_BUFFER / item.len()) {
            buf.extend_from_slice(item);
        }
        let total = buf.len();
        let mut seen = 0;
        while !buf.is_empty() {
            assert_eq!(&buf[..item.len()], item);
            buf.drain(..item.len());
            seen += item.len();
        }
        assert_eq!(seen, total);
        assert!(buf.moved <= total, "moved {} bytes for {total}", buf.moved);
    }
}
