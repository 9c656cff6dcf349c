//! Faithful JSON pretty-printing for display: indents a message without changing any token.
//!
//! A `serde_json::Value` round trip shows a different message than the one sent: keys come out
//! sorted, duplicate keys merge, big integers turn into floats and `1.10` prints as `1.1`.
//! [`pretty`] works on tokens instead: keys, strings, numbers and literals are copied from the
//! source byte for byte (order and duplicates kept, number spelling kept), only the whitespace
//! between tokens changes. Duplicate keys are listed in [`Pretty::duplicates`], because
//! `JSON.parse` keeps only the last one.
//!
//! Terminal safety: every character for which [`shown_escaped`] is true is written as a JSON
//! `\uXXXX` escape (UTF-16 units, lower-case hex), so the output is still equivalent JSON and
//! nothing invisible or terminal-controlling is drawn raw. Those are the characters
//! [`wsscope_core::escape::is_unsafe_char`] refuses (C0/C1 controls, DEL, bidi marks,
//! overrides and isolates, line and paragraph separators, BOM) plus the other invisible format
//! characters (soft hyphen, zero-width space/joiners, word joiner and invisible operators,
//! interlinear annotations, language tags). Such characters can only stand inside strings
//! (raw C0 controls are invalid JSON), so structure is never touched.
//!
//! [`split_prefix`] recognises the engine.io / socket.io packet prefix in front of JSON
//! (`42["chat",{}]`), so the JSON part can be pretty-printed under a label.
//!
//! Everything here is iterative (no recursion), linear in the input and panic-free.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::fmt::Write as _;

use wsscope_core::escape::{for_terminal, is_unsafe_char};

/// Deepest nesting of objects and arrays accepted; deeper input is rejected.
pub const MAX_DEPTH: usize = 10_000;
/// Nesting level after which indentation stops growing (keeps the output linear in the input).
pub const MAX_INDENT_LEVEL: usize = 40;
/// At most this many duplicate keys are listed; the rest are counted in
/// [`Pretty::duplicates_omitted`].
pub const MAX_DUPLICATES: usize = 100;

const INDENT: &str = "  ";

/// A pretty-printed JSON text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pretty {
    /// Output lines (2-space indent, no line breaks inside), safe to draw on a terminal.
    pub lines: Vec<String>,
    /// Keys that appear more than once in the same object, once per object and key, in order of
    /// their second appearance.
    pub duplicates: Vec<Duplicate>,
    /// Duplicate keys found beyond the first [`MAX_DUPLICATES`].
    pub duplicates_omitted: usize,
}

/// Longest path or key kept in a [`Duplicate`], in characters (hostile JSON could otherwise
/// make 100 notes of a megabyte each).
pub const MAX_NOTE_CHARS: usize = 200;

/// `s` cut to [`MAX_NOTE_CHARS`] characters, with `…` when cut.
fn shorten(s: String) -> String {
    match s.char_indices().nth(MAX_NOTE_CHARS) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s,
    }
}

/// A key seen more than once in one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duplicate {
    /// Path of the object holding the key, e.g. `$.a[2].b` (`$` is the top level; keys that are
    /// not identifiers are written `["a b"]`). Terminal-safe; at most [`MAX_NOTE_CHARS`]
    /// characters (then `…`).
    pub path: String,
    /// The key, unescaped, then made terminal-safe with [`for_terminal`]; at most
    /// [`MAX_NOTE_CHARS`] characters (then `…`).
    pub key: String,
}

/// Why a text is not one JSON object or array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    /// Byte offset in the input where the problem is.
    pub offset: usize,
    /// What is wrong, in words.
    pub message: &'static str,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.message, self.offset)
    }
}

impl std::error::Error for JsonError {}

fn err<T>(offset: usize, message: &'static str) -> Result<T, JsonError> {
    Err(JsonError { offset, message })
}

/// True for characters that [`pretty`] writes as `\uXXXX` escapes inside strings.
pub fn shown_escaped(c: char) -> bool {
    is_unsafe_char(c)
        || matches!(
            c,
            '\u{ad}'
                | '\u{600}'..='\u{605}'
                | '\u{6dd}'
                | '\u{70f}'
                | '\u{180e}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2060}'..='\u{2064}'
                | '\u{206a}'..='\u{206f}'
                | '\u{fff9}'..='\u{fffb}'
                | '\u{110bd}'
                | '\u{e0001}'
                | '\u{e0020}'..='\u{e007f}'
        )
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Object,
    Array,
}

