//! A real D-Bus session bus for the desktop notifier's tests: a private `dbus-daemon`
//! (the same daemon `dbus-run-session` starts), and on it a notification server of ours
//! that implements `org.freedesktop.Notifications` and records what it receives.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use zbus::OwnedVariant;

/// One notification as the server received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    /// The application's name.
    pub app: String,
    /// The summary (title).
    pub summary: String,
    /// The body.
    pub body: String,
    /// The `urgency` hint: 0 low, 1 normal, 2 critical.
    pub urgency: Option<u8>,
}

struct Server {
    shown: Arc<Mutex<Vec<Shown>>>,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Server {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &mut self,
        app_name: &str,
        _replaces_id: u32,
        _app_icon: &str,
        summary: &str,
        body: &str,
        _actions: Vec<String>,
        hints: HashMap<String, OwnedVariant>,
        _expire_timeout: i32,
    ) -> u32 {
        let urgency = hints.get("urgency").and_then(|v| u8::try_from(v).ok());
        let mut shown = self.shown.lock().unwrap();
        shown.push(Shown {
            app: app_name.to_owned(),
            summary: summary.to_owned(),
            body: body.to_owned(),
            urgency,
        });
        shown.len() as u32
    }

    fn get_capabilities(&self) -> Vec<String> {
        vec!["body".into()]
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        ("ao-tests".into(), "ao".into(), "1".into(), "1.2".into())
    }

    fn close_notification(&self, _id: u32) {}
}

/// The bus and the server; the daemon ends on drop.
pub struct DesktopBus {
    /// `DBUS_SESSION_BUS_ADDRESS` for the processes that use it.
    pub address: String,
    daemon: Child,
    shown: Arc<Mutex<Vec<Shown>>>,
}

impl DesktopBus {
    /// Starts a session bus and the notification server on it.
    pub fn start() -> DesktopBus {
        let mut daemon = Command::new("dbus-daemon")
            .args([
                "--session",
                "--nofork",
                "--print-address=1",
                "--address=unix:tmpdir=/tmp",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon (Debian package dbus-daemon) must be installed");
        let mut line = String::new();
        BufReader::new(daemon.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("the bus's address");
        let address = line.trim().to_owned();
        let shown: Arc<Mutex<Vec<Shown>>> = Arc::default();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (addr, s) = (address.clone(), shown.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let conn = zbus::connection::Builder::address(addr.as_str())
                    .name("org.freedesktop.Notifications")
                    .serve_at("/org/freedesktop/Notifications", Server { shown: s })
                    .build()
                    .await
                    .expect("connect to the test bus");
                ready_tx.send(()).unwrap();
                let _keep = conn;
                std::future::pending::<()>().await;
            });
        });
        ready_rx
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("the notification server on the bus");
        DesktopBus {
            address,
            daemon,
            shown,
        }
    }

    /// What the server has received so far.
    pub fn shown(&self) -> Vec<Shown> {
        self.shown.lock().unwrap().clone()
    }
}

impl Drop for DesktopBus {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}
