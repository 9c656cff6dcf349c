//! Fuzz target bodies for wsscope, shared by the `fuzz_targets/*` binaries and the seed
//! generator (`examples/seed.rs`). Each function takes arbitrary bytes and must never panic;
//! the assertions inside are invariants of the code under test, not of the input.

use std::cell::RefCell;
use std::hint::black_box;
use std::io::{self, Write};
use std::rc::Rc;

use wsscope_core::escape::is_unsafe_char;
use wsscope_core::sink::{Sink, Tee};
use wsscope_output::jsonfmt::{self, Pretty};
use wsscope_output::ndjson::NdjsonSink;
use wsscope_output::text::TextSink;

use wsscope_core::analyzer::{Analyzer, AnalyzerConfig, Event};
use wsscope_core::capture::{CaptureReader, RawPacket};
use wsscope_core::handshake;
use wsscope_core::http::{self, HeadParse, RequestHead};
use wsscope_core::packet::PacketDecoder;
use wsscope_core::tcp::reassembly::{ReassemblyLimits, StreamOutput, StreamReassembler};
use wsscope_core::tcp::Dir;
use wsscope_core::timestamp::Timestamp;
use wsscope_core::ws::decoder::{DecodeEvent, Expectations, FrameDecoder};
use wsscope_core::ws::message::{Assembled, AssemblerConfig, MessageAssembler};
use wsscope_output::report::PayloadMode;

pub mod seeds;

/// Little cursor over the fuzz input.
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Input { data }
    }
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
    pub fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.data.split_first()?;
        self.data = rest;
        Some(b)
    }
    pub fn u16(&mut self) -> Option<u16> {
        let b = self.bytes(2)?;
        Some(u16::from_le_bytes([b[0], b[1]]))
    }
    pub fn u32(&mut self) -> Option<u32> {
        let b = self.bytes(4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    /// Exactly `n` bytes, or `None` (nothing consumed).
    pub fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.data.len() < n {
            return None;
        }
        let (a, b) = self.data.split_at(n);
        self.data = b;
        Some(a)
    }
    /// Up to `n` bytes.
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.data.len());
        let (a, b) = self.data.split_at(n);
        self.data = b;
        a
    }
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.data)
    }
}

/// Deterministic xorshift for chunking decisions derived from the input.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn ts(n: u64) -> Timestamp {
    Timestamp(1_700_000_000_000_000_000 + n as i64 * 1000)
}

// ---------------------------------------------------------------------------------------------
// tls_flow

/// The key log every `tls_flow` input is looked up in: py_tls13's, so a seed built from that
/// fixture's streams reaches decryption.
pub const TLS_KEYLOG: &[u8] = include_bytes!("../../fixtures/py_tls13.keylog");

/// `tls::TlsFlow` fed `[limits u8]` (bit 0: live, wait for keys up to 64 KiB), then
/// `[hdr u8][bytes]` records as for `h2_connection` (bit 7: server to client, low 7 bits the
/// length; an empty record with bit 6 is a gap), with [`TLS_KEYLOG`] as the key store. Checks
/// that memory stays bounded, the flow is done after `finish`, and the events keep their order
/// (`Ready` once before any plaintext, no plaintext after its direction's `Lost`).
pub fn tls_flow(data: &[u8]) {
    for ev in &tls_events(data) {
        match ev {
            wsscope_core::tls::TlsEvent::Finding(f) => black_box(f.to_string()),
            other => black_box(format!("{other:?}")),
        };
    }
}

