//! Message assembly for one direction: frame events in, messages and rule violations out.
//!
//! Applies every framing rule of RFC 6455 section 5 (masking direction, RSV bits, reserved
//! opcodes, control frame size and fragmentation, continuation order, minimal lengths, close
//! payloads, UTF-8 of text) and RFC 7692 (RSV1 on the first frame only; join, then inflate).
//! Payloads stream through: only the first `keep_bytes` of each message are retained.
//!
//! With a memory budget ([`MessageAssembler::with_budget`]), what a message being assembled
//! keeps past its first [`FREE_PAYLOAD_BYTES`] is charged to it (in growing steps, so a big
//! message charges a few times). A refused charge degrades the message: it keeps counting
//! (length, UTF-8, findings) without keeping more payload, reported as
//! `memory-budget-exceeded`. The inflater is charged too ([`INFLATER_BYTES`]) but never
//! refused: without it a direction with context takeover could not be inflated again, and
//! the flow table bounds how many there are.

use super::decoder::DecodeEvent;
use super::deflate::{InflateError, Inflater, INFLATER_BYTES};
use super::frame::{FrameHeader, Opcode};
use super::utf8::Utf8Validator;
use crate::budget::MemoryBudget;
use crate::finding::Code;
use crate::tcp::Dir;
use crate::timestamp::Timestamp;

/// What kind of message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// Text (opcode 1).
    Text,
    /// Binary (opcode 2).
    Binary,
    /// Ping (9).
    Ping,
    /// Pong (10).
    Pong,
    /// Close (8).
    Close,
}

impl MessageKind {
    /// `text`, `binary`, `ping`, `pong` or `close`.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Text => "text",
            MessageKind::Binary => "binary",
            MessageKind::Ping => "ping",
            MessageKind::Pong => "pong",
            MessageKind::Close => "close",
        }
    }

    /// Parses the names produced by [`Self::as_str`].
    pub fn parse(s: &str) -> Option<MessageKind> {
        Some(match s {
            "text" => MessageKind::Text,
            "binary" => MessageKind::Binary,
            "ping" => MessageKind::Ping,
            "pong" => MessageKind::Pong,
            "close" => MessageKind::Close,
            _ => return None,
        })
    }
}

/// One decoded message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Direction.
    pub dir: Dir,
    /// Timestamp of the packet holding the first frame's header.
    pub ts: Timestamp,
    /// Timestamp of the packet that completed the message.
    pub end_ts: Timestamp,
    /// Kind.
    pub kind: MessageKind,
    /// Frames it was made of.
    pub frames: u32,
    /// Payload length after inflation (bytes missing from the capture included; bytes a frame
    /// header declared but that never crossed the wire because the stream ended are not).
    pub len: u64,
    /// Payload bytes on the wire (sum of frame payload lengths, less what never crossed it).
    pub wire_len: u64,
    /// Sent with permessage-deflate.
    pub compressed: bool,
    /// The first bytes of the payload (up to the retention limit).
    pub payload: Vec<u8>,
    /// Bytes of the payload are missing (capture gap, or the stream ended inside it).
    pub incomplete: bool,
    /// For text: whether the payload is valid UTF-8 (`None` when it could not be checked).
    pub utf8_valid: Option<bool>,
    /// Close status code, if a close frame carried one.
    pub close_code: Option<u16>,
    /// Close reason (lossy UTF-8).
    pub close_reason: Option<String>,
    /// Why a compressed message did not inflate (`None` when it did, or was not compressed).
    /// Such a message keeps no payload: its empty `payload` does not mean an empty message.
    pub inflate_error: Option<DecompressionError>,
}

impl Message {
    /// True when `payload` holds the whole message.
    pub fn payload_complete(&self) -> bool {
        !self.incomplete && self.payload.len() as u64 == self.len
    }
}

/// Why a compressed message does not inflate.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecompressionError {
    /// An earlier message of the direction was lost or did not inflate, and the direction
    /// keeps its compression context: no later message can be inflated.
    #[error(
        "the compression context was lost earlier (gap or failure); later messages cannot be inflated"
    )]
    ContextLost,
    /// The inflater failed on this message's data.
    #[error("the inflater failed: {0}")]
    Inflate(#[from] InflateError),
}

/// The capture packets a message's bytes came in, numbered 1-based as Wireshark numbers
/// frames ([`crate::packet::Segment::packet`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PacketSpan {
    /// The packet that delivered the message's first byte: the first byte of its first
    /// frame's header.
    pub first: u64,
    /// The packet that delivered its last byte: the last byte of its last frame (for a message
    /// cut short by a gap or the end of the stream, the last of its bytes captured).
    pub last: u64,
}

