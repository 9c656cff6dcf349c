//! UI state: sessions and messages collected from analyzer events, plus selection, scrolling,
//! search, filter and view flags. No terminal here: everything is plain data.

use super::spill::{Spill, Spilled};
use super::store::{MsgRow, MsgStore};
use ratatui::layout::Rect;
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
use wsscope_core::ws::message::MessageKind;

/// Payload bytes a timeline row reads back to draw its preview.
pub const ROW_PREVIEW: usize = 256;

/// One session as the UI keeps it.
#[derive(Clone, Debug)]
pub struct SessionInfo {
    /// The analyzer's session start (endpoints, handshake, transport, TLS).
    pub start: Box<SessionStart>,
    /// Capture file it came from.
    pub capture: String,
    /// How it ended (`None` while still open).
    pub end: Option<SessionEnd>,
    /// Session findings, each with the number of this session's messages loaded when it
    /// arrived (its place among the messages, for exporting the session's events in order).
    pub findings: Vec<Finding>,
    /// For each finding: messages of the session loaded before it.
    pub finding_at: Vec<usize>,
    /// Messages not listed (the memory budget refused their rows), run-length: (position of
    /// the next listed message, how many were skipped there).
    pub unlisted: Vec<(u32, u64)>,
    /// Messages in capture order (the index; payloads are in the spill).
    pub messages: MsgStore,
}

impl SessionInfo {
    /// A session from its start event, read from `capture`.
    pub fn new(start: Box<SessionStart>, capture: String) -> Self {
        SessionInfo {
            start,
            capture,
            end: None,
            findings: Vec::new(),
            finding_at: Vec::new(),
            unlisted: Vec::new(),
            messages: MsgStore::new(),
        }
    }

    /// The message's 1-based index in the session (as the analyzer numbers it) of the row at
    /// position `pos`: the position plus the messages not listed before it.
    pub fn index_of(&self, pos: usize) -> u64 {
        let skipped: u64 = self
            .unlisted
            .iter()
            .take_while(|&&(at, _)| at as usize <= pos)
            .map(|&(_, n)| n)
            .sum();
        pos as u64 + 1 + skipped
    }

    /// Records a message that is not listed (its row refused by the budget).
    fn skip_message(&mut self) {
        let at = u32::try_from(self.messages.len()).unwrap_or(u32::MAX);
        match self.unlisted.last_mut() {
            Some((p, n)) if *p == at => *n += 1,
            _ => self.unlisted.push((at, 1)),
        }
    }

    /// Session id.
    pub fn id(&self) -> SessionId {
        self.start.id
    }

    /// Client endpoint.
    pub fn client(&self) -> SocketAddr {
        self.start.client
    }

    /// Server endpoint.
    pub fn server(&self) -> SocketAddr {
        self.start.server
    }

    /// Start of the session.
    pub fn start_ts(&self) -> Timestamp {
        self.start.ts
    }

    /// The handshake, when captured.
    pub fn handshake(&self) -> Option<&Handshake> {
        self.start.handshake.as_ref()
    }

    /// What carries the session.
    pub fn transport(&self) -> Transport {
        self.start.transport
    }

    /// The TLS connection it was decrypted from, if any.
    pub fn tls(&self) -> Option<&TlsInfo> {
        self.start.tls.as_deref()
    }

    /// Request path (raw; escape before showing); `None` when the handshake was not captured
    /// (the session was joined mid-stream).
    pub fn path(&self) -> Option<&str> {
        self.handshake().map(|h| h.request.target.as_str())
    }

    /// Negotiated subprotocol (raw; escape before showing).
    pub fn subprotocol(&self) -> Option<&str> {
        self.handshake()
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
            .handshake()
            .and_then(|h| h.response.as_ref().map(|r| r.status));
        match &self.end {
            Some(e) => Some(SessionOutcome::of(e, status)),
            None => SessionOutcome::at_start(&self.start),
        }
    }

    /// The code of the first close frame (the initiator's), if one carried a code.
    pub fn close_code(&self) -> Option<u16> {
        let e = self.end.as_ref()?;
        let first = match e.initiator {
            Some(Dir::ServerToClient) => [&e.server_close, &e.client_close],
            _ => [&e.client_close, &e.server_close],
        };
        first.into_iter().flatten().find_map(|c| c.code)
    }

