//! The one notification dispatcher: which notifiers hear an event (by its priority,
//! through `notificationRouting`, else `defaults.notifiers`, else `desktop` for urgent
//! and action), all called at once, each bounded by its own time-out, so one that hangs,
//! fails or panics delays and breaks nothing else.

use crate::config::LoadedConfig;
use crate::config::unknown_plugin::skipped_notifier;
use crate::model::Priority;
use crate::plugin::{Notification, Notifier, PluginError, Slot};
use crate::registry::{Factory, PluginRegistry, SectionRef};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a notifier may take unless its section's `timeoutMs` says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// One configured notifier, ready to send.
pub struct Target {
    /// Its key under `notifiers:` (or `desktop` when ao chose it).
    pub name: String,
    /// The notifier.
    pub notifier: Arc<dyn Notifier>,
    /// Its time-out.
    pub timeout: Duration,
}

/// A notifier that could not be made ready, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unready {
    /// Its key under `notifiers:`.
    pub name: String,
    /// Why.
    pub why: String,
    /// Whether it is only one ao does not have yet (not in this build, or of the reference format only):
    /// nothing is wrong with the config, and what is routed to it is skipped.
    pub planned: bool,
}

/// What became of one notifier's delivery.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Delivered.
    Delivered {
        /// How long it took, in milliseconds.
        ms: u64,
    },
    /// The notifier failed, with its reason.
    Failed {
        /// How long it took, in milliseconds.
        ms: u64,
        /// Why.
        why: String,
    },
    /// The notifier did not answer within its time-out.
    TimedOut {
        /// The time-out, in milliseconds.
        ms: u64,
    },
    /// Not sent: the notifier is one ao does not have yet (one of the reference format), so what is
    /// routed to it is passed over with a warning rather than failed.
    Skipped {
        /// Why.
        why: String,
    },
}

/// Every configured notifier and the routing between them.
pub struct Dispatcher {
    targets: Vec<Target>,
    unready: Vec<Unready>,
    routing: std::collections::BTreeMap<String, Vec<String>>,
    defaults: Vec<String>,
}

fn priority_key(p: Priority) -> &'static str {
    p.as_str()
}

impl Dispatcher {
    /// Builds every notifier of the config (with `desktop` added, unconfigured, when
    /// nothing routes anywhere and the build has it). What cannot be built is kept with
    /// why, for `ao doctor`.
    pub fn new(loaded: &LoadedConfig, registry: &PluginRegistry) -> Dispatcher {
        let config = &loaded.config;
        let mut targets = Vec::new();
        let mut unready = Vec::new();
        let mut names: Vec<(String, String)> = config
            .notifiers
            .iter()
            .map(|(key, section)| {
                (
                    key.clone(),
                    section.plugin.clone().unwrap_or_else(|| key.clone()),
                )
            })
            .collect();
        let routed =
            !config.notification_routing.is_empty() || !config.defaults.notifiers.is_empty();
        // A plugin routed to by its name, with no section of its own (`desktop`,
        // `dashboard`): built with no settings.
        for name in config
            .notification_routing
            .values()
            .flatten()
            .chain(&config.defaults.notifiers)
        {
            if !names.iter().any(|(k, _)| k == name) && registry.get(Slot::Notifier, name).is_some()
            {
                names.push((name.clone(), name.clone()));
            }
        }
        if !routed && !names.iter().any(|(k, _)| k == "desktop") {
            names.push(("desktop".into(), "desktop".into()));
        }
        for (key, plugin) in names {
            if let Some(why) = registry.refusal(&plugin) {
                unready.push(Unready {
                    name: key,
                    why: format!("plugin `{plugin}` was not loaded: {why}"),
                    planned: false,
                });
                continue;
            }
            let build = match registry
                .get(Slot::Notifier, &plugin)
                .map(|e| e.factory.clone())
            {
                Some(Some(Factory::Notifier(build))) => build,
                Some(_) => {
                    unready.push(Unready {
                        name: key,
                        why: format!("the {plugin} notifier is not in this build of ao yet"),
                        planned: true,
                    });
                    continue;
                }
                None => {
                    let skipped = skipped_notifier(&plugin);
                    unready.push(Unready {
                        name: key,
                        planned: skipped.is_some(),
                        why: skipped
                            .unwrap_or_else(|| format!("there is no notifier plugin `{plugin}`")),
                    });
                    continue;
                }
            };
            let node = loaded.tree.at(&["notifiers", &key]);
            let timeout = node
                .and_then(|n| n.get("timeoutMs"))
                .and_then(|v| match v.value {
                    crate::config::Value::Int(ms) if ms > 0 => Some(ms as u64),
                    _ => None,
                })
                .map(Duration::from_millis)
                .unwrap_or(DEFAULT_TIMEOUT);
            // `timeoutMs` is the dispatcher's, not the plugin's.
            let own = node.map(|n| {
                let mut n = n.clone();
                if let crate::config::Value::Map(entries) = &mut n.value {
                    entries.retain(|e| e.key != "timeoutMs");
                }
                n
            });
            let section = SectionRef {
                file: &loaded.file,
                node: own.as_ref(),
                loc: node.map(|n| n.loc).unwrap_or_default(),
                repo: None,
            };
            match build(&section) {
                Ok(notifier) => targets.push(Target {
                    name: key,
                    notifier,
                    timeout,
                }),
                Err(e) => unready.push(Unready {
                    name: key,
                    why: e.to_string(),
                    planned: false,
                }),
            }
        }
        // A notifier ao does not have yet, routed to by name without a section of its own.
        let routed_names = config
            .notification_routing
            .values()
            .flatten()
            .chain(&config.defaults.notifiers);
        for name in routed_names {
            if config.notifiers.contains_key(name) || unready.iter().any(|u| &u.name == name) {
                continue;
            }
            if let Some(why) = skipped_notifier(name) {
                unready.push(Unready {
                    name: name.clone(),
                    why,
                    planned: true,
                });
            }
        }
        Dispatcher {
            targets,
            unready,
            routing: config.notification_routing.clone(),
            defaults: config.defaults.notifiers.clone(),
        }
    }

