//! The stats screens: the whole capture (`s`: sessions by outcome, close codes, findings by
//! code, message rate, top talkers; Enter on a finding jumps to its message) and the selected
//! session (`S`).
//!
//! The capture stats are computed on every draw: one pass over the sessions plus one pass over
//! the message rows (for the totals, the talkers and the rate buckets), allocating per session
//! endpoint at most, never per message.

use crate::tui::render::{fg, fmt_size, heading, sev_style, side_by_side, time_text};
use crate::tui::state::{dir_label, App, Detail, Filter, Pane, SessionInfo};
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Sparkline, Widget};
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use wsscope_core::escape::for_terminal;
use wsscope_core::finding::{Code, Finding, Severity};
use wsscope_core::outcome::{CloseCode, SessionOutcome};
use wsscope_core::tcp::{CloseReason, Dir};
use wsscope_core::timestamp::Timestamp;

/// Talkers listed per side.
pub const TOP_TALKERS: usize = 5;

/// Inner width from which the capture stats use two columns and one line per item.
const WIDE: u16 = 120;

/// Sessions per outcome.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcomes {
    /// Close frames both ways, then a TCP FIN.
    pub closed_clean: usize,
    /// Close frames both ways, TCP not ended cleanly.
    pub closed_unclean: usize,
    /// Ended without the close handshake, per TCP reason.
    pub abrupt: Vec<(CloseReason, usize)>,
    /// Open when the capture ended (or still open).
    pub open: usize,
    /// Refused upgrades, per response status.
    pub refused: BTreeMap<u16, usize>,
    /// Upgrade requests with no captured response.
    pub unanswered: usize,
}

/// Findings of one code over the capture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeCount {
    /// Highest severity seen with the code.
    pub severity: Severity,
    /// The code.
    pub code: Code,
    /// Occurrences (summing each finding's `count`).
    pub count: u64,
    /// Sessions with at least one (capture-level findings count in `count` only).
    pub sessions: usize,
}

/// A client IP or a server endpoint and what went through it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Talker {
    /// Client IP or server `ip:port`.
    pub name: String,
    /// Sessions.
    pub sessions: usize,
    /// Messages both ways.
    pub messages: u64,
    /// Payload bytes both ways.
    pub bytes: u64,
}

/// The capture-wide numbers the `s` screen shows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CaptureStats {
    /// Sessions (upgrade attempts included).
    pub sessions: usize,
    /// Sessions per outcome.
    pub outcomes: Outcomes,
    /// Sessions per code of their first close frame, most frequent first.
    pub close_codes: Vec<(u16, usize)>,
    /// Sessions whose close frames carried no code.
    pub close_without_code: usize,
    /// WebSocket sessions (refused and unanswered ones aside) with no close frame.
    pub no_close: usize,
    /// Findings per code, errors first, then by count.
    pub findings: Vec<CodeCount>,
    /// Messages.
    pub messages: u64,
    /// Payload bytes `[c->s, s->c]`.
    pub bytes: [u64; 2],
    /// First and last message timestamps.
    pub span: Option<(Timestamp, Timestamp)>,
    /// Messages per time bucket from the first to the last message.
    pub rate: Vec<u64>,
    /// Width of a rate bucket in nanoseconds.
    pub bucket_nanos: i64,
    /// Clients by IP, most messages first (at most [`TOP_TALKERS`]).
    pub clients: Vec<Talker>,
    /// Servers by `ip:port`, most messages first (at most [`TOP_TALKERS`]).
    pub servers: Vec<Talker>,
}

#[derive(Clone, Copy, Default)]
struct Tally {
    sessions: usize,
    messages: u64,
    bytes: u64,
}

impl Tally {
    fn add(&mut self, messages: u64, bytes: u64) {
        self.sessions += 1;
        self.messages += messages;
        self.bytes = self.bytes.saturating_add(bytes);
    }
}