    /// Short state: `open`, `rejected 403`, `closed`, `closed rst`, `abrupt rst`, ...
    pub fn state(&self) -> String {
        let tcp = |e: &SessionEnd| e.tcp_end.map_or("open", |r| r.as_str());
        match (self.outcome(), &self.end) {
            (Some(SessionOutcome::Refused { status }), _) => format!("rejected {status}"),
            (Some(SessionOutcome::Unanswered), _) => "no response".into(),
            (Some(SessionOutcome::Closed { clean: true, .. }), _) => "closed".into(),
            (Some(SessionOutcome::Closed { clean: false, .. }), Some(e)) => {
                format!("closed {}", tcp(e))
            }
            (Some(SessionOutcome::Abrupt(r)), _) => format!("abrupt {}", r.as_str()),
            _ => "open".into(),
        }
    }

    /// True when finding `k` belongs to the message at position `pos`: the first message,
    /// from where the finding arrived among the messages, with the finding's time (and
    /// direction, when it has one). A message's own findings arrive just before it, so that is
    /// the message itself even when a burst of messages shares one packet's time.
    pub fn finding_belongs(&self, k: usize, pos: usize) -> bool {
        let (Some(f), Some(&at)) = (self.findings.get(k), self.finding_at.get(k)) else {
            return false;
        };
        let Some(ts) = f.ts else { return false };
        let same = |m: &MsgRow| m.ts == ts && f.dir.is_none_or(|d| d == m.dir);
        if pos < at || pos - at > FINDING_REACH || !self.messages.get(pos).is_some_and(same) {
            return false;
        }
        (at..pos).all(|q| !self.messages.get(q).is_some_and(same))
    }

    /// Indices (in `findings`) of the findings that belong to the message at `pos`.
    pub fn findings_of_message(&self, pos: usize) -> Vec<usize> {
        let end = self.finding_at.partition_point(|&a| a <= pos);
        let start = self
            .finding_at
            .partition_point(|&a| a + FINDING_REACH < pos);
        (start..end)
            .filter(|&k| self.finding_belongs(k, pos))
            .collect()
    }

    /// The most severe finding that belongs to the message at `pos`: what the timeline marks
    /// and the "with findings" filter keeps.
    pub fn finding_at_message(&self, pos: usize) -> Option<&Finding> {
        self.findings_of_message(pos)
            .into_iter()
            .filter_map(|k| self.findings.get(k))
            .max_by_key(|f| f.severity as u8)
    }

    /// The position of the message finding `k` points at: the one it belongs to, else the
    /// first message at or after its time from where it arrived.
    pub fn message_of_finding(&self, k: usize) -> Option<usize> {
        let f = self.findings.get(k)?;
        let ts = f.ts?;
        let at = *self.finding_at.get(k)?;
        let mut after = None;
        for (q, m) in self.messages.iter().enumerate().skip(at) {
            if m.ts == ts && f.dir.is_none_or(|d| d == m.dir) {
                return Some(q);
            }
            if after.is_none() && m.ts >= ts {
                after = Some(q);
            }
        }
        after
    }
}

/// How many messages after its arrival a finding may still belong to (messages of the other
/// direction can come between a frame's finding and its message).
const FINDING_REACH: usize = 256;

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

/// Message types the timeline shows (`f` cycles).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum KindFilter {
    /// Every type.
    #[default]
    All,
    /// Text messages.
    Text,
    /// Binary messages.
    Binary,
    /// Ping, pong and close.
    Control,
}

impl KindFilter {
    /// The next one in the cycle.
    pub fn next(self) -> Self {
        match self {
            KindFilter::All => KindFilter::Text,
            KindFilter::Text => KindFilter::Binary,
            KindFilter::Binary => KindFilter::Control,
            KindFilter::Control => KindFilter::All,
        }
    }

    fn accepts(self, m: &MsgRow) -> bool {
        match self {
            KindFilter::All => true,
            KindFilter::Text => m.kind == MessageKind::Text,
            KindFilter::Binary => m.kind == MessageKind::Binary,
            KindFilter::Control => m.is_control(),
        }
    }

    /// Label for the UI.
    pub fn label(self) -> &'static str {
        match self {
            KindFilter::All => "all",
            KindFilter::Text => "text",
            KindFilter::Binary => "binary",
            KindFilter::Control => "control",
        }
    }
}

/// The timeline filter: every part must accept a message (type AND direction AND findings AND
/// search text).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Filter {
    /// Message types (`f`).
    pub kind: KindFilter,
    /// One direction only (`d`).
    pub dir: Option<Dir>,
    /// Only messages with a finding at their time (`e`).
    pub with_findings: bool,
    /// Only messages (and sessions) matching the search (`m`).
    pub matches_only: bool,
}

