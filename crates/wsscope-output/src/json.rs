//! `--json`: collects the whole [`Report`] and writes it as one document at the end.

use crate::output::{Output, OutputSink};
use crate::report::{
    capture_reports, close_report, finding_report, message_report, response_body_text,
    session_info, session_stats, FindingReport, MessageReport, PayloadMode, Report, SessionReport,
    Summary, ToolInfo, SCHEMA_VERSION,
};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::{self, Write};
use wsscope_core::budget::{Dropped, MemoryBudget};
use wsscope_core::escape::json_terminal_safe;
use wsscope_core::finding::Finding;
use wsscope_core::session::{SessionEnd, SessionId, SessionMessage, SessionStart};
use wsscope_core::totals::{CaptureTotals, RunTotals};

/// `--json`: the report document, written when the run finishes.
pub type JsonReportSink = OutputSink<JsonReport>;

/// Builds the report in memory.
pub struct JsonReport {
    out: Box<dyn Write>,
    mode: PayloadMode,
    sessions: BTreeMap<u64, SessionReport>,
    order: Vec<u64>,
    findings: Vec<FindingReport>,
    payloads: Option<PayloadAccount>,
}

/// The payload bytes the report holds, charged to the memory budget per session.
struct PayloadAccount {
    budget: MemoryBudget,
    /// Sessions holding payload: bytes charged and the tick of their last message.
    held: HashMap<u64, (u64, u64)>,
    /// The same sessions by (last message tick, id): least active first.
    by_activity: BTreeSet<(u64, u64)>,
    /// Sessions whose payloads were dropped (later ones are dropped too).
    degraded: HashSet<u64>,
    tick: u64,
}

/// Applies [`json_terminal_safe`] to JSON text as it is written. serde_json writes string
/// contents in `str` pieces; a piece that ends inside a character would be carried over.
struct TerminalSafe<'a> {
    out: &'a mut Box<dyn Write>,
    carry: Vec<u8>,
}

impl Write for TerminalSafe<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let joined;
        let data: &[u8] = if self.carry.is_empty() {
            buf
        } else {
            self.carry.extend_from_slice(buf);
            joined = std::mem::take(&mut self.carry);
            &joined
        };
        let whole = match std::str::from_utf8(data) {
            Ok(_) => data.len(),
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(_) => data.len(),
        };
        let (head, tail) = data.split_at(whole);
        match std::str::from_utf8(head) {
            Ok(text) if !text.is_ascii() || head.contains(&0x7f) => self
                .out
                .write_all(json_terminal_safe(text.to_string()).as_bytes())?,
            _ => self.out.write_all(head)?,
        }
        self.carry = tail.to_vec();
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Payload bytes a message report holds.
fn payload_cost(r: &MessageReport) -> u64 {
    (r.text.as_ref().map_or(0, String::len) + r.data_b64.as_ref().map_or(0, String::len)) as u64
}

/// Drops the payload of a message report.
fn strip(r: &mut MessageReport) {
    if r.text.take().is_some() | r.data_b64.take().is_some() {
        r.truncated = true;
    }
}

impl JsonReportSink {
    /// Writes to `out` when the run finishes.
    pub fn new(out: Box<dyn Write>, mode: PayloadMode) -> Self {
        OutputSink::wrap(JsonReport {
            out,
            mode,
            sessions: BTreeMap::new(),
            order: Vec::new(),
            findings: Vec::new(),
            payloads: None,
        })
    }

    /// Charges the payloads the report holds to `budget`: when a charge is refused, the least
    /// active other sessions' payloads are dropped (`truncated: true`) until it fits; when no
    /// other session holds any, the payloads of this message and of the session's later ones
    /// are. A session once degraded keeps no more payload. Every drop is recorded in the
    /// budget.
    pub fn with_budget(self, budget: MemoryBudget) -> Self {
        self.map(|report| JsonReport {
            payloads: Some(PayloadAccount {
                budget,
                held: HashMap::new(),
                by_activity: BTreeSet::new(),
                degraded: HashSet::new(),
                tick: 0,
            }),
            ..report
        })
    }
}

