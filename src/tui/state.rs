//! UI state: sessions and messages collected from analyzer events, plus selection, scrolling,
//! search, filter and view flags. No terminal here: everything is plain data.

use super::spill::{Spill, Spilled};
use ratatui::layout::Rect;
use std::borrow::Cow;
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use wsscope_core::analyzer::Event;
use wsscope_core::finding::Finding;
use wsscope_core::outcome::SessionOutcome;
use wsscope_core::session::{
    Handshake, SessionEnd, SessionId, SessionMessage, SessionStart, Transport,
};
use wsscope_core::sink::Sink;
use wsscope_core::tcp::Dir;
use wsscope_core::timestamp::Timestamp;
use wsscope_core::tls::TlsInfo;
use wsscope_core::totals::{CaptureTotals, RunTotals};
use wsscope_core::ws::message::{Message, MessageKind};

/// Most payload bytes kept per message, whatever the analyzer retained.
pub const MAX_PREVIEW: usize = 64 << 10;

/// Payload bytes of a message kept in memory when the rest is in the spill file (what the
/// timeline row shows).
pub const INLINE_PREVIEW: usize = 256;

/// One message as the UI keeps it: the analyzer's message event, its payload cut to what stays
/// in memory (bounded), and where the rest of the kept payload is.
#[derive(Clone, Debug)]
pub struct MsgInfo {
    /// The analyzer's message. Its `message.payload` holds the first bytes only: at most
    /// [`INLINE_PREVIEW`] when `spilled` is set, else everything kept (at most [`MAX_PREVIEW`]).
    pub event: SessionMessage,
    /// The kept payload (at most [`MAX_PREVIEW`] bytes) in the spill file, read back by
    /// [`App::payload`] when shown or searched.
    pub spilled: Option<Spilled>,
}

/// One session as the UI keeps it.
#[derive(Clone, Debug)]
pub struct SessionInfo {
    /// Session id.
    pub id: SessionId,
    /// Capture file it came from.
    pub capture: String,
    /// Client endpoint.
    pub client: SocketAddr,
    /// Server endpoint.
    pub server: SocketAddr,
    /// Start of the session.
    pub start_ts: Timestamp,
    /// The handshake, when captured.
    pub handshake: Option<Handshake>,
    /// How it ended (`None` while still open).
    pub end: Option<SessionEnd>,
    /// The outcome known from its start (a refused or unanswered upgrade), before its end.
    pub outcome_at_start: Option<SessionOutcome>,
    /// Session findings.
    pub findings: Vec<Finding>,
    /// Messages in capture order.
    pub messages: Vec<MsgInfo>,
    /// What carries the session (HTTP/1.1 upgrade or an HTTP/2 stream).
    pub transport: Transport,
    /// The TLS connection it was decrypted from, if any.
    pub tls: Option<Box<TlsInfo>>,
}

impl SessionInfo {
    /// Request path (raw; escape before showing).
    pub fn path(&self) -> &str {
        self.handshake
            .as_ref()
            .map_or("", |h| h.request.target.as_str())
    }

    /// Negotiated subprotocol (raw; escape before showing).
    pub fn subprotocol(&self) -> Option<&str> {
        self.handshake
            .as_ref()
            .and_then(|h| h.negotiated.subprotocol.as_deref())
    }

    /// Findings per severity `[info, warning, error]`.
    pub fn finding_counts(&self) -> [usize; 3] {
        let mut n = [0; 3];
        for f in &self.findings {
            n[f.severity as usize] += usize::try_from(f.count).unwrap_or(usize::MAX);
        }
        n
    }

    /// How the session ended, as core decides it (`None` while it is still open). A refused
    /// upgrade is known as soon as its response is, before its end (which waits for the TCP
    /// end on a keep-alive connection).
    pub fn outcome(&self) -> Option<SessionOutcome> {
        let status = self
            .handshake
            .as_ref()
            .and_then(|h| h.response.as_ref().map(|r| r.status));
        self.end
            .as_ref()
            .map(|e| SessionOutcome::of(e, status))
            .or(self.outcome_at_start)
    }