impl Filter {
    /// The next direction in the cycle both -> c->s -> s->c.
    pub fn next_dir(dir: Option<Dir>) -> Option<Dir> {
        match dir {
            None => Some(Dir::ClientToServer),
            Some(Dir::ClientToServer) => Some(Dir::ServerToClient),
            Some(Dir::ServerToClient) => None,
        }
    }

    /// The parts of the filter that only need the row (not the search).
    fn accepts_row(&self, s: &SessionInfo, pos: usize, m: &MsgRow) -> bool {
        self.kind.accepts(m)
            && self.dir.is_none_or(|d| d == m.dir)
            && (!self.with_findings || s.finding_at_message(pos).is_some())
    }
}

/// Direction as the UI spells it everywhere: `c->s` or `s->c`.
pub fn dir_label(dir: Dir) -> &'static str {
    match dir {
        Dir::ClientToServer => "c->s",
        Dir::ServerToClient => "s->c",
    }
}

/// What a capture-wide search found in one session.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionHits {
    /// Position of the session in [`App::sessions`].
    pub session: usize,
    /// The session itself matched: path, headers, subprotocol, close reasons, finding codes
    /// or details.
    pub session_fields: bool,
    /// Positions of the matching messages (payload or close reason), ascending.
    pub messages: Vec<u32>,
}

/// A capture-wide search: the query and what matched, per session.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Search {
    /// What was typed.
    pub query: String,
    /// Sessions with hits, in session order.
    pub hits: Vec<SessionHits>,
    /// Messages of sessions loaded when the search ran, per session position (sessions and
    /// messages loaded later are searched when they arrive).
    pub searched: Vec<usize>,
    /// Per session: (findings, ended) when its own fields were last searched, and whether
    /// they matched.
    pub fields_seen: Vec<Option<((usize, bool), bool)>>,
}

impl Search {
    /// Messages matched in all.
    pub fn message_hits(&self) -> usize {
        self.hits.iter().map(|h| h.messages.len()).sum()
    }

    /// The hits of session position `i`.
    pub fn of(&self, i: usize) -> Option<&SessionHits> {
        self.hits
            .binary_search_by_key(&i, |h| h.session)
            .ok()
            .and_then(|k| self.hits.get(k))
    }
}

/// Owned data sent from the loading thread.
#[derive(Debug)]
pub enum LoadMsg {
    /// The spill the rows' payload references point into (sent first).
    Spill(Arc<Spill>),
    /// A capture file is being read.
    Capture(String),
    /// A session began.
    Start(Box<SessionStart>),
    /// Messages, in order, with their sessions (`None`: a message not listed, its row refused
    /// by the memory budget).
    Messages(Vec<(SessionId, Option<MsgRow>)>),
    /// A finding.
    Finding(Option<SessionId>, Finding),
    /// A session ended.
    End(Box<SessionEnd>),
    /// Progress of the current input.
    Progress(LoadProgress),
    /// Live capture counters.
    #[cfg_attr(not(feature = "live"), allow(dead_code))]
    Live(LiveStatus),
    /// A file or the run failed.
    Error(String),
    /// Loading finished.
    Done,
}

/// How far loading has come.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoadProgress {
    /// Input bytes read.
    pub done: u64,
    /// Input size (0 when unknown: a pipe).
    pub total: u64,
    /// Milliseconds since the current input began loading.
    pub elapsed_ms: u64,
}

impl LoadProgress {
    /// Bytes per second so far.
    pub fn rate(&self) -> u64 {
        if self.elapsed_ms == 0 {
            return 0;
        }
        self.done.saturating_mul(1000) / self.elapsed_ms
    }
}

/// Counters of a live capture, sent about once a second.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LiveStatus {
    /// Packets captured so far.
    pub packets: u64,
    /// Packets per second over the last interval.
    pub packets_per_sec: u64,
    /// Packets dropped (kernel, interface and wsscope's own queue).
    pub dropped: u64,
}

/// Rows sent to the UI in one [`LoadMsg::Messages`].
const BATCH: usize = 1024;

/// Bytes of index charged to the memory budget at a time.
const CHARGE_STEP: u64 = 8 << 10;

