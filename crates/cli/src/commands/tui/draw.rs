//! One frame: the list by zone, the selected session's terminal (under the list, or
//! beside it on a wide terminal), a line for news and typing, and the status line. Only
//! the terminal's own palette is used (no fixed backgrounds), so a light theme reads as
//! well as a dark one; without colour (`NO_COLOR`) the marks and words say it all.

use super::app::{App, Ask, Confirm, Link, Mode};
use super::feed::Source;
use super::rows::{self, Row};
use ao_core::zones::Zone;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

/// From this width on, the preview sits beside the list.
const WIDE: u16 = 150;

/// The keys, as `?` shows them.
const KEYS: &[(&str, &str)] = &[
    (
        "↑ ↓ PgUp PgDn",
        "select a session (or the mouse: click, scroll)",
    ),
    ("Enter", "attach to it; detach to come back"),
    ("s", "send a line to its agent"),
    ("y n 0-9", "answer its agent's question"),
    ("m", "merge its pull request"),
    ("k", "kill it (refused over unsaved work)"),
    ("r", "restore it"),
    ("c", "spawn: an issue, label:NAME, or a task"),
    ("o", "its pull request's address (copied)"),
    (
        "p",
        "its pull request's failing checks and open threads, or its terminal",
    ),
    ("/", "search; Esc clears it"),
    ("q  Ctrl-C", "quit"),
];

