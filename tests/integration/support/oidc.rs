//! A stand-in OpenID provider (discovery document, JWKS, and a token endpoint that logs the
//! client credentials it is sent), so that a test can prove which OIDC client a server logs in
//! with; and the jwt / oidc mounts tests configure against it.

use std::path::PathBuf;

use serde_json::{Value, json};

use super::{Background, Bao, free_port, python_stand_in};

const PROVIDER: &str = r#"
import base64, json, sys, urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer
port, log = int(sys.argv[1]), sys.argv[2]
base = "http://127.0.0.1:%d" % port
docs = {
    "/.well-known/openid-configuration": {
        "issuer": base, "jwks_uri": base + "/jwks",
        "authorization_endpoint": base + "/authorize", "token_endpoint": base + "/token",
        "response_types_supported": ["code"], "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"]},
    "/jwks": {"keys": []},
}
class Provider(BaseHTTPRequestHandler):
    def answer(self, status, doc):
        data = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def do_GET(self):
        doc = docs.get(self.path.split("?")[0])
        self.answer(200 if doc is not None else 404, doc or {})
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        form = urllib.parse.parse_qs(body)
        auth = self.headers.get("Authorization") or ""
        if auth.startswith("Basic "):
            pair = base64.b64decode(auth[6:]).decode().split(":", 1)
            pair = [urllib.parse.unquote_plus(p) for p in pair]
        else:
            pair = [form.get("client_id", [""])[0], form.get("client_secret", [""])[0]]
        with open(log, "a") as f:
            f.write("%s %s\n" % (pair[0], pair[1]))
        self.answer(400, {"error": "invalid_grant"})
    def log_message(self, *args):
        pass
HTTPServer(("127.0.0.1", port), Provider).serve_forever()
"#;

/// The stand-in OpenID provider.
pub struct Provider {
    _child: Background,
    pub url: String,
    /// One line per code exchange: the client id and secret the server sent.
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Provider {
    pub fn start() -> Provider {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("token.log");
        let port = free_port();
        let child = python_stand_in(PROVIDER, port, &[log.to_str().unwrap()]);
        Provider {
            _child: child,
            url: format!("http://127.0.0.1:{port}"),
            log,
            _dir: dir,
        }
    }

    /// Starts an OIDC login on `bao`'s mount through `role` and hands the provider a code, so
    /// that the server exchanges it with its client credentials: returns the `client_id secret`
    /// the provider was sent (the exchange itself fails, which is no matter).
    pub fn client_in_use(&self, bao: &Bao, mount: &str, role: &str) -> String {
        let _ = std::fs::remove_file(&self.log);
        let url = bao.write(
            &format!("auth/{mount}/oidc/auth_url"),
            json!({"role": role, "redirect_uri": REDIRECT}),
        )["data"]["auth_url"]
            .as_str()
            .unwrap()
            .to_string();
        let state = url
            .split(['?', '&'])
            .find_map(|p| p.strip_prefix("state="))
            .expect("state in the auth URL");
        let callback = format!(
            "{}/v1/auth/{mount}/oidc/callback?state={state}&code=some-code",
            bao.addr
        );
        let answer = reqwest::blocking::get(callback).unwrap().text().unwrap();
        assert!(answer.contains("invalid_grant"), "{answer}");
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        log.lines().last().unwrap_or_default().to_string()
    }
}

const REDIRECT: &str = "http://localhost:8250/oidc/callback";

/// A jwt / oidc config on `provider`, with `client` as (id, secret) when given.
pub fn oidc_config(provider: &Provider, default_role: &str, client: Option<(&str, &str)>) -> Value {
    let mut body = json!({"oidc_discovery_url": provider.url, "default_role": default_role});
    if let Some((id, secret)) = client {
        body["oidc_client_id"] = json!(id);
        body["oidc_client_secret"] = json!(secret);
    }
    body
}

/// Enables `mount` (of its own name's type) with a config on `provider` and an OIDC role `r`.
pub fn oidc_mount(bao: &Bao, provider: &Provider, mount: &str, client: Option<(&str, &str)>) {
    bao.write(&format!("sys/auth/{mount}"), json!({"type": mount}));
    bao.write(
        &format!("auth/{mount}/config"),
        oidc_config(provider, "r", client),
    );
    bao.write(
        &format!("auth/{mount}/role/r"),
        json!({"role_type": "oidc", "user_claim": "sub", "allowed_redirect_uris": [REDIRECT]}),
    );
}