/// What the assembler reports.
#[derive(Debug)]
pub enum Assembled {
    /// A finished message and the packets it came in.
    Message(Message, PacketSpan),
    /// A rule violation.
    Violation {
        /// Finding code.
        code: Code,
        /// Timestamp.
        ts: Timestamp,
        /// The packet that carried the offending bytes (`None` when no packet did: the stream
        /// ended, or sync was lost in a gap).
        packet: Option<u64>,
        /// Detail.
        detail: String,
    },
}

/// Settings for one direction.
#[derive(Clone, Copy, Debug)]
pub struct AssemblerConfig {
    /// The direction assembled.
    pub dir: Dir,
    /// permessage-deflate negotiated; `Some(no_context_takeover)` for this direction.
    pub deflate: Option<bool>,
    /// Largest message (after inflation) decoded in full; beyond it the message is counted only.
    pub max_message_size: u64,
    /// Payload bytes retained per message.
    pub keep_bytes: usize,
    /// The handshake was not seen: masking expectations still apply, extensions are unknown.
    pub handshake_seen: bool,
}

/// Payload bytes a message keeps before what it keeps is charged to the memory budget (the
/// default retention of 1 KiB stays within it, so ordinary runs never touch the budget here).
pub const FREE_PAYLOAD_BYTES: usize = 4 << 10;

#[derive(Debug)]
struct Building {
    kind: MessageKind,
    ts: Timestamp,
    packets: PacketSpan,
    frames: u32,
    len: u64,
    wire_len: u64,
    compressed: bool,
    payload: Vec<u8>,
    utf8: Option<Utf8Validator>,
    incomplete: bool,
    too_large: bool,
    inflate_error: Option<DecompressionError>,
    /// The stream ended inside this message's last frame: (bytes that never arrived, the
    /// frame's declared payload length).
    cut: Option<(u64, u64)>,
    /// Bytes charged to the memory budget for `payload` (beyond [`FREE_PAYLOAD_BYTES`]).
    charged: usize,
    /// Payload bytes not kept because the budget refused (they would have been kept).
    budget_dropped: u64,
}

impl Building {
    /// A message begun by a frame of `wire_len` payload bytes at `ts` in capture packet
    /// `packet`: uncompressed, nothing read yet, not UTF-8 checked.
    fn first_frame(kind: MessageKind, ts: Timestamp, packet: u64, wire_len: u64) -> Self {
        Building {
            kind,
            ts,
            packets: PacketSpan {
                first: packet,
                last: packet,
            },
            frames: 1,
            len: 0,
            wire_len,
            compressed: false,
            payload: Vec::new(),
            utf8: None,
            incomplete: false,
            too_large: false,
            inflate_error: None,
            cut: None,
            charged: 0,
            budget_dropped: 0,
        }
    }

    /// How many of `n` more payload bytes (to be kept, at most `cap` in all) fit within the
    /// memory budget; charges them (at least 64 KiB, half of what is charged so far, so the
    /// charge grows geometrically). What does not fit is counted as dropped.
    fn admit(&mut self, n: usize, cap: usize, budget: Option<&MemoryBudget>) -> usize {
        let have = FREE_PAYLOAD_BYTES + self.charged;
        let need = self.payload.len() + n;
        if need <= have {
            return n;
        }
        let Some(budget) = budget else {
            return n;
        };
        if self.budget_dropped == 0 {
            let short = need - have;
            let step = short
                .max(self.charged / 2)
                .max(64 << 10)
                .min(cap.saturating_sub(have))
                .max(short);
            // Then whatever is left of the budget (whole pages), so a big piece keeps what fits.
            let left = (budget.limit().saturating_sub(budget.used()) as usize) & !4095;
            for amount in [step, short, left.min(short)] {
                if amount > 0 && budget.try_charge_analysis(amount as u64) {
                    self.charged += amount;
                    self.payload
                        .reserve_exact((have + amount).saturating_sub(self.payload.len()));
                    break;
                }
            }
        }
        let have = FREE_PAYLOAD_BYTES + self.charged;
        let room = have.saturating_sub(self.payload.len()).min(n);
        self.budget_dropped += (n - room) as u64;
        room
    }
}

/// Where the current frame's payload goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    None,
    Data,
    Control,
    Discard,
}

/// Assembles messages for one direction.
#[derive(Debug)]
pub struct MessageAssembler {
    cfg: AssemblerConfig,
    data: Option<Building>,
    control: Option<Building>,
    route: Route,
    frame_fin: bool,
    /// Created on the first compressed frame, not at the upgrade: an inflater costs about
    /// 20 KiB resident (state and window), and most negotiated sessions of a flood never use
    /// it. Dropped once this side sent its close frame.
    inflater: Option<Inflater>,
    /// The inflater's window is unusable (a gap or failure broke it).
    context_lost: bool,
    close_sent: bool,
    reported_after_close: bool,
    /// Declared payload length of the current frame.
    frame_len: u64,
    /// The stream ended inside a frame header.
    header_cut: bool,
    /// The memory budget kept payload and the inflater are charged to.
    budget: Option<MemoryBudget>,
    /// The inflater is charged ([`INFLATER_BYTES`]).
    inflater_charged: bool,
    /// Number of the packet of the frame header or payload bytes being handled.
    packet: u64,
}

