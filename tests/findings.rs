//! Every finding code, triggered by a minimal synthetic capture: the finding is reported (with
//! its direction where that means something) and the analysis carries on correctly afterwards.

mod support;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha1::{Digest, Sha1};
use support::*;
use wsscope_core::analyzer::AnalyzerConfig;
use wsscope_core::finding::Code;
use wsscope_core::tcp::CloseReason;
use wsscope_core::ws::message::MessageKind;
use wsscope_output::json_line::MessageLineWriter;
use wsscope_output::report::{message_report, PayloadMode};
use wsscope_testkit::{
    deflate_message, fragment_ipv4, fragment_ipv6, new_deflate_compressor, pcap_bytes,
    Conversation, FrameSpec, LengthForm, Packet, PcapOptions, TcpFlags, TcpSegmentSpec,
    UpgradeRequest, UpgradeResponse,
};

const SEC: i64 = 1_000_000_000;

/// Upgrade, `client` frames, then a normal client "after" and server "reply", clean close.
fn client_frames_then_normal(client: &[u8]) -> Outcome {
    let mut c = upgraded();
    c.client_send(client);
    c.client_send(&ctext("after"));
    c.server_send(&stext("reply"));
    clean_close(&mut c);
    analyze_packets(&c.into_packets())
}

/// Upgrade, `server` frames, then a normal server "after" and client "ask", clean close.
fn server_frames_then_normal(server: &[u8]) -> Outcome {
    let mut c = upgraded();
    c.server_send(server);
    c.server_send(&stext("after"));
    c.client_send(&ctext("ask"));
    clean_close(&mut c);
    analyze_packets(&c.into_packets())
}

/// The handshake given, then one message each way and a clean close.
fn handshake_then_messages(req: &UpgradeRequest, resp: &UpgradeResponse) -> Outcome {
    let mut c = upgraded_with(req, resp);
    c.client_send(&ctext("hello"));
    c.server_send(&stext("world"));
    clean_close(&mut c);
    analyze_packets(&c.into_packets())
}

fn assert_session_decoded(o: &Outcome) {
    assert_eq!(o.texts(C2S), ["hello"], "{:#?}", o.messages);
    assert_eq!(o.texts(S2C), ["world"], "{:#?}", o.messages);
    assert_eq!(o.ends.len(), 1);
    assert!(o.ends[0].clean, "{:?}", o.ends[0]);
}

fn b64_sha1(parts: &[&[u8]]) -> String {
    let mut h = Sha1::new();
    for p in parts {
        h.update(p);
    }
    STANDARD.encode(h.finalize())
}

// ---------------------------------------------------------------------------------------------
// Baseline
// ---------------------------------------------------------------------------------------------

#[test]
fn clean_session_has_no_findings() {
    let o = handshake_then_messages(&request(), &response());
    o.assert_codes(&[]);
    assert_session_decoded(&o);
}

// ---------------------------------------------------------------------------------------------
// Handshake
// ---------------------------------------------------------------------------------------------

#[test]
fn upgrade_rejected_then_keep_alive_upgrade_gives_two_sessions_on_one_connection() {
    let key2 = "x3JJHMbDL1EzLkh9GBhXDw==";
    let mut c = Conversation::default_v4();
    c.handshake();
    c.client_send(&request().to_bytes());
    c.server_send(&UpgradeResponse::rejecting(403, "Forbidden", b"go away").to_bytes());
    let mut req2 = UpgradeRequest::new(key2);
    req2.origin = Some("https://example.com".into());
    c.client_send(&req2.to_bytes());
    c.server_send(&UpgradeResponse::accepting(key2).to_bytes());
    c.client_send(&ctext("hello"));
    c.server_send(&stext("world"));
    clean_close(&mut c);
    let o = analyze_packets(&c.into_packets());

    assert_eq!(o.sessions.len(), 2, "{:#?}", o.sessions);
    assert_eq!(o.flows.len(), 1);
    let rejected = o.expect(Code::UpgradeRejected, Some(S2C));
    assert_eq!(rejected.session, Some(o.sessions[0].id));
    assert!(rejected.detail.contains("403"), "{}", rejected.detail);
    o.assert_codes(&[Code::UpgradeRejected]);
    let first = o.ends.iter().find(|e| e.id == o.sessions[0].id).unwrap();
    assert!(!first.upgraded);
    let second = o.ends.iter().find(|e| e.id == o.sessions[1].id).unwrap();
    assert!(second.upgraded && second.clean, "{second:?}");
    assert!(o.messages.iter().all(|m| m.session == o.sessions[1].id));
    assert_eq!(o.texts(C2S), ["hello"]);
    assert_eq!(o.texts(S2C), ["world"]);
}

/// A 101 whose accept value is `accept`: the detail must name `mistake` and the expected value.
fn accept_mismatch_case(accept: String, mistake: &str) {
    let mut resp = response();
    resp.accept = Some(accept.clone());
    let o = handshake_then_messages(&request(), &resp);
    let f = o.expect(Code::AcceptMismatch, Some(S2C));
    assert!(
        f.detail.contains(mistake),
        "detail should name '{mistake}': {}",
        f.detail
    );
    assert!(
        f.detail.contains(ACCEPT),
        "expected value missing: {}",
        f.detail
    );
    assert!(
        f.detail.contains(&accept),
        "actual value missing: {}",
        f.detail
    );
    o.assert_codes(&[Code::AcceptMismatch]);
    assert_session_decoded(&o);
}

#[test]
fn accept_mismatch_guid_typo_with_en_dash_is_named() {
    let typo = "258EDFA5-E914\u{2013}47DA-95CA-C5AB0DC85B11";
    accept_mismatch_case(b64_sha1(&[KEY.as_bytes(), typo.as_bytes()]), "258EDFA5");
}

#[test]
fn accept_mismatch_guid_with_a_space_is_named() {
    let typo = "258EAFA5-E914-47DA- 95CA-C5AB0DC85B11";
    accept_mismatch_case(b64_sha1(&[KEY.as_bytes(), typo.as_bytes()]), "space");
}

#[test]
fn accept_mismatch_without_guid_is_named() {
    accept_mismatch_case(b64_sha1(&[KEY.as_bytes()]), "no GUID");
}

#[test]
fn accept_mismatch_hex_digest_is_named() {
    let mut h = Sha1::new();
    h.update(KEY.as_bytes());
    h.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    accept_mismatch_case(hex, "hex");
}

#[test]
fn accept_mismatch_untrimmed_key_is_named() {
    let padded = format!(" {KEY}");
    accept_mismatch_case(
        b64_sha1(&[
            padded.as_bytes(),
            b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11".as_slice(),
        ]),
        "untrimmed",
    );
}

#[test]
fn accept_mismatch_unknown_value_says_so_and_gives_expected() {
    accept_mismatch_case("AAAAAAAAAAAAAAAAAAAAAAAAAAA=".into(), "no known mistake");
}

#[test]
fn accept_missing_is_reported_and_session_still_decoded() {
    let mut resp = response();
    resp.accept = None;
    let o = handshake_then_messages(&request(), &resp);
    o.expect(Code::AcceptMissing, Some(S2C));
    o.assert_codes(&[Code::AcceptMissing]);
    assert_session_decoded(&o);
}

#[test]
fn key_invalid_short_nonce_is_reported_and_session_still_decoded() {
    let key = "c2hvcnQ="; // "short": 5 bytes
    let mut req = request();
    req.key = key.into();
    let o = handshake_then_messages(&req, &UpgradeResponse::accepting(key));
    let f = o.expect(Code::KeyInvalid, Some(C2S));
    assert!(f.detail.contains("5 bytes"), "{}", f.detail);
    o.assert_codes(&[Code::KeyInvalid]);
    assert_session_decoded(&o);
}

#[test]
fn key_invalid_missing_key_is_reported() {
    let mut req = request();
    req.omit = vec!["Sec-WebSocket-Key"];
    let mut resp = response();
    resp.accept = None;
    let o = handshake_then_messages(&req, &resp);
    o.expect(Code::KeyInvalid, Some(C2S));
    assert_session_decoded(&o);
}

#[test]
fn version_unsupported_is_reported_and_session_still_decoded() {
    let mut req = request();
    req.version = "8".into();
    let o = handshake_then_messages(&req, &response());
    let f = o.expect(Code::VersionUnsupported, Some(C2S));
    assert!(f.detail.contains('8'), "{}", f.detail);
    o.assert_codes(&[Code::VersionUnsupported]);
    assert_session_decoded(&o);
}

#[test]
fn method_not_get_is_reported_and_session_still_decoded() {
    let mut req = request();
    req.method = "POST".into();
    let o = handshake_then_messages(&req, &response());
    let f = o.expect(Code::MethodNotGet, Some(C2S));
    assert!(f.detail.contains("POST"), "{}", f.detail);
    o.assert_codes(&[Code::MethodNotGet]);
    assert_session_decoded(&o);
}

#[test]
fn upgrade_header_missing_in_response_is_reported_and_session_still_decoded() {
    let mut resp = response();
    resp.upgrade = None;
    let o = handshake_then_messages(&request(), &resp);
    o.expect(Code::UpgradeHeaderMissing, Some(S2C));
    o.assert_codes(&[Code::UpgradeHeaderMissing]);
    assert_session_decoded(&o);
}

#[test]
fn upgrade_header_missing_in_request_is_reported_with_client_direction() {
    let mut req = request();
    req.omit = vec!["Upgrade"];
    let o = handshake_then_messages(&req, &response());
    o.expect(Code::UpgradeHeaderMissing, Some(C2S));
    o.assert_codes(&[Code::UpgradeHeaderMissing]);
    assert_session_decoded(&o);
}

#[test]
fn connection_header_missing_in_response_is_reported_and_session_still_decoded() {
    let mut resp = response();
    resp.connection = None;
    let o = handshake_then_messages(&request(), &resp);
    o.expect(Code::ConnectionHeaderMissing, Some(S2C));
    o.assert_codes(&[Code::ConnectionHeaderMissing]);
    assert_session_decoded(&o);
}

#[test]
fn host_missing_is_reported_and_session_still_decoded() {
    let mut req = request();
    req.omit = vec!["Host"];
    let o = handshake_then_messages(&req, &response());
    o.expect(Code::HostMissing, Some(C2S));
    o.assert_codes(&[Code::HostMissing]);
    assert_session_decoded(&o);
}

#[test]
fn origin_missing_is_an_info_note_and_session_still_decoded() {
    let mut req = request();
    req.origin = None;
    let o = handshake_then_messages(&req, &response());
    let f = o.expect(Code::OriginMissing, Some(C2S));
    assert_eq!(f.severity, wsscope_core::finding::Severity::Info);
    o.assert_codes(&[Code::OriginMissing]);
    assert_session_decoded(&o);
}

#[test]
fn subprotocol_not_offered_is_reported_and_session_still_decoded() {
    let mut req = request();
    req.protocols = vec!["chat".into()];
    let mut resp = response();
    resp.protocol = Some("superchat".into());
    let o = handshake_then_messages(&req, &resp);
    let f = o.expect(Code::SubprotocolNotOffered, Some(S2C));
    assert!(f.detail.contains("superchat"), "{}", f.detail);
    o.assert_codes(&[Code::SubprotocolNotOffered]);
    assert_session_decoded(&o);
}

#[test]
fn extension_not_offered_is_reported_and_session_still_decoded() {
    let mut resp = response();
    resp.extensions = Some("permessage-deflate".into());
    let o = handshake_then_messages(&request(), &resp);
    let f = o.expect(Code::ExtensionNotOffered, Some(S2C));
    assert!(f.detail.contains("permessage-deflate"), "{}", f.detail);
    o.assert_codes(&[Code::ExtensionNotOffered]);
    assert_session_decoded(&o);
}

#[test]
fn handshake_note_for_nonstandard_reason_and_legacy_header() {
    let mut resp = response();
    resp.reason = "Web Socket Protocol Handshake".into();
    resp.extra_headers = vec![("Sec-WebSocket-Origin".into(), "https://example.com".into())];
    let o = handshake_then_messages(&request(), &resp);
    let notes = o.all(Code::HandshakeNote);
    assert_eq!(notes.len(), 2, "{:#?}", o.findings);
    assert!(notes.iter().all(|n| n.dir == Some(S2C)));
    assert!(notes
        .iter()
        .any(|n| n.detail.contains("Web Socket Protocol Handshake")));
    assert!(notes.iter().any(|n| n
        .detail
        .to_ascii_lowercase()
        .contains("sec-websocket-origin")));
    o.assert_codes(&[Code::HandshakeNote]);
    assert_session_decoded(&o);
}

/// Client frames sent right after the request, before the 101 was captured.
fn frames_before_101() -> Outcome {
    let mut c = Conversation::default_v4();
    c.handshake();
    c.client_send(&request().to_bytes());
    c.client_send(&ctext("early"));
    c.server_send(&response().to_bytes());
    c.client_send(&ctext("hello"));
    c.server_send(&stext("world"));
    clean_close(&mut c);
    analyze_packets(&c.into_packets())
}

#[test]
fn client_frames_sent_before_101_are_decoded() {
    let o = frames_before_101();
    assert_eq!(o.texts(C2S), ["early", "hello"]);
    assert_eq!(o.texts(S2C), ["world"]);
    assert!(o.ends[0].clean);
}

#[test]
fn client_frames_sent_before_101_give_a_handshake_note() {
    let o = frames_before_101();
    o.expect(Code::HandshakeNote, Some(C2S));
}

#[test]
fn frames_in_the_same_segment_as_the_101_are_decoded() {
    let mut c = Conversation::default_v4();
    c.handshake();
    c.client_send(&request().to_bytes());
    let mut seg = response().to_bytes();
    seg.extend_from_slice(&stext("first"));
    seg.extend_from_slice(&stext("second"));
    c.server_send_segments(&[&seg]);
    c.client_send(&ctext("hello"));
    clean_close(&mut c);
    let o = analyze_packets(&c.into_packets());
    o.assert_codes(&[]);
    assert_eq!(o.texts(S2C), ["first", "second"]);
    assert_eq!(o.texts(C2S), ["hello"]);
}