/// The top [`TOP_TALKERS`] of `tallies` by messages, then bytes, then sessions (ties in
/// address order, so the list is the same from draw to draw).
fn top<K: Ord + ToString>(tallies: HashMap<K, Tally>) -> Vec<Talker> {
    let mut all: Vec<(K, Tally)> = tallies.into_iter().collect();
    all.sort_by(|(ka, a), (kb, b)| {
        (b.messages, b.bytes, b.sessions)
            .cmp(&(a.messages, a.bytes, a.sessions))
            .then_with(|| ka.cmp(kb))
    });
    all.into_iter()
        .take(TOP_TALKERS)
        .map(|(k, t)| Talker {
            name: k.to_string(),
            sessions: t.sessions,
            messages: t.messages,
            bytes: t.bytes,
        })
        .collect()
}

/// Computes the capture stats with the message rate in `buckets` buckets.
pub fn capture_stats(app: &App, buckets: usize) -> CaptureStats {
    let mut st = CaptureStats {
        sessions: app.sessions.len(),
        ..CaptureStats::default()
    };
    let mut codes: BTreeMap<u16, usize> = BTreeMap::new();
    // Per code: the count row and the last session position that had it.
    let mut by_code: HashMap<Code, (CodeCount, usize)> = HashMap::new();
    let mut clients: HashMap<IpAddr, Tally> = HashMap::new();
    let mut servers: HashMap<SocketAddr, Tally> = HashMap::new();
    let mut span: Option<(Timestamp, Timestamp)> = None;
    for (i, s) in app.sessions.iter().enumerate() {
        let o = &mut st.outcomes;
        match s.outcome() {
            Some(SessionOutcome::Closed { clean: true, .. }) => o.closed_clean += 1,
            Some(SessionOutcome::Closed { clean: false, .. }) => o.closed_unclean += 1,
            Some(SessionOutcome::Abrupt(r)) => match o.abrupt.iter_mut().find(|(x, _)| *x == r) {
                Some((_, n)) => *n += 1,
                None => o.abrupt.push((r, 1)),
            },
            Some(SessionOutcome::Refused { status }) => *o.refused.entry(status).or_default() += 1,
            Some(SessionOutcome::Unanswered) => o.unanswered += 1,
            Some(SessionOutcome::Open) | None => o.open += 1,
        }
        let websocket = !matches!(
            s.outcome(),
            Some(SessionOutcome::Refused { .. } | SessionOutcome::Unanswered)
        );
        let any_close = s
            .end
            .as_ref()
            .is_some_and(|e| e.client_close.is_some() || e.server_close.is_some());
        match s.close_code() {
            Some(c) => *codes.entry(c).or_default() += 1,
            None if any_close => st.close_without_code += 1,
            None if websocket => st.no_close += 1,
            None => {}
        }
        for f in &s.findings {
            count_finding(&mut by_code, f, Some(i));
        }
        if let (Some(a), Some(b)) = (s.messages.first(), s.messages.last()) {
            let (lo, hi) = (a.ts.min(b.ts), a.ts.max(b.ts));
            span = Some(span.map_or((lo, hi), |(x, y)| (x.min(lo), y.max(hi))));
        }
    }
    for f in &app.capture_findings {
        count_finding(&mut by_code, f, None);
    }

    // The pass over the messages: totals, talkers and the rate buckets.
    let buckets = buckets.max(1);
    st.rate = vec![0; buckets];
    let (first, width) = match span {
        Some((a, b)) => (
            a,
            (b.nanos_since(a).max(1) / buckets as i64)
                .max(1)
                .saturating_add(1),
        ),
        None => (Timestamp::default(), 0),
    };
    st.bucket_nanos = width;
    st.span = span;
    for s in &app.sessions {
        let (mut messages, mut bytes) = (0u64, [0u64; 2]);
        for m in s.messages.iter() {
            messages += 1;
            let d = usize::from(m.dir == Dir::ServerToClient);
            bytes[d] = bytes[d].saturating_add(m.len);
            if width > 0 {
                let b = (m.ts.nanos_since(first) / width).clamp(0, buckets as i64 - 1) as usize;
                st.rate[b] += 1;
            }
        }
        st.messages += messages;
        st.bytes[0] = st.bytes[0].saturating_add(bytes[0]);
        st.bytes[1] = st.bytes[1].saturating_add(bytes[1]);
        let all = bytes[0].saturating_add(bytes[1]);
        clients
            .entry(s.client().ip())
            .or_default()
            .add(messages, all);
        servers.entry(s.server()).or_default().add(messages, all);
    }

    st.close_codes = codes.into_iter().collect();
    st.close_codes
        .sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    st.findings = by_code.into_values().map(|(c, _)| c).collect();
    st.findings
        .sort_by(|a, b| (b.severity, b.count, a.code).cmp(&(a.severity, a.count, b.code)));
    st.clients = top(clients);
    st.servers = top(servers);
    st
}

