//! Input builders: the synthesized session behind the `pipeline` target, and seed inputs for
//! every target built with `wsscope_testkit` (plus the shipped fixtures, passed in).

use wsscope_core::capture::CaptureReader;
use wsscope_testkit::ws::{
    deflate_frame, fragment_message, OP_BINARY, OP_PING, OP_TEXT, SAMPLE_KEY,
};
use wsscope_testkit::{
    fragment_ipv4, new_deflate_compressor, CaptureFormat, Conversation, Dir, FrameSpec, Link,
    Session, UpgradeRequest, UpgradeResponse,
};

use crate::Input;

/// `[hdr][bytes]` records of `tls_flow` / `h2_connection` (bit 7: server to client).
fn dir_records(items: &[(bool, Vec<u8>)]) -> Vec<u8> {
    let mut v = Vec::new();
    for (s2c, bytes) in items {
        for c in bytes.chunks(127) {
            v.push(c.len() as u8 | if *s2c { 0x80 } else { 0 });
            v.extend_from_slice(c);
        }
    }
    v
}

/// A `tls_flow` input (offline limits) of the first TCP connection of a capture: its two
/// streams in capture order.
pub fn tls_flow_seed(capture: &[u8]) -> Option<Vec<u8>> {
    use wsscope_core::packet::PacketDecoder;
    use wsscope_core::tcp::{FlowLimits, FlowTable, TcpEvent, Verdict};
    let reader = CaptureReader::new(capture).ok()?;
    let mut decoder = PacketDecoder::new();
    let mut table = FlowTable::new(FlowLimits::default());
    let mut first = None;
    let mut items = Vec::new();
    let mut last = wsscope_core::timestamp::Timestamp(0);
    let mut on_event = |ev: TcpEvent<'_>| {
        match ev {
            TcpEvent::Opened { flow, .. } => {
                first.get_or_insert(flow);
            }
            TcpEvent::Data {
                flow, dir, bytes, ..
            } if Some(flow) == first => items.push((
                dir == wsscope_core::tcp::Dir::ServerToClient,
                bytes.to_vec(),
            )),
            _ => {}
        }
        Verdict::Continue
    };
    for p in reader {
        last = p.ts;
        let _ = decoder.decode(&p, |seg| table.process(seg, &mut on_event));
    }
    table.finish(last, &mut on_event);
    if items.first().is_none_or(|(_, b)| b.first() != Some(&0x16)) {
        return None;
    }
    let mut seed = vec![0u8];
    seed.extend(dir_records(&items));
    Some(seed)
}

