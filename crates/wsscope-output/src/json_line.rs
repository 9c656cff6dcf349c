//! Hand-written JSON for the NDJSON `message` line, the one line written per message.
//!
//! It writes byte for byte what serde would write for [`NdjsonEvent::Message`] (followed by
//! [`json_terminal_safe`]), straight into a reused buffer, without building the intermediate
//! report strings. Tests hold the two to the same output.
//!
//! [`NdjsonEvent::Message`]: crate::report::NdjsonEvent::Message
//! [`json_terminal_safe`]: wsscope_core::escape::json_terminal_safe

use crate::report::{payload_view, rtt_ms, Direction, MessageType, PayloadMode, PayloadShown};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use wsscope_core::escape::is_unsafe_char;
use wsscope_core::session::SessionMessage;
use wsscope_core::timestamp::Timestamp;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Writes NDJSON message lines; keeps the formatted date and time of the last second seen.
#[derive(Debug, Default)]
pub struct MessageLineWriter {
    /// `YYYY-MM-DDTHH:MM:SS.` of `cached_secs`.
    cached_prefix: Vec<u8>,
    cached_secs: Option<i64>,
}

impl MessageLineWriter {
    /// A writer with an empty time cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends the `message` event line for `m` (without the newline) to `out`.
    pub fn write(&mut self, out: &mut Vec<u8>, m: &SessionMessage, mode: PayloadMode) {
        let msg = &m.message;
        out.extend_from_slice(b"{\"event_type\":\"message\",\"session\":");
        write_u64(out, m.session);
        out.extend_from_slice(b",\"index\":");
        write_u64(out, m.index);
        out.extend_from_slice(b",\"ts\":\"");
        self.write_ts(out, msg.ts);
        out.extend_from_slice(b"\",\"dir\":\"");
        out.extend_from_slice(Direction::from(msg.dir).as_str().as_bytes());
        out.extend_from_slice(b"\",\"type\":\"");
        out.extend_from_slice(MessageType::from(msg.kind).as_str().as_bytes());
        out.extend_from_slice(b"\",\"frames\":");
        write_u64(out, u64::from(msg.frames));
        out.extend_from_slice(b",\"len\":");
        write_u64(out, msg.len);
        out.extend_from_slice(b",\"wire_len\":");
        write_u64(out, msg.wire_len);
        out.extend_from_slice(b",\"compressed\":");
        write_bool(out, msg.compressed);
        out.extend_from_slice(b",\"inflate_failed\":");
        write_bool(out, msg.inflate_error.is_some());
        if let Some(err) = &msg.inflate_error {
            out.extend_from_slice(b",\"inflate_error\":");
            write_json_str(out, &err.to_string());
        }
        let (shown, truncated) = payload_view(msg, mode);
        match shown {
            PayloadShown::Nothing => {}
            PayloadShown::Text(s) => {
                out.extend_from_slice(b",\"text\":");
                write_json_str(out, s);
            }
            PayloadShown::Binary(b) => {
                out.extend_from_slice(b",\"data_b64\":\"");
                write_base64(out, b);
                out.push(b'"');
            }
        }
        out.extend_from_slice(b",\"truncated\":");
        write_bool(out, truncated);
        out.extend_from_slice(b",\"incomplete\":");
        write_bool(out, msg.incomplete);
        out.extend_from_slice(b",\"close_code\":");
        match msg.close_code {
            Some(code) => write_u64(out, u64::from(code)),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"close_reason\":");
        match &msg.close_reason {
            Some(reason) => write_json_str(out, reason),
            None => out.extend_from_slice(b"null"),
        }
        if let Some(nanos) = m.rtt_nanos {
            out.extend_from_slice(b",\"rtt_ms\":");
            // Rare (pongs only): serde_json's own float formatting keeps the output identical.
            match serde_json::to_string(&rtt_ms(nanos)) {
                Ok(text) => out.extend_from_slice(text.as_bytes()),
                Err(_) => out.extend_from_slice(b"null"),
            }
        }
        out.extend_from_slice(b",\"first_packet\":");
        write_u64(out, m.first_packet);
        out.extend_from_slice(b",\"last_packet\":");
        write_u64(out, m.last_packet);
        out.push(b'}');
    }

