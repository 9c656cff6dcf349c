//! The message index: what the terminal UI keeps in memory per message (a fixed 72-byte
//! [`MsgRow`]; the payload itself is in the [`Spill`](super::spill::Spill) file and read back
//! when a row is drawn, shown or searched), stored in fixed-size chunks so that a session of
//! millions of messages never holds a doubled `Vec` capacity.

use super::spill::Spilled;
use wsscope_core::session::SessionMessage;
use wsscope_core::tcp::Dir;
use wsscope_core::timestamp::Timestamp;
use wsscope_core::ws::message::MessageKind;

/// One message as the UI indexes it. Everything the timeline, the filters and the stats need,
/// without the payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MsgRow {
    /// Timestamp of the packet holding the first frame's header.
    pub ts: Timestamp,
    /// Payload length after inflation.
    pub len: u64,
    /// Payload bytes on the wire.
    pub wire_len: u64,
    /// Capture packet that delivered the first byte (1-based).
    pub first_packet: u64,
    /// Where the kept payload is in the spill file (`len` 0: nothing kept).
    pub payload: Spilled,
    /// Packet of the last byte less packet of the first (negative when reordering delivered
    /// the last byte in an earlier packet).
    pub packet_span: i32,
    /// Frames the message was made of.
    pub frames: u32,
    rtt_nanos: i64,
    /// Close status code (close messages).
    pub close_code: Option<u16>,
    /// Kind.
    pub kind: MessageKind,
    /// Direction.
    pub dir: Dir,
    flags: u8,
}

const COMPRESSED: u8 = 1;
const INCOMPLETE: u8 = 2;
const INFLATE_FAILED: u8 = 4;
const UTF8_INVALID: u8 = 8;
const NOT_KEPT: u8 = 16;
const NO_RTT: i64 = i64::MIN;

impl MsgRow {
    /// The row of an analyzer message whose kept payload was stored at `payload`;
    /// `not_kept` when payload bytes the analyzer kept could not be stored (spill limit or
    /// memory budget).
    pub fn new(m: &SessionMessage, payload: Spilled, not_kept: bool) -> MsgRow {
        let msg = &m.message;
        let mut flags = 0;
        for (on, bit) in [
            (msg.compressed, COMPRESSED),
            (msg.incomplete, INCOMPLETE),
            (msg.inflate_error.is_some(), INFLATE_FAILED),
            (msg.utf8_valid == Some(false), UTF8_INVALID),
            (not_kept, NOT_KEPT),
        ] {
            if on {
                flags |= bit;
            }
        }
        MsgRow {
            ts: msg.ts,
            len: msg.len,
            wire_len: msg.wire_len,
            first_packet: m.first_packet,
            payload,
            packet_span: i32::try_from(m.last_packet as i128 - m.first_packet as i128).unwrap_or(
                if m.last_packet > m.first_packet {
                    i32::MAX
                } else {
                    i32::MIN
                },
            ),
            frames: msg.frames,
            rtt_nanos: m.rtt_nanos.unwrap_or(NO_RTT),
            close_code: msg.close_code,
            kind: msg.kind,
            dir: msg.dir,
            flags,
        }
    }

    /// Capture packet that delivered the last byte.
    pub fn last_packet(&self) -> u64 {
        self.first_packet
            .saturating_add_signed(i64::from(self.packet_span))
    }

    /// For a pong answering a ping: the round-trip time in nanoseconds.
    pub fn rtt_nanos(&self) -> Option<i64> {
        (self.rtt_nanos != NO_RTT).then_some(self.rtt_nanos)
    }

    /// Sent with permessage-deflate.
    pub fn compressed(&self) -> bool {
        self.flags & COMPRESSED != 0
    }

    /// Bytes of the message are missing from the capture.
    pub fn incomplete(&self) -> bool {
        self.flags & INCOMPLETE != 0
    }

    /// The message was compressed and did not inflate (its payload is unknown).
    pub fn inflate_failed(&self) -> bool {
        self.flags & INFLATE_FAILED != 0
    }

    /// A text message whose payload is not valid UTF-8.
    pub fn utf8_invalid(&self) -> bool {
        self.flags & UTF8_INVALID != 0
    }

    /// Payload bytes the analyzer kept could not be stored (spill file limit or memory
    /// budget): the payload shown is shorter than it could have been.
    pub fn not_kept(&self) -> bool {
        self.flags & NOT_KEPT != 0
    }