    /// Short state: `open`, `rejected 403`, `closed clean`, `closed rst`, `abrupt rst`, ...
    pub fn state(&self) -> String {
        let tcp = |e: &SessionEnd| e.tcp_end.map_or("open", |r| r.as_str());
        match (self.outcome(), &self.end) {
            (Some(SessionOutcome::Refused { status }), _) => format!("rejected {status}"),
            (Some(SessionOutcome::Unanswered), _) => "no response".into(),
            (Some(SessionOutcome::Closed { clean: true, .. }), _) => "closed clean".into(),
            (Some(SessionOutcome::Closed { clean: false, .. }), Some(e)) => {
                format!("closed {}", tcp(e))
            }
            (Some(SessionOutcome::Abrupt(r)), _) => format!("abrupt {}", r.as_str()),
            _ => "open".into(),
        }
    }
}

/// Focused pane.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pane {
    /// Session list.
    Sessions,
    /// Message timeline.
    Timeline,
    /// Detail pane.
    Detail,
}

/// What the detail pane shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detail {
    /// The selected session's handshake, close and findings.
    Session,
    /// The selected message.
    Message,
}

/// How timestamps are shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeMode {
    /// Time of day (UTC).
    Abs,
    /// Seconds since the session start.
    Rel,
}

/// Timeline filter, cycled with `f`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Filter {
    /// Everything.
    All,
    /// Text messages.
    Text,
    /// Binary messages.
    Binary,
    /// Ping, pong and close.
    Control,
    /// Client to server only.
    ClientToServer,
    /// Server to client only.
    ServerToClient,
}

impl Filter {
    /// The next filter in the cycle.
    pub fn next(self) -> Filter {
        match self {
            Filter::All => Filter::Text,
            Filter::Text => Filter::Binary,
            Filter::Binary => Filter::Control,
            Filter::Control => Filter::ClientToServer,
            Filter::ClientToServer => Filter::ServerToClient,
            Filter::ServerToClient => Filter::All,
        }
    }

    /// Label for the UI.
    pub fn label(self) -> &'static str {
        match self {
            Filter::All => "all",
            Filter::Text => "text",
            Filter::Binary => "binary",
            Filter::Control => "control",
            Filter::ClientToServer => "c->s",
            Filter::ServerToClient => "s->c",
        }
    }

    /// True when `m` passes.
    pub fn accepts(self, m: &MsgInfo) -> bool {
        let m = &m.event.message;
        match self {
            Filter::All => true,
            Filter::Text => m.kind == MessageKind::Text,
            Filter::Binary => m.kind == MessageKind::Binary,
            Filter::Control => matches!(
                m.kind,
                MessageKind::Ping | MessageKind::Pong | MessageKind::Close
            ),
            Filter::ClientToServer => m.dir == Dir::ClientToServer,
            Filter::ServerToClient => m.dir == Dir::ServerToClient,
        }
    }
}

/// Owned data sent from the loading thread.
#[derive(Debug)]
pub enum LoadMsg {
    /// The spill file the messages' `spilled` references point into.
    Spill(Arc<Spill>),
    /// A capture file is being read.
    Capture(String),
    /// A session began.
    Start(Box<SessionStart>),
    /// A message of a session.
    Message(SessionId, Box<MsgInfo>),
    /// A finding.
    Finding(Option<SessionId>, Finding),
    /// A session ended.
    End(Box<SessionEnd>),
    /// Bytes done / total of the current file.
    Progress(u64, u64),
    /// A file or the run failed.
    Error(String),
    /// Loading finished.
    Done,
}

/// A [`Sink`] turning events into [`LoadMsg`]s for a callback.
pub struct Collector<F: FnMut(LoadMsg)> {
    /// Receives each message.
    pub out: F,
    /// The memory budget the payload bytes kept in memory are charged to (never released: the
    /// UI keeps every message until it exits). A message refused a charge keeps no payload in
    /// memory and the drop is recorded for a `payload-budget-exceeded` finding.
    pub budget: Option<wsscope_core::budget::MemoryBudget>,
    /// Where payloads go (`None`: kept in memory).
    pub spill: Option<Arc<Spill>>,
    spill_sent: bool,
}