// ---------------------------------------------------------------------------------------------
// Framing
// ---------------------------------------------------------------------------------------------

#[test]
fn unmasked_client_frame_is_reported_and_message_still_decoded() {
    let o = client_frames_then_normal(&FrameSpec::text("bare", None).encode());
    o.expect(Code::UnmaskedClientFrame, Some(C2S));
    o.assert_codes(&[Code::UnmaskedClientFrame]);
    assert_eq!(o.texts(C2S), ["bare", "after"]);
    assert_eq!(o.texts(S2C), ["reply"]);
}

#[test]
fn masked_server_frame_is_reported_and_message_still_decoded() {
    let o = server_frames_then_normal(&FrameSpec::text("veiled", mask(3)).encode());
    o.expect(Code::MaskedServerFrame, Some(S2C));
    o.assert_codes(&[Code::MaskedServerFrame]);
    assert_eq!(o.texts(S2C), ["veiled", "after"]);
    assert_eq!(o.texts(C2S), ["ask"]);
}

#[test]
fn rsv2_without_extension_is_reported_and_next_message_decoded() {
    let f = FrameSpec::text("odd", mask(1))
        .with_rsv(false, true, false)
        .encode();
    let o = client_frames_then_normal(&f);
    o.expect(Code::RsvBitsWithoutExtension, Some(C2S));
    o.assert_codes(&[Code::RsvBitsWithoutExtension]);
    assert_eq!(o.texts(C2S).last().map(String::as_str), Some("after"));
    assert_eq!(o.texts(S2C), ["reply"]);
}

#[test]
fn rsv1_without_negotiated_deflate_is_reported_and_next_message_decoded() {
    let f = FrameSpec::text("plain", None)
        .with_rsv(true, false, false)
        .encode();
    let o = server_frames_then_normal(&f);
    o.expect(Code::RsvBitsWithoutExtension, Some(S2C));
    assert!(o
        .finding(Code::RsvBitsWithoutExtension)
        .detail
        .contains("RSV1"));
    assert_eq!(o.texts(S2C).last().map(String::as_str), Some("after"));
    assert_eq!(o.texts(C2S), ["ask"]);
}

#[test]
fn reserved_opcode_is_reported_skipped_and_next_message_decoded() {
    let f = FrameSpec::new(3, b"mystery".to_vec(), mask(2)).encode();
    let o = client_frames_then_normal(&f);
    o.expect(Code::ReservedOpcode, Some(C2S));
    o.assert_codes(&[Code::ReservedOpcode]);
    assert_eq!(o.texts(C2S), ["after"]);
    assert_eq!(o.texts(S2C), ["reply"]);
}

#[test]
fn control_frame_too_long_is_reported_and_next_message_decoded() {
    let f = FrameSpec::ping(&[0x42; 126], None).encode();
    let o = server_frames_then_normal(&f);
    o.expect(Code::ControlFrameTooLong, Some(S2C));
    o.assert_codes(&[Code::ControlFrameTooLong]);
    let ping = o.in_dir(S2C)[0];
    assert_eq!(ping.message.kind, MessageKind::Ping);
    assert_eq!(ping.message.len, 126);
    assert_eq!(o.texts(S2C), ["after"]);
    assert_eq!(o.texts(C2S), ["ask"]);
}

#[test]
fn fragmented_control_frame_is_reported_and_next_message_decoded() {
    let f = FrameSpec::ping(b"p", mask(4)).with_fin(false).encode();
    let o = client_frames_then_normal(&f);
    o.expect(Code::FragmentedControlFrame, Some(C2S));
    o.assert_codes(&[Code::FragmentedControlFrame]);
    assert_eq!(o.texts(C2S), ["after"]);
    assert_eq!(o.texts(S2C), ["reply"]);
}

#[test]
fn unexpected_continuation_is_reported_skipped_and_next_message_decoded() {
    let f = FrameSpec::continuation(b"orphan", true, None).encode();
    let o = server_frames_then_normal(&f);
    o.expect(Code::UnexpectedContinuation, Some(S2C));
    o.assert_codes(&[Code::UnexpectedContinuation]);
    assert_eq!(o.texts(S2C), ["after"]);
    assert_eq!(o.texts(C2S), ["ask"]);
}

#[test]
fn interleaved_data_frame_is_reported_and_both_messages_surface() {
    let mut bytes = FrameSpec::text("unfinished", mask(5))
        .with_fin(false)
        .encode();
    bytes.extend(FrameSpec::binary(b"intruder", mask(6)).encode());
    let o = client_frames_then_normal(&bytes);
    o.expect(Code::InterleavedDataFrame, Some(C2S));
    o.assert_codes(&[Code::InterleavedDataFrame]);
    let c = o.in_dir(C2S);
    assert_eq!(c[0].message.payload, b"unfinished");
    assert!(c[0].message.incomplete);
    assert_eq!(
        (c[1].message.kind, c[1].message.payload.as_slice()),
        (MessageKind::Binary, &b"intruder"[..])
    );
    assert!(!c[1].message.incomplete);
    assert_eq!(o.texts(C2S).last().map(String::as_str), Some("after"));
}

#[test]
fn non_minimal_length_is_reported_and_message_still_decoded() {
    let f = FrameSpec::text("tiny", None)
        .with_length_form(LengthForm::Force16)
        .encode();
    let o = server_frames_then_normal(&f);
    let found = o.expect(Code::NonMinimalLength, Some(S2C));
    assert!(found.detail.contains("length 4"), "{}", found.detail);
    o.assert_codes(&[Code::NonMinimalLength]);
    assert_eq!(o.texts(S2C), ["tiny", "after"]);
    assert_eq!(o.texts(C2S), ["ask"]);
}

#[test]
fn length_msb_set_is_reported_and_later_messages_decoded() {
    let f = FrameSpec::binary(b"abcdefgh", mask(8))
        .with_length_form(LengthForm::Force64MsbSet)
        .encode();
    let o = client_frames_then_normal(&f);
    o.expect(Code::LengthMsbSet, Some(C2S));
    assert_eq!(o.texts(C2S).last().map(String::as_str), Some("after"));
    assert_eq!(o.texts(S2C), ["reply"]);
    assert!(o.ends[0].client_close.is_some() && o.ends[0].server_close.is_some());
}

// ---------------------------------------------------------------------------------------------
// Close and payload rules
// ---------------------------------------------------------------------------------------------

#[test]
fn invalid_close_payload_of_one_byte_is_reported_and_close_handshake_completes() {
    let mut c = upgraded();
    c.client_send(&ctext("hello"));
    c.server_send(&FrameSpec::new(8, vec![0x03], None).encode());
    c.client_send(&cclose(1002));
    c.close();
    let o = analyze_packets(&c.into_packets());
    o.expect(Code::InvalidClosePayload, Some(S2C));
    o.assert_codes(&[Code::InvalidClosePayload]);
    assert_eq!(o.texts(C2S), ["hello"]);
    let end = &o.ends[0];
    assert!(end.server_close.is_some());
    assert_eq!(end.client_close.as_ref().and_then(|c| c.code), Some(1002));
    assert!(end.clean);
}

#[test]
fn invalid_close_reason_utf8_is_reported() {
    let mut payload = 1000u16.to_be_bytes().to_vec();
    payload.extend_from_slice(&[0xc3, 0x28]);
    let mut c = upgraded();
    c.server_send(&FrameSpec::new(8, payload, None).encode());
    c.client_send(&cclose(1000));
    c.close();
    let o = analyze_packets(&c.into_packets());
    o.expect(Code::InvalidClosePayload, Some(S2C));
    assert_eq!(
        o.ends[0].server_close.as_ref().and_then(|c| c.code),
        Some(1000)
    );
    assert!(o.ends[0].clean);
}

#[test]
fn invalid_close_code_is_reported_and_close_handshake_completes() {
    let mut c = upgraded();
    c.client_send(&ctext("hello"));
    c.client_send(&cclose(1005));
    c.server_send(&sclose(1002));
    c.close();
    let o = analyze_packets(&c.into_packets());
    let f = o.expect(Code::InvalidCloseCode, Some(C2S));
    assert!(f.detail.contains("1005"), "{}", f.detail);
    o.assert_codes(&[Code::InvalidCloseCode]);
    assert_eq!(o.last(C2S).message.close_code, Some(1005));
    assert_eq!(o.last(S2C).message.close_code, Some(1002));
    assert!(o.ends[0].clean);
}

#[test]
fn invalid_utf8_text_is_reported_and_next_text_validated() {
    let f = FrameSpec::new(1, vec![b'o', b'k', 0xff, 0xfe], None).encode();
    let o = server_frames_then_normal(&f);
    o.expect(Code::InvalidUtf8, Some(S2C));
    o.assert_codes(&[Code::InvalidUtf8]);
    let s = o.in_dir(S2C);
    assert_eq!(s[0].message.payload, [b'o', b'k', 0xff, 0xfe]);
    assert_eq!(s[0].message.utf8_valid, Some(false));
    assert_eq!(s[1].message.payload, b"after");
    assert_eq!(s[1].message.utf8_valid, Some(true));
}

#[test]
fn data_after_close_is_reported_and_the_frame_still_decoded() {
    let mut c = upgraded();
    c.client_send(&ctext("hello"));
    c.client_send(&cclose(1000));
    c.client_send(&ctext("too late"));
    c.server_send(&sclose(1000));
    c.close();
    let o = analyze_packets(&c.into_packets());
    o.expect(Code::DataAfterClose, Some(C2S));
    o.assert_codes(&[Code::DataAfterClose]);
    assert_eq!(o.texts(C2S), ["hello", "too late"]);
    assert!(o.ends[0].clean);
}

// ---------------------------------------------------------------------------------------------
// permessage-deflate
// ---------------------------------------------------------------------------------------------

fn deflate_session<'s>(ext: &str) -> Conversation<'s> {
    let mut req = request();
    req.extensions = Some(ext.into());
    let mut resp = response();
    resp.extensions = Some(ext.into());
    upgraded_with(&req, &resp)
}

fn compressed_client_frame(payload: &[u8], n: u32) -> Vec<u8> {
    let mut z = new_deflate_compressor(6);
    FrameSpec::new(1, deflate_message(payload, &mut z), mask(n))
        .with_rsv(true, false, false)
        .encode()
}

#[test]
fn decompression_failed_then_next_no_context_takeover_message_inflates() {
    let mut c = deflate_session("permessage-deflate; client_no_context_takeover");
    c.client_send(&compressed_client_frame(b"first", 1));
    // BFINAL=1, BTYPE=11 (reserved): cannot inflate.
    let corrupt = FrameSpec::new(1, vec![0xff; 12], mask(2)).with_rsv(true, false, false);
    c.client_send(&corrupt.encode());
    c.client_send(&compressed_client_frame(b"third", 3));
    c.server_send(&stext("uncompressed reply"));
    clean_close(&mut c);
    let o = analyze_packets(&c.into_packets());
    o.expect(Code::DecompressionFailed, Some(C2S));
    o.assert_codes(&[Code::DecompressionFailed]);
    let msgs = o.in_dir(C2S);
    assert_eq!(msgs[0].message.payload, b"first");
    assert!(msgs[0].message.compressed);
    assert_eq!(msgs[2].message.payload, b"third");
    assert!(msgs[2].message.compressed && !msgs[2].message.incomplete);
    assert_eq!(o.texts(S2C), ["uncompressed reply"]);
    // The failed message says so (core, JSON report, NDJSON line); the good ones do not.
    let failed = msgs[1];
    assert!(failed.message.compressed && failed.message.payload.is_empty());
    let reason = failed
        .message
        .inflate_error
        .as_ref()
        .expect("the failure is on the message")
        .to_string();
    assert!(
        reason.starts_with("the inflater failed: corrupt DEFLATE data ("),
        "{reason}"
    );
    for (m, failed) in [(msgs[0], false), (failed, true), (msgs[2], false)] {
        let json = serde_json::to_value(message_report(m, PayloadMode::Full)).expect("json");
        let mut line = Vec::new();
        MessageLineWriter::new().write(&mut line, m, PayloadMode::Full);
        let ndjson: serde_json::Value = serde_json::from_slice(&line).expect("ndjson line");
        for v in [&json, &ndjson] {
            assert_eq!(v["inflate_failed"], failed, "{v}");
            if failed {
                assert_eq!(v["inflate_error"], reason.as_str(), "{v}");
            } else {
                assert!(v.get("inflate_error").is_none(), "{v}");
            }
        }
    }
}

#[test]
fn message_too_large_deflate_bomb_is_reported_and_next_message_inflates() {
    let bomb = vec![0u8; 10 << 20];
    let mut c = deflate_session("permessage-deflate; client_no_context_takeover");
    let mut z = new_deflate_compressor(9);
    let compressed = deflate_message(&bomb, &mut z);
    assert!(compressed.len() < 64 << 10, "{}", compressed.len());
    c.client_send(
        &FrameSpec::new(2, compressed, mask(1))
            .with_rsv(true, false, false)
            .encode(),
    );
    c.client_send(&compressed_client_frame(b"small", 2));
    c.server_send(&stext("reply"));
    clean_close(&mut c);
    let mut cfg: AnalyzerConfig = config();
    cfg.session.max_message_size = 1 << 20;
    let o = analyze_packets_with(cfg, &c.into_packets());
    o.expect(Code::MessageTooLarge, Some(C2S));
    o.assert_codes(&[Code::MessageTooLarge]);
    let msgs = o.in_dir(C2S);
    assert_eq!(msgs[0].message.kind, MessageKind::Binary);
    assert!(
        msgs[0].message.len >= 1 << 20,
        "len {}",
        msgs[0].message.len
    );
    assert!(msgs[0].message.payload.len() <= 1 << 20);
    assert_eq!(msgs[1].message.payload, b"small");
    assert_eq!(o.texts(S2C), ["reply"]);
}