/// A [`Sink`] turning events into [`LoadMsg`]s for a callback: each message's payload goes to
/// the spill, a [`MsgRow`] to the UI (in batches).
pub struct Collector<F: FnMut(LoadMsg)> {
    /// Receives each message.
    pub out: F,
    /// The memory budget the index is charged to (never released: the UI keeps every row
    /// until it exits). A row refused a charge is not listed; the drop is recorded for a
    /// `payload-budget-exceeded` finding.
    pub budget: Option<wsscope_core::budget::MemoryBudget>,
    /// Where payloads go.
    pub spill: Arc<Spill>,
    spill_full: bool,
    batch: Vec<(SessionId, Option<MsgRow>)>,
    batch_limit: usize,
    charged: u64,
    used: u64,
}

impl<F: FnMut(LoadMsg)> Collector<F> {
    /// Sends to `out` (the spill first), charges `budget`, stores payloads in `spill`.
    pub fn new(
        mut out: F,
        budget: Option<wsscope_core::budget::MemoryBudget>,
        spill: Arc<Spill>,
    ) -> Self {
        out(LoadMsg::Spill(Arc::clone(&spill)));
        Collector {
            out,
            budget,
            spill,
            spill_full: false,
            batch: Vec::with_capacity(BATCH),
            batch_limit: BATCH,
            charged: 0,
            used: 0,
        }
    }

    /// Sends every row at once instead of in batches (a live capture or a pipe: a message
    /// must show when it arrives, not when 1024 have).
    pub fn unbatched(mut self) -> Self {
        self.batch_limit = 1;
        self
    }

    /// Sends the rows waiting in the batch.
    pub fn flush(&mut self) {
        if !self.batch.is_empty() {
            let rows = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
            (self.out)(LoadMsg::Messages(rows));
        }
    }

    /// Sends `msg` after the rows before it.
    fn send(&mut self, msg: LoadMsg) {
        self.flush();
        (self.out)(msg);
    }

    /// Charges one more row to the budget (in steps); false when the budget refuses.
    fn charge_row(&mut self) -> bool {
        let Some(b) = &self.budget else { return true };
        let row = std::mem::size_of::<MsgRow>() as u64;
        if self.used + row > self.charged {
            if !b.try_charge(CHARGE_STEP) {
                return false;
            }
            self.charged += CHARGE_STEP;
        }
        self.used += row;
        true
    }

    fn message(&mut self, m: &SessionMessage) {
        if !self.charge_row() {
            if let Some(b) = &self.budget {
                b.record_drop(
                    m.session,
                    wsscope_core::budget::Dropped {
                        messages: 1,
                        bytes: m.message.payload.len() as u64,
                    },
                );
            }
            self.push(m.session, None);
            return;
        }
        let payload = &m.message.payload;
        let mut not_kept = false;
        let mut at = Spilled::default();
        if !payload.is_empty() {
            // Payloads kept in memory (no temporary file could be made) count against the
            // budget like the rows.
            let in_memory_refused = !self.spill.is_file()
                && self
                    .budget
                    .as_ref()
                    .is_some_and(|b| !b.try_charge(payload.len() as u64));
            if self.spill_full || in_memory_refused || u32::try_from(payload.len()).is_err() {
                not_kept = true;
            } else {
                match self.spill.append(payload) {
                    Ok(a) => at = a,
                    Err(_) => {
                        // Limit reached or disk full: later payloads are not kept either.
                        self.spill_full = true;
                        not_kept = true;
                    }
                }
            }
        }
        self.push(m.session, Some(MsgRow::new(m, at, not_kept)));
    }

    fn push(&mut self, session: SessionId, row: Option<MsgRow>) {
        self.batch.push((session, row));
        if self.batch.len() >= self.batch_limit {
            self.flush();
        }
    }
}

impl<F: FnMut(LoadMsg)> Sink for Collector<F> {
    fn begin_capture(&mut self, path: &str) -> io::Result<()> {
        self.send(LoadMsg::Capture(path.to_string()));
        Ok(())
    }

    fn event(&mut self, ev: &Event<'_>) -> io::Result<()> {
        let msg = match ev {
            Event::SessionStart(s) => LoadMsg::Start(Box::new((*s).clone())),
            Event::Message(m) => {
                self.message(m);
                return Ok(());
            }
            Event::Finding { session, finding } => LoadMsg::Finding(*session, (*finding).clone()),
            Event::SessionEnd(e) => LoadMsg::End(Box::new((*e).clone())),
            Event::Flow(_) => return Ok(()),
        };
        self.send(msg);
        Ok(())
    }

