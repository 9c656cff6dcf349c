//! The HTTP phase of a connection: request heads read (strictly, or leniently with a note),
//! queued and paired with the responses in order (pipelining, keep-alive, 1xx skipped),
//! bodies skipped (length or chunked), limits on heads, headers and pipelining; the answer
//! to an upgrade request goes to `upgrade`. A gap inside a head keeps what was read.

use super::chunked::ChunkedBody;
use super::upgrade::PendingUpgrade;
use super::{
    Classification, Connection, HttpBuf, Phase, ResponseBody, SessionConfig, SessionEnd,
    SessionEvent, SessionId,
};
use crate::finding::{Code, Finding};
use crate::handshake::is_upgrade_request;
use crate::http::{
    find_head_end, lenient_request, lenient_response, parse_request, parse_response, request_body,
    response_body, websocket_header, BodyLength, HeadParse, RequestHead, ResponseHead, MAX_HEADERS,
    MAX_HEAD_BYTES,
};
use crate::tcp::Dir;
use crate::timestamp::Timestamp;

/// Bytes held per direction while waiting for the other side during the HTTP phase.
pub(super) const MAX_HTTP_BUFFER: usize = 1 << 20;
/// Requests awaiting a response (pipelined); further requests wait in the client's buffer.
pub(super) const MAX_PENDING_REQUESTS: usize = 64;

/// Bytes missing from one direction of the stream.
#[derive(Clone, Copy, Debug)]
pub(super) struct Gap {
    /// The direction they are missing from.
    pub(super) dir: Dir,
    /// When the gap was noticed.
    pub(super) ts: Timestamp,
    /// How many bytes are missing.
    pub(super) len: u64,
    /// Cut off a captured segment by the snaplen (not lost in transit).
    pub(super) cut: bool,
}

/// A request awaiting its response: its method, the upgrade it attempts, and for a request
/// that did not ask for WebSocket its handshake headers and timestamp.
pub(super) type Queued = (
    String,
    Option<PendingUpgrade>,
    Option<Box<(RequestHead, Timestamp)>>,
);

/// A request head over [`MAX_HEAD_BYTES`] whose rest is being skipped.
pub(super) struct Oversized {
    /// What the first [`MAX_HEAD_BYTES`] held.
    pub(super) request: RequestHead,
    /// Bytes of the head dropped so far.
    pub(super) dropped: u64,
    pub(super) ts: Timestamp,
}

/// Whether the first bytes of a stream can still be an HTTP request line (`None`: too few
/// bytes to tell).
pub(super) fn http_request_start(data: &[u8]) -> Option<bool> {
    let token_len = data
        .iter()
        .take(16)
        .take_while(|b| b.is_ascii_alphabetic())
        .count();
    match data.get(token_len) {
        Some(b' ') => Some(token_len >= 3),
        Some(_) => Some(false),
        None if token_len < 16 => None,
        None => Some(false),
    }
}

/// Whether the first bytes of a stream can still be an HTTP status line (`None`: too few).
pub(super) fn http_response_start(data: &[u8]) -> Option<bool> {
    if data.len() < 5 {
        if b"HTTP/".starts_with(data) {
            None
        } else {
            Some(false)
        }
    } else {
        Some(data.starts_with(b"HTTP/"))
    }
}

impl Connection {
    /// Skips as much of the chunked body being read in `bufs[d]` as is there. `Ok(true)`:
    /// the body ended; `Ok(false)`: more bytes needed, or no body being skipped; `Err`: not
    /// chunked coding. The buffer is drained once, however many chunks it holds.
    fn skip_chunked(&mut self, d: usize) -> Result<bool, ()> {
        let Some(body) = &mut self.chunked[d] else {
            return Ok(false);
        };
        let (used, result) = body.skip(&self.bufs[d]);
        if d == Dir::ServerToClient.index() {
            keep_refused_body(
                self.refused_body,
                &mut self.unfinished,
                &self.bufs[d][..used],
            );
        }
        self.bufs[d].drain(..used);
        match result {
            Ok(true) => {
                self.chunked[d] = None;
                Ok(true)
            }
            Ok(false) => Ok(false),
            Err(_) => Err(()),
        }
    }

