//! MERGE: placeholder, replaced by the helper's wrapper.
use ratatui::text::Line;

/// Placeholder: one row per line.
pub fn wrap_lines(lines: &[Line<'_>], _width: u16) -> Vec<Line<'static>> {
    lines
        .iter()
        .map(|l| {
            Line::from(
                l.spans
                    .iter()
                    .map(|s| ratatui::text::Span::styled(s.content.to_string(), s.style))
                    .collect::<Vec<_>>(),
            )
            .style(l.style)
        })
        .collect()
}