    fn finish(&mut self, _totals: &RunTotals, _captures: &[CaptureTotals]) -> io::Result<()> {
        self.flush();
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
    /// Loading progress while loading.
    pub progress: Option<LoadProgress>,
    /// Live capture counters (a live capture only).
    pub live: Option<LiveStatus>,
    /// Loading finished.
    pub loaded: bool,
    /// Errors reported while loading.
    pub errors: Vec<String>,
    /// Focused pane.
    pub pane: Pane,
    /// Detail pane content, when open.
    pub detail: Option<Detail>,
    /// Detail pane scroll (wrapped rows).
    pub detail_scroll: usize,
    /// Message detail shows the payload as sent (no pretty-printing).
    pub raw: bool,
    /// Stats view shown.
    pub stats: Option<StatsView>,
    /// Selected finding in the capture stats' finding list.
    pub stats_sel: usize,
    /// Help overlay shown.
    pub help: bool,
    /// Selected session (position in `sessions`).
    pub session_sel: usize,
    /// First session row shown (position in `session_rows`).
    pub session_scroll: usize,
    /// Sessions listed (positions in `sessions`): all, or those with search hits in
    /// matches-only mode.
    pub session_rows: Vec<usize>,
    /// Selected row of the timeline (position in `visible`).
    pub msg_sel: usize,
    /// First timeline row shown.
    pub msg_scroll: usize,
    /// Positions (in the session's messages) passing the filter.
    pub visible: Vec<u32>,
    visible_scanned: usize,
    visible_key: Option<(usize, Filter, usize, u64)>,
    /// Bumped by every new search (the matches-only timeline depends on it).
    search_gen: u64,
    /// Timestamp mode.
    pub time: TimeMode,
    /// Timeline filter.
    pub filter: Filter,
    /// Follow new messages.
    pub follow: bool,
    /// Text being typed at a prompt (`Some` while it is open).
    pub prompt: Option<Prompt>,
    /// The last capture-wide search.
    pub search: Option<Search>,
    /// Timeline rows (positions in `visible`) matching the search.
    pub matches: Vec<usize>,
    /// A one-line notice for the status bar (export written, clipboard, ...).
    pub notice: Option<String>,
    /// Use colours (false when NO_COLOR is set).
    pub color: bool,
    /// Terminal area last drawn (for paging and mouse hits).
    pub screen: Rect,
    /// Quit requested.
    pub quit: bool,
    /// The spill messages' payloads are in.
    pub spill: Option<Arc<Spill>>,
    /// The detail pane's rows last laid out.
    pub detail_cache: std::cell::RefCell<Option<crate::tui::detail::DetailRows>>,
    /// Bytes for the terminal itself (an OSC 52 clipboard sequence), written by the event
    /// loop after the next draw.
    pub pending_output: Option<String>,
}

/// Which stats screen is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatsView {
    /// The whole capture (`s`).
    Capture,
    /// The selected session (`S`).
    Session,
}

/// An open prompt in the status line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prompt {
    /// What the text is for.
    pub kind: PromptKind,
    /// Typed so far.
    pub text: String,
}