/// One open object or array.
struct Frame<'a> {
    kind: Kind,
    /// Members seen so far.
    count: usize,
    /// Raw spelling (between the quotes) of the key of the current member (objects).
    current_key: &'a str,
    /// Keys seen, by their unescaped value, and whether already reported as duplicates.
    keys: HashMap<Cow<'a, str>, bool>,
}

/// What the parser expects next.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// A value (top of an array, after a `:`, or after `,` in an array).
    Value { after_comma: bool },
    /// A key (after `,` in an object).
    Key,
    /// `:` after a key.
    Colon,
    /// `,` or the closing bracket, after a member.
    CommaOrClose,
}

struct Printer<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    stack: Vec<Frame<'a>>,
    out: Pretty,
    /// The next value goes on the last line (after `"key": `).
    after_key: bool,
}

/// Pretty-prints one JSON object or array (whitespace around it allowed), keeping every token
/// as spelled in `text`. See the module documentation for what is escaped.
pub fn pretty(text: &str) -> Result<Pretty, JsonError> {
    let mut p = Printer {
        src: text,
        bytes: text.as_bytes(),
        pos: 0,
        stack: Vec::new(),
        out: Pretty::default(),
        after_key: false,
    };
    p.run()?;
    Ok(p.out)
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

impl<'a> Printer<'a> {
    fn skip_ws(&mut self) {
        while self.bytes.get(self.pos).is_some_and(|&b| is_ws(b)) {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn indent(&self) -> String {
        INDENT.repeat(self.stack.len().min(MAX_INDENT_LEVEL))
    }

    /// Starts a value: on the key's line in objects, on a new line otherwise.
    fn place(&mut self, text: &str) {
        if self.after_key {
            self.after_key = false;
            if let Some(line) = self.out.lines.last_mut() {
                line.push_str(text);
                return;
            }
        }
        let mut line = self.indent();
        line.push_str(text);
        self.out.lines.push(line);
    }

    fn run(&mut self) -> Result<(), JsonError> {
        self.skip_ws();
        match self.peek() {
            Some(b'{' | b'[') => {}
            Some(_) => return err(self.pos, "the top level is not an object or array"),
            None => return err(self.pos, "no JSON object or array"),
        }
        let mut expect = Expect::Value { after_comma: false };
        loop {
            self.skip_ws();
            let at = self.pos;
            if expect == Expect::CommaOrClose && self.stack.is_empty() {
                // The top-level value is complete.
                if at < self.bytes.len() {
                    return err(at, "unexpected text after the JSON value");
                }
                return Ok(());
            }
            let Some(b) = self.peek() else {
                return err(at, "unexpected end of input");
            };
            expect = match expect {
                Expect::Value { after_comma } => {
                    if after_comma && matches!(b, b']' | b'}') {
                        return err(at, "trailing comma before closing bracket");
                    }
                    self.value(b)?
                }
                Expect::Key => {
                    if b == b'}' {
                        return err(at, "trailing comma before closing bracket");
                    }
                    self.key(b)?
                }
                Expect::Colon => {
                    if b != b':' {
                        return err(at, "expected ':' after the key");
                    }
                    self.pos += 1;
                    self.after_key = true;
                    Expect::Value { after_comma: false }
                }
                Expect::CommaOrClose => {
                    let Some(top) = self.stack.last_mut() else {
                        return err(at, "unexpected text after the JSON value");
                    };
                    match (b, top.kind) {
                        (b',', Kind::Object) => {
                            self.pos += 1;
                            self.push_comma();
                            Expect::Key
                        }
                        (b',', Kind::Array) => {
                            self.pos += 1;
                            self.push_comma();
                            Expect::Value { after_comma: true }
                        }
                        (b'}', Kind::Object) | (b']', Kind::Array) => {
                            self.pos += 1;
                            self.stack.pop();
                            let mut line = self.indent();
                            line.push(b as char);
                            self.out.lines.push(line);
                            self.member_done();
                            Expect::CommaOrClose
                        }
                        (_, Kind::Object) => return err(at, "expected ',' or '}'"),
                        (_, Kind::Array) => return err(at, "expected ',' or ']'"),
                    }
                }
            };
        }
    }

    fn push_comma(&mut self) {
        if let Some(line) = self.out.lines.last_mut() {
            line.push(',');
        }
    }

    /// Counts a finished member in the enclosing container.
    fn member_done(&mut self) {
        if let Some(top) = self.stack.last_mut() {
            top.count += 1;
        }
    }

    /// Parses a value starting with byte `b` at `self.pos`.
    fn value(&mut self, b: u8) -> Result<Expect, JsonError> {
        let at = self.pos;
        match b {
            b'{' | b'[' => {
                self.pos += 1;
                let close = if b == b'{' { b'}' } else { b']' };
                self.skip_ws();
                if self.peek() == Some(close) {
                    self.pos += 1;
                    self.place(if b == b'{' { "{}" } else { "[]" });
                    self.member_done();
                    return Ok(Expect::CommaOrClose);
                }
                if self.stack.len() >= MAX_DEPTH {
                    return err(at, "nested too deeply");
                }
                self.place(if b == b'{' { "{" } else { "[" });
                let kind = if b == b'{' { Kind::Object } else { Kind::Array };
                self.stack.push(Frame {
                    kind,
                    count: 0,
                    current_key: "",
                    keys: HashMap::new(),
                });
                Ok(if kind == Kind::Object {
                    Expect::Key
                } else {
                    Expect::Value { after_comma: false }
                })
            }
            b'"' => {
                let end = self.string()?;
                let shown = safe_string(&self.src[at..end]);
                self.place(&shown);
                self.member_done();
                Ok(Expect::CommaOrClose)
            }
            b'-' | b'0'..=b'9' => {
                let end = self.number()?;
                let src = self.src;
                self.place(&src[at..end]);
                self.member_done();
                Ok(Expect::CommaOrClose)
            }
            b't' | b'f' | b'n' => {
                let word: &str = match b {
                    b't' => "true",
                    b'f' => "false",
                    _ => "null",
                };
                if !self.bytes[at..].starts_with(word.as_bytes()) {
                    return err(at, "invalid literal (expected true, false or null)");
                }
                self.pos += word.len();
                self.place(word);
                self.member_done();
                Ok(Expect::CommaOrClose)
            }
            _ => err(at, "expected a value"),
        }
    }

    /// Parses a key starting with byte `b`, writes `"key": ` and records duplicates.
    fn key(&mut self, b: u8) -> Result<Expect, JsonError> {
        let at = self.pos;
        if b != b'"' {
            return err(at, "expected a string key");
        }
        let end = self.string()?;
        let raw = &self.src[at + 1..end - 1];
        let mut line = self.indent();
        line.push_str(&safe_string(&self.src[at..end]));
        line.push_str(": ");
        self.out.lines.push(line);
        let unescaped = key_identity(raw);
        let Some(top) = self.stack.last_mut() else {
            return err(at, "expected a value");
        };
        top.current_key = raw;
        let newly_duplicate = match top.keys.get_mut(&unescaped) {
            None => {
                top.keys.insert(unescaped, false);
                false
            }
            Some(reported) => !std::mem::replace(reported, true),
        };
        if newly_duplicate {
            if self.out.duplicates.len() < MAX_DUPLICATES {
                let path = shorten(self.object_path());
                self.out.duplicates.push(Duplicate {
                    path,
                    key: shorten(for_terminal(&unescape_lossy(raw))),
                });
            } else {
                self.out.duplicates_omitted += 1;
            }
        }
        Ok(Expect::Colon)
    }

    /// Path of the innermost open container (`$.a[2]`).
    fn object_path(&self) -> String {
        let mut path = String::from("$");
        let Some((_, parents)) = self.stack.split_last() else {
            return path;
        };
        for parent in parents {
            match parent.kind {
                Kind::Array => {
                    let _ = write!(path, "[{}]", parent.count);
                }
                Kind::Object => push_key_segment(&mut path, parent.current_key),
            }
        }
        path
    }

    /// Scans a string starting at the `"` at `self.pos`; returns the offset after its closing
    /// quote.
    fn string(&mut self) -> Result<usize, JsonError> {
        let open = self.pos;
        let mut i = open + 1;
        loop {
            let Some(&b) = self.bytes.get(i) else {
                return err(open, "unterminated string");
            };
            match b {
                b'"' => {
                    self.pos = i + 1;
                    return Ok(i + 1);
                }
                b'\\' => match self.bytes.get(i + 1) {
                    Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                    Some(b'u') => {
                        let hex = self.bytes.get(i + 2..i + 6);
                        if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                            return err(i, "bad \\u escape (needs 4 hex digits)");
                        }
                        i += 6;
                    }
                    None => return err(open, "unterminated string"),
                    Some(_) => return err(i, "bad escape in string"),
                },
                0x00..=0x1f => return err(i, "raw control character in string"),
                _ => i += 1,
            }
        }
    }

    /// Scans a number at `self.pos` (RFC 8259 grammar); returns the offset after it.
    fn number(&mut self) -> Result<usize, JsonError> {
        let b = self.bytes;
        let mut i = self.pos;
        let digits = |mut i: usize| {
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            i
        };
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        match b.get(i) {
            Some(b'0') => {
                i += 1;
                if b.get(i).is_some_and(u8::is_ascii_digit) {
                    return err(i - 1, "leading zero in number");
                }
            }
            Some(b'1'..=b'9') => i = digits(i),
            _ => return err(i, "digit expected in number"),
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            if !b.get(i).is_some_and(u8::is_ascii_digit) {
                return err(i, "digit expected after the decimal point");
            }
            i = digits(i);
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            if !b.get(i).is_some_and(u8::is_ascii_digit) {
                return err(i, "digit expected in exponent");
            }
            i = digits(i);
        }
        self.pos = i;
        Ok(i)
    }
}

/// `.key` for identifier keys, `["key"]` otherwise (terminal-safe).
fn push_key_segment(path: &mut String, raw: &str) {
    let key = unescape_lossy(raw);
    let mut chars = key.chars();
    let identifier = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    if identifier {
        path.push('.');
        path.push_str(&key);
    } else {
        path.push_str("[\"");
        path.push_str(&for_terminal(&key).replace('"', "\\\""));
        path.push_str("\"]");
    }
}

/// A string token (quotes included, already validated) with [`shown_escaped`] characters
/// written as `\uXXXX`.
fn safe_string(token: &str) -> Cow<'_, str> {
    let clean = if token.is_ascii() {
        !token.bytes().any(|b| b == 0x7f)
    } else {
        !token.chars().any(shown_escaped)
    };
    if clean {
        return Cow::Borrowed(token);
    }
    let mut out = String::with_capacity(token.len() + 16);
    for c in token.chars() {
        if shown_escaped(c) {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{u:04x}");
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Reads the 4 hex digits of a `\u` escape (validated by the scanner).
fn hex4(h: &[u8]) -> u16 {
    h.iter().fold(0u16, |acc, &d| {
        let v = (d as char).to_digit(16).unwrap_or(0) as u16;
        (acc << 4) | v
    })
}

/// A piece of a string body: raw text, or one UTF-16 unit written as an escape.
enum Piece<'a> {
    Text(&'a str),
    Unit(u16),
}

/// Splits a validated string body into raw runs and escaped units.
fn decode<'a>(raw: &'a str, mut piece: impl FnMut(Piece<'a>)) {
    let b = raw.as_bytes();
    let mut run = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            i += 1;
            continue;
        }
        piece(Piece::Text(&raw[run..i]));
        match b.get(i + 1) {
            Some(b'u') => {
                piece(Piece::Unit(b.get(i + 2..i + 6).map_or(0xfffd, hex4)));
                i += 6;
            }
            Some(&c) => {
                piece(Piece::Unit(match c {
                    b'b' => 0x08,
                    b'f' => 0x0c,
                    b'n' => 0x0a,
                    b'r' => 0x0d,
                    b't' => 0x09,
                    other => u16::from(other),
                }));
                i += 2;
            }
            None => i += 1,
        }
        i = i.min(b.len());
        run = i;
    }
    piece(Piece::Text(&raw[run..]));
}

/// Unescapes a string body; `text` maps raw runs, `lone` writes a lone surrogate.
fn unescape_with(
    raw: &str,
    text: impl Fn(&str, &mut String),
    lone: impl Fn(u16, &mut String),
) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut units: Vec<u16> = Vec::new();
    let flush = |units: &mut Vec<u16>, out: &mut String| {
        for r in char::decode_utf16(units.drain(..)) {
            match r {
                Ok(c) => text(c.encode_utf8(&mut [0; 4]), out),
                Err(e) => lone(e.unpaired_surrogate(), out),
            }
        }
    };
    decode(raw, |p| match p {
        Piece::Text(t) => {
            flush(&mut units, &mut out);
            text(t, &mut out);
        }
        Piece::Unit(u) => units.push(u),
    });
    flush(&mut units, &mut out);
    out
}

/// An exact identity for a key body: the raw text when it has no escapes; otherwise the
/// unescaped text with `\` doubled and lone surrogates written `\uXXXX` (so distinct keys never
/// collide and `"a"` equals `"\u0061"`).
fn key_identity(raw: &str) -> Cow<'_, str> {
    if !raw.contains('\\') {
        return Cow::Borrowed(raw);
    }
    Cow::Owned(unescape_with(
        raw,
        |t, out| {
            for c in t.chars() {
                if c == '\\' {
                    out.push_str("\\\\");
                } else {
                    out.push(c);
                }
            }
        },
        |u, out| {
            let _ = write!(out, "\\u{u:04x}");
        },
    ))
}

