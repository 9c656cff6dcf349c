//! Terminal UI (`wsscope tui`): interactive timeline of WebSocket sessions.
//!
//! [`state`] holds the data and view state, [`action`] maps input to state changes, [`render`](mod@render)
//! draws. This module only wires them to a real terminal and a background loading thread.

pub mod action;
pub mod detail;
pub mod export;
pub mod render;
pub mod spill;
pub mod state;
pub mod stats;
pub mod store;
pub mod wrap;

pub use action::{apply, key_action, mouse_action, Action};
pub use render::render;
pub use state::App;

pub use spill::Spill;
pub use state::{Collector, LoadMsg, LoadProgress};
use std::io::{self, IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};
use wsscope_core::analyzer::AnalyzerConfig;
use wsscope_core::capture::StreamReader;

/// Loads `paths` synchronously into a fresh [`App`] (tests).
#[cfg(test)]
pub fn load_blocking(paths: &[String], cfg: &AnalyzerConfig) -> App {
    let mut app = App::new();
    let mut msgs = Vec::new();
    load(paths, cfg, &mut |m| msgs.push(m));
    for m in msgs {
        app.load(m);
    }
    app.refresh();
    app
}

/// Loads `paths` as the UI would (a loader thread feeding the UI thread through an unbounded
/// channel; the UI thread applies and refreshes; no drawing) and returns measurements as one JSON object: sessions, messages,
/// `first_screen_ms` (until the first session had a screenful of rows, or loading ended),
/// `load_ms`, the index bytes held, the bytes in the spill, and the process's peak resident
/// memory (`VmHWM`, Linux). For `scripts/bench.sh`.
pub fn measure_load(paths: &[String], cfg: &AnalyzerConfig) -> String {
    let began = Instant::now();
    // Unbounded, as in the UI (`run_with`).
    let (tx, rx) = mpsc::channel::<LoadMsg>();
    let loader_paths = paths.to_vec();
    let loader_cfg = cfg.clone();
    let loader = std::thread::spawn(move || {
        load(&loader_paths, &loader_cfg, &mut |m| {
            let _ = tx.send(m);
        })
    });
    let mut app = App::new();
    let mut first_screen: Option<Duration> = None;
    for m in rx {
        app.load(m);
        if first_screen.is_none() && app.sessions.first().is_some_and(|s| s.messages.len() >= 20) {
            app.refresh();
            first_screen = Some(began.elapsed());
        }
    }
    let _ = loader.join();
    app.refresh();
    let load = began.elapsed();
    let index: usize = app.sessions.iter().map(|s| s.messages.heap_bytes()).sum();
    let spill = app.spill.as_ref().map_or(0, |s| s.len());
    format!(
        "{{\"sessions\": {}, \"messages\": {}, \"first_screen_ms\": {}, \"load_ms\": {}, \"index_bytes\": {index}, \"spill_bytes\": {spill}, \"peak_rss_bytes\": {}}}",
        app.sessions.len(),
        app.total_messages,
        first_screen.unwrap_or(load).as_millis(),
        load.as_millis(),
        peak_rss().unwrap_or(0)
    )
}

/// Peak resident memory of this process (`VmHWM`), Linux only.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Least time between two progress reports sent to the UI.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);

/// Runs the analysis, sending every message to `out` as it happens (progress included, at
/// most every [`PROGRESS_INTERVAL`]), then [`LoadMsg::Done`].
fn load(paths: &[String], cfg: &AnalyzerConfig, out: &mut dyn FnMut(LoadMsg)) {
    let began = Instant::now();
    let out = std::cell::RefCell::new(out);
    let result = {
        let send = |m: LoadMsg| {
            if let Ok(mut out) = out.try_borrow_mut() {
                out(m);
            }
        };
        let sink = Collector::new(send, Some(cfg.budget.clone()), Arc::new(Spill::create()));
        // A pipe can stall for as long as its writer likes: its messages go to the UI as they
        // come, not in batches that would wait for the next 1024.
        let piped = paths
            .iter()
            .any(|p| p == "-" || std::fs::metadata(p).map_or(true, |m| !m.is_file()));
        let mut sink = if piped { sink.unbatched() } else { sink };
        let mut last: Option<Instant> = None;
        // The rate is the current file's: a new file starts from 0 bytes.
        let mut file_began = began;
        let mut last_done = 0u64;
        let mut progress = |done: u64, total: u64| {
            let now = Instant::now();
            if done < last_done {
                file_began = now;
            }
            last_done = done;
            if last.is_some_and(|t| now.duration_since(t) < PROGRESS_INTERVAL) && done < total {
                return;
            }
            last = Some(now);
            if let Ok(mut out) = out.try_borrow_mut() {
                out(LoadMsg::Progress(LoadProgress {
                    done,
                    total,
                    elapsed_ms: u64::try_from(file_began.elapsed().as_millis()).unwrap_or(u64::MAX),
                }));
            }
        };
        let r = wsscope_core::pipeline::run_files(paths, cfg, &mut sink, &mut progress);
        sink.flush();
        r
    };
    let out = out.into_inner();
    match result {
        Ok(outcome) => {
            for e in outcome.errors {
                out(LoadMsg::Error(e.to_string()));
            }
        }
        Err(e) => out(LoadMsg::Error(e.to_string())),
    }
    out(LoadMsg::Done);
}