impl<F: FnMut(LoadMsg)> Collector<F> {
    /// Sends to `out`, charges `budget`, spills payloads to a temporary file when one can be
    /// created.
    pub fn new(out: F, budget: Option<wsscope_core::budget::MemoryBudget>) -> Self {
        Collector {
            out,
            budget,
            spill: Spill::create().ok().map(Arc::new),
            spill_sent: false,
        }
    }

    /// The kept part of `payload`: spilled (with the first [`INLINE_PREVIEW`] bytes in
    /// memory) when the spill file takes it, else all in memory.
    fn keep(&mut self, payload: &[u8]) -> (Vec<u8>, Option<Spilled>) {
        let kept = &payload[..payload.len().min(MAX_PREVIEW)];
        if kept.len() > INLINE_PREVIEW {
            if let Some(spill) = &self.spill {
                match spill.append(kept) {
                    Ok(at) => {
                        if !self.spill_sent {
                            self.spill_sent = true;
                            (self.out)(LoadMsg::Spill(Arc::clone(spill)));
                        }
                        return (kept[..INLINE_PREVIEW].to_vec(), Some(at));
                    }
                    // Disk full or similar: keep payloads in memory from now on.
                    Err(_) => self.spill = None,
                }
            }
        }
        (kept.to_vec(), None)
    }
}

impl<F: FnMut(LoadMsg)> Sink for Collector<F> {
    fn begin_capture(&mut self, path: &str) -> io::Result<()> {
        (self.out)(LoadMsg::Capture(path.to_string()));
        Ok(())
    }

    fn event(&mut self, ev: &Event<'_>) -> io::Result<()> {
        let msg = match ev {
            Event::SessionStart(s) => LoadMsg::Start(Box::new((*s).clone())),
            Event::Message(m) => {
                let msg = &m.message;
                let mut payload = &msg.payload[..];
                let inline = payload.len().min(MAX_PREVIEW).min(if self.spill.is_some() {
                    INLINE_PREVIEW
                } else {
                    MAX_PREVIEW
                });
                if let Some(b) = self.budget.as_ref().filter(|_| inline > 0) {
                    if !b.try_charge(inline as u64) {
                        b.record_drop(
                            m.session,
                            wsscope_core::budget::Dropped {
                                messages: 1,
                                bytes: inline as u64,
                            },
                        );
                        payload = &[];
                    }
                }
                let (payload, spilled) = self.keep(payload);
                let event = SessionMessage {
                    message: Message {
                        payload,
                        close_reason: msg.close_reason.clone(),
                        inflate_error: msg.inflate_error.clone(),
                        ..*msg
                    },
                    ..**m
                };
                LoadMsg::Message(m.session, Box::new(MsgInfo { event, spilled }))
            }
            Event::Finding { session, finding } => LoadMsg::Finding(*session, (*finding).clone()),
            Event::SessionEnd(e) => LoadMsg::End(Box::new((*e).clone())),
            Event::Flow(_) => return Ok(()),
        };
        (self.out)(msg);
        Ok(())
    }

    fn finish(&mut self, _totals: &RunTotals, _captures: &[CaptureTotals]) -> io::Result<()> {
        Ok(())
    }
}

/// The whole UI state.
#[derive(Debug)]
pub struct App {
    /// Sessions in start order.
    pub sessions: Vec<SessionInfo>,
    /// Session id -> position in `sessions`.
    pub by_id: HashMap<SessionId, usize>,
    /// Findings not tied to a session.
    pub capture_findings: Vec<Finding>,
    /// File being read.
    pub current_capture: String,
    /// Total messages loaded.
    pub total_messages: u64,
    /// Loading progress (bytes done, total) while loading.
    pub progress: Option<(u64, u64)>,
    /// Loading finished.
    pub loaded: bool,
    /// Errors reported while loading.
    pub errors: Vec<String>,
    /// Focused pane.
    pub pane: Pane,
    /// Detail pane content, when open.
    pub detail: Option<Detail>,
    /// Detail pane scroll (lines).
    pub detail_scroll: usize,
    /// Stats view shown.
    pub stats: bool,
    /// Help overlay shown.
    pub help: bool,
    /// Selected session (position in `sessions`).
    pub session_sel: usize,
    /// First session row shown.
    pub session_scroll: usize,
    /// Selected row of the timeline (position in `visible`).
    pub msg_sel: usize,
    /// First timeline row shown.
    pub msg_scroll: usize,
    /// Positions (in the session's messages) passing the filter.
    pub visible: Vec<usize>,
    visible_scanned: usize,
    visible_key: Option<(usize, Filter)>,
    /// Timestamp mode.
    pub time: TimeMode,
    /// Timeline filter.
    pub filter: Filter,
    /// Follow new messages.
    pub follow: bool,
    /// Search text being typed (`Some` while the prompt is open).
    pub search_input: Option<String>,
    /// Committed search query.
    pub query: String,
    /// Timeline rows (positions in `visible`) matching the query.
    pub matches: Vec<usize>,
    /// Use colours (false when NO_COLOR is set).
    pub color: bool,
    /// Terminal area last drawn (for paging and mouse hits).
    pub screen: Rect,
    /// Quit requested.
    pub quit: bool,
    /// The spill file messages' payloads are in.
    pub spill: Option<Arc<Spill>>,
}