/// Unescaped key text for display (lone surrogates become U+FFFD).
fn unescape_lossy(raw: &str) -> Cow<'_, str> {
    if !raw.contains('\\') {
        return Cow::Borrowed(raw);
    }
    Cow::Owned(unescape_with(
        raw,
        |t, out| out.push_str(t),
        |_, out| out.push('\u{fffd}'),
    ))
}

/// An engine.io / socket.io packet prefix in front of JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prefixed {
    /// Human description, e.g. `engine.io message · socket.io EVENT · namespace /admin · ack 12`
    /// (terminal-safe).
    pub label: String,
    /// Byte offset where the JSON starts.
    pub json_start: usize,
    /// engine.io packet type (0 open, 4 message).
    pub engine_io: u8,
    /// socket.io packet type (0 CONNECT ... 6 BINARY_ACK), inside an engine.io message.
    pub socket_io: Option<u8>,
    /// socket.io namespace (`/admin`), when not the default one.
    pub namespace: Option<String>,
    /// socket.io acknowledgement id.
    pub ack_id: Option<u64>,
    /// Binary attachment count of BINARY_EVENT / BINARY_ACK.
    pub attachments: Option<u64>,
}

const SOCKET_IO_TYPES: [&str; 7] = [
    "CONNECT",
    "DISCONNECT",
    "EVENT",
    "ACK",
    "CONNECT_ERROR",
    "BINARY_EVENT",
    "BINARY_ACK",
];

