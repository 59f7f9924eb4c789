//! What the host has said in its log, so that a fact is logged once, when it becomes true,
//! and again only when it changes: an scm that refuses every session's pull request is
//! one line, not a line per session per poll.

use std::collections::{BTreeMap, BTreeSet};

/// The facts the host last logged of one kind (pull requests not read, poll notes), by
/// subject.
#[derive(Debug, Default)]
pub(crate) struct Said {
    facts: BTreeMap<String, String>,
}

/// What a new reading of the facts asks the host to log.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct News {
    /// Facts new or changed since the last reading: the subjects that share one fact,
    /// joined, then the fact.
    pub(crate) new: Vec<(String, String)>,
}

impl Said {
    /// Takes this reading's facts (`subject`, `fact`): says what is new or changed, grouped
    /// by fact; remembers the reading (a subject absent from it is forgotten, so its fact is
    /// said again if it comes back).
    pub(crate) fn read(&mut self, facts: impl IntoIterator<Item = (String, String)>) -> News {
        let now: BTreeMap<String, String> = facts.into_iter().collect();
        let mut by_fact: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for (subject, fact) in &now {
            if self.facts.get(subject) != Some(fact) {
                by_fact.entry(fact).or_default().insert(subject);
            }
        }
        let new = by_fact
            .into_iter()
            .map(|(fact, subjects)| {
                let subjects: Vec<&str> = subjects.into_iter().collect();
                (subjects.join(", "), fact.to_owned())
            })
            .collect();
        self.facts = now;
        News { new }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(s, f)| (s.to_string(), f.to_string()))
            .collect()
    }

    #[test]
    fn a_fact_is_said_once_grouped_and_again_only_when_it_changes() {
        let mut said = Said::default();
        let no_token = "no GitHub token for github.com";
        let news = said.read(facts(&[
            ("app-1", no_token),
            ("app-2", no_token),
            ("app-3", "rate limited"),
        ]));
        assert_eq!(
            news.new,
            facts(&[("app-1, app-2", no_token), ("app-3", "rate limited")])
        );
        // The same again: nothing to say, however many polls.
        for _ in 0..3 {
            let news = said.read(facts(&[
                ("app-1", no_token),
                ("app-2", no_token),
                ("app-3", "rate limited"),
            ]));
            assert_eq!(news, News::default());
        }
        // One changes, one clears.
        let news = said.read(facts(&[("app-1", no_token), ("app-2", "not found")]));
        assert_eq!(news.new, facts(&[("app-2", "not found")]));
        // Cleared and back: said again.
        said.read(facts(&[]));
        let news = said.read(facts(&[("app-1", no_token)]));
        assert_eq!(news.new, facts(&[("app-1", no_token)]));
    }
}
