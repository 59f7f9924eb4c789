//! `ao session output --follow`: the session's screen, then its output live, through the
//! same pane stream as the dashboard's terminal.

use super::{block_on, manager, user};
use ao_core::pane::Panes;
use ao_core::plugin::PaneEvent;
use std::io::Write;
use std::process::ExitCode;

/// Prints the pane's screen (as a terminal draws it: escape sequences included), then
/// its output as it comes, until the session's pane ends, a signal, or a closed output.
pub(super) fn follow(session: &str) -> anyhow::Result<ExitCode> {
    let m = manager()?;
    block_on(async {
        let stop = crate::signals::watch();
        tokio::pin!(stop);
        let panes = Panes::new();
        let mut view = m.watch_pane(&panes, session).await.map_err(user)?;
        let mut out = std::io::stdout();
        loop {
            let event = tokio::select! {
                event = view.next() => event,
                signal = &mut stop => return Ok(ExitCode::from(signal.exit_code)),
            };
            let bytes = match &event {
                None => return Ok(ExitCode::SUCCESS),
                Some(PaneEvent::Screen(screen)) => &screen.bytes[..],
                Some(PaneEvent::Output(bytes)) => &bytes[..],
            };
            // A reader that went away (`| head`) ends it as the end of the pane would.
            if out.write_all(bytes).and_then(|()| out.flush()).is_err() {
                return Ok(ExitCode::SUCCESS);
            }
        }
    })?
}