/// Longest namespace accepted by [`split_prefix`].
const MAX_NAMESPACE: usize = 256;

/// Reads ASCII digits from `i` as a number (at most 18 digits); returns it and the end offset.
fn read_digits(b: &[u8], mut i: usize) -> Option<(u64, usize)> {
    let start = i;
    let mut n: u64 = 0;
    while let Some(&d) = b.get(i).filter(|d| d.is_ascii_digit()) {
        if i - start >= 18 {
            return None;
        }
        n = n * 10 + u64::from(d - b'0');
        i += 1;
    }
    (i > start).then_some((n, i))
}

/// Recognises an engine.io (v3/v4) / socket.io packet prefix in front of a JSON object or
/// array: `0{..}` (engine.io open), `4{..}` / `4[..]` (engine.io message of plain JSON), and
/// `4` + socket.io type + optional `N-` attachments (types 5 and 6 only, required there) +
/// optional `/namespace,` + optional ack id (EVENT, ACK and binary ones) + JSON. Structural
/// only: the caller must still check that the rest pretty-prints ([`pretty_prefixed`] does
/// both). Text not starting with a digit, or where anything else follows the prefix, is not
/// claimed.
pub fn split_prefix(text: &str) -> Option<Prefixed> {
    let b = text.as_bytes();
    let json_at = |i: usize| matches!(b.get(i), Some(b'{' | b'['));
    let plain = |engine_io: u8, label: &str| Prefixed {
        label: label.to_string(),
        json_start: 1,
        engine_io,
        socket_io: None,
        namespace: None,
        ack_id: None,
        attachments: None,
    };
    match b.first()? {
        b'0' if b.get(1) == Some(&b'{') => return Some(plain(0, "engine.io open")),
        b'4' if json_at(1) => return Some(plain(4, "engine.io message")),
        b'4' => {}
        _ => return None,
    }
    let kind = match b.get(1) {
        Some(d @ b'0'..=b'6') => d - b'0',
        _ => return None,
    };
    let mut i = 2;
    let mut attachments = None;
    if matches!(kind, 5 | 6) {
        let (n, end) = read_digits(b, i)?;
        if b.get(end) != Some(&b'-') {
            return None;
        }
        attachments = Some(n);
        i = end + 1;
    }
    let mut namespace = None;
    if b.get(i) == Some(&b'/') {
        let len = b[i..]
            .iter()
            .take(MAX_NAMESPACE + 1)
            .position(|&c| c == b',')?;
        let nsp = &text[i..i + len];
        if nsp.chars().any(|c| c.is_whitespace() || shown_escaped(c)) {
            return None;
        }
        namespace = Some(nsp.to_string());
        i += len + 1;
    }
    let mut ack_id = None;
    if matches!(kind, 2 | 3 | 5 | 6) {
        if let Some((n, end)) = read_digits(b, i) {
            ack_id = Some(n);
            i = end;
        }
    }
    let fits = match kind {
        0 | 4 => b.get(i) == Some(&b'{'),
        2 | 3 | 5 | 6 => b.get(i) == Some(&b'['),
        _ => false,
    };
    if !fits {
        return None;
    }
    let mut label = format!(
        "engine.io message · socket.io {}",
        SOCKET_IO_TYPES[usize::from(kind)]
    );
    if let Some(nsp) = &namespace {
        let _ = write!(label, " · namespace {}", for_terminal(nsp));
    }
    if let Some(id) = ack_id {
        let _ = write!(label, " · ack {id}");
    }
    if let Some(n) = attachments {
        let plural = if n == 1 { "" } else { "s" };
        let _ = write!(label, " · {n} attachment{plural}");
    }
    Some(Prefixed {
        label,
        json_start: i,
        engine_io: 4,
        socket_io: Some(kind),
        namespace,
        ack_id,
        attachments,
    })
}