    /// A dispatcher over notifiers already made, with this routing (for callers that
    /// build their own, and tests).
    pub fn from_parts(
        targets: Vec<Target>,
        routing: std::collections::BTreeMap<String, Vec<String>>,
        defaults: Vec<String>,
    ) -> Dispatcher {
        Dispatcher {
            targets,
            unready: Vec::new(),
            routing,
            defaults,
        }
    }

    /// The notifiers that could not be made ready.
    pub fn unready(&self) -> &[Unready] {
        &self.unready
    }

    /// Every ready notifier's name.
    pub fn names(&self) -> Vec<String> {
        self.targets.iter().map(|t| t.name.clone()).collect()
    }

    /// Who hears an event of `priority`: `notificationRouting`'s list for it, else
    /// `defaults.notifiers`; with neither set, `desktop` for urgent and action.
    pub fn route(&self, priority: Priority) -> Vec<String> {
        if let Some(list) = self.routing.get(priority_key(priority)) {
            return list.clone();
        }
        if !self.defaults.is_empty() {
            return self.defaults.clone();
        }
        if self.routing.is_empty() && matches!(priority, Priority::Urgent | Priority::Action) {
            return vec!["desktop".into()];
        }
        Vec::new()
    }

    /// Whether the routing is ao's default (neither `notificationRouting` nor
    /// `defaults.notifiers` is set): `desktop` for urgent and action.
    pub fn routing_is_default(&self) -> bool {
        self.routing.is_empty() && self.defaults.is_empty()
    }

    /// Every notifier some priority is routed to, once each, in priority order (urgent
    /// first): what `ao notify` may send to.
    pub fn routed(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for p in Priority::ALL {
            for name in self.route(p) {
                if !out.contains(&name) {
                    out.push(name);
                }
            }
        }
        out
    }