    /// In-order bytes from `dir` during the HTTP phase.
    pub(super) fn http_data(
        &mut self,
        (dir, ts, data): (Dir, Timestamp, &[u8]),
        cfg: &SessionConfig,
        next_id: &mut SessionId,
        out: &mut Vec<SessionEvent>,
    ) {
        let mut data = data;
        let d = dir.index();
        if self.skip[d] > 0 {
            let n = self.skip[d].min(data.len() as u64);
            if dir == Dir::ServerToClient {
                keep_refused_body(self.refused_body, &mut self.unfinished, &data[..n as usize]);
            }
            self.skip[d] -= n;
            data = &data[n as usize..];
        }
        if data.is_empty() {
            return;
        }
        if self.bufs[d].len() + data.len() > MAX_HTTP_BUFFER {
            if dir == Dir::ClientToServer && self.requests.len() >= MAX_PENDING_REQUESTS {
                out.push(SessionEvent::finding(
                    None,
                    Code::HttpLimitExceeded,
                    Some(dir),
                    ts,
                    format!(
                        "{MAX_PENDING_REQUESTS} pipelined requests await a response \
                             and the client sent over 1 MiB more: the connection \
                             {} -> {} is no longer examined",
                        self.client, self.server
                    ),
                ));
            }
            self.give_up(ts, out);
            return;
        }
        self.bufs[d].extend_from_slice(data);
        self.advance_http(cfg, next_id, ts, out);
    }

    /// Bytes missing during the HTTP phase.
    pub(super) fn http_gap(
        &mut self,
        cfg: &SessionConfig,
        next_id: &mut SessionId,
        gap: Gap,
        out: &mut Vec<SessionEvent>,
    ) {
        let Gap { dir, ts, len, cut } = gap;
        let nothing_read = self.exchanges == 0 && self.requests.is_empty();
        let response_lost = dir == Dir::ServerToClient
            && matches!(self.requests.front(), Some((_, Some(p), _)) if !p.maybe);
        let d = dir.index();
        if self.bufs[d].is_empty() && self.skip[d] >= len {
            // Inside a body that is skipped anyway.
            self.skip[d] -= len;
            return;
        }
        if let Some(body) = &mut self.chunked[d] {
            if self.bufs[d].is_empty() && body.absorb_gap(len) {
                return;
            }
        }
        let at_boundary = self.bufs[d].is_empty() && self.skip[d] == 0 && self.chunked[d].is_none();
        if !at_boundary
            && self.skip[d] == 0
            && self.chunked[d].is_none()
            && !cut
            && self.oversized.is_none()
            && self.oversized_resp.is_none()
        {
            // A segment lost inside a head (a snaplen capture cuts every segment:
            // that is not followed).
            if self.gap_in_head(cfg, next_id, gap, out) {
                self.advance_http(cfg, next_id, ts, out);
                return;
            }
        }
        if !nothing_read && !response_lost || self.oversized.is_some() || !at_boundary {
            // Without the bytes the HTTP exchange cannot be followed.
            self.give_up(ts, out);
            return;
        }
        // The request (or the start of the stream) or the answer to an upgrade is
        // missing: the framing that follows may still show a WebSocket session.
        self.bufs[d].clear();
        self.skip[d] = 0;
        self.scanned[d] = 0;
        self.resumed = true;
        if response_lost {
            self.lost_response = Some((ts, len));
        }
    }

    /// The TCP connection ended during the HTTP phase.
    pub(super) fn http_closed(&mut self, ts: Timestamp, out: &mut Vec<SessionEvent>) {
        self.report_switched(
            ts,
            "the connection ended before WebSocket framing could be recognised",
            out,
        );
        // Upgrade requests never answered.
        while let Some((_, pending, _)) = self.requests.pop_front() {
            if let Some(p) = pending.filter(|p| !p.maybe) {
                self.not_upgraded(p, None, ts, out);
            }
        }
    }

    pub(super) fn give_up(&mut self, ts: Timestamp, out: &mut Vec<SessionEvent>) {
        self.report_switched(ts, "the bytes after it were not examined", out);
        while let Some((_, pending, _)) = self.requests.pop_front() {
            if let Some(p) = pending.filter(|p| !p.maybe) {
                self.not_upgraded(p, None, ts, out);
            }
        }
        self.phase = Phase::Done;
        self.bufs = [HttpBuf::default(), HttpBuf::default()];
    }