impl Drop for MessageAssembler {
    fn drop(&mut self) {
        if let Some(budget) = &self.budget {
            let held = [self.data.as_ref(), self.control.as_ref()]
                .into_iter()
                .flatten()
                .map(|b| b.charged as u64)
                .sum::<u64>();
            let inflater = if self.inflater_charged {
                INFLATER_BYTES
            } else {
                0
            };
            budget.release(held + inflater);
        }
    }
}

fn violation(code: Code, ts: Timestamp, detail: impl Into<String>) -> Assembled {
    Assembled::Violation {
        code,
        ts,
        packet: None,
        detail: detail.into(),
    }
}

/// `out`, with violations that name no packet pointed at `packet`.
fn stamp<F: FnMut(Assembled)>(packet: u64, out: &mut F) -> impl FnMut(Assembled) + '_ {
    move |mut a| {
        if let Assembled::Violation { packet: p, .. } = &mut a {
            p.get_or_insert(packet);
        }
        out(a)
    }
}

/// Whether a close code may appear on the wire (RFC 6455 7.4).
pub fn close_code_valid(code: u16) -> bool {
    super::close_code::CloseCode(code).is_valid()
}

impl MessageAssembler {
    /// A fresh assembler.
    pub fn new(cfg: AssemblerConfig) -> Self {
        MessageAssembler {
            cfg,
            data: None,
            control: None,
            route: Route::None,
            frame_fin: false,
            inflater: None,
            context_lost: false,
            close_sent: false,
            reported_after_close: false,
            frame_len: 0,
            header_cut: false,
            budget: None,
            inflater_charged: false,
            packet: 0,
        }
    }

    /// Charges kept payload and the inflater to `budget` (see the module doc).
    pub fn with_budget(mut self, budget: Option<MemoryBudget>) -> Self {
        self.budget = budget;
        self
    }

    /// Drops the inflater, giving its charge back.
    fn drop_inflater(&mut self) {
        self.inflater = None;
        if std::mem::take(&mut self.inflater_charged) {
            if let Some(b) = &self.budget {
                b.release(INFLATER_BYTES);
            }
        }
    }

    /// Creates the inflater, charged to the budget (never refused).
    fn make_inflater(&mut self) {
        if let Some(b) = &self.budget {
            b.charge(INFLATER_BYTES);
            self.inflater_charged = true;
        }
        self.inflater = Some(Inflater::new(self.cfg.deflate.unwrap_or(false)));
    }

    /// True once this side sent a close frame.
    pub fn close_sent(&self) -> bool {
        self.close_sent
    }

