//! Where Vault is and how to talk to it, from `BAO_*` or `VAULT_*` variables as the `bao` and
//! `vault` CLIs read them: the address, namespace, request timeout (`VAULT_CLIENT_TIMEOUT`) and
//! rate cap (`VAULT_RATE_LIMIT`). Like OpenBao's api package, a `BAO_*` variable wins over its
//! `VAULT_*` spelling; a flag wins over both.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

use super::options::duration;
use super::{Settings, set};
use crate::error::{Error, Result};
use crate::vault::{DEFAULT_CLIENT_TIMEOUT, RateLimit, VaultConfig};

/// `VAULT_*` and `BAO_*` variables, as the `vault` and `bao` CLIs read them.
#[derive(Deserialize, Default)]
pub(super) struct VaultEnv {
    pub(super) addr: Option<String>,
    pub(super) token: Option<String>,
    pub(super) token_file: Option<String>,
    pub(super) namespace: Option<String>,
    pub(super) cacert: Option<String>,
    pub(super) capath: Option<String>,
    pub(super) client_cert: Option<String>,
    pub(super) client_key: Option<String>,
    pub(super) skip_verify: Option<String>,
    pub(super) tls_server_name: Option<String>,
    pub(super) max_retries: Option<String>,
    pub(super) client_timeout: Option<String>,
    pub(super) rate_limit: Option<String>,
    pub(super) proxy_addr: Option<String>,
    pub(super) http_proxy: Option<String>,
}

impl fmt::Debug for VaultEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultEnv")
            .field("addr", &self.addr)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("token_file", &self.token_file)
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

/// `VAULT_RATE_LIMIT` as the `vault` CLI reads it: `rate[:burst]`, a rate in requests per second
/// (fractions allowed) and a whole burst, which defaults to the rate (at least 1).
pub fn parse_rate_limit(s: &str) -> Option<RateLimit> {
    let (rate, burst) = match s.trim().split_once(':') {
        Some((r, b)) => (r.trim(), Some(b.trim())),
        None => (s.trim(), None),
    };
    let per_second = rate
        .parse::<f64>()
        .ok()
        .filter(|r| r.is_finite() && *r > 0.0)?;
    let burst = match burst {
        Some(b) => b.parse::<u32>().ok().filter(|b| *b >= 1)?,
        None => (per_second as u32).max(1),
    };
    Some(RateLimit { per_second, burst })
}

/// The `BAO_*` spelling of each `VAULT_*` variable an error may name.
const BAO_SPELLING: &[(&str, &str)] = &[
    ("VAULT_CLIENT_TIMEOUT", "BAO_CLIENT_TIMEOUT"),
    ("VAULT_RATE_LIMIT", "BAO_RATE_LIMIT"),
    ("VAULT_MAX_RETRIES", "BAO_MAX_RETRIES"),
    ("VAULT_SKIP_VERIFY", "BAO_SKIP_VERIFY"),
    ("VAULT_PROXY_ADDR", "BAO_PROXY_ADDR"),
    ("VAULT_HTTP_PROXY", "BAO_HTTP_PROXY"),
];