fn count_finding(by_code: &mut HashMap<Code, (CodeCount, usize)>, f: &Finding, at: Option<usize>) {
    let (c, last) = by_code.entry(f.code).or_insert((
        CodeCount {
            severity: f.severity,
            code: f.code,
            count: 0,
            sessions: 0,
        },
        usize::MAX,
    ));
    c.severity = c.severity.max(f.severity);
    c.count = c.count.saturating_add(f.count);
    if let Some(i) = at {
        if *last != i {
            *last = i;
            c.sessions += 1;
        }
    }
}

/// Rows of the capture stats' finding list (what Up/Down move through).
pub fn finding_rows(app: &App) -> usize {
    app.capture_findings.len() + app.sessions.iter().map(|s| s.findings.len()).sum::<usize>()
}

/// Every finding in the list order: capture-level findings first, then each session's in
/// session order, with the session position.
fn all_findings(app: &App) -> impl Iterator<Item = (Option<usize>, &Finding)> + '_ {
    app.capture_findings.iter().map(|f| (None, f)).chain(
        app.sessions
            .iter()
            .enumerate()
            .flat_map(|(i, s)| s.findings.iter().map(move |f| (Some(i), f))),
    )
}

/// The position of the message a finding of `s` points at (see
/// [`SessionInfo::message_of_finding`]); `f` must be one of `s.findings`.
pub fn message_of_finding(s: &SessionInfo, f: &Finding) -> Option<usize> {
    let k = s.findings.iter().position(|x| std::ptr::eq(x, f))?;
    s.message_of_finding(k)
}

/// Jumps from the selected finding of the capture stats to its session and message (or to
/// the session detail when no message is at or after its time). A capture-level finding has
/// no session: the stats stay.
pub fn jump_to_finding(app: &mut App) {
    let Some((Some(si), f)) = all_findings(app).nth(app.stats_sel) else {
        return;
    };
    let target = app.sessions.get(si).and_then(|s| message_of_finding(s, f));
    // A matches-only search would hide the session, or the filter the message.
    if !app.session_rows.contains(&si) {
        app.filter.matches_only = false;
        app.refresh();
    }
    app.select_session(si);
    app.stats = None;
    app.detail_scroll = 0;
    let Some(pos) = target else {
        app.detail = Some(Detail::Session);
        app.pane = Pane::Detail;
        return;
    };
    let row = match app.visible.binary_search(&(pos as u32)) {
        Ok(r) => r,
        Err(_) => {
            app.filter = Filter::default();
            app.refresh();
            app.visible.binary_search(&(pos as u32)).unwrap_or(0)
        }
    };
    app.select_row(row);
    app.detail = Some(Detail::Message);
    app.pane = if side_by_side(app.screen) {
        Pane::Timeline
    } else {
        Pane::Detail
    };
}

/// A duration in a short human form: `250 ns`, `94.0 µs`, `1.5 ms`, `2.00 s`, `3.5 min`.
pub fn fmt_duration(nanos: i64) -> String {
    let n = nanos as f64;
    match nanos {
        i64::MIN..=999 => format!("{nanos} ns"),
        1_000..=999_999 => format!("{:.1} µs", n / 1e3),
        1_000_000..=999_999_999 => format!("{:.1} ms", n / 1e6),
        1_000_000_000..=119_999_999_999 => format!("{:.2} s", n / 1e9),
        _ => format!("{:.1} min", n / 60e9),
    }
}

/// One item of a section: its text in styled pieces.
type Item = Vec<Span<'static>>;

fn item(app: &App, text: String, color: Option<Color>) -> Item {
    vec![Span::styled(
        text,
        color.map_or(Style::default(), |c| fg(app, c)),
    )]
}

