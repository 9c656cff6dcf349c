//! The protocol stack of one TCP flow: what sits between its TCP streams and the sessions.
//!
//! [`FlowStack`] starts [`FlowStack::Undecided`] and picks its layer on the first client
//! bytes: the HTTP/2 connection preface ([`crate::h2::frame::check_preface`]) makes it
//! [`FlowStack::H2`] (cleartext HTTP/2 with prior knowledge, each RFC 8441 stream a session);
//! anything else, the server sending first, a gap or the connection ending first makes it
//! [`FlowStack::Http1`] (the HTTP/1.1 upgrade path, unchanged), which becomes
//! [`FlowStack::H2`] if a 101 answers with `Upgrade: h2c` (RFC 7540 3.2). While the first client bytes
//! are a strict prefix of the preface (at most 23 bytes) they are held.
//!
//! Every method takes in-order plain bytes and TCP events, as [`Connection`] does, and
//! dispatches with one match. A layer fed with other bytes (TLS plaintext) can hold a
//! `FlowStack` of its own, made with [`FlowStack::new`] (decided by the preface) or
//! [`FlowStack::h2`] / [`FlowStack::http1`] when the layer already knows (ALPN).

use std::net::SocketAddr;

use crate::h2::frame::{check_preface, PrefaceCheck};
use crate::session::{
    Classification, Connection, H2Sessions, SessionConfig, SessionEvent, SessionId, TcpNotice,
};
use crate::tcp::flow::Began;
use crate::tcp::{Dir, FlowId, FlowSummary};
use crate::timestamp::Timestamp;
use crate::tls::flow::{sniff, Sniff, TlsEvent, TlsFinding, TlsFlow, TlsLimits};
use crate::tls::keylog::KeyStore;
use crate::tls::TlsInfo;

/// What the layers of a flow are configured with (borrowed from the analyzer's settings).
#[derive(Clone, Copy, Debug)]
pub struct StackConfig<'a> {
    /// Session-level settings.
    pub session: &'a SessionConfig,
    /// TLS secrets, looked up when a TLS connection needs its keys.
    pub keys: &'a KeyStore,
    /// Bounds of the TLS layer.
    pub tls: TlsLimits,
}

/// Who the flow's endpoints are, as the flow table reported them.
#[derive(Clone, Copy, Debug)]
pub struct Endpoints {
    /// The flow.
    pub flow: FlowId,
    /// Client endpoint.
    pub client: SocketAddr,
    /// Server endpoint.
    pub server: SocketAddr,
    /// How the TCP connection began.
    pub began: Began,
    /// The roles were inferred.
    pub roles_inferred: bool,
}

/// Server bytes held while the client has not spoken, when they start like an HTTP/2
/// server's SETTINGS frame (an HTTP/2 server may send it before reading the preface).
const MAX_HELD_SERVER_BYTES: usize = 16 * 1024 + 9;

/// A flow whose layer is not known yet.
pub struct Undecided {
    ends: Endpoints,
    /// Bytes held until the decision, in capture order: direction, time, packet, bytes.
    held: Vec<(Dir, Timestamp, u64, Vec<u8>)>,
    /// Client bytes held (all agree with the preface so far).
    client_held: usize,
    /// Server bytes held (they start like a SETTINGS frame).
    server_held: Vec<u8>,
    /// The bytes are TLS plaintext: what the handshake showed.
    tls: Option<Box<crate::tls::TlsInfo>>,
}

/// The server's first bytes may be an HTTP/2 SETTINGS frame (type 4, no flags, stream 0).
fn may_be_settings(bytes: &[u8]) -> bool {
    let want: [Option<u8>; 9] = [
        None,
        None,
        None,
        Some(4),
        Some(0),
        Some(0),
        Some(0),
        Some(0),
        Some(0),
    ];
    bytes
        .iter()
        .zip(want)
        .all(|(b, w)| w.is_none_or(|w| *b == w))
}

