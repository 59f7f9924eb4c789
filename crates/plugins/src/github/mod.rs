//! GitHub access shared by the `github` tracker and scm: the token, the host's API
//! addresses, and requests through octocrab with ao's own handling of what octocrab
//! leaves to its caller (see ARCHITECTURE.md, "GitHub"):
//!
//! - GraphQL goes to the host's absolute GraphQL address through a client whose base is
//!   that address's origin (octocrab's `graphql()` posts to `<base>/graphql`, wrong for an
//!   Enterprise host's `/api/v3` base, and octocrab sends the token only on requests
//!   without an authority of their own, so an absolute URL would go out unauthenticated);
//! - a GraphQL reply's `data` and `errors` are both read, so one missing item does not
//!   sink a batch (octocrab's `graphql()` drops `data` when `errors` is present);
//! - conditional requests send `If-None-Match` and read the status themselves (octocrab's
//!   cache keys on the URI alone and hides the 304);
//! - one rustls crypto provider (ring) is installed before the first client is built;
//! - failures become one sentence saying what happened and what to do, with bounded
//!   retries for 5xx answers, time-outs and GitHub's secondary rate limit.

#[cfg(feature = "github")]
pub mod auth;
#[cfg(feature = "github")]
mod client;
#[cfg(feature = "github")]
pub mod doctor;
pub mod endpoint;

#[cfg(feature = "github")]
pub use client::*;

/// Whether `host` is GitHub's: github.com, or an Enterprise host (one whose name says
/// github, which is how such hosts are named in practice).
pub fn is_github_host(host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    host == "github.com" || host.split(['.', '-']).any(|part| part == "github")
}

/// Whether `host` is github.com itself.
pub fn is_github_com(host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    host == "github.com" || host == "www.github.com"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_github_hosts_from_others() {
        assert!(is_github_com("github.com"));
        assert!(is_github_host("github.example.com"));
        assert!(!is_github_com("github.example.com"));
        assert!(is_github_host("ghe-github.corp"));
        assert!(!is_github_host("gitlab.com"));
        assert!(!is_github_host("bitbucket.org"));
    }
}