/// Checks that every capture can be opened before the screen is taken over. Pipes and
/// standard input are not read here (that would consume them): their errors show in the UI.
fn check_inputs(paths: &[String]) -> io::Result<()> {
    for p in paths {
        // Pipes (a named FIFO, `-`, `<(...)`) are not opened here: opening and closing a FIFO
        // would let its writer see a closed pipe before the loader opens it again.
        let regular = std::fs::metadata(p).map(|m| m.is_file());
        if p == "-" || matches!(regular, Ok(false)) {
            continue;
        }
        let input =
            wsscope_core::pipeline::open_input(p).map_err(|e| io::Error::other(e.to_string()))?;
        if input.size.is_some() {
            StreamReader::new(input.reader).map_err(|e| io::Error::other(format!("{p}: {e}")))?;
        }
    }
    Ok(())
}

/// Restores the terminal (raw mode off, main screen, no mouse capture).
fn restore_terminal() {
    let _ = crossterm::terminal::disable_raw_mode();
    let _ = crossterm::execute!(
        io::stdout(),
        crossterm::event::DisableMouseCapture,
        crossterm::terminal::LeaveAlternateScreen,
        crossterm::cursor::Show
    );
}

/// Restores the terminal when dropped (normal exit and errors).
struct TerminalGuard;

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

/// Work run on the background thread that feeds the UI: reading files, or a live capture.
pub type Loader = Box<dyn FnOnce(&mut dyn FnMut(LoadMsg)) + Send>;

/// Opens the full-screen UI on `paths`; see [`run_with`] for `stop`.
pub fn run(paths: &[String], cfg: &AnalyzerConfig, stop: Arc<AtomicBool>) -> io::Result<()> {
    check_inputs(paths)?;
    let loader_paths = paths.to_vec();
    let loader_cfg = cfg.clone();
    run_with(
        Box::new(move |out| load(&loader_paths, &loader_cfg, out)),
        stop,
    )
}

/// Opens the full-screen UI fed by `loader` on a background thread; returns when the user
/// quits, when `stop` is set (the caller's SIGINT/SIGTERM/SIGHUP handler), or with an error
/// when the terminal goes away (hang-up, end of file or I/O error on the tty: ssh dropped, tmux
/// pane killed). The loader may still be running: the caller stops it.
pub fn run_with(loader: Loader, stop: Arc<AtomicBool>) -> io::Result<()> {
    if !io::stdout().is_terminal() {
        return Err(io::Error::other(
            "wsscope tui needs a terminal; use `wsscope analyze` for text output",
        ));
    }
    let (tx, rx) = mpsc::channel::<LoadMsg>();
    std::thread::Builder::new()
        .name("wsscope-load".into())
        .spawn(move || {
            loader(&mut |m| {
                let _ = tx.send(m);
            });
        })?;

    let prev_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_terminal();
        prev_hook(info);
    }));
    crossterm::terminal::enable_raw_mode()?;
    let _guard = TerminalGuard;
    crossterm::execute!(
        io::stdout(),
        crossterm::terminal::EnterAlternateScreen,
        crossterm::event::EnableMouseCapture
    )?;
    let backend = ratatui::backend::CrosstermBackend::new(io::stdout());
    let mut terminal = ratatui::Terminal::new(backend)?;
    terminal.clear()?;
    let ui_returned = Arc::new(AtomicBool::new(false));
    spawn_watchdog(Arc::clone(&stop), Arc::clone(&ui_returned));
    let result = event_loop(&mut terminal, &rx, &stop);
    ui_returned.store(true, Ordering::SeqCst);
    drop(terminal);
    let _ = io::stdout().flush();
    result
}

/// How long the UI thread has to come back on its own once the terminal is gone or `stop` is
/// set, before the watchdog restores the terminal and ends the process itself.
const WATCHDOG_GRACE: Duration = Duration::from_secs(3);