    /// Parses as many heads as the buffers allow.
    pub(super) fn advance_http(
        &mut self,
        cfg: &SessionConfig,
        next_id: &mut SessionId,
        ts: Timestamp,
        out: &mut Vec<SessionEvent>,
    ) {
        loop {
            if !matches!(self.phase, Phase::Http) {
                return;
            }
            if self.lost_response.is_some() {
                self.after_lost_response(cfg, next_id, ts, out);
                return;
            }
            if self.switched.is_some() {
                self.after_switch(cfg, next_id, ts, out);
                return;
            }
            let mut progressed = false;
            // Requests from the client.
            let c = Dir::ClientToServer.index();
            match self.skip_chunked(c) {
                Ok(ended) => progressed |= ended,
                Err(()) => return self.give_up(ts, out),
            }
            if self.oversized.is_some() && self.skip[c] == 0 {
                match self.finish_oversized(next_id) {
                    Ok(ended) => progressed |= ended,
                    Err(()) => return self.give_up(ts, out),
                }
            }
            if self.oversized.is_none()
                && self.skip[c] == 0
                && self.scanned[c] == 0
                && self.chunked[c].is_none()
                && !self.tail[c]
            {
                // Empty lines before a request line are ignored (RFC 9112 2.2).
                let blank = self.bufs[c]
                    .iter()
                    .take_while(|&&b| b == b'\r' || b == b'\n')
                    .count();
                if blank > 0 && (self.exchanges > 0 || !self.requests.is_empty()) {
                    self.bufs[c].drain(..blank);
                }
            }
            if self.tail[c] && !self.bufs[c].is_empty() {
                // The gap may end just before the empty line that ends the head.
                let at_end = match self.bufs[c].as_slice() {
                    [b'\n', ..] => Some(1),
                    [b'\r', b'\n', ..] => Some(2),
                    _ => None,
                };
                match at_end.or_else(|| self.head_end(c)) {
                    Some(end) => {
                        // The end of the cut request head: what follows is in step again.
                        self.bufs[c].drain(..end);
                        self.scanned[c] = 0;
                        self.tail[c] = false;
                        progressed = true;
                    }
                    None if self.bufs[c].len() >= MAX_HEAD_BYTES => {
                        // Its end was in the gap: read the rest as a stream resuming anywhere.
                        self.tail[c] = false;
                        self.unsynced[c] = true;
                    }
                    None => {}
                }
            }
            if !self.bufs[c].is_empty()
                && !self.tail[c]
                && self.chunked[c].is_none()
                && self.skip[c] == 0
                && self.oversized.is_none()
                && !self.upgrade_pending()
                && self.requests.len() < MAX_PENDING_REQUESTS
            {
                if self.exchanges == 0 && self.requests.is_empty() {
                    match http_request_start(&self.bufs[c]) {
                        Some(false) => {
                            self.not_http(cfg, next_id, Dir::ClientToServer, ts, out);
                            return;
                        }
                        None if !self.midstream_like() => return,
                        // Mid-stream: a WebSocket frame can start with letters too.
                        None if self.bufs[c].len() < 2 => return,
                        None => {}
                        Some(true) => {}
                    }
                }
                match self.head_end(c) {
                    Some(end) => {
                        let Some((req, notes)) = Self::read_request(&self.bufs[c][..end]) else {
                            self.give_up(ts, out);
                            return;
                        };
                        self.bufs[c].drain(..end);
                        self.scanned[c] = 0;
                        self.scan_stats.1 += 1;
                        if !self.request_read(req, notes, false, next_id, ts) {
                            return;
                        }
                        progressed = true;
                    }
                    None if self.bufs[c].len() >= MAX_HEAD_BYTES => {
                        let Some((request, _)) = lenient_request(&self.bufs[c]) else {
                            self.give_up(ts, out);
                            return;
                        };
                        // Keep the last bytes: the empty line may straddle the cut.
                        let keep = 2;
                        let drop = self.bufs[c].len() - keep;
                        self.bufs[c].drain(..drop);
                        self.scanned[c] = 0;
                        self.oversized = Some(Oversized {
                            request,
                            dropped: drop as u64,
                            ts,
                        });
                        progressed = true;
                    }
                    None => {}
                }
            }
            // Responses from the server.
            let s = Dir::ServerToClient.index();
            match self.skip_chunked(s) {
                Ok(ended) => progressed |= ended,
                Err(()) => return self.give_up(ts, out),
            }
            if !self.bufs[s].is_empty() && self.skip[s] == 0 && self.chunked[s].is_none() {
                let nothing_asked = self.requests.is_empty() && self.exchanges == 0;
                if nothing_asked {
                    match http_response_start(&self.bufs[s]) {
                        Some(false) => {
                            self.not_http(cfg, next_id, Dir::ServerToClient, ts, out);
                            return;
                        }
                        None if self.bufs[s].len() < 2 || !self.midstream_like() => return,
                        _ => {}
                    }
                }
                if !self.requests.is_empty() {
                    let (resp, resp_notes) = match self.next_response(ts) {
                        Ok(Some(r)) => r,
                        Ok(None) => return,
                        Err(()) => {
                            self.give_up(ts, out);
                            return;
                        }
                    };
                    progressed = true;
                    // The body of an earlier refusal, if any, ended before this head.
                    self.refused_body = false;
                    if (100..200).contains(&resp.status) && resp.status != 101 {
                        continue;
                    }
                    let Some((method, mut pending, plain)) = self.requests.pop_front() else {
                        return;
                    };
                    if let Some(p) = &mut pending {
                        p.resp_notes = resp_notes
                            .iter()
                            .map(|(c, d)| (*c, d.clone(), ts))
                            .collect();
                    }
                    self.exchanges = self.exchanges.saturating_add(1);
                    if resp.status == 101 {
                        match pending {
                            Some(p) => self.upgrade(cfg, p, resp, ts, out),
                            // HTTP/2 by Upgrade (RFC 7540 3.2): the layer above takes over.
                            None if crate::http::has_token(&resp.headers, "upgrade", "h2c") => {
                                self.switch_to_h2c(ts)
                            }
                            None => {
                                *next_id += 1;
                                let (request, req_ts) = match plain {
                                    Some(b) => *b,
                                    None => (
                                        RequestHead {
                                            method,
                                            target: String::new(),
                                            version_minor: 1,
                                            headers: Vec::new(),
                                            head_len: 0,
                                        },
                                        ts,
                                    ),
                                };
                                let p = PendingUpgrade {
                                    session: *next_id,
                                    request,
                                    ts: req_ts,
                                    notes: Vec::new(),
                                    resp_notes: resp_notes
                                        .iter()
                                        .map(|(c, d)| (*c, d.clone(), ts))
                                        .collect(),
                                    unchecked: true,
                                    maybe: false,
                                };
                                self.switched = Some(Box::new((p, resp, ts)));
                                self.after_switch(cfg, next_id, ts, out);
                            }
                        }
                        return;
                    }
                    if let Some(p) = pending.filter(|p| !p.maybe) {
                        self.not_upgraded(p, Some(resp.clone()), ts, out);
                        self.refused_body = true;
                    }
                    match response_body(&method, resp.status, &resp.headers) {
                        BodyLength::Fixed(n) => self.skip_body(Dir::ServerToClient, n),
                        BodyLength::Chunked => self.chunked[s] = Some(ChunkedBody::new()),
                        BodyLength::UntilClose => {
                            // What came with the head is kept; the connection is no longer
                            // followed after this.
                            keep_refused_body(
                                self.refused_body,
                                &mut self.unfinished,
                                &self.bufs[s],
                            );
                            self.give_up(ts, out);
                            return;
                        }
                    }
                }
            }
            if !progressed {
                return;
            }
        }
    }

