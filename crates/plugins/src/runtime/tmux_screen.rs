//! A tmux pane's screen as bytes that draw it: what a viewer of a watched pane starts
//! from (see `tmux_watch.rs`), from the pane's state and `capture-pane -e` of it.

/// What a screen is drawn from: the pane's size, cursor and modes, in this order.
pub(super) const STATE_FORMAT: &str = "#{pane_id} #{pane_width} #{pane_height} #{cursor_x} #{cursor_y} #{cursor_flag} #{alternate_on} #{alternate_saved_x} #{alternate_saved_y} #{scroll_region_upper} #{scroll_region_lower} #{origin_flag} #{wrap_flag} #{insert_flag} #{keypad_cursor_flag} #{keypad_flag} #{pane_dead}";

/// The pane's state from [`STATE_FORMAT`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct PaneState {
    pub(super) pane: String,
    pub(super) width: u16,
    pub(super) height: u16,
    pub(super) cursor_x: u16,
    pub(super) cursor_y: u16,
    pub(super) cursor_visible: bool,
    pub(super) alternate: bool,
    pub(super) saved_x: u16,
    pub(super) saved_y: u16,
    pub(super) region_top: u16,
    pub(super) region_bottom: u16,
    pub(super) origin: bool,
    pub(super) wrap: bool,
    pub(super) insert: bool,
    pub(super) app_cursor: bool,
    pub(super) app_keypad: bool,
    pub(super) dead: bool,
}

impl PaneState {
    pub(super) fn parse(line: &str) -> Option<PaneState> {
        let f: Vec<&str> = line.split(' ').collect();
        if f.len() < 17 || !f[0].starts_with('%') {
            return None;
        }
        let n = |i: usize| f[i].parse::<u16>().unwrap_or(0);
        let b = |i: usize| f[i] == "1";
        Some(PaneState {
            pane: f[0].to_owned(),
            width: n(1).max(1),
            height: n(2).max(1),
            cursor_x: n(3),
            cursor_y: n(4),
            cursor_visible: b(5),
            alternate: b(6),
            saved_x: n(7),
            saved_y: n(8),
            region_top: n(9),
            region_bottom: n(10),
            origin: b(11),
            wrap: b(12),
            insert: b(13),
            app_cursor: b(14),
            app_keypad: b(15),
            dead: b(16),
        })
    }
}

/// The text of a captured line without its colour codes.
fn plain(line: &[u8]) -> String {
    let mut out = Vec::new();
    let mut i = 0;
    while i < line.len() {
        if line[i] == 0x1b && line.get(i + 1) == Some(&b'[') {
            i += 2;
            while i < line.len() && !(0x40..=0x7e).contains(&line[i]) {
                i += 1;
            }
            i += 1;
        } else {
            out.push(line[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What draws the pane on a terminal of its size: a reset, the scrollback and the
/// screen (`lines`: the scrollback's, then the visible rows), with `saved` (the normal
/// screen) under an alternate one; then the pane's modes and cursor.
pub(super) fn draw(s: &PaneState, lines: &[Vec<u8>], saved: Option<&[Vec<u8>]>) -> Vec<u8> {
    let height = usize::from(s.height);
    let mut lines: Vec<&[u8]> = lines.iter().map(|l| trim_eol(l)).collect();
    while lines.len() < height {
        lines.push(b"");
    }
    let (history, visible) = lines.split_at(lines.len() - height);
    let mut out: Vec<u8> = b"\x1bc".to_vec();
    let flow = |out: &mut Vec<u8>, rows: &mut dyn Iterator<Item = &[u8]>| {
        for (i, row) in rows.enumerate() {
            if i > 0 {
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(row);
        }
    };
    match saved.filter(|_| s.alternate) {
        Some(saved) => {
            let mut normal = history
                .iter()
                .copied()
                .chain(saved.iter().map(|l| trim_eol(l)));
            flow(&mut out, &mut normal);
            out.extend_from_slice(
                format!(
                    "\x1b[0m\x1b[{};{}H\x1b[?1049h\x1b[H",
                    s.saved_y + 1,
                    s.saved_x + 1
                )
                .as_bytes(),
            );
            flow(&mut out, &mut visible.iter().copied());
        }
        None => flow(&mut out, &mut lines.iter().copied()),
    }
    out.extend_from_slice(b"\x1b[0m");
    if s.region_top != 0 || s.region_bottom + 1 != s.height {
        out.extend_from_slice(
            format!("\x1b[{};{}r", s.region_top + 1, s.region_bottom + 1).as_bytes(),
        );
    }
    if s.origin {
        out.extend_from_slice(b"\x1b[?6h");
    }
    let row = if s.origin {
        s.cursor_y.saturating_sub(s.region_top) + 1
    } else {
        s.cursor_y + 1
    };
    if s.cursor_x >= s.width {
        // The cursor waits past the last column (the next character wraps): writing
        // that column's character again leaves it there.
        let text = visible
            .get(usize::from(s.cursor_y))
            .map(|l| plain(l))
            .unwrap_or_default();
        let last = text.chars().nth(usize::from(s.width) - 1).unwrap_or(' ');
        out.extend_from_slice(format!("\x1b[{row};{}H{last}", s.width).as_bytes());
    } else {
        out.extend_from_slice(format!("\x1b[{row};{}H", s.cursor_x + 1).as_bytes());
    }
    if !s.wrap {
        out.extend_from_slice(b"\x1b[?7l");
    }
    if s.insert {
        out.extend_from_slice(b"\x1b[4h");
    }
    if s.app_cursor {
        out.extend_from_slice(b"\x1b[?1h");
    }
    if s.app_keypad {
        out.extend_from_slice(b"\x1b=");
    }
    if !s.cursor_visible {
        out.extend_from_slice(b"\x1b[?25l");
    }
    out
}

/// A line without its line ending.
pub(super) fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(line: &str) -> PaneState {
        PaneState::parse(line).expect("a state line")
    }

    #[test]
    fn a_screen_restores_the_alternate_screen_scroll_region_modes_and_a_pending_wrap() {
        let s = state("%1 4 2 4 1 0 1 1 0 0 1 0 0 1 1 0 0");
        let lines = [b"hist".to_vec(), b"ab".to_vec(), b"wxyz".to_vec()];
        let saved = [b"norm".to_vec(), b"al".to_vec()];
        assert_eq!(
            String::from_utf8_lossy(&draw(&s, &lines, Some(&saved))),
            "\x1bchist\r\nnorm\r\nal\x1b[0m\x1b[1;2H\x1b[?1049h\x1b[Hab\r\nwxyz\x1b[0m\x1b[2;4Hz\x1b[?7l\x1b[4h\x1b[?1h\x1b[?25l"
        );
        let region = state("%1 10 5 0 3 1 0 0 0 1 3 1 1 0 0 1 0");
        assert_eq!(
            String::from_utf8_lossy(&draw(&region, &[], None)),
            "\x1bc\r\n\r\n\r\n\r\n\x1b[0m\x1b[2;4r\x1b[?6h\x1b[3;1H\x1b="
        );
    }
}