/// The layers of one flow (see the module documentation).
// The analyzer boxes each `FlowStack`; HTTP/1.1, the common case, is kept inline so that an
// event costs one indirection, as before the stack existed.
#[allow(clippy::large_enum_variant)]
pub enum FlowStack {
    /// Waiting for the first client bytes.
    Undecided(Undecided),
    /// HTTP/1.1, upgraded to WebSocket or not.
    Http1(Connection),
    /// HTTP/2: RFC 8441 WebSocket streams.
    H2(Box<H2Sessions>),
    /// TLS: decrypted with the key logs, the plaintext fed to a stack of its own.
    Tls(Box<TlsStack>),
    /// Nothing more to examine (only while switching layers).
    Done,
}

impl FlowStack {
    /// A flow whose first client bytes decide its layer.
    pub fn new(ends: Endpoints) -> Self {
        // Small and inline: a connection that never sends a byte (a SYN flood) costs no more
        // than before the stack existed.
        FlowStack::Undecided(Undecided {
            ends,
            held: Vec::new(),
            client_held: 0,
            server_held: Vec::new(),
            tls: None,
        })
    }

    /// A flow known to carry HTTP/1.1.
    pub fn http1(ends: Endpoints) -> Self {
        FlowStack::Http1(Self::connection(&ends))
    }

    /// A flow known to carry HTTP/2 (its client sends the preface first).
    pub fn h2(ends: Endpoints) -> Self {
        FlowStack::H2(Box::new(H2Sessions::new(
            ends.flow,
            ends.client,
            ends.server,
            ends.began,
            ends.roles_inferred,
        )))
    }

    fn connection(ends: &Endpoints) -> Connection {
        Connection::new(
            ends.flow,
            ends.client,
            ends.server,
            ends.began,
            ends.roles_inferred,
        )
    }

    /// The bytes were decrypted from a TLS connection: every session reports `tls`.
    pub fn set_tls(&mut self, tls: crate::tls::TlsInfo) {
        match self {
            FlowStack::Undecided(u) => u.tls = Some(Box::new(tls)),
            FlowStack::Http1(c) => c.set_tls(tls),
            FlowStack::H2(h) => h.set_tls(tls),
            FlowStack::Tls(_) | FlowStack::Done => {}
        }
    }

    /// What the flow carried so far.
    pub fn classification(&self) -> Classification {
        match self {
            FlowStack::Undecided(_) => Classification::Other,
            FlowStack::Http1(c) => c.classification(),
            FlowStack::H2(h) => h.classification(),
            FlowStack::Tls(t) => t.classification(),
            FlowStack::Done => Classification::Other,
        }
    }

    /// True when nothing more is examined (the flow can be bypassed).
    pub fn is_done(&self) -> bool {
        match self {
            FlowStack::Undecided(_) => false,
            FlowStack::Http1(c) => c.is_done(),
            FlowStack::H2(h) => h.is_done(),
            FlowStack::Tls(t) => t.is_done(),
            FlowStack::Done => true,
        }
    }

    /// Evidence about the roles for the flow table (see [`Connection::take_role_evidence`]).
    pub fn take_role_evidence(&mut self) -> Option<Dir> {
        match self {
            FlowStack::Undecided(_) | FlowStack::Done => None,
            FlowStack::Http1(c) => c.take_role_evidence(),
            FlowStack::H2(h) => h.take_role_evidence(),
            FlowStack::Tls(t) => t.inner.as_mut().and_then(FlowStack::take_role_evidence),
        }
    }

