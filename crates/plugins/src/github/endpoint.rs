//! Where a GitHub host's REST and GraphQL APIs are.

/// The two API addresses of one GitHub host.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoints {
    /// The host the section names (`github.com`, `github.example.com`).
    pub host: String,
    /// The REST base, without a trailing slash (`https://api.github.com`).
    pub rest: String,
    /// The GraphQL address (`https://api.github.com/graphql`).
    pub graphql: String,
}

/// The API addresses for `host`, from the section's `apiUrl` and `graphqlUrl`, then the
/// `GITHUB_API_URL` environment variable, then the host itself: github.com's API is at
/// `api.github.com`, an Enterprise host's at `https://HOST/api/v3` and
/// `https://HOST/api/graphql`. With a REST override, GraphQL is `/api/graphql` on the same
/// host when the REST base ends in `/api/v3`, else `<apiUrl>/graphql`.
pub fn endpoints(
    host: Option<&str>,
    api_url: Option<&str>,
    graphql_url: Option<&str>,
    env_api_url: Option<&str>,
) -> Result<Endpoints, String> {
    let host = host
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .unwrap_or("github.com")
        .trim_end_matches('/')
        .to_ascii_lowercase();
    if host.contains("://") || host.contains('/') {
        return Err(format!(
            "`host` is a host name (github.com, github.example.com), not `{host}`; give a full API address as `apiUrl`"
        ));
    }
    let override_url = api_url
        .or(env_api_url)
        .map(str::trim)
        .filter(|u| !u.is_empty());
    let rest = match override_url {
        Some(url) => {
            let url = url.trim_end_matches('/');
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(format!(
                    "the GitHub API address `{url}` is not an http(s) URL"
                ));
            }
            url.to_owned()
        }
        None if host == "github.com" => "https://api.github.com".to_owned(),
        None => format!("https://{host}/api/v3"),
    };
    let graphql = match graphql_url.map(str::trim).filter(|u| !u.is_empty()) {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None if override_url.is_none() && host == "github.com" => {
            "https://api.github.com/graphql".to_owned()
        }
        None if override_url.is_none() => format!("https://{host}/api/graphql"),
        None => match rest.strip_suffix("/api/v3") {
            Some(origin) => format!("{origin}/api/graphql"),
            None => format!("{rest}/graphql"),
        },
    };
    Ok(Endpoints {
        host,
        rest,
        graphql,
    })
}

/// Splits an absolute URL into its origin (`https://host:port`) and its path (`/x/y`).
pub fn split_origin(url: &str) -> (&str, &str) {
    let after_scheme = url.find("://").map(|i| i + 3).unwrap_or(0);
    match url[after_scheme..].find('/') {
        Some(i) => url.split_at(after_scheme + i),
        None => (url, "/"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(
        host: Option<&str>,
        api: Option<&str>,
        gql: Option<&str>,
        env: Option<&str>,
    ) -> (String, String) {
        let e = endpoints(host, api, gql, env).unwrap();
        (e.rest, e.graphql)
    }

    #[test]
    fn github_com_and_enterprise_hosts() {
        assert_eq!(
            urls(None, None, None, None),
            (
                "https://api.github.com".into(),
                "https://api.github.com/graphql".into()
            )
        );
        assert_eq!(
            urls(Some("GitHub.Example.com"), None, None, None),
            (
                "https://github.example.com/api/v3".into(),
                "https://github.example.com/api/graphql".into()
            )
        );
    }

    #[test]
    fn overrides_come_from_the_section_first_then_the_environment() {
        // An Enterprise-style REST base: GraphQL beside it, at /api/graphql.
        assert_eq!(
            urls(None, None, None, Some("https://ghe.local/api/v3/")),
            (
                "https://ghe.local/api/v3".into(),
                "https://ghe.local/api/graphql".into()
            )
        );
        // Any other base (a loopback test server): GraphQL under it.
        assert_eq!(
            urls(
                Some("github.com"),
                Some("http://127.0.0.1:9"),
                None,
                Some("https://ignored")
            ),
            (
                "http://127.0.0.1:9".into(),
                "http://127.0.0.1:9/graphql".into()
            )
        );
        assert_eq!(
            urls(None, Some("http://x/api/v3"), Some("http://y/gql"), None).1,
            "http://y/gql"
        );
    }

    #[test]
    fn a_url_as_host_or_a_bare_api_url_is_refused() {
        assert!(
            endpoints(Some("https://github.example.com"), None, None, None)
                .unwrap_err()
                .contains("apiUrl")
        );
        assert!(
            endpoints(None, Some("api.example.com"), None, None)
                .unwrap_err()
                .contains("not an http(s) URL")
        );
    }

    #[test]
    fn origins_and_paths() {
        assert_eq!(
            split_origin("https://h:8/api/graphql"),
            ("https://h:8", "/api/graphql")
        );
        assert_eq!(split_origin("http://h"), ("http://h", "/"));
    }
}
