use super::laws::{minify, spell_shown_escaped};
use super::*;
use proptest::prelude::*;

fn lines(text: &str) -> Vec<String> {
    pretty(text).expect("valid JSON").lines
}

fn joined(text: &str) -> String {
    lines(text).join("\n")
}

fn rejected(text: &str) -> JsonError {
    pretty(text).expect_err("invalid JSON must be rejected")
}

#[test]
fn layout_is_two_space_indented_with_commas_at_line_ends() {
    assert_eq!(
        lines(r#" {"a":1,"b":[true,null,{}],"c":{"d":[]}} "#),
        [
            "{",
            r#"  "a": 1,"#,
            r#"  "b": ["#,
            "    true,",
            "    null,",
            "    {}",
            "  ],",
            r#"  "c": {"#,
            r#"    "d": []"#,
            "  }",
            "}",
        ]
    );
    assert_eq!(lines("[]"), ["[]"]);
    assert_eq!(lines("\n\t{ }\r\n"), ["{}"]);
}

#[test]
fn key_order_is_kept() {
    assert_eq!(
        lines(r#"{"zeta":1,"alpha":2,"mid":3}"#),
        [
            "{",
            r#"  "zeta": 1,"#,
            r#"  "alpha": 2,"#,
            r#"  "mid": 3"#,
            "}"
        ]
    );
}

#[test]
fn duplicate_keys_are_kept_and_listed() {
    let p = pretty(r#"{"a":1,"b":{"x":[0,{"k":1,"k":2,"k":3}]},"a":2}"#).expect("valid");
    assert_eq!(
        p.lines,
        [
            "{",
            r#"  "a": 1,"#,
            r#"  "b": {"#,
            r#"    "x": ["#,
            "      0,",
            "      {",
            r#"        "k": 1,"#,
            r#"        "k": 2,"#,
            r#"        "k": 3"#,
            "      }",
            "    ]",
            "  },",
            r#"  "a": 2"#,
            "}",
        ]
    );
    assert_eq!(
        p.duplicates,
        [
            Duplicate {
                path: "$.b.x[1]".into(),
                key: "k".into()
            },
            Duplicate {
                path: "$".into(),
                key: "a".into()
            },
        ]
    );
}

#[test]
fn duplicates_compare_unescaped_keys_and_paths_quote_odd_keys() {
    let p =
        pretty(r#"[{"a b":[{"\u0061":1,"a":2}]}, {"x\"y":{"\\":1,"\u005c":2}}]"#).expect("valid");
    assert_eq!(
        p.duplicates,
        [
            Duplicate {
                path: r#"$[0]["a b"][0]"#.into(),
                key: "a".into()
            },
            Duplicate {
                path: r#"$[1]["x\"y"]"#.into(),
                key: r"\\".into()
            },
        ]
    );
    // Same spelling in different objects, or different lone surrogates, are not duplicates.
    let p = pretty(r#"[{"a":1},{"a":2},{"\ud800":1,"\ud801":2}]"#).expect("valid");
    assert!(p.duplicates.is_empty(), "{:?}", p.duplicates);
}

#[test]
fn many_duplicates_are_capped() {
    let mut text = String::from("{");
    for i in 0..MAX_DUPLICATES + 5 {
        text.push_str(&format!(r#""k{i}":0,"k{i}":1,"#));
    }
    text.push_str(r#""end":0}"#);
    let p = pretty(&text).expect("valid");
    assert_eq!(p.duplicates.len(), MAX_DUPLICATES);
    assert_eq!(p.duplicates_omitted, 5);
}

#[test]
fn big_integers_and_number_spellings_are_kept() {
    let text = r#"[12345678901234567890123,1.10,1E5,-0,0.0e-0,-1.5e+300,18446744073709551616]"#;
    assert_eq!(
        lines(text),
        [
            "[",
            "  12345678901234567890123,",
            "  1.10,",
            "  1E5,",
            "  -0,",
            "  0.0e-0,",
            "  -1.5e+300,",
            "  18446744073709551616",
            "]",
        ]
    );
}

#[test]
fn string_escapes_and_unicode_are_kept_verbatim() {
    let text = r#"{"s":"nul\u0000 quote\" back\\ slash\/ tab\t \uD83D\uDE00","u":"é日本😀"}"#;
    assert_eq!(
        lines(text),
        [
            "{",
            r#"  "s": "nul\u0000 quote\" back\\ slash\/ tab\t \uD83D\uDE00","#,
            r#"  "u": "é日本😀""#,
            "}",
        ]
    );
}

#[test]
fn terminal_dangerous_characters_are_shown_escaped() {
    let text = "{\"k\u{202e}\":\"a\u{9b}31m\u{7f}\u{2066}b\u{200b}\u{e0041}\u{2028}\"}";
    let shown = joined(text);
    assert_eq!(
        shown,
        "{\n  \"k\\u202e\": \"a\\u009b31m\\u007f\\u2066b\\u200b\\udb40\\udc41\\u2028\"\n}"
    );
    for line in lines(text) {
        assert!(!line.chars().any(shown_escaped), "{line:?}");
    }
    // Still the same JSON value.
    let before: serde_json::Value = serde_json::from_str(text).expect("input");
    let after: serde_json::Value = serde_json::from_str(&shown).expect("output");
    assert_eq!(before, after);
}

#[test]
fn invalid_json_is_rejected_at_the_right_offset() {
    let cases: &[(&str, usize, &str)] = &[
        ("", 0, "no JSON object or array"),
        ("   ", 3, "no JSON object or array"),
        ("42", 0, "the top level is not an object or array"),
        (r#""s""#, 0, "the top level is not an object or array"),
        ("[1] x", 4, "unexpected text after the JSON value"),
        ("{} {}", 3, "unexpected text after the JSON value"),
        (r#"{"a":"open}"#, 5, "unterminated string"),
        (r#"["ab"#, 1, "unterminated string"),
        ("[\"a\u{1}b\"]", 3, "raw control character in string"),
        ("[\"a\nb\"]", 3, "raw control character in string"),
        (r#"["a\qb"]"#, 3, "bad escape in string"),
        (r#"["\u12G4"]"#, 2, "bad \\u escape (needs 4 hex digits)"),
        (r#"["\u12"]"#, 2, "bad \\u escape (needs 4 hex digits)"),
        ("[01]", 1, "leading zero in number"),
        ("[-01]", 2, "leading zero in number"),
        ("[-]", 2, "digit expected in number"),
        ("[1.]", 3, "digit expected after the decimal point"),
        ("[1e+]", 4, "digit expected in exponent"),
        ("[.5]", 1, "expected a value"),
        ("[+1]", 1, "expected a value"),
        ("[tru]", 1, "invalid literal (expected true, false or null)"),
        ("[truex]", 5, "expected ',' or ']'"),
        ("[1,]", 3, "trailing comma before closing bracket"),
        (r#"{"a":1,}"#, 7, "trailing comma before closing bracket"),
        ("{1:2}", 1, "expected a string key"),
        (r#"{"a" 1}"#, 5, "expected ':' after the key"),
        (r#"{"a":1]"#, 6, "expected ',' or '}'"),
        ("[1 2]", 3, "expected ',' or ']'"),
        ("[1", 2, "unexpected end of input"),
        (r#"{"a":"#, 5, "unexpected end of input"),
        ("[\u{a0}1]", 1, "expected a value"),
        ("[NaN]", 1, "expected a value"),
    ];
    for &(text, offset, message) in cases {
        let e = rejected(text);
        assert_eq!((e.offset, e.message), (offset, message), "input {text:?}");
    }
    assert_eq!(
        rejected("[1,]").to_string(),
        "trailing comma before closing bracket at byte 3"
    );
}

#[test]
fn deep_nesting_is_iterative_and_capped() {
    let deep = "[".repeat(100_000);
    let e = rejected(&deep);
    assert_eq!((e.offset, e.message), (MAX_DEPTH, "nested too deeply"));

    let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
    let p = pretty(&ok).expect("nesting up to the cap is fine");
    // The innermost pair prints as `[]`; indentation stops growing.
    assert_eq!(p.lines.len(), 2 * MAX_DEPTH - 1);
    let widest = p.lines.iter().map(String::len).max().unwrap_or(0);
    assert_eq!(widest, 2 * MAX_INDENT_LEVEL + 2);

    let objects = format!("{}{}", r#"{"a":"#.repeat(5000), "}".repeat(5000));
    assert_eq!(rejected(&objects).message, "expected a value");
    let objects = format!("{}1{}", r#"{"a":"#.repeat(5000), "}".repeat(5000));
    assert!(pretty(&objects).is_ok());
}

#[test]
fn large_one_line_message_formats() {
    let mut text = String::from("[");
    let mut i = 0u64;
    while text.len() < 100 * 1024 {
        text.push_str(&format!(r#"{{"id":{i},"v":"x{i}","f":1.50}},"#));
        i += 1;
    }
    text.push_str("0]");
    let p = pretty(&text).expect("valid");
    assert_eq!(p.lines.len(), 2 + (i as usize) * 5 + 1);
    assert_eq!(minify(&p.lines.join("\n")), text);
}

#[test]
fn prefixes_of_engine_io_and_socket_io() {
    let cases: &[(&str, &str, usize)] = &[
        (
            r#"42["chat",{"a":1}]"#,
            "engine.io message · socket.io EVENT",
            2,
        ),
        (r#"430[{"ok":true}]"#, "engine.io message · socket.io ACK · ack 0", 3),
        (
            r#"4212["x"]"#,
            "engine.io message · socket.io EVENT · ack 12",
            4,
        ),
        (r#"0{"sid":"x","upgrades":[]}"#, "engine.io open", 1),
        (r#"4{"plain":1}"#, "engine.io message", 1),
        (
            r#"40/admin,{"token":1}"#,
            "engine.io message · socket.io CONNECT · namespace /admin",
            9,
        ),
        (r#"40{"sid":"y"}"#, "engine.io message · socket.io CONNECT", 2),
        (
            r#"44/chat,{"message":"no"}"#,
            "engine.io message · socket.io CONNECT_ERROR · namespace /chat",
            8,
        ),
        (
            r#"451-["up",{"_placeholder":true,"num":0}]"#,
            "engine.io message · socket.io BINARY_EVENT · 1 attachment",
            4,
        ),
        (
            r#"452-/admin,12["up",{},{}]"#,
            "engine.io message · socket.io BINARY_EVENT · namespace /admin · ack 12 · 2 attachments",
            13,
        ),
        (
            r#"42/admin,12["e"]"#,
            "engine.io message · socket.io EVENT · namespace /admin · ack 12",
            11,
        ),
        (
            r#"461-/x,5[{"_placeholder":true,"num":0}]"#,
            "engine.io message · socket.io BINARY_ACK · namespace /x · ack 5 · 1 attachment",
            8,
        ),
    ];
    for &(text, label, start) in cases {
        let (p, body) = pretty_prefixed(text).unwrap_or_else(|| panic!("{text:?} not claimed"));
        assert_eq!((p.label.as_str(), p.json_start), (label, start), "{text:?}");
        assert_eq!(minify(&body.lines.join("")), &text[start..]);
    }
    let p = split_prefix(r#"452-/admin,12["up"]"#).expect("claimed");
    assert_eq!(
        (
            p.engine_io,
            p.socket_io,
            p.namespace.as_deref(),
            p.ack_id,
            p.attachments
        ),
        (4, Some(5), Some("/admin"), Some(12), Some(2))
    );
}

#[test]
fn text_that_is_not_a_prefixed_packet_is_not_claimed() {
    for text in [
        r#"{"a":1}"#,
        "[1,2]",
        "42 is the answer",
        "42",
        "2probe",
        "3probe",
        "41",
        "41/admin,",
        r#"41{"a":1}"#,
        r#"45["no count"]"#,
        r#"45x-["bad count"]"#,
        r#"47["no such type"]"#,
        r#"40/admin{"no":"comma"}"#,
        r#"40/ad min,{}"#,
        "40/a\u{1b}[2J,{}",
        r#"400{"connect has no ack"}"#,
        r#"42{"event needs an array":1}"#,
        r#"1{"close":1}"#,
        r#"6[]"#,
        "",
    ] {
        assert_eq!(split_prefix(text), None, "{text:?}");
    }
    // Structurally a prefix but not JSON behind it: pretty_prefixed refuses.
    assert!(split_prefix(r#"42[not json]"#).is_some());
    assert!(pretty_prefixed(r#"42[not json]"#).is_none());
    assert!(pretty_prefixed(r#"42["ok"] trailing"#).is_none());
}

#[test]
fn huge_ack_ids_and_namespaces_are_not_claimed() {
    assert_eq!(split_prefix(r#"421234567890123456789["x"]"#), None);
    let long = format!("40/{},{{}}", "n".repeat(300));
    assert_eq!(split_prefix(&long), None);
}

/// JSON text with random whitespace; keys drawn from a small set so duplicates happen.
fn json_text() -> impl Strategy<Value = String> {
    let ws = prop::collection::vec(
        prop_oneof![Just(" "), Just("\n"), Just("\t"), Just("\r\n")],
        0..3,
    )
    .prop_map(|v| v.concat());
    let string = prop::collection::vec(
        prop_oneof![
            any::<char>().prop_map(|c| match c {
                '"' => "\\\"".to_string(),
                '\\' => "\\\\".to_string(),
                c if (c as u32) < 0x20 => format!("\\u{:04x}", c as u32),
                c => c.to_string(),
            }),
            Just("\\n".to_string()),
            Just("\\/".to_string()),
            Just("\\uD83D\\uDE00".to_string()),
            Just("\u{202e}".to_string()),
            Just(" ".to_string()),
        ],
        0..6,
    )
    .prop_map(|v| format!("\"{}\"", v.concat()));
    let number = "-?(0|[1-9][0-9]{0,25})(\\.[0-9]{1,4})?([eE][+-]?[0-9]{1,2})?";
    let leaf = prop_oneof![
        string.clone(),
        number,
        Just("true".to_string()),
        Just("false".to_string()),
        Just("null".to_string()),
    ];
    let key = prop_oneof![
        Just("\"a\"".to_string()),
        Just("\"b\"".to_string()),
        Just("\"\\u0061\"".to_string()),
        string,
    ];
    let value = leaf.prop_recursive(5, 64, 6, move |inner| {
        let ws2 = ws.clone();
        prop_oneof![
            (prop::collection::vec((ws.clone(), inner.clone(), ws.clone()), 0..6)).prop_map(
                |items| {
                    let body: Vec<String> = items
                        .into_iter()
                        .map(|(a, v, b)| format!("{a}{v}{b}"))
                        .collect();
                    format!("[{}]", body.join(","))
                }
            ),
            (prop::collection::vec((ws2.clone(), key.clone(), ws2.clone(), inner), 0..6)).prop_map(
                |items| {
                    let body: Vec<String> = items
                        .into_iter()
                        .map(|(a, k, b, v)| format!("{a}{k}{b}:{a}{v}{b}"))
                        .collect();
                    format!("{{{}}}", body.join(","))
                }
            ),
        ]
    });
    (value, prop::bool::ANY).prop_map(|(v, wrap)| {
        if v.starts_with('{') || v.starts_with('[') {
            v
        } else if wrap {
            format!(" [ {v} ] ")
        } else {
            format!("{{\"v\":{v}}}\n")
        }
    })
}

proptest! {
    #[test]
    fn only_whitespace_changes_and_the_value_is_the_same(text in json_text()) {
        let p = pretty(&text).expect("generated JSON is valid");
        let shown = p.lines.join("\n");
        prop_assert_eq!(minify(&shown), minify(&spell_shown_escaped(&text)));
        for line in &p.lines {
            prop_assert!(!line.chars().any(shown_escaped), "{:?}", line);
            prop_assert!(!line.contains('\n'));
        }
        let before: Result<serde_json::Value, _> = serde_json::from_str(&text);
        let after: Result<serde_json::Value, _> = serde_json::from_str(&shown);
        if p.duplicates.is_empty() {
            prop_assert_eq!(before.ok(), after.ok());
        }
        // Pretty output is itself valid and formats to itself.
        prop_assert_eq!(&pretty(&shown).expect("output is valid").lines, &p.lines);
    }

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,64}") {
        let _ = pretty(&text);
        let _ = pretty_prefixed(&text);
    }

    #[test]
    fn agrees_with_serde_json_on_validity(text in "[\\[\\]{}\",:0-9a-z\\\\. eE+-]{0,24}") {
        prop_assume!(!text.contains("\\u"));
        let ours = pretty(&text).is_ok();
        let top_is_container = text.trim_start_matches([' ']).starts_with(['[', '{']);
        let serde: Result<serde::de::IgnoredAny, _> = serde_json::from_str(&text);
        prop_assert_eq!(ours, serde.is_ok() && top_is_container, "{:?}", text);
    }
}
