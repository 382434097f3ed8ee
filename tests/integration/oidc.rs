//! Auth configs holding a write-only secret that DR keeps on its own: a jwt / oidc config with an
//! OIDC client (`oidc_client_secret`) and a kubernetes config with a `token_reviewer_jwt`. Against
//! real OpenBao and a Python stand-in OpenID provider (discovery document, JWKS, and a token
//! endpoint that logs the client credentials it is sent), so a test can prove which client secret
//! DR still logs in with.

use std::path::PathBuf;

use serde_json::{Value, json};

use super::support::{Background, Bao, Pair, Run, free_port, python_stand_in};

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
struct Provider {
    _child: Background,
    url: String,
    /// One line per code exchange: the client id and secret the server sent.
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Provider {
    fn start() -> Provider {
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
    fn client_in_use(&self, bao: &Bao, mount: &str, role: &str) -> String {
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

/// Exports the source and imports it into the target; the import's exit code is checked.
#[track_caller]
fn sync(p: &Pair, code: i32) -> Run {
    p.export();
    let run = p.import(&[]);
    run.assert_code(code);
    run
}

/// A full-check import of the latest snapshot: compares every object with the target.
#[track_caller]
fn full_check(p: &Pair, code: i32) -> Run {
    let run = p.import_args(&["import", "--full-check"], &[]);
    run.assert_code(code);
    run
}

fn config(bao: &Bao, mount: &str) -> Value {
    bao.read(&format!("auth/{mount}/config")).unwrap()["data"].clone()
}

/// A jwt / oidc config on `provider`, with `client` as (id, secret) when given.
fn oidc_config(provider: &Provider, default_role: &str, client: Option<(&str, &str)>) -> Value {
    let mut body = json!({"oidc_discovery_url": provider.url, "default_role": default_role});
    if let Some((id, secret)) = client {
        body["oidc_client_id"] = json!(id);
        body["oidc_client_secret"] = json!(secret);
    }
    body
}

/// Enables `mount` (of its own name's type) with a config on `provider` and an OIDC role `r`.
fn oidc_mount(bao: &Bao, provider: &Provider, mount: &str, client: Option<(&str, &str)>) {
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

// A jwt / oidc config with an OIDC client was written back with its `oidc_client_id` but without
// the secret it cannot read, which the server refuses: every import ended partial.
#[test]
fn an_oidc_client_on_the_source_is_left_out_and_said_so_the_rest_arrives() {
    let provider = Provider::start();
    let p = Pair::new();
    for mount in ["jwt", "oidc"] {
        oidc_mount(&p.src, &provider, mount, Some(("dc-client", "dc-secret")));
    }
    let run = sync(&p, 0);
    assert!(!run.all().contains("dc-secret"));
    for mount in ["jwt", "oidc"] {
        let line = format!(
            "not copied: auth_item auth/{mount}/config: `oidc_client_secret` is write-only"
        );
        assert!(run.stdout.contains(&line), "{}", run.stdout);
        let dr = config(&p.dst, mount);
        assert_eq!(dr["oidc_discovery_url"], json!(provider.url));
        assert_eq!(dr["default_role"], json!("r"));
        assert_eq!(dr["oidc_client_id"], json!(""), "sent without its secret");
        assert!(p.dst.read(&format!("auth/{mount}/role/r")).is_some());
    }
    assert!(
        run.stdout
            .contains("set `oidc_client_id` and `oidc_client_secret` on the target"),
        "{}",
        run.stdout
    );
    let again = full_check(&p, 0);
    assert!(again.stdout.contains("(0 writes)"), "{}", again.stdout);
}

// Once DR holds its own client secret, the importer writes nothing while the readable fields
// match, and refuses (with the way out) a change that would need a write, which would clear it.
#[test]
fn drs_own_oidc_client_secret_is_kept_and_never_cleared() {
    let provider = Provider::start();
    let p = Pair::new();
    oidc_mount(&p.src, &provider, "oidc", Some(("dc-client", "dc-secret")));
    sync(&p, 0);
    let own = oidc_config(&provider, "r", Some(("dc-client", "dr-secret")));
    p.dst.write("auth/oidc/config", own);
    assert_eq!(
        provider.client_in_use(&p.dst, "oidc", "r"),
        "dc-client dr-secret"
    );

    let again = full_check(&p, 0);
    assert!(again.stdout.contains("(0 writes)"), "{}", again.stdout);
    assert_eq!(config(&p.dst, "oidc")["oidc_client_id"], json!("dc-client"));
    assert_eq!(
        provider.client_in_use(&p.dst, "oidc", "r"),
        "dc-client dr-secret"
    );

    p.src.write(
        "auth/oidc/config",
        oidc_config(&provider, "r2", Some(("dc-client", "dc-secret"))),
    );
    let run = sync(&p, 3);
    assert!(
        run.all()
            .contains("default_role differ, but writing the config would clear the target's own `oidc_client_secret`"),
        "{}",
        run.all()
    );
    assert_eq!(config(&p.dst, "oidc")["default_role"], json!("r"));
    assert_eq!(
        provider.client_in_use(&p.dst, "oidc", "r"),
        "dc-client dr-secret"
    );
}

// The source's jwt config has no OIDC client, DR added its own: an import (a full check) sent the
// source's config, and the server's write, which replaces the whole config, dropped DR's client.
#[test]
fn an_oidc_client_only_dr_has_is_never_cleared() {
    let provider = Provider::start();
    let p = Pair::new();
    oidc_mount(&p.src, &provider, "jwt", None);
    sync(&p, 0);
    let own = oidc_config(&provider, "r", Some(("dr-client", "dr-secret")));
    p.dst.write("auth/jwt/config", own);

    let again = full_check(&p, 0);
    assert!(again.stdout.contains("(0 writes)"), "{}", again.stdout);
    assert_eq!(config(&p.dst, "jwt")["oidc_client_id"], json!("dr-client"));
    assert_eq!(
        provider.client_in_use(&p.dst, "jwt", "r"),
        "dr-client dr-secret"
    );

    p.src
        .write("auth/jwt/config", oidc_config(&provider, "r2", None));
    let run = sync(&p, 3);
    assert!(
        run.all()
            .contains("would clear the target's own `oidc_client_secret`"),
        "{}",
        run.all()
    );
    assert_eq!(
        provider.client_in_use(&p.dst, "jwt", "r"),
        "dr-client dr-secret"
    );
}

// Vault 1.16+ (and OpenBao) report `token_reviewer_jwt_set` and replace the whole kubernetes
// config on write: with DR holding its own reviewer JWT and the readable fields equal, whether
// the source has a JWT or not, the importer must write nothing (a write would clear DR's).
#[test]
fn drs_own_reviewer_jwt_means_no_write_when_only_write_only_fields_differ() {
    let p = Pair::new();
    let cert = {
        let bundle = std::fs::read_to_string("/etc/ssl/certs/ca-certificates.crt").unwrap();
        let start = bundle.find("-----BEGIN CERTIFICATE-----").unwrap();
        let end = bundle[start..].find("-----END CERTIFICATE-----").unwrap() + start;
        format!("{}-----END CERTIFICATE-----\n", &bundle[start..end])
    };
    let kube = |jwt: Option<&str>| {
        let mut body = json!({"kubernetes_host": "https://k8s.example:6443",
                              "kubernetes_ca_cert": cert, "issuer": "https://iss"});
        if let Some(jwt) = jwt {
            body["token_reviewer_jwt"] = json!(jwt);
        }
        body
    };
    p.src
        .write("sys/auth/kubernetes", json!({"type": "kubernetes"}));
    p.src
        .write("auth/kubernetes/config", kube(Some("dc-reviewer-jwt")));
    sync(&p, 0);
    p.dst
        .write("auth/kubernetes/config", kube(Some("dr-reviewer-jwt")));

    let again = full_check(&p, 0);
    assert!(again.stdout.contains("(0 writes)"), "{}", again.stdout);
    assert_eq!(
        config(&p.dst, "kubernetes")["token_reviewer_jwt_set"],
        json!(true)
    );

    p.src.write("auth/kubernetes/config", kube(None));
    let run = sync(&p, 0);
    assert!(run.stdout.contains("(0 writes)"), "{}", run.stdout);
    let again = full_check(&p, 0);
    assert!(again.stdout.contains("(0 writes)"), "{}", again.stdout);
    assert_eq!(
        config(&p.dst, "kubernetes")["token_reviewer_jwt_set"],
        json!(true)
    );
}
