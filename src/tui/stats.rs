//! The stats screens: the whole capture (`s`: sessions by outcome, close codes, findings by
//! code, message rate, top talkers; Enter on a finding jumps to its message) and the selected
//! session (`S`).

use crate::tui::state::App;

/// Rows of the capture stats' finding list (what Up/Down move through).
pub fn finding_rows(app: &App) -> usize {
    app.capture_findings.len() + app.sessions.iter().map(|s| s.findings.len()).sum::<usize>()
}

/// Jumps from the selected finding of the capture stats to its session and message.
pub fn jump_to_finding(_app: &mut App) {}

/// Draws the capture stats screen.
pub fn render(app: &App, area: ratatui::layout::Rect, buf: &mut ratatui::buffer::Buffer) {
    use ratatui::widgets::{Block, Borders, Widget};
    let _ = app;
    Block::default()
        .borders(Borders::ALL)
        .title("Capture stats")
        .render(area, buf);
}