impl Default for App {
    fn default() -> Self {
        App::new()
    }
}

impl App {
    /// Empty state; colours follow NO_COLOR.
    pub fn new() -> App {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        App {
            sessions: Vec::new(),
            by_id: HashMap::new(),
            capture_findings: Vec::new(),
            current_capture: String::new(),
            total_messages: 0,
            progress: None,
            loaded: false,
            errors: Vec::new(),
            pane: Pane::Sessions,
            detail: None,
            detail_scroll: 0,
            stats: false,
            help: false,
            session_sel: 0,
            session_scroll: 0,
            msg_sel: 0,
            msg_scroll: 0,
            visible: Vec::new(),
            visible_scanned: 0,
            visible_key: None,
            time: TimeMode::Rel,
            filter: Filter::All,
            follow: false,
            search_input: None,
            query: String::new(),
            matches: Vec::new(),
            color: !no_color,
            screen: Rect::new(0, 0, 80, 24),
            quit: false,
            spill: None,
        }
    }

    /// The kept payload of `m`, read back from the spill file when it is there (nothing when
    /// it cannot be read).
    pub fn payload<'m>(&self, m: &'m MsgInfo) -> Cow<'m, [u8]> {
        match (m.spilled, &self.spill) {
            (Some(at), Some(spill)) => Cow::Owned(spill.read(at).unwrap_or_default()),
            _ => Cow::Borrowed(&m.event.message.payload),
        }
    }

    /// Applies one message from the loader. Call [`App::refresh`] after a batch.
    pub fn load(&mut self, msg: LoadMsg) {
        match msg {
            LoadMsg::Spill(s) => self.spill = Some(s),
            LoadMsg::Capture(path) => self.current_capture = path,
            LoadMsg::Start(s) => {
                let s = *s;
                let outcome_at_start = SessionOutcome::at_start(&s);
                self.by_id.insert(s.id, self.sessions.len());
                self.sessions.push(SessionInfo {
                    id: s.id,
                    capture: self.current_capture.clone(),
                    client: s.client,
                    server: s.server,
                    start_ts: s.ts,
                    handshake: s.handshake,
                    end: None,
                    outcome_at_start,
                    findings: Vec::new(),
                    messages: Vec::new(),
                    transport: s.transport,
                    tls: s.tls,
                });
            }
            LoadMsg::Message(id, m) => {
                if let Some(&i) = self.by_id.get(&id) {
                    self.sessions[i].messages.push(*m);
                    self.total_messages += 1;
                }
            }
            LoadMsg::Finding(Some(id), f) => match self.by_id.get(&id) {
                Some(&i) => self.sessions[i].findings.push(f),
                None => self.capture_findings.push(f),
            },
            LoadMsg::Finding(None, f) => self.capture_findings.push(f),
            LoadMsg::End(e) => {
                if let Some(&i) = self.by_id.get(&e.id) {
                    self.sessions[i].end = Some(*e);
                }
            }
            LoadMsg::Progress(done, total) => self.progress = Some((done, total)),
            LoadMsg::Error(e) => self.errors.push(e),
            LoadMsg::Done => {
                self.loaded = true;
                self.progress = None;
            }
        }
    }

    /// The selected session.
    pub fn session(&self) -> Option<&SessionInfo> {
        self.sessions.get(self.session_sel)
    }

    /// The selected message.
    pub fn message(&self) -> Option<&MsgInfo> {
        let s = self.session()?;
        let &i = self.visible.get(self.msg_sel)?;
        s.messages.get(i)
    }

    /// Brings `visible` up to date with the session, filter and loaded messages; applies
    /// follow and keeps selections in bounds. Incremental when nothing but new messages changed.
    pub fn refresh(&mut self) {
        let key = (self.session_sel, self.filter);
        if self.visible_key != Some(key) {
            self.visible.clear();
            self.visible_scanned = 0;
            self.visible_key = Some(key);
        }
        if let Some(s) = self.sessions.get(self.session_sel) {
            for (i, m) in s.messages.iter().enumerate().skip(self.visible_scanned) {
                if self.filter.accepts(m) {
                    self.visible.push(i);
                }
            }
            self.visible_scanned = s.messages.len();
        }
        if self.session_sel >= self.sessions.len() {
            self.session_sel = self.sessions.len().saturating_sub(1);
        }
        if self.follow {
            self.msg_sel = self.visible.len().saturating_sub(1);
        }
        if self.msg_sel >= self.visible.len() {
            self.msg_sel = self.visible.len().saturating_sub(1);
        }
        self.fit_scroll();
    }

    /// Keeps the selected rows inside their scroll windows.
    pub fn fit_scroll(&mut self) {
        let (srows, trows) = crate::tui::render::list_rows(self, self.screen);
        self.session_scroll = fit(self.session_sel, self.session_scroll, srows);
        self.msg_scroll = fit(self.msg_sel, self.msg_scroll, trows);
    }

    /// Selects another session, resetting the timeline position.
    pub fn select_session(&mut self, i: usize) {
        let i = i.min(self.sessions.len().saturating_sub(1));
        if i != self.session_sel {
            self.session_sel = i;
            self.msg_sel = 0;
            self.msg_scroll = 0;
            self.matches.clear();
            self.detail_scroll = 0;
        }
        self.refresh();
    }

    /// Recomputes the search matches in the current timeline.
    pub fn run_search(&mut self) {
        self.matches.clear();
        if self.query.is_empty() {
            return;
        }
        let Some(s) = self.sessions.get(self.session_sel) else {
            return;
        };
        let needle = self.query.to_lowercase();
        for (row, &i) in self.visible.iter().enumerate() {
            if let Some(m) = s.messages.get(i) {
                if message_matches(m, &self.payload(m), &needle) {
                    self.matches.push(row);
                }
            }
        }
    }

    /// Moves to the next (or previous) match, wrapping around.
    pub fn jump_match(&mut self, forward: bool, include_current: bool) {
        if self.matches.is_empty() {
            return;
        }
        let cur = self.msg_sel;
        let next = if forward {
            self.matches
                .iter()
                .copied()
                .find(|&r| if include_current { r >= cur } else { r > cur })
                .or_else(|| self.matches.first().copied())
        } else {
            self.matches
                .iter()
                .rev()
                .copied()
                .find(|&r| r < cur)
                .or_else(|| self.matches.last().copied())
        };
        if let Some(r) = next {
            self.msg_sel = r;
            self.follow = false;
            self.detail_scroll = 0;
            self.fit_scroll();
        }
    }
}

/// True when the message's kept `payload` or its close reason contains `needle_lower`
/// (case-insensitive).
pub fn message_matches(m: &MsgInfo, payload: &[u8], needle_lower: &str) -> bool {
    let text = String::from_utf8_lossy(payload).to_lowercase();
    text.contains(needle_lower)
        || m.event
            .message
            .close_reason
            .as_deref()
            .is_some_and(|r| r.to_lowercase().contains(needle_lower))
}

/// New scroll offset so that `sel` is inside a window of `rows` rows.
pub fn fit(sel: usize, scroll: usize, rows: usize) -> usize {
    let rows = rows.max(1);
    if sel < scroll {
        sel
    } else if sel >= scroll + rows {
        sel + 1 - rows
    } else {
        scroll
    }
}