/// Draws the whole frame.
pub fn frame(f: &mut Frame<'_>, app: &mut App) {
    let [body, news, status] = Layout::vertical([
        Constraint::Min(3),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(f.area());
    let [list, preview] = if body.width >= WIDE {
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(body)
    } else {
        Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(body)
    };
    draw_list(f, list, app);
    draw_preview(f, preview, app);
    draw_news(f, news, app);
    draw_status(f, status, app);
    if app.mode == Mode::Help {
        draw_help(f, body, app.color);
    }
}

fn paint(color: bool, c: Color) -> Style {
    if color {
        Style::new().fg(c)
    } else {
        Style::new()
    }
}

fn zone_color(z: Zone) -> Color {
    match z {
        Zone::Merge => Color::Green,
        Zone::Action | Zone::Respond => Color::Red,
        Zone::Review => Color::Magenta,
        Zone::Pending => Color::Yellow,
        Zone::Working => Color::Cyan,
        Zone::Done => Color::DarkGray,
    }
}

/// Cuts `s` to `w` characters, ending with `…` when it was longer; pads it to `w`.
fn fit(s: &str, w: usize) -> String {
    let n = s.chars().count();
    if n <= w {
        format!("{s:<w$}")
    } else if w == 0 {
        String::new()
    } else {
        let mut out: String = s.chars().take(w - 1).collect();
        out.push('…');
        out
    }
}

fn draw_list(f: &mut Frame<'_>, area: Rect, app: &mut App) {
    app.hits.clear();
    if app.state.is_none() {
        f.render_widget(Paragraph::new("reading the fleet…"), area);
        return;
    }
    if app.groups.is_empty() {
        let why = if app.search.is_empty() {
            "no live session; `c` spawns one"
        } else {
            "no session matches the search; Esc clears it"
        };
        f.render_widget(Paragraph::new(why), area);
        return;
    }
    let all: Vec<&Row> = app.groups.iter().flat_map(|g| &g.rows).collect();
    let widest =
        |f: fn(&Row) -> usize, cap: usize| all.iter().map(|r| f(r)).max().unwrap_or(0).min(cap);
    let id_w = widest(|r| r.id.to_string().len(), 16).max(2);
    let issue_w = widest(|r| r.issue.chars().count(), 10);
    let agent_w = widest(|r| r.agent.chars().count(), 12);
    // Marker, id, issue, agent, activity, PR, CI, review, age: one space between each.
    let fixed = 2 + id_w + 1 + issue_w + 1 + agent_w + 1 + 1 + 6 + 1 + 4 + 1 + 8 + 1 + 3;
    let act_w = (area.width as usize).saturating_sub(fixed).max(8);
    let now = super::app::now_ms();
    app.drawn_at = now;
    let mut lines: Vec<(Line<'static>, Option<ao_core::model::SessionId>)> = Vec::new();
    for g in &app.groups {
        let head = format!("{} ({})", g.zone.name().to_uppercase(), g.rows.len());
        let style = paint(app.color, zone_color(g.zone)).add_modifier(Modifier::BOLD);
        lines.push((Line::styled(head, style), None));
        for r in &g.rows {
            let chosen = app.selected.as_ref() == Some(&r.id);
            let mark = if chosen { "> " } else { "  " };
            let (pr, ci, review) = match &r.pr {
                Some((n, _, state)) => {
                    let pr = match (*state, r.conflicts) {
                        ("merged", _) => format!("#{n}✓"),
                        ("closed", _) => format!("#{n}x"),
                        (_, true) => format!("#{n}!"),
                        _ => format!("#{n}"),
                    };
                    let ci = match r.ci {
                        "passed" => "pass",
                        "failed" => "fail",
                        "pending" => "wait",
                        _ => "-",
                    };
                    let review = match r.review {
                        "approved" => "approved",
                        "changes_requested" => "changes",
                        _ => "review",
                    };
                    (pr, ci, review)
                }
                None => ("-".to_owned(), "", ""),
            };
            let ci_style = paint(
                app.color,
                match ci {
                    "pass" => Color::Green,
                    "fail" => Color::Red,
                    _ => Color::Yellow,
                },
            );
            let review_style = paint(
                app.color,
                match review {
                    "approved" => Color::Green,
                    "changes" => Color::Red,
                    _ => Color::Reset,
                },
            );
            let act_style = if r.asks {
                paint(app.color, Color::Red).add_modifier(Modifier::BOLD)
            } else {
                Style::new()
            };
            let mut line = Line::from(vec![
                Span::raw(format!(
                    "{mark}{} {} {} ",
                    fit(&r.id.to_string(), id_w),
                    fit(&r.issue, issue_w),
                    fit(&r.agent, agent_w)
                )),
                Span::styled(fit(&r.activity, act_w), act_style),
                Span::raw(format!(" {} ", fit(&pr, 6))),
                Span::styled(fit(ci, 4), ci_style),
                Span::raw(" "),
                Span::styled(fit(review, 8), review_style),
                Span::raw(format!(" {:>3}", rows::age(r.created_at, now))),
            ]);
            if chosen {
                line = line.style(Style::new().add_modifier(Modifier::REVERSED));
            }
            lines.push((line, Some(r.id.clone())));
        }
    }
    // The selection stays in view; the list moves only when it would leave it.
    let height = area.height as usize;
    let at = lines
        .iter()
        .position(|(_, id)| id.is_some() && id.as_ref() == app.selected.as_ref())
        .unwrap_or(0);
    if at < app.scroll {
        // Its zone's title too, when it is the zone's first row.
        app.scroll = at.saturating_sub(1);
    } else if at >= app.scroll + height {
        app.scroll = at + 1 - height;
    }
    app.scroll = app.scroll.min(lines.len().saturating_sub(height));
    let shown: Vec<Line<'static>> = lines
        .into_iter()
        .skip(app.scroll)
        .take(height)
        .enumerate()
        .map(|(i, (line, id))| {
            if let Some(id) = id {
                app.hits.push((area.y + i as u16, id));
            }
            line
        })
        .collect();
    f.render_widget(Paragraph::new(shown), area);
}

fn draw_preview(f: &mut Frame<'_>, area: Rect, app: &App) {
    if app.show_pr
        && let Some(id) = &app.selected
    {
        return draw_pr(f, area, app, &id.to_string());
    }
    let title = match &app.preview {
        Some(p) => format!(" {} ", p.id),
        None => " no session ".to_owned(),
    };
    let inner = titled(f, area, title, app.color);
    match &app.preview {
        Some(p) if p.unavailable.is_some() => {
            let why = p.unavailable.clone().unwrap_or_default();
            f.render_widget(Paragraph::new(why), inner);
        }
        Some(p) => f.render_widget(p.widget(app.color), inner),
        None => {}
    }
}

/// The preview's frame, a rule with `title` on top: the area inside it.
fn titled(f: &mut Frame<'_>, area: Rect, title: String, color: bool) -> Rect {
    let block = Block::new()
        .borders(Borders::TOP)
        .title(title)
        .border_style(paint(color, Color::DarkGray));
    let inner = block.inner(area);
    f.render_widget(block, area);
    inner
}

/// The selected session's pull request: what fails and what is asked of it (`p`).
fn draw_pr(f: &mut Frame<'_>, area: Rect, app: &App, id: &str) {
    use ao_core::plugin::CheckState;
    let pr = app.selected_pr();
    let title = match pr {
        Some(snap) => format!(
            " {id} · pull request #{} (p: terminal) ",
            snap.status.pr.number
        ),
        None => format!(" {id} · pull request (p: terminal) "),
    };
    let inner = titled(f, area, title, app.color);
    let Some(snap) = pr else {
        f.render_widget(Paragraph::new("no pull request yet"), inner);
        return;
    };
    let status = &snap.status;
    let heading = |text: String| Line::styled(text, Style::new().add_modifier(Modifier::BOLD));
    let mut lines = vec![
        Line::from(status.title.clone()),
        Line::from(status.pr.url.clone()),
    ];
    if snap.stale {
        lines.push(Line::styled(
            format!(
                "(last reading; the latest failed: {})",
                snap.error.as_deref().unwrap_or("no answer")
            ),
            paint(app.color, Color::Yellow),
        ));
    }
    let failing: Vec<_> = status
        .checks
        .iter()
        .filter(|c| c.state == CheckState::Failed)
        .collect();
    lines.push(Line::raw(""));
    lines.push(heading(format!("failing checks ({})", failing.len())));
    for c in &failing {
        let required = if c.required { " (required)" } else { "" };
        lines.push(Line::styled(
            format!("✗ {}{required}", c.name),
            paint(app.color, Color::Red),
        ));
        if let Some(url) = &c.url {
            lines.push(Line::from(format!("  {url}")));
        }
        // The log's last lines say most.
        if let Some(log) = &c.log_excerpt {
            let tail: Vec<&str> = log.lines().rev().take(3).collect();
            for l in tail.into_iter().rev() {
                lines.push(Line::styled(
                    format!("  {l}"),
                    paint(app.color, Color::DarkGray),
                ));
            }
        }
    }
    lines.push(Line::raw(""));
    lines.push(heading(format!(
        "open threads ({})",
        status.unresolved_threads.len()
    )));
    for t in &status.unresolved_threads {
        let place = match (&t.path, t.line) {
            (Some(p), Some(n)) => format!("{p}:{n}"),
            (Some(p), None) => p.clone(),
            _ => "on the pull request".to_owned(),
        };
        let who = t.author.as_deref().unwrap_or("someone");
        let first = t.body.lines().next().unwrap_or("");
        lines.push(Line::from(format!("{place} {who}: {first}")));
    }
    f.render_widget(
        Paragraph::new(lines).wrap(ratatui::widgets::Wrap { trim: false }),
        inner,
    );
}

fn draw_news(f: &mut Frame<'_>, area: Rect, app: &mut App) {
    let typed = |label: String, text: &str| Line::from(format!("{label}{text}█"));
    let line = match &app.mode {
        Mode::Search => typed("/".into(), &app.search),
        Mode::Prompt(Ask::Send, text) => {
            let id = app
                .selected
                .as_ref()
                .map(|s| s.to_string())
                .unwrap_or_default();
            typed(format!("send to {id}: "), text)
        }
        Mode::Prompt(Ask::Spawn, text) => {
            let p = app.spawn_project().unwrap_or_else(|| "?".into());
            typed(
                format!("spawn in {p} (issue, label:NAME or a task): "),
                text,
            )
        }
        Mode::Confirm(what, id) => {
            let what = match what {
                Confirm::Kill => format!("kill {id}"),
                Confirm::Merge => format!("merge the pull request of {id}"),
            };
            Line::styled(
                format!("{what}? y does it, any other key does not"),
                paint(app.color, Color::Yellow).add_modifier(Modifier::BOLD),
            )
        }
        _ => match (&app.url, &app.note, &app.failed) {
            (Some(url), _, _) => {
                let label = "pull request (copied): ";
                if std::mem::take(&mut app.url_fresh) {
                    app.link = Some(Link {
                        x: area.x + label.len() as u16,
                        y: area.y,
                        url: url.clone(),
                    });
                }
                Line::from(format!("{label}{url}"))
            }
            (None, Some(n), _) => Line::styled(
                n.text.clone(),
                if n.error {
                    paint(app.color, Color::Red)
                } else {
                    paint(app.color, Color::Green)
                },
            ),
            (None, None, Some(why)) => Line::styled(why.clone(), paint(app.color, Color::Red)),
            (None, None, None) => Line::styled(
                "Enter attach · s send · k kill · c spawn · / search · ? keys · q quit",
                paint(app.color, Color::DarkGray),
            ),
        },
    };
    f.render_widget(Paragraph::new(line), area);
}

fn draw_status(f: &mut Frame<'_>, area: Rect, app: &App) {
    let mut parts = Vec::new();
    parts.push(match &app.source {
        Source::Starting => "host: …".to_owned(),
        Source::Live => match app.state.as_ref().and_then(|s| s.host.as_ref()) {
            Some(h) => format!("host: live (pid {})", h.pid),
            None => "host: live".to_owned(),
        },
        Source::Store(None) => "host: not running; the store is read every second".to_owned(),
        Source::Store(Some(why)) => {
            format!("host: unreachable ({why}); the store is read every second")
        }
    });
    if let Some(state) = &app.state {
        // The scm closest to its limit speaks for all.
        if let Some(b) = state.budgets.values().min_by_key(|b| b.remaining) {
            parts.push(format!("GitHub {}/{}", b.remaining, b.limit));
        }
        let n: usize = app.groups.iter().map(|g| g.rows.len()).sum();
        parts.push(format!("{n} sessions"));
    }
    if let Some(p) = &app.project {
        parts.push(format!("project {p}"));
    }
    if !app.search.is_empty() && app.mode != Mode::Search {
        parts.push(format!("/{}", app.search));
    }
    if app.busy > 0 {
        parts.push(format!("{} running", app.busy));
    }
    let style = if app.color {
        Style::new().add_modifier(Modifier::REVERSED)
    } else {
        Style::new()
    };
    let text = format!(" {}", parts.join(" · "));
    f.render_widget(
        Paragraph::new(fit(&text, area.width as usize)).style(style),
        area,
    );
}

fn draw_help(f: &mut Frame<'_>, body: Rect, color: bool) {
    let w = 64.min(body.width);
    let h = (KEYS.len() as u16 + 2).min(body.height);
    let area = Rect {
        x: body.x + (body.width - w) / 2,
        y: body.y + (body.height - h) / 2,
        width: w,
        height: h,
    };
    let lines: Vec<Line<'static>> = KEYS
        .iter()
        .map(|(k, what)| {
            Line::from(vec![
                Span::styled(
                    format!("{k:>14}  "),
                    paint(color, Color::Cyan).add_modifier(Modifier::BOLD),
                ),
                Span::raw(*what),
            ])
        })
        .collect();
    f.render_widget(Clear, area);
    f.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" keys (any key closes) ")),
        area,
    );
}
