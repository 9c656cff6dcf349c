//! Wrapping styled lines into screen rows, so a pane can scroll by rows instead of by logical
//! lines (a 6 KB one-line message is many rows, all reachable).
//!
//! Rules, per line:
//! - every row is at most `width` cells wide, measured like ratatui draws (grapheme clusters,
//!   wide CJK/emoji count 2, graphemes holding control characters count 0 because ratatui does
//!   not draw them); a grapheme is never split, so zero-width marks stay with their base, and
//!   a grapheme wider than the row (a wide character at width 1) gets a row of its own;
//! - a row ends after the last space inside it when that space sits past the first third of
//!   the row (and what follows it fits the next row), otherwise it is cut hard;
//! - continuation rows start with a hanging indent of spaces: the line's leading-space count,
//!   at most `width / 2`;
//! - nothing is dropped, trimmed or changed: a line's rows, less the indent of continuation
//!   rows, concatenate to the line's text; span styles, the line's style and alignment are
//!   carried onto every row.
//!
//! Linear in the text: each grapheme is measured once and each byte copied once.

// Not called yet by the detail pane: remove once render.rs wraps with it.

use ratatui::buffer::CellWidth;
use ratatui::text::{Line, Span};
use unicode_segmentation::UnicodeSegmentation;

/// Wraps `lines` into rows of at most `width` cells (see the module documentation). Width 0
/// is treated as 1. Every line gives at least one row.
pub fn wrap_lines(lines: &[Line<'_>], width: u16) -> Vec<Line<'static>> {
    let mut rows = Vec::with_capacity(lines.len());
    for line in lines {
        wrap_line(line, usize::from(width.max(1)), &mut rows);
    }
    rows
}

/// Cells a grapheme takes on screen.
fn grapheme_width(g: &str) -> usize {
    if g.contains(char::is_control) {
        0
    } else {
        usize::from(g.cell_width())
    }
}

/// The graphemes of `text` as (byte offset, byte length, width). Printable ASCII followed by
/// ASCII is a grapheme of its own (no combining mark can follow), which skips the segmenter
/// for most of a typical payload.
fn graphemes(text: &str) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
    let bytes = text.as_bytes();
    let mut at = 0;
    std::iter::from_fn(move || {
        let b = *bytes.get(at)?;
        let start = at;
        if (0x20..0x7f).contains(&b) && bytes.get(at + 1).is_none_or(u8::is_ascii) {
            at += 1;
            return Some((start, 1, 1));
        }
        let rest = text.get(at..)?;
        let g = rest.graphemes(true).next().unwrap_or(rest);
        at += g.len().max(1);
        Some((start, g.len(), grapheme_width(g)))
    })
}

/// A place in a line: span index and byte offset inside that span.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Pos {
    span: usize,
    byte: usize,
}

/// Number of leading `' '` of the line's text.
fn leading_spaces(line: &Line<'_>) -> usize {
    let mut n = 0;
    for span in &line.spans {
        let content: &str = &span.content;
        let spaces = content.bytes().take_while(|&b| b == b' ').count();
        n += spaces;
        if spaces < content.len() {
            break;
        }
    }
    n
}

fn wrap_line(line: &Line<'_>, width: usize, rows: &mut Vec<Line<'static>>) {
    let indent = leading_spaces(line).min(width / 2);
    let next_avail = width - indent;
    let mut first_row = true;
    let mut avail = width;
    let mut row_start = Pos { span: 0, byte: 0 };
    let mut row_width = 0;
    // After the last space of the row: where a row may end, and the row's width up to there.
    let mut last_space: Option<(Pos, usize)> = None;

    for (span_index, span) in line.spans.iter().enumerate() {
        let content: &str = &span.content;
        for (byte, len, w) in graphemes(content) {
            let here = Pos {
                span: span_index,
                byte,
            };
            if row_width > 0 && row_width + w > avail {
                let break_at_space = last_space.filter(|&(_, upto)| {
                    (upto - 1) * 3 >= avail && row_width - upto + w <= next_avail
                });
                let (end, rest_width) = match break_at_space {
                    Some((after_space, upto)) => (after_space, row_width - upto),
                    None => (here, 0),
                };
                rows.push(row(line, row_start, end, !first_row, indent));
                first_row = false;
                avail = next_avail;
                row_start = end;
                row_width = rest_width;
                last_space = None;
            }
            row_width += w;
            if len == 1 && content.as_bytes().get(byte) == Some(&b' ') {
                let after = Pos {
                    span: span_index,
                    byte: byte + 1,
                };
                last_space = Some((after, row_width));
            }
        }
    }
    let end = Pos {
        span: line.spans.len(),
        byte: 0,
    };
    rows.push(row(line, row_start, end, !first_row, indent));
}