/// What a prompt asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PromptKind {
    /// Search text (`/`).
    Search,
    /// A file to write the selection to (`w`).
    Export,
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
            live: None,
            loaded: false,
            errors: Vec::new(),
            pane: Pane::Sessions,
            detail: None,
            detail_scroll: 0,
            raw: false,
            stats: None,
            stats_sel: 0,
            help: false,
            session_sel: 0,
            session_scroll: 0,
            session_rows: Vec::new(),
            msg_sel: 0,
            msg_scroll: 0,
            visible: Vec::new(),
            visible_scanned: 0,
            visible_key: None,
            search_gen: 0,
            time: TimeMode::Rel,
            filter: Filter::default(),
            follow: false,
            prompt: None,
            search: None,
            matches: Vec::new(),
            notice: None,
            color: !no_color,
            screen: Rect::new(0, 0, 80, 24),
            quit: false,
            spill: None,
            detail_cache: std::cell::RefCell::new(None),
            pending_output: None,
        }
    }

    /// The kept payload of `m`, read back from the spill (empty when it cannot be read; tests:
    /// the export reads the spill itself, to report a failed read).
    #[cfg(test)]
    pub fn payload(&self, m: &MsgRow) -> Vec<u8> {
        self.payload_prefix(m, usize::MAX)
    }

    /// The first `max` bytes of the kept payload of `m`.
    pub fn payload_prefix(&self, m: &MsgRow, max: usize) -> Vec<u8> {
        match &self.spill {
            Some(spill) => spill.read_prefix(m.payload, max).unwrap_or_default(),
            None => Vec::new(),
        }
    }

    /// Applies one message from the loader. Call [`App::refresh`] after a batch.
    pub fn load(&mut self, msg: LoadMsg) {
        match msg {
            LoadMsg::Spill(s) => self.spill = Some(s),
            LoadMsg::Capture(path) => self.current_capture = path,
            LoadMsg::Start(s) => {
                self.by_id.insert(s.id, self.sessions.len());
                self.sessions
                    .push(SessionInfo::new(s, self.current_capture.clone()));
            }
            LoadMsg::Messages(rows) => {
                for (id, row) in rows {
                    if let Some(&i) = self.by_id.get(&id) {
                        match row {
                            Some(row) => {
                                self.sessions[i].messages.push(row);
                                self.total_messages += 1;
                            }
                            None => self.sessions[i].skip_message(),
                        }
                    }
                }
            }
            LoadMsg::Finding(Some(id), f) => match self.by_id.get(&id) {
                Some(&i) => {
                    let s = &mut self.sessions[i];
                    s.finding_at.push(s.messages.len());
                    s.findings.push(f);
                }
                None => self.capture_findings.push(f),
            },
            LoadMsg::Finding(None, f) => self.capture_findings.push(f),
            LoadMsg::End(e) => {
                if let Some(&i) = self.by_id.get(&e.id) {
                    self.sessions[i].messages.shrink();
                    self.sessions[i].end = Some(*e);
                }
            }
            LoadMsg::Progress(p) => self.progress = Some(p),
            LoadMsg::Live(l) => self.live = Some(l),
            LoadMsg::Error(e) => self.errors.push(e),
            LoadMsg::Done => {
                for s in &mut self.sessions {
                    s.messages.shrink();
                }
                self.loaded = true;
                self.progress = None;
            }
        }
    }

    /// True when fed by a live capture.
    pub fn live_mode(&self) -> bool {
        self.live.is_some()
    }

    /// The selected session.
    pub fn session(&self) -> Option<&SessionInfo> {
        self.sessions.get(self.session_sel)
    }

    /// The selected message.
    pub fn message(&self) -> Option<&MsgRow> {
        let s = self.session()?;
        let &i = self.visible.get(self.msg_sel)?;
        s.messages.get(i as usize)
    }

    /// Position of the selected message in its session (0-based; the message's index is one
    /// more).
    pub fn message_pos(&self) -> Option<usize> {
        self.visible.get(self.msg_sel).map(|&i| i as usize)
    }

    /// Brings the session list, `visible`, the search and the matches up to date with the
    /// loaded data and the filter; applies follow and keeps selections in bounds. Incremental
    /// when nothing but new messages changed.
    pub fn refresh(&mut self) {
        self.extend_search();
        self.session_rows = if self.filter.matches_only {
            match &self.search {
                Some(search) => search.hits.iter().map(|h| h.session).collect(),
                None => (0..self.sessions.len()).collect(),
            }
        } else {
            (0..self.sessions.len()).collect()
        };
        if !self.session_rows.is_empty() && !self.session_rows.contains(&self.session_sel) {
            self.session_sel = self.session_rows[0];
            self.msg_sel = 0;
            self.msg_scroll = 0;
        }
        if self.session_sel >= self.sessions.len() {
            self.session_sel = self.sessions.len().saturating_sub(1);
        }
        // In matches-only mode the hits of the session are part of the filter.
        let hits = match (&self.search, self.filter.matches_only) {
            (Some(search), true) => search
                .of(self.session_sel)
                .map_or(0, |h| h.messages.len() + 1),
            _ => 0,
        };
        let key = (self.session_sel, self.filter, hits, self.search_gen);
        if self.visible_key != Some(key) {
            self.visible.clear();
            self.visible_scanned = 0;
            self.visible_key = Some(key);
        }
        if let Some(s) = self.sessions.get(self.session_sel) {
            let hits = self
                .filter
                .matches_only
                .then(|| self.search.as_ref().and_then(|x| x.of(self.session_sel)));
            for (i, m) in s.messages.iter().enumerate().skip(self.visible_scanned) {
                let hit_ok = match hits {
                    None => true,
                    Some(None) => false,
                    // A session that matched by its own fields (path, headers, ...) and
                    // by no message shows all its messages.
                    Some(Some(h)) if h.messages.is_empty() => h.session_fields,
                    Some(Some(h)) => h.messages.binary_search(&(i as u32)).is_ok(),
                };
                if hit_ok && self.filter.accepts_row(s, i, m) {
                    self.visible.push(i as u32);
                }
            }
            self.visible_scanned = s.messages.len();
        }
        if self.follow {
            self.msg_sel = self.visible.len().saturating_sub(1);
        }
        if self.msg_sel >= self.visible.len() {
            self.msg_sel = self.visible.len().saturating_sub(1);
        }
        self.update_matches();
        self.fit_scroll();
    }

    /// Keeps the selected rows inside their scroll windows.
    pub fn fit_scroll(&mut self) {
        let (srows, trows) = crate::tui::render::list_rows(self, self.screen);
        let spos = self.session_row_pos();
        self.session_scroll = fit(spos, self.session_scroll, srows);
        self.msg_scroll = fit(self.msg_sel, self.msg_scroll, trows);
    }

    /// Position of the selected session in the session list.
    pub fn session_row_pos(&self) -> usize {
        self.session_rows
            .iter()
            .position(|&i| i == self.session_sel)
            .unwrap_or(0)
    }

    /// Selects another session, resetting the timeline position.
    pub fn select_session(&mut self, i: usize) {
        let i = i.min(self.sessions.len().saturating_sub(1));
        if i != self.session_sel {
            self.session_sel = i;
            self.msg_sel = 0;
            self.msg_scroll = 0;
            self.detail_scroll = 0;
            self.follow = false;
        }
        self.refresh();
    }

    /// Runs a capture-wide search for `query` (case-insensitive) over every session: payloads,
    /// close reasons, paths, headers, subprotocols and findings.
    pub fn run_search(&mut self, query: &str) {
        self.search_gen += 1;
        if query.is_empty() {
            self.search = None;
            self.filter.matches_only = false;
        } else {
            self.search = Some(Search {
                query: query.to_string(),
                ..Search::default()
            });
        }
        self.refresh();
    }

    /// Searches what arrived since the search ran (new sessions, messages and findings).
    fn extend_search(&mut self) {
        let Some(mut search) = self.search.take() else {
            return;
        };
        // ASCII case folding on both sides (the comparison is byte-wise).
        let needle = search.query.to_ascii_lowercase().into_bytes();
        search.searched.resize(self.sessions.len(), 0);
        search.fields_seen.resize(self.sessions.len(), None);
        let found = self.search_payloads(&search.searched, &needle);
        for (i, s) in self.sessions.iter().enumerate() {
            search.searched[i] = s.messages.len();
            // A session's own fields change only when a finding or its end arrives.
            let seen = (s.findings.len(), s.end.is_some());
            let fields = match search.fields_seen[i] {
                Some((k, m)) if k == seen => m,
                _ => {
                    let m = session_matches(s, &needle);
                    search.fields_seen[i] = Some((seen, m));
                    m
                }
            };
            let new_hits = found.get(&i);
            if !fields && new_hits.is_none() {
                continue;
            }
            let pos = match search.hits.binary_search_by_key(&i, |h| h.session) {
                Ok(p) => p,
                Err(p) => {
                    search.hits.insert(
                        p,
                        SessionHits {
                            session: i,
                            ..SessionHits::default()
                        },
                    );
                    p
                }
            };
            let h = &mut search.hits[pos];
            h.session_fields = fields;
            if let Some(v) = new_hits {
                h.messages.extend_from_slice(v);
            }
        }
        self.search = Some(search);
    }

    /// The messages not yet searched (from `searched[i]` on, per session) whose payload
    /// contains `needle`, per session position. The spill is read in its own order (the
    /// payloads of concurrent sessions are interleaved in it): a merge over the sessions'
    /// rows by offset, through a 1 MiB window.
    fn search_payloads(&self, searched: &[usize], needle: &[u8]) -> HashMap<usize, Vec<u32>> {
        use std::cmp::Reverse;
        let mut found: HashMap<usize, Vec<u32>> = HashMap::new();
        let Some(spill) = self.spill.as_deref() else {
            return found;
        };
        let mut cursor = super::spill::SpillCursor::new(spill);
        let mut heap = std::collections::BinaryHeap::new();
        for (i, s) in self.sessions.iter().enumerate() {
            let from = searched.get(i).copied().unwrap_or(0);
            if let Some(m) = s.messages.get(from) {
                heap.push(Reverse((m.payload.offset, i, from)));
            }
        }
        while let Some(Reverse((_, i, k))) = heap.pop() {
            let Some(s) = self.sessions.get(i) else {
                continue;
            };
            if let Some(m) = s.messages.get(k) {
                let hit = m.payload.len > 0
                    && cursor
                        .read(m.payload)
                        .is_ok_and(|p| contains_ignore_case(&p, needle));
                if hit {
                    found.entry(i).or_default().push(k as u32);
                }
            }
            if let Some(next) = s.messages.get(k + 1) {
                heap.push(Reverse((next.payload.offset, i, k + 1)));
            }
        }
        found
    }

    /// Recomputes the timeline rows matching the search in the current session.
    fn update_matches(&mut self) {
        self.matches.clear();
        let Some(h) = self.search.as_ref().and_then(|s| s.of(self.session_sel)) else {
            return;
        };
        let mut k = 0;
        for (row, &i) in self.visible.iter().enumerate() {
            while k < h.messages.len() && h.messages[k] < i {
                k += 1;
            }
            if h.messages.get(k) == Some(&i) {
                self.matches.push(row);
            }
        }
    }

    /// Moves to the next (or previous) search hit across the capture: within the session,
    /// then on to the next session with hits, wrapping around.
    pub fn jump_match(&mut self, forward: bool, include_current: bool) {
        let cur = self.msg_sel;
        let here = if forward {
            self.matches
                .iter()
                .copied()
                .find(|&r| if include_current { r >= cur } else { r > cur })
        } else {
            self.matches.iter().rev().copied().find(|&r| r < cur)
        };
        if let Some(r) = here {
            self.select_row(r);
            return;
        }
        let Some(search) = &self.search else { return };
        // Sessions with hits, in the order to try: after the selected one (before it going
        // backward), wrapping around to it.
        let mut order: Vec<(usize, bool)> = search
            .hits
            .iter()
            .filter(|h| !h.messages.is_empty() || h.session_fields)
            .map(|h| (h.session, h.messages.is_empty()))
            .collect();
        let cur_session = self.session_sel;
        if forward {
            let k = order.partition_point(|&(i, _)| i <= cur_session);
            order.rotate_left(k);
        } else {
            order.reverse();
            let k = order.partition_point(|&(i, _)| i >= cur_session);
            order.rotate_left(k);
        }
        let original = (self.session_sel, self.msg_sel);
        for (i, fields_only) in order {
            self.select_session(i);
            let row = if forward {
                self.matches.first()
            } else {
                self.matches.last()
            };
            if let Some(&r) = row {
                self.select_row(r);
                return;
            }
            // A session that matched by its path, headers or findings, with no message hit.
            if fields_only {
                return;
            }
            // Its hits are hidden by the filter: on to the next session.
        }
        self.select_session(original.0);
        self.select_row(original.1);
    }

    /// Selects timeline row `r` (stops following).
    pub fn select_row(&mut self, r: usize) {
        self.msg_sel = r.min(self.visible.len().saturating_sub(1));
        self.follow = false;
        self.detail_scroll = 0;
        self.fit_scroll();
    }
}