impl Settings {
    /// The name of the variable `vault_var` read for `field`, for an error about its value.
    pub(super) fn vault_var_name(
        &self,
        field: impl Fn(&VaultEnv) -> &Option<String>,
        vault: &'static str,
    ) -> &'static str {
        match set(field(&self.bao)) {
            Some(_) => BAO_SPELLING
                .iter()
                .find(|(v, _)| *v == vault)
                .map_or(vault, |(_, b)| b),
            None => vault,
        }
    }

    /// A `BAO_*` value, else the `VAULT_*` one (OpenBao's order).
    pub(super) fn vault_var(&self, field: impl Fn(&VaultEnv) -> &Option<String>) -> Option<String> {
        set(field(&self.bao))
            .or_else(|| set(field(&self.vault)))
            .map(str::to_string)
    }

    /// Whether a Vault address is configured at all (`status` then includes the cluster).
    pub(super) fn vault_addr_set(&self) -> bool {
        set(&self.flags.address).is_some() || self.vault_var(|v| &v.addr).is_some()
    }

    /// How long one request may take (`VAULT_CLIENT_TIMEOUT`, default 60s).
    pub(super) fn client_timeout(&self) -> Result<Duration> {
        match self.vault_var(|v| &v.client_timeout) {
            None => Ok(DEFAULT_CLIENT_TIMEOUT),
            Some(v) => match duration("VAULT_CLIENT_TIMEOUT", Some(&v))? {
                d if d.is_zero() => {
                    Err(Error::config("VAULT_CLIENT_TIMEOUT", "must be more than 0"))
                }
                d => Ok(d),
            },
        }
    }

    /// The cap on requests per second, when set (`VAULT_RATE_LIMIT`).
    pub(super) fn rate_limit(&self) -> Result<Option<RateLimit>> {
        let var = self.vault_var_name(|v| &v.rate_limit, "VAULT_RATE_LIMIT");
        self.vault_var(|v| &v.rate_limit)
            .map(|v| {
                parse_rate_limit(&v).ok_or_else(|| {
                    Error::config(
                        var,
                        format!("expected rate[:burst] such as 50 or 20.5:40, got `{v}`"),
                    )
                })
            })
            .transpose()
    }

    /// Vault connection settings.
    pub(super) fn vault(&self) -> Result<VaultConfig> {
        let addr = set(&self.flags.address)
            .map(str::to_string)
            .or_else(|| self.vault_var(|v| &v.addr))
            .ok_or_else(|| Error::config("VAULT_ADDR", "not set (BAO_ADDR is also accepted)"))?;
        let addr = addr.trim_end_matches('/').to_string();
        if !(addr.starts_with("http://") || addr.starts_with("https://")) {
            return Err(Error::config(
                "VAULT_ADDR",
                format!("expected an http:// or https:// URL, got `{addr}`"),
            ));
        }
        let auth = self.auth()?;
        let tls = self.tls()?;
        let namespace = set(&self.flags.namespace)
            .map(str::to_string)
            .or_else(|| self.vault_var(|v| &v.namespace))
            .map(|n| n.trim_matches('/').to_string())
            .filter(|n| !n.is_empty());
        Ok(VaultConfig {
            addr,
            auth,
            namespace,
            tls,
            concurrency: self.concurrency()?,
            retry: self.retry_policy()?,
            timeout: self.client_timeout()?,
            rate_limit: self.rate_limit()?,
            proxy: self.vault_proxy()?,
        })
    }

    /// `VAULT_PROXY_ADDR`, else the older `VAULT_HTTP_PROXY` (the `vault` CLI's order), each
    /// `BAO_*` first: an `http://` or `https://` URL, which may carry credentials (never printed).
    fn vault_proxy(&self) -> Result<Option<String>> {
        let (value, name) = match self.vault_var(|v| &v.proxy_addr) {
            Some(v) => (
                v,
                self.vault_var_name(|v| &v.proxy_addr, "VAULT_PROXY_ADDR"),
            ),
            None => match self.vault_var(|v| &v.http_proxy) {
                Some(v) => (
                    v,
                    self.vault_var_name(|v| &v.http_proxy, "VAULT_HTTP_PROXY"),
                ),
                None => return Ok(None),
            },
        };
        let value = value.trim().to_string();
        let valid = (value.starts_with("http://") || value.starts_with("https://"))
            && reqwest::Proxy::all(&value).is_ok();
        match valid {
            true => Ok(Some(value)),
            false => Err(Error::config(
                name,
                "expected a proxy URL: http://host:port or https://host:port",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(vault: VaultEnv, bao: VaultEnv) -> Settings {
        Settings {
            vault,
            bao,
            replicator: Default::default(),
            flags: Default::default(),
            unknown: Vec::new(),
        }
    }

    #[test]
    fn the_proxy_is_read_like_the_vault_cli_and_a_bad_one_is_named_not_printed() {
        let both = VaultEnv {
            http_proxy: Some("http://old:3128".into()),
            proxy_addr: Some("http://new:3128".into()),
            ..VaultEnv::default()
        };
        let bao = VaultEnv {
            proxy_addr: Some("https://bao:3129".into()),
            ..VaultEnv::default()
        };
        let proxy = |s: Settings| s.vault_proxy().unwrap();
        assert_eq!(
            proxy(with(both, VaultEnv::default())).as_deref(),
            Some("http://new:3128")
        );
        let old = VaultEnv {
            http_proxy: Some("http://old:3128".into()),
            ..VaultEnv::default()
        };
        assert_eq!(
            proxy(with(old, VaultEnv::default())).as_deref(),
            Some("http://old:3128")
        );
        assert_eq!(
            proxy(with(VaultEnv::default(), bao)).as_deref(),
            Some("https://bao:3129")
        );
        assert_eq!(proxy(with(VaultEnv::default(), VaultEnv::default())), None);
        let bad = VaultEnv {
            proxy_addr: Some("user:s3cret@proxy".into()),
            ..VaultEnv::default()
        };
        let e = with(VaultEnv::default(), bad)
            .vault_proxy()
            .unwrap_err()
            .to_string();
        assert!(e.contains("BAO_PROXY_ADDR") && !e.contains("s3cret"), "{e}");
    }

    #[test]
    fn rate_limits_read_like_the_vault_cli() {
        let r = parse_rate_limit("50").unwrap();
        assert_eq!((r.per_second, r.burst), (50.0, 50));
        let r = parse_rate_limit("0.5").unwrap();
        assert_eq!((r.per_second, r.burst), (0.5, 1));
        let r = parse_rate_limit("20.5:40").unwrap();
        assert_eq!((r.per_second, r.burst), (20.5, 40));
        for bad in ["", "0", "-1", "fast", "10:0", "10:x", "NaN", "inf"] {
            assert_eq!(parse_rate_limit(bad), None, "{bad}");
        }
    }
}
