//! The signals that end a command early (Ctrl-C, `kill`, a closed terminal), so a
//! command in the middle of making something can undo it before it exits.

/// A signal that arrived, and the exit code that reports it (128 + its number).
#[derive(Debug, Clone, Copy)]
pub struct Signal {
    /// `SIGINT`, `SIGTERM` or `SIGHUP`.
    pub name: &'static str,
    /// 130, 143 or 129.
    pub exit_code: u8,
}

/// Waits for the first SIGINT, SIGTERM or SIGHUP. From the first call on, those no longer
/// end the process by themselves.
#[cfg(unix)]
pub async fn first() -> Signal {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        // No handler could be installed: the signals keep their default effect.
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => Signal { name: "SIGINT", exit_code: 130 },
        _ = term.recv() => Signal { name: "SIGTERM", exit_code: 143 },
        _ = hup.recv() => Signal { name: "SIGHUP", exit_code: 129 },
    }
}

/// [`first`], its handlers installed now rather than when it is first awaited, so a
/// signal that comes before then is not lost (nor ends the process). Call it inside the
/// async runtime.
#[cfg(unix)]
pub fn watch() -> impl std::future::Future<Output = Signal> {
    use tokio::signal::unix::{SignalKind, signal};
    let handlers = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    );
    async move {
        let (Ok(mut int), Ok(mut term), Ok(mut hup)) = handlers else {
            return std::future::pending().await;
        };
        tokio::select! {
            _ = int.recv() => Signal { name: "SIGINT", exit_code: 130 },
            _ = term.recv() => Signal { name: "SIGTERM", exit_code: 143 },
            _ = hup.recv() => Signal { name: "SIGHUP", exit_code: 129 },
        }
    }
}

/// [`first`] where signals are not unix's.
#[cfg(not(unix))]
pub fn watch() -> impl std::future::Future<Output = Signal> {
    first()
}

/// Waits for Ctrl-C.
#[cfg(not(unix))]
pub async fn first() -> Signal {
    if tokio::signal::ctrl_c().await.is_err() {
        return std::future::pending().await;
    }
    Signal {
        name: "Ctrl-C",
        exit_code: 130,
    }
}