/// The row of `line` from `start` to `end`, with the hanging indent when `continued`.
fn row(line: &Line<'_>, start: Pos, end: Pos, continued: bool, indent: usize) -> Line<'static> {
    let mut spans = Vec::new();
    if continued && indent > 0 {
        spans.push(Span::raw(" ".repeat(indent)));
    }
    for (index, span) in line
        .spans
        .iter()
        .enumerate()
        .take(end.span.saturating_add(1))
        .skip(start.span)
    {
        let content: &str = &span.content;
        let from = if index == start.span { start.byte } else { 0 };
        let to = if index == end.span {
            end.byte
        } else {
            content.len()
        };
        if let Some(piece) = content.get(from..to).filter(|p| !p.is_empty()) {
            spans.push(Span::styled(piece.to_owned(), span.style));
        }
    }
    Line {
        spans,
        style: line.style,
        alignment: line.alignment,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use ratatui::style::{Color, Style};

    fn text(row: &Line<'_>) -> String {
        row.spans.iter().map(|s| s.content.as_ref()).collect()
    }

    fn width_of(row: &Line<'_>) -> usize {
        row.spans
            .iter()
            .flat_map(|s| s.content.graphemes(true))
            .map(grapheme_width)
            .sum()
    }

    fn texts(rows: &[Line<'_>]) -> Vec<String> {
        rows.iter().map(text).collect()
    }

    /// The line's text back from its rows, continuation indents removed.
    fn rejoin(rows: &[Line<'_>], indent: usize) -> String {
        let mut out = String::new();
        for (i, r) in rows.iter().enumerate() {
            let t = text(r);
            if i == 0 {
                out.push_str(&t);
            } else {
                assert!(
                    t.starts_with(&" ".repeat(indent)),
                    "row {i} lacks indent: {t:?}"
                );
                out.push_str(&t[indent..]);
            }
        }
        out
    }

    #[test]
    fn long_line_without_spaces_fills_every_row() {
        let long = "0123456789abcdef".repeat(375); // 6000 chars
        let rows = wrap_lines(&[Line::from(long.clone())], 78);
        assert_eq!(rows.len(), 6000usize.div_ceil(78));
        assert!(rows[..rows.len() - 1].iter().all(|r| width_of(r) == 78));
        assert_eq!(width_of(&rows[rows.len() - 1]), 6000 % 78);
        assert_eq!(rejoin(&rows, 0), long);
    }

    #[test]
    fn short_and_empty_lines_are_one_row_each() {
        let rows = wrap_lines(&[Line::from("short"), Line::from(""), Line::default()], 10);
        assert_eq!(texts(&rows), ["short", "", ""]);
    }

    #[test]
    fn breaks_after_the_last_space_past_the_first_third() {
        let rows = wrap_lines(&[Line::from("aaaa bbbb cccc dddd")], 12);
        assert_eq!(texts(&rows), ["aaaa bbbb ", "cccc dddd"]);
        // A space inside the first third does not count: hard break instead.
        let rows = wrap_lines(&[Line::from("a bbbbbbbbbbbbbbbbbbbb")], 12);
        assert_eq!(texts(&rows), ["a bbbbbbbbbb", "bbbbbbbbbb"]);
        // Runs of spaces stay whole at the row end.
        let rows = wrap_lines(&[Line::from("aaaaaa   bbbbbbb")], 10);
        assert_eq!(texts(&rows), ["aaaaaa   ", "bbbbbbb"]);
    }

    #[test]
    fn continuation_rows_keep_the_leading_indent() {
        let line = Line::from("  warning  code: detail that goes on and on and on");
        let rows = wrap_lines(std::slice::from_ref(&line), 20);
        assert_eq!(
            texts(&rows),
            [
                "  warning  code: ",
                "  detail that goes ",
                "  on and on and on",
            ]
        );
        assert_eq!(rejoin(&rows, 2), text(&line));
    }

    #[test]
    fn indent_is_capped_at_half_the_width() {
        let line = Line::from(format!("{}{}", " ".repeat(30), "x".repeat(40)));
        let rows = wrap_lines(std::slice::from_ref(&line), 20);
        assert!(rows[1..]
            .iter()
            .all(|r| text(r).starts_with(&" ".repeat(10))));
        assert!(rows.iter().all(|r| width_of(r) <= 20));
        assert_eq!(rejoin(&rows, 10), text(&line));
    }

    #[test]
    fn wide_characters_count_two_and_are_never_split() {
        let rows = wrap_lines(&[Line::from("日本語のテキスト")], 5);
        assert_eq!(texts(&rows), ["日本", "語の", "テキ", "スト"]);
        let rows = wrap_lines(&[Line::from("ab😀cd")], 3);
        assert_eq!(texts(&rows), ["ab", "😀c", "d"]);
    }

    #[test]
    fn combining_marks_stay_with_their_base() {
        let rows = wrap_lines(&[Line::from("abe\u{301}e\u{301}")], 3);
        assert_eq!(texts(&rows), ["abe\u{301}", "e\u{301}"]);
    }

    #[test]
    fn styles_are_carried_onto_every_piece() {
        let line = Line::from(vec![
            Span::styled("red text that wraps", Style::new().fg(Color::Red)),
            Span::raw(" plain"),
            Span::styled(" bold end", Style::new().bold()),
        ])
        .style(Style::new().bg(Color::Blue))
        .right_aligned();
        let rows = wrap_lines(std::slice::from_ref(&line), 10);
        assert_eq!(
            texts(&rows),
            ["red text ", "that ", "wraps ", "plain ", "bold end"]
        );
        for r in &rows {
            assert_eq!(r.style, Style::new().bg(Color::Blue));
            assert_eq!(
                r.alignment,
                Some(ratatui::layout::HorizontalAlignment::Right)
            );
        }
        let styled: Vec<(String, Style)> = rows
            .iter()
            .flat_map(|r| r.spans.iter().map(|s| (s.content.to_string(), s.style)))
            .collect();
        let red = Style::new().fg(Color::Red);
        let bold = Style::new().bold();
        assert_eq!(
            styled,
            [
                ("red text ".to_string(), red),
                ("that ".to_string(), red),
                ("wraps".to_string(), red),
                (" ".to_string(), Style::new()),
                ("plain".to_string(), Style::new()),
                (" ".to_string(), bold),
                ("bold end".to_string(), bold),
            ]
        );
    }

    #[test]
    fn tiny_widths_terminate() {
        let line = Line::from("  ab 日x");
        let one = wrap_lines(std::slice::from_ref(&line), 1);
        assert_eq!(texts(&one), [" ", " ", "a", "b", " ", "日", "x"]);
        let zero = wrap_lines(std::slice::from_ref(&line), 0);
        assert_eq!(texts(&zero), texts(&one));
        let two = wrap_lines(std::slice::from_ref(&line), 2);
        assert_eq!(rejoin(&two, 1), text(&line));
    }

    #[test]
    fn big_single_line_wraps() {
        let big = "word ".repeat(1 << 20);
        let rows = wrap_lines(&[Line::from(big.as_str())], 80);
        assert_eq!(rows.len(), (5 << 20) / 80);
        assert_eq!(rejoin(&rows, 0), big);
    }

    fn piece() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop_oneof![
                4 => Just("a"),
                3 => Just(" "),
                1 => Just("日"),
                1 => Just("e\u{301}"),
                1 => Just("😀"),
                1 => Just("\u{200b}"),
                1 => Just("\u{1b}"),
                1 => Just("xyz"),
            ],
            0..30,
        )
        .prop_map(|v| v.concat())
    }

    proptest! {
        #[test]
        fn nothing_is_lost_and_rows_fit(
            lead in 0usize..12,
            pieces in prop::collection::vec(piece(), 0..5),
            width in 0u16..30,
        ) {
            let mut spans = vec![Span::raw(" ".repeat(lead))];
            spans.extend(pieces.iter().enumerate().map(|(i, p)| {
                Span::styled(p.clone(), Style::new().fg(Color::Indexed(i as u8)))
            }));
            let line = Line::from(spans);
            let rows = wrap_lines(std::slice::from_ref(&line), width);
            let w = usize::from(width.max(1));
            let indent = leading_spaces(&line).min(w / 2);
            prop_assert_eq!(rejoin(&rows, indent), text(&line));
            for (i, r) in rows.iter().enumerate() {
                // Only a single grapheme wider than the room left may overflow.
                let content = if i > 0 && indent > 0 { &r.spans[1..] } else { &r.spans[..] };
                let visible = content
                    .iter()
                    .flat_map(|s| s.content.graphemes(true))
                    .filter(|g| grapheme_width(g) > 0)
                    .count();
                prop_assert!(width_of(r) <= w || visible == 1, "row {:?} wider than {}", text(r), w);
            }
        }
    }
}
