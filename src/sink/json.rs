//! `--json`: collects the whole [`Report`] and writes it as one document at the end.

use super::Sink;
use crate::analyzer::Event;
use crate::escape::json_terminal_safe;
use crate::report::{
    close_report, finding_report, message_report, session_header, session_stats, CaptureReport,
    PayloadMode, Report, SessionReport, Summary, ToolInfo, SCHEMA_VERSION,
};
use std::collections::BTreeMap;
use std::io::{self, Write};

/// Builds the report in memory.
pub struct JsonReportSink {
    out: Box<dyn Write>,
    mode: PayloadMode,
    capture: String,
    sessions: BTreeMap<u64, SessionReport>,
    order: Vec<u64>,
    findings: Vec<crate::report::FindingReport>,
}

impl JsonReportSink {
    /// Writes to `out` when the run finishes.
    pub fn new(out: Box<dyn Write>, mode: PayloadMode) -> Self {
        JsonReportSink {
            out,
            mode,
            capture: String::new(),
            sessions: BTreeMap::new(),
            order: Vec::new(),
            findings: Vec::new(),
        }
    }
}

impl Sink for JsonReportSink {
    fn begin_capture(&mut self, path: &str) -> io::Result<()> {
        self.capture = path.to_string();
        Ok(())
    }

    fn event(&mut self, ev: &Event<'_>) -> io::Result<()> {
        match ev {
            Event::SessionStart(s) => {
                let h = session_header(s, &self.capture);
                self.order.push(s.id);
                self.sessions.insert(
                    s.id,
                    SessionReport {
                        id: s.id,
                        capture: h.capture,
                        client: h.client,
                        server: h.server,
                        roles_inferred: h.roles_inferred,
                        tcp_began: h.tcp_began,
                        started: h.started,
                        handshake: h.handshake,
                        messages: Vec::new(),
                        close: None,
                        findings: Vec::new(),
                        stats: Default::default(),
                    },
                );
            }
            Event::Message(m) => {
                if let Some(s) = self.sessions.get_mut(&m.session) {
                    s.messages.push(message_report(m, self.mode));
                }
            }
            Event::Finding { session, finding } => {
                let f = finding_report(finding, *session);
                if let Some(s) = session.and_then(|id| self.sessions.get_mut(&id)) {
                    s.findings.push(f.clone());
                }
                self.findings.push(f);
            }
            Event::SessionEnd(e) => {
                if let Some(s) = self.sessions.get_mut(&e.id) {
                    let has_response = s.handshake.as_ref().is_some_and(|h| h.response.is_some());
                    s.close = Some(close_report(e, has_response));
                    s.stats = session_stats(e);
                }
            }
            Event::Flow(_) => {}
        }
        Ok(())
    }

    fn finish(&mut self, summary: &Summary, captures: &[CaptureReport]) -> io::Result<()> {
        let sessions = self
            .order
            .iter()
            .filter_map(|id| self.sessions.remove(id))
            .collect();
        let report = Report {
            schema_version: SCHEMA_VERSION,
            tool: ToolInfo::current(),
            captures: captures.to_vec(),
            sessions,
            findings: std::mem::take(&mut self.findings),
            summary: summary.clone(),
        };
        let text = serde_json::to_string_pretty(&report).map_err(io::Error::other)?;
        self.out.write_all(json_terminal_safe(text).as_bytes())?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }
}