/// The events of [`tls_flow`]'s input.
pub fn tls_events(data: &[u8]) -> Vec<wsscope_core::tls::TlsEvent> {
    use wsscope_core::tls::flow::HELLO_HOLD;
    use wsscope_core::tls::keylog::KeyStore;
    use wsscope_core::tls::record::{DEFAULT_MAX_HANDSHAKE, HEADER_LEN, MAX_RECORD_LEN};
    use wsscope_core::tls::{TlsEvent, TlsFlow, TlsLimits};
    let keys = KeyStore::new();
    keys.push_complete(TLS_KEYLOG);
    let mut input = Input::new(data);
    let wait = if input.u8().unwrap_or(0) & 1 == 1 {
        64 * 1024
    } else {
        0
    };
    let bound =
        HELLO_HOLD.max(wait) + 4 * (MAX_RECORD_LEN + HEADER_LEN) + 2 * (DEFAULT_MAX_HANDSHAKE + 4);
    let mut flow = TlsFlow::new(TlsLimits {
        wait_for_keys: wait,
    });
    let mut out = Vec::new();
    while let Some(hdr) = input.u8() {
        let dir = if hdr & 0x80 != 0 {
            Dir::ServerToClient
        } else {
            Dir::ClientToServer
        };
        let len = (hdr & 0x7f) as usize;
        if len == 0 {
            if hdr & 0x40 != 0 {
                flow.gap(dir, &mut out);
            }
            continue;
        }
        let bytes = input.bytes(len).unwrap_or_else(|| input.rest());
        flow.feed(dir, bytes, &keys, &mut out);
        assert!(flow.held() <= bound, "held {} over {bound}", flow.held());
    }
    flow.finish(&keys, &mut out);
    assert!(flow.is_done(), "not done after finish");
    let mut ready = false;
    let mut lost = [false; 2];
    for ev in &out {
        match ev {
            TlsEvent::Ready => {
                assert!(!ready, "Ready twice");
                ready = true;
            }
            TlsEvent::Plaintext { from, bytes } => {
                assert!(ready, "plaintext before Ready");
                assert!(!bytes.is_empty(), "empty plaintext");
                assert!(!lost[from.index()], "plaintext after Lost");
            }
            TlsEvent::Lost { from } => {
                assert!(!lost[from.index()], "Lost twice");
                lost[from.index()] = true;
            }
            TlsEvent::Finding(_) => {}
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// h2_connection

/// `h2::Connection` fed the client preface, then `[hdr u8][bytes]` records: bit 7 of `hdr`
/// is the direction (set: server to client), the low 7 bits the record length; bit 6 of the
/// first byte of an empty record is a gap. Checks that every stream ends at the TCP end and
/// that every event and finding renders.
pub fn h2_connection(data: &[u8]) {
    for ev in &h2_events(data) {
        match ev {
            wsscope_core::h2::H2Event::Finding(f) => black_box(f.to_string()),
            other => black_box(format!("{other:?}")),
        };
    }
}

/// The events of [`h2_connection`]'s input.
pub fn h2_events(data: &[u8]) -> Vec<wsscope_core::h2::H2Event> {
    use wsscope_core::h2::{Connection, H2Limits};
    let limits = H2Limits {
        max_streams: 16,
        ..H2Limits::default()
    };
    let mut conn = Connection::new(limits);
    let mut out = Vec::new();
    conn.feed(
        Dir::ClientToServer,
        wsscope_core::h2::frame::PREFACE,
        &mut out,
    );
    let mut input = Input::new(data);
    while let Some(hdr) = input.u8() {
        let dir = if hdr & 0x80 != 0 {
            Dir::ServerToClient
        } else {
            Dir::ClientToServer
        };
        let len = (hdr & 0x7f) as usize;
        if len == 0 {
            if hdr & 0x40 != 0 {
                conn.gap(dir, &mut out);
            }
            continue;
        }
        let bytes = input.bytes(len).unwrap_or_else(|| input.rest());
        conn.feed(dir, bytes, &mut out);
        assert!(conn.open_streams() <= 16, "more streams than the limit");
    }
    conn.finish(&mut out);
    assert_eq!(conn.open_streams(), 0, "streams left open after finish");
    out
}

// ---------------------------------------------------------------------------------------------
// capture_reader

/// `CaptureReader::new(data)`, then every packet and notice.
pub fn capture_reader(data: &[u8]) {
    let Ok(mut reader) = CaptureReader::new(data) else {
        return;
    };
    black_box(reader.format().name());
    let mut packets = 0usize;
    let mut last_pos = reader.position();
    while let Some(p) = reader.next() {
        packets += 1;
        assert!(
            p.data.len() <= data.len(),
            "packet data longer than the input"
        );
        let pos = reader.position();
        assert!(pos >= last_pos, "reader position went backwards");
        assert!(pos <= reader.len(), "reader position past the end");
        last_pos = pos;
        black_box((p.ts.secs(), p.ts.subsec_nanos(), p.linktype, p.orig_len));
        // Every packet needs at least a record header, so this bounds the loop.
        assert!(packets <= data.len(), "more packets than input bytes");
    }
    // A finished reader stays finished.
    assert!(reader.next().is_none());
    for n in reader.notices() {
        black_box(n.to_string());
    }
    black_box(reader.linktypes());
}

// ---------------------------------------------------------------------------------------------
// packet_decoder

const LINKTYPES: [u32; 6] = [0, 1, 101, 108, 113, 276];

fn touch_segment(seg: &wsscope_core::packet::Segment<'_>) {
    black_box((
        seg.src,
        seg.dst,
        seg.seq,
        seg.ack,
        seg.flags.syn,
        seg.payload.len(),
        seg.missing,
    ));
}

/// The whole input as one packet of every supported link type, then the input as a sequence of
/// `[len u16 LE][bytes]` raw-IP packets through one decoder (so IP fragments can reassemble).
pub fn packet_decoder(data: &[u8]) {
    for (i, &linktype) in LINKTYPES.iter().enumerate() {
        let mut dec = PacketDecoder::new();
        let pkt = RawPacket {
            ts: ts(i as u64),
            linktype,
            data,
            orig_len: data.len() as u32,
        };
        let mut called = false;
        let r = dec.decode(&pkt, |seg| {
            called = true;
            touch_segment(seg);
        });
        assert_eq!(r.is_ok(), called, "Ok iff a segment was emitted");
        let s = dec.stats();
        assert_eq!(s.packets, 1);
    }

    let mut input = Input::new(data);
    let mut dec = PacketDecoder::new();
    let mut n = 0u64;
    while let Some(len) = input.u16() {
        let len = usize::from(len);
        let lt = if len & 0x8000 != 0 { 1 } else { 101 };
        let body = input.take(len & 0x7fff);
        let pkt = RawPacket {
            ts: ts(n),
            linktype: lt,
            data: body,
            orig_len: body.len() as u32,
        };
        n += 1;
        let _ = dec.decode(&pkt, touch_segment);
    }
    let s = dec.stats();
    assert_eq!(s.packets, n);
}

// ---------------------------------------------------------------------------------------------
// reassembler

/// Segments `[seq delta u32 LE][flags u8][len u8][bytes]` into one `StreamReassembler`.
///
/// Header: `[limits u8][isn u32 LE]`. Flags: bit0 FIN, bit1 flush, bit2 ack (at seq+len),
/// bit3 set_isn (before the first segment only), bits 4..7 missing (snaplen cut) in 16-byte units.
pub fn reassembler(data: &[u8]) {
    let mut input = Input::new(data);
    let Some(lim) = input.u8() else { return };
    let Some(isn) = input.u32() else { return };
    let limits = ReassemblyLimits {
        max_buffered_bytes: [16, 64, 256, 4096][usize::from(lim & 3)],
        max_buffered_segments: [1, 2, 8, 1024][usize::from((lim >> 2) & 3)],
        history_bytes: [0, 7, 64, 16 << 10][usize::from((lim >> 4) & 3)],
        reorder_nanos: if lim & 0x80 != 0 { 0 } else { 1_000_000_000 },
    };
    let mut r = StreamReassembler::new(limits);
    let use_isn = lim & 0x40 != 0;
    if use_isn {
        r.set_isn(isn);
    }

    // Oracle state: next expected offset, and per-offset knowledge of what was delivered.
    struct Check {
        next: u64,
        events: u64,
    }
    let mut check = Check { next: 0, events: 0 };
    let mut out = |o: StreamOutput<'_>| {
        check.events += 1;
        match o {
            StreamOutput::Data { offset, bytes, .. } => {
                assert_eq!(offset, check.next, "data not contiguous");
                assert!(!bytes.is_empty(), "empty data output");
                check.next += bytes.len() as u64;
            }
            StreamOutput::Gap { offset, len, .. } => {
                assert_eq!(offset, check.next, "gap not contiguous");
                assert!(len > 0, "empty gap output");
                check.next += len;
            }
            StreamOutput::Overlap { offset, len, .. } => {
                assert!(len > 0, "empty overlap");
                assert!(
                    offset + len <= check.next,
                    "overlap reported on bytes not yet delivered"
                );
            }
        }
    };

    let mut i = 0u64;
    while let Some(delta) = input.u32() {
        let Some(flags) = input.u8() else { break };
        let Some(len) = input.u8() else { break };
        let payload = input.take(usize::from(len));
        let seq = isn.wrapping_add(1).wrapping_add(delta);
        let missing = u32::from(flags >> 4) * 16;
        let t = ts(i);
        i += 1;
        r.push((t, i), seq, payload, missing, &mut out);
        if flags & 1 != 0 {
            r.push_fin(seq, payload.len() + missing as usize);
        }
        if flags & 4 != 0 {
            let ack = seq.wrapping_add(payload.len() as u32 + missing);
            r.acked(t, ack, &mut out);
        }
        if flags & 2 != 0 {
            r.flush(t, &mut out);
            assert_eq!(r.buffered_bytes(), 0, "flush left bytes buffered");
        }
        assert!(
            r.buffered_bytes() <= limits.max_buffered_bytes,
            "buffered bytes over the limit"
        );
        black_box(r.is_finished());
    }
    r.flush(ts(i), &mut out);
    assert_eq!(r.buffered_bytes(), 0, "flush left bytes buffered");
    assert_eq!(
        r.next_offset(),
        check.next,
        "next_offset disagrees with outputs"
    );
    let s = r.stats();
    assert!(s.gaps <= check.events);
    r.release();
}

// ---------------------------------------------------------------------------------------------
// http_handshake

fn valid_request() -> RequestHead {
    match http::parse_request(
        b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\
Sec-WebSocket-Protocol: chat, superchat\r\n\r\n",
    ) {
        HeadParse::Complete(r) => r,
        other => panic!("fixed request did not parse: {other:?}"),
    }
}

fn touch_problems(ps: &[handshake::Problem]) {
    for p in ps {
        black_box((p.code, p.detail.len(), p.in_response));
    }
}

/// Request and response parsing plus the RFC 6455 checks; `diagnose_accept` on split input.
pub fn http_handshake(data: &[u8]) {
    let fixed = valid_request();
    let req = match http::parse_request(data) {
        HeadParse::Complete(req) => {
            assert!(req.head_len <= data.len(), "head_len past the input");
            touch_problems(&handshake::check_request(&req));
            black_box(handshake::is_upgrade_request(&req));
            black_box(http::request_body(&req.headers));
            black_box(handshake::parse_extensions(&req.headers));
            Some(req)
        }
        HeadParse::Partial => None,
        HeadParse::Invalid(why) => {
            black_box(why);
            None
        }
    };
    // The response: right after the request if there was one, else the whole input.
    let resp_bytes = match &req {
        Some(r) => &data[r.head_len..],
        None => data,
    };
    if let HeadParse::Complete(resp) = http::parse_response(resp_bytes) {
        assert!(resp.head_len <= resp_bytes.len(), "head_len past the input");
        let method = req.as_ref().map_or("GET", |r| r.method.as_str());
        black_box(http::response_body(method, resp.status, &resp.headers));
        let (neg, problems) = handshake::check_response(&fixed, &resp);
        touch_problems(&problems);
        black_box(neg);
        if let Some(req) = &req {
            let (neg, problems) = handshake::check_response(req, &resp);
            touch_problems(&problems);
            black_box(neg);
        }
    }
    // The whole input as a response too (differs from the above when a request parsed).
    if req.is_some() {
        black_box(http::parse_response(data));
    }

    // diagnose_accept(key, actual): split at the first NUL (or in the middle).
    let cut = data.iter().position(|&b| b == 0).unwrap_or(data.len() / 2);
    let key = String::from_utf8_lossy(&data[..cut]);
    let actual = String::from_utf8_lossy(data.get(cut + 1..).unwrap_or(&[]));
    black_box(handshake::diagnose_accept(&key, &actual));
    let expected = handshake::accept_for(&key);
    // The correct answer is never diagnosed as a mistake... unless a "mistake" coincides with it.
    black_box(handshake::diagnose_accept(&key, &expected));
}

// ---------------------------------------------------------------------------------------------
// frame_messages

fn check_assembled(a: &Assembled, keep: usize) {
    match a {
        Assembled::Message(m, _) => {
            assert!(
                m.payload.len() <= keep.max(125),
                "retained payload {} over keep_bytes {keep}",
                m.payload.len()
            );
            assert!(
                m.payload.len() as u64 <= m.len,
                "retained payload longer than the message"
            );
            black_box((m.kind, m.frames, m.wire_len, m.utf8_valid, m.close_code));
        }
        Assembled::Violation { code, detail, .. } => {
            black_box((code, detail.len()));
        }
    }
}

/// Header `[cfg u8][chunk seed u8]`, then stream bytes decoded in both directions.
///
/// `cfg`: bits 0-1 deflate (None / Some(false) / Some(true) / None), bit 2 handshake seen,
/// bit 3 start unsynced, bit 4 gaps enabled, bits 5-6 keep_bytes, bit 7 whole-input chunk.
pub fn frame_messages(data: &[u8]) {
    let mut input = Input::new(data);
    let Some(cfg) = input.u8() else { return };
    let Some(seed) = input.u8() else { return };
    let stream = input.rest();
    let deflate = match cfg & 3 {
        1 => Some(false),
        2 => Some(true),
        _ => None,
    };
    let keep = [0usize, 16, 1024, 4096][usize::from((cfg >> 5) & 3)];
    for dir in [Dir::ClientToServer, Dir::ServerToClient] {
        let expect = Expectations {
            masked: dir == Dir::ClientToServer,
            rsv1_allowed: deflate.is_some(),
        };
        let mut dec = if cfg & 8 != 0 {
            FrameDecoder::new_unsynced(expect)
        } else {
            FrameDecoder::new(expect)
        };
        let mut asm = MessageAssembler::new(AssemblerConfig {
            dir,
            deflate,
            max_message_size: 1 << 20,
            keep_bytes: keep,
            handshake_seen: cfg & 4 != 0,
        });
        let mut rng = Rng::new(u64::from(seed) << 8 | u64::from(cfg));
        let mut sink = |a: Assembled| check_assembled(&a, keep);
        let mut on_ev = |ev: DecodeEvent<'_>| asm.handle(ev, &mut sink);
        let mut rest = stream;
        let mut i = 0u64;
        while !rest.is_empty() {
            let n = if cfg & 0x80 != 0 {
                rest.len()
            } else {
                match rng.below(4) {
                    0 => 1,
                    1 => 1 + rng.below(8) as usize,
                    2 => 1 + rng.below(200) as usize,
                    _ => rest.len(),
                }
            }
            .min(rest.len());
            let (chunk, r) = rest.split_at(n);
            rest = r;
            if cfg & 0x10 != 0 && rng.below(8) == 0 {
                dec.gap(ts(i), chunk.len() as u64, &mut on_ev);
            } else {
                dec.feed((ts(i), i), chunk, &mut on_ev);
            }
            i += 1;
        }
        dec.finish(ts(i), &mut on_ev);
        asm.finish(ts(i + 1), &mut sink);
        black_box(asm.close_sent());
    }
}

// ---------------------------------------------------------------------------------------------
// pipeline

/// A `Write` into a buffer the fuzz body can read back after the sink is done with it.
#[derive(Clone, Default)]
struct SharedBuf(Rc<RefCell<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Every NDJSON line is valid JSON with no raw terminal-unsafe character; the text output has
/// none either (newlines end its lines).
fn check_outputs(ndjson: &[u8], text: &[u8]) {
    for line in ndjson.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let parsed: Result<serde_json::Value, _> = serde_json::from_slice(line);
        assert!(
            parsed.is_ok(),
            "invalid NDJSON line: {}",
            String::from_utf8_lossy(line)
        );
        let line = std::str::from_utf8(line).expect("NDJSON is UTF-8");
        assert!(
            !line.chars().any(is_unsafe_char),
            "raw control in NDJSON: {line:?}"
        );
    }
    let text = std::str::from_utf8(text).expect("text output is UTF-8");
    assert!(
        !text.chars().any(|c| c != '\n' && is_unsafe_char(c)),
        "raw control in text output: {text:?}"
    );
}

/// Runs a capture through `CaptureReader` and `Analyzer`, into the NDJSON and text sinks.
pub fn analyze_capture(capture: &[u8]) {
    let Ok(reader) = CaptureReader::new(capture) else {
        return;
    };
    let (ndjson_buf, text_buf) = (SharedBuf::default(), SharedBuf::default());
    let mut sinks = Tee::new();
    sinks.push(Box::new(NdjsonSink::new(
        Box::new(ndjson_buf.clone()),
        PayloadMode::Preview(64),
        false,
    )));
    sinks.push(Box::new(TextSink::new(
        Box::new(text_buf.clone()),
        true,
        64,
    )));
    let _ = sinks.begin_capture("fuzz");
    let mut an = Analyzer::new(AnalyzerConfig::default(), 0);
    let mut emit = |ev: Event<'_>| {
        let _ = sinks.event(&ev);
    };
    for p in reader {
        an.packet(&p, &mut emit);
    }
    an.finish(&mut emit);
    black_box(an.stats());
    let _ = sinks.finish(&Default::default(), &[]);
    drop(sinks);
    check_outputs(&ndjson_buf.0.borrow(), &text_buf.0.borrow());
}

/// Mode byte: `& 3` 0 = the rest is a capture file; 1 = valid upgrade, 2 = valid upgrade with
/// permessage-deflate, 3 = TCP handshake only; then the rest is `[ctl u8][len u8][bytes]`
/// records sent on one synthesized TCP connection (see [`seeds::session_capture`]).
pub fn pipeline(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 3 == 0 {
        analyze_capture(rest);
    } else {
        analyze_capture(&seeds::session_capture(mode, rest));
    }
}

/// Laws of a successful `pretty(input)`: only whitespace outside strings changes (with
/// dangerous characters spelled as escapes), no line holds a dangerous character, the output
/// is the same JSON value when no key repeats, and it formats to itself.
fn check_pretty(input: &str, p: &Pretty) {
    let shown = p.lines.join("\n");
    assert_eq!(
        jsonfmt::laws::minify(&shown),
        jsonfmt::laws::minify(&jsonfmt::laws::spell_shown_escaped(input)),
        "pretty changed more than whitespace"
    );
    for line in &p.lines {
        assert!(
            !line.chars().any(jsonfmt::shown_escaped),
            "unsafe line {line:?}"
        );
    }
    if p.duplicates.is_empty() {
        let before = serde_json::from_str::<serde_json::Value>(input).ok();
        let after = serde_json::from_str::<serde_json::Value>(&shown).ok();
        assert_eq!(before, after, "pretty changed the JSON value");
    } else {
        assert!(p.duplicates.iter().all(|d| d.path.starts_with('$')));
    }
    let again = jsonfmt::pretty(&shown).expect("pretty output is valid JSON");
    assert_eq!(again.lines, p.lines, "pretty is not idempotent");
    assert_eq!(again.duplicates, p.duplicates);
}

/// `jsonfmt::pretty` and `jsonfmt::pretty_prefixed` on arbitrary text: no panic, and the laws
/// of [`check_pretty`] whenever they succeed.
pub fn json_pretty(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(p) = jsonfmt::pretty(text) {
        check_pretty(text, &p);
    }
    if let Some((prefix, body)) = jsonfmt::pretty_prefixed(text) {
        assert!(
            text.as_bytes()[0].is_ascii_digit(),
            "prefix claimed on {text:?}"
        );
        assert!(!prefix.label.chars().any(jsonfmt::shown_escaped));
        check_pretty(&text[prefix.json_start..], &body);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The synthesized pipeline seeds must reach the WebSocket layer, or the fuzzer starts blind.
    #[test]
    fn pipeline_seeds_reach_messages() {
        for (target, name, bytes) in seeds::generate(&[]) {
            if target != "pipeline" || !name.starts_with("session-") {
                continue;
            }
            let capture = if bytes[0] & 3 == 0 {
                bytes[1..].to_vec()
            } else {
                seeds::session_capture(bytes[0], &bytes[1..])
            };
            let reader = CaptureReader::new(&capture).expect("capture");
            let mut an = Analyzer::new(AnalyzerConfig::default(), 0);
            let mut messages = 0;
            analyze_capture(&capture);
            let mut sink = |ev: Event<'_>| {
                if let Event::Message(_) = ev {
                    messages += 1;
                }
            };
            for p in reader {
                an.packet(&p, &mut sink);
            }
            an.finish(&mut sink);
            assert!(messages >= 2, "{name}: only {messages} messages");
        }
    }

    #[test]
    fn h2_seed_reaches_websocket_data() {
        use wsscope_core::h2::H2Event;
        for (target, name, bytes) in seeds::generate(&[]) {
            if target != "h2_connection" {
                continue;
            }
            let ev = h2_events(&bytes);
            assert!(
                ev.iter()
                    .any(|e| matches!(e, H2Event::StreamOpened { request, .. } if request.is_websocket_connect())),
                "{name}: {ev:?}"
            );
            assert_eq!(
                ev.iter()
                    .filter(|e| matches!(e, H2Event::StreamData { .. }))
                    .count(),
                2,
                "{name}: {ev:?}"
            );
            assert!(
                !ev.iter().any(|e| matches!(e, H2Event::Finding(_))),
                "{name}: {ev:?}"
            );
        }
    }

    #[test]
    fn tls_seeds_reach_the_handshake_and_the_fixture_decrypts() {
        use wsscope_core::tls::{TlsEvent, TlsFinding};
        let mut synthetic = 0;
        for (target, name, bytes) in seeds::generate(&[]) {
            if target != "tls_flow" {
                continue;
            }
            synthetic += 1;
            // The synthetic seed's ServerHello is read; its records do not open (no real keys).
            let ev = tls_events(&bytes);
            assert!(
                ev.iter()
                    .any(|e| matches!(e, TlsEvent::Finding(TlsFinding::DecryptFailed { .. }))),
                "{name}: {ev:?}"
            );
        }
        assert!(synthetic > 0);
        let pcap = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/py_tls13.pcap"
        ))
        .expect("fixture");
        let seed = seeds::tls_flow_seed(&pcap).expect("a TLS connection");
        let ev = tls_events(&seed);
        assert!(
            !ev.iter().any(|e| matches!(e, TlsEvent::Finding(_))),
            "{ev:?}"
        );
        for dir in [Dir::ClientToServer, Dir::ServerToClient] {
            assert!(ev
                .iter()
                .any(|e| matches!(e, TlsEvent::Plaintext { from, .. } if *from == dir)));
        }
    }

    /// A poor man's fuzz run for `cargo test`: byte flips, cuts and splices of the fixture
    /// seed keep the target's invariants (bounded memory, event order, done after finish).
    #[test]
    fn mutated_json_seeds_keep_the_laws() {
        let mut rng = Rng::new(12);
        let mut formatted = 0;
        for round in 0..3000 {
            let (_, seed) = seeds::JSON_SEEDS[round % seeds::JSON_SEEDS.len()];
            let mut input = seed.as_bytes().to_vec();
            for _ in 0..1 + rng.below(2) {
                let at = rng.below(input.len() as u64) as usize;
                match rng.below(8) {
                    0 => input[at] ^= 1 << rng.below(8),
                    1 => input.truncate(at.max(1)),
                    2 => {
                        let n = rng.below(16) as usize;
                        let piece = input[at..(at + n).min(input.len())].to_vec();
                        let to = rng.below(input.len() as u64) as usize;
                        input.splice(to..to, piece);
                    }
                    3 => input.insert(at, b"{}[],:\"\\0-eE.ut"[rng.below(14) as usize]),
                    _ => input.insert(at, b" \n\t\r"[rng.below(4) as usize]),
                }
            }
            json_pretty(&input);
            formatted +=
                usize::from(std::str::from_utf8(&input).is_ok_and(|t| jsonfmt::pretty(t).is_ok()));
        }
        // Enough mutants stay valid JSON for the laws to be exercised.
        assert!(formatted > 300, "only {formatted} mutants formatted");
    }

    #[test]
    fn mutated_tls_seeds_keep_the_invariants() {
        let pcap = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/py_tls13.pcap"
        ))
        .expect("fixture");
        let seed = seeds::tls_flow_seed(&pcap).expect("a TLS connection");
        let mut rng = Rng::new(11);
        for round in 0..300 {
            let mut input = seed.clone();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(input.len() as u64) as usize;
                match rng.below(4) {
                    0 => input[at] ^= 1 << rng.below(8),
                    1 => input.truncate(at.max(1)),
                    2 => {
                        let n = rng.below(64) as usize;
                        let piece = input[at..(at + n).min(input.len())].to_vec();
                        let to = rng.below(input.len() as u64) as usize;
                        input.splice(to..to, piece);
                    }
                    _ => input[0] ^= 1,
                }
            }
            let ev = tls_events(&input);
            black_box((round, ev.len()));
        }
    }

    #[test]
    fn all_seeds_run() {
        for (target, _name, bytes) in seeds::generate(&[]) {
            match target {
                "capture_reader" => capture_reader(&bytes),
                "packet_decoder" => packet_decoder(&bytes),
                "reassembler" => reassembler(&bytes),
                "http_handshake" => http_handshake(&bytes),
                "frame_messages" => frame_messages(&bytes),
                "pipeline" => pipeline(&bytes),
                "h2_connection" => h2_connection(&bytes),
                "tls_flow" => tls_flow(&bytes),
                "json_pretty" => json_pretty(&bytes),
                other => panic!("unknown target {other}"),
            }
        }
    }
}
