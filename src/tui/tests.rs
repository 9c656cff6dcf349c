//! Terminal UI: snapshot tests of every view on a real fixture (ratatui `TestBackend` + insta),
//! escaping and NO_COLOR checks. Unit tests of the binary, since the UI is not a library; the
//! end-to-end runs in a real terminal (tmux) are in `tests/tui.rs`.

use super::state::LoadMsg;
use super::{apply, load_blocking, render, Action, App};
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Color;
use ratatui::Terminal;
use std::path::Path;
use wsscope_core::analyzer::AnalyzerConfig;
use wsscope_core::session::SessionConfig;

fn cfg() -> AnalyzerConfig {
    AnalyzerConfig {
        session: SessionConfig {
            keep_bytes: 64 << 10,
            ..SessionConfig::default()
        },
        ..AnalyzerConfig::default()
    }
}

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
        .display()
        .to_string()
}

fn node_ping() -> App {
    let mut app = load_blocking(&[fixture("node_ping.pcap")], &cfg());
    // Snapshots must not depend on where the repository lives.
    for s in &mut app.sessions {
        s.capture = "fixtures/node_ping.pcap".into();
    }
    app.color = true;
    apply(&mut app, Action::Resize(80, 24));
    app
}

fn draw(app: &App) -> Buffer {
    let area = app.screen;
    let mut term = Terminal::new(TestBackend::new(area.width, area.height)).expect("terminal");
    term.draw(|f| render(app, f.area(), f.buffer_mut()))
        .expect("draw");
    term.backend().buffer().clone()
}