/// A TLS 1.3 ClientHello carrying the client random of [`crate::TLS_KEYLOG`], a ServerHello
/// choosing TLS_AES_256_GCM_SHA384, change_cipher_spec, and protected records of junk.
fn tls13_handshake_seed() -> Vec<u8> {
    let text = String::from_utf8_lossy(crate::TLS_KEYLOG);
    let random_hex = text
        .lines()
        .find_map(|l| l.strip_prefix("CLIENT_HANDSHAKE_TRAFFIC_SECRET "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or("");
    let random: Vec<u8> = (0..random_hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(&random_hex[2 * i..2 * i + 2], 16).ok())
        .collect();
    let record = |ct: u8, body: &[u8]| {
        let mut r = vec![ct, 3, 3];
        r.extend_from_slice(&(body.len() as u16).to_be_bytes());
        r.extend_from_slice(body);
        r
    };
    let handshake = |ty: u8, body: &[u8]| {
        let mut m = vec![ty, 0];
        m.extend_from_slice(&(body.len() as u16).to_be_bytes());
        m.extend_from_slice(body);
        record(0x16, &m)
    };
    let mut ch = vec![3, 3];
    ch.extend_from_slice(&random);
    ch.extend([0, 0, 2, 0x13, 0x02, 1, 0]);
    let exts = [0u8, 0x2b, 0, 3, 2, 3, 4];
    ch.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    ch.extend(exts);
    let mut sh = vec![3, 3];
    sh.extend([0x77; 32]);
    sh.extend([0, 0x13, 0x02, 0]);
    let exts = [0u8, 0x2b, 0, 2, 3, 4];
    sh.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    sh.extend(exts);
    let mut seed = vec![0u8];
    seed.extend(dir_records(&[
        (false, handshake(1, &ch)),
        (true, handshake(2, &sh)),
        (true, record(0x14, &[1])),
        (true, record(0x17, &[0x42; 60])),
        (false, record(0x14, &[1])),
        (false, record(0x17, &[0x43; 40])),
    ]));
    seed
}

/// Record control bits for [`session_capture`].
pub mod ctl {
    /// Server to client (else client to server).
    pub const SERVER: u8 = 1;
    /// Do not send the bytes: advance the sequence over them (a capture gap).
    pub const SKIP: u8 = 2;
    /// FIN from this direction after the bytes.
    pub const FIN: u8 = 4;
    /// RST from this direction after the bytes.
    pub const RST: u8 = 8;
    /// Send the bytes as a retransmission ending at the current offset instead.
    pub const RETRANSMIT: u8 = 16;
    /// One segment per record regardless of MSS.
    pub const ONE_SEGMENT: u8 = 32;
}

fn link_for(bits: u8) -> Link {
    match bits & 7 {
        1 => Link::Ethernet { vlans: vec![5] },
        2 => Link::LinuxSll,
        3 => Link::LinuxSll2,
        4 => Link::Null,
        5 => Link::Loop,
        6 => Link::RawIp,
        _ => Link::ethernet(),
    }
}

/// A capture of one TCP connection built from `mode` and `[ctl u8][len u8][bytes]` records.
///
/// `mode`: `& 3` 1 = valid upgrade, 2 = valid upgrade with permessage-deflate, 3 = TCP handshake
/// only (the records carry any HTTP); bit 2 IPv6; bits 3-5 link layer; bit 6 pcapng; bit 7 MSS 7.
pub fn session_capture(mode: u8, records: &[u8]) -> Vec<u8> {
    let conv = if mode & 4 != 0 {
        Conversation::default_v6()
    } else {
        Conversation::default_v4()
    };
    let mut conv = conv.with_link(link_for(mode >> 3));
    if mode & 0x80 != 0 {
        conv = conv.with_mss(7);
    }
    let mut s = Session::from_conversation(conv);
    s = match mode & 3 {
        1 => s.upgrade(
            &UpgradeRequest::new(SAMPLE_KEY),
            &UpgradeResponse::accepting(SAMPLE_KEY),
        ),
        2 => s.upgrade(
            &UpgradeRequest::new(SAMPLE_KEY).with_deflate(),
            &UpgradeResponse::accepting(SAMPLE_KEY).with_deflate(),
        ),
        _ => {
            s.conversation().handshake();
            s
        }
    };
    let c = s.conversation();
    let mut input = Input::new(records);
    while let Some(flags) = input.u8() {
        let len = input.u8().unwrap_or(0);
        let bytes = input.take(usize::from(len));
        let dir = if flags & ctl::SERVER != 0 {
            Dir::ServerToClient
        } else {
            Dir::ClientToServer
        };
        if flags & ctl::SKIP != 0 {
            c.skip(dir, bytes.len() as u64);
        } else if flags & ctl::RETRANSMIT != 0 {
            let at = c.stream_offset(dir).saturating_sub(bytes.len() as u64);
            c.raw_segment(dir, at, bytes);
        } else if flags & ctl::ONE_SEGMENT != 0 {
            c.send_segments(dir, &[bytes]);
        } else {
            c.send(dir, bytes);
        }
        if flags & ctl::FIN != 0 {
            c.fin(dir);
        }
        if flags & ctl::RST != 0 {
            c.rst(dir);
        }
    }
    if mode & 0x40 != 0 {
        s.capture_bytes(CaptureFormat::PcapNg {
            big_endian: false,
            tsresol: 9,
        })
    } else {
        s.pcap_bytes()
    }
}

/// Encodes `(ctl, bytes)` records for [`session_capture`], splitting long byte strings.
pub fn records(items: &[(u8, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for &(flags, bytes) in items {
        if bytes.is_empty() {
            out.extend_from_slice(&[flags, 0]);
        }
        let chunks: Vec<&[u8]> = bytes.chunks(255).collect();
        for (i, ch) in chunks.iter().enumerate() {
            // FIN/RST only after the last piece.
            let f = if i + 1 == chunks.len() {
                flags
            } else {
                flags & !(ctl::FIN | ctl::RST)
            };
            out.push(f);
            out.push(ch.len() as u8);
            out.extend_from_slice(ch);
        }
    }
    out
}

fn enc(frames: &[FrameSpec]) -> Vec<u8> {
    let mut v = Vec::new();
    for f in frames {
        f.encode_into(&mut v);
    }
    v
}

const M: Option<[u8; 4]> = Some([0x37, 0xfa, 0x21, 0x3d]);

/// Client and server frame streams for a few typical conversations: (name, deflate, c2s, s2c).
fn ws_streams() -> Vec<(&'static str, bool, Vec<u8>, Vec<u8>)> {
    let mut v = Vec::new();
    v.push((
        "text",
        false,
        enc(&[
            FrameSpec::text("Hello", M),
            FrameSpec::ping(b"p", M),
            FrameSpec::close(Some(1000), "bye", M),
        ]),
        enc(&[
            FrameSpec::text("Hello", None),
            FrameSpec::pong(b"p", None),
            FrameSpec::close(Some(1000), "", None),
        ]),
    ));
    let mut frag = fragment_message(OP_TEXT, "fragmented \u{e9}t\u{e9}".as_bytes(), 3, M);
    frag.insert(1, FrameSpec::ping(b"", M));
    v.push((
        "fragmented",
        false,
        enc(&frag),
        enc(&fragment_message(
            OP_BINARY,
            &[1, 2, 3, 4, 5, 6, 7],
            2,
            None,
        )),
    ));
    v.push((
        "lengths",
        false,
        enc(&[
            FrameSpec::binary(&[0xab; 300], M),
            FrameSpec::new(OP_PING, vec![1; 4], M),
        ]),
        enc(&[FrameSpec::binary(&[0xcd; 126], None)
            .with_length_form(wsscope_testkit::LengthForm::Force64)]),
    ));
    let mut cc = new_deflate_compressor(6);
    let mut sc = new_deflate_compressor(6);
    let c2s = enc(&[
        deflate_frame(OP_TEXT, b"compressed hello hello hello", &mut cc, M),
        deflate_frame(OP_TEXT, b"compressed hello again", &mut cc, M),
    ]);
    let s2c = enc(&[
        deflate_frame(OP_TEXT, b"server says hello hello", &mut sc, None),
        deflate_frame(OP_BINARY, &[0u8; 200], &mut sc, None),
    ]);
    v.push(("deflate", true, c2s, s2c));
    v
}

/// `json_pretty` seeds: (file name, text).
pub const JSON_SEEDS: &[(&str, &str)] = &[
    (
        "spellings",
        "{\"z\":1.10,\"a\":[12345678901234567890123,-0,1E5],\"z\":null}",
    ),
    (
        "escapes",
        "[\"\\u0000\\\"\\\\\\/\\uD83D\\uDE00\",\"\u{e9}\u{65e5}\u{202e}\u{9b}\",{},[],true,false]",
    ),
    ("socketio-event", "42/admin,7[\"chat\",{\"a\":1}]"),
    (
        "socketio-binary",
        "451-[\"up\",{\"_placeholder\":true,\"num\":0}]",
    ),
    (
        "engineio-open",
        "0{\"sid\":\"x\",\"upgrades\":[],\"pingInterval\":25000}",
    ),
    ("nested", "{\"a\":{\"b\":[[[{\"c\":[1,{\"d\":\"e\"}]}]]]}}"),
];

/// One seed: target name, file name, bytes.
pub type Seed = (&'static str, String, Vec<u8>);

/// Seeds for every target. `fixtures` are (name, pcap bytes) of the shipped captures; large
/// ones go to the capture-level targets whole and to `packet_decoder` as single packets.
pub fn generate(fixtures: &[(String, Vec<u8>)]) -> Vec<Seed> {
    let mut out: Vec<Seed> = Vec::new();
    let streams = ws_streams();

    // Synthesized captures in every link layer and format.
    let mut captures: Vec<(String, Vec<u8>)> = Vec::new();
    for (li, link) in Link::all().into_iter().enumerate() {
        let s = Session::new(link)
            .upgrade(
                &UpgradeRequest::new(SAMPLE_KEY),
                &UpgradeResponse::accepting(SAMPLE_KEY),
            )
            .client_text("Hello")
            .server_text("Hello")
            .close(1000);
        let fmt = CaptureFormat::all()[li % CaptureFormat::all().len()];
        captures.push((format!("session-link{li}"), s.capture_bytes(fmt)));
    }
    let mut frag = Vec::new();
    let mut conv = Conversation::default_v4().with_ip_fragmentation(Some(24));
    conv.handshake();
    conv.client_send(&UpgradeRequest::new(SAMPLE_KEY).to_bytes());
    conv.server_send(&UpgradeResponse::accepting(SAMPLE_KEY).to_bytes());
    for p in conv.into_packets() {
        frag.push(p);
    }
    captures.push((
        "ipfrag".into(),
        wsscope_testkit::pcap_bytes(wsscope_testkit::PcapOptions::default(), &frag),
    ));
    for (name, bytes) in fixtures {
        captures.push((format!("fixture-{name}"), bytes.clone()));
    }

    for (name, cap) in &captures {
        out.push(("capture_reader", name.clone(), cap.clone()));
        let mut p = vec![0u8];
        p.extend_from_slice(cap);
        out.push(("pipeline", name.clone(), p));
        // Single packets (and a length-prefixed raw-IP run) for the packet decoder.
        if let Ok(reader) = CaptureReader::new(cap) {
            let mut run = Vec::new();
            for (i, pkt) in reader.take(12).enumerate() {
                out.push(("packet_decoder", format!("{name}-{i}"), pkt.data.to_vec()));
                if let Ok(ip) = wsscope_core::packet::ip_payload(pkt.linktype, pkt.data) {
                    if ip.len() < 0x8000 {
                        run.extend_from_slice(&(ip.len() as u16).to_le_bytes());
                        run.extend_from_slice(ip);
                    }
                }
            }
            out.push(("packet_decoder", format!("{name}-run"), run));
        }
    }
    // Explicit fragment run: a TCP segment split into IPv4 fragments.
    {
        let spec = wsscope_testkit::TcpSegmentSpec::new(
            "10.0.0.1:40000".parse().unwrap(),
            "10.0.0.2:80".parse().unwrap(),
        );
        let mut ip = Vec::new();
        spec.encode_with_payload(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", &mut ip);
        let mut run = Vec::new();
        for f in fragment_ipv4(&ip, 16).into_iter().rev() {
            run.extend_from_slice(&(f.len() as u16).to_le_bytes());
            run.extend_from_slice(&f);
        }
        out.push(("packet_decoder", "ipv4-fragments-reversed".into(), run));
    }

    // Pipeline: synthesized sessions with the WebSocket bytes as records.
    for (name, deflate, c2s, s2c) in &streams {
        let mode = if *deflate { 2 } else { 1 };
        let recs = records(&[
            (0, c2s),
            (ctl::SERVER, s2c),
            (ctl::FIN, b""),
            (ctl::SERVER | ctl::FIN, b""),
        ]);
        out.push((
            "pipeline",
            format!("session-{name}"),
            [&[mode][..], &recs].concat(),
        ));
        // Same with a gap in the server stream and small segments over IPv6 / pcapng / SLL2.
        let half = s2c.len() / 2;
        let recs = records(&[
            (0, c2s),
            (ctl::SERVER, &s2c[..half / 2]),
            (ctl::SERVER | ctl::SKIP, &s2c[half / 2..half]),
            (ctl::SERVER, &s2c[half..]),
            (ctl::RETRANSMIT, &c2s[c2s.len().saturating_sub(3)..]),
            (ctl::RST, b""),
        ]);
        out.push((
            "pipeline",
            format!("session-{name}-gap"),
            [&[mode | 4 | (3 << 3) | 0x40 | 0x80][..], &recs].concat(),
        ));
    }
    {
        // Raw HTTP in records (mode 3): a rejected upgrade and an accepted one with a bad accept.
        let req = UpgradeRequest::new(SAMPLE_KEY).to_bytes();
        let rej = UpgradeResponse::rejecting(403, "Forbidden", b"no").to_bytes();
        let recs = records(&[(0, &req), (ctl::SERVER | ctl::FIN, &rej), (ctl::FIN, b"")]);
        out.push((
            "pipeline",
            "http-rejected".into(),
            [&[3u8][..], &recs].concat(),
        ));
        let mut bad = UpgradeResponse::accepting(SAMPLE_KEY);
        bad.accept = Some(SAMPLE_KEY.into());
        let recs = records(&[
            (0, &req),
            (ctl::SERVER, &bad.to_bytes()),
            (0, &streams[0].2),
            (ctl::SERVER, &streams[0].3),
        ]);
        out.push((
            "pipeline",
            "http-bad-accept".into(),
            [&[3u8][..], &recs].concat(),
        ));
    }

    // Frame streams for the decoder/assembler target: [cfg][seed] + stream.
    for (name, deflate, c2s, s2c) in &streams {
        let d = if *deflate { 1 } else { 0 };
        out.push((
            "frame_messages",
            format!("{name}-c2s"),
            [&[d | 4 | 0x40, 0][..], c2s].concat(),
        ));
        out.push((
            "frame_messages",
            format!("{name}-s2c"),
            [&[d | 4 | 0x40, 7][..], s2c].concat(),
        ));
        out.push((
            "frame_messages",
            format!("{name}-c2s-gaps"),
            [&[d | 4 | 0x10 | 0x20 | 8, 3][..], c2s].concat(),
        ));
    }

    // HTTP: request alone, request + response, response alone, diagnose_accept inputs.
    let req = UpgradeRequest::new(SAMPLE_KEY).with_deflate().to_bytes();
    let resp = UpgradeResponse::accepting(SAMPLE_KEY)
        .with_deflate()
        .to_bytes();
    let mut proto = UpgradeResponse::accepting(SAMPLE_KEY);
    proto.protocol = Some("chat".into());
    proto.extensions =
        Some("permessage-deflate; server_no_context_takeover; server_max_window_bits=10".into());
    out.push(("http_handshake", "request".into(), req.clone()));
    out.push((
        "http_handshake",
        "request-response".into(),
        [&req[..], &resp].concat(),
    ));
    out.push(("http_handshake", "response-proto".into(), proto.to_bytes()));
    out.push((
        "http_handshake",
        "rejected".into(),
        UpgradeResponse::rejecting(400, "Bad Request", b"nope").to_bytes(),
    ));
    let accept = wsscope_core::handshake::accept_for(SAMPLE_KEY);
    out.push((
        "http_handshake",
        "diagnose-padding".into(),
        format!("{SAMPLE_KEY}\0{}", accept.trim_end_matches('=')).into_bytes(),
    ));
    out.push((
        "http_handshake",
        "diagnose-echo".into(),
        format!("{SAMPLE_KEY}\0{SAMPLE_KEY}").into_bytes(),
    ));

    // json_pretty: JSON the TUI shows, with the spellings a Value round trip would change,
    // socket.io prefixes and dangerous characters.
    for (name, text) in JSON_SEEDS {
        out.push(("json_pretty", (*name).into(), text.as_bytes().to_vec()));
    }

    // tls_flow: [limits] then [hdr][bytes] records. A TLS 1.3 handshake with the client
    // random of the target's key log (py_tls13), then records that do not open.
    out.push(("tls_flow", "tls13-handshake".into(), tls13_handshake_seed()));
    for (name, bytes) in fixtures {
        if let Some(seed) = tls_flow_seed(bytes) {
            out.push(("tls_flow", format!("fixture-{name}"), seed));
        }
    }

    // h2_connection: [hdr][bytes] records after the preface (bit 7: server to client).
    let h2frame = |kind: u8, flags: u8, sid: u32, payload: &[u8]| {
        let mut v = (payload.len() as u32).to_be_bytes()[1..].to_vec();
        v.push(kind);
        v.push(flags);
        v.extend_from_slice(&sid.to_be_bytes());
        v.extend_from_slice(payload);
        v
    };
    let h2records = |items: &[(bool, Vec<u8>)]| {
        let mut v = Vec::new();
        for (s2c, bytes) in items {
            for c in bytes.chunks(127) {
                v.push(c.len() as u8 | if *s2c { 0x80 } else { 0 });
                v.extend_from_slice(c);
            }
        }
        v
    };
    let mut connect = vec![0x02, 7];
    connect.extend_from_slice(b"CONNECT");
    for (name, value) in [(":protocol", "websocket"), ("sec-websocket-version", "13")] {
        connect.extend([0x00, name.len() as u8]);
        connect.extend_from_slice(name.as_bytes());
        connect.push(value.len() as u8);
        connect.extend_from_slice(value.as_bytes());
    }
    connect.extend([0x87, 0x44, 5]);
    connect.extend_from_slice(b"/chat");
    connect.extend([0x41, 9]);
    connect.extend_from_slice(b"localhost");
    out.push((
        "h2_connection",
        "extended-connect".into(),
        h2records(&[
            (false, h2frame(4, 0, 0, &[])),
            (true, h2frame(4, 0, 0, &[0, 8, 0, 0, 0, 1])),
            (false, h2frame(1, 4, 1, &connect)),
            (true, h2frame(1, 4, 1, &[0x88])),
            (
                false,
                h2frame(0, 0, 1, &[0x81, 0x82, 1, 2, 3, 4, b'h' ^ 1, b'i' ^ 2]),
            ),
            (false, h2frame(1, 5, 3, &[0x82, 0x86, 0x84, 0xbe])),
            (true, h2frame(0, 0, 1, &[0x81, 0x02, b'h', b'i'])),
            (true, h2frame(1, 5, 3, &[0x88])),
            (true, h2frame(7, 0, 0, &[0, 0, 0, 1, 0, 0, 0, 0])),
        ]),
    ));

    // Reassembler: [limits][isn u32] + [delta u32][flags][len][bytes]...
    let seg = |delta: u32, flags: u8, bytes: &[u8]| {
        let mut v = delta.to_le_bytes().to_vec();
        v.push(flags);
        v.push(bytes.len() as u8);
        v.extend_from_slice(bytes);
        v
    };
    let hdr = |lim: u8, isn: u32| {
        let mut v = vec![lim];
        v.extend_from_slice(&isn.to_le_bytes());
        v
    };
    out.push((
        "reassembler",
        "in-order".into(),
        [hdr(0x7f, 1000), seg(0, 0, b"hello "), seg(6, 1, b"world")].concat(),
    ));
    out.push((
        "reassembler",
        "out-of-order-overlap".into(),
        [
            hdr(0x6a, 0xffff_fff0),
            seg(10, 0, b"0123456789"),
            seg(0, 0, b"abcdefghij"),
            seg(5, 0, b"XXXXXXXXXX"),
            seg(30, 4, b"late"),
            seg(20, 2, b"tail"),
        ]
        .concat(),
    ));
    out.push((
        "reassembler",
        "snaplen-fin".into(),
        [
            hdr(0x20, 7),
            seg(0, 0x30, b"abc"),
            seg(51, 1, b"d"),
            seg(0, 0, b"abc"),
        ]
        .concat(),
    ));
    out
}