    /// Searches `bufs[d]` for the end of a head, from where the last search stopped.
    pub(super) fn head_end(&mut self, d: usize) -> Option<usize> {
        let from = self.scanned[d];
        self.scan_stats.0 +=
            (self.bufs[d].len() - from.saturating_sub(2).min(self.bufs[d].len())) as u64;
        let end = find_head_end(&self.bufs[d], from);
        if end.is_none() {
            self.scanned[d] = self.bufs[d].len();
        }
        end
    }

    /// A complete request head: strictly parsed, or read leniently with a note saying why.
    pub(super) fn read_request(head: &[u8]) -> Option<(RequestHead, Vec<(Code, String)>)> {
        let why = match parse_request(head) {
            HeadParse::Complete(req) => return Some((req, Vec::new())),
            HeadParse::Partial => "incomplete head".to_string(),
            HeadParse::Invalid(why) => why,
        };
        let (req, seen) = lenient_request(head)?;
        let note = if seen > MAX_HEADERS {
            (
                Code::HttpLimitExceeded,
                format!(
                    "request has {seen} headers, over the limit of {MAX_HEADERS}: only the first \
                     {MAX_HEADERS} and the WebSocket handshake headers were kept"
                ),
            )
        } else {
            (
                Code::HandshakeUnparsed,
                format!(
                    "the HTTP parser rejected the request head ({why}); it was read line by \
                     line instead (bytes that are not UTF-8 are shown as U+FFFD)"
                ),
            )
        };
        Some((req, vec![note]))
    }

