//! TLS towards Vault, as the `vault` CLI configures it: `VAULT_CACERT` (a PEM bundle),
//! `VAULT_CAPATH` (a directory of PEM files), a client certificate, `VAULT_SKIP_VERIFY`, and
//! `VAULT_TLS_SERVER_NAME` (the name sent as SNI and checked in the certificate).

use std::net::SocketAddr;
use std::path::Path;

use reqwest::{Certificate, ClientBuilder, Identity};

use super::settings::Tls;
use crate::error::{Error, Result};

fn certs(var: &'static str, path: &Path) -> Result<Vec<Certificate>> {
    let bad = |e: String| Error::config(var, format!("{}: {e}", path.display()));
    let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let certs = Certificate::from_pem_bundle(&pem).map_err(|e| bad(e.to_string()))?;
    if certs.is_empty() {
        return Err(bad("holds no PEM certificate".into()));
    }
    Ok(certs)
}

pub fn configure(mut builder: ClientBuilder, tls: &Tls, addr: &str) -> Result<ClientBuilder> {
    let mut roots = Vec::new();
    if let Some(path) = &tls.cacert {
        roots.extend(certs("VAULT_CACERT", path)?);
    }
    if let Some(dir) = &tls.capath {
        let bad =
            |e: std::io::Error| Error::config("VAULT_CAPATH", format!("{}: {e}", dir.display()));
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map_err(bad)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        for f in files {
            // Like `vault`, take every PEM file in the directory and skip the rest.
            if let Ok(c) = certs("VAULT_CAPATH", &f) {
                roots.extend(c);
            }
        }
        if roots.is_empty() {
            return Err(Error::config(
                "VAULT_CAPATH",
                format!("{} holds no PEM certificate", dir.display()),
            ));
        }
    }
    if !roots.is_empty() {
        builder = builder.tls_certs_only(roots);
    }
    if let (Some(cert), Some(key)) = (&tls.client_cert, &tls.client_key) {
        let read = |var: &'static str, p: &Path| {
            std::fs::read(p).map_err(|e| Error::config(var, format!("{}: {e}", p.display())))
        };
        let mut pem = read("VAULT_CLIENT_CERT", cert)?;
        pem.push(b'\n');
        pem.extend(read("VAULT_CLIENT_KEY", key)?);
        let id = Identity::from_pem(&pem).map_err(|e| {
            Error::config(
                "VAULT_CLIENT_CERT",
                format!("{} with VAULT_CLIENT_KEY: {e}", cert.display()),
            )
        })?;
        builder = builder.identity(id);
    }
    if tls.skip_verify {
        tracing::warn!(
            %addr,
            "VAULT_SKIP_VERIFY is set: TLS certificates are NOT verified; anyone on the path can read every secret"
        );
        builder = builder.tls_danger_accept_invalid_certs(true);
    }
    Ok(builder)
}

/// With `VAULT_TLS_SERVER_NAME`, the base URL names the server by that name, so that it is sent
/// as SNI and checked against the certificate, and the name resolves to where the address points
/// (resolved once, here). Returns the builder and the base URL of requests.
pub fn server_name(
    builder: ClientBuilder,
    tls: &Tls,
    addr: &str,
) -> Result<(ClientBuilder, String)> {
    let Some(name) = tls
        .server_name
        .as_deref()
        .filter(|_| addr.starts_with("https://"))
    else {
        return Ok((builder, addr.to_string()));
    };
    let bad = |e: String| Error::config("VAULT_TLS_SERVER_NAME", e);
    let mut url = reqwest::Url::parse(addr).map_err(|e| bad(format!("{addr}: {e}")))?;
    let targets: Vec<SocketAddr> = url
        .socket_addrs(|| None)
        .map_err(|e| bad(format!("cannot resolve {addr}: {e}")))?;
    url.set_host(Some(name))
        .map_err(|e| bad(format!("`{name}` is not a host name: {e}")))?;
    Ok((
        builder.resolve_to_addrs(name, &targets),
        url.as_str().trim_end_matches('/').to_string(),
    ))
}