/// [`split_prefix`] and [`pretty`] of the rest: `Some` only when both succeed.
pub fn pretty_prefixed(text: &str) -> Option<(Prefixed, Pretty)> {
    let prefix = split_prefix(text)?;
    let body = pretty(text.get(prefix.json_start..)?).ok()?;
    Some((prefix, body))
}

/// The laws [`pretty`] keeps, as functions, so that its tests and its fuzz target check the
/// same thing: removing the whitespace outside strings from the output gives the input's, once
/// the input's [`shown_escaped`] characters are spelled as `pretty` spells them.
pub mod laws {
    use super::shown_escaped;

    /// The text without JSON whitespace outside strings.
    pub fn minify(text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut in_string = false;
        let mut escaped = false;
        for c in text.chars() {
            if in_string {
                out.push(c);
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == '"' {
                    in_string = false;
                }
            } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
                in_string = c == '"';
                out.push(c);
            }
        }
        out
    }

    /// `text` as `pretty` spells it: every [`shown_escaped`] character other than JSON
    /// whitespace (in valid JSON those stand only inside strings) as `\uXXXX` UTF-16 escapes.
    pub fn spell_shown_escaped(text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        for c in text.chars() {
            if shown_escaped(c) && !matches!(c, ' ' | '\t' | '\n' | '\r') {
                for u in c.encode_utf16(&mut [0; 2]) {
                    out.push_str(&format!("\\u{u:04x}"));
                }
            } else {
                out.push(c);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