    /// The next response head from the server: strictly parsed, or read leniently with a note
    /// saying why; a head over [`MAX_HEAD_BYTES`] is read from its first 64 KiB and the rest
    /// skipped. `Ok(None)`: more bytes needed; `Err`: not an HTTP response.
    #[allow(clippy::type_complexity)]
    pub(super) fn next_response(
        &mut self,
        ts: Timestamp,
    ) -> Result<Option<(ResponseHead, Vec<(Code, String)>)>, ()> {
        let s = Dir::ServerToClient.index();
        if let Some((head, dropped, o_ts)) = self.oversized_resp.take() {
            let Some(end) = self.head_end(s) else {
                let keep = 2.min(self.bufs[s].len());
                let drop = self.bufs[s].len() - keep;
                self.bufs[s].drain(..drop);
                self.scanned[s] = 0;
                self.oversized_resp = Some((head, dropped + drop as u64, o_ts));
                return Ok(None);
            };
            self.bufs[s].drain(..end);
            self.scanned[s] = 0;
            let total = dropped + end as u64;
            let note = (
                Code::HttpLimitExceeded,
                format!(
                    "response head is {total} bytes, over the 64 KiB limit: the lines after the \
                     first 64 KiB were not read"
                ),
            );
            return Ok(Some((head, vec![note])));
        }
        let Some(end) = self.head_end(s) else {
            if self.bufs[s].len() < MAX_HEAD_BYTES {
                return Ok(None);
            }
            let (head, _) = lenient_response(&self.bufs[s]).ok_or(())?;
            // Keep the last bytes: the empty line may straddle the cut.
            let drop = self.bufs[s].len() - 2;
            self.bufs[s].drain(..drop);
            self.scanned[s] = 0;
            self.oversized_resp = Some((head, drop as u64, ts));
            return Ok(None);
        };
        self.scan_stats.1 += 1;
        let head = &self.bufs[s][..end];
        let read = match parse_response(head) {
            HeadParse::Complete(resp) => (resp, Vec::new()),
            HeadParse::Partial | HeadParse::Invalid(_) => {
                let why = match parse_response(head) {
                    HeadParse::Invalid(why) => why,
                    _ => "incomplete head".to_string(),
                };
                let (resp, seen) = lenient_response(head).ok_or(())?;
                let note = if seen > MAX_HEADERS {
                    (
                        Code::HttpLimitExceeded,
                        format!(
                            "response has {seen} headers, over the limit of {MAX_HEADERS}: only \
                             the first {MAX_HEADERS} and the WebSocket handshake headers were kept"
                        ),
                    )
                } else {
                    (
                        Code::HandshakeUnparsed,
                        format!(
                            "the HTTP parser rejected the response head ({why}); it was read \
                             line by line instead (bytes that are not UTF-8 are shown as U+FFFD)"
                        ),
                    )
                };
                (resp, vec![note])
            }
        };
        self.bufs[s].drain(..end);
        self.scanned[s] = 0;
        Ok(Some(read))
    }

    /// Skips the rest of an oversized request head. `Ok(true)` when it ended (and the request
    /// was queued), `Err` when the connection cannot be followed.
    pub(super) fn finish_oversized(&mut self, next_id: &mut SessionId) -> Result<bool, ()> {
        let c = Dir::ClientToServer.index();
        let Some(end) = self.head_end(c) else {
            let keep = 2.min(self.bufs[c].len());
            let drop = self.bufs[c].len() - keep;
            self.bufs[c].drain(..drop);
            self.scanned[c] = 0;
            if let Some(o) = &mut self.oversized {
                o.dropped += drop as u64;
            }
            return Ok(false);
        };
        let Some(o) = self.oversized.take() else {
            return Ok(false);
        };
        self.bufs[c].drain(..end);
        self.scanned[c] = 0;
        let total = o.dropped + end as u64;
        let note = (
            Code::HttpLimitExceeded,
            format!(
                "request head is {total} bytes, over the 64 KiB limit: the lines after the first \
                 64 KiB were not read, and the request was not checked"
            ),
        );
        if !self.request_read(o.request, vec![note], true, next_id, o.ts) {
            return Err(());
        }
        Ok(true)
    }

    /// Queues a request whose head was read; false when the connection cannot be followed.
    pub(super) fn request_read(
        &mut self,
        req: RequestHead,
        notes: Vec<(Code, String)>,
        unchecked: bool,
        next_id: &mut SessionId,
        ts: Timestamp,
    ) -> bool {
        self.classification = Classification::Http;
        match request_body(&req.headers) {
            BodyLength::Fixed(n) => self.skip_body(Dir::ClientToServer, n),
            BodyLength::Chunked => {
                self.chunked[Dir::ClientToServer.index()] = Some(ChunkedBody::new())
            }
            BodyLength::UntilClose => return false,
        }
        let asks = is_upgrade_request(&req);
        let pending = (asks || unchecked).then(|| {
            *next_id += 1;
            PendingUpgrade {
                session: *next_id,
                request: req.clone(),
                ts,
                notes,
                resp_notes: Vec::new(),
                unchecked,
                maybe: !asks,
            }
        });
        // A request that did not ask for WebSocket keeps its handshake headers only: reported
        // if a 101 answers it anyway.
        let plain = pending.is_none().then(|| {
            Box::new((
                RequestHead {
                    headers: req
                        .headers
                        .iter()
                        .filter(|(n, _)| websocket_header(n))
                        .take(MAX_HEADERS)
                        .cloned()
                        .collect(),
                    ..req.clone()
                },
                ts,
            ))
        });
        self.requests
            .push_back((req.method.clone(), pending, plain));
        true
    }

