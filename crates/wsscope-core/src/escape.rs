//! Making hostile payload text safe to show: no terminal control sequences, NUL, or bidi
//! overrides ever reach a terminal raw.

/// True for characters that must never be written raw to a terminal.
pub fn is_unsafe_char(c: char) -> bool {
    c.is_control() // C0, DEL, C1 (includes ESC and 8-bit CSI)
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{061c}')
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}')
}

/// Escapes text for one terminal line: `\n`, `\r`, `\t`, `\\` and `\u{..}` for anything unsafe.
pub fn for_terminal(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\\' => out.push_str("\\\\"),
            c if is_unsafe_char(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Bytes for one terminal line: valid UTF-8 runs escaped as text, other bytes as `\xNN`.
pub fn bytes_for_terminal(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        out.push_str(&for_terminal(chunk.valid()));
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// Rewrites JSON text so that DEL, C1 controls, bidi overrides and line separators inside
/// strings appear as `\uXXXX` escapes (serde_json already escapes C0 controls). JSON structure
/// is ASCII without DEL, so every such character is inside a string and the result is
/// equivalent JSON.
pub fn json_terminal_safe(json: String) -> String {
    let needs_escape = |c: char| (!c.is_ascii() || c == '\u{7f}') && is_unsafe_char(c);
    let clean = if json.is_ascii() {
        !json.as_bytes().contains(&0x7f)
    } else {
        !json.chars().any(needs_escape)
    };
    if clean {
        return json;
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if needs_escape(c) {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_terminal_attacks() {
        let evil = "ok\u{1b}[2J\u{0}\u{202e}gnp.exe\u{9b}31m";
        let shown = for_terminal(evil);
        assert_eq!(shown, "ok\\u{1b}[2J\\u{0}\\u{202e}gnp.exe\\u{9b}31m");
        assert!(!shown.chars().any(is_unsafe_char));
    }

    #[test]
    fn bytes_show_invalid_utf8_as_hex() {
        assert_eq!(bytes_for_terminal(b"a\xffb\n"), "a\\xffb\\n");
    }

    #[test]
    fn json_stays_valid_and_safe() {
        let v = serde_json::json!({"t": "x\u{202e}y\u{85}z\u{1b}\u{7f}"});
        let s = json_terminal_safe(serde_json::to_string(&v).expect("json"));
        assert!(!s.chars().any(is_unsafe_char));
        let back: serde_json::Value = serde_json::from_str(&s).expect("valid json");
        assert_eq!(back, v);
    }
}