fn text(buf: &Buffer) -> String {
    let mut out = String::new();
    for y in 0..buf.area.height {
        let mut line = String::new();
        for x in 0..buf.area.width {
            line.push_str(buf[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn screen(app: &App) -> String {
    text(&draw(app))
}

fn keys(app: &mut App, actions: &[Action]) {
    for a in actions {
        apply(app, a.clone());
    }
}

/// Selects timeline row `row` (0-based) with the keyboard.
fn select_message(app: &mut App, row: usize) {
    keys(app, &[Action::NextPane, Action::Top]);
    for _ in 0..row {
        apply(app, Action::Down);
    }
}

#[test]
fn sessions_and_timeline_80x24() {
    let app = node_ping();
    assert_eq!(app.sessions.len(), 1);
    assert_eq!(app.visible.len(), 9);
    insta::assert_snapshot!("main_view", screen(&app));
}

#[test]
fn absolute_time_and_filter() {
    let mut app = node_ping();
    keys(&mut app, &[Action::ToggleTime, Action::CycleFilter]);
    let s = screen(&app);
    assert!(s.contains("09:33:40.985295"), "{s}");
    assert_eq!(app.visible.len(), 2);
    insta::assert_snapshot!("abs_time_text_filter", s);
}

#[test]
fn detail_text_message() {
    let mut app = node_ping();
    select_message(&mut app, 3);
    apply(&mut app, Action::Enter);
    let s = screen(&app);
    assert!(s.contains("fragment one, fragment two"), "{s}");
    insta::assert_snapshot!("detail_text", s);
}

#[test]
fn detail_binary_hex_dump() {
    let mut app = node_ping();
    select_message(&mut app, 6);
    apply(&mut app, Action::Enter);
    let s = screen(&app);
    assert!(s.contains("00000000  69 41 b0 f0"), "{s}");
    insta::assert_snapshot!("detail_binary", s);
}

#[test]
fn detail_close_message() {
    let mut app = node_ping();
    select_message(&mut app, 7);
    apply(&mut app, Action::Enter);
    let s = screen(&app);
    assert!(s.contains("close code 4000"), "{s}");
    assert!(s.contains("done here"), "{s}");
}

#[test]
fn detail_handshake() {
    let mut app = node_ping();
    apply(&mut app, Action::Enter);
    let s = screen(&app);
    assert!(s.contains("accept valid"), "{s}");
    assert!(s.contains("HTTP/1.1 101"), "{s}");
    insta::assert_snapshot!("detail_handshake", s);
}

/// An RFC 8441 session over TLS: the detail names the stream, the TLS handshake, the CONNECT
/// with its pseudo-headers and `:status`, and claims no accept check.
#[test]
fn detail_of_an_http2_websocket_over_tls() {
    let cfg = cfg();
    let keylog = std::fs::read(fixture("node_h2_tls.keylog")).expect("key log");
    cfg.keys.push_complete(&keylog);
    let mut app = load_blocking(&[fixture("node_h2_tls.pcap")], &cfg);
    app.color = true;
    apply(&mut app, Action::Resize(100, 40));
    assert_eq!(app.sessions.len(), 2);
    apply(&mut app, Action::Enter);
    let s = screen(&app);
    for want in [
        "HTTP/2 stream 1 (RFC 8441 extended CONNECT) over TLS",
        "tls TLS 1.3 TLS_AES_128_GCM_SHA256, sni localhost, alpn h2",
        "CONNECT /chat HTTP/2",
        ":protocol: websocket",
        ":authority:",
        ":status 200",
        "END_STREAM by",
    ] {
        assert!(s.contains(want), "missing {want:?} in\n{s}");
    }
    assert!(!s.contains("Sec-WebSocket-Accept"), "{s}");
    assert!(!s.contains("accept"), "{s}");
}

#[test]
fn help_overlay() {
    let mut app = node_ping();
    apply(&mut app, Action::ToggleHelp);
    insta::assert_snapshot!("help", screen(&app));
    apply(&mut app, Action::Down);
    assert!(!app.help);
}

#[test]
fn stats_view() {
    let mut app = node_ping();
    apply(&mut app, Action::ToggleStats);
    let s = screen(&app);
    assert!(s.contains("ping RTT (2)"), "{s}");
    insta::assert_snapshot!("stats", s);
}

#[test]
fn search_result() {
    let mut app = node_ping();
    apply(&mut app, Action::SearchStart);
    for c in "srv-ping".chars() {
        apply(&mut app, Action::SearchChar(c));
    }
    apply(&mut app, Action::SearchSubmit);
    assert_eq!(app.matches, vec![4, 5]);
    assert_eq!(app.msg_sel, 4);
    let s = screen(&app);
    assert!(s.contains("match 1/2"), "{s}");
    insta::assert_snapshot!("search", s);
}

#[test]
fn hostile_payload_is_escaped() {
    let mut app = node_ping();
    let evil = b"ok\x1b[2J\x00\xe2\x80\xaegnp.exe\xc2\x9b31m\r\nnext".to_vec();
    app.sessions[0].messages[0].event.message.payload = evil.clone();
    app.sessions[0].messages[0].event.message.len = evil.len() as u64;
    for view in 0..2 {
        if view == 1 {
            select_message(&mut app, 0);
            apply(&mut app, Action::Enter);
        }
        let s = screen(&app);
        assert!(
            !s.lines()
                .any(|l| l.chars().any(wsscope_core::escape::is_unsafe_char)),
            "{s}"
        );
        assert!(s.contains("ok\\u{1b}[2J"), "{s}");
    }
}

#[test]
fn json_text_is_pretty_printed() {
    let mut app = node_ping();
    let json = br#"{"op":"sub","args":["a\u001b[31m",1]}"#.to_vec();
    app.sessions[0].messages[0].event.message.len = json.len() as u64;
    app.sessions[0].messages[0].event.message.payload = json;
    select_message(&mut app, 0);
    apply(&mut app, Action::Enter);
    let s = screen(&app);
    assert!(s.contains("payload (JSON)"), "{s}");
    assert!(s.contains("\"op\": \"sub\""), "{s}");
    assert!(s.contains("\\u001b[31m"), "{s}");
}

#[test]
fn loading_progress_is_shown() {
    let mut app = App::new();
    app.load(LoadMsg::Progress(50, 100));
    let s = screen(&app);
    assert!(s.contains("loading [#####.....] 50%"), "{s}");
    assert!(s.contains("loading..."), "{s}");
    app.load(LoadMsg::Done);
    let s = screen(&app);
    assert!(!s.contains("loading"), "{s}");
    assert!(s.contains("no WebSocket sessions"), "{s}");
}

#[test]
fn no_color_draws_no_colours() {
    let mut app = node_ping();
    apply(&mut app, Action::ToggleStats);
    let coloured = |b: &Buffer| {
        b.content()
            .iter()
            .any(|c| c.fg != Color::Reset || c.bg != Color::Reset)
    };
    assert!(coloured(&draw(&app)));
    app.color = false;
    assert!(!coloured(&draw(&app)));
}

#[test]
fn hundred_thousand_messages_render_fast() {
    let mut app = node_ping();
    let base = app.sessions[0].messages.clone();
    let mut many = Vec::with_capacity(100_000);
    for i in 0..100_000u64 {
        let mut m = base[(i % base.len() as u64) as usize].clone();
        m.event.index = i + 1;
        many.push(m);
    }
    app.sessions[0].messages = many;
    apply(&mut app, Action::CycleFilter); // rebuild the visible list
    for _ in 0..5 {
        apply(&mut app, Action::CycleFilter);
    }
    assert_eq!(app.visible.len(), 100_000);
    apply(&mut app, Action::NextPane);
    // Speed is measured by benchmarks, not asserted here; this checks that paging through
    // 100k rows renders the right window.
    for _ in 0..50 {
        apply(&mut app, Action::PageDown);
        draw(&app);
    }
    apply(&mut app, Action::Bottom);
    let s = screen(&app);
    assert!(s.contains("100000/100000"), "{s}");
}

/// While a file loads the header shows its progress; a live capture has no total and must not
/// be shown as stuck at "loading 0%".
#[test]
fn header_shows_file_progress_and_live_reading() {
    let mut app = App::new();
    app.progress = Some((50, 200));
    let first_line = |app: &App| screen(app).lines().next().unwrap_or_default().to_string();
    assert!(
        first_line(&app).contains("loading [##........] 25%"),
        "{}",
        first_line(&app)
    );
    app.progress = None;
    let live = first_line(&app);
    assert!(live.contains("reading…") && !live.contains('%'), "{live}");
    app.loaded = true;
    assert!(!first_line(&app).contains("reading"));
}

/// Streams a generated capture into a pcap file in `dir`.
fn write_capture<G>(
    dir: &Path,
    snaplen: u32,
    generate: G,
) -> (std::path::PathBuf, wsscope_testkit::adversarial::Expected)
where
    G: FnOnce(
        &mut dyn FnMut(&wsscope_testkit::Packet) -> std::io::Result<()>,
    ) -> std::io::Result<wsscope_testkit::adversarial::Expected>,
{
    use wsscope_testkit::{PcapOptions, PcapWriter};
    let path = dir.join("adversarial.pcap");
    let file = std::fs::File::create(&path).expect("create capture");
    let opts = PcapOptions {
        nanos: true,
        snaplen,
        ..PcapOptions::default()
    };
    let mut w =
        PcapWriter::new(std::io::BufWriter::with_capacity(1 << 20, file), opts).expect("header");
    let expected = generate(&mut |p| w.write_packet(p)).expect("generate");
    w.flush().expect("flush");
    (path, expected)
}

/// Regression (the terminal UI kept up to 64 KiB of every message: a 1.6 MB compressed capture
/// took 1.23 GiB): the UI keeps the first 256 bytes of a message in memory and the rest of its
/// 64 KiB in the spill file, read back when the message is shown; what it keeps in memory is
/// charged to the budget, and past it messages keep nothing in memory and the session says so.
#[test]
fn terminal_ui_keeps_references_to_spilled_payloads_within_the_memory_budget() {
    use super::state::INLINE_PREVIEW;
    use wsscope_core::finding::Code;
    use wsscope_testkit::adversarial;
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, expected) = write_capture(dir.path(), 262_144, |emit| {
        adversarial::payload_flood(1, 200, 64 << 10, emit)
    });
    let mut cfg = cfg();
    cfg.session.keep_bytes = 64 << 10;
    let paths = [path.display().to_string()];
    let app = load_blocking(&paths, &cfg);
    assert_eq!(app.sessions.len(), 1);
    let s = &app.sessions[0];
    assert_eq!(s.messages.len() as u64, expected.messages());
    let in_memory: usize = s
        .messages
        .iter()
        .map(|m| m.event.message.payload.len())
        .sum();
    assert!(
        in_memory <= s.messages.len() * INLINE_PREVIEW,
        "{in_memory}"
    );
    let binaries: Vec<_> = s
        .messages
        .iter()
        .filter(|m| m.event.message.len == 64 << 10)
        .collect();
    assert_eq!(binaries.len(), 200);
    for m in &binaries {
        let p = app.payload(m);
        assert_eq!(p.len(), 64 << 10);
        assert!(p.starts_with(b"payload flood 0123456789 payload flood"));
        assert_eq!(&p[..INLINE_PREVIEW], &m.event.message.payload[..]);
    }
    assert!(s.findings.is_empty(), "{:?}", s.findings);

    // A budget of 8 KiB: the inflater (charged, never refused) takes it all, so the previews
    // keep nothing in memory.
    cfg.budget = wsscope_core::budget::MemoryBudget::new(8 << 10);
    let app = load_blocking(&paths, &cfg);
    let s = &app.sessions[0];
    let in_memory: usize = s
        .messages
        .iter()
        .map(|m| m.event.message.payload.len())
        .sum();
    assert!(in_memory <= 8 << 10, "{in_memory}");
    let f: Vec<_> = s
        .findings
        .iter()
        .filter(|f| f.code == Code::PayloadBudgetExceeded)
        .collect();
    assert_eq!(f.len(), 1, "{:?}", s.findings);
}

/// The session list and the detail pane render core's session outcome: who closed first, and
/// a session the capture cut short is open, not "closed end-of-capture".
#[test]
fn session_state_and_close_detail_render_the_session_outcome() {
    let mut app = node_ping();
    apply(&mut app, Action::Resize(120, 60));
    apply(&mut app, Action::Enter);
    let s = screen(&app);
    assert!(
        s.contains("server closed first: 4000 private use by applications \"done here\", client answered 4000; TCP fin by server; clean"),
        "{s}"
    );

    use wsscope_testkit::ws::SAMPLE_KEY;
    use wsscope_testkit::{Link, Session, UpgradeRequest, UpgradeResponse};
    let capture = Session::new(Link::ethernet())
        .upgrade(
            &UpgradeRequest::new(SAMPLE_KEY),
            &UpgradeResponse::accepting(SAMPLE_KEY),
        )
        .client_text("still talking")
        .pcap_bytes();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("cut.pcap");
    std::fs::write(&path, capture).expect("write capture");
    let app = load_blocking(&[path.display().to_string()], &cfg());
    assert_eq!(app.sessions.len(), 1);
    assert_eq!(app.sessions[0].state(), "open");
}

/// A refused upgrade on a keep-alive connection: its end waits for the TCP end, but the list
/// and the detail pane show it refused (with the status) as soon as its response is known, as
/// a live capture shows it while the connection stays open.
#[test]
fn refused_upgrade_shows_refused_before_its_end() {
    use super::state::LoadMsg;
    use wsscope_testkit::ws::SAMPLE_KEY;
    use wsscope_testkit::{Link, Session, UpgradeRequest, UpgradeResponse};
    let capture = Session::new(Link::ethernet())
        .upgrade(
            &UpgradeRequest::new(SAMPLE_KEY),
            &UpgradeResponse::rejecting(403, "Forbidden", b"go away"),
        )
        .pcap_bytes();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("refused.pcap");
    std::fs::write(&path, capture).expect("write capture");
    let mut msgs = Vec::new();
    super::load(&[path.display().to_string()], &cfg(), &mut |m| msgs.push(m));
    let end = msgs
        .iter()
        .position(|m| matches!(m, LoadMsg::End(_)))
        .expect("an end at the end of the capture");
    let mut app = App::new();
    app.color = true;
    let mut msgs = msgs.into_iter();
    for m in msgs.by_ref().take(end) {
        app.load(m);
    }
    app.refresh();
    apply(&mut app, Action::Resize(120, 40));
    assert_eq!(app.sessions.len(), 1);
    assert!(app.sessions[0].end.is_none());
    assert_eq!(app.sessions[0].state(), "rejected 403");
    apply(&mut app, Action::Enter);
    let s = screen(&app);
    assert!(s.contains("upgrade refused (403)"), "{s}");
    assert!(!s.contains("still open"), "{s}");
    for m in msgs {
        app.load(m);
    }
    assert_eq!(app.sessions[0].state(), "rejected 403");
}
