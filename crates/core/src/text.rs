//! Text that crosses into a terminal, a branch name or a tmux session name.

/// Makes text safe to type into an agent's terminal: terminal escape sequences (CSI such
/// as colours, OSC such as titles, and two-byte escapes) are removed whole, and every
/// other control character except tab and newline is dropped. `\r\n` and a lone `\r`
/// become `\n`. So a pasted CI log can neither garble the agent's screen nor end a
/// bracketed paste early; printable text of any script is kept byte for byte.
pub fn sanitize_for_terminal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.next() {
                // CSI: parameters and intermediates, then one final byte in @..~.
                Some('[') => {
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
                // OSC, DCS, SOS, PM, APC: up to BEL or ESC \.
                Some(']' | 'P' | 'X' | '^' | '_') => {
                    while let Some(c) = chars.next() {
                        if c == '\u{7}' {
                            break;
                        }
                        if c == '\u{1b}' {
                            if chars.peek() == Some(&'\\') {
                                chars.next();
                            }
                            break;
                        }
                    }
                }
                // A two-byte escape (ESC c, ESC =, ESC ( B takes one more).
                Some('(' | ')' | '*' | '+' | '#' | '%') => {
                    chars.next();
                }
                _ => {}
            },
            // C1 CSI and OSC introducers, as single characters.
            '\u{9b}' => {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            '\r' => {
                if chars.peek() != Some(&'\n') {
                    out.push('\n');
                }
            }
            '\n' | '\t' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A short branch-safe slug of free text: lowercase ASCII letters and digits in words
/// joined by `-`, at most `max` bytes, cut at a word boundary; empty when the text has
/// no such characters.
pub fn slug(text: &str, max: usize) -> String {
    let mut out = String::new();
    for word in text
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let word = word.to_ascii_lowercase();
        let extra = if out.is_empty() { 0 } else { 1 };
        if out.len() + extra + word.len() > max {
            if out.is_empty() {
                out.push_str(&word[..max.min(word.len())]);
            }
            break;
        }
        if extra == 1 {
            out.push('-');
        }
        out.push_str(&word);
    }
    out
}

/// The longest tmux session name ao makes or adopts.
const MAX_TMUX_NAME: usize = 200;

/// What makes `name` a tmux session name ao neither makes nor adopts, if anything.
/// ao names its sessions after their ids (`<prefix>-<n>`), the reference system
/// `<hash>-<prefix>-<n>`: ASCII letters, digits, `-` and `_`, never a leading `-`. Every
/// other character means something to tmux somewhere (`;` `"` `'` `#` in its command
/// language and formats, `:` `.` in targets), so a name holding one is never passed on.
pub fn tmux_name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("is empty".into());
    }
    if name.len() > MAX_TMUX_NAME {
        return Some(format!("is longer than {MAX_TMUX_NAME} bytes"));
    }
    if name.starts_with('-') {
        return Some("starts with `-`".into());
    }
    let other = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))?;
    Some(format!(
        "holds {other:?}, and ao's names and the reference's hold only ASCII letters, digits, `-` and `_`"
    ))
}

