//! permessage-deflate (RFC 7692): raw DEFLATE per message, the sender's trailing
//! `00 00 ff ff` removed; the receiver appends it back before inflating. With context takeover
//! the LZ77 window carries over between messages of one direction, so one inflater lives per
//! direction and is reset after every message only when that direction negotiated
//! `*_no_context_takeover`.

use std::cell::RefCell;

use flate2::{Decompress, FlushDecompress, Status};

const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];
const CHUNK: usize = 32 * 1024;

thread_local! {
    /// Output buffer shared by every inflater of the thread: output only passes through it
    /// (to the sink), so it need not live with each inflater. One per inflater cost 32 KiB for
    /// every direction that ever sent a compressed message.
    static OUT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Why inflation stopped.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InflateError {
    /// The DEFLATE data is corrupt (or was compressed against a window we did not see):
    /// zlib's reason.
    #[error("corrupt DEFLATE data ({0})")]
    Corrupt(String),
    /// The inflater consumed no input and produced no output.
    #[error("the inflater made no progress")]
    Stalled,
}

/// What an inflater is charged to the memory budget: what it keeps resident (zlib-rs allocates
/// its state and a 32 KiB window; `deflate-idle-flood` in scripts/stress.sh measures 40 KiB per
/// connection with an inflater each way).
pub const INFLATER_BYTES: u64 = 20 << 10;

/// Streaming inflater for one direction: the zlib-rs state and its window (about 20 KiB
/// resident; zlib-rs allocates a 32 KiB window whatever the negotiated window bits).
pub struct Inflater {
    inner: Decompress,
    no_context_takeover: bool,
    /// Bytes produced for the current message.
    produced: u64,
}

impl std::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inflater")
            .field("no_context_takeover", &self.no_context_takeover)
            .field("produced", &self.produced)
            .finish()
    }
}

impl Inflater {
    /// A fresh inflater.
    pub fn new(no_context_takeover: bool) -> Self {
        Inflater {
            inner: Decompress::new(false),
            no_context_takeover,
            produced: 0,
        }
    }

    /// Inflates a piece of a compressed message; calls `sink` with output until `limit` bytes
    /// were produced for this message. Past `limit` the output is counted, not shown: with
    /// context takeover inflation goes on into a discard buffer, so that the window stays in
    /// step for the next messages (the CPU this costs is bounded by the wire bytes: deflate
    /// inflates at most 1032 bytes per input byte); without it, inflation stops there.
    pub fn feed<F>(&mut self, input: &[u8], limit: u64, sink: &mut F) -> Result<(), InflateError>
    where
        F: FnMut(&[u8]),
    {
        self.run(input, FlushDecompress::None, limit, sink)
    }

    /// Ends the current message: inflates the implicit tail, resets when required. Returns the
    /// bytes produced for the message (those past `limit` included).
    pub fn finish_message<F>(&mut self, limit: u64, sink: &mut F) -> Result<u64, InflateError>
    where
        F: FnMut(&[u8]),
    {
        let result = self.run(&TAIL, FlushDecompress::Sync, limit, sink);
        let produced = std::mem::take(&mut self.produced);
        if self.no_context_takeover || result.is_err() {
            self.inner.reset(false);
        }
        result.map(|()| produced)
    }

    /// Drops the current message and the window (after a gap or failure).
    pub fn reset(&mut self) {
        self.produced = 0;
        self.inner.reset(false);
    }

    /// Bytes produced for the current message so far.
    pub fn produced(&self) -> u64 {
        self.produced
    }

    /// The window carries over to the next message (context takeover), so output past the
    /// cap is still inflated.
    pub fn keeps_window(&self) -> bool {
        !self.no_context_takeover
    }

