//! Terminal UI (`wsscope tui`): interactive timeline of WebSocket sessions.
//!
//! [`state`] holds the data and view state, [`action`] maps input to state changes, [`render`]
//! draws. This module only wires them to a real terminal and a background loading thread.

pub mod action;
pub mod render;
pub mod spill;
pub mod state;

pub use action::{apply, key_action, mouse_action, Action};
pub use render::render;
pub use state::App;

use crate::analyzer::AnalyzerConfig;
use crate::capture::CaptureReader;
pub use state::{Collector, LoadMsg};
use std::io::{self, IsTerminal, Write};
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Loads `paths` synchronously into a fresh [`App`] (tests, scripting).
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

/// Runs the analysis, sending every message to `out`, then [`LoadMsg::Done`].
fn load(paths: &[String], cfg: &AnalyzerConfig, out: &mut dyn FnMut(LoadMsg)) {
    let (tx, rx) = mpsc::channel::<(u64, u64)>();
    let result = {
        let mut sink = Collector::new(&mut *out, Some(cfg.budget.clone()));
        let mut progress = |done: u64, total: u64| {
            let _ = tx.send((done, total));
        };
        crate::run::run(paths, cfg, &mut sink, &mut progress)
    };
    if let Some(p) = rx.try_iter().last() {
        out(LoadMsg::Progress(p.0, p.1));
    }
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

/// Checks that every capture can be opened before the screen is taken over.
fn check_inputs(paths: &[String]) -> io::Result<()> {
    for p in paths {
        let map =
            crate::run::map_file(Path::new(p)).map_err(|e| io::Error::other(e.to_string()))?;
        CaptureReader::new(&map).map_err(|e| io::Error::other(format!("{p}: {e}")))?;
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

/// Opens the full-screen UI on `paths`.
pub fn run(paths: &[String], cfg: &AnalyzerConfig) -> io::Result<()> {
    check_inputs(paths)?;
    let loader_paths = paths.to_vec();
    let loader_cfg = cfg.clone();
    run_with(Box::new(move |out| load(&loader_paths, &loader_cfg, out)))
}

/// Opens the full-screen UI fed by `loader` on a background thread; returns when the user
/// quits (the loader may still be running: the caller stops it).
pub fn run_with(loader: Loader) -> io::Result<()> {
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
    let result = event_loop(&mut terminal, &rx);
    drop(terminal);
    let _ = io::stdout().flush();
    result
}

fn event_loop<B: ratatui::backend::Backend>(
    terminal: &mut ratatui::Terminal<B>,
    rx: &mpsc::Receiver<LoadMsg>,
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
        if event::poll(Duration::from_millis(50))? {
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