    /// Ping, pong or close.
    pub fn is_control(&self) -> bool {
        matches!(
            self.kind,
            MessageKind::Ping | MessageKind::Pong | MessageKind::Close
        )
    }
}

/// Rows per chunk: 1024 rows of 72 bytes, 72 KiB.
const CHUNK: usize = 1024;

/// Append-only list of [`MsgRow`]s in chunks of at most [`CHUNK`] rows: a chunk grows by
/// doubling up to [`CHUNK`], so a long session never holds a doubled capacity (only its last
/// chunk can have unused room, given back by [`MsgStore::shrink`] when the session ends).
#[derive(Clone, Debug, Default)]
pub struct MsgStore {
    chunks: Vec<Vec<MsgRow>>,
    len: usize,
}

impl MsgStore {
    /// Empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.len
    }

    /// No rows.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends a row.
    pub fn push(&mut self, row: MsgRow) {
        match self.chunks.last_mut() {
            Some(c) if c.len() < CHUNK => {
                if c.len() == c.capacity() {
                    // Doubling, but never past a chunk.
                    c.reserve_exact(c.len().max(4).min(CHUNK - c.len()));
                }
                c.push(row);
            }
            _ => {
                // A chunk starts small and doubles (most sessions are short, and a session's
                // last chunk is rarely full).
                let mut c = Vec::with_capacity(if self.chunks.is_empty() { 4 } else { 64 });
                c.push(row);
                self.chunks.push(c);
            }
        }
        self.len += 1;
    }

    /// Gives back the unused room of the last chunk (the session ended: no more rows).
    pub fn shrink(&mut self) {
        if let Some(c) = self.chunks.last_mut() {
            c.shrink_to_fit();
        }
    }

    /// Row `i`.
    pub fn get(&self, i: usize) -> Option<&MsgRow> {
        self.chunks.get(i / CHUNK)?.get(i % CHUNK)
    }

    /// Row `i`, to change it (tests).
    #[cfg(test)]
    pub fn get_mut(&mut self, i: usize) -> Option<&mut MsgRow> {
        self.chunks.get_mut(i / CHUNK)?.get_mut(i % CHUNK)
    }

    /// Rows in order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &MsgRow> + '_ {
        self.chunks.iter().flatten()
    }

    /// First row.
    pub fn first(&self) -> Option<&MsgRow> {
        self.get(0)
    }

    /// Last row.
    pub fn last(&self) -> Option<&MsgRow> {
        self.len.checked_sub(1).and_then(|i| self.get(i))
    }

    /// Bytes held (chunk capacity), for measurements.
    pub fn heap_bytes(&self) -> usize {
        self.chunks.iter().map(Vec::capacity).sum::<usize>() * std::mem::size_of::<MsgRow>()
            + self.chunks.capacity() * std::mem::size_of::<Vec<MsgRow>>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_stays_small() {
        assert!(
            std::mem::size_of::<MsgRow>() <= 72,
            "{}",
            std::mem::size_of::<MsgRow>()
        );
    }

    #[test]
    fn store_indexes_across_chunks() {
        let row = |n: u64| MsgRow {
            ts: Timestamp(n as i64),
            len: n,
            wire_len: n,
            first_packet: n,
            payload: Spilled { offset: 0, len: 0 },
            packet_span: 0,
            frames: 1,
            rtt_nanos: NO_RTT,
            close_code: None,
            kind: MessageKind::Text,
            dir: Dir::ClientToServer,
            flags: 0,
        };
        let mut s = MsgStore::new();
        for n in 0..(CHUNK as u64 * 2 + 5) {
            s.push(row(n));
        }
        assert_eq!(s.len(), CHUNK * 2 + 5);
        assert_eq!(s.get(CHUNK).map(|r| r.len), Some(CHUNK as u64));
        assert_eq!(s.last().map(|r| r.len), Some(CHUNK as u64 * 2 + 4));
        assert!(s.get(CHUNK * 2 + 5).is_none());
        assert_eq!(s.iter().count(), s.len());
        assert_eq!(s.chunks.len(), 3, "grows a chunk at a time");
        assert!(s.chunks.iter().all(|c| c.capacity() <= CHUNK));
        let mut short = MsgStore::new();
        for n in 0..5 {
            short.push(row(n));
        }
        assert!(short.heap_bytes() <= 8 * std::mem::size_of::<MsgRow>() + 128);
    }
}