/// True when a session's own fields (path, headers, subprotocol, close reasons, finding codes
/// and details) contain `needle` (lowercase).
fn session_matches(s: &SessionInfo, needle: &[u8]) -> bool {
    let has = |t: &str| contains_ignore_case(t.as_bytes(), needle);
    if let Some(h) = s.handshake() {
        if has(&h.request.target)
            || h.request.headers.iter().any(|(k, v)| has(k) || has(v))
            || h.response
                .as_ref()
                .is_some_and(|r| r.headers.iter().any(|(k, v)| has(k) || has(v)))
        {
            return true;
        }
    }
    if let Some(e) = &s.end {
        if [&e.client_close, &e.server_close]
            .into_iter()
            .flatten()
            .any(|c| has(&c.reason))
        {
            return true;
        }
    }
    s.findings
        .iter()
        .any(|f| has(f.code.as_str()) || has(&f.detail))
}

/// Case-insensitive (ASCII) substring test; `needle` is lowercase.
pub fn contains_ignore_case(hay: &[u8], needle: &[u8]) -> bool {
    if needle.is_empty() {
        return true;
    }
    if hay.len() < needle.len() {
        return false;
    }
    let first = needle[0];
    let upper = first.to_ascii_uppercase();
    let mut i = 0;
    while i + needle.len() <= hay.len() {
        let rest = &hay[i..=hay.len() - needle.len()];
        let Some(k) = rest.iter().position(|&b| b == first || b == upper) else {
            return false;
        };
        let at = i + k;
        if hay[at..at + needle.len()].eq_ignore_ascii_case(needle) {
            return true;
        }
        i = at + 1;
    }
    false
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