    /// In-order bytes in direction `dir`, delivered by packet number `packet`.
    #[allow(clippy::too_many_arguments)]
    pub fn on_data(
        &mut self,
        cfg: &StackConfig<'_>,
        next_id: &mut SessionId,
        dir: Dir,
        ts: Timestamp,
        packet: u64,
        data: &[u8],
        out: &mut Vec<SessionEvent>,
    ) {
        match self {
            FlowStack::Http1(c) => {
                c.on_data(cfg.session, next_id, dir, ts, packet, data, out);
                if c.is_done() {
                    self.after_http1(cfg, next_id, out);
                }
            }
            FlowStack::H2(h) => h.on_data(cfg.session, next_id, dir, ts, packet, data, out),
            FlowStack::Tls(t) => t.on_data(cfg, next_id, dir, ts, packet, data, out),
            FlowStack::Undecided(u) => {
                let decision = match dir {
                    // The server spoke first: HTTP/1.1 (today's behaviour), unless the roles
                    // are known and it starts like an HTTP/2 server's SETTINGS: then the
                    // client's first bytes decide.
                    // TLS joined after its handshake: records, but no ClientHello to read.
                    _ if u.tls.is_none() && u.held.is_empty() && mid_connection_tls(data) => {
                        Decision::Tls
                    }
                    Dir::ServerToClient => {
                        let hold = !u.ends.roles_inferred
                            && u.server_held.len() + data.len() <= MAX_HELD_SERVER_BYTES
                            && {
                                u.server_held.extend_from_slice(data);
                                may_be_settings(&u.server_held)
                            };
                        if hold {
                            Decision::Hold
                        } else {
                            Decision::Http1
                        }
                    }
                    Dir::ClientToServer => {
                        let all: std::borrow::Cow<'_, [u8]> = if u.client_held == 0 {
                            std::borrow::Cow::Borrowed(data)
                        } else {
                            let mut all: Vec<u8> = u
                                .held
                                .iter()
                                .filter(|h| h.0 == Dir::ClientToServer)
                                .flat_map(|h| h.3.iter().copied())
                                .collect();
                            all.extend_from_slice(data);
                            std::borrow::Cow::Owned(all)
                        };
                        // Bytes already decrypted from TLS are not looked at as TLS again.
                        let tls = if u.tls.is_some() {
                            Sniff::NotTls
                        } else {
                            sniff(&all)
                        };
                        match (tls, check_preface(&all)) {
                            (Sniff::Tls, _) => Decision::Tls,
                            (_, PrefaceCheck::Match) => Decision::H2,
                            (Sniff::NeedMore, _) | (_, PrefaceCheck::Partial) => Decision::Hold,
                            (Sniff::NotTls, PrefaceCheck::NoMatch) => Decision::Http1,
                        }
                    }
                };
                match decision {
                    Decision::Hold => {
                        if dir == Dir::ClientToServer {
                            u.client_held += data.len();
                        }
                        u.held.push((dir, ts, packet, data.to_vec()));
                    }
                    Decision::H2 | Decision::Tls => {
                        let held = std::mem::take(&mut u.held);
                        *self = if decision == Decision::Tls {
                            FlowStack::Tls(Box::new(TlsStack::new(u.ends, cfg)))
                        } else {
                            let tls = u.tls.take();
                            let mut h2 = Self::h2(u.ends);
                            if let Some(tls) = tls {
                                h2.set_tls(*tls);
                            }
                            h2
                        };
                        for (d, t, p, b) in held {
                            self.on_data(cfg, next_id, d, t, p, &b, out);
                        }
                        self.on_data(cfg, next_id, dir, ts, packet, data, out);
                    }
                    Decision::Http1 => {
                        self.become_http1(cfg, next_id, out);
                        self.on_data(cfg, next_id, dir, ts, packet, data, out);
                    }
                }
            }
            FlowStack::Done => {}
        }
    }

    /// HTTP/1.1 stopped: when a 101 switched to HTTP/2 (`Upgrade: h2c`), HTTP/2 takes over
    /// with the bytes that followed.
    fn after_http1(
        &mut self,
        cfg: &StackConfig<'_>,
        next_id: &mut SessionId,
        out: &mut Vec<SessionEvent>,
    ) {
        let FlowStack::Http1(c) = self else {
            return;
        };
        let Some(switch) = c.take_h2c_switch() else {
            return;
        };
        *self = FlowStack::H2(Box::new(H2Sessions::after_upgrade(&switch)));
        if let FlowStack::H2(h) = self {
            let (ts, packet) = (switch.ts, switch.packet);
            for (dir, bytes) in [
                (Dir::ClientToServer, &switch.c2s),
                (Dir::ServerToClient, &switch.s2c),
            ] {
                if !bytes.is_empty() {
                    h.on_data(cfg.session, next_id, dir, ts, packet, bytes, out);
                }
            }
        }
    }

    /// Decides HTTP/1.1: the held client bytes go first.
    fn become_http1(
        &mut self,
        cfg: &StackConfig<'_>,
        next_id: &mut SessionId,
        out: &mut Vec<SessionEvent>,
    ) {
        let FlowStack::Undecided(u) = std::mem::replace(self, FlowStack::Done) else {
            return;
        };
        let mut conn = Self::connection(&u.ends);
        if let Some(tls) = u.tls {
            conn.set_tls(*tls);
        }
        let held = u.held;
        for (dir, ts, packet, bytes) in held {
            conn.on_data(cfg.session, next_id, dir, ts, packet, &bytes, out);
        }
        *self = FlowStack::Http1(conn);
    }

    /// `len` bytes missing in direction `dir` (`cut`: cut off by the snaplen).
    #[allow(clippy::too_many_arguments)]
    pub fn on_gap(
        &mut self,
        cfg: &StackConfig<'_>,
        next_id: &mut SessionId,
        dir: Dir,
        ts: Timestamp,
        len: u64,
        cut: bool,
        out: &mut Vec<SessionEvent>,
    ) {
        match self {
            FlowStack::Http1(c) => {
                c.on_gap(cfg.session, next_id, dir, ts, len, cut, out);
                if c.is_done() {
                    self.after_http1(cfg, next_id, out);
                }
            }
            FlowStack::H2(h) => h.on_gap(cfg.session, next_id, dir, ts, len, cut, out),
            FlowStack::Tls(t) => t.on_gap(cfg, next_id, dir, ts, len, cut, out),
            FlowStack::Undecided(_) => {
                self.become_http1(cfg, next_id, out);
                self.on_gap(cfg, next_id, dir, ts, len, cut, out);
            }
            FlowStack::Done => {}
        }
    }

    /// Something the TCP layer noticed about direction `dir` (a retransmission that differs, a
    /// segment not used, out-of-order data given up for the memory budget).
    pub fn on_tcp_notice(
        &mut self,
        dir: Dir,
        ts: Timestamp,
        notice: TcpNotice,
        out: &mut Vec<SessionEvent>,
    ) {
        match self {
            FlowStack::Undecided(_) => out.push(notice.finding(None, dir, ts)),
            FlowStack::Http1(c) => c.on_tcp_notice(dir, ts, notice, out),
            FlowStack::H2(h) => h.on_tcp_notice(dir, ts, notice, out),
            FlowStack::Tls(t) => t.inner_mut().on_tcp_notice(dir, ts, notice, out),
            FlowStack::Done => {}
        }
    }

    /// A FIN from `dir` (a flow still undecided is HTTP/1.1 from then on).
    pub fn on_fin(
        &mut self,
        cfg: &StackConfig<'_>,
        next_id: &mut SessionId,
        dir: Dir,
        out: &mut Vec<SessionEvent>,
    ) {
        match self {
            FlowStack::Http1(c) => c.on_fin(dir),
            FlowStack::H2(h) => h.on_fin(dir),
            FlowStack::Tls(t) => t.on_end(cfg, next_id, dir, false, out),
            FlowStack::Undecided(_) => {
                self.become_http1(cfg, next_id, out);
                self.on_fin(cfg, next_id, dir, out);
            }
            FlowStack::Done => {}
        }
    }

    /// A RST from `dir` (a flow still undecided is HTTP/1.1 from then on).
    pub fn on_rst(
        &mut self,
        cfg: &StackConfig<'_>,
        next_id: &mut SessionId,
        dir: Dir,
        out: &mut Vec<SessionEvent>,
    ) {
        match self {
            FlowStack::Http1(c) => c.on_rst(dir),
            FlowStack::H2(h) => h.on_rst(dir),
            FlowStack::Tls(t) => t.on_end(cfg, next_id, dir, true, out),
            FlowStack::Undecided(_) => {
                self.become_http1(cfg, next_id, out);
                self.on_rst(cfg, next_id, dir, out);
            }
            FlowStack::Done => {}
        }
    }

    /// The TCP connection is gone: finish everything and end the open sessions.
    pub fn on_closed(
        &mut self,
        cfg: &StackConfig<'_>,
        next_id: &mut SessionId,
        ts: Timestamp,
        summary: &FlowSummary,
        out: &mut Vec<SessionEvent>,
    ) {
        match self {
            FlowStack::Http1(c) => c.on_closed(ts, summary, out),
            FlowStack::H2(h) => h.on_closed(next_id, ts, summary, out),
            FlowStack::Tls(t) => t.on_closed(cfg, next_id, ts, summary, out),
            FlowStack::Undecided(_) => {
                self.become_http1(cfg, next_id, out);
                self.on_closed(cfg, next_id, ts, summary, out);
            }
            FlowStack::Done => {}
        }
    }
}

