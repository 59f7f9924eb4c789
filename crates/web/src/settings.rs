//! Where the dashboard listens and who may use it, from the config and `ao start`'s
//! flags. Safe by default: loopback only, and an address other machines can reach only
//! with `dashboard.token` set.

use ao_core::config::{
    AttentionZones, Config, DASHBOARD_HOST, DASHBOARD_PORT, SecretText, expand_path, process_env,
};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// What the dashboard serves with.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The address it listens on.
    pub ip: IpAddr,
    /// Its port (0: any free one, for tests).
    pub port: u16,
    /// The bearer token for scripts, and what allows an address beyond loopback.
    pub token: Option<SecretText>,
    /// How the board groups sessions.
    pub zones: AttentionZones,
    /// Further names it answers to (a tunnel's), besides its own address.
    pub allowed_hosts: Vec<String>,
    /// The certificate and key to serve HTTPS with.
    pub tls: Option<TlsFiles>,
    /// `$AO_HOME`: where logins are issued and the address is published.
    pub home: PathBuf,
    /// The paths that receive the scm's webhooks (`scm.webhook` of the projects).
    pub webhooks: Vec<crate::webhook::Route>,
    /// What is wrong with them (a secret not set), for the log.
    pub webhook_notes: Vec<String>,
}

/// `dashboard.tls`, its paths resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain (PEM).
    pub cert: PathBuf,
    /// Its private key (PEM).
    pub key: PathBuf,
}

/// Why the dashboard's settings are refused.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// `dashboard.host` is not an address.
    #[error(
        "dashboard.host `{0}` is not an IP address; write 127.0.0.1 (the default), ::1, or an address of this machine"
    )]
    Host(String),
    /// `port` does not fit a port.
    #[error("port {0} is not a TCP port; write one from 1 to 65535 (the default is 3000)")]
    Port(u32),
    /// An address other machines reach, without a token.
    #[error(
        "the dashboard would listen on {0}, which other machines can reach, and dashboard.token is not set: anyone who reaches it could drive your agents"
    )]
    OpenWithoutToken(IpAddr),
    /// An address other machines reach, over plain HTTP.
    #[error(
        "the dashboard would listen on {0}, which other machines can reach, over plain HTTP: its login links and cookies would cross the network readable"
    )]
    OpenWithoutTls(IpAddr),
}

impl SettingsError {
    /// What to do.
    pub fn hint(&self) -> &'static str {
        match self {
            SettingsError::OpenWithoutToken(_) => {
                "set dashboard.token (as `${AO_DASHBOARD_TOKEN}`, from the environment), or keep dashboard.host at 127.0.0.1 and reach it through a tunnel or VPN; `ao start --no-dashboard` runs without it"
            }
            SettingsError::OpenWithoutTls(_) => {
                "set dashboard.tls: { cert: FILE, key: FILE } (PEM), or keep dashboard.host at 127.0.0.1 and reach it through a tunnel or VPN that encrypts"
            }
            _ => "fix the value in agent-orchestrator.yaml, or `ao start --no-dashboard`",
        }
    }
}

impl Settings {
    /// The settings of `config` (whose file is in `base`), with `ao start --port`
    /// (`port`) over its `port`.
    pub fn of(
        config: &Config,
        port: Option<u16>,
        home: &Path,
        base: &Path,
    ) -> Result<Settings, SettingsError> {
        let d = config.dashboard.clone().unwrap_or_default();
        let host = d.host.as_deref().unwrap_or(DASHBOARD_HOST);
        let ip = match host {
            "localhost" => IpAddr::from([127, 0, 0, 1]),
            h => h
                .trim_matches(['[', ']'])
                .parse()
                .map_err(|_| SettingsError::Host(h.to_owned()))?,
        };
        let port = match port {
            Some(p) => p,
            None => {
                let p = config.port.unwrap_or(DASHBOARD_PORT);
                u16::try_from(p)
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or(SettingsError::Port(p))?
            }
        };
        let token = d.token.filter(|t| !t.expose().is_empty());
        let tls = d.tls.map(|t| TlsFiles {
            cert: expand_path(&t.cert, base, &process_env),
            key: expand_path(&t.key, base, &process_env),
        });
        if !ip.is_loopback() && token.is_none() {
            return Err(SettingsError::OpenWithoutToken(ip));
        }
        if !ip.is_loopback() && tls.is_none() {
            return Err(SettingsError::OpenWithoutTls(ip));
        }
        let (webhooks, webhook_notes) =
            crate::webhook::routes(config, &|var| std::env::var(var).ok());
        Ok(Settings {
            webhooks,
            webhook_notes,
            ip,
            port,
            token,
            zones: d.attention_zones.unwrap_or_default(),
            allowed_hosts: d.allowed_hosts,
            tls,
            home: home.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A config of no projects with `pairs` (`key` or `section.key`) set.
    fn config(pairs: &[(&str, serde_json::Value)]) -> Config {
        let mut root = serde_json::json!({ "projects": {} });
        for (path, value) in pairs {
            match path.split_once('.') {
                Some((a, b)) => root[a][b] = value.clone(),
                None => root[*path] = value.clone(),
            }
        }
        serde_json::from_value(root).unwrap()
    }

    #[test]
    fn loopback_by_default_and_beyond_it_only_with_a_token_and_tls() {
        let home = Path::new("/tmp");
        let of = |pairs: &[(&str, serde_json::Value)], port| {
            Settings::of(&config(pairs), port, home, Path::new("/etc/ao"))
        };
        let s = of(&[], None).unwrap();
        assert_eq!((s.ip.to_string(), s.port), ("127.0.0.1".into(), 3000));
        assert_eq!((s.zones, s.tls), (AttentionZones::Simple, None));
        assert_eq!(of(&[("port", 4000.into())], Some(5000)).unwrap().port, 5000);
        let open = of(&[("dashboard.host", "0.0.0.0".into())], None).unwrap_err();
        assert!(matches!(open, SettingsError::OpenWithoutToken(_)), "{open}");
        let token = ("dashboard.token", serde_json::Value::from("t0ken"));
        let open = of(&[("dashboard.host", "0.0.0.0".into()), token.clone()], None);
        assert!(
            matches!(open, Err(SettingsError::OpenWithoutTls(_))),
            "{open:?}"
        );
        let tls = serde_json::json!({ "cert": "cert.pem", "key": "/keys/key.pem" });
        let s = of(
            &[
                ("dashboard.host", "0.0.0.0".into()),
                token,
                ("dashboard.tls", tls),
            ],
            None,
        )
        .unwrap();
        assert!(s.ip.is_unspecified());
        assert_eq!(
            s.tls,
            Some(TlsFiles {
                cert: "/etc/ao/cert.pem".into(),
                key: "/keys/key.pem".into()
            })
        );
        assert!(format!("{s:?}").contains("<hidden>") && !format!("{s:?}").contains("t0ken"));
        assert!(matches!(
            of(&[("port", 70000.into())], None),
            Err(SettingsError::Port(70000))
        ));
        assert!(matches!(
            of(&[("dashboard.host", "example.com".into())], None),
            Err(SettingsError::Host(_))
        ));
    }
}