    /// Handles one decoder event.
    pub fn handle<F>(&mut self, ev: DecodeEvent<'_>, out: &mut F)
    where
        F: FnMut(Assembled),
    {
        // Violations about a frame's bytes point at the packet that carried them: the header's,
        // the payload's, or for the frame's end the packet of its last byte.
        match ev {
            DecodeEvent::Header { header, ts, packet } => {
                self.packet = packet;
                self.on_header(header, ts, &mut stamp(packet, out));
                self.touch();
            }
            DecodeEvent::Payload { data, ts, packet } => {
                self.packet = packet;
                self.touch();
                self.on_payload(data, ts, &mut stamp(packet, out));
            }
            DecodeEvent::PayloadGap { len } => self.on_gap(len),
            DecodeEvent::FrameEnd { ts } => self.on_frame_end(ts, &mut stamp(self.packet, out)),
            DecodeEvent::Resynced { skipped, ts } => {
                // Whatever message was in progress lost its tail with the frame boundary.
                if let Some(b) = self.data.as_mut() {
                    b.incomplete = true;
                }
                self.lose_context();
                out(violation(
                    Code::ResyncSkippedBytes,
                    ts,
                    format!(
                        "{skipped} bytes skipped to find the next frame header after lost sync"
                    ),
                ));
            }
            DecodeEvent::Truncated { missing } => {
                // The bytes after the cut never crossed the wire: they are not counted.
                let cut = match self.route {
                    Route::Data => self.data.as_mut(),
                    Route::Control => self.control.as_mut(),
                    Route::Discard | Route::None => None,
                };
                match cut {
                    Some(b) if missing > 0 => {
                        b.wire_len = b.wire_len.saturating_sub(missing);
                        b.cut = Some((missing, self.frame_len));
                    }
                    Some(_) => {}
                    None => self.header_cut |= missing == 0,
                }
                if let Some(b) = self.data.as_mut() {
                    b.incomplete = true;
                }
                if let Some(b) = self.control.as_mut() {
                    b.incomplete = true;
                }
            }
        }
    }

    /// Records that the current frame's message got bytes from the current packet.
    fn touch(&mut self) {
        let building = match self.route {
            Route::Data => self.data.as_mut(),
            Route::Control => self.control.as_mut(),
            Route::Discard | Route::None => None,
        };
        if let Some(b) = building {
            b.packets.last = self.packet;
        }
    }

    /// Emits what is still being assembled (end of stream).
    pub fn finish<F>(&mut self, ts: Timestamp, out: &mut F)
    where
        F: FnMut(Assembled),
    {
        if let Some(mut c) = self.control.take() {
            c.incomplete = true;
            out(Self::cut_violation(&c, ts));
            self.emit(c, ts, out);
        }
        if let Some(mut b) = self.data.take() {
            b.incomplete = true;
            out(Self::cut_violation(&b, ts));
            self.emit(b, ts, out);
        }
        if std::mem::take(&mut self.header_cut) {
            out(violation(
                Code::MessageIncomplete,
                ts,
                "the stream ended inside a frame header: the frame is lost",
            ));
        }
        self.route = Route::None;
    }

    /// The finding for a message the end of the stream cut.
    fn cut_violation(b: &Building, ts: Timestamp) -> Assembled {
        let what = match b.cut {
            Some((missing, declared)) => format!(
                "{missing} of its {declared} declared payload bytes never arrived (not counted in its size)"
            ),
            None => format!(
                "its final fragment never arrived ({} frames seen)",
                b.frames
            ),
        };
        violation(
            Code::MessageIncomplete,
            ts,
            format!(
                "{} message cut by the end of the stream: {what}",
                b.kind.as_str()
            ),
        )
    }

    fn lose_context(&mut self) {
        if let Some(inf) = self.inflater.as_mut() {
            inf.reset();
        }
        if self.cfg.deflate == Some(false) {
            self.context_lost = true;
        }
    }

    fn on_header<F>(&mut self, h: FrameHeader, ts: Timestamp, out: &mut F)
    where
        F: FnMut(Assembled),
    {
        let op = h.opcode.as_u4();
        let dir = self.cfg.dir;
        match (dir, h.mask.is_some()) {
            (Dir::ClientToServer, false) => out(violation(
                Code::UnmaskedClientFrame,
                ts,
                format!(
                    "client frame (opcode {op}, {} bytes) is not masked",
                    h.payload_len
                ),
            )),
            (Dir::ServerToClient, true) => out(violation(
                Code::MaskedServerFrame,
                ts,
                format!(
                    "server frame (opcode {op}, {} bytes) is masked",
                    h.payload_len
                ),
            )),
            _ => {}
        }
        if h.non_minimal_length {
            out(violation(
                Code::NonMinimalLength,
                ts,
                format!(
                    "length {} encoded in {} bytes",
                    h.payload_len,
                    h.header_len - 2 - if h.mask.is_some() { 4 } else { 0 }
                ),
            ));
        }
        if h.length_msb_set {
            out(violation(
                Code::LengthMsbSet,
                ts,
                format!(
                    "64-bit length 0x{:016x} has its most significant bit set",
                    h.payload_len
                ),
            ));
            self.route = Route::Discard;
            return;
        }
        if self.close_sent && !self.reported_after_close {
            self.reported_after_close = true;
            out(violation(
                Code::DataAfterClose,
                ts,
                format!(
                    "{} sent a frame (opcode {op}) after its close frame",
                    dir.as_str()
                ),
            ));
        }
        if h.rsv2 || h.rsv3 {
            out(violation(
                Code::RsvBitsWithoutExtension,
                ts,
                format!("RSV2/RSV3 set on opcode {op}; no negotiated extension defines them"),
            ));
        }
        let deflate = self.cfg.deflate.is_some();
        if h.rsv1 {
            let first_data = matches!(h.opcode, Opcode::Text | Opcode::Binary);
            if !deflate && self.cfg.handshake_seen {
                out(violation(
                    Code::RsvBitsWithoutExtension,
                    ts,
                    format!("RSV1 set on opcode {op} but permessage-deflate was not negotiated"),
                ));
            } else if !first_data {
                out(violation(
                    Code::RsvBitsWithoutExtension,
                    ts,
                    format!("RSV1 set on opcode {op}; permessage-deflate allows it only on the first frame of a data message"),
                ));
            }
        }
        if let Opcode::Reserved(v) = h.opcode {
            out(violation(
                Code::ReservedOpcode,
                ts,
                format!(
                    "reserved opcode {v} ({} byte payload skipped)",
                    h.payload_len
                ),
            ));
            self.route = Route::Discard;
            self.frame_fin = h.fin;
            return;
        }
        self.frame_fin = h.fin;
        self.frame_len = h.payload_len;
        if h.opcode.is_control() {
            if !h.fin {
                out(violation(
                    Code::FragmentedControlFrame,
                    ts,
                    format!("control frame opcode {op} has FIN=0"),
                ));
            }
            if h.payload_len > 125 {
                out(violation(
                    Code::ControlFrameTooLong,
                    ts,
                    format!(
                        "control frame opcode {op} carries {} bytes (max 125)",
                        h.payload_len
                    ),
                ));
            }
            let kind = match h.opcode {
                Opcode::Close => MessageKind::Close,
                Opcode::Ping => MessageKind::Ping,
                _ => MessageKind::Pong,
            };
            if kind == MessageKind::Close {
                self.close_sent = true;
            }
            self.control = Some(Building::first_frame(kind, ts, self.packet, h.payload_len));
            self.route = Route::Control;
            return;
        }
        match h.opcode {
            Opcode::Continuation => {
                let Some(b) = self.data.as_mut() else {
                    out(violation(
                        Code::UnexpectedContinuation,
                        ts,
                        format!(
                            "continuation frame ({} bytes) with no fragmented message in progress",
                            h.payload_len
                        ),
                    ));
                    self.route = Route::Discard;
                    return;
                };
                b.frames += 1;
                b.wire_len += h.payload_len;
                self.route = Route::Data;
            }
            _ => {
                if let Some(mut prev) = self.data.take() {
                    out(violation(
                        Code::InterleavedDataFrame,
                        ts,
                        format!("new opcode {op} frame while a fragmented {} message ({} frames) was in progress", prev.kind.as_str(), prev.frames),
                    ));
                    prev.incomplete = true;
                    self.emit(prev, ts, out);
                }
                let kind = if h.opcode == Opcode::Text {
                    MessageKind::Text
                } else {
                    MessageKind::Binary
                };
                let compressed = h.rsv1 && (deflate || !self.cfg.handshake_seen);
                // Negotiated: that direction's takeover mode. Handshake not seen: assume
                // permessage-deflate with context takeover.
                if compressed && self.inflater.is_none() {
                    self.make_inflater();
                }
                self.data = Some(Building {
                    compressed,
                    utf8: (kind == MessageKind::Text).then(Utf8Validator::new),
                    inflate_error: (compressed && self.context_lost)
                        .then_some(DecompressionError::ContextLost),
                    ..Building::first_frame(kind, ts, self.packet, h.payload_len)
                });
                self.route = Route::Data;
            }
        }
    }

    fn on_payload<F>(&mut self, data: &[u8], ts: Timestamp, out: &mut F)
    where
        F: FnMut(Assembled),
    {
        match self.route {
            Route::Data => {
                let max = self.cfg.max_message_size;
                let keep = self.cfg.keep_bytes;
                let budget = self.budget.as_ref();
                let Some(b) = self.data.as_mut() else { return };
                if b.compressed {
                    if b.inflate_error.is_some() || b.incomplete {
                        return;
                    }
                    let Some(inf) = self.inflater.as_mut() else {
                        return;
                    };
                    let result =
                        inf.feed(data, max, &mut |chunk| accept_bytes(b, chunk, keep, budget));
                    if let Err(e) = result {
                        b.inflate_error = Some(e.into());
                    }
                    if inf.produced() >= max && !b.too_large {
                        b.too_large = true;
                        let what = if inf.keeps_window() {
                            "the rest is inflated (to keep the compression context) and counted, not kept"
                        } else {
                            "inflation stopped"
                        };
                        out(violation(
                            Code::MessageTooLarge,
                            ts,
                            format!("inflated {} message passed --max-message-size ({max} bytes); {what}", b.kind.as_str()),
                        ));
                    }
                    if b.too_large {
                        b.len = inf.produced();
                    }
                } else {
                    let room = max.saturating_sub(b.len).min(data.len() as u64) as usize;
                    if room > 0 {
                        accept_bytes(b, &data[..room], keep, budget);
                    }
                    b.len += (data.len() - room) as u64;
                    // Also when the message reached the cap exactly at the end of an earlier
                    // piece: what follows is past it.
                    if data.len() > room && !b.too_large {
                        b.too_large = true;
                        out(violation(
                            Code::MessageTooLarge,
                            ts,
                            format!("{} message passed --max-message-size ({max} bytes); the rest is counted, not decoded", b.kind.as_str()),
                        ));
                    }
                }
            }
            Route::Control => {
                if let Some(c) = self.control.as_mut() {
                    c.len += data.len() as u64;
                    // Kept whole (pong matching, close parsing need it) up to the retention
                    // limit; an oversized control frame is shown as sent, up to the size cap.
                    let cap = (self.cfg.keep_bytes as u64)
                        .min(self.cfg.max_message_size)
                        .max(125) as usize;
                    let room = cap.saturating_sub(c.payload.len()).min(data.len());
                    let room = c.admit(room, cap, self.budget.as_ref());
                    c.payload.extend_from_slice(&data[..room]);
                }
            }
            Route::Discard | Route::None => {}
        }
    }

    fn on_gap(&mut self, len: u64) {
        match self.route {
            Route::Data => {
                if let Some(b) = self.data.as_mut() {
                    b.incomplete = true;
                    b.utf8 = None;
                    if !b.compressed {
                        b.len += len;
                    }
                }
                let compressed = self.data.as_ref().is_some_and(|b| b.compressed);
                if compressed {
                    self.lose_context();
                }
            }
            Route::Control => {
                if let Some(c) = self.control.as_mut() {
                    c.incomplete = true;
                    c.len += len;
                }
            }
            Route::Discard | Route::None => {}
        }
    }

    fn on_frame_end<F>(&mut self, ts: Timestamp, out: &mut F)
    where
        F: FnMut(Assembled),
    {
        let route = std::mem::replace(&mut self.route, Route::None);
        match route {
            Route::Control => {
                if let Some(c) = self.control.take() {
                    self.emit(c, ts, out);
                }
            }
            Route::Data if self.frame_fin => {
                if let Some(b) = self.data.take() {
                    self.emit(b, ts, out);
                }
            }
            _ => {}
        }
    }

    fn emit<F>(&mut self, mut b: Building, ts: Timestamp, out: &mut F)
    where
        F: FnMut(Assembled),
    {
        // Findings about the whole message carry its first timestamp, and its first packet.
        let out = &mut stamp(b.packets.first, out);
        let max = self.cfg.max_message_size;
        let keep = self.cfg.keep_bytes;
        let budget = self.budget.as_ref();
        if b.compressed && b.inflate_error.is_none() && !b.incomplete {
            if let Some(inf) = self.inflater.as_mut() {
                // Also past the cap: the tail completes the window (or resets it).
                match inf
                    .finish_message(max, &mut |chunk| accept_bytes(&mut b, chunk, keep, budget))
                {
                    Ok(produced) if b.too_large => b.len = produced,
                    Ok(_) => {}
                    Err(e) => b.inflate_error = Some(e.into()),
                }
            }
        }
        if let Some(budget) = &self.budget {
            budget.release(std::mem::take(&mut b.charged) as u64);
            if b.budget_dropped > 0 {
                out(violation(
                    Code::MemoryBudgetExceeded,
                    b.ts,
                    format!(
                        "memory budget reached (--max-memory {}): {} message kept {} of its payload, {} more not kept (size, UTF-8 check and findings are complete)",
                        crate::budget::human(budget.limit()),
                        b.kind.as_str(),
                        crate::budget::human(b.payload.len() as u64),
                        crate::budget::human(b.budget_dropped)
                    ),
                ));
            }
        }
        if b.compressed && b.incomplete {
            self.lose_context();
        }
        if let Some(err) = &b.inflate_error {
            if !self.context_lost || *err != DecompressionError::ContextLost {
                self.lose_context();
            }
            out(violation(
                Code::DecompressionFailed,
                b.ts,
                format!(
                    "{} message ({} bytes compressed) does not inflate: {err}",
                    b.kind.as_str(),
                    b.wire_len
                ),
            ));
        }
        let mut utf8_valid = None;
        if let Some(v) = &b.utf8 {
            if !b.incomplete && b.inflate_error.is_none() && !b.too_large {
                let ok = v.finish();
                utf8_valid = Some(ok);
                if !ok {
                    out(violation(
                        Code::InvalidUtf8,
                        b.ts,
                        format!("text message of {} bytes is not valid UTF-8", b.len),
                    ));
                }
            }
        }
        let (mut close_code, mut close_reason) = (None, None);
        if b.kind == MessageKind::Close && !b.incomplete {
            match b.payload.len() {
                0 => {}
                1 => out(violation(
                    Code::InvalidClosePayload,
                    b.ts,
                    "close payload is 1 byte; it must be empty or start with a 2-byte code",
                )),
                _ => {
                    let code = u16::from_be_bytes([b.payload[0], b.payload[1]]);
                    close_code = Some(code);
                    if !close_code_valid(code) {
                        out(violation(
                            Code::InvalidCloseCode,
                            b.ts,
                            format!("close code {code} must not be sent on the wire"),
                        ));
                    }
                    let reason = &b.payload[2..];
                    if std::str::from_utf8(reason).is_err() {
                        out(violation(
                            Code::InvalidClosePayload,
                            b.ts,
                            "close reason is not valid UTF-8",
                        ));
                    }
                    close_reason = Some(String::from_utf8_lossy(reason).into_owned());
                }
            }
        }
        if b.kind.is_control_kind() {
            b.len = b.len.max(b.payload.len() as u64);
        }
        if b.kind == MessageKind::Close && self.data.is_none() {
            // This side sends no more messages: its inflater (about 20 KiB) goes now rather
            // than when the connection ends.
            self.drop_inflater();
        }
        let packets = b.packets;
        out(Assembled::Message(
            Message {
                dir: self.cfg.dir,
                ts: b.ts,
                end_ts: ts,
                kind: b.kind,
                frames: b.frames,
                len: b.len,
                wire_len: b.wire_len,
                compressed: b.compressed,
                payload: b.payload,
                incomplete: b.incomplete,
                utf8_valid,
                close_code,
                close_reason,
                inflate_error: b.inflate_error,
            },
            packets,
        ));
    }
}

impl MessageKind {
    fn is_control_kind(self) -> bool {
        matches!(
            self,
            MessageKind::Ping | MessageKind::Pong | MessageKind::Close
        )
    }
}

fn accept_bytes(b: &mut Building, chunk: &[u8], keep: usize, budget: Option<&MemoryBudget>) {
    if let Some(v) = b.utf8.as_mut() {
        v.feed(chunk);
    }
    b.len += chunk.len() as u64;
    let room = keep.saturating_sub(b.payload.len()).min(chunk.len());
    let room = b.admit(room, keep, budget);
    b.payload.extend_from_slice(&chunk[..room]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ws::decoder::{Expectations, FrameDecoder};

    /// Regression: an inflater (~75 KiB: window, state, output buffer) was allocated per
    /// direction at the upgrade, so 20,000 sessions that negotiated permessage-deflate and sent
    /// nothing held 3 GB. It now waits for the first compressed frame, and goes with the
    /// close frame of its direction.
    #[test]
    fn inflater_is_created_on_the_first_compressed_frame_and_released_at_close() {
        let mut a = MessageAssembler::new(AssemblerConfig {
            dir: Dir::ServerToClient,
            deflate: Some(false),
            max_message_size: 1 << 20,
            keep_bytes: 64,
            handshake_seen: true,
        });
        let mut d = FrameDecoder::new(Expectations {
            masked: false,
            rsv1_allowed: true,
        });
        let mut out = Vec::new();
        let mut feed = |a: &mut MessageAssembler, bytes: &[u8]| {
            d.feed((Timestamp(0), 1), bytes, &mut |ev| {
                a.handle(ev, &mut |m| out.push(m))
            });
        };
        feed(&mut a, b"\x81\x05plain");
        assert!(a.inflater.is_none());
        // RFC 7692 section 7.2.3.1: "Hello" compressed, twice (context takeover).
        let hello = [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        feed(&mut a, &hello);
        assert!(a.inflater.is_some());
        feed(&mut a, &[0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00]);
        assert!(a.inflater.is_some());
        // Its close frame ends what this side sends: the inflater is released.
        feed(&mut a, &[0x88, 0x02, 0x03, 0xe8]);
        assert!(a.inflater.is_none());
        let texts: Vec<Vec<u8>> = out
            .into_iter()
            .filter_map(|m| match m {
                Assembled::Message(m, _) => Some(m.payload),
                Assembled::Violation { .. } => None,
            })
            .collect();
        assert_eq!(texts, [&b"plain"[..], b"Hello", b"Hello", b"\x03\xe8"]);
    }

    fn budgeted(
        deflate: Option<bool>,
        keep: usize,
        limit: u64,
    ) -> (MessageAssembler, MemoryBudget) {
        let budget = MemoryBudget::new(limit);
        let a = MessageAssembler::new(AssemblerConfig {
            dir: Dir::ServerToClient,
            deflate,
            max_message_size: 64 << 20,
            keep_bytes: keep,
            handshake_seen: true,
        })
        .with_budget(Some(budget.clone()));
        (a, budget)
    }

    fn decoder() -> FrameDecoder {
        FrameDecoder::new(Expectations {
            masked: false,
            rsv1_allowed: true,
        })
    }

    fn feed_with(d: &mut FrameDecoder, a: &mut MessageAssembler, bytes: &[u8]) -> Vec<Assembled> {
        let mut out = Vec::new();
        d.feed((Timestamp(0), 1), bytes, &mut |ev| {
            a.handle(ev, &mut |m| out.push(m))
        });
        out
    }

    fn feed_all(a: &mut MessageAssembler, bytes: &[u8]) -> Vec<Assembled> {
        feed_with(&mut decoder(), a, bytes)
    }

    fn binary_frame(len: usize) -> Vec<u8> {
        let mut f = vec![0x82, 127];
        f.extend_from_slice(&(len as u64).to_be_bytes());
        f.extend((0..len).map(|i| i as u8));
        f
    }

    /// A message being assembled (kept whole, as with --payload full) charges what it keeps
    /// past the free allowance; past the budget it keeps counting without keeping, says so
    /// with memory-budget-exceeded, and gives the charge back when it is emitted.
    #[test]
    fn message_being_assembled_keeps_no_more_payload_than_the_budget_allows() {
        let (mut a, budget) = budgeted(None, 64 << 20, 1 << 20);
        let frame = binary_frame(3 << 20);
        // Two pieces: the charge is taken while the message is in progress.
        let mut d = decoder();
        let mut out = feed_with(&mut d, &mut a, &frame[..2 << 20]);
        assert!(out.is_empty());
        assert!(
            budget.used() > 0 && budget.used() <= 1 << 20,
            "{}",
            budget.used()
        );
        out.extend(feed_with(&mut d, &mut a, &frame[2 << 20..]));
        assert!(budget.peak() <= 1 << 20, "{}", budget.peak());
        assert_eq!(budget.used(), 0, "given back at emit");
        let (mut msgs, mut codes) = (Vec::new(), Vec::new());
        for o in out {
            match o {
                Assembled::Message(m, _) => msgs.push(m),
                Assembled::Violation { code, detail, .. } => codes.push((code, detail)),
            }
        }
        assert_eq!(msgs.len(), 1);
        let m = &msgs[0];
        assert_eq!(m.len, 3 << 20);
        assert!(!m.payload_complete());
        let kept = m.payload.len();
        assert!(
            kept > FREE_PAYLOAD_BYTES && kept <= FREE_PAYLOAD_BYTES + (1 << 20),
            "{kept}"
        );
        assert_eq!(m.payload[..], frame[10..10 + kept]);
        assert_eq!(codes.len(), 1, "{codes:?}");
        assert_eq!(codes[0].0, Code::MemoryBudgetExceeded);
        assert!(codes[0].1.contains("binary message kept"), "{}", codes[0].1);
    }

    /// Messages within the free allowance never touch the budget (the default retention).
    #[test]
    fn small_messages_are_not_charged() {
        let (mut a, budget) = budgeted(None, 1024, 0);
        let out = feed_all(&mut a, &binary_frame(100 << 10));
        assert_eq!(budget.peak(), 0);
        assert!(matches!(&out[..], [Assembled::Message(m, _)] if m.payload.len() == 1024));
    }

    /// An inflater is charged while it lives, even past the budget (it is never refused: the
    /// messages still inflate), and given back with its assembler.
    #[test]
    fn inflater_is_charged_never_refused() {
        let hello = [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        let (mut a, budget) = budgeted(Some(false), 64, 1 << 20);
        feed_all(&mut a, &hello);
        assert_eq!(budget.used(), INFLATER_BYTES);
        drop(a);
        assert_eq!(budget.used(), 0, "given back with the assembler");

        let (mut a, budget) = budgeted(Some(false), 64, 1024);
        let out = feed_all(&mut a, &hello);
        assert_eq!(budget.used(), INFLATER_BYTES);
        assert!(matches!(&out[..], [Assembled::Message(m, _)] if m.payload == b"Hello"));
    }

    /// A message that does not inflate is reported in words, not Rust Debug text; the next
    /// message of a direction that keeps its context then says the context was lost.
    #[test]
    fn decompression_failures_read_as_text() {
        let (mut a, _budget) = budgeted(Some(false), 64, 1 << 30);
        let mut d = decoder();
        let details = |out: Vec<Assembled>| -> Vec<String> {
            out.into_iter()
                .filter_map(|m| match m {
                    Assembled::Violation {
                        code: Code::DecompressionFailed,
                        detail,
                        ..
                    } => Some(detail),
                    _ => None,
                })
                .collect()
        };
        let corrupt = [0xc1, 0x05, 0xff, 0xff, 0xff, 0xff, 0x12];
        let out = feed_with(&mut d, &mut a, &corrupt);
        let failed = out.iter().find_map(|m| match m {
            Assembled::Message(m, _) => Some(m.clone()),
            _ => None,
        });
        let failed = failed.expect("the message is still reported");
        assert!(
            matches!(failed.inflate_error, Some(DecompressionError::Inflate(_))),
            "{failed:?}"
        );
        let first = details(out);
        assert_eq!(first.len(), 1, "{first:?}");
        assert!(
            first[0].starts_with(
                "text message (5 bytes compressed) does not inflate: the inflater failed: corrupt \
                 DEFLATE data ("
            ),
            "{}",
            first[0]
        );
        assert!(!first[0].contains("Corrupt(\""), "{}", first[0]);
        let hello = [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        let out = feed_with(&mut d, &mut a, &hello);
        assert!(out.iter().any(|m| matches!(m,
            Assembled::Message(m, _) if m.inflate_error == Some(DecompressionError::ContextLost))));
        let second = details(out);
        assert_eq!(
            second,
            [
                "text message (7 bytes compressed) does not inflate: the compression context was \
              lost earlier (gap or failure); later messages cannot be inflated"
            ]
        );
    }
}