/// Backstop for a UI thread that cannot notice the end: a terminal can hang up between the
/// check in [`event_loop`] and crossterm's read, and crossterm then retries the failing read
/// forever. Every 100 ms: if `stop` is set or standard output stopped being a terminal and the
/// UI has not returned within [`WATCHDOG_GRACE`], set `stop` (the loader ends its capture),
/// restore the terminal and exit with status 2.
fn spawn_watchdog(stop: Arc<AtomicBool>, ui_returned: Arc<AtomicBool>) {
    let _ = std::thread::Builder::new()
        .name("wsscope-tui-watchdog".into())
        .spawn(move || {
            let mut since: Option<Instant> = None;
            while !ui_returned.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(100));
                let ended = stop.load(Ordering::SeqCst) || !io::stdout().is_terminal();
                match since {
                    None if ended => since = Some(Instant::now()),
                    Some(t) if t.elapsed() >= WATCHDOG_GRACE => {
                        if ui_returned.load(Ordering::SeqCst) {
                            return;
                        }
                        stop.store(true, Ordering::SeqCst);
                        // Give a live capture's loader a moment to flush its -w file.
                        std::thread::sleep(Duration::from_millis(500));
                        restore_terminal();
                        std::process::exit(2);
                    }
                    _ => {}
                }
            }
        });
}

/// Waits up to `timeout` for input on the terminal. `Err` when the terminal is gone: a
/// hang-up, an error or an invalid descriptor (crossterm would spin on the failing read).
#[cfg(unix)]
fn wait_for_input(timeout: Duration) -> io::Result<bool> {
    use std::os::fd::AsRawFd;
    let stdin = io::stdin();
    // crossterm reads standard input when it is the terminal, else /dev/tty (not checked here).
    if !stdin.is_terminal() {
        return crossterm::event::poll(timeout);
    }
    let mut pfd = libc::pollfd {
        fd: stdin.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    // SAFETY: one valid pollfd for the duration of the call.
    let n = unsafe { libc::poll(&mut pfd, 1, ms) };
    if n < 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::Interrupted {
            Ok(false)
        } else {
            Err(e)
        };
    }
    if pfd.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
        return Err(io::Error::other("the terminal was closed (hang-up)"));
    }
    Ok(n > 0)
}

#[cfg(not(unix))]
fn wait_for_input(timeout: Duration) -> io::Result<bool> {
    crossterm::event::poll(timeout)
}

fn event_loop<B: ratatui::backend::Backend<Error = io::Error>>(
    terminal: &mut ratatui::Terminal<B>,
    rx: &mpsc::Receiver<LoadMsg>,
    stop: &AtomicBool,
) -> io::Result<()> {
    use crossterm::event::{self, Event};
    let mut app = App::new();
    let size = terminal.size()?;
    app.screen = ratatui::layout::Rect::new(0, 0, size.width, size.height);
    let mut dirty = true;
    loop {
        // Drain the loader for a bounded time so input stays responsive.
        let start = Instant::now();
        let mut got = false;
        while start.elapsed() < Duration::from_millis(30) {
            match rx.try_recv() {
                Ok(m) => {
                    app.load(m);
                    got = true;
                }
                Err(_) => break,
            }
        }
        if got {
            app.refresh();
            dirty = true;
        }
        if dirty {
            terminal.draw(|f| {
                let area = f.area();
                render(&app, area, f.buffer_mut());
            })?;
            dirty = false;
        }
        if let Some(seq) = app.pending_output.take() {
            // After the draw, so the sequence does not land inside a frame's output.
            let mut out = io::stdout();
            out.write_all(seq.as_bytes())?;
            out.flush()?;
        }
        if stop.load(Ordering::SeqCst) {
            return Ok(());
        }
        // Our own wait first: it sees a hang-up, which crossterm's read loop would not.
        // Then crossterm without waiting (key input, and SIGWINCH resizes).
        let _ = wait_for_input(Duration::from_millis(50))?;
        if !io::stdout().is_terminal() {
            return Err(io::Error::other("the terminal was closed"));
        }
        if event::poll(Duration::ZERO)? {
            let action = match event::read()? {
                Event::Key(k) => key_action(&app, k),
                Event::Mouse(m) => mouse_action(m),
                Event::Resize(w, h) => Some(Action::Resize(w, h)),
                _ => None,
            };
            if let Some(a) = action {
                apply(&mut app, a);
                dirty = true;
            }
        }
        if app.quit {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests;