    /// Bytes went missing inside the head being read in `dir` (the buffer holds its first
    /// part). What was read is kept: the request is queued (its check skipped), a 101 starts
    /// the session (decoders resynchronise over the rest of the head), another answer is a
    /// refusal. Returns false when nothing can be followed.
    fn gap_in_head(
        &mut self,
        cfg: &SessionConfig,
        next_id: &mut SessionId,
        gap: Gap,
        out: &mut Vec<SessionEvent>,
    ) -> bool {
        let Gap { dir, ts, len, .. } = gap;
        let d = dir.index();
        if dir == Dir::ClientToServer {
            if self.upgrade_pending() || self.tail[d] {
                // Frames sent before the 101, or the rest of a cut head: what follows is read
                // as a stream that resumes anywhere.
                self.bufs[d].clear();
                self.scanned[d] = 0;
                self.tail[d] = false;
                self.unsynced[d] = true;
                return true;
            }
            let Some((req, _)) = lenient_request(&self.bufs[d]) else {
                if self.exchanges == 0 && self.requests.is_empty() {
                    // The request line itself is cut: read on as if the request was not
                    // captured (the server's 101 and the framing tell the rest).
                    self.bufs[d].clear();
                    self.scanned[d] = 0;
                    self.resumed = true;
                    self.tail[d] = true;
                    return true;
                }
                return false;
            };
            let asks = is_upgrade_request(&req);
            *next_id += 1;
            let note = (
                Code::HandshakeNotSeen,
                format!(
                    "{len} bytes inside the request head are missing from the capture: the header \
                     lines after the gap were not read, and the request was not checked"
                ),
            );
            let pending = PendingUpgrade {
                session: *next_id,
                request: req.clone(),
                ts,
                notes: vec![note],
                resp_notes: Vec::new(),
                unchecked: true,
                maybe: !asks,
            };
            self.classification = Classification::Http;
            self.requests.push_back((req.method, Some(pending), None));
            self.bufs[d].clear();
            self.scanned[d] = 0;
            // The rest of the head comes first: its end is searched for.
            self.tail[d] = true;
            return true;
        }
        if self.requests.is_empty() || self.tail[d] {
            return false;
        }
        let Some((resp, _)) = lenient_response(&self.bufs[d]) else {
            if matches!(self.requests.front(), Some((_, Some(p), _)) if !p.maybe) {
                // The status line itself is cut: as if the whole answer was lost.
                self.bufs[d].clear();
                self.scanned[d] = 0;
                self.resumed = true;
                self.unsynced[d] = true;
                self.lost_response = Some((ts, len));
                return true;
            }
            return false;
        };
        let Some((_, Some(mut p), _)) = self.requests.pop_front() else {
            return false;
        };
        self.bufs[d].clear();
        self.scanned[d] = 0;
        self.exchanges = self.exchanges.saturating_add(1);
        let what = format!(
            "{len} bytes inside the {} response head are missing from the capture: the header \
             lines after the gap were not read",
            resp.status
        );
        if resp.status != 101 {
            p.resp_notes.push((Code::HandshakeNotSeen, what, ts));
            self.not_upgraded(p, Some(resp), ts, out);
            // The rest of this exchange cannot be delimited.
            self.give_up(ts, out);
            return true;
        }
        self.unsynced[d] = true;
        let finding = Finding::new(
            Code::HandshakeNotSeen,
            Some(Dir::ServerToClient),
            Some(ts),
            format!(
                "{what}; the server's frames were found after it by their framing; extensions \
                 unknown beyond the lines read"
            ),
        );
        self.fallback(cfg, next_id, ts, Some(p), Some(resp), finding, out);
        true
    }

    pub(super) fn upgrade_pending(&self) -> bool {
        self.requests.iter().any(|(_, p, _)| p.is_some())
    }

    pub(super) fn skip_body(&mut self, dir: Dir, n: u64) {
        let d = dir.index();
        let have = self.bufs[d].len() as u64;
        if dir == Dir::ServerToClient {
            let now = &self.bufs[d][..n.min(have) as usize];
            keep_refused_body(self.refused_body, &mut self.unfinished, now);
        }
        if n <= have {
            self.bufs[d].drain(..n as usize);
        } else {
            self.bufs[d].clear();
            self.skip[d] = n - have;
        }
        self.scanned[d] = 0;
    }
}