    /// Sends `n` to the notifiers named, all at once, each bounded by its time-out, and
    /// returns each one's outcome in the order named. A name without a ready notifier
    /// fails with why.
    pub async fn send(&self, n: &Notification, to: &[String]) -> Vec<(String, Outcome)> {
        let mut set = tokio::task::JoinSet::new();
        let mut out: Vec<Option<(String, Outcome)>> = vec![None; to.len()];
        for (i, name) in to.iter().enumerate() {
            let Some(t) = self.targets.iter().find(|t| &t.name == name) else {
                let outcome = match self.unready.iter().find(|u| &u.name == name) {
                    Some(u) if u.planned => Outcome::Skipped { why: u.why.clone() },
                    Some(u) => Outcome::Failed {
                        ms: 0,
                        why: u.why.clone(),
                    },
                    None => Outcome::Failed {
                        ms: 0,
                        why: format!("no notifier `{name}` is configured under `notifiers:`"),
                    },
                };
                out[i] = Some((name.clone(), outcome));
                continue;
            };
            let (notifier, timeout, n) = (t.notifier.clone(), t.timeout, n.clone());
            set.spawn(async move {
                let start = Instant::now();
                let r = tokio::time::timeout(timeout, notifier.notify(&n)).await;
                let ms = start.elapsed().as_millis() as u64;
                let outcome = match r {
                    Ok(Ok(())) => Outcome::Delivered { ms },
                    // A plugin's own time-out is a time-out too.
                    Ok(Err(PluginError::Timeout { millis, .. })) => {
                        Outcome::TimedOut { ms: millis }
                    }
                    // The notifier's name is on the line already: its own words only.
                    Ok(Err(PluginError::Failed { message, .. })) => {
                        Outcome::Failed { ms, why: message }
                    }
                    Ok(Err(e)) => Outcome::Failed {
                        ms,
                        why: e.to_string(),
                    },
                    Err(_) => Outcome::TimedOut {
                        ms: timeout.as_millis() as u64,
                    },
                };
                (i, outcome)
            });
        }
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok((i, outcome)) => out[i] = Some((to[i].clone(), outcome)),
                Err(e) => tracing::warn!("a notifier's task ended abnormally: {e}"),
            }
        }
        out.into_iter()
            .enumerate()
            .map(|(i, o)| {
                o.unwrap_or_else(|| {
                    (
                        to[i].clone(),
                        Outcome::Failed {
                            ms: 0,
                            why: "its delivery ended abnormally (a panic in ao)".into(),
                        },
                    )
                })
            })
            .collect()
    }
}

/// The dedup window unless `notificationDedupWindow` says otherwise.
pub const DEFAULT_DEDUP_WINDOW: Duration = Duration::from_secs(300);

/// What one `notify` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    /// Each routed notifier's outcome, in routing order.
    pub outcomes: Vec<(String, Outcome)>,
    /// Set when it was not sent at all, and why (the same was delivered moments ago,
    /// nothing routes this priority).
    pub skipped: Option<String>,
}

impl Report {
    /// Whether any notifier delivered it.
    pub fn delivered(&self) -> bool {
        self.outcomes
            .iter()
            .any(|(_, o)| matches!(o, Outcome::Delivered { .. }))
    }
}

impl Dispatcher {
    /// Routes `n` by its priority and sends it, unless a notification with the same `key`
    /// for the same session was delivered within `window`; records every outcome as an
    /// event in `store`. `key` None (`ao notify`, tests) is never deduplicated.
    pub async fn notify(
        &self,
        store: &std::sync::Mutex<crate::store::Store>,
        n: &Notification,
        key: Option<&str>,
        window: Duration,
    ) -> Result<Report, crate::store::StoreError> {
        let lock = |s: &std::sync::Mutex<crate::store::Store>| {
            s.lock()
                .unwrap_or_else(|e| e.into_inner())
                .last_delivered(n.event.session.as_ref(), key.unwrap_or(""))
        };
        if let Some(key) = key
            && !window.is_zero()
            && let Some(at) = lock(store)?
            && crate::model::now_ms() - at < window.as_millis() as i64
        {
            return Ok(Report {
                outcomes: Vec::new(),
                skipped: Some(format!(
                    "the same notification ({key}) was delivered {} s ago (notificationDedupWindow {} s)",
                    (crate::model::now_ms() - at) / 1000,
                    window.as_secs()
                )),
            });
        }
        let to = self.route(n.event.priority);
        if to.is_empty() {
            return Ok(Report {
                outcomes: Vec::new(),
                skipped: Some(format!(
                    "no notifier hears {} events (notificationRouting, defaults.notifiers)",
                    n.event.priority.as_str()
                )),
            });
        }
        let outcomes = self.send(n, &to).await;
        // Routed only to notifiers ao does not have yet: not sent, and not to be retried.
        let skipped = outcomes
            .iter()
            .all(|(_, o)| matches!(o, Outcome::Skipped { .. }))
            .then(|| {
                format!(
                    "{} events go only to notifiers ao does not have yet ({})",
                    n.event.priority.as_str(),
                    to.join(", ")
                )
            });
        let mut s = store.lock().unwrap_or_else(|e| e.into_inner());
        for (name, outcome) in &outcomes {
            let (word, detail) = match outcome {
                Outcome::Delivered { ms } => (
                    "delivered",
                    format!("{name} delivered \"{}\" in {ms} ms", n.title),
                ),
                Outcome::Failed { why, .. } => (
                    "failed",
                    format!("{name} did not deliver \"{}\": {why}", n.title),
                ),
                Outcome::TimedOut { ms } => (
                    "timed_out",
                    format!("{name} did not deliver \"{}\" within {ms} ms", n.title),
                ),
                Outcome::Skipped { why } => (
                    "skipped",
                    format!("{name} was skipped for \"{}\": {why}", n.title),
                ),
            };
            s.append_event(&crate::model::Event {
                id: 0,
                at: crate::model::now_ms(),
                project: n.event.project.clone(),
                session: n.event.session.clone(),
                priority: n.event.priority,
                kind: crate::model::EventKind::Notified {
                    notifier: name.clone(),
                    outcome: word.to_owned(),
                    key: key.map(str::to_owned),
                },
                message: detail,
            })?;
        }
        Ok(Report { outcomes, skipped })
    }
}

