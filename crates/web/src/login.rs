//! Who may use the dashboard. `ao dashboard` (another process) issues a one-time login
//! token: it keeps only the token's digest, in a 0700 directory under `$AO_HOME`, and
//! prints the token in the URL. The host takes the digest's file away when the token is
//! used (so it works once, and only within [`LOGIN_FOR`]) and answers with a session
//! cookie, whose digest it keeps in memory. Scripts send the config's `dashboard.token`
//! as a bearer token instead. No token is ever written whole, logged or sent back.

use ring::digest::{SHA256, digest};
use ring::rand::{SecureRandom, SystemRandom};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// How long a login token from `ao dashboard` may wait to be used.
pub const LOGIN_FOR: Duration = Duration::from_secs(10 * 60);

/// Where the pending logins' digests are kept.
pub fn logins_dir(home: &Path) -> PathBuf {
    home.join("dashboard").join("logins")
}

/// A random token: 32 bytes, hex.
pub fn random_token() -> std::io::Result<String> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| std::io::Error::other("the system's random source failed"))?;
    Ok(hex(&bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The digest a token is known by.
fn digest_of(token: &str) -> String {
    hex(digest(&SHA256, token.as_bytes()).as_ref())
}

/// Issues a one-time login token for the host of `home` to accept.
pub fn issue_login(home: &Path) -> std::io::Result<String> {
    let dir = logins_dir(home);
    std::fs::create_dir_all(&dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            dir.parent().unwrap_or(&dir),
            std::fs::Permissions::from_mode(0o700),
        )?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
    }
    forget_expired(&dir);
    let token = random_token()?;
    std::fs::write(dir.join(digest_of(&token)), b"")?;
    Ok(token)
}

/// Logins never used: removed once expired, by whoever issues the next.
fn forget_expired(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        if e.metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().unwrap_or_default() > LOGIN_FOR)
        {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Takes the login `token`: true when it was issued, not used and not expired. Only one
/// caller can take it (the file's removal decides).
pub fn take_login(home: &Path, token: &str) -> bool {
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return false;
    }
    let file = logins_dir(home).join(digest_of(token));
    let fresh = std::fs::metadata(&file)
        .and_then(|m| m.modified())
        .is_ok_and(|t| {
            SystemTime::now()
                .duration_since(t)
                .is_ok_and(|age| age <= LOGIN_FOR)
        });
    std::fs::remove_file(&file).is_ok() && fresh
}

/// The sessions logged in to this host, by their cookie's digest.
#[derive(Default)]
pub struct Sessions {
    known: Mutex<HashSet<String>>,
}

impl Sessions {
    /// A new session; its cookie's value.
    pub fn open(&self) -> std::io::Result<String> {
        let cookie = random_token()?;
        self.lock().insert(digest_of(&cookie));
        Ok(cookie)
    }

    /// Whether `cookie` is a session's.
    pub fn knows(&self, cookie: &str) -> bool {
        self.lock().contains(&digest_of(cookie))
    }

    /// Ends the session of `cookie`.
    pub fn close(&self, cookie: &str) {
        self.lock().remove(&digest_of(cookie));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.known.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Whether `given` is `expected`, compared in time that does not depend on where they
/// differ (digests of both, compared whole).
pub fn same_secret(given: &str, expected: &str) -> bool {
    let a = digest(&SHA256, given.as_bytes());
    let b = digest(&SHA256, expected.as_bytes());
    a.as_ref()
        .iter()
        .zip(b.as_ref())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_login_token_works_once() {
        let home = tempfile_dir();
        let token = issue_login(&home).unwrap();
        assert!(!take_login(&home, &"0".repeat(64)));
        assert!(take_login(&home, &token));
        assert!(!take_login(&home, &token));
        // Only its digest was ever on disk.
        assert!(!logins_dir(&home).join(&token).exists());
    }

    #[test]
    fn sessions_and_secrets() {
        let s = Sessions::default();
        let c = s.open().unwrap();
        assert!(s.knows(&c) && !s.knows("other"));
        s.close(&c);
        assert!(!s.knows(&c));
        assert!(same_secret("abc", "abc") && !same_secret("abc", "abd"));
    }

    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "ao-web-login-{}-{}",
            std::process::id(),
            random_token().unwrap()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