/// Packs `items` after `label` into lines of `width` columns, separated by `, ` and
/// continued with an indent.
fn flow(label: &str, items: Vec<Item>, width: usize) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    let mut cur: Vec<Span<'static>> = vec![Span::styled(
        format!("{label}: "),
        Style::default().add_modifier(Modifier::BOLD),
    )];
    let mut used = label.chars().count() + 2;
    let n = items.len();
    for (k, it) in items.into_iter().enumerate() {
        let w: usize = it.iter().map(Span::width).sum::<usize>() + usize::from(k + 1 < n);
        if used + w > width && used > 2 && k > 0 {
            lines.push(Line::from(std::mem::take(&mut cur)));
            cur.push(Span::raw("  "));
            used = 2;
        }
        cur.extend(it);
        if k + 1 < n {
            cur.push(Span::raw(", "));
            used += 1;
        }
        used += w;
    }
    if n == 0 {
        cur.push(Span::raw("none"));
    }
    lines.push(Line::from(cur));
    lines
}

fn outcome_items(app: &App, o: &Outcomes) -> Vec<Item> {
    let mut v = Vec::new();
    if o.closed_clean > 0 {
        v.push(item(
            app,
            format!("{} closed clean", o.closed_clean),
            Some(Color::Green),
        ));
    }
    if o.closed_unclean > 0 {
        v.push(item(
            app,
            format!("{} closed, TCP not clean", o.closed_unclean),
            Some(Color::Yellow),
        ));
    }
    for (r, n) in &o.abrupt {
        v.push(item(
            app,
            format!("{n} abrupt {}", r.as_str()),
            Some(Color::Red),
        ));
    }
    for (status, n) in &o.refused {
        v.push(item(app, format!("{n} refused {status}"), Some(Color::Red)));
    }
    if o.unanswered > 0 {
        v.push(item(
            app,
            format!("{} unanswered", o.unanswered),
            Some(Color::Red),
        ));
    }
    if o.open > 0 {
        v.push(item(app, format!("{} open", o.open), Some(Color::Blue)));
    }
    v
}

fn close_items(app: &App, st: &CaptureStats) -> Vec<Item> {
    let mut v: Vec<Item> = st
        .close_codes
        .iter()
        .map(|&(c, n)| item(app, format!("{n}x {c} {}", CloseCode(c).meaning()), None))
        .collect();
    if st.close_without_code > 0 {
        v.push(item(
            app,
            format!("{}x without code", st.close_without_code),
            None,
        ));
    }
    if st.no_close > 0 {
        v.push(item(
            app,
            format!("{}x no close frame", st.no_close),
            Some(Color::Yellow),
        ));
    }
    v
}

fn code_items(app: &App, st: &CaptureStats) -> Vec<Item> {
    st.findings
        .iter()
        .map(|c| {
            vec![
                Span::styled(sev_letter(c.severity), sev_style(app, c.severity)),
                Span::raw(format!(
                    " {} {} in {} sess",
                    c.code.as_str(),
                    c.count,
                    c.sessions
                )),
            ]
        })
        .collect()
}

fn talker_items(t: &[Talker]) -> Vec<Item> {
    t.iter()
        .map(|t| {
            vec![Span::raw(format!(
                "{} {} msgs {}",
                t.name,
                t.messages,
                fmt_size(t.bytes)
            ))]
        })
        .collect()
}

fn sev_letter(s: Severity) -> &'static str {
    match s {
        Severity::Error => "E",
        Severity::Warning => "W",
        Severity::Info => "I",
    }
}

fn totals_line(st: &CaptureStats) -> Line<'static> {
    Line::from(vec![
        Span::styled("messages: ", Style::default().add_modifier(Modifier::BOLD)),
        Span::raw(format!(
            "{} (c->s {}, s->c {}), per {}:",
            st.messages,
            fmt_size(st.bytes[0]),
            fmt_size(st.bytes[1]),
            fmt_duration(st.bucket_nanos)
        )),
    ])
}

/// The time of a finding in the list: relative to its session's start (or absolute), or
/// absolute for a capture-level finding.
fn finding_time(app: &App, s: Option<&SessionInfo>, ts: Option<Timestamp>) -> String {
    let Some(ts) = ts else {
        return "-".into();
    };
    match s {
        Some(s) => time_text(app, ts, s.start_ts()),
        None => {
            let day = ts.secs().rem_euclid(86_400);
            format!("{:02}:{:02}:{:02}", day / 3600, day / 60 % 60, day % 60)
        }
    }
}