/// `5m`, `300s`, `1h`, `250ms` or a bare number of milliseconds, as a duration.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let t = text.trim();
    let (num, unit) = t
        .find(|c: char| !c.is_ascii_digit())
        .map(|i| t.split_at(i))
        .unwrap_or((t, "ms"));
    let n: u64 = num.parse().ok()?;
    Some(match unit.trim() {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Event, EventKind};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A notifier that counts what it is sent.
    struct Count(Arc<AtomicUsize>);

    #[async_trait::async_trait]
    impl Notifier for Count {
        async fn notify(&self, _n: &Notification) -> Result<(), PluginError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    }

    fn setup(urgent: Option<&[&str]>) -> (tempfile::TempDir, Dispatcher, Arc<AtomicUsize>) {
        let dir = tempfile::tempdir().unwrap();
        let count = Arc::new(AtomicUsize::new(0));
        let target = Target {
            name: "tally".into(),
            notifier: Arc::new(Count(count.clone())),
            timeout: DEFAULT_TIMEOUT,
        };
        let routing = urgent
            .map(|names| {
                [(
                    "urgent".to_owned(),
                    names.iter().map(|n| n.to_string()).collect(),
                )]
                .into_iter()
                .collect()
            })
            .unwrap_or_default();
        let d = Dispatcher::from_parts(vec![target], routing, vec!["tally".into()]);
        (dir, d, count)
    }

    fn event(session: &str) -> Notification {
        Notification {
            title: "t".into(),
            event: Event {
                id: 0,
                at: 0,
                project: "app".into(),
                session: Some(session.parse().unwrap()),
                priority: Priority::Urgent,
                kind: EventKind::Manual,
                message: "m".into(),
            },
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_same_notification_is_not_sent_twice_within_the_window() {
        let (dir, d, count) = setup(None);
        let store =
            std::sync::Mutex::new(crate::store::Store::open(&dir.path().join("home")).unwrap());
        let w = DEFAULT_DEDUP_WINDOW;
        let first = d
            .notify(&store, &event("app-1"), Some("ci-failed"), w)
            .await
            .unwrap();
        assert!(first.delivered());
        let again = d
            .notify(&store, &event("app-1"), Some("ci-failed"), w)
            .await
            .unwrap();
        assert!(
            again
                .skipped
                .as_deref()
                .unwrap()
                .contains("the same notification (ci-failed) was delivered")
        );
        // Another key, another session, or no key at all: sent.
        for (session, key) in [
            ("app-1", Some("changes-requested")),
            ("app-2", Some("ci-failed")),
            ("app-1", None),
        ] {
            assert!(
                d.notify(&store, &event(session), key, w)
                    .await
                    .unwrap()
                    .delivered()
            );
        }
        // A zero window sends every one.
        assert!(
            d.notify(&store, &event("app-1"), Some("ci-failed"), Duration::ZERO)
                .await
                .unwrap()
                .delivered()
        );
        assert_eq!(count.load(Ordering::SeqCst), 5);
    }

    /// Waits until `release` is called (by another notifier's delivery).
    struct Waits(Arc<tokio::sync::Notify>);

    #[async_trait::async_trait]
    impl Notifier for Waits {
        async fn notify(&self, _n: &Notification) -> Result<(), PluginError> {
            self.0.notified().await;
            Ok(())
        }
    }

    struct Releases(Arc<tokio::sync::Notify>);

    #[async_trait::async_trait]
    impl Notifier for Releases {
        async fn notify(&self, _n: &Notification) -> Result<(), PluginError> {
            self.0.notify_one();
            Ok(())
        }
    }

    /// Every notifier is called at once: the first one can only deliver when the second
    /// is called while it still waits (called one after the other, it would time out).
    #[tokio::test(flavor = "current_thread")]
    async fn every_routed_notifier_is_called_at_once() {
        let gate = Arc::new(tokio::sync::Notify::new());
        let target = |name: &str, notifier: Arc<dyn Notifier>| Target {
            name: name.into(),
            notifier,
            timeout: Duration::from_secs(5),
        };
        let d = Dispatcher::from_parts(
            vec![
                target("first", Arc::new(Waits(gate.clone()))),
                target("second", Arc::new(Releases(gate))),
            ],
            Default::default(),
            Vec::new(),
        );
        let out = d
            .send(&event("app-1"), &["first".into(), "second".into()])
            .await;
        assert!(
            out.iter()
                .all(|(_, o)| matches!(o, Outcome::Delivered { .. })),
            "{out:?}"
        );
    }

    #[test]
    fn routing_falls_back_from_the_priority_to_the_defaults_to_desktop() {
        let (_d1, d, _) = setup(Some(&["tally"]));
        assert_eq!(d.route(Priority::Urgent), ["tally"]);
        // A priority the routing does not name goes to the defaults.
        assert_eq!(d.route(Priority::Info), ["tally"]);
        let routed_only = Dispatcher::from_parts(
            Vec::new(),
            [("urgent".to_owned(), vec!["tally".to_owned()])]
                .into_iter()
                .collect(),
            Vec::new(),
        );
        assert!(routed_only.route(Priority::Info).is_empty());
        assert!(
            routed_only.route(Priority::Action).is_empty(),
            "no desktop once routing is set"
        );
        let (_d2, d, _) = setup(None);
        assert_eq!(d.route(Priority::Info), ["tally"]);
        let none = Dispatcher::from_parts(Vec::new(), Default::default(), Vec::new());
        assert_eq!(none.route(Priority::Urgent), ["desktop"]);
        assert_eq!(none.route(Priority::Action), ["desktop"]);
        assert!(none.route(Priority::Warning).is_empty());
    }

    /// A notifier ao does not have yet is skipped, not failed: beside one that delivers
    /// the notification is delivered; alone, it is not sent (and so not tried again).
    #[tokio::test(flavor = "current_thread")]
    async fn a_notifier_ao_does_not_have_yet_is_skipped() {
        let (dir, mut d, count) = setup(Some(&["composio", "tally"]));
        d.unready.push(Unready {
            name: "composio".into(),
            why: "ao has no `composio` notifier".into(),
            planned: true,
        });
        let store =
            std::sync::Mutex::new(crate::store::Store::open(&dir.path().join("home")).unwrap());
        let both = d
            .notify(&store, &event("app-1"), None, DEFAULT_DEDUP_WINDOW)
            .await
            .unwrap();
        assert!(both.delivered() && both.skipped.is_none(), "{both:?}");
        assert!(
            matches!(&both.outcomes[0], (name, Outcome::Skipped { why }) if name == "composio" && why.contains("no `composio` notifier")),
            "{both:?}"
        );
        d.routing.insert("urgent".into(), vec!["composio".into()]);
        let alone = d
            .notify(&store, &event("app-1"), None, DEFAULT_DEDUP_WINDOW)
            .await
            .unwrap();
        assert!(!alone.delivered(), "{alone:?}");
        assert!(
            alone
                .skipped
                .as_deref()
                .is_some_and(|why| why.contains("only to notifiers ao does not have yet")),
            "{alone:?}"
        );
        assert_eq!(count.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("300s"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("1500"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("5 min"), None);
        assert_eq!(parse_duration("m"), None);
    }

    #[test]
    fn routed_is_every_notifier_some_priority_reaches_defaults_included() {
        let routing = |pairs: &[(&str, &[&str])]| {
            pairs
                .iter()
                .map(|(p, names)| (p.to_string(), names.iter().map(|n| n.to_string()).collect()))
                .collect()
        };
        let by_priority = Dispatcher::from_parts(
            Vec::new(),
            routing(&[("info", &["b"]), ("urgent", &["a", "b"])]),
            Vec::new(),
        );
        assert_eq!(by_priority.routed(), ["a", "b"]);
        assert!(!by_priority.routing_is_default());
        let defaults = Dispatcher::from_parts(Vec::new(), routing(&[]), vec!["c".into()]);
        assert_eq!(defaults.routed(), ["c"]);
        let none = Dispatcher::from_parts(Vec::new(), routing(&[]), Vec::new());
        assert_eq!(none.routed(), ["desktop"]);
        assert!(none.routing_is_default());
    }
}