    /// Inflates `input` with `flush` into the thread's output buffer, passing output to
    /// `sink` up to `limit` bytes for the message.
    fn run<F>(
        &mut self,
        input: &[u8],
        flush: FlushDecompress,
        limit: u64,
        sink: &mut F,
    ) -> Result<(), InflateError>
    where
        F: FnMut(&[u8]),
    {
        OUT.with(|cell| {
            // Not reached (inflaters do not nest); a private buffer keeps it correct anyway.
            let mut private = Vec::new();
            let mut shared = cell.try_borrow_mut();
            let out: &mut Vec<u8> = match &mut shared {
                Ok(out) => out,
                Err(_) => &mut private,
            };
            if out.len() < CHUNK {
                out.resize(CHUNK, 0);
            }
            let mut input = input;
            loop {
                if self.produced >= limit && self.no_context_takeover {
                    // Over the cap and no window to keep: stop; the caller reports the
                    // message as too large.
                    return Ok(());
                }
                let before_in = self.inner.total_in();
                let before_out = self.inner.total_out();
                let result = self.inner.decompress(input, out, flush);
                // A failing call may still have produced output (everything before the
                // corrupt point): it counts, so that what a corrupt message inflates to does
                // not depend on how its input was cut.
                let consumed = (self.inner.total_in() - before_in) as usize;
                let written = (self.inner.total_out() - before_out) as usize;
                input = &input[consumed..];
                if written > 0 {
                    let room = limit.saturating_sub(self.produced).min(written as u64) as usize;
                    if room > 0 {
                        sink(&out[..room]);
                    }
                    self.produced += written as u64;
                }
                let status = result.map_err(|e| InflateError::Corrupt(e.to_string()))?;
                match status {
                    Status::StreamEnd => {
                        // A final block (BFINAL) ends the stream; the next message starts a
                        // new one.
                        self.inner.reset(false);
                        if input.is_empty() || input == TAIL {
                            return Ok(());
                        }
                    }
                    Status::Ok | Status::BufError => {
                        if input.is_empty() && written < out.len() {
                            return Ok(());
                        }
                        if consumed == 0 && written == 0 {
                            return Err(InflateError::Stalled);
                        }
                    }
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compress, Compression, FlushCompress};

    fn deflate(c: &mut Compress, data: &[u8]) -> Vec<u8> {
        let mut out = vec![0; data.len() + 64];
        let before = c.total_out();
        c.compress(data, &mut out, FlushCompress::Sync)
            .expect("compress");
        out.truncate((c.total_out() - before) as usize);
        assert!(out.ends_with(&TAIL));
        out.truncate(out.len() - 4);
        out
    }

    fn inflate_all(inf: &mut Inflater, pieces: &[&[u8]]) -> Result<Vec<u8>, InflateError> {
        let mut got = Vec::new();
        for p in pieces {
            inf.feed(p, u64::MAX, &mut |b| got.extend_from_slice(b))?;
        }
        inf.finish_message(u64::MAX, &mut |b| got.extend_from_slice(b))?;
        Ok(got)
    }

    #[test]
    fn rfc7692_hello_example() {
        // RFC 7692 7.2.3.1: "Hello" compressed = f2 48 cd c9 c9 07 00
        let mut inf = Inflater::new(false);
        let got =
            inflate_all(&mut inf, &[&[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]]).expect("inflate");
        assert_eq!(got, b"Hello");
        // 7.2.3.2: the second "Hello" with context takeover = f2 00 11 00 00
        let got = inflate_all(&mut inf, &[&[0xf2, 0x00, 0x11, 0x00, 0x00]]).expect("inflate");
        assert_eq!(got, b"Hello");
    }

    #[test]
    fn context_takeover_across_messages_and_split_input() {
        let mut c = Compress::new(Compression::default(), false);
        let mut inf = Inflater::new(false);
        for i in 0..5 {
            let msg = format!("{{\"seq\":{i},\"payload\":\"the same words again and again\"}}");
            let z = deflate(&mut c, msg.as_bytes());
            let (a, b) = z.split_at(z.len() / 2);
            assert_eq!(
                inflate_all(&mut inf, &[a, b]).expect("inflate"),
                msg.as_bytes()
            );
        }
    }

    #[test]
    fn limit_caps_output() {
        let mut c = Compress::new(Compression::best(), false);
        let z = deflate(&mut c, &vec![b'a'; 1 << 20]);
        let mut inf = Inflater::new(true);
        let mut got = 0usize;
        inf.feed(&z, 1000, &mut |b| got += b.len())
            .expect("inflate");
        assert_eq!(got, 1000);
        assert!(inf.produced() >= 1000);
    }

    #[test]
    fn garbage_fails_with_a_reason_for_people() {
        let mut inf = Inflater::new(false);
        let err = inflate_all(&mut inf, &[&[0xff, 0xff, 0xff, 0xff, 0x12]]).unwrap_err();
        assert!(matches!(err, InflateError::Corrupt(_)), "{err:?}");
        let text = err.to_string();
        assert!(text.starts_with("corrupt DEFLATE data ("), "{text}");
        assert!(!text.contains("Corrupt"), "{text}");
    }
}