/// The first bytes seen of a flow captured after its start are a TLS record that is not a
/// ClientHello: application data, change_cipher_spec, an alert or an encrypted handshake
/// message, with a TLS 1.0-1.3 record version and a length a record may have. The TLS layer
/// then reports the connection as not decrypted (its handshake was not captured).
fn mid_connection_tls(first: &[u8]) -> bool {
    match first {
        [20..=23, 3, 1..=4, hi, lo, ..] => {
            let len = usize::from(u16::from_be_bytes([*hi, *lo]));
            len > 0 && len <= crate::tls::record::MAX_RECORD_LEN
        }
        _ => false,
    }
}

/// What the first bytes of an undecided flow say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Decision {
    /// Not enough bytes yet.
    Hold,
    /// HTTP/1.1.
    Http1,
    /// The HTTP/2 preface.
    H2,
    /// A TLS ClientHello.
    Tls,
}

/// The memory budget is charged for what a TLS connection holds in steps of this size.
const TLS_CHARGE_STEP: u64 = 64 * 1024;

/// A TLS flow: its [`TlsFlow`] and the stack its plaintext feeds. The inner stack is made when
/// the handshake is known (ALPN `h2` makes it HTTP/2 at once; otherwise the plaintext's first
/// bytes decide, as for a cleartext flow).
pub struct TlsStack {
    flow: TlsFlow,
    ends: Endpoints,
    inner: Option<FlowStack>,
    events: Vec<TlsEvent>,
    /// Application data was decrypted (the sessions were told).
    decrypted: bool,
    /// Bytes charged to the memory budget for what the TLS layer holds.
    charged: u64,
    /// The memory budget was reached: decryption was given up, the TLS layer's state dropped;
    /// what its handshake had shown is kept for the flow's report.
    abandoned: Option<Box<TlsInfo>>,
    /// The packet of the latest bytes (plaintext released at the end is attributed to it).
    packet: u64,
    /// FIN (`false`) or RST (`true`) seen before the inner stack existed, replayed into it.
    ends_seen: Vec<(Dir, bool)>,
}

