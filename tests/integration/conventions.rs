//! The `vault` CLI's conventions against real OpenBao: `BAO_*` wins over `VAULT_*` as in
//! OpenBao's api package, the new client settings (`VAULT_TLS_SERVER_NAME`, `VAULT_CLIENT_TIMEOUT`,
//! `VAULT_RATE_LIMIT`), the warning for a misspelt variable, `jwt` auth with a key pair the test
//! makes, `~/.vault-token` as the token of last resort, and text logs without colours in a pipe.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;

use super::access::start_tls_bao;
use super::support::{Background, Bao, env_for, file_store, replicator, seed, shipped_policy};

fn owned(env: &[(&str, &str)]) -> Vec<(String, String)> {
    env.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn bao_variables_win_over_vault_ones_and_misspelt_ones_are_named() {
    let bao = Bao::start();
    let store = tempfile::tempdir().unwrap();
    let store_url = file_store(store.path());
    let env = [
        ("VAULT_ADDR", "http://127.0.0.1:1"),
        ("BAO_ADDR", bao.addr.as_str()),
        ("VAULT_TOKEN", "s.wrong-token-value"),
        ("BAO_TOKEN", bao.token.as_str()),
        ("REPLICATOR_STORE", store_url.as_str()),
        ("BAO_CLIENT_TIMEOUT", "1h30m"),
        ("VAULT_MAX_RETRIES", "not-read-as-bao-wins"),
        ("BAO_MAX_RETRIES", "2"),
        ("REPLICATOR_MAXAGE", "value-never-shown"),
        ("VAULT_CACRT", "another-value-never-shown"),
        ("VAULT_SERVICE_HOST", "10.0.0.1"),
    ];
    let run = replicator(&["status"], &owned(&env));
    run.assert_code(0);
    assert!(
        run.stdout.contains(&format!("{}: not fenced", bao.addr)),
        "{}",
        run.stdout
    );
    let warned = |name: &str, meant: &str| {
        run.stderr.lines().any(|l| {
            l.contains("WARN") && l.contains(name) && l.contains(&format!("did you mean {meant}?"))
        })
    };
    assert!(
        warned("REPLICATOR_MAXAGE", "REPLICATOR_MAX_AGE"),
        "{}",
        run.stderr
    );
    assert!(warned("VAULT_CACRT", "VAULT_CACERT"), "{}", run.stderr);
    assert!(!run.stderr.contains("VAULT_SERVICE_HOST"), "{}", run.stderr);
    assert!(!run.all().contains("never-shown"), "{}", run.stderr);
    // Text logs in a pipe carry no colour codes.
    assert!(!run.stderr.contains('\u{1b}'), "{:?}", run.stderr);

    // A bad value of the new settings is one line naming the variable, exit 2.
    for (var, value) in [
        ("VAULT_CLIENT_TIMEOUT", "5 parsecs"),
        ("VAULT_CLIENT_TIMEOUT", "99999999999999999d"),
        ("VAULT_RATE_LIMIT", "fast"),
        ("BAO_RATE_LIMIT", "10:0"),
    ] {
        let mut bad = owned(&env);
        bad.push((var.to_string(), value.to_string()));
        bad.retain(|(k, _)| k != "BAO_CLIENT_TIMEOUT");
        let run = replicator(&["status"], &bad);
        run.assert_code(2);
        assert!(run.last_error_line().contains(var), "{}", run.stderr);
    }
}

#[test]
fn the_rate_limit_spaces_requests_out() {
    let bao = Bao::start();
    let env = owned(&[
        ("BAO_ADDR", bao.addr.as_str()),
        ("BAO_TOKEN", bao.token.as_str()),
        ("VAULT_RATE_LIMIT", "2:1"),
    ]);
    // `status` asks at least three things: the token's lease, the fence and the last import.
    let started = Instant::now();
    replicator(&["status"], &env).assert_code(0);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn the_tls_server_name_is_sent_and_checked() {
    let certs = tempfile::tempdir().unwrap();
    let (child, addr) = start_tls_bao(certs.path());
    let _bao = Background(child);
    let cacert = certs.path().join("vault-ca.pem").display().to_string();
    let env = |name: &str| {
        owned(&[
            ("VAULT_ADDR", addr.as_str()),
            ("VAULT_TOKEN", "tls-root"),
            ("VAULT_CACERT", cacert.as_str()),
            ("BAO_TLS_SERVER_NAME", name),
        ])
    };
    // The dev certificate names localhost: the address's IP is reached under that name.
    let run = replicator(&["status"], &env("localhost"));
    run.assert_code(0);
    assert!(run.stdout.contains(&addr), "{}", run.stdout);
    let run = replicator(&["status"], &env("not-this-server.example"));
    run.assert_code(1);
    assert!(
        run.last_error_line().contains("cannot reach Vault"),
        "{}",
        run.stderr
    );
}

/// A JWT for `claims`, signed RS256 with the PEM key at `key`, by openssl.
fn sign_jwt(key: &Path, claims: serde_json::Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": "RS256", "typ": "JWT"}).to_string());
    let body = URL_SAFE_NO_PAD.encode(claims.to_string());
    let input = format!("{header}.{body}");
    let dir = key.parent().unwrap();
    std::fs::write(dir.join("input"), &input).unwrap();
    let out = Command::new("openssl")
        .args(["dgst", "-sha256", "-sign"])
        .arg(key)
        .arg(dir.join("input"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(out.stdout))
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn jwt_auth_logs_in_with_a_jwt_the_auth_method_trusts() {
    let src = Bao::start();
    seed(&src, false);
    shipped_policy(&src, "vault-replicator-exporter", "exporter.hcl");
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key.pem");
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    openssl(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        "key.pem",
    ]);
    openssl(&["pkey", "-in", "key.pem", "-pubout", "-out", "pub.pem"]);
    let public = std::fs::read_to_string(dir.path().join("pub.pem")).unwrap();
    src.write("sys/auth/ci-jwt", json!({"type": "jwt"}));
    src.write(
        "auth/ci-jwt/config",
        json!({"jwt_validation_pubkeys": [public]}),
    );
    src.write(
        "auth/ci-jwt/role/replicator",
        json!({"role_type": "jwt", "user_claim": "sub", "bound_audiences": ["vault-replicator"],
               "bound_subject": "system:serviceaccount:vault:vault-replicator",
               "token_policies": ["vault-replicator-exporter"], "token_ttl": "10m"}),
    );
    let claims = |sub: &str| {
        json!({"sub": sub, "aud": "vault-replicator", "iss": "test",
               "iat": now(), "nbf": now() - 5, "exp": now() + 600})
    };
    let jwt = sign_jwt(&key, claims("system:serviceaccount:vault:vault-replicator"));
    let jwt_file = dir.path().join("token");
    std::fs::write(&jwt_file, &jwt).unwrap();

    let store = tempfile::tempdir().unwrap();
    let mut env = env_for(&src, &file_store(store.path()), &[]);
    env.retain(|(k, _)| k != "VAULT_TOKEN");
    env.extend(owned(&[
        ("REPLICATOR_AUTH", "jwt"),
        ("REPLICATOR_AUTH_MOUNT", "ci-jwt"),
        ("REPLICATOR_AUTH_ROLE", "replicator"),
        ("REPLICATOR_JWT_FILE", jwt_file.to_str().unwrap()),
    ]));
    let accessors = || src.list("auth/token/accessors").len();
    let before = accessors();
    let run = replicator(&["export"], &env);
    run.assert_code(0);
    assert!(run.stderr.contains("logged in to Vault"), "{}", run.stderr);
    assert_eq!(
        accessors(),
        before,
        "the login token must be revoked at exit"
    );
    assert!(!run.all().contains(&jwt));

    // A subject the role does not bind is a one-line login error naming the path.
    std::fs::write(&jwt_file, sign_jwt(&key, claims("someone-else"))).unwrap();
    let run = replicator(&["export"], &env);
    run.assert_code(1);
    assert!(
        run.last_error_line().contains("auth/ci-jwt/login"),
        "{}",
        run.stderr
    );

    // Without a role, a config error naming REPLICATOR_AUTH_ROLE.
    env.retain(|(k, _)| k != "REPLICATOR_AUTH_ROLE");
    let run = replicator(&["export"], &env);
    run.assert_code(2);
    assert!(
        run.last_error_line().contains("REPLICATOR_AUTH_ROLE"),
        "{}",
        run.stderr
    );
}

#[test]
fn the_vault_token_file_in_home_is_the_token_of_last_resort() {
    let bao = Bao::start();
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join(".vault-token"), &bao.token).unwrap();
    let home_dir = home.path().to_str().unwrap();
    let run = replicator(
        &["status"],
        &owned(&[("VAULT_ADDR", bao.addr.as_str()), ("HOME", home_dir)]),
    );
    run.assert_code(0);
    // VAULT_TOKEN wins over the file.
    let run = replicator(
        &["status"],
        &owned(&[
            ("VAULT_ADDR", bao.addr.as_str()),
            ("HOME", home_dir),
            ("VAULT_TOKEN", "s.wrong-token-value"),
        ]),
    );
    run.assert_code(1);
    // Another way to log in configured: the file is not used.
    let run = replicator(
        &["status"],
        &owned(&[
            ("VAULT_ADDR", bao.addr.as_str()),
            ("HOME", home_dir),
            ("REPLICATOR_AUTH", "token"),
        ]),
    );
    run.assert_code(2);
    assert!(
        run.last_error_line().contains("VAULT_TOKEN"),
        "{}",
        run.stderr
    );
}

#[test]
fn status_list_and_verify_print_json_on_request() {
    let bao = Bao::start();
    bao.kv_put("secret", "app", json!({"password": "json-output-secret"}));
    let store = tempfile::tempdir().unwrap();
    let env = env_for(&bao, &file_store(store.path()), &[]);
    replicator(&["export"], &env).assert_code(0);
    let json_of = |args: &[&str]| -> serde_json::Value {
        let run = replicator(args, &env);
        run.assert_code(0);
        assert!(!run.stdout.contains("json-output-secret"));
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
    };

    let list = json_of(&["list", "--output", "json"]);
    let snaps = list["snapshots"].as_array().unwrap();
    assert_eq!(snaps.len(), 1, "{list}");
    let key = snaps[0]["key"].as_str().unwrap();
    assert_eq!(list["latest"], key, "{list}");
    assert_eq!(snaps[0]["latest"], true);
    assert!(snaps[0]["bytes"].as_u64().unwrap() > 0);

    let verified = json_of(&["verify", "--output", "json"]);
    assert_eq!(verified["snapshot"], key, "{verified}");
    assert_eq!(verified["encrypted"], true);
    assert!(verified["signature"]["key_id"].is_string(), "{verified}");
    assert_eq!(verified["source"]["address"], bao.addr);
    assert!(
        verified["counts"]["kv_secret"].as_u64().unwrap() >= 1,
        "{verified}"
    );

    let status = json_of(&["status", "--output", "json"]);
    assert_eq!(status["target"]["address"], bao.addr, "{status}");
    assert!(status["target"]["fence"].is_null());
    assert!(status["target"]["last_import"].is_null());
    assert_eq!(status["store"]["latest"]["key"], key);
    assert!(status["stale"].is_null() && status["future"].is_null());

    // Text stays the default.
    let run = replicator(&["list"], &env);
    assert!(run.stdout.starts_with("SNAPSHOT"), "{}", run.stdout);
}

#[test]
fn completions_and_the_man_page_come_from_the_command_line() {
    let none: [(&str, &str); 0] = [];
    for shell in ["bash", "zsh", "fish"] {
        let run = replicator(&["completions", shell], &none);
        run.assert_code(0);
        assert!(run.stdout.contains("replicator"), "{}", run.stdout);
        assert!(run.stdout.contains("output"), "{shell}");
    }
    let run = replicator(&["man"], &none);
    run.assert_code(0);
    assert!(
        run.stdout.contains(".TH vault-replicator"),
        "{}",
        run.stdout
    );
}
