//! WebSockets over cleartext HTTP/2 with prior knowledge (RFC 8441) on a real capture:
//! fixtures/node_h2c.pcap (Node `http2` client and server, two WebSocket streams and a GET)
//! checked message by message against the peers' own log, fixtures/node_h2c.peers.json.

mod support;

use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::Path;
use support::{analyze, Outcome};
use wsscope_core::outcome::SessionOutcome;
use wsscope_core::session::{Classification, Transport};
use wsscope_core::tcp::CloseReason;

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn peers() -> Value {
    serde_json::from_slice(&fixture("node_h2c.peers.json")).expect("peers JSON")
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn stream_of(out: &Outcome, session: u64) -> u32 {
    let start = out
        .sessions
        .iter()
        .find(|s| s.id == session)
        .expect("session start");
    match start.transport {
        Transport::H2 { stream_id } => stream_id,
        Transport::Http1 => panic!("session {session} is not an h2 stream"),
    }
}

#[test]
fn node_h2c_streams_match_the_peers_log() {
    let out = analyze(&fixture("node_h2c.pcap"));
    let peers = peers();

    // One session per WebSocket stream, none for the GET; ids in the order they started.
    let streams: Vec<(u64, u32)> = out
        .sessions
        .iter()
        .map(|s| (s.id, stream_of(&out, s.id)))
        .collect();
    assert_eq!(streams, [(1, 1), (2, 3)]);
    let websocket: Vec<&Value> = peers["streams"]
        .as_array()
        .expect("streams")
        .iter()
        .filter(|s| s["kind"] == "websocket")
        .collect();
    assert_eq!(websocket.len(), 2);
    for want in &websocket {
        let stream_id = want["stream_id"].as_u64().expect("stream id") as u32;
        let start = out
            .sessions
            .iter()
            .find(|s| s.transport == Transport::H2 { stream_id })
            .expect("a session for each WebSocket stream");
        assert!(start.upgraded);
        assert!(!start.roles_inferred);
        let hs = start.handshake.as_ref().expect("handshake");
        assert_eq!(hs.request.method, "CONNECT");
        assert_eq!(hs.request.target, want["path"].as_str().expect("path"));
        let authority = hs
            .request
            .headers
            .iter()
            .find(|(n, _)| n == ":authority")
            .map(|(_, v)| v.as_str());
        let server = format!("localhost:{}", start.server.port());
        assert_eq!(authority, Some(server.as_str()));
        assert!(hs
            .request
            .headers
            .iter()
            .any(|(n, v)| n == ":protocol" && v == "websocket"));
        let resp = hs.response.as_ref().expect("response");
        assert_eq!(
            u64::from(resp.status),
            want["status"].as_u64().expect("status")
        );
        // No Sec-WebSocket-Accept in HTTP/2: nothing claimed either way.
        assert!(!hs.negotiated.accept_valid);
        assert_eq!(hs.negotiated.accept, None);
        assert_eq!(hs.negotiated.expected_accept, None);

        // Every message, per direction and in order, as the peers logged it.
        let compare: Vec<&str> = peers["compare_types"]
            .as_array()
            .expect("compare_types")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        for dir in ["c2s", "s2c"] {
            let expected: Vec<(String, u64, String)> = peers["messages"]
                .as_array()
                .expect("messages")
                .iter()
                .filter(|m| m["stream_id"] == stream_id && m["dir"] == dir)
                .map(|m| {
                    (
                        m["type"].as_str().unwrap_or_default().to_string(),
                        m["len"].as_u64().unwrap_or_default(),
                        m["sha256"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect();
            assert!(!expected.is_empty());
            let got: Vec<(String, u64, String)> = out
                .messages
                .iter()
                .filter(|m| {
                    m.session == start.id
                        && m.message.dir.as_str() == dir
                        && compare.contains(&m.message.kind.as_str())
                })
                .map(|m| {
                    assert!(!m.message.incomplete);
                    assert!(m.first_packet > 0 && m.last_packet >= m.first_packet);
                    (
                        m.message.kind.as_str().to_string(),
                        m.message.len,
                        sha256_hex(&m.message.payload),
                    )
                })
                .collect();
            assert_eq!(got, expected, "stream {stream_id} {dir}");
        }

        // Closed by the client with the code and reason it logged, then END_STREAM both ways.
        let end = out
            .ends
            .iter()
            .find(|e| e.id == start.id)
            .expect("session end");
        let close = &want["close"];
        let client_close = end.client_close.as_ref().expect("client close frame");
        assert_eq!(
            client_close.code.map(u64::from),
            close["code"].as_u64(),
            "stream {stream_id}"
        );
        assert_eq!(client_close.reason, close["reason"].as_str().unwrap());
        assert!(end.server_close.is_some());
        assert_eq!(
            end.initiator.map(|d| d.as_str()),
            close["initiator"].as_str()
        );
        assert!(
            end.clean,
            "stream {stream_id}: END_STREAM both ways after close frames"
        );
        assert_eq!(end.tcp_end, Some(CloseReason::Fin));
        assert_eq!(
            SessionOutcome::of(end, Some(resp.status)),
            SessionOutcome::Closed {
                clean: true,
                initiator: end.initiator
            }
        );
    }

    // Nothing wrong with this exchange.
    let bad: Vec<_> = out
        .findings
        .iter()
        .filter(|f| f.severity != wsscope_core::finding::Severity::Info)
        .collect();
    assert!(bad.is_empty(), "{bad:#?}");
    assert_eq!(out.flows.len(), 1);
    assert_eq!(out.flows[0].classification, Classification::WebSocket);
}

/// An HTTP/2 frame.
fn h2_frame(kind: u8, flags: u8, stream_id: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = (payload.len() as u32).to_be_bytes()[1..].to_vec();
    v.push(kind);
    v.push(flags);
    v.extend_from_slice(&stream_id.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// An HPACK block of literal fields without indexing (RFC 7541 6.2.2), short strings.
fn h2_block(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut v = Vec::new();
    for (name, value) in fields {
        v.extend([0x00, name.len() as u8]);
        v.extend_from_slice(name.as_bytes());
        v.push(value.len() as u8);
        v.extend_from_slice(value.as_bytes());
    }
    v
}

/// A final WebSocket frame, masked with a fixed key when `masked`.
fn ws_frame(opcode: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let mut f = vec![
        0x80 | opcode,
        payload.len() as u8 | if masked { 0x80 } else { 0 },
    ];
    let key = [9u8, 8, 7, 6];
    if masked {
        f.extend_from_slice(&key);
    }
    f.extend(
        payload
            .iter()
            .enumerate()
            .map(|(i, b)| if masked { b ^ key[i % 4] } else { *b }),
    );
    f
}

#[test]
fn h2c_upgrade_then_a_websocket_stream() {
    use wsscope_testkit::Conversation;
    const HEADERS: u8 = 0x1;
    const DATA: u8 = 0x0;
    const SETTINGS: u8 = 0x4;
    const END_STREAM: u8 = 0x1;
    const END_HEADERS: u8 = 0x4;
    let mut c = Conversation::default_v4();
    c.handshake();
    c.client_send(
        b"GET / HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade, HTTP2-Settings\r\n\
          Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n",
    );
    let mut s =
        b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n".to_vec();
    s.extend(h2_frame(SETTINGS, 0, 0, &[0, 8, 0, 0, 0, 1]));
    c.server_send(&s);
    let mut p = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    p.extend(h2_frame(SETTINGS, 0, 0, &[]));
    c.client_send(&p);
    // Stream 1 is the upgraded GET: answered, never a session.
    c.server_send(
        &[
            h2_frame(HEADERS, END_HEADERS, 1, &h2_block(&[(":status", "200")])),
            h2_frame(DATA, END_STREAM, 1, b"hello over h2c"),
        ]
        .concat(),
    );
    let connect = h2_block(&[
        (":method", "CONNECT"),
        (":protocol", "websocket"),
        (":scheme", "http"),
        (":path", "/ws"),
        (":authority", "example.com"),
        ("sec-websocket-version", "13"),
    ]);
    c.client_send(&h2_frame(HEADERS, END_HEADERS, 3, &connect));
    c.server_send(&h2_frame(
        HEADERS,
        END_HEADERS,
        3,
        &h2_block(&[(":status", "200")]),
    ));
    c.client_send(&h2_frame(DATA, 0, 3, &ws_frame(0x1, b"ping?", true)));
    c.server_send(&h2_frame(DATA, 0, 3, &ws_frame(0x1, b"pong!", false)));
    c.client_send(&h2_frame(
        DATA,
        END_STREAM,
        3,
        &ws_frame(0x8, &[3, 232], true),
    ));
    c.server_send(&h2_frame(
        DATA,
        END_STREAM,
        3,
        &ws_frame(0x8, &[3, 232], false),
    ));
    c.close();
    let out = support::analyze_packets(&c.into_packets());
    assert_eq!(out.sessions.len(), 1, "{:#?}", out.findings);
    assert_eq!(out.sessions[0].transport, Transport::H2 { stream_id: 3 });
    let texts: Vec<(String, Vec<u8>)> = out
        .messages
        .iter()
        .map(|m| {
            (
                m.message.kind.as_str().to_string(),
                m.message.payload.clone(),
            )
        })
        .collect();
    assert_eq!(
        texts,
        [
            ("text".to_string(), b"ping?".to_vec()),
            ("text".to_string(), b"pong!".to_vec()),
            ("close".to_string(), vec![3, 232]),
            ("close".to_string(), vec![3, 232]),
        ]
    );
    assert!(out.findings.is_empty(), "{:#?}", out.findings);
    assert!(out.ends[0].clean);
    assert_eq!(out.flows[0].classification, Classification::WebSocket);
}