impl TlsStack {
    fn new(ends: Endpoints, cfg: &StackConfig<'_>) -> Self {
        TlsStack {
            flow: TlsFlow::new(cfg.tls),
            ends,
            inner: None,
            events: Vec::new(),
            decrypted: false,
            charged: 0,
            abandoned: None,
            packet: 0,
            ends_seen: Vec::new(),
        }
    }

    /// What the handshake showed, with `decrypted` as the sessions were told.
    pub fn info(&self) -> TlsInfo {
        let mut info = match &self.abandoned {
            Some(info) => (**info).clone(),
            None => self.flow.info().clone(),
        };
        info.decrypted = self.decrypted;
        info
    }

    fn classification(&self) -> Classification {
        match &self.inner {
            Some(inner) if self.decrypted => inner.classification(),
            _ => Classification::Tls,
        }
    }

    /// Nothing more comes out of the TLS layer, or the plaintext is not examined any further.
    fn is_done(&self) -> bool {
        self.abandoned.is_some()
            || self.flow.is_done()
            || self.inner.as_ref().is_some_and(FlowStack::is_done)
    }

    /// The inner stack, made now if the handshake has not made it yet (it receives the
    /// connection-level findings).
    fn inner_mut(&mut self) -> &mut FlowStack {
        if self.inner.is_none() {
            let mut stack = FlowStack::new(self.ends);
            stack.set_tls(self.info());
            self.inner = Some(stack);
        }
        // Made just above when missing: the closure never runs.
        self.inner.get_or_insert_with(|| FlowStack::Done)
    }