/// The answers a screen offers as a numbered menu, as agents draw their questions
/// (`❯ 1. Yes`, `  2. No, and tell me why`): a run of lines numbered 1, 2, ... near the
/// bottom of the screen (at most three other lines below it, as a hint line), one of
/// them marked as selected; each is chosen by typing its number. Empty when there is
/// none: a numbered list in the agent's own text is not a menu.
pub fn offered_choices(screen: &str) -> Vec<crate::plugin::Choice> {
    const MARKS: &str = "❯>›▶→●◉*";
    let item = |line: &str| -> Option<(u32, String, bool)> {
        let line = line.trim_matches(|c: char| c.is_whitespace() || "│┃|".contains(c));
        let marked = line.starts_with(|c: char| MARKS.contains(c));
        let line =
            line.trim_start_matches(|c: char| c.is_whitespace() || MARKS.contains(c) || c == '○');
        let (n, rest) = line.split_once(['.', ')'])?;
        let n: u32 = n.trim().parse().ok()?;
        let label = rest.trim();
        (n > 0 && n < 10 && rest.starts_with(' ') && !label.is_empty())
            .then(|| (n, label.to_owned(), marked))
    };
    let lines: Vec<&str> = screen.lines().filter(|l| !l.trim().is_empty()).collect();
    // From the bottom: past a few hint lines, to the menu's last item.
    let Some(last) = lines
        .iter()
        .rev()
        .take(4)
        .position(|l| item(l).is_some())
        .map(|from_end| lines.len() - 1 - from_end)
    else {
        return Vec::new();
    };
    // Up to its first item, numbered down to 1. A label too long for the terminal goes
    // on over a line or two below its item: those lines are its label's.
    let mut run: Vec<(u32, String, bool)> = Vec::new();
    let mut carried: Vec<&str> = Vec::new();
    for line in lines[..=last].iter().rev() {
        match item(line) {
            Some(mut it) if run.last().is_none_or(|prev| it.0 + 1 == prev.0) => {
                for more in carried.drain(..).rev() {
                    it.1.push(' ');
                    it.1.push_str(more);
                }
                let first = it.0 == 1;
                run.push(it);
                if first {
                    break;
                }
            }
            None if !run.is_empty() && carried.len() < 2 => {
                carried.push(line.trim_matches(|c: char| c.is_whitespace() || "│┃|".contains(c)))
            }
            _ => return Vec::new(),
        }
    }
    run.reverse();
    let whole = run.first().is_some_and(|(n, _, _)| *n == 1) && run.len() >= 2;
    if !whole || !run.iter().any(|(_, _, marked)| *marked) {
        return Vec::new();
    }
    run.into_iter()
        .map(|(n, label, _)| crate::plugin::Choice {
            label,
            keys: n.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_menu_label_wrapped_over_lines_is_one_choice() {
        let screen = " Do you want to proceed?\n ❯ 1. Yes\n   2. Yes, and always allow access to\n      /work/app-1 from this project\n   3. No\n Esc to cancel\n";
        let got: Vec<(String, String)> = offered_choices(screen)
            .into_iter()
            .map(|c| (c.keys, c.label))
            .collect();
        assert_eq!(
            got,
            [
                ("1".to_owned(), "Yes".to_owned()),
                (
                    "2".to_owned(),
                    "Yes, and always allow access to /work/app-1 from this project".to_owned()
                ),
                ("3".to_owned(), "No".to_owned()),
            ]
        );
    }

    #[test]
    fn tmux_names_are_the_ones_ao_and_the_reference_make() {
        for ok in ["app-1", "my_app-orchestrator", "3f2a9c1b7d4e-app-12"] {
            assert_eq!(tmux_name_problem(ok), None, "{ok}");
        }
        for bad in [
            "",
            "-t",
            "ev\";run-shell \"touch P\";#",
            "a;",
            "a'b",
            "#(id)",
            "victim:",
            "a.b",
            "a b",
            "é",
            "a\nb",
        ] {
            assert!(tmux_name_problem(bad).is_some(), "{bad:?}");
        }
        assert!(tmux_name_problem(&"a".repeat(201)).is_some());
    }

    #[test]
    fn escape_sequences_and_controls_go_text_stays() {
        let log = "\u{1b}[31mFAIL\u{1b}[0m src/a.rs\r\n\u{1b}]0;title\u{7}ok\tdone \
                   \u{1b}]8;;http://x\u{1b}\\link\u{1b}]8;;\u{1b}\\ \u{1b}(Bx\u{8}y\u{0}z\u{7f}";
        assert_eq!(
            sanitize_for_terminal(log),
            "FAIL src/a.rs\nok\tdone link xyz"
        );
        // The end-of-paste marker cannot survive.
        assert_eq!(sanitize_for_terminal("a\u{1b}[201~b"), "ab");
        let plain = "quotes ' \" $HOME `cmd` \\ é 日本 🚀\nline\ttab";
        assert_eq!(sanitize_for_terminal(plain), plain);
        assert_eq!(sanitize_for_terminal("a\rb\r\nc"), "a\nb\nc");
        assert_eq!(sanitize_for_terminal("\u{9b}1mx\u{85}y"), "xy");
    }

    #[test]
    fn slugs_are_short_plain_words() {
        assert_eq!(slug("Fix the login bug!", 30), "fix-the-login-bug");
        assert_eq!(
            slug("Add a very long feature description here", 20),
            "add-a-very-long"
        );
        assert_eq!(slug("日本語", 20), "");
        assert_eq!(slug("Supercalifragilistic", 5), "super");
        assert_eq!(slug("`rm -rf /`; $(x)", 30), "rm-rf-x");
    }

    #[test]
    fn a_numbered_menu_on_the_screen_is_the_answers_offered() {
        let labels = |screen: &str| -> Vec<(String, String)> {
            offered_choices(screen)
                .into_iter()
                .map(|c| (c.label, c.keys))
                .collect()
        };
        let claude = "Bash command\n  rm -rf build\n\nDo you want to proceed?\n❯ 1. Yes\n  2. Yes, and don't ask again for rm commands\n  3. No, and tell Claude what to do differently (esc)\n\nEsc to cancel · Tab to amend\n";
        assert_eq!(
            labels(claude),
            [
                ("Yes".to_owned(), "1".to_owned()),
                (
                    "Yes, and don't ask again for rm commands".to_owned(),
                    "2".to_owned()
                ),
                (
                    "No, and tell Claude what to do differently (esc)".to_owned(),
                    "3".to_owned()
                ),
            ]
        );
        // In a box, selected with a dot (Gemini CLI's).
        let gemini = "│ Allow execution of: 'ls'?     │\n│ ● 1. Allow once                 │\n│   2. Allow always               │\n│   3. No, suggest changes (esc)  │\n╰─────────────────────────────────╯\n";
        let got: Vec<String> = labels(gemini).into_iter().map(|(l, _)| l).collect();
        assert_eq!(
            got,
            ["Allow once", "Allow always", "No, suggest changes (esc)"]
        );
        // A numbered plan in the agent's text, then a question in words: no menu.
        let plan = "My plan:\n1. Read the code\n2. Fix the bug\n3. Test it\n\nShall I go on? (y/n)\n> \n\n\n\n";
        assert!(labels(plan).is_empty(), "{:?}", labels(plan));
        // Numbered lines at the bottom with nothing selected: a list, not a menu.
        assert!(labels("Steps:\n1. one\n2. two\n").is_empty());
        // One item, a version, nothing: no menu.
        assert!(labels("❯ 1. only one\n").is_empty());
        assert!(labels("v1.2.3 ready\nnothing here\n").is_empty());
        assert!(labels("").is_empty());
    }
}