/// The finding list: a title line and the rows around the selection.
fn finding_list(app: &App, area: Rect, buf: &mut Buffer) {
    let total = finding_rows(app);
    let rows = area.height.saturating_sub(1) as usize;
    let sel = app.stats_sel.min(total.saturating_sub(1));
    // Stateless scrolling: the selection stays visible, near the middle of the window.
    let scroll = sel.saturating_sub(rows / 2).min(total.saturating_sub(rows));
    let title = if total == 0 {
        "findings: none".to_string()
    } else {
        format!(
            "findings {}/{total}  ↑↓ select  Enter go to its message",
            sel + 1
        )
    };
    let mut lines = vec![heading(&title)];
    let shown: Vec<(usize, Option<usize>, &Finding)> = all_findings(app)
        .enumerate()
        .skip(scroll)
        .take(rows)
        .map(|(k, (s, f))| (k, s, f))
        .collect();
    let id_w = shown
        .iter()
        .map(|(_, s, _)| {
            s.and_then(|i| app.sessions.get(i))
                .map_or(7, |s| s.id().to_string().len() + 1)
        })
        .max()
        .unwrap_or(0);
    let code_w = shown
        .iter()
        .map(|(_, _, f)| f.code.as_str().len())
        .max()
        .unwrap_or(0);
    for (k, s, f) in shown {
        let session = s.and_then(|i| app.sessions.get(i));
        let who = session.map_or("capture".to_string(), |s| format!("#{}", s.id()));
        let dir = f.dir.map_or("    ", dir_label);
        let mut detail = for_terminal(&f.detail);
        if f.count > 1 {
            detail = format!("({}x) {detail}", f.count);
        }
        let mut line = Line::from(vec![
            Span::raw(format!("{}{who:>id_w$} ", if k == sel { ">" } else { " " })),
            Span::styled(sev_letter(f.severity), sev_style(app, f.severity)),
            Span::raw(format!(
                " {:<code_w$} {:>10} {dir} ",
                f.code.as_str(),
                finding_time(app, session, f.ts)
            )),
            Span::raw(detail),
        ]);
        if k == sel {
            line = line.style(Style::default().add_modifier(Modifier::REVERSED));
        }
        lines.push(line);
    }
    Paragraph::new(lines).render(area, buf);
}

/// One line per item in a column: `heading`, then the items indented.
fn column_section(title: &str, items: Vec<Item>) -> Vec<Line<'static>> {
    let mut v = vec![heading(title)];
    if items.is_empty() {
        v.push(Line::raw("  none"));
    }
    for it in items {
        let mut spans = vec![Span::raw("  ")];
        spans.extend(it);
        v.push(Line::from(spans));
    }
    v
}

fn talker_rows(t: &[Talker]) -> Vec<Item> {
    t.iter()
        .map(|t| {
            vec![Span::raw(format!(
                "{:<40} {:>5} sess {:>9} msgs {:>10}",
                t.name,
                t.sessions,
                t.messages,
                fmt_size(t.bytes)
            ))]
        })
        .collect()
}

/// Draws the capture stats screen.
pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let outer = Block::default()
        .borders(Borders::ALL)
        .border_style(fg(app, Color::Blue).add_modifier(Modifier::BOLD))
        .title("[Capture stats  s close]");
    let inner = outer.inner(area);
    outer.render(area, buf);
    if inner.width == 0 || inner.height == 0 {
        return;
    }
    let spark_w = inner.width as usize;
    let st = capture_stats(app, spark_w);
    if inner.width >= WIDE {
        render_wide(app, &st, inner, buf);
    } else {
        render_narrow(app, &st, inner, buf);
    }
}

/// Appends `lines` to `top` when they fit in the `budget` of rows left.
fn add_if_room(top: &mut Vec<Line<'static>>, budget: &mut usize, lines: Vec<Line<'static>>) {
    if lines.len() <= *budget {
        *budget -= lines.len();
        top.extend(lines);
    }
}