    #[allow(clippy::too_many_arguments)]
    fn on_data(
        &mut self,
        cfg: &StackConfig<'_>,
        next_id: &mut SessionId,
        dir: Dir,
        ts: Timestamp,
        packet: u64,
        data: &[u8],
        out: &mut Vec<SessionEvent>,
    ) {
        if self.abandoned.is_some() {
            return;
        }
        self.packet = packet;
        let mut events = std::mem::take(&mut self.events);
        self.flow.feed(dir, data, cfg.keys, &mut events);
        self.deliver(cfg, next_id, ts, &mut events, out);
        self.events = events;
        self.account(cfg, ts, out);
    }

    #[allow(clippy::too_many_arguments)]
    fn on_gap(
        &mut self,
        cfg: &StackConfig<'_>,
        next_id: &mut SessionId,
        dir: Dir,
        ts: Timestamp,
        len: u64,
        cut: bool,
        out: &mut Vec<SessionEvent>,
    ) {
        let mut events = std::mem::take(&mut self.events);
        self.flow.gap(dir, &mut events);
        self.deliver(cfg, next_id, ts, &mut events, out);
        self.events = events;
        // The plaintext stream loses its bytes from here on: the sessions report the gap and
        // the message it cut.
        self.inner_mut()
            .on_gap(cfg, next_id, dir, ts, len, cut, out);
        self.account(cfg, ts, out);
    }

    fn on_end(
        &mut self,
        cfg: &StackConfig<'_>,
        next_id: &mut SessionId,
        dir: Dir,
        rst: bool,
        out: &mut Vec<SessionEvent>,
    ) {
        match self.inner.as_mut() {
            Some(inner) if rst => inner.on_rst(cfg, next_id, dir, out),
            Some(inner) => inner.on_fin(cfg, next_id, dir, out),
            None => self.ends_seen.push((dir, rst)),
        }
    }

    fn on_closed(
        &mut self,
        cfg: &StackConfig<'_>,
        next_id: &mut SessionId,
        ts: Timestamp,
        summary: &FlowSummary,
        out: &mut Vec<SessionEvent>,
    ) {
        if self.abandoned.is_none() {
            let mut events = std::mem::take(&mut self.events);
            self.flow.finish(cfg.keys, &mut events);
            self.deliver(cfg, next_id, ts, &mut events, out);
            self.events = events;
        }
        if let Some(inner) = self.inner.as_mut() {
            inner.on_closed(cfg, next_id, ts, summary, out);
        }
        self.release(cfg);
    }

    /// Hands what the TLS layer produced to the inner stack and the findings to `out`.
    fn deliver(
        &mut self,
        cfg: &StackConfig<'_>,
        next_id: &mut SessionId,
        ts: Timestamp,
        events: &mut Vec<TlsEvent>,
        out: &mut Vec<SessionEvent>,
    ) {
        for ev in events.drain(..) {
            match ev {
                TlsEvent::Ready => {
                    if self.inner.is_none() {
                        let h2 = self.flow.info().alpn.as_deref() == Some("h2");
                        let mut stack = if h2 {
                            FlowStack::h2(self.ends)
                        } else {
                            FlowStack::new(self.ends)
                        };
                        stack.set_tls(self.info());
                        self.inner = Some(stack);
                    }
                    for (dir, rst) in std::mem::take(&mut self.ends_seen) {
                        self.on_end(cfg, next_id, dir, rst, out);
                    }
                }
                TlsEvent::Plaintext { from, bytes } => {
                    if !self.decrypted {
                        self.decrypted = true;
                        let info = self.info();
                        self.inner_mut().set_tls(info);
                    }
                    let packet = self.packet;
                    self.inner_mut()
                        .on_data(cfg, next_id, from, ts, packet, &bytes, out);
                }
                // The direction stops: what it cut is reported when the connection ends (an
                // incomplete message), the reason by the finding that comes with it, and the
                // sessions do not blame that side for a close frame they could not see.
                TlsEvent::Lost { from } => {
                    if let Some(inner) = self.inner.as_mut() {
                        inner.on_undecodable(from);
                    }
                }
                TlsEvent::Finding(f) => {
                    let dir = match &f {
                        TlsFinding::NotDecrypted { from, .. } => *from,
                        TlsFinding::DecryptFailed { from, .. } | TlsFinding::Alert { from, .. } => {
                            Some(*from)
                        }
                    };
                    // Named by its endpoints: a connection-level finding has no session.
                    let detail = format!("{} -> {}: {f}", self.ends.client, self.ends.server);
                    out.push(SessionEvent::finding(None, f.code(), dir, ts, detail));
                }
            }
        }
    }