impl JsonReport {
    /// Adds a message report to session `id`, within the budget.
    fn add_message(&mut self, id: u64, mut r: MessageReport) {
        let cost = payload_cost(&r);
        if let (Some(acc), true) = (self.payloads.as_mut(), cost > 0) {
            acc.tick += 1;
            let dropped = Dropped {
                messages: 1,
                bytes: cost,
            };
            if acc.degraded.contains(&id) {
                strip(&mut r);
                acc.budget.record_drop(id, dropped);
            } else {
                loop {
                    if acc.budget.try_charge(cost) {
                        let entry = acc.held.entry(id).or_insert((0, 0));
                        acc.by_activity.remove(&(entry.1, id));
                        entry.0 += cost;
                        entry.1 = acc.tick;
                        acc.by_activity.insert((acc.tick, id));
                        break;
                    }
                    // The least active other session holding payload; when there is none,
                    // this session keeps what it holds and drops this message's and later ones'.
                    let Some(victim) = acc.by_activity.iter().map(|&(_, v)| v).find(|&v| v != id)
                    else {
                        strip(&mut r);
                        acc.degraded.insert(id);
                        acc.budget.record_drop(id, dropped);
                        break;
                    };
                    // Drop everything the victim holds.
                    if let Some((bytes, tick)) = acc.held.remove(&victim) {
                        acc.by_activity.remove(&(tick, victim));
                        acc.budget.release(bytes);
                        let mut n = 0;
                        if let Some(s) = self.sessions.get_mut(&victim) {
                            for m in &mut s.messages {
                                if payload_cost(m) > 0 {
                                    strip(m);
                                    n += 1;
                                }
                            }
                        }
                        acc.budget
                            .record_drop(victim, Dropped { messages: n, bytes });
                    }
                    acc.degraded.insert(victim);
                }
            }
        }
        if let Some(s) = self.sessions.get_mut(&id) {
            s.messages.push(r);
        }
    }
}

impl Output for JsonReport {
    fn session_start(&mut self, s: &SessionStart, capture: &str) -> io::Result<()> {
        self.order.push(s.id);
        self.sessions.insert(
            s.id,
            SessionReport {
                id: s.id,
                info: session_info(s, capture),
                messages: Vec::new(),
                close: None,
                findings: Vec::new(),
                stats: Default::default(),
            },
        );
        Ok(())
    }

    fn message(&mut self, m: &SessionMessage) -> io::Result<()> {
        if self.sessions.contains_key(&m.session) {
            self.add_message(m.session, message_report(m, self.mode));
        }
        Ok(())
    }

    fn finding(&mut self, session: Option<SessionId>, f: &Finding, _: &str) -> io::Result<()> {
        let f = finding_report(f, session);
        if let Some(s) = session.and_then(|id| self.sessions.get_mut(&id)) {
            s.findings.push(f.clone());
        }
        self.findings.push(f);
        Ok(())
    }

    fn session_end(&mut self, e: &SessionEnd) -> io::Result<()> {
        if let Some(s) = self.sessions.get_mut(&e.id) {
            let status =
                (s.info.handshake.as_ref()).and_then(|h| h.response.as_ref().map(|r| r.status));
            s.close = Some(close_report(e, status));
            s.stats = session_stats(e);
            let response = s.info.handshake.as_mut().and_then(|h| h.response.as_mut());
            if let (Some(r), Some(body)) = (response, &e.response_body) {
                r.body = Some(response_body_text(body));
                r.body_len = Some(body.len);
            }
        }
        Ok(())
    }

    fn finish(&mut self, totals: &RunTotals, captures: &[CaptureTotals]) -> io::Result<()> {
        let sessions = self
            .order
            .iter()
            .filter_map(|id| self.sessions.remove(id))
            .collect();
        let report = Report {
            schema_version: SCHEMA_VERSION,
            tool: ToolInfo::current(),
            captures: capture_reports(captures),
            sessions,
            findings: std::mem::take(&mut self.findings),
            summary: Summary::from(totals),
        };
        // Streamed: the held payloads are not copied once more into one document string.
        let mut w = TerminalSafe {
            out: &mut self.out,
            carry: Vec::new(),
        };
        // `io::Error::from` keeps the kind of a write error (a closed stdout is `BrokenPipe`).
        serde_json::to_writer_pretty(&mut w, &report).map_err(io::Error::from)?;
        w.out.write_all(&w.carry)?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streamed_report_text_is_escaped_like_the_whole_document() {
        let doc = "{\"a\": \"x\u{202e}y\u{7f}\u{e9}\u{2028}\"}".to_string();
        let want = json_terminal_safe(doc.clone());
        let shared = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        struct Out(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);
        impl Write for Out {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                self.0.borrow_mut().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut out: Box<dyn Write> = Box::new(Out(shared.clone()));
        let mut w = TerminalSafe {
            out: &mut out,
            carry: Vec::new(),
        };
        // Pieces cut inside multi-byte characters, one byte at a time.
        for b in doc.as_bytes() {
            w.write_all(std::slice::from_ref(b)).expect("write");
        }
        assert!(w.carry.is_empty());
        assert_eq!(
            String::from_utf8(shared.borrow().clone()).expect("utf-8"),
            want
        );
    }
}