/// An ordinary deflate session with context takeover: server texts of 2 to 60 kB sharing one
/// compressor, with the cap lowered to 20,000 bytes as advised for untrusted captures.
fn takeover_session_with_messages_past_the_cap() -> (Outcome, Vec<String>) {
    let mut c = deflate_session("permessage-deflate");
    let mut z = new_deflate_compressor(6);
    let mut sent = Vec::new();
    for i in 0..24usize {
        let len = if i % 8 == 3 { 60_000 } else { 2_000 + i * 37 };
        let words = ["alpha", "beta", "gamma", "delta", "epsilon"];
        let mut t = format!("message {i}:");
        let mut k = i;
        while t.len() < len {
            k = k.wrapping_mul(31).wrapping_add(7);
            t.push(' ');
            t.push_str(words[k % words.len()]);
            t.push_str(&(k % 1000).to_string());
        }
        t.truncate(len);
        let f = FrameSpec::new(1, deflate_message(t.as_bytes(), &mut z), None)
            .with_rsv(true, false, false);
        c.server_send(&f.encode());
        sent.push(t);
    }
    c.client_send(&ctext("ask"));
    clean_close(&mut c);
    let mut cfg = config();
    cfg.session.max_message_size = 20_000;
    cfg.session.keep_bytes = 1 << 20;
    (analyze_packets_with(cfg, &c.into_packets()), sent)
}

/// Regression: a message past --max-message-size stopped inflation mid-stream, so with context
/// takeover every later compressed message of that direction failed with
/// decompression-failed. The window is now kept in step past the cap.
#[test]
fn message_too_large_with_context_takeover_does_not_blind_the_direction() {
    let (o, sent) = takeover_session_with_messages_past_the_cap();
    o.assert_codes(&[Code::MessageTooLarge]);
    assert_eq!(o.all(Code::MessageTooLarge).len(), 3);
    let s = o.in_dir(S2C);
    assert_eq!(s.len(), sent.len() + 1, "the texts and the close");
    for (m, t) in s.iter().zip(&sent) {
        assert!(m.message.compressed);
        if t.len() > 20_000 {
            // The true inflated size, the first 20,000 bytes kept.
            assert_eq!(m.message.len, t.len() as u64);
            assert_eq!(m.message.payload, &t.as_bytes()[..20_000]);
        } else {
            assert_eq!(m.message.payload, t.as_bytes());
        }
    }
}

/// `text` compressed, then a stored block whose lengths do not match: inflates `text`, then
/// fails.
fn corrupt_after_text(text: &[u8]) -> Vec<u8> {
    let mut z = new_deflate_compressor(6);
    let mut data = deflate_message(text, &mut z);
    data.extend_from_slice(&[0x05, 0x00, 0x00, 0x00]);
    data
}

/// Regression: the output of the decompress() call that failed was dropped, so a corrupt
/// message's inflated length depended on how TCP cut it.
#[test]
fn corrupt_compressed_message_reports_the_same_whatever_the_segmentation() {
    let text: Vec<u8> = (0..3000u32).map(|i| b'a' + (i * 7 % 26) as u8).collect();
    let frame = FrameSpec::new(2, corrupt_after_text(&text), None)
        .with_rsv(true, false, false)
        .encode();
    let mut results = Vec::new();
    for piece in [frame.len(), 1, 7, 100] {
        let mut c = deflate_session("permessage-deflate; server_no_context_takeover");
        let segs: Vec<&[u8]> = frame.chunks(piece).collect();
        c.server_send_segments(&segs);
        c.server_send(&stext("after"));
        c.client_send(&ctext("ask"));
        clean_close(&mut c);
        let mut cfg = config();
        cfg.session.keep_bytes = 1 << 20;
        let o = analyze_packets_with(cfg, &c.into_packets());
        o.assert_codes(&[Code::DecompressionFailed]);
        assert_eq!(o.texts(S2C), ["after"]);
        let m = o.in_dir(S2C)[0];
        let detail = o.finding(Code::DecompressionFailed).detail.clone();
        results.push((piece, m.message.len, m.message.payload.clone(), detail));
    }
    let (_, len, payload, detail) = &results[0];
    assert_eq!(*len, text.len() as u64, "{detail}");
    assert_eq!(payload, &text);
    for r in &results[1..] {
        assert_eq!(
            (&r.1, &r.2, &r.3),
            (len, payload, detail),
            "pieces of {} bytes",
            r.0
        );
    }
}

#[test]
fn message_too_large_uncompressed_is_counted_and_next_message_decoded() {
    let big = vec![b'x'; 5000];
    let mut c = upgraded();
    c.server_send(&FrameSpec::binary(&big, None).encode());
    c.server_send(&stext("after"));
    c.client_send(&ctext("ask"));
    clean_close(&mut c);
    let mut cfg = config();
    cfg.session.max_message_size = 1000;
    let o = analyze_packets_with(cfg, &c.into_packets());
    o.expect(Code::MessageTooLarge, Some(S2C));
    o.assert_codes(&[Code::MessageTooLarge]);
    let s = o.in_dir(S2C);
    assert_eq!(s[0].message.len, 5000);
    assert!(s[0].message.payload.len() <= 1000);
    assert_eq!(o.texts(S2C), ["after"]);
}

/// Regression: a message that reached --max-message-size exactly at the end of a segment was
/// counted past the cap without a finding.
#[test]
fn message_too_large_when_the_cap_is_reached_at_a_segment_boundary() {
    let frame = FrameSpec::binary(&[b'y'; 5000], None).encode();
    let (header, payload) = frame.split_at(4);
    let mut c = upgraded();
    c.server_send_segments(&[header, &payload[..1000], &payload[1000..]]);
    c.server_send(&stext("after"));
    c.client_send(&ctext("ask"));
    clean_close(&mut c);
    let mut cfg = config();
    cfg.session.max_message_size = 1000;
    let o = analyze_packets_with(cfg, &c.into_packets());
    o.expect(Code::MessageTooLarge, Some(S2C));
    o.assert_codes(&[Code::MessageTooLarge]);
    let s = o.in_dir(S2C);
    assert_eq!((s[0].message.len, s[0].message.payload.len()), (5000, 1000));
    assert_eq!(o.texts(S2C), ["after"]);
}

// ---------------------------------------------------------------------------------------------
// TCP
// ---------------------------------------------------------------------------------------------