    /// Charges the memory budget for what the TLS layer holds; past the budget, decryption of
    /// this connection is given up (`memory-budget-exceeded`).
    fn account(&mut self, cfg: &StackConfig<'_>, ts: Timestamp, out: &mut Vec<SessionEvent>) {
        let Some(budget) = cfg.session.budget.as_ref() else {
            return;
        };
        let want = (self.flow.held() as u64).div_ceil(TLS_CHARGE_STEP) * TLS_CHARGE_STEP;
        if want < self.charged {
            budget.release(self.charged - want);
            self.charged = want;
        } else if want > self.charged {
            if budget.try_charge_analysis(want - self.charged) {
                self.charged = want;
            } else {
                let held = self.flow.held() as u64;
                self.abandoned = Some(Box::new(self.flow.info().clone()));
                self.flow = TlsFlow::new(cfg.tls);
                self.release(cfg);
                out.push(SessionEvent::finding(
                    None,
                    crate::finding::Code::MemoryBudgetExceeded,
                    None,
                    ts,
                    format!(
                        "memory budget reached (--max-memory {}): the TLS connection's {} of records held were given up and it is not decrypted further",
                        crate::budget::human(budget.limit()),
                        crate::budget::human(held)
                    ),
                ));
            }
        }
    }

    fn release(&mut self, cfg: &StackConfig<'_>) {
        if let Some(budget) = cfg.session.budget.as_ref() {
            budget.release(self.charged);
        }
        self.charged = 0;
    }
}

impl FlowStack {
    /// The bytes of `dir` stopped being decodable (a TLS record failed to decrypt).
    pub fn on_undecodable(&mut self, dir: Dir) {
        match self {
            FlowStack::Http1(c) => c.on_undecodable(dir),
            FlowStack::H2(h) => h.on_undecodable(dir),
            FlowStack::Tls(t) => {
                if let Some(inner) = t.inner.as_mut() {
                    inner.on_undecodable(dir);
                }
            }
            FlowStack::Undecided(_) | FlowStack::Done => {}
        }
    }

