//! Shared by the state machines' unit tests: a connection fed bytes sans-IO, builders for
//! handshakes and frames, and what came out in a form easy to assert on.

use super::*;
use crate::finding::Code;

pub(super) const C: Dir = Dir::ClientToServer;
pub(super) const S: Dir = Dir::ServerToClient;

/// A connection under test, the events it reported so far and the session counter.
pub(super) struct Harness {
    pub(super) conn: Connection,
    pub(super) cfg: SessionConfig,
    pub(super) next_id: SessionId,
    pub(super) out: Vec<SessionEvent>,
    pub(super) ts: i64,
    /// Number of the last packet sent (one per segment).
    pub(super) packet: u64,
}

impl Harness {
    /// A connection captured from its SYN (client 10.0.0.1:40000, server 10.0.0.2:80).
    pub(super) fn new() -> Self {
        Self::began(Began::Syn, false)
    }

    /// A connection that `began` as given, its roles `inferred` or not.
    pub(super) fn began(began: Began, inferred: bool) -> Self {
        Harness {
            conn: Connection::new(
                FlowId(1),
                SocketAddr::from(([10, 0, 0, 1], 40000)),
                SocketAddr::from(([10, 0, 0, 2], 80)),
                began,
                inferred,
            ),
            cfg: SessionConfig::default(),
            next_id: 0,
            out: Vec::new(),
            ts: 0,
            packet: 0,
        }
    }

    /// Bytes from `dir`, in one segment, one millisecond after the last ones.
    pub(super) fn send(&mut self, dir: Dir, bytes: &[u8]) -> &mut Self {
        self.send_in(dir, bytes, bytes.len().max(1))
    }

    /// Bytes from `dir` in segments of `seg` bytes.
    pub(super) fn send_in(&mut self, dir: Dir, bytes: &[u8], seg: usize) -> &mut Self {
        for piece in bytes.chunks(seg) {
            self.ts += 1_000_000;
            self.packet += 1;
            let ts = Timestamp(self.ts);
            self.conn.on_data(
                &self.cfg,
                &mut self.next_id,
                dir,
                ts,
                self.packet,
                piece,
                &mut self.out,
            );
        }
        self
    }

    /// `len` bytes from `dir` missing from the capture.
    pub(super) fn gap(&mut self, dir: Dir, len: u64) -> &mut Self {
        self.ts += 1_000_000;
        let ts = Timestamp(self.ts);
        self.conn.on_gap(
            &self.cfg,
            &mut self.next_id,
            dir,
            ts,
            len,
            false,
            &mut self.out,
        );
        self
    }

    /// `dir` sends a FIN, then the connection ends with it.
    pub(super) fn fin(&mut self, dir: Dir) -> &mut Self {
        self.conn.on_fin(dir);
        self.close(CloseReason::Fin)
    }

    /// The connection ends for `reason`.
    pub(super) fn close(&mut self, reason: CloseReason) -> &mut Self {
        self.ts += 1_000_000;
        self.conn.closed(Timestamp(self.ts), reason, &mut self.out);
        self
    }

    /// What was reported, one line per event (see [`describe`]), and forgets it.
    pub(super) fn take(&mut self) -> Vec<String> {
        self.out.drain(..).map(|e| describe(&e)).collect()
    }

    /// The end events reported so far.
    pub(super) fn ends(&self) -> Vec<SessionEnd> {
        self.out
            .iter()
            .filter_map(|e| match e {
                SessionEvent::End(e) => Some(e.clone()),
                _ => None,
            })
            .collect()
    }

    /// The finding codes reported so far.
    pub(super) fn codes(&self) -> Vec<Code> {
        self.out
            .iter()
            .filter_map(|e| match e {
                SessionEvent::Finding { finding, .. } => Some(finding.code),
                _ => None,
            })
            .collect()
    }
}

/// One event in a line: `start 1 GET /chat -> 101`, `start 2 (no handshake)`,
/// `message 1 #1 c2s text "hi"` (a close frame: its code), `finding 1 upgrade-rejected`, `end 1 upgraded`.
pub(super) fn describe(e: &SessionEvent) -> String {
    let id = |s: Option<SessionId>| s.map_or("-".to_string(), |s| s.to_string());
    match e {
        SessionEvent::Start(s) => match &s.handshake {
            Some(h) => format!(
                "start {} {} {} -> {}",
                s.id,
                h.request.method,
                h.request.target,
                h.response
                    .as_ref()
                    .map_or("none".to_string(), |r| r.status.to_string())
            ),
            None => format!("start {} (no handshake)", s.id),
        },
        SessionEvent::Message(m) => format!(
            "message {} #{} {} {} {}{}",
            m.session,
            m.index,
            if m.message.dir == C { "c2s" } else { "s2c" },
            m.message.kind.as_str(),
            match m.message.close_code {
                Some(code) => code.to_string(),
                None => format!("{:?}", String::from_utf8_lossy(&m.message.payload)),
            },
            m.rtt_nanos.map(|r| format!(" rtt {r}")).unwrap_or_default()
        ),
        SessionEvent::Finding { session, finding } => {
            format!("finding {} {}", id(*session), finding.code.as_str())
        }
        SessionEvent::End(e) => format!(
            "end {} {}",
            e.id,
            if e.upgraded {
                "upgraded"
            } else {
                "not upgraded"
            }
        ),
    }
}

/// The key every upgrade request here carries.
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// An upgrade request for `target`.
pub(super) fn upgrade_request(target: &str) -> Vec<u8> {
    format!(
        "GET {target} HTTP/1.1\r\nHost: example.com\r\nOrigin: https://example.com\r\n\
         Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .into_bytes()
}

/// The 101 that accepts [`upgrade_request`].
pub(super) fn switching() -> Vec<u8> {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        crate::handshake::accept_for(KEY)
    )
    .into_bytes()
}

/// A response with `status` and a body of `body`.
pub(super) fn response(status: u16, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status} Status\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A final frame with `opcode` and `payload`, masked (as a client sends it) or not.
pub(super) fn frame(opcode: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    assert!(payload.len() < 126);
    let mut f = vec![
        0x80 | opcode,
        payload.len() as u8 | if masked { 0x80 } else { 0 },
    ];
    if masked {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        f.extend_from_slice(&key);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    } else {
        f.extend_from_slice(payload);
    }
    f
}

/// A close frame with `code`, masked or not.
pub(super) fn close_frame(code: u16, masked: bool) -> Vec<u8> {
    frame(0x8, &code.to_be_bytes(), masked)
}