    /// Appends `ts` as RFC 3339 with microseconds, reusing the date and time of the last call
    /// when the second is the same.
    fn write_ts(&mut self, out: &mut Vec<u8>, ts: Timestamp) {
        let secs = ts.secs();
        if self.cached_secs != Some(secs) {
            let full = ts.rfc3339();
            // "YYYY-MM-DDTHH:MM:SS." is everything before the 6 digits and the Z.
            let cut = full.len().saturating_sub(7);
            self.cached_prefix.clear();
            self.cached_prefix
                .extend_from_slice(&full.as_bytes()[..cut]);
            self.cached_secs = Some(secs);
        }
        out.extend_from_slice(&self.cached_prefix);
        let micros = ts.subsec_nanos() / 1000;
        let mut digits = [b'0'; 6];
        let mut rest = micros;
        for d in digits.iter_mut().rev() {
            *d = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        out.extend_from_slice(&digits);
        out.push(b'Z');
    }
}

fn write_u64(out: &mut Vec<u8>, n: u64) {
    let mut buf = itoa::Buffer::new();
    out.extend_from_slice(buf.format(n).as_bytes());
}

fn write_bool(out: &mut Vec<u8>, b: bool) {
    out.extend_from_slice(if b { b"true" } else { b"false" });
}

fn write_base64(out: &mut Vec<u8>, bytes: &[u8]) {
    let start = out.len();
    let len = base64::encoded_len(bytes.len(), true).unwrap_or(0);
    out.resize(start + len, 0);
    match STANDARD.encode_slice(bytes, &mut out[start..]) {
        Ok(written) => out.truncate(start + written),
        Err(_) => {
            out.truncate(start);
            out.extend_from_slice(STANDARD.encode(bytes).as_bytes());
        }
    }
}

/// What an ASCII byte becomes inside a JSON string: 0 = itself, `b'u'` = `\u00XX`, else the
/// letter after the backslash (serde_json's table, plus DEL, which no terminal should get raw).
static ASCII_ESCAPE: [u8; 128] = {
    let mut t = [0u8; 128];
    let mut i = 0;
    while i < 0x20 {
        t[i] = b'u';
        i += 1;
    }
    t[0x08] = b'b';
    t[0x09] = b't';
    t[0x0a] = b'n';
    t[0x0c] = b'f';
    t[0x0d] = b'r';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t[0x7f] = b'u';
    t
};

/// Appends `s` as a quoted JSON string that is also safe on a terminal: C0/C1 controls, DEL,
/// bidi overrides and line separators are written as `\u` escapes.
pub fn write_json_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b < 0x80 {
            let esc = ASCII_ESCAPE[b as usize];
            if esc == 0 {
                i += 1;
                continue;
            }
            out.extend_from_slice(&bytes[start..i]);
            if esc == b'u' {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 0xf) as usize]);
            } else {
                out.push(b'\\');
                out.push(esc);
            }
            i += 1;
            start = i;
        } else {
            // A non-ASCII character: the string is valid UTF-8, so one char starts here.
            let c = s[i..].chars().next().unwrap_or('\u{fffd}');
            let width = c.len_utf8();
            if is_unsafe_char(c) {
                out.extend_from_slice(&bytes[start..i]);
                let code = c as u32;
                out.extend_from_slice(b"\\u");
                for shift in [12, 8, 4, 0] {
                    out.push(HEX[((code >> shift) & 0xf) as usize]);
                }
                start = i + width;
            }
            i += width;
        }
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{message_report, MessageEvent, NdjsonEvent};
    use proptest::prelude::*;
    use wsscope_core::escape::json_terminal_safe;
    use wsscope_core::tcp::Dir;
    use wsscope_core::ws::deflate::InflateError;
    use wsscope_core::ws::message::{DecompressionError, Message, MessageKind};

    fn via_serde(s: &str) -> String {
        json_terminal_safe(serde_json::to_string(s).expect("serialize"))
    }

    #[test]
    fn strings_match_serde_plus_terminal_escaping() {
        for s in [
            "",
            "plain",
            "quote\" backslash\\ slash/",
            "\u{0}\u{1}\u{8}\t\n\u{b}\u{c}\r\u{1b}[2J\u{1f}",
            "del\u{7f}",
            "c1\u{85}\u{9b}31m",
            "bidi\u{202e}gnp.exe\u{2066}\u{2069}\u{200f}\u{61c}",
            "sep\u{2028}\u{2029}bom\u{feff}",
            "ok é ✓ 😀 漢字",
        ] {
            let mut out = Vec::new();
            write_json_str(&mut out, s);
            let ours = String::from_utf8(out).expect("utf-8");
            assert_eq!(ours, via_serde(s), "for {s:?}");
            let back: String = serde_json::from_str(&ours).expect("valid JSON");
            assert_eq!(back, s);
            assert!(!ours.chars().any(is_unsafe_char));
        }
    }

    fn via_report(m: &SessionMessage, mode: PayloadMode) -> String {
        let ev = NdjsonEvent::Message(MessageEvent {
            session: m.session,
            message: message_report(m, mode),
        });
        json_terminal_safe(serde_json::to_string(&ev).expect("serialize"))
    }

    fn kind_strategy() -> impl Strategy<Value = MessageKind> {
        prop_oneof![
            Just(MessageKind::Text),
            Just(MessageKind::Binary),
            Just(MessageKind::Ping),
            Just(MessageKind::Pong),
            Just(MessageKind::Close),
        ]
    }

    fn inflate_error_strategy() -> impl Strategy<Value = DecompressionError> {
        prop_oneof![
            Just(DecompressionError::ContextLost),
            Just(DecompressionError::Inflate(InflateError::Stalled)),
            ".{0,30}".prop_map(|why| DecompressionError::Inflate(InflateError::Corrupt(why))),
        ]
    }

    fn payload_strategy() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            ".{0,40}".prop_map(String::into_bytes),
            proptest::collection::vec(any::<u8>(), 0..40),
            Just("\u{1b}[31m\u{202e}\u{7f}é\u{85}😀".as_bytes().to_vec()),
        ]
    }

    proptest! {
        /// The hand-written line is exactly the serde report line, for any message and mode.
        #[test]
        fn message_line_matches_serde(
            session in any::<u64>(),
            index in any::<u64>(),
            ts in any::<i64>(),
            c2s in any::<bool>(),
            kind in kind_strategy(),
            frames in any::<u32>(),
            extra_len in 0u64..1000,
            wire_len in any::<u64>(),
            compressed in any::<bool>(),
            payload in payload_strategy(),
            incomplete in any::<bool>(),
            utf8_valid in proptest::option::of(any::<bool>()),
            close_code in proptest::option::of(any::<u16>()),
            close_reason in proptest::option::of(".{0,20}"),
            inflate_error in proptest::option::of(inflate_error_strategy()),
            rtt_nanos in proptest::option::of(any::<i64>()),
            first_packet in any::<u64>(),
            last_packet in any::<u64>(),
            mode_pick in 0u8..4,
            preview in 0usize..48,
        ) {
            let message = Message {
                dir: if c2s { Dir::ClientToServer } else { Dir::ServerToClient },
                ts: Timestamp(ts),
                end_ts: Timestamp(ts),
                kind,
                frames,
                len: payload.len() as u64 + extra_len,
                wire_len,
                compressed,
                payload,
                incomplete,
                utf8_valid,
                close_code,
                close_reason,
                inflate_error,
            };
            let m = SessionMessage {
                session,
                index,
                message,
                first_packet,
                last_packet,
                rtt_nanos,
            };
            let mode = match mode_pick {
                0 => PayloadMode::None,
                1 => PayloadMode::Full,
                _ => PayloadMode::Preview(preview),
            };
            let mut out = Vec::new();
            MessageLineWriter::new().write(&mut out, &m, mode);
            prop_assert_eq!(String::from_utf8(out).expect("utf-8"), via_report(&m, mode));
        }
    }

    #[test]
    fn timestamps_match_rfc3339_across_second_boundaries() {
        let mut w = MessageLineWriter::new();
        for ts in [0, 999_999_999, 1_000_000_000, 1_709_208_000_000_001_500, -1] {
            let ts = Timestamp(ts);
            let mut out = Vec::new();
            w.write_ts(&mut out, ts);
            assert_eq!(String::from_utf8(out).expect("utf-8"), ts.rfc3339());
        }
    }
}
