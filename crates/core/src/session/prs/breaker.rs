//! When an scm is not to be asked: after polls that failed in a row (the breaker), while it
//! asked ao to wait (a secondary rate limit's `retry-after`), and while its request budget
//! is used up (until its window resets). Kept in the store, so every process honours the
//! same pause: the host's poll, `ao status --refresh`, `ao session merge`, `ao review-check`
//! and the CI lookup each ask [`Manager::scm_pause`] before they ask the scm, and say why
//! instead.

use crate::config::ResolvedProject;
use crate::model::now_ms;
use crate::model::time::utc_clock as clock;
use crate::plugin::{Budget, PluginError, Scm};
use crate::session::{Manager, ManagerError};

/// Polls in a row that failed for the scm as a whole before ao stops asking for a while.
const BREAKER_FAILURES: u32 = 3;
/// How long ao stops asking then.
const BREAKER_OPEN_MS: i64 = 5 * 60 * 1000;

/// An scm's failure count and pause, as stored.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Breaker {
    failures: u32,
    open_until: i64,
    /// Why it is open when the scm itself asked ao to wait (its `retry-after`), rather
    /// than after failed polls.
    #[serde(default)]
    asked: Option<String>,
}

impl Breaker {
    fn read(stored: Option<&str>) -> Breaker {
        stored
            .and_then(|v| serde_json::from_str(v).ok())
            .unwrap_or_default()
    }

    fn text(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Where one scm's shared state is kept: by what its section says, not where it is, so
/// identical sections in several projects are one scm with one pause and one budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScmKey(String);

impl ScmKey {
    fn hashed(&self) -> u64 {
        self.0.bytes().fold(0xcbf29ce484222325, |h, b| {
            (h ^ b as u64).wrapping_mul(0x100000001b3)
        })
    }

    fn breaker(&self) -> String {
        format!("breaker:{:016x}", self.hashed())
    }

    fn budget(&self) -> String {
        format!("budget:{:016x}", self.hashed())
    }
}

/// Why an scm is not asked now, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pause {
    /// Until when (milliseconds since 1970).
    pub until: i64,
    why: PauseWhy,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PauseWhy {
    /// The scm asked ao to wait; how it said so.
    Asked(String),
    /// Polls failed in a row, this many.
    Failures(u32),
    /// Its request budget is used up until its window resets.
    Budget,
}

impl Pause {
    /// The pause in one sentence, naming the scm as it calls itself: "GitHub is not asked
    /// until 14:05 UTC: it asked ao to wait 120 s".
    pub fn sentence(&self, scm_name: &str) -> String {
        let until = clock(self.until);
        match &self.why {
            PauseWhy::Asked(asked) => format!("{scm_name} is not asked until {until}: {asked}"),
            PauseWhy::Failures(n) => {
                format!("{scm_name} is not asked until {until} after {n} failed polls in a row")
            }
            PauseWhy::Budget => {
                format!("{scm_name} is not asked until {until}: its request budget is used up")
            }
        }
    }
}

impl Manager {
    /// The key of `project`'s scm: its plugin and what its section says.
    pub(crate) fn scm_key(&self, project: &ResolvedProject) -> ScmKey {
        ScmKey(format!(
            "{}|{}",
            project.scm,
            self.config
                .tree
                .at(&["projects", &project.id, "scm"])
                .map(crate::session::plugins::meaning)
                .unwrap_or_default()
        ))
    }

    /// Why the scm of `key` is not to be asked now, as any process left it; None when it
    /// may be.
    pub(crate) fn scm_pause(&self, key: &ScmKey) -> Result<Option<Pause>, ManagerError> {
        let now = now_ms();
        let store = self.store();
        let breaker = Breaker::read(store.scm_state(&key.breaker())?.map(|(v, _)| v).as_deref());
        let mut pause = (breaker.open_until > now).then_some(Pause {
            until: breaker.open_until,
            why: match breaker.asked {
                Some(asked) => PauseWhy::Asked(asked),
                None => PauseWhy::Failures(breaker.failures),
            },
        });
        let budget: Option<Budget> = store
            .scm_state(&key.budget())?
            .and_then(|(v, _)| serde_json::from_str(&v).ok());
        if let Some(b) = budget
            && b.limit > 0
            && b.remaining == 0
            && b.reset * 1000 > now
            && pause.as_ref().is_none_or(|p| p.until < b.reset * 1000)
        {
            pause = Some(Pause {
                until: b.reset * 1000,
                why: PauseWhy::Budget,
            });
        }
        Ok(pause)
    }

    /// What a call to the scm of `key` left to share: its budget as the scm last read it,
    /// and, when `failed` is the scm asking ao to wait (its `retry-after`), the pause.
    pub(crate) fn scm_heard(
        &self,
        key: &ScmKey,
        scm: &dyn Scm,
        failed: Option<&PluginError>,
    ) -> Result<(), ManagerError> {
        let mut store = self.store();
        if let Some(PluginError::Transient {
            retry_after_ms: Some(ms),
            ..
        }) = failed
        {
            let until = now_ms() + *ms as i64;
            store.update_scm_state(&key.breaker(), |stored| {
                let mut b = Breaker::read(stored);
                if until > b.open_until {
                    b.open_until = until;
                    b.asked = Some(format!("it asked ao to wait {} s", ms / 1000));
                }
                b.text()
            })?;
        }
        if let Some(budget) = scm.budget() {
            store.set_scm_state(
                &key.budget(),
                &serde_json::to_string(&budget).unwrap_or_default(),
            )?;
        }
        Ok(())
    }

    /// Counts a poll of the scm of `key`: one that failed as a whole (`failed`, nothing
    /// `read`) counts towards opening the breaker; one that read anything closes it,
    /// unless the scm asked ao to wait. Returns what to say when the breaker opens.
    pub(crate) fn scm_polled(
        &self,
        key: &ScmKey,
        scm_name: &str,
        failed: bool,
        read: bool,
    ) -> Result<Option<String>, ManagerError> {
        let now = now_ms();
        let mut opened = None;
        self.store().update_scm_state(&key.breaker(), |stored| {
            let mut b = Breaker::read(stored);
            if failed && !read {
                b.failures += 1;
                if b.failures >= BREAKER_FAILURES && now + BREAKER_OPEN_MS > b.open_until {
                    b.open_until = now + BREAKER_OPEN_MS;
                    b.asked = None;
                    opened = Some(format!(
                        "{} polls in a row failed: {scm_name} is not asked again until {}",
                        b.failures,
                        clock(b.open_until)
                    ));
                }
            } else if read && b.open_until <= now {
                b = Breaker::default();
            }
            b.text()
        })?;
        if let Some(note) = &opened {
            tracing::warn!("{note}");
        }
        Ok(opened)
    }
}