    /// What the flow's TLS handshake showed, when the flow is TLS.
    pub fn tls_info(&self) -> Option<TlsInfo> {
        match self {
            FlowStack::Tls(t) => Some(t.info()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h2::frame::PREFACE;
    use crate::session::Transport;

    const C: Dir = Dir::ClientToServer;
    const S: Dir = Dir::ServerToClient;

    fn h2frame(kind: u8, flags: u8, sid: u32, payload: &[u8]) -> Vec<u8> {
        let mut v = (payload.len() as u32).to_be_bytes()[1..].to_vec();
        v.extend([kind, flags]);
        v.extend_from_slice(&sid.to_be_bytes());
        v.extend_from_slice(payload);
        v
    }

    fn lits(fields: &[(&str, &str)]) -> Vec<u8> {
        let mut v = Vec::new();
        for (n, val) in fields {
            v.extend([0x00, n.len() as u8]);
            v.extend_from_slice(n.as_bytes());
            v.push(val.len() as u8);
            v.extend_from_slice(val.as_bytes());
        }
        v
    }

    struct T {
        stack: FlowStack,
        cfg: SessionConfig,
        keys: KeyStore,
        next_id: SessionId,
        out: Vec<SessionEvent>,
        packet: u64,
    }

    impl T {
        fn new(roles_inferred: bool) -> T {
            T {
                stack: FlowStack::new(Endpoints {
                    flow: FlowId(1),
                    client: SocketAddr::from(([10, 0, 0, 1], 40000)),
                    server: SocketAddr::from(([10, 0, 0, 2], 80)),
                    began: Began::Syn,
                    roles_inferred,
                }),
                cfg: SessionConfig::default(),
                keys: KeyStore::new(),
                next_id: 0,
                out: Vec::new(),
                packet: 0,
            }
        }

        fn send(&mut self, dir: Dir, bytes: &[u8]) {
            self.packet += 1;
            let cfg = StackConfig {
                session: &self.cfg,
                keys: &self.keys,
                tls: TlsLimits::default(),
            };
            self.stack.on_data(
                &cfg,
                &mut self.next_id,
                dir,
                Timestamp(self.packet as i64),
                self.packet,
                bytes,
                &mut self.out,
            );
        }
    }

    fn server_settings() -> Vec<u8> {
        h2frame(4, 0, 0, &[0, 8, 0, 0, 0, 1])
    }

    #[test]
    fn the_preface_in_pieces_after_the_servers_settings_is_http2() {
        let mut t = T::new(false);
        t.send(S, &server_settings());
        assert!(matches!(t.stack, FlowStack::Undecided(_)));
        for piece in PREFACE.chunks(5) {
            t.send(C, piece);
        }
        assert!(matches!(t.stack, FlowStack::H2(_)));
        let connect = lits(&[
            (":method", "CONNECT"),
            (":protocol", "websocket"),
            (":scheme", "http"),
            (":path", "/p"),
            (":authority", "a"),
            ("sec-websocket-version", "13"),
        ]);
        t.send(C, &h2frame(1, 4, 1, &connect));
        t.send(S, &h2frame(1, 4, 1, &lits(&[(":status", "200")])));
        let starts: Vec<(Transport, bool)> = t
            .out
            .iter()
            .filter_map(|e| match e {
                SessionEvent::Start(s) => Some((s.transport, s.upgraded)),
                _ => None,
            })
            .collect();
        // The held SETTINGS enabled extended CONNECT: no finding.
        assert_eq!(starts, [(Transport::H2 { stream_id: 1 }, true)]);
        assert!(
            !t.out
                .iter()
                .any(|e| matches!(e, SessionEvent::Finding { .. })),
            "{:?}",
            t.out
        );
        assert_eq!(t.stack.classification(), Classification::WebSocket);
    }

    #[test]
    fn other_first_bytes_keep_http1() {
        // A client that does not send the preface.
        let mut t = T::new(false);
        t.send(C, b"PRI * HTTP/1.1\r\n");
        assert!(matches!(t.stack, FlowStack::Http1(_)));
        // A server speaking first with something else than SETTINGS.
        let mut t = T::new(false);
        t.send(S, b"220 smtp ready\r\n");
        assert!(matches!(t.stack, FlowStack::Http1(_)));
        // Roles inferred, the server speaking first: as before the stack existed.
        let mut t = T::new(true);
        t.send(S, &server_settings());
        assert!(matches!(t.stack, FlowStack::Http1(_)));
        // Held bytes go to HTTP/1.1 in order when the decision comes.
        let mut t = T::new(false);
        t.send(C, b"P");
        assert!(matches!(t.stack, FlowStack::Undecided(_)));
        t.send(
            C,
            b"OST /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        );
        assert!(matches!(t.stack, FlowStack::Http1(_)));
        t.send(
            S,
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
        );
        let start = t.out.iter().find_map(|e| match e {
            SessionEvent::Start(s) => Some(s),
            _ => None,
        });
        let hs = start.and_then(|s| s.handshake.as_ref()).expect("a session");
        assert_eq!(
            (hs.request.method.as_str(), hs.request.target.as_str()),
            ("POST", "/chat")
        );
        assert!(hs.negotiated.accept_valid);
        assert_eq!(t.stack.classification(), Classification::WebSocket);
    }
}
