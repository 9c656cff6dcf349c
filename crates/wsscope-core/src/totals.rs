//! Counters of a run: one [`CaptureTotals`] per capture (file or live interface) and the
//! [`RunTotals`] over all of them. The outputs render them; nothing here is a file format.

use crate::finding::{Code, Severity};
use crate::timestamp::Timestamp;
use crate::ws::message::MessageKind;
use std::collections::BTreeMap;

/// What was read from one capture.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CaptureTotals {
    /// Path as given (or the interface name).
    pub path: String,
    /// `pcap`, `pcapng` or `live`.
    pub format: String,
    /// Link types (LINKTYPE_* numbers).
    pub linktypes: Vec<u32>,
    /// Packets read.
    pub packets: u64,
    /// Bytes of packet data read.
    pub bytes: u64,
    /// First packet.
    pub first_ts: Option<Timestamp>,
    /// Last packet.
    pub last_ts: Option<Timestamp>,
    /// TCP connections seen.
    pub tcp_flows: u64,
    /// Packets that were not IP/TCP or could not be decoded.
    pub non_tcp_packets: u64,
    /// Problems reading the capture.
    pub warnings: Vec<String>,
}

/// Messages counted by type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MessageCounts {
    /// Text messages.
    pub text: u64,
    /// Binary messages.
    pub binary: u64,
    /// Ping frames.
    pub ping: u64,
    /// Pong frames.
    pub pong: u64,
    /// Close frames.
    pub close: u64,
}

impl MessageCounts {
    /// Counts one message of `kind`.
    pub fn add(&mut self, kind: MessageKind) {
        *self.slot(kind) += 1;
    }

    /// Messages of `kind`.
    pub fn get(&self, kind: MessageKind) -> u64 {
        match kind {
            MessageKind::Text => self.text,
            MessageKind::Binary => self.binary,
            MessageKind::Ping => self.ping,
            MessageKind::Pong => self.pong,
            MessageKind::Close => self.close,
        }
    }

    fn slot(&mut self, kind: MessageKind) -> &mut u64 {
        match kind {
            MessageKind::Text => &mut self.text,
            MessageKind::Binary => &mut self.binary,
            MessageKind::Ping => &mut self.ping,
            MessageKind::Pong => &mut self.pong,
            MessageKind::Close => &mut self.close,
        }
    }

    /// Data messages: text and binary.
    pub fn data(&self) -> u64 {
        self.text + self.binary
    }

    /// Control frames: ping, pong and close.
    pub fn control(&self) -> u64 {
        self.ping + self.pong + self.close
    }
}

/// Totals over a whole run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunTotals {
    /// Captures read.
    pub captures: u64,
    /// Packets read.
    pub packets: u64,
    /// Bytes read.
    pub bytes: u64,
    /// TCP connections.
    pub tcp_flows: u64,
    /// Sessions (including refused and unanswered upgrades).
    pub sessions: u64,
    /// Sessions that upgraded to WebSocket.
    pub websocket_sessions: u64,
    /// Messages and control frames by type.
    pub messages: MessageCounts,
    /// Findings by severity.
    pub findings_by_severity: BTreeMap<Severity, u64>,
    /// Findings by code.
    pub findings_by_code: BTreeMap<Code, u64>,
    /// Connections evicted from the full flow table.
    pub flows_evicted: u64,
}

impl RunTotals {
    /// Findings of `severity`.
    pub fn findings_of(&self, severity: Severity) -> u64 {
        self.findings_by_severity
            .get(&severity)
            .copied()
            .unwrap_or(0)
    }

    /// Findings of `severity` or worse.
    pub fn findings_at_least(&self, severity: Severity) -> u64 {
        self.findings_by_severity
            .range(severity..)
            .map(|(_, n)| n)
            .sum()
    }

    /// Findings with `code`.
    pub fn findings_with(&self, code: Code) -> u64 {
        self.findings_by_code.get(&code).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_messages_and_control_frames_are_counted_apart() {
        let mut m = MessageCounts::default();
        for kind in [
            MessageKind::Text,
            MessageKind::Binary,
            MessageKind::Ping,
            MessageKind::Pong,
            MessageKind::Close,
            MessageKind::Text,
        ] {
            m.add(kind);
        }
        assert_eq!((m.data(), m.control()), (3, 3));
        assert_eq!(m.get(MessageKind::Text), 2);
    }

    #[test]
    fn findings_at_least_a_severity() {
        let mut t = RunTotals::default();
        t.findings_by_severity.insert(Severity::Info, 4);
        t.findings_by_severity.insert(Severity::Error, 1);
        t.findings_by_code.insert(Code::OriginMissing, 4);
        assert_eq!(t.findings_at_least(Severity::Info), 5);
        assert_eq!(t.findings_at_least(Severity::Warning), 1);
        assert_eq!(t.findings_of(Severity::Warning), 0);
        assert_eq!(t.findings_with(Code::OriginMissing), 4);
        assert_eq!(t.findings_with(Code::UpgradeRejected), 0);
    }
}