/// Adds `data`, bytes of a response body, to the end held in `unfinished` when `refused`:
/// the body answers that session's upgrade request.
fn keep_refused_body(refused: bool, unfinished: &mut Option<Box<SessionEnd>>, data: &[u8]) {
    if let Some(end) = unfinished.as_mut().filter(|_| refused && !data.is_empty()) {
        end.response_body
            .get_or_insert_with(ResponseBody::default)
            .extend(data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connection() -> Connection {
        super::super::testing::Harness::new().conn
    }

    /// An upgrade request of about `size` bytes (one long header), then its 101.
    fn big_upgrade(size: usize) -> (Vec<u8>, Vec<u8>) {
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        let filler = "a".repeat(size.saturating_sub(200));
        let req = format!(
            "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nX-Filler: {filler}\r\n\r\n"
        );
        let resp = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\n\r\n",
            crate::handshake::accept_for(key)
        );
        (req.into_bytes(), resp.into_bytes())
    }

    /// Feeds `bytes` from `dir` in segments of `seg` bytes.
    fn feed(c: &mut Connection, dir: Dir, bytes: &[u8], seg: usize, out: &mut Vec<SessionEvent>) {
        let cfg = SessionConfig::default();
        let mut next_id = 0;
        for chunk in bytes.chunks(seg) {
            c.on_data(&cfg, &mut next_id, dir, Timestamp(1), 1, chunk, out);
        }
    }

    #[test]
    fn a_60_kb_head_in_1_byte_segments_is_scanned_once_and_parsed_once() {
        let (req, resp) = big_upgrade(60_000);
        let mut c = connection();
        let mut out = Vec::new();
        feed(&mut c, Dir::ClientToServer, &req, 1, &mut out);
        feed(&mut c, Dir::ServerToClient, &resp, 1, &mut out);
        let (scanned, parsed) = c.scan_stats;
        // Each byte is examined at most 3 times (2 bytes of overlap per search); re-parsing
        // from the start on every segment examined 1.8 GB here.
        let total = (req.len() + resp.len()) as u64;
        assert!(scanned <= 3 * total, "{scanned} bytes scanned for {total}");
        assert_eq!(parsed, 2, "one parse per head");
        assert!(
            out.iter()
                .any(|e| matches!(e, SessionEvent::Start(s) if s.handshake.is_some())),
            "the upgrade was read"
        );
        assert!(matches!(c.phase, Phase::WebSocket(_)));
    }

    #[test]
    fn chunked_bodies_are_skipped_in_1_byte_segments_and_bad_ones_give_up() {
        let post = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\
                     5\r\nhello\r\n1;a=b\r\nx\r\n0\r\nT: 1\r\n\r\n";
        let (req, resp) = big_upgrade(300);
        let mut c = connection();
        let mut out = Vec::new();
        feed(&mut c, Dir::ClientToServer, post, 1, &mut out);
        feed(&mut c, Dir::ClientToServer, &req, 1, &mut out);
        feed(
            &mut c,
            Dir::ServerToClient,
            b"HTTP/1.1 204 No Content\r\n\r\n",
            1,
            &mut out,
        );
        feed(&mut c, Dir::ServerToClient, &resp, 1, &mut out);
        assert!(matches!(c.phase, Phase::WebSocket(_)));
        for bad in [&b"zz\r\n"[..], &[b'1'; 2000][..], b"5\r\nhelloXY"] {
            let mut c = connection();
            feed(
                &mut c,
                Dir::ClientToServer,
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
                7,
                &mut out,
            );
            feed(&mut c, Dir::ClientToServer, bad, 3, &mut out);
            assert!(
                c.is_done(),
                "{:?}",
                String::from_utf8_lossy(&bad[..bad.len().min(20)])
            );
        }
    }

    #[test]
    fn the_end_of_a_head_is_found_across_segment_boundaries() {
        for seg in 1..=5 {
            let (req, resp) = big_upgrade(300);
            let mut c = connection();
            let mut out = Vec::new();
            feed(&mut c, Dir::ClientToServer, &req, seg, &mut out);
            feed(&mut c, Dir::ServerToClient, &resp, seg, &mut out);
            assert!(matches!(c.phase, Phase::WebSocket(_)), "segments of {seg}");
        }
    }

    mod pairing {
        use super::super::super::testing::*;
        use crate::session::ResponseBody;
        use crate::tcp::CloseReason;

        #[test]
        fn pipelined_requests_are_answered_in_order() {
            let mut h = Harness::new();
            let mut requests = b"GET /plain HTTP/1.1\r\nHost: a\r\n\r\n".to_vec();
            requests.extend(upgrade_request("/first"));
            requests.extend(upgrade_request("/second"));
            h.send(C, &requests);
            assert_eq!(h.take(), Vec::<String>::new(), "nothing before an answer");
            // The first answer is the plain GET's (its body skipped), the second refuses the
            // first upgrade, the third accepts the second.
            let mut answers = response(200, "plain body");
            answers.extend(response(403, "no"));
            answers.extend(switching());
            answers.extend(frame(0x1, b"hi", false));
            h.send_in(S, &answers, 7);
            assert_eq!(
                h.take(),
                [
                    "start 1 GET /first -> 403",
                    "finding 1 upgrade-rejected",
                    "end 1 not upgraded",
                    "start 2 GET /second -> 101",
                    "message 2 #1 s2c text \"hi\"",
                ]
            );
        }

        /// The body of a refusal is kept on its session's end: the first 1 KiB of it, however
        /// it is cut into segments, bounded by its length (the next answer is not part of it),
        /// and as sent for a chunked body.
        #[test]
        fn a_refusal_keeps_the_first_kib_of_its_body_on_its_end() {
            let big = "x".repeat(3000);
            for seg in [1, 7, 5000] {
                let mut h = Harness::new();
                let mut requests = upgrade_request("/a");
                requests.extend(upgrade_request("/b"));
                requests.extend(upgrade_request("/c"));
                h.send(C, &requests);
                let mut answers = response(403, "go away");
                answers.extend(response(401, &big));
                answers.extend(
                    b"HTTP/1.1 400 Bad\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
                );
                h.send_in(S, &answers, seg);
                h.close(CloseReason::Fin);
                let bodies: Vec<Option<ResponseBody>> =
                    h.ends().into_iter().map(|e| e.response_body).collect();
                let first = ResponseBody {
                    bytes: b"go away".to_vec(),
                    len: 7,
                };
                let second = ResponseBody {
                    bytes: vec![b'x'; ResponseBody::KEEP],
                    len: 3000,
                };
                let third = ResponseBody {
                    bytes: b"3\r\nabc\r\n0\r\n\r\n".to_vec(),
                    len: 13,
                };
                assert_eq!(
                    bodies,
                    [Some(first), Some(second), Some(third)],
                    "segments of {seg}"
                );
            }
        }

        #[test]
        fn a_101_after_a_401_on_a_keep_alive_connection_starts_the_next_session() {
            let mut h = Harness::new();
            h.send(C, &upgrade_request("/chat"));
            h.send(S, &response(401, "login first"));
            assert_eq!(
                h.take(),
                ["start 1 GET /chat -> 401", "finding 1 upgrade-rejected"],
                "the refused session's end waits for the TCP end"
            );
            h.send(C, &upgrade_request("/chat"));
            h.send(S, &switching());
            h.send(C, &frame(0x1, b"hello", true));
            assert_eq!(
                h.take(),
                [
                    "end 1 not upgraded",
                    "start 2 GET /chat -> 101",
                    "message 2 #1 c2s text \"hello\"",
                ]
            );
            h.out.clear();
            h.send(C, &upgrade_request("/again"));
            h.send(S, &response(401, "login first"));
            h.fin(S);
            let ends = h.ends();
            assert_eq!(ends.len(), 1, "{ends:?}");
            assert!(ends[0].upgraded, "after a 101 the connection is WebSocket");
        }

        #[test]
        fn informational_responses_do_not_answer_a_request() {
            let mut h = Harness::new();
            h.send(C, &upgrade_request("/chat"));
            h.send(S, b"HTTP/1.1 100 Continue\r\n\r\n");
            assert_eq!(h.take(), Vec::<String>::new());
            h.send(S, &switching());
            assert_eq!(h.take(), ["start 1 GET /chat -> 101"]);
        }

        #[test]
        fn a_gap_inside_a_skipped_body_keeps_the_exchange_in_step() {
            let mut h = Harness::new();
            h.send(C, b"POST /upload HTTP/1.1\r\nContent-Length: 1000\r\n\r\n");
            h.send(C, &[b'x'; 100]);
            h.gap(C, 800);
            h.send(C, &[b'x'; 100]);
            h.send(C, &upgrade_request("/chat"));
            h.send(S, &response(200, ""));
            h.send(S, &switching());
            assert_eq!(h.take(), ["start 1 GET /chat -> 101"]);
        }

        #[test]
        fn too_many_pipelined_requests_and_a_full_buffer_stop_the_examination() {
            let mut h = Harness::new();
            let one = b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n";
            let mut all = Vec::new();
            while all.len() <= MAX_HTTP_BUFFER + MAX_PENDING_REQUESTS * one.len() {
                all.extend_from_slice(one);
            }
            h.send_in(C, &all, 64 * 1024);
            assert!(h.conn.is_done());
            assert_eq!(h.take(), ["finding - http-limit-exceeded"]);
            let mut h = Harness::new();
            h.send_in(C, &all[..MAX_HTTP_BUFFER], 64 * 1024);
            assert!(!h.conn.is_done(), "a full buffer alone is waited on");
        }

        use super::super::{MAX_HTTP_BUFFER, MAX_PENDING_REQUESTS};
    }
}