/// Narrow screens: sections as flowed one-liners, in order of importance, as many as leave
/// the finding list a few rows.
fn render_narrow(app: &App, st: &CaptureStats, inner: Rect, buf: &mut Buffer) {
    let w = inner.width as usize;
    let list_min = (finding_rows(app) + 1).min(5);
    let mut budget = (inner.height as usize).saturating_sub(list_min);
    let sessions_label = format!("{} sessions", st.sessions);
    let mut top: Vec<Line> = Vec::new();
    add_if_room(
        &mut top,
        &mut budget,
        flow(&sessions_label, outcome_items(app, &st.outcomes), w),
    );
    // The rate: the totals line, then a one-row sparkline.
    let spark_at = if budget >= 2 {
        add_if_room(&mut top, &mut budget, vec![totals_line(st), Line::raw("")]);
        Some(top.len() - 1)
    } else {
        None
    };
    add_if_room(
        &mut top,
        &mut budget,
        flow("findings", code_items(app, st), w),
    );
    add_if_room(
        &mut top,
        &mut budget,
        flow("first close", close_items(app, st), w),
    );
    add_if_room(
        &mut top,
        &mut budget,
        flow("clients", talker_items(&st.clients), w),
    );
    add_if_room(
        &mut top,
        &mut budget,
        flow("servers", talker_items(&st.servers), w),
    );
    let [head, list] =
        Layout::vertical([Constraint::Length(top.len() as u16), Constraint::Min(0)]).areas(inner);
    Paragraph::new(top).render(head, buf);
    if let Some(y) = spark_at {
        let r = Rect::new(head.x, head.y + y as u16, head.width, 1);
        Sparkline::default()
            .data(&st.rate)
            .style(fg(app, Color::Green))
            .render(r, buf);
    }
    finding_list(app, list, buf);
}

/// Wide screens: outcomes, close codes and clients on the left; findings by code and servers
/// on the right; the rate over the full width; then the finding list.
fn render_wide(app: &App, st: &CaptureStats, inner: Rect, buf: &mut Buffer) {
    let mut left = column_section(
        &format!("Sessions {} by outcome", st.sessions),
        outcome_items(app, &st.outcomes),
    );
    left.push(Line::raw(""));
    left.extend(column_section(
        "First close code of each session",
        close_items(app, st),
    ));
    left.push(Line::raw(""));
    left.extend(column_section(
        &format!("Top {TOP_TALKERS} clients by messages"),
        talker_rows(&st.clients),
    ));
    let mut right = column_section(
        &format!(
            "Findings by code ({} capture-level)",
            app.capture_findings.len()
        ),
        st.findings
            .iter()
            .map(|c| {
                vec![
                    Span::styled(
                        format!("{:<7}", c.severity.as_str()),
                        sev_style(app, c.severity),
                    ),
                    Span::raw(format!(
                        " {:<32} {:>7} in {:>5} sessions",
                        c.code.as_str(),
                        c.count,
                        c.sessions
                    )),
                ]
            })
            .collect(),
    );
    right.push(Line::raw(""));
    right.extend(column_section(
        &format!("Top {TOP_TALKERS} servers by messages"),
        talker_rows(&st.servers),
    ));
    let list_min = (finding_rows(app) + 1).clamp(2, 10) as u16;
    let spark_h = 4u16;
    let room = inner.height.saturating_sub(list_min + spark_h);
    let top_h = (left.len().max(right.len()) as u16).min(room);
    let [top, rate, list] = Layout::vertical([
        Constraint::Length(top_h),
        Constraint::Length(spark_h.min(inner.height.saturating_sub(top_h))),
        Constraint::Min(0),
    ])
    .areas(inner);
    let [l, r] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(top);
    Paragraph::new(left).render(l, buf);
    Paragraph::new(right).render(r, buf);
    let [label, spark] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(rate);
    let span = match st.span {
        Some((a, b)) => format!(
            "  from {} over {}",
            for_terminal(&a.rfc3339()),
            fmt_duration(b.nanos_since(a))
        ),
        None => String::new(),
    };
    let mut line = totals_line(st);
    line.push_span(Span::raw(span));
    Paragraph::new(line).render(label, buf);
    Sparkline::default()
        .data(&st.rate)
        .style(fg(app, Color::Green))
        .render(spark, buf);
    finding_list(app, list, buf);
}