#[test]
fn tcp_gap_inside_payload_marks_message_incomplete_and_keeps_sync() {
    let payload: Vec<u8> = (0..3000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let frame = FrameSpec::binary(&payload, None).encode();
    let mut c = upgraded();
    c.server_send(&stext("before"));
    c.server_send_segments(&[&frame[..1000]]);
    c.skip(wsscope_testkit::Dir::ServerToClient, 500);
    c.server_send_segments(&[&frame[1500..]]);
    c.server_send(&stext("after"));
    c.client_send(&ctext("ask"));
    clean_close(&mut c);
    let o = analyze_packets(&c.into_packets());
    let gap = o.expect(Code::TcpGap, Some(S2C));
    assert!(gap.detail.contains("500"), "{}", gap.detail);
    o.assert_codes(&[Code::TcpGap]);
    let s = o.in_dir(S2C);
    assert_eq!(s.len(), 4, "{s:#?}");
    assert_eq!(s[0].message.payload, b"before");
    assert!(s[1].message.incomplete);
    assert_eq!(s[1].message.len, 3000);
    assert_eq!(&s[1].message.payload[..996], &payload[..996]);
    assert_eq!(s[2].message.payload, b"after");
    assert!(!s[2].message.incomplete);
    assert_eq!(s[3].message.kind, MessageKind::Close);
    assert_eq!(o.texts(C2S), ["ask"]);
}

#[test]
fn gap_over_a_header_gives_resync_skipped_bytes_and_later_messages_decoded() {
    let one = stext("one");
    let lost: Vec<u8> = FrameSpec::text(&"a".repeat(300), None).encode();
    let mut c = upgraded();
    c.server_send(&one);
    // The header and the first 50 payload bytes of the second frame are not captured.
    c.skip(wsscope_testkit::Dir::ServerToClient, 54);
    c.server_send_segments(&[&lost[54..]]);
    c.server_send(&stext("three"));
    c.server_send(&stext("four"));
    c.client_send(&ctext("ask"));
    clean_close(&mut c);
    let o = analyze_packets(&c.into_packets());
    o.expect(Code::TcpGap, Some(S2C));
    let r = o.expect(Code::ResyncSkippedBytes, Some(S2C));
    assert!(r.detail.contains("250"), "{}", r.detail);
    o.assert_codes(&[Code::TcpGap, Code::ResyncSkippedBytes]);
    assert_eq!(o.texts(S2C), ["one", "three", "four"]);
    assert_eq!(o.texts(C2S), ["ask"]);
    let end = &o.ends[0];
    assert!(end.client_close.is_some() && end.server_close.is_some());
}

/// A frame is lost by the capture (the client ACKs past it), then both sides close cleanly.
fn lost_segment_then_clean_close() -> Outcome {
    let frame = FrameSpec::binary(&[b'z'; 2000], None).encode();
    let mut c = upgraded();
    c.server_send_segments(&[&frame[..1000]]);
    c.skip(wsscope_testkit::Dir::ServerToClient, 500);
    c.server_send_segments(&[&frame[1500..]]);
    c.server_send(&stext("after"));
    c.client_send(&ctext("ask"));
    clean_close(&mut c);
    analyze_packets(&c.into_packets())
}

#[test]
fn lost_segment_then_clean_close_still_decodes_everything() {
    let o = lost_segment_then_clean_close();
    o.expect(Code::TcpGap, Some(S2C));
    assert_eq!(o.texts(S2C), ["after"]);
    assert_eq!(o.texts(C2S), ["ask"]);
    assert!(o.ends[0].client_close.is_some() && o.ends[0].server_close.is_some());
}

#[test]
fn lost_segment_then_clean_close_ends_with_fin_and_clean_session() {
    let o = lost_segment_then_clean_close();
    assert_eq!(o.ends[0].tcp_end, Some(CloseReason::Fin), "{:#?}", o.ends);
    assert!(o.ends[0].clean);
    assert_eq!(o.flows[0].summary.ended, CloseReason::Fin);
}

#[test]
fn tcp_overlap_inconsistent_is_reported_first_copy_kept_and_next_message_decoded() {
    let frame = ctext("original");
    let mut c = upgraded();
    let offset = c.stream_offset(wsscope_testkit::Dir::ClientToServer);
    c.client_send(&frame);
    let mut forged = frame.clone();
    let n = forged.len();
    forged[n - 3] ^= 0x20;
    c.raw_segment(wsscope_testkit::Dir::ClientToServer, offset, &forged);
    c.client_send(&ctext("next"));
    c.server_send(&stext("reply"));
    clean_close(&mut c);
    let o = analyze_packets(&c.into_packets());
    o.expect(Code::TcpOverlapInconsistent, Some(C2S));
    o.assert_codes(&[Code::TcpOverlapInconsistent]);
    assert_eq!(o.texts(C2S), ["original", "next"]);
    assert_eq!(o.texts(S2C), ["reply"]);
}

/// Regression: bytes the capture missed (declared a gap once the peer acknowledged past them)
/// that show up later were compared with stale history and reported as an inconsistent
/// retransmission, though no first copy was ever seen.
#[test]
fn late_copy_of_bytes_declared_missing_is_not_an_inconsistent_overlap() {
    let frame = FrameSpec::binary(&[b'q'; 3000], None).encode();
    let mut c = upgraded();
    let offset = c.stream_offset(wsscope_testkit::Dir::ServerToClient);
    c.server_send_segments(&[&frame[..1000]]);
    c.skip(wsscope_testkit::Dir::ServerToClient, 500);
    c.server_send_segments(&[&frame[1500..]]);
    // Acknowledged by the client and still missing two seconds later: declared missing.
    c.advance_time(2 * SEC);
    c.ack(wsscope_testkit::Dir::ClientToServer);
    // The capture sees them late (a retransmission whose first copy it missed).
    c.raw_segment(
        wsscope_testkit::Dir::ServerToClient,
        offset + 1000,
        &frame[1000..1500],
    );
    c.server_send(&stext("after"));
    c.client_send(&ctext("ask"));
    clean_close(&mut c);
    let o = analyze_packets(&c.into_packets());
    o.assert_codes(&[Code::TcpGap]);
    assert_eq!(o.texts(S2C), ["after"]);
    // A real disagreement right after the gap is still caught.
    let mut c = upgraded();
    let offset = c.stream_offset(wsscope_testkit::Dir::ServerToClient);
    c.server_send_segments(&[&frame[..1000]]);
    c.skip(wsscope_testkit::Dir::ServerToClient, 500);
    c.server_send_segments(&[&frame[1500..]]);
    c.advance_time(2 * SEC);
    c.ack(wsscope_testkit::Dir::ClientToServer);
    let mut forged = frame[1500..1600].to_vec();
    forged[10] ^= 1;
    c.raw_segment(wsscope_testkit::Dir::ServerToClient, offset + 1500, &forged);
    clean_close(&mut c);
    let o = analyze_packets(&c.into_packets());
    o.expect(Code::TcpOverlapInconsistent, Some(S2C));
}

/// Regression (issue 9, item 6): TCP keep-alive probes, one garbage byte (BSD, Windows) or none
/// (Linux) at SND.NXT - 1 once everything was acknowledged, were reported as
/// `tcp-overlap-inconsistent` ("possible evasion attempt"), failing `--fail-on warning` on a
/// clean session.
#[test]
fn tcp_keepalive_probes_are_not_inconsistent_overlaps() {
    use wsscope_testkit::Dir as K;
    let mut c = upgraded();
    let hello = ctext("hello");
    let world = stext("world");
    c.client_send(&hello);
    c.server_send(&world);
    for (dir, last) in [
        (K::ClientToServer, hello[hello.len() - 1]),
        (K::ServerToClient, b'd'),
    ] {
        let off = c.stream_offset(dir);
        for _ in 0..3 {
            c.advance_time(45 * SEC);
            c.raw_segment_flags(dir, off - 1, &[!last], TcpFlags::ACK);
            c.ack(dir.reverse());
            c.raw_segment_flags(dir, off - 1, &[], TcpFlags::ACK);
            c.ack(dir.reverse());
        }
    }
    c.client_send(&ctext("again"));
    c.server_send(&stext("reply"));
    clean_close(&mut c);
    let o = analyze_packets(&c.into_packets());
    o.assert_codes(&[]);
    assert_eq!(o.texts(C2S), ["hello", "again"]);
    assert_eq!(o.texts(S2C), ["world", "reply"]);
    assert_eq!(o.flows[0].summary.retransmissions, [0, 0]);
}

/// Zero-window probes: one byte sent while the receiver advertises a zero window. A probe the
/// receiver refuses (its ACK does not move) is replaced by the data sent once the window opens,
/// even when its byte differs; one it acknowledges is part of the stream, delivered once.
#[test]
fn zero_window_probes_are_not_flagged_or_delivered_twice() {
    use wsscope_testkit::Dir as K;
    let mut c = upgraded();
    c.client_send(&ctext("hello"));
    let next = ctext("next");
    let off = c.stream_offset(K::ClientToServer);
    let mut closed = c.segment_template(K::ServerToClient);
    closed.window = 0;
    c.emit(K::ServerToClient, &closed);
    for _ in 0..3 {
        c.advance_time(SEC);
        c.raw_segment_flags(K::ClientToServer, off, b"X", TcpFlags::ACK);
        c.emit(K::ServerToClient, &closed);
    }
    // The window opens; the real frame follows.
    c.ack(K::ServerToClient);
    c.client_send(&next);
    // Again, but the server takes the probe (it acknowledges the byte).
    let later = ctext("later");
    let off = c.stream_offset(K::ClientToServer);
    let mut closed = c.segment_template(K::ServerToClient);
    closed.window = 0;
    c.emit(K::ServerToClient, &closed);
    c.raw_segment_flags(K::ClientToServer, off, &later[..1], TcpFlags::ACK);
    let mut took = c.segment_template(K::ServerToClient);
    took.ack = c.seq_at(K::ClientToServer, off + 1);
    took.window = 0;
    c.emit(K::ServerToClient, &took);
    c.raw_segment_flags(K::ClientToServer, off, &later[..1], TcpFlags::ACK);
    c.skip(K::ClientToServer, 1);
    c.client_send(&later[1..]);
    c.server_send(&stext("reply"));
    clean_close(&mut c);
    let o = analyze_packets(&c.into_packets());
    o.assert_codes(&[]);
    assert_eq!(o.texts(C2S), ["hello", "next", "later"]);
    assert_eq!(o.texts(S2C), ["reply"]);
}

/// Regression (issue 9, item 6): captures merged from two interfaces can show an ACK before the
/// data it acknowledges. The data was then declared missing (`tcp-gap`, message incomplete)
/// though the capture holds it; a hole is now declared only once it stayed open a second.
#[test]
fn ack_captured_before_the_data_it_acknowledges_is_not_a_gap() {
    let frame = FrameSpec::binary(&[b'm'; 3000], None).encode();
    let mut c = upgraded();
    c.client_send(&ctext("hello"));
    let at = c.packets().len();
    c.server_send_segments(&[&frame[..1000], &frame[1000..2000], &frame[2000..]]);
    c.client_send(&ctext("bye"));
    clean_close(&mut c);
    let mut packets = c.into_packets();
    // Seen by the capture (two interfaces, one clock ahead): the third segment, the client's
    // ACK of all three, its next message and the server's ACK of it, then the first two.
    let times: Vec<i64> = packets.iter().map(|p| p.ts_nanos).collect();
    packets[at..at + 6].rotate_left(2);
    for (p, t) in packets.iter_mut().zip(times) {
        p.ts_nanos = t;
    }
    let o = analyze_packets(&packets);
    o.assert_codes(&[]);
    let s = o.in_dir(S2C);
    assert_eq!(s[0].message.len, 3000);
    assert!(!s[0].message.incomplete, "{s:#?}");
    assert_eq!(o.texts(C2S), ["hello", "bye"]);
    assert_eq!(o.flows[0].summary.gaps, [0, 0]);
}

/// Regression (issue 9, item 6): segments a receiving host drops were decoded instead of the
/// data that follows them. A data segment without ACK: RFC 9293 3.10.7.4 drops it in every
/// synchronized state.
#[test]
fn tcp_segment_ignored_data_without_ack_is_not_decoded() {
    use wsscope_testkit::Dir as K;
    let mut c = upgraded();
    let off = c.stream_offset(K::ClientToServer);
    c.raw_segment_flags(
        K::ClientToServer,
        off,
        &ctext("forged"),
        TcpFlags {
            psh: true,
            ..TcpFlags::NONE
        },
    );
    c.client_send(&ctext("real"));
    c.server_send(&stext("reply"));
    clean_close(&mut c);
    let o = analyze_packets(&c.into_packets());
    let f = o.expect(Code::TcpSegmentIgnored, Some(C2S));
    assert!(f.detail.contains("no ACK flag"), "{}", f.detail);
    o.assert_codes(&[Code::TcpSegmentIgnored]);
    assert_eq!(o.texts(C2S), ["real"]);
    assert_eq!(o.texts(S2C), ["reply"]);
    assert!(o.ends[0].clean);
}

/// Data inside a RST is not stream data: the reset ends the connection, its bytes are not
/// decoded.
#[test]
fn tcp_segment_ignored_data_inside_a_rst_is_not_decoded() {
    use wsscope_testkit::Dir as K;
    let mut c = upgraded();
    c.client_send(&ctext("hello"));
    let off = c.stream_offset(K::ClientToServer);
    c.raw_segment_flags(K::ClientToServer, off, &ctext("forged"), TcpFlags::RST_ACK);
    let o = analyze_packets(&c.into_packets());
    let f = o.expect(Code::TcpSegmentIgnored, Some(C2S));
    assert!(f.detail.contains("RST carried"), "{}", f.detail);
    o.assert_codes(&[Code::TcpSegmentIgnored, Code::AbruptClose]);
    assert_eq!(o.texts(C2S), ["hello"]);
    assert_eq!(o.ends[0].tcp_end, Some(CloseReason::Rst));
}

/// A RST far outside the receive window does not end the connection (RFC 9293 3.10.7.4); an
/// in-window one still does (see `abrupt_close_by_rst_is_reported_after_messages_decoded`).
#[test]
fn tcp_segment_ignored_rst_outside_the_window_does_not_end_the_session() {
    use wsscope_testkit::Dir as K;
    let mut c = upgraded();
    c.client_send(&ctext("hello"));
    for (dir, far) in [
        (K::ClientToServer, 0x7000_0000u64),
        (K::ServerToClient, 0xf000_0000),
    ] {
        let off = c.stream_offset(dir);
        c.raw_segment_flags(dir, off + far, &[], TcpFlags::RST_ACK);
    }
    c.client_send(&ctext("after"));
    c.server_send(&stext("reply"));
    clean_close(&mut c);
    let o = analyze_packets(&c.into_packets());
    let f = o.expect(Code::TcpSegmentIgnored, Some(C2S));
    assert!(
        f.detail.contains("outside the receive window"),
        "{}",
        f.detail
    );
    o.expect(Code::TcpSegmentIgnored, Some(S2C));
    o.assert_codes(&[Code::TcpSegmentIgnored]);
    assert_eq!(o.sessions.len(), 1);
    assert_eq!(o.texts(C2S), ["hello", "after"]);
    assert_eq!(o.texts(S2C), ["reply"]);
    assert!(o.ends[0].clean);
    assert_eq!(o.ends[0].tcp_end, Some(CloseReason::Fin));
}

/// An IPv4 packet whose total length is shorter than its own header is dropped by a host's IP
/// layer; its TCP payload must not be decoded.
#[test]
fn tcp_segment_ignored_ipv4_total_length_below_header_length() {
    use wsscope_testkit::Dir as K;
    let mut c = upgraded();
    let mut t = c.segment_template(K::ClientToServer);
    t.payload = ctext("forged");
    t.flags = TcpFlags::PSH_ACK;
    let mut ip = t.ip_packet();
    ip[2..4].copy_from_slice(&16u16.to_be_bytes());
    c.emit_ip(&ip, false);
    c.client_send(&ctext("real"));
    c.server_send(&stext("reply"));
    clean_close(&mut c);
    let (o, _) = run_file_with(&config(), &pcap(&c.into_packets()));
    let f = o.expect(Code::TcpSegmentIgnored, None);
    assert!(f.detail.contains("shorter than its header"), "{}", f.detail);
    o.assert_codes(&[Code::TcpSegmentIgnored]);
    assert_eq!(o.texts(C2S), ["real"]);
    assert_eq!(o.texts(S2C), ["reply"]);
}

/// Regression (issue 9, item 6): two different copies of a segment held behind a hole (not
/// delivered yet) were not compared, and a longer second copy replaced the first. Holes now
/// stay open longer (an ACK before its data is no gap), so this matters more: the first copy
/// wins and the difference is reported.
#[test]
fn inconsistent_copies_behind_a_hole_are_reported_first_copy_kept() {
    use wsscope_testkit::Dir as K;
    let payload: Vec<u8> = (0..300u32).map(|i| b'a' + (i % 26) as u8).collect();
    let frame = FrameSpec::text(std::str::from_utf8(&payload).unwrap(), None).encode();
    let mut c = upgraded();
    let off = c.stream_offset(K::ServerToClient);
    let mut forged = frame[100..].to_vec();
    forged[50] = b'!';
    c.raw_segment(K::ServerToClient, off + 100, &frame[100..]);
    c.raw_segment(K::ServerToClient, off + 100, &forged);
    c.server_send_segments(&[&frame[..100]]);
    c.skip(K::ServerToClient, frame.len() as u64 - 100);
    c.client_send(&ctext("ask"));
    clean_close(&mut c);
    let o = analyze_packets(&c.into_packets());
    o.expect(Code::TcpOverlapInconsistent, Some(S2C));
    o.assert_codes(&[Code::TcpOverlapInconsistent]);
    let s = o.in_dir(S2C);
    assert_eq!(s[0].message.payload, payload);
    assert!(!s[0].message.incomplete);
    assert_eq!(o.texts(C2S), ["ask"]);
}

#[test]
fn identical_retransmission_is_not_a_finding() {
    let frame = ctext("original");
    let mut c = upgraded();
    let offset = c.stream_offset(wsscope_testkit::Dir::ClientToServer);
    c.client_send(&frame);
    c.raw_segment(wsscope_testkit::Dir::ClientToServer, offset, &frame);
    clean_close(&mut c);
    let o = analyze_packets(&c.into_packets());
    o.assert_codes(&[]);
    assert_eq!(o.texts(C2S), ["original"]);
}

// ---------------------------------------------------------------------------------------------
// Session end
// ---------------------------------------------------------------------------------------------

#[test]
fn abrupt_close_by_rst_is_reported_after_messages_decoded() {
    let mut c = upgraded();
    c.client_send(&ctext("hello"));
    c.server_send(&stext("world"));
    c.rst(wsscope_testkit::Dir::ServerToClient);
    let o = analyze_packets(&c.into_packets());
    let f = o.expect(Code::AbruptClose, Some(S2C));
    assert!(f.detail.contains("RST"), "{}", f.detail);
    o.assert_codes(&[Code::AbruptClose]);
    assert_eq!(o.texts(C2S), ["hello"]);
    assert_eq!(o.texts(S2C), ["world"]);
    assert_eq!(o.ends[0].tcp_end, Some(CloseReason::Rst));
    assert!(!o.ends[0].clean);
}

#[test]
fn abrupt_close_by_fin_is_reported_after_messages_decoded() {
    let mut c = upgraded();
    c.client_send(&ctext("hello"));
    c.server_send(&stext("world"));
    c.fin(wsscope_testkit::Dir::ClientToServer);
    c.fin(wsscope_testkit::Dir::ServerToClient);
    let o = analyze_packets(&c.into_packets());
    let f = o.expect(Code::AbruptClose, Some(C2S));
    assert!(f.detail.contains("FIN"), "{}", f.detail);
    o.assert_codes(&[Code::AbruptClose]);
    assert_eq!(o.texts(C2S), ["hello"]);
    assert_eq!(o.texts(S2C), ["world"]);
    assert_eq!(o.ends[0].tcp_end, Some(CloseReason::Fin));
}

#[test]
fn close_handshake_incomplete_when_only_client_sent_close() {
    let mut c = upgraded();
    c.client_send(&ctext("hello"));
    c.server_send(&stext("world"));
    c.client_send(&cclose(1001));
    c.close();
    let o = analyze_packets(&c.into_packets());
    let f = o.expect(Code::CloseHandshakeIncomplete, Some(C2S));
    assert!(f.detail.contains("client"), "{}", f.detail);
    o.assert_codes(&[Code::CloseHandshakeIncomplete]);
    assert_eq!(o.last(C2S).message.close_code, Some(1001));
    assert_eq!(o.texts(S2C), ["world"]);
    assert!(!o.ends[0].clean);
}

fn silence_then_fin(silence: i64) -> Outcome {
    let mut c = upgraded();
    c.client_send(&ctext("hello"));
    c.server_send(&stext("world"));
    c.advance_time(silence);
    c.fin(wsscope_testkit::Dir::ServerToClient);
    c.fin(wsscope_testkit::Dir::ClientToServer);
    analyze_packets(&c.into_packets())
}

#[test]
fn idle_timeout_suspected_after_60_seconds_of_silence_then_fin() {
    let o = silence_then_fin(60 * SEC);
    let f = o.expect(Code::IdleTimeoutSuspected, Some(S2C));
    assert!(f.detail.contains("60.0 s"), "{}", f.detail);
    o.assert_codes(&[Code::IdleTimeoutSuspected, Code::AbruptClose]);
    assert_eq!(o.texts(C2S), ["hello"]);
    assert_eq!(o.texts(S2C), ["world"]);
}

#[test]
fn no_idle_timeout_for_short_or_unrelated_silences() {
    for silence in [10 * SEC, 40 * SEC, 90 * SEC] {
        let o = silence_then_fin(silence);
        assert!(
            !o.has(Code::IdleTimeoutSuspected),
            "{silence}: {:#?}",
            o.findings
        );
    }
}

#[test]
fn idle_timeout_suspected_after_a_multiple_of_60_seconds() {
    let o = silence_then_fin(120 * SEC);
    o.expect(Code::IdleTimeoutSuspected, Some(S2C));
}

// ---------------------------------------------------------------------------------------------
// Capture-level
// ---------------------------------------------------------------------------------------------

#[test]
fn handshake_not_seen_when_capture_starts_mid_stream() {
    let mut c = Conversation::default_v4();
    c.client_send(&ctext("first"));
    c.server_send(&stext("echo first"));
    c.client_send(&ctext("second"));
    let mut m = FrameSpec::binary(b"\x00\x01\x02", mask(9));
    m.fin = true;
    c.client_send(&m.encode());
    clean_close(&mut c);
    let o = analyze_packets(&c.into_packets());
    o.expect(Code::HandshakeNotSeen, None);
    o.assert_codes(&[Code::HandshakeNotSeen]);
    assert_eq!(o.sessions.len(), 1);
    assert!(o.sessions[0].handshake.is_none());
    assert_eq!(o.texts(C2S), ["first", "second"]);
    assert_eq!(o.data(C2S)[2], (MessageKind::Binary, vec![0, 1, 2]));
    assert_eq!(o.texts(S2C), ["echo first"]);
    assert!(o.ends[0].clean);
}

fn session_packets() -> Vec<Packet> {
    let mut c = upgraded();
    c.client_send(&ctext("hello"));
    c.server_send(&stext("world"));
    c.client_send(&ctext("more"));
    c.server_send(&stext(&"x".repeat(400)));
    c.into_packets()
}

#[test]
fn capture_truncated_inside_last_record_keeps_earlier_messages() {
    let bytes = pcap(&session_packets());
    // The last record is a 54-byte pure ACK (16-byte record header): cut it in half.
    let cut = &bytes[..bytes.len() - 30];
    let (o, captures) = run_file_with(&config(), cut);
    let f = o.expect(Code::CaptureTruncated, None);
    assert!(f.session.is_none());
    assert!(f.detail.contains("ends inside a record"), "{}", f.detail);
    assert_eq!(captures[0].warnings.len(), 1);
    assert_eq!(o.texts(C2S), ["hello", "more"]);
    assert_eq!(o.texts(S2C), ["world", &"x".repeat(400)]);
    // The in-process analysis of the same bytes agrees on the messages.
    let inproc = analyze(cut);
    let all = |o: &Outcome| -> Vec<_> {
        o.messages
            .iter()
            .map(|m| {
                let numbers = (m.session, m.index, m.first_packet, m.last_packet);
                (numbers, m.message.clone(), m.rtt_nanos)
            })
            .collect()
    };
    assert_eq!(all(&inproc), all(&o));
}

#[test]
fn capture_truncated_inside_a_data_record_keeps_earlier_messages() {
    let mut pkts = session_packets();
    let last_ack = pkts.pop().unwrap();
    drop(last_ack);
    let big = pkts.pop().unwrap(); // the 400-byte server frame
    let mut bytes = pcap(&pkts);
    let whole = pcap(&[big]);
    bytes.extend_from_slice(&whole[24..24 + 16 + 100]);
    let (o, _) = run_file_with(&config(), &bytes);
    o.expect(Code::CaptureTruncated, None);
    assert_eq!(o.texts(C2S), ["hello", "more"]);
    assert_eq!(o.texts(S2C), ["world"]);
}

#[test]
fn flow_evicted_when_table_is_full_and_websocket_session_still_decoded() {
    let mut packets = Vec::new();
    let mut ws = upgraded();
    ws.client_send(&ctext("hello"));
    packets.extend(ws.take_packets());
    for i in 0..50u16 {
        let mut syn = Conversation::new(
            std::net::SocketAddr::from(([10, 0, 1, 1], 20000 + i)),
            std::net::SocketAddr::from(([10, 0, 1, 2], 443)),
        )
        .with_start_time(packets.last().map_or(0, |p: &Packet| p.ts_nanos) + 1000);
        let mut t = syn.segment_template(wsscope_testkit::Dir::ClientToServer);
        t.seq = 1000;
        t.ack = 0;
        t.flags = wsscope_testkit::TcpFlags::SYN;
        syn.emit(wsscope_testkit::Dir::ClientToServer, &t);
        packets.extend(syn.into_packets());
    }
    ws.advance_time(1_000_000);
    ws.server_send(&stext("world"));
    clean_close(&mut ws);
    packets.extend(ws.into_packets());
    packets.sort_by_key(|p| p.ts_nanos);

    let mut cfg = config();
    cfg.flows.max_flows = 4;
    let (o, _) = run_file_with(&cfg, &pcap(&packets));
    let f = o.expect(Code::FlowEvicted, None);
    assert!(f.detail.contains("--max-flows 4"), "{}", f.detail);
    let evicted = o
        .flows
        .iter()
        .filter(|f| f.summary.ended == CloseReason::Evicted)
        .count();
    assert!(evicted >= 46, "{evicted} evicted");
    // The busy WebSocket connection is the most active one and survives.
    assert_eq!(o.texts(C2S), ["hello"]);
    assert_eq!(o.texts(S2C), ["world"]);
    assert!(o.ends.iter().any(|e| e.clean));
}

/// An output holding payloads against a budget of 100 bytes: the first text fits, the rest of
/// the session's payloads are dropped and reported once, with what was dropped.
#[test]
fn payload_budget_exceeded_is_reported_once_with_what_was_dropped() {
    let mut c = upgraded();
    c.client_send(&ctext(&"a".repeat(80)));
    c.server_send(&stext(&"b".repeat(80)));
    c.client_send(&ctext(&"c".repeat(80)));
    clean_close(&mut c);
    let mut cfg = config();
    cfg.budget = wsscope_core::budget::MemoryBudget::new(100);
    let json = wsscope_output::json::JsonReportSink::new(
        Box::new(std::io::sink()),
        wsscope_output::report::PayloadMode::Full,
    )
    .with_budget(cfg.budget.clone());
    let (o, _) = run_file_with_output(&cfg, &pcap(&c.into_packets()), Box::new(json));
    let f = o.expect(Code::PayloadBudgetExceeded, None);
    // Two texts (80 bytes each) and the two close frames' payloads (a code: 4 bytes of base64).
    assert!(
        f.detail.contains("payload of 4 messages (168 B) not kept"),
        "{}",
        f.detail
    );
    assert!(f.detail.contains("--max-memory 100 B"), "{}", f.detail);
    assert_eq!(o.all(Code::PayloadBudgetExceeded).len(), 1);
    assert_eq!(o.texts(C2S).len(), 2, "the analysis itself is unaffected");
}

/// The analysis's own buffers are charged to the budget too: a 300 KiB message kept whole
/// (as with --payload full) under a 64 KiB budget keeps what fits, is counted in full, and
/// the drop is reported in its direction; the session goes on.
#[test]
fn memory_budget_exceeded_while_a_message_is_assembled() {
    let mut c = upgraded();
    let big: Vec<u8> = (0..300 << 10).map(|i| (i % 251) as u8).collect();
    c.server_send(&FrameSpec::binary(&big, None).encode());
    c.client_send(&ctext("after"));
    clean_close(&mut c);
    let mut cfg = config();
    cfg.budget = wsscope_core::budget::MemoryBudget::new(64 << 10);
    let (o, _) = run_file_with(&cfg, &pcap(&c.into_packets()));
    let f = o.expect(Code::MemoryBudgetExceeded, Some(S2C));
    assert!(
        f.detail.contains("--max-memory 64.0 KiB") && f.detail.contains("binary message kept"),
        "{}",
        f.detail
    );
    o.assert_codes(&[Code::MemoryBudgetExceeded]);
    let (kind, payload) = &o.data(S2C)[0];
    assert_eq!(*kind, MessageKind::Binary);
    assert!(payload.len() < big.len() && payload[..] == big[..payload.len()]);
    assert_eq!(o.in_dir(S2C)[0].message.len, big.len() as u64);
    assert_eq!(o.texts(C2S), ["after"]);
    assert_eq!(cfg.budget.used(), 0);
    assert!(cfg.budget.peak() <= 64 << 10);
}

/// A connection holding 3 MiB behind a lost byte, gone quiet, and a later one holding 2 MiB
/// behind a byte that is only reordered, under a 4.5 MiB budget: the quiet one (least recently
/// active) gives up its data, the busy one keeps holding until its byte arrives and loses
/// nothing.
#[test]
fn memory_budget_relieves_the_least_active_connection_first() {
    let server = std::net::SocketAddr::from(([10, 0, 0, 2], 80));
    let open = |last: u8, start: i64| {
        let mut c = Conversation::new(
            std::net::SocketAddr::from(([10, 0, 0, last], 40000)),
            server,
        )
        .with_mss(8192)
        .with_start_time(start);
        c.handshake();
        c.client_send(&request().to_bytes());
        c.server_send(&response().to_bytes());
        c.with_auto_ack(false)
    };
    let frame = |len: usize| FrameSpec::binary(&vec![7u8; len], None).encode();
    let mut quiet = open(1, 1_700_000_000_000_000_000);
    let big = frame(3 << 20);
    quiet.send(wsscope_testkit::Dir::ServerToClient, &big[..1000]);
    quiet.skip(wsscope_testkit::Dir::ServerToClient, 1);
    quiet.send(wsscope_testkit::Dir::ServerToClient, &big[1001..]);
    let mut busy = open(2, quiet.now() + 1_000_000);
    let other = frame(2 << 20);
    let at = busy.stream_offset(wsscope_testkit::Dir::ServerToClient) + 1000;
    busy.send(wsscope_testkit::Dir::ServerToClient, &other[..1000]);
    busy.skip(wsscope_testkit::Dir::ServerToClient, 1);
    busy.send(wsscope_testkit::Dir::ServerToClient, &other[1001..]);
    busy.raw_segment(wsscope_testkit::Dir::ServerToClient, at, &other[1000..1001]);
    let mut packets = quiet.into_packets();
    packets.extend(busy.into_packets());
    let mut cfg = config();
    cfg.session.keep_bytes = 1024;
    cfg.budget = wsscope_core::budget::MemoryBudget::new(9 << 19);
    let (o, _) = run_file_with(&cfg, &pcap(&packets));
    o.assert_codes(&[Code::MemoryBudgetExceeded, Code::TcpGap]);
    let relieved = o.all(Code::MemoryBudgetExceeded);
    let gaps = o.all(Code::TcpGap);
    assert_eq!((relieved.len(), gaps.len()), (1, 1), "{:#?}", o.findings);
    assert_eq!(relieved[0].session, gaps[0].session);
    assert!(
        relieved[0].detail.contains("held out of order"),
        "{}",
        relieved[0].detail
    );
    let quiet_session = o
        .sessions
        .iter()
        .find(|s| s.client.ip().to_string() == "10.0.0.1");
    assert_eq!(relieved[0].session, quiet_session.map(|s| s.id));
    // The busy connection's frame arrived whole.
    let busy_frame = o
        .messages
        .iter()
        .find(|m| m.message.len == 2 << 20)
        .expect("busy frame");
    assert!(!busy_frame.message.incomplete);
    assert!(cfg.budget.peak() <= 9 << 19);
}

#[test]
fn snaplen_truncated_is_reported_and_the_cut_message_is_incomplete() {
    let mut c = upgraded();
    c.client_send(&ctext("hello"));
    c.server_send(&FrameSpec::binary(&[7u8; 1000], None).encode());
    c.server_send(&stext("after"));
    clean_close(&mut c);
    // The handshake fits in 300 bytes; the 1058-byte packet of the binary frame does not.
    let opts = PcapOptions {
        snaplen: 300,
        ..PcapOptions::default()
    };
    let (o, _) = run_file_with(&config(), &pcap_bytes(opts, &c.into_packets()));
    let f = o.expect(Code::SnaplenTruncated, None);
    assert!(f.session.is_none());
    assert!(
        f.detail.contains("1 of ") && f.detail.contains("(758 payload bytes not captured)"),
        "{}",
        f.detail
    );
    o.expect(Code::TcpGap, Some(S2C));
    o.assert_codes(&[Code::SnaplenTruncated, Code::TcpGap]);
    let s = o.in_dir(S2C);
    assert_eq!(
        (s[0].message.kind, s[0].message.len, s[0].message.incomplete),
        (MessageKind::Binary, 1000, true)
    );
    assert_eq!(o.texts(S2C), ["after"]);
    assert_eq!(o.texts(C2S), ["hello"]);
}

#[test]
fn fragments_dropped_when_the_fragment_table_is_full_and_session_still_decoded() {
    let mut c = upgraded();
    c.client_send(&ctext("hello"));
    // 1100 datagrams of which only the first fragment is captured: the table keeps 1024.
    for id in 0..1100u16 {
        let mut t = TcpSegmentSpec::new(
            std::net::SocketAddr::from(([10, 0, 7, 1], 5000)),
            std::net::SocketAddr::from(([10, 0, 7, 2], 80)),
        );
        t.ip_id = id;
        t.flags = TcpFlags::PSH_ACK;
        t.payload = vec![0; 64];
        let first = fragment_ipv4(&t.ip_packet(), 32).swap_remove(0);
        c.emit_ip(&first, false);
    }
    c.server_send(&stext("world"));
    clean_close(&mut c);
    let (o, _) = run_file_with(&config(), &pcap(&c.into_packets()));
    let f = o.expect(Code::FragmentsDropped, None);
    assert!(
        f.detail
            .contains("76 incomplete IP datagrams dropped from the full fragment table"),
        "{}",
        f.detail
    );
    o.assert_codes(&[Code::FragmentsDropped]);
    assert_eq!(o.texts(C2S), ["hello"]);
    assert_eq!(o.texts(S2C), ["world"]);
    assert!(o.ends[0].clean);
}

/// Regression (issue 9, item 6): overlapping IP fragments with different bytes were silently
/// resolved (first copy wins); receivers differ on which copy they keep, so it is flagged as TCP
/// overlaps are. IPv4 and IPv6.
#[test]
fn ip_fragment_overlap_inconsistent_is_reported_first_copy_kept() {
    use wsscope_testkit::Dir as K;
    for v6 in [false, true] {
        let mut c = if v6 {
            Conversation::default_v6()
        } else {
            Conversation::default_v4()
        };
        c.handshake();
        c.client_send(&request().to_bytes());
        c.server_send(&response().to_bytes());
        let frame = ctext("fragmented message");
        let mut t = c.segment_template(K::ClientToServer);
        t.flags = TcpFlags::PSH_ACK;
        t.payload = frame.clone();
        let ip = t.ip_packet();
        let (frags, header) = if v6 {
            (fragment_ipv6(&ip, 16), 48)
        } else {
            (fragment_ipv4(&ip, 16), 20)
        };
        assert!(frags.len() > 2);
        let mut forged = frags[1].clone();
        for b in &mut forged[header..] {
            *b ^= 0x55;
        }
        c.emit_ip(&frags[0], v6);
        c.emit_ip(&frags[1], v6);
        c.emit_ip(&forged, v6);
        for f in &frags[2..] {
            c.emit_ip(f, v6);
        }
        c.skip(K::ClientToServer, frame.len() as u64);
        c.ack(K::ServerToClient);
        c.server_send(&stext("reply"));
        clean_close(&mut c);
        let (o, _) = run_file_with(&config(), &pcap(&c.into_packets()));
        let f = o.expect(Code::IpFragmentOverlapInconsistent, None);
        assert!(
            f.detail.contains("1 IP fragments overlapped"),
            "{}",
            f.detail
        );
        o.assert_codes(&[Code::IpFragmentOverlapInconsistent]);
        assert_eq!(o.texts(C2S), ["fragmented message"], "v6: {v6}");
        assert_eq!(o.texts(S2C), ["reply"]);
    }
}

// ---------------------------------------------------------------------------------------------
// Nothing vanishes: sessions the server accepted are reported even when the handshake could not
// be followed (issue 9, item 4)
// ---------------------------------------------------------------------------------------------

/// Six messages each way after the handshake, then a clean close.
fn twelve_messages(c: &mut Conversation<'_>) {
    for i in 0..6 {
        c.client_send(&ctext(&format!("c{i}")));
        c.server_send(&stext(&format!("s{i}")));
    }
    clean_close(c);
}

/// One session, with all twelve messages of [`twelve_messages`] decoded.
fn assert_twelve_decoded(o: &Outcome) {
    assert_eq!(o.sessions.len(), 1, "{:#?}", o.findings);
    assert_eq!(
        o.texts(C2S),
        ["c0", "c1", "c2", "c3", "c4", "c5"],
        "{:#?}",
        o.findings
    );
    assert_eq!(
        o.texts(S2C),
        ["s0", "s1", "s2", "s3", "s4", "s5"],
        "{:#?}",
        o.findings
    );
    assert_eq!(o.ends.len(), 1);
    assert!(o.ends[0].upgraded);
    assert!(o.ends[0].clean, "{:?}", o.ends[0]);
}

/// The upgrade exchange given as raw request bytes, then twelve messages.
fn raw_request_then_twelve(req: &[u8]) -> Outcome {
    let mut c = Conversation::default_v4();
    c.handshake();
    c.client_send(req);
    c.server_send(&response().to_bytes());
    twelve_messages(&mut c);
    analyze_packets(&c.into_packets())
}

#[test]
fn request_not_captured_session_is_reported_from_the_101_and_decoded() {
    let mut c = Conversation::default_v4();
    c.handshake();
    c.skip(kit(C2S), request().to_bytes().len() as u64);
    c.server_send(&response().to_bytes());
    twelve_messages(&mut c);
    let o = analyze_packets(&c.into_packets());
    assert_twelve_decoded(&o);
    let f = o.expect(Code::HandshakeNotSeen, None);
    assert!(f.detail.contains("request"), "{}", f.detail);
}

#[test]
fn capture_starting_at_the_101_reports_the_session_with_the_negotiated_deflate() {
    let mut c = Conversation::default_v4();
    c.server_send(&response().with_deflate().to_bytes());
    // A compressed server message: decoded only if the 101's extensions were read.
    let mut z = new_deflate_compressor(6);
    let zipped = FrameSpec::new(1, deflate_message(b"zipped", &mut z), None)
        .with_rsv(true, false, false)
        .encode();
    c.server_send(&zipped);
    twelve_messages(&mut c);
    let o = analyze_packets(&c.into_packets());
    assert_eq!(o.sessions.len(), 1, "{:#?}", o.findings);
    assert_eq!(o.texts(S2C)[0], "zipped", "{:#?}", o.findings);
    assert_eq!(o.texts(C2S), ["c0", "c1", "c2", "c3", "c4", "c5"]);
    assert!(o.ends[0].clean);
    let f = o.expect(Code::HandshakeNotSeen, None);
    assert!(f.detail.contains("101"), "{}", f.detail);
    assert!(!o.has(Code::DecompressionFailed), "{:#?}", o.findings);
}

/// The request is captured, the server's 101 segment is not.
fn lost_101(cfg: AnalyzerConfig) -> Outcome {
    let mut c = Conversation::default_v4();
    c.handshake();
    c.client_send(&request().to_bytes());
    c.skip(kit(S2C), response().to_bytes().len() as u64);
    twelve_messages(&mut c);
    analyze_packets_with(cfg, &c.into_packets())
}

#[test]
fn lost_101_segment_session_is_decoded_from_the_framing() {
    let o = lost_101(config());
    assert_twelve_decoded(&o);
    assert_eq!(
        o.sessions[0]
            .handshake
            .as_ref()
            .map(|h| h.request.target.as_str()),
        Some("/")
    );
    let f = o.expect(Code::HandshakeNotSeen, Some(S2C));
    assert!(f.detail.contains("response"), "{}", f.detail);
}

#[test]
fn lost_101_segment_and_the_start_of_a_frame_then_server_bytes_first() {
    let mut c = Conversation::default_v4();
    c.handshake();
    c.client_send(&request().to_bytes());
    // The 101 and the first 2 bytes of the server's first frame are lost; the server's bytes
    // resume inside that frame, before the client says anything.
    c.skip(kit(S2C), response().to_bytes().len() as u64 + 2);
    c.server_send(&stext("first")[2..]);
    twelve_messages(&mut c);
    let o = analyze_packets(&c.into_packets());
    assert_twelve_decoded(&o);
    o.expect(Code::HandshakeNotSeen, Some(S2C));
}

#[test]
fn lost_101_segment_is_recovered_by_decode_as_too() {
    let mut cfg = config();
    cfg.session.decode_as_ports = vec![80];
    let o = lost_101(cfg);
    assert_twelve_decoded(&o);
    let f = o.expect(Code::HandshakeNotSeen, Some(S2C));
    assert!(f.detail.contains("--decode-as 80"), "{}", f.detail);
}

#[test]
fn lower_case_method_is_method_not_get_and_session_still_decoded() {
    let mut req = request();
    req.method = "get".into();
    let o = raw_request_then_twelve(&req.to_bytes());
    assert_twelve_decoded(&o);
    let f = o.expect(Code::MethodNotGet, Some(C2S));
    assert!(f.detail.contains("'get /"), "{}", f.detail);
    o.assert_codes(&[Code::MethodNotGet]);
}

#[test]
fn over_128_headers_is_http_limit_exceeded_and_session_still_decoded() {
    let mut req = request();
    req.extra_headers = (0..200)
        .map(|i| (format!("X-H{i}"), "v".to_string()))
        .collect();
    let o = raw_request_then_twelve(&req.to_bytes());
    assert_twelve_decoded(&o);
    let f = o.expect(Code::HttpLimitExceeded, Some(C2S));
    assert!(f.detail.contains("206 headers"), "{}", f.detail);
    // The WebSocket headers were kept, so the handshake checks still pass.
    o.assert_codes(&[Code::HttpLimitExceeded]);
    let hs = o.sessions[0].handshake.as_ref().expect("handshake");
    assert_eq!(hs.request.headers.len(), 128);
    assert!(hs.negotiated.accept_valid);
}

#[test]
fn head_over_64_kib_is_http_limit_exceeded_and_session_still_decoded() {
    let mut req = request();
    req.extra_headers = vec![("Cookie".into(), "a".repeat(70_000))];
    let o = raw_request_then_twelve(&req.to_bytes());
    assert_twelve_decoded(&o);
    let f = o.expect(Code::HttpLimitExceeded, Some(C2S));
    assert!(f.detail.contains("64 KiB"), "{}", f.detail);
    assert_eq!(
        o.sessions[0]
            .handshake
            .as_ref()
            .map(|h| h.request.method.as_str()),
        Some("GET")
    );
}

#[test]
fn non_utf8_request_target_is_handshake_unparsed_and_session_still_decoded() {
    let mut req = request();
    req.target = "/caf\u{e9}".into(); // replaced below by the single byte 0xe9
    let mut bytes = req.to_bytes();
    let at = bytes
        .windows(2)
        .position(|w| w == [0xc3, 0xa9])
        .expect("e-acute");
    bytes.splice(at..at + 2, [0xe9]);
    let o = raw_request_then_twelve(&bytes);
    assert_twelve_decoded(&o);
    let f = o.expect(Code::HandshakeUnparsed, Some(C2S));
    assert!(f.detail.contains("request"), "{}", f.detail);
    let hs = o.sessions[0].handshake.as_ref().expect("handshake");
    assert_eq!(hs.request.target, "/caf\u{fffd}");
    assert!(hs.negotiated.accept_valid);
}

#[test]
fn upgrade_after_40_keep_alive_exchanges_is_still_decoded() {
    let mut c = Conversation::default_v4();
    c.handshake();
    for _ in 0..40 {
        c.client_send(b"GET /poll HTTP/1.1\r\nHost: example.com\r\n\r\n");
        c.server_send(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    }
    c.client_send(&request().to_bytes());
    c.server_send(&response().to_bytes());
    twelve_messages(&mut c);
    let o = analyze_packets(&c.into_packets());
    assert_twelve_decoded(&o);
    o.assert_codes(&[]);
}

/// A request that does not ask for WebSocket (`upgrade`: its Upgrade header), answered by a
/// 101, then `then`.
fn switch_without_websocket(
    upgrade: Option<&str>,
    then: impl FnOnce(&mut Conversation<'_>),
) -> Outcome {
    let mut c = Conversation::default_v4();
    c.handshake();
    let mut req = String::from("GET /plain HTTP/1.1\r\nHost: example.com\r\n");
    if let Some(u) = upgrade {
        req.push_str(&format!("Connection: Upgrade\r\nUpgrade: {u}\r\n"));
    }
    req.push_str("\r\n");
    c.client_send(req.as_bytes());
    c.server_send(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\r\n");
    then(&mut c);
    analyze_packets(&c.into_packets())
}

#[test]
fn a_101_to_a_request_not_asking_for_websocket_is_reported_and_its_frames_decoded() {
    let o = switch_without_websocket(None, twelve_messages);
    assert_twelve_decoded(&o);
    let f = o.expect(Code::UpgradeHeaderMissing, Some(C2S));
    assert!(
        f.detail.contains("did not ask for WebSocket ("),
        "{}",
        f.detail
    );
    assert!(
        f.detail.contains("WebSocket framing follows"),
        "{}",
        f.detail
    );
    let hs = o.sessions[0].handshake.as_ref().expect("handshake");
    assert_eq!(hs.request.target, "/plain");
    assert_eq!(hs.response.as_ref().map(|r| r.status), Some(101));
}

#[test]
fn a_101_to_an_h2c_upgrade_is_decoded_as_websocket_with_decode_as() {
    let mut c = Conversation::default_v4();
    c.handshake();
    c.client_send(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n");
    c.server_send(b"HTTP/1.1 101 Switching Protocols\r\n\r\n");
    twelve_messages(&mut c);
    let mut cfg = config();
    cfg.session.decode_as_ports = vec![80];
    let o = analyze_packets_with(cfg, &c.into_packets());
    assert_twelve_decoded(&o);
    let f = o.expect(Code::UpgradeHeaderMissing, Some(C2S));
    assert!(f.detail.contains("--decode-as 80"), "{}", f.detail);
}

#[test]
fn a_101_to_an_h2c_upgrade_is_reported_as_a_session_that_left_websocket() {
    let o = switch_without_websocket(Some("h2c"), |c| {
        c.client_send(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00");
        c.server_send(b"\x00\x00\x00\x04\x00\x00\x00\x00\x00");
        c.close();
    });
    assert_eq!(o.sessions.len(), 1, "{:#?}", o.findings);
    assert!(o.messages.is_empty(), "{:#?}", o.messages);
    let f = o.expect(Code::UpgradeHeaderMissing, Some(C2S));
    assert!(f.detail.contains("'h2c'"), "{}", f.detail);
    assert!(f.detail.contains("not WebSocket framing"), "{}", f.detail);
    o.assert_codes(&[Code::UpgradeHeaderMissing]);
    assert_eq!(o.ends.len(), 1);
    assert!(!o.ends[0].upgraded);
}

/// The upgrade with `resp` given as raw bytes, then twelve messages.
fn raw_response_then_twelve(resp: &[u8]) -> Outcome {
    let mut c = Conversation::default_v4();
    c.handshake();
    c.client_send(&request().to_bytes());
    c.server_send(resp);
    twelve_messages(&mut c);
    analyze_packets(&c.into_packets())
}

#[test]
fn a_101_with_over_128_headers_is_http_limit_exceeded_and_session_still_decoded() {
    let mut resp = response();
    resp.extra_headers = (0..200)
        .map(|i| (format!("X-H{i}"), "v".to_string()))
        .collect();
    let o = raw_response_then_twelve(&resp.to_bytes());
    assert_twelve_decoded(&o);
    let f = o.expect(Code::HttpLimitExceeded, Some(S2C));
    assert!(
        f.detail.contains("response has 203 headers"),
        "{}",
        f.detail
    );
    o.assert_codes(&[Code::HttpLimitExceeded]);
    assert!(
        o.sessions[0]
            .handshake
            .as_ref()
            .expect("handshake")
            .negotiated
            .accept_valid
    );
}

#[test]
fn a_101_head_over_64_kib_is_http_limit_exceeded_and_session_still_decoded() {
    let mut resp = response();
    resp.extra_headers = vec![("Set-Cookie".into(), "a".repeat(70_000))];
    let o = raw_response_then_twelve(&resp.to_bytes());
    assert_twelve_decoded(&o);
    let f = o.expect(Code::HttpLimitExceeded, Some(S2C));
    assert!(f.detail.contains("response head is"), "{}", f.detail);
    assert!(f.detail.contains("64 KiB"), "{}", f.detail);
    let hs = o.sessions[0].handshake.as_ref().expect("handshake");
    assert_eq!(hs.response.as_ref().map(|r| r.status), Some(101));
}

#[test]
fn a_lower_case_status_line_is_handshake_unparsed_and_session_still_decoded() {
    let mut resp = response();
    resp.http_version = "http/1.1".into();
    let o = raw_response_then_twelve(&resp.to_bytes());
    assert_twelve_decoded(&o);
    let f = o.expect(Code::HandshakeUnparsed, Some(S2C));
    assert!(f.detail.contains("response"), "{}", f.detail);
    o.assert_codes(&[Code::HandshakeUnparsed]);
}

#[test]
fn a_101_with_control_bytes_in_its_reason_is_read_leniently() {
    let mut bytes = response().to_bytes();
    let at = bytes
        .iter()
        .position(|&b| b == b'\r')
        .expect("status line end");
    bytes.splice(at..at, [b' ', 0xff, 0x01, b'x']);
    let o = raw_response_then_twelve(&bytes);
    assert_twelve_decoded(&o);
    o.expect(Code::HandshakeUnparsed, Some(S2C));
}

#[test]
fn over_64_unanswered_pipelined_requests_are_bounded_with_a_finding() {
    let mut c = Conversation::default_v4();
    c.handshake();
    let pad = "p".repeat(600);
    for i in 0..2000 {
        c.client_send(format!("GET /r{i} HTTP/1.1\r\nHost: a\r\nX-Pad: {pad}\r\n\r\n").as_bytes());
    }
    let o = analyze_packets(&c.into_packets());
    let f = o.expect(Code::HttpLimitExceeded, Some(C2S));
    assert!(f.detail.contains("64 pipelined requests"), "{}", f.detail);
    assert!(f.detail.contains("no longer examined"), "{}", f.detail);
    assert_eq!(f.session, None);
    assert!(o.sessions.is_empty());
}

#[test]
fn an_upgrade_behind_70_pipelined_requests_is_still_decoded() {
    let mut c = Conversation::default_v4();
    c.handshake();
    for _ in 0..70 {
        c.client_send(b"GET /poll HTTP/1.1\r\nHost: example.com\r\n\r\n");
    }
    c.client_send(&request().to_bytes());
    for _ in 0..70 {
        c.server_send(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    }
    c.server_send(&response().to_bytes());
    twelve_messages(&mut c);
    let o = analyze_packets(&c.into_packets());
    assert_twelve_decoded(&o);
    o.assert_codes(&[]);
}

#[test]
fn a_segment_lost_inside_the_request_head_keeps_the_session() {
    let req = request().to_bytes();
    let mut c = Conversation::default_v4();
    c.handshake();
    c.client_send(&req[..40]);
    c.skip(kit(C2S), 30);
    c.client_send(&req[70..]);
    c.server_send(&response().to_bytes());
    twelve_messages(&mut c);
    let o = analyze_packets(&c.into_packets());
    assert_twelve_decoded(&o);
    let f = o.expect(Code::HandshakeNotSeen, Some(C2S));
    assert!(
        f.detail.contains("30 bytes inside the request head"),
        "{}",
        f.detail
    );
    let hs = o.sessions[0].handshake.as_ref().expect("handshake");
    assert_eq!(hs.request.target, "/");
    assert_eq!(hs.response.as_ref().map(|r| r.status), Some(101));
    // The rest of the head (after the gap) is not mistaken for frames.
    o.assert_codes(&[Code::HandshakeNotSeen]);
}

#[test]
fn a_segment_lost_just_before_the_empty_line_ending_the_request_head() {
    let req = request().to_bytes();
    let mut c = Conversation::default_v4();
    c.handshake();
    c.client_send(&req[..40]);
    c.skip(kit(C2S), (req.len() - 42) as u64);
    c.client_send(&req[req.len() - 2..]);
    c.server_send(&response().to_bytes());
    twelve_messages(&mut c);
    let o = analyze_packets(&c.into_packets());
    assert_twelve_decoded(&o);
    // Nothing of the client's stream was skipped as junk.
    o.assert_codes(&[Code::HandshakeNotSeen]);
}

#[test]
fn a_segment_lost_inside_the_request_line_keeps_the_session() {
    let req = request().to_bytes();
    let mut c = Conversation::default_v4();
    c.handshake();
    c.client_send(&req[..6]);
    c.skip(kit(C2S), 30);
    c.client_send(&req[36..]);
    c.server_send(&response().to_bytes());
    twelve_messages(&mut c);
    let o = analyze_packets(&c.into_packets());
    assert_twelve_decoded(&o);
    let f = o.expect(Code::HandshakeNotSeen, Some(C2S));
    assert!(f.detail.contains("101"), "{}", f.detail);
}

#[test]
fn a_segment_lost_inside_the_101_head_keeps_the_session() {
    let resp = response().to_bytes();
    let mut c = Conversation::default_v4();
    c.handshake();
    c.client_send(&request().to_bytes());
    c.server_send(&resp[..40]);
    c.skip(kit(S2C), 20);
    c.server_send(&resp[60..]);
    twelve_messages(&mut c);
    let o = analyze_packets(&c.into_packets());
    assert_twelve_decoded(&o);
    let f = o.expect(Code::HandshakeNotSeen, Some(S2C));
    assert!(
        f.detail.contains("20 bytes inside the 101 response head"),
        "{}",
        f.detail
    );
}

#[test]
fn a_segment_lost_inside_a_refusal_head_reports_the_refused_upgrade() {
    let mut c = Conversation::default_v4();
    c.handshake();
    c.client_send(&request().to_bytes());
    let refusal = b"HTTP/1.1 403 Forbidden\r\nServer: x\r\nContent-Length: 0\r\n\r\n";
    c.server_send(&refusal[..30]);
    c.skip(kit(S2C), 10);
    c.server_send(&refusal[40..]);
    c.close();
    let o = analyze_packets(&c.into_packets());
    assert_eq!(o.sessions.len(), 1, "{:#?}", o.findings);
    o.expect(Code::UpgradeRejected, Some(S2C));
    let f = o.expect(Code::HandshakeNotSeen, Some(S2C));
    assert!(
        f.detail.contains("inside the 403 response head"),
        "{}",
        f.detail
    );
}

#[test]
fn an_upgrade_after_chunked_bodies_on_a_keep_alive_connection_is_decoded() {
    let mut c = Conversation::default_v4();
    c.handshake();
    c.client_send(
        b"POST /form HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    c.client_send(b"5;ext=1\r\nhello\r\n");
    c.client_send(b"A\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n");
    c.server_send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n");
    c.server_send(b"0\r\n\r\n");
    c.client_send(b"GET /page HTTP/1.1\r\nHost: example.com\r\n\r\n");
    c.server_send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n");
    c.server_send(b"0123456789abcdef\r\n0\r\n\r\n");
    c.client_send(&request().to_bytes());
    c.server_send(&response().to_bytes());
    twelve_messages(&mut c);
    let o = analyze_packets(&c.into_packets());
    assert_twelve_decoded(&o);
    o.assert_codes(&[]);
}

#[test]
fn a_segment_lost_inside_a_body_before_the_upgrade_is_skipped_with_it() {
    let mut c = Conversation::default_v4();
    c.handshake();
    c.client_send(b"POST /a HTTP/1.1\r\nHost: example.com\r\nContent-Length: 300\r\n\r\n");
    c.client_send(&[b'x'; 100]);
    c.skip(kit(C2S), 100);
    c.client_send(&[b'x'; 100]);
    c.server_send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1f4\r\n");
    c.server_send(&[b'y'; 100]);
    c.skip(kit(S2C), 300);
    c.server_send(&[b'y'; 100]);
    c.server_send(b"\r\n0\r\n\r\n");
    c.client_send(&request().to_bytes());
    c.server_send(&response().to_bytes());
    twelve_messages(&mut c);
    let o = analyze_packets(&c.into_packets());
    assert_twelve_decoded(&o);
    // The client's hole is declared only once the reassembler stops waiting for it, so the
    // client's first frames reach the analyzer together with its request, after the 101.
    o.assert_codes(&[Code::HandshakeNote]);
}

/// Upgrade, client "hello", then a server frame declaring 1000 payload bytes of which 300 are
/// sent before the connection ends with `end` (or the capture ends, for `None`).
fn frame_cut_by(end: Option<wsscope_testkit::TcpFlags>) -> Outcome {
    let mut c = upgraded();
    c.client_send(&ctext("hello"));
    let mut frame = FrameSpec::binary(&[7u8; 1000], None).encode();
    frame.truncate(frame.len() - 700);
    c.server_send(&frame);
    match end {
        Some(f) if f == wsscope_testkit::TcpFlags::RST_ACK => c.rst(kit(S2C)),
        Some(_) => c.close(),
        None => {}
    }
    analyze_packets(&c.into_packets())
}

fn assert_cut_message(o: &Outcome, how: &str) {
    let f = o.expect(Code::MessageIncomplete, Some(S2C));
    assert_eq!(f.severity, wsscope_core::finding::Severity::Warning);
    assert!(f.detail.contains("700 of its 1000"), "{}", f.detail);
    assert!(f.detail.contains(how), "{}", f.detail);
    let m = o.last(S2C);
    // The 700 bytes never crossed the wire: not counted.
    assert_eq!(
        (
            m.message.kind,
            m.message.incomplete,
            m.message.len,
            m.message.wire_len,
            m.message.payload.len()
        ),
        (MessageKind::Binary, true, 300, 300, 300)
    );
    assert_eq!(o.texts(C2S), ["hello"]);
}

#[test]
fn frame_cut_by_a_reset_is_message_incomplete_and_counts_only_bytes_sent() {
    let o = frame_cut_by(Some(wsscope_testkit::TcpFlags::RST_ACK));
    assert_cut_message(&o, "reset (RST)");
    o.assert_codes(&[Code::MessageIncomplete, Code::AbruptClose]);
}

#[test]
fn frame_cut_by_a_fin_is_message_incomplete() {
    let o = frame_cut_by(Some(wsscope_testkit::TcpFlags::FIN_ACK));
    assert_cut_message(&o, "close (FIN)");
}

#[test]
fn frame_cut_by_the_end_of_the_capture_is_message_incomplete() {
    let o = frame_cut_by(None);
    assert_cut_message(&o, "end of the capture");
}

#[test]
fn oversized_ping_is_reported_with_all_its_bytes() {
    let payload: Vec<u8> = (0..126u8).collect();
    let o = server_frames_then_normal(&FrameSpec::ping(&payload, None).encode());
    o.expect(Code::ControlFrameTooLong, Some(S2C));
    let ping = o.in_dir(S2C)[0];
    assert_eq!(ping.message.kind, MessageKind::Ping);
    assert_eq!(ping.message.payload, payload);
}

// ---------------------------------------------------------------------------------------------
// WebSockets over HTTP/2 (RFC 8441), cleartext with prior knowledge
// ---------------------------------------------------------------------------------------------

/// Many TLS connections whose client sends records before any ServerHello (which the layer
/// holds, up to 256 KiB each, to read them once the hello says how): what they hold is charged
/// to the memory budget, the budget is never passed, and the connections that would pass it
/// are given up with `memory-budget-exceeded`.
#[test]
fn tls_records_held_for_a_server_hello_stay_within_the_memory_budget() {
    let mut packets = Vec::new();
    for i in 0..64u16 {
        let client = std::net::SocketAddr::from(([10, 0, 1, 1], 40000 + i));
        let server = std::net::SocketAddr::from(([10, 0, 2, 2], 443));
        let mut c = Conversation::new(client, server);
        c.handshake();
        c.client_send(&client_hello());
        for _ in 0..12 {
            c.client_send(&tls_record(23, 0x0303, &[0x5a; 16_000]));
        }
        c.close();
        packets.extend(c.into_packets());
    }
    // Interleaved in time: every connection is open at once.
    packets.sort_by_key(|p| p.ts_nanos);
    let mut cfg = config();
    cfg.budget = wsscope_core::budget::MemoryBudget::new(4 << 20);
    let budget = cfg.budget.clone();
    let o = analyze_packets_with(cfg, &packets);
    let f = o.expect(Code::MemoryBudgetExceeded, None);
    assert!(f.detail.contains("TLS connection"), "{}", f.detail);
    assert!(
        budget.peak() <= 4 << 20,
        "peak {} over the budget",
        budget.peak()
    );
    assert_eq!(budget.used(), 0, "every charge given back at the end");
    assert_eq!(o.flows.len(), 64);
    // A connection given up still reports what its handshake showed.
    for flow in &o.flows {
        let tls = flow.tls.as_deref().expect("tls facts");
        assert_eq!(tls.sni.as_deref(), Some("example.com"), "{tls:?}");
    }
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

use wsscope_testkit::Dir as TkDir;

const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const HEADERS: u8 = 0x1;
const SETTINGS: u8 = 0x4;
const PING: u8 = 0x6;
const END_HEADERS: u8 = 0x4;

/// An h2c connection: the server's SETTINGS (`enable_connect`: with
/// SETTINGS_ENABLE_CONNECT_PROTOCOL=1), the client's preface, then `client` and `server`
/// frames in turn; the packets and the number of each exchange's packet.
fn h2c(enable_connect: bool, steps: &[(TkDir, Vec<u8>)]) -> (Outcome, Vec<u64>) {
    let mut c = Conversation::default_v4().with_auto_ack(false);
    c.handshake();
    let settings: &[u8] = if enable_connect {
        &[0, 8, 0, 0, 0, 1]
    } else {
        &[]
    };
    c.server_send(&h2_frame(SETTINGS, 0, 0, settings));
    let mut preface = H2_PREFACE.to_vec();
    preface.extend(h2_frame(SETTINGS, 0, 0, &[]));
    c.client_send(&preface);
    let mut numbers = Vec::new();
    for (dir, bytes) in steps {
        c.send(*dir, bytes);
        numbers.push(c.packets().len() as u64);
    }
    c.close();
    (analyze_packets(&c.into_packets()), numbers)
}

fn h2_connect(extra: &[(&str, &str)]) -> Vec<u8> {
    let mut fields = vec![
        (":method", "CONNECT"),
        (":protocol", "websocket"),
        (":scheme", "http"),
        (":path", "/chat"),
        (":authority", "example.com"),
        ("sec-websocket-version", "13"),
    ];
    fields.extend_from_slice(extra);
    h2_frame(HEADERS, END_HEADERS, 1, &h2_block(&fields))
}

#[test]
fn h2_extended_connect_before_enable_connect_protocol() {
    let (o, packets) = h2c(
        false,
        &[
            (TkDir::ClientToServer, h2_connect(&[])),
            (
                TkDir::ServerToClient,
                h2_frame(HEADERS, END_HEADERS, 1, &h2_block(&[(":status", "200")])),
            ),
        ],
    );
    let f = o.expect(Code::H2ConnectNotEnabled, Some(C2S));
    assert_eq!(f.session, Some(1));
    assert_eq!(f.packet, Some(packets[0]));
    assert!(
        f.detail.contains("SETTINGS_ENABLE_CONNECT_PROTOCOL"),
        "{}",
        f.detail
    );
    assert_eq!(o.sessions.len(), 1);
}

#[test]
fn h2_sec_websocket_key_and_accept_are_unused() {
    let (o, packets) = h2c(
        true,
        &[
            (
                TkDir::ClientToServer,
                h2_connect(&[("sec-websocket-key", KEY)]),
            ),
            (
                TkDir::ServerToClient,
                h2_frame(
                    HEADERS,
                    END_HEADERS,
                    1,
                    &h2_block(&[(":status", "200"), ("sec-websocket-accept", ACCEPT)]),
                ),
            ),
        ],
    );
    o.expect(Code::H2WebSocketFieldUnused, Some(C2S));
    o.expect(Code::H2WebSocketFieldUnused, Some(S2C));
    let got: Vec<(Option<u64>, Option<u64>)> = o
        .all(Code::H2WebSocketFieldUnused)
        .iter()
        .map(|f| (f.session, f.packet))
        .collect();
    assert_eq!(
        got,
        [(Some(1), Some(packets[0])), (Some(1), Some(packets[1]))]
    );
    // No accept check in HTTP/2, whatever the server sent.
    let hs = o.sessions[0].handshake.as_ref().expect("handshake");
    assert!(!hs.negotiated.accept_valid);
    assert!(!o.has(Code::AcceptMismatch) && !o.has(Code::AcceptMissing));
}

#[test]
fn h2_malformed_frame_is_a_protocol_error() {
    let (o, packets) = h2c(
        true,
        &[(TkDir::ClientToServer, h2_frame(PING, 0, 0, &[0; 7]))],
    );
    let f = o.expect(Code::H2ProtocolError, Some(C2S));
    assert_eq!(f.session, None);
    assert_eq!(f.packet, Some(packets[0]));
    assert!(
        f.detail.contains("PING frame with invalid length 7"),
        "{}",
        f.detail
    );
    assert_eq!(
        o.flows[0].classification,
        wsscope_core::session::Classification::Http2
    );
}

// ---------------------------------------------------------------------------------------------
// TLS
// ---------------------------------------------------------------------------------------------

/// A TLS record.
fn tls_record(content_type: u8, version: u16, body: &[u8]) -> Vec<u8> {
    let mut r = vec![content_type];
    r.extend_from_slice(&version.to_be_bytes());
    r.extend_from_slice(&(body.len() as u16).to_be_bytes());
    r.extend_from_slice(body);
    r
}

/// A handshake message.
fn tls_handshake(msg_type: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![msg_type];
    m.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    m.extend_from_slice(body);
    m
}

fn tls_extension(ext_type: u16, body: &[u8]) -> Vec<u8> {
    let mut e = ext_type.to_be_bytes().to_vec();
    e.extend_from_slice(&(body.len() as u16).to_be_bytes());
    e.extend_from_slice(body);
    e
}

/// A TLS 1.3 ClientHello record offering TLS_AES_128_GCM_SHA256, with SNI `example.com` and
/// ALPN `http/1.1`.
fn client_hello() -> Vec<u8> {
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&[0x11; 32]); // random
    body.push(32);
    body.extend_from_slice(&[0x22; 32]); // legacy session id
    body.extend_from_slice(&[0x00, 0x02, 0x13, 0x01]);
    body.extend_from_slice(&[0x01, 0x00]);
    let name = b"example.com";
    let mut sni = ((name.len() + 3) as u16).to_be_bytes().to_vec();
    sni.push(0);
    sni.extend_from_slice(&(name.len() as u16).to_be_bytes());
    sni.extend_from_slice(name);
    let mut exts = tls_extension(0x0000, &sni);
    exts.extend(tls_extension(0x002b, &[0x02, 0x03, 0x04]));
    exts.extend(tls_extension(0x0010, b"\x00\x09\x08http/1.1"));
    exts.extend(tls_extension(0x0033, &[0x00, 0x00]));
    body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    body.extend(exts);
    tls_record(22, 0x0301, &tls_handshake(1, &body))
}

/// The TLS 1.3 ServerHello answering [`client_hello`].
fn server_hello() -> Vec<u8> {
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&[0x33; 32]);
    body.push(32);
    body.extend_from_slice(&[0x22; 32]);
    body.extend_from_slice(&[0x13, 0x01, 0x00]);
    let mut exts = tls_extension(0x002b, &[0x03, 0x04]);
    let mut share = vec![0x00, 0x1d, 0x00, 0x20];
    share.extend_from_slice(&[0x44; 32]);
    exts.extend(tls_extension(0x0033, &share));
    body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    body.extend(exts);
    tls_record(22, 0x0303, &tls_handshake(2, &body))
}

#[test]
fn tls_without_keys_is_tls_not_decrypted_naming_the_server() {
    let mut c = Conversation::default_v4();
    c.handshake();
    c.client_send(&client_hello());
    c.server_send(&server_hello());
    c.server_send(&tls_record(20, 0x0303, &[1]));
    c.server_send(&tls_record(23, 0x0303, &[0x5a; 200]));
    c.client_send(&tls_record(20, 0x0303, &[1]));
    c.client_send(&tls_record(23, 0x0303, &[0xa5; 100]));
    c.close();
    let o = analyze_packets(&c.into_packets());
    let f = o.expect(Code::TlsNotDecrypted, None);
    assert!(f.detail.contains("example.com"), "{}", f.detail);
    assert!(f.detail.contains("--tls-keylog"), "{}", f.detail);
    assert!(
        f.detail.starts_with("10."),
        "names the connection: {}",
        f.detail
    );
    assert!(
        f.detail.contains(&"11".repeat(32)),
        "names the client random: {}",
        f.detail
    );
    assert!(o.sessions.is_empty(), "{:#?}", o.sessions);
    assert_eq!(o.flows.len(), 1);
    assert_eq!(
        o.flows[0].classification,
        wsscope_core::session::Classification::Tls
    );
    let tls = o.flows[0].tls.as_deref().expect("flow tls");
    assert_eq!(tls.sni.as_deref(), Some("example.com"));
    assert_eq!(tls.version, Some(0x0304));
    assert_eq!(tls.cipher_suite, Some(0x1301));
    assert_eq!(tls.alpn_offered, ["http/1.1"]);
    assert!(!tls.decrypted);
}

/// TLS joined after its handshake (no SYN, no hellos): reported, with the reason, and the flow
/// classified TLS rather than "other".
#[test]
fn tls_captured_after_its_handshake_is_tls_not_decrypted() {
    let mut c = Conversation::default_v4();
    c.server_send(&tls_record(23, 0x0303, &[0x5a; 300]));
    c.client_send(&tls_record(23, 0x0303, &[0xa5; 100]));
    c.server_send(&tls_record(23, 0x0303, &[0x5a; 300]));
    c.close();
    let o = analyze_packets(&c.into_packets());
    let f = o.expect(Code::TlsNotDecrypted, None);
    assert!(f.detail.contains("ClientHello"), "{}", f.detail);
    assert!(o.sessions.is_empty(), "{:#?}", o.sessions);
    assert_eq!(
        o.flows[0].classification,
        wsscope_core::session::Classification::Tls
    );
}

#[test]
fn fatal_tls_alert_is_reported_by_name() {
    let mut c = Conversation::default_v4();
    c.handshake();
    c.client_send(&client_hello());
    // handshake_failure (40), fatal (2), in plaintext before any keys.
    c.server_send(&tls_record(21, 0x0303, &[2, 40]));
    c.close();
    let o = analyze_packets(&c.into_packets());
    let f = o.expect(Code::TlsAlert, Some(S2C));
    assert!(f.detail.contains("handshake_failure"), "{}", f.detail);
}

#[test]
fn tls_record_failing_authentication_is_tls_decrypt_failed() {
    // A real TLS 1.3 capture with application traffic secrets one bit off.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("fixtures/py_tls13.keylog")).expect("keylog");
    let wrong: String = text
        .lines()
        .map(|l| {
            let mut line = l.to_string();
            if l.contains("_TRAFFIC_SECRET_0 ") {
                let last = line.pop().unwrap_or('0');
                line.push(if last == '0' { '1' } else { '0' });
            }
            line + "\n"
        })
        .collect();
    let cfg = config();
    cfg.keys.push_complete(wrong.as_bytes());
    let bytes = std::fs::read(root.join("fixtures/py_tls13.pcap")).expect("pcap");
    let o = analyze_with(cfg, &bytes);
    let f = o.expect(Code::TlsDecryptFailed, Some(S2C));
    assert!(f.detail.contains("stopped"), "{}", f.detail);
    assert!(o.messages.is_empty(), "garbage decoded: {:#?}", o.messages);
}

const END_STREAM: u8 = 0x1;

/// An h2c connection: the server's SETTINGS (`enable_connect` sends
/// SETTINGS_ENABLE_CONNECT_PROTOCOL=1), an extended CONNECT on stream 1 with `extra` fields,
/// `status`, then when 200 one text each way and a clean close with END_STREAM both ways.
fn h2_websocket_session(enable_connect: bool, extra: &[(&str, &str)], status: &str) -> Outcome {
    let mut c = Conversation::default_v4();
    c.handshake();
    let mut client = H2_PREFACE.to_vec();
    client.extend(h2_frame(4, 0, 0, &[]));
    c.client_send(&client);
    let settings: &[u8] = if enable_connect {
        &[0, 8, 0, 0, 0, 1]
    } else {
        &[]
    };
    c.server_send(&h2_frame(4, 0, 0, settings));
    c.client_send(&h2_frame(4, 1, 0, &[]));
    c.server_send(&h2_frame(4, 1, 0, &[]));
    let mut fields = vec![
        (":method", "CONNECT"),
        (":protocol", "websocket"),
        (":scheme", "http"),
        (":path", "/chat"),
        (":authority", "example.com"),
        ("sec-websocket-version", "13"),
    ];
    fields.extend_from_slice(extra);
    c.client_send(&h2_frame(1, END_HEADERS, 1, &h2_block(&fields)));
    if status != "200" {
        c.server_send(&h2_frame(
            1,
            END_HEADERS | END_STREAM,
            1,
            &h2_block(&[(":status", status)]),
        ));
        c.close();
        return analyze_packets(&c.into_packets());
    }
    c.server_send(&h2_frame(
        1,
        END_HEADERS,
        1,
        &h2_block(&[(":status", "200")]),
    ));
    c.client_send(&h2_frame(0, 0, 1, &ctext("hello")));
    c.server_send(&h2_frame(0, 0, 1, &stext("world")));
    c.client_send(&h2_frame(0, 0, 1, &cclose(1000)));
    c.server_send(&h2_frame(0, END_STREAM, 1, &sclose(1000)));
    c.client_send(&h2_frame(0, END_STREAM, 1, &[]));
    c.close();
    analyze_packets(&c.into_packets())
}

#[test]
fn rfc8441_websocket_stream_is_a_session() {
    let o = h2_websocket_session(true, &[], "200");
    o.assert_codes(&[]);
    assert_eq!(o.sessions.len(), 1);
    assert_eq!(
        o.sessions[0].transport,
        wsscope_core::session::Transport::H2 { stream_id: 1 }
    );
    assert_session_decoded(&o);
}

#[test]
fn extended_connect_answered_403_is_a_refused_session() {
    let o = h2_websocket_session(true, &[], "403");
    let f = o.expect(Code::UpgradeRejected, Some(S2C));
    assert!(f.detail.contains("403"), "{}", f.detail);
    assert_eq!(o.sessions.len(), 1);
    assert!(!o.sessions[0].upgraded);
    assert!(o.messages.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Meta
// ---------------------------------------------------------------------------------------------

#[test]
fn every_finding_code_has_a_test_in_this_file() {
    let source = include_str!("findings.rs");
    let missing: Vec<String> = Code::ALL
        .iter()
        .map(|c| format!("expect(Code::{c:?},"))
        .filter(|call| !source.contains(call.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "finding codes without a test in tests/findings.rs: {missing:?}"
    );
}
