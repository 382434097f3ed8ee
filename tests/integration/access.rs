//! Who the tool is to Vault: export and import under tokens holding exactly the shipped
//! least-privilege policies (not root), logging in with AppRole or a token file, renewing the
//! login token on long runs and revoking it at the end, and TLS as the `vault` CLI configures it.

use std::path::Path;
use std::time::Duration;

use serde_json::json;
use vault_replicator::config::{Auth, Tls, Token, VaultConfig};
use vault_replicator::vault::Session;

use super::support::{
    Background, Bao, KubeApi, env_for, file_store, free_ports, keys, replicator, role, seed,
    shipped_policy, wait_for_port,
};

/// An AppRole role on `bao` whose tokens carry only `policy`; returns (role_id, secret_id).
fn approle(bao: &Bao, role: &str, policy: &str, ttl: &str) -> (String, String) {
    if bao.read("sys/auth").unwrap()["data"]
        .get("approle/")
        .is_none()
    {
        bao.write("sys/auth/approle", json!({"type": "approle"}));
    }
    bao.write(
        &format!("auth/approle/role/{role}"),
        json!({"token_policies": [policy], "token_no_default_policy": true,
               "token_ttl": ttl, "token_max_ttl": "2h"}),
    );
    let role_id = bao
        .read(&format!("auth/approle/role/{role}/role-id"))
        .unwrap()["data"]["role_id"]
        .as_str()
        .unwrap()
        .to_string();
    let secret_id =
        bao.write(&format!("auth/approle/role/{role}/secret-id"), json!({}))["data"]["secret_id"]
            .as_str()
            .unwrap()
            .to_string();
    (role_id, secret_id)
}

/// How many tokens the server holds (the root token included).
fn tokens(bao: &Bao) -> usize {
    bao.list("auth/token/accessors").len()
}

/// Runs `env` for `bao` but with the root token replaced by `auth`.
fn without_root(bao: &Bao, store: &Path, auth: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env = env_for(bao, &file_store(store), &[]);
    env.retain(|(k, _)| k != "VAULT_TOKEN");
    env.extend(auth.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    env
}

/// Secret values `seed` writes.
fn seeded_values() -> [&'static str; 4] {
    ["cas-v1", "v1-data", "dc-only-password", "aGVsbG8="]
}

/// The secret lines of the shared key files: the age identity and the signing key.
fn key_secrets() -> Vec<String> {
    let k = keys();
    let age = std::fs::read_to_string(k.dir.join("age.key")).unwrap();
    let signing = std::fs::read_to_string(k.dir.join("signing.key")).unwrap();
    vec![
        age.lines().last().unwrap().to_string(),
        signing.lines().nth(1).unwrap().to_string(),
    ]
}

fn assert_no_leak(output: &str, secrets: &[String]) {
    assert!(output.contains("DEBUG"), "the run must log at debug level");
    for s in secrets {
        assert!(
            !output.contains(s.as_str()),
            "a secret leaked into the output: {s}"
        );
    }
}

#[test]
fn export_and_import_work_under_the_shipped_policies_and_login_tokens_are_revoked() {
    let (src, dst) = (Bao::start(), Bao::start());
    let ciphertext = seed(&src, false);
    shipped_policy(&src, "vault-replicator-exporter", "exporter.hcl");
    let (role_id, secret_id) = approle(&src, "replicator", "vault-replicator-exporter", "1h");
    let dir = tempfile::tempdir().unwrap();
    let role_file = dir.path().join("role-id");
    std::fs::write(&role_file, format!("{role_id}\n")).unwrap();
    let store = tempfile::tempdir().unwrap();

    let before = tokens(&src);
    let export_env = without_root(
        &src,
        store.path(),
        &[
            ("REPLICATOR_AUTH", "approle"),
            (
                "REPLICATOR_APPROLE_ROLE_ID_FILE",
                role_file.to_str().unwrap(),
            ),
            ("REPLICATOR_APPROLE_SECRET_ID", &secret_id),
        ],
    );
    let debug = [("RUST_LOG".to_string(), "debug".to_string())];
    let run = replicator(&["export"], &[export_env.clone(), debug.to_vec()].concat());
    run.assert_code(0);
    assert_eq!(
        tokens(&src),
        before,
        "the login token must be revoked at exit"
    );
    let mut secrets = vec![secret_id.clone(), role_id.clone(), src.token.clone()];
    secrets.extend(seeded_values().iter().map(|v| v.to_string()));
    secrets.extend(key_secrets());
    assert_no_leak(&run.all(), &secrets);

    shipped_policy(&dst, "vault-replicator-importer", "importer.hcl");
    let token = dst.write(
        "auth/token/create",
        json!({"policies": ["vault-replicator-importer"], "no_default_policy": true, "ttl": "1h"}),
    )["auth"]["client_token"]
        .as_str()
        .unwrap()
        .to_string();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, &token).unwrap();
    let import_env = without_root(
        &dst,
        store.path(),
        &[("VAULT_TOKEN_FILE", token_file.to_str().unwrap())],
    );
    let run = replicator(&["import"], &[import_env.clone(), debug.to_vec()].concat());
    run.assert_code(0);
    secrets.push(token.clone());
    assert_no_leak(&run.all(), &secrets);
    let plain = dst.write("transit/decrypt/exp", json!({"ciphertext": ciphertext}));
    assert_eq!(plain["data"]["plaintext"], json!("aGVsbG8="));
    assert_eq!(dst.kv_get("kvc", "app"), Some(json!({"pw": "cas-v1"})));
    assert!(dst.read("auth/userpass/users/alice").is_some());
    assert!(dst.read("identity/group/name/g2").is_some());
    assert_eq!(
        dst.read("auth/approle/role/ci/role-id").unwrap()["data"],
        src.read("auth/approle/role/ci/role-id").unwrap()["data"]
    );
    assert!(
        !run.all().contains(&token),
        "the token must never be printed"
    );

    // Prune under the same policy: a departed secret and policy go.
    src.delete("secret/metadata/three");
    src.delete("sys/policies/acl/app-read");
    replicator(&["export"], &export_env).assert_code(0);
    let mut prune_env = import_env.clone();
    prune_env.push(("REPLICATOR_PRUNE".into(), "true".into()));
    prune_env.push(("REPLICATOR_MAX_DELETE".into(), "5".into()));
    replicator(&["import"], &prune_env).assert_code(0);
    assert_eq!(dst.kv_get("secret", "three"), None);
    assert!(dst.read("sys/policies/acl/app-read").is_none());
    let again = replicator(&["import"], &import_env);
    again.assert_code(0);
    assert!(again.stdout.contains("(0 writes)"), "{}", again.stdout);
}

#[test]
fn a_missing_capability_is_named_with_its_path() {
    let src = Bao::start();
    src.write(
        "sys/policies/acl/too-little",
        json!({"policy": "path \"sys/mounts\" { capabilities = [\"read\"] }\n\
                          path \"sys/namespaces\" { capabilities = [\"list\"] }\n\
                          path \"sys/auth\" { capabilities = [\"read\"] }\n\
                          path \"secret/*\" { capabilities = [\"read\", \"list\"] }"}),
    );
    let token = src.write(
        "auth/token/create",
        json!({"policies": ["too-little"], "no_default_policy": true}),
    )["auth"]["client_token"]
        .as_str()
        .unwrap()
        .to_string();
    let store = tempfile::tempdir().unwrap();
    let run = replicator(
        &["export"],
        &without_root(&src, store.path(), &[("VAULT_TOKEN", &token)]),
    );
    run.assert_code(1);
    let line = run.last_error_line();
    assert!(
        line.contains("HTTP 403") && line.contains("lack `list` on `auth/token/roles`"),
        "{line}"
    );
    assert!(!run.all().contains(&token));
}

fn config(addr: &str, auth: Auth, tls: Tls) -> VaultConfig {
    VaultConfig {
        addr: addr.to_string(),
        auth,
        namespace: None,
        tls,
        concurrency: 4,
        retry: Default::default(),
        timeout: vault_replicator::vault::DEFAULT_CLIENT_TIMEOUT,
        rate_limit: None,
        proxy: None,
    }
}

#[test]
fn a_login_token_is_renewed_on_a_long_run_and_revoked_at_the_end() {
    let bao = Bao::start();
    bao.write(
        "sys/policies/acl/self",
        json!({"policy": "path \"auth/token/lookup-self\" { capabilities = [\"read\"] }\n\
                          path \"auth/token/renew-self\" { capabilities = [\"update\"] }\n\
                          path \"auth/token/revoke-self\" { capabilities = [\"update\"] }"}),
    );
    let (role_id, secret_id) = approle(&bao, "short", "self", "3s");
    let auth = Auth::AppRole {
        mount: "approle".into(),
        role_id: Token::new(role_id),
        secret_id: Some(Token::new(secret_id)),
    };
    let cfg = config(&bao.addr, auth, Tls::default());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let session = Session::open(&cfg).await.expect("login");
        let client = session.client().clone();
        // Three token lifetimes later the token still works, because the session renewed it.
        tokio::time::sleep(Duration::from_secs(9)).await;
        let me = client
            .read("auth/token/lookup-self")
            .await
            .expect("token alive")
            .unwrap();
        assert!(me["data"]["ttl"].as_u64().unwrap() > 0);
        session.close().await;
        let err = client.read("auth/token/lookup-self").await.unwrap_err();
        assert!(err.to_string().contains("HTTP 403"), "revoked: {err}");
    });
}

/// `bao server -dev -dev-tls`, which writes its CA, certificate and key into `dir`.
pub fn start_tls_bao(dir: &Path) -> (std::process::Child, String) {
    let port = free_ports(2);
    let child = std::process::Command::new("bao")
        .args([
            "server",
            "-dev",
            "-dev-tls",
            "-dev-no-store-token",
            "-dev-root-token-id=tls-root",
        ])
        .arg(format!("-dev-tls-cert-dir={}", dir.display()))
        .arg(format!("-dev-listen-address=127.0.0.1:{port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for_port(port, Duration::from_secs(30));
    while !dir.join("vault-ca.pem").exists() {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    (child, format!("https://127.0.0.1:{port}"))
}

#[test]
fn tls_is_verified_with_cacert_or_capath_and_skip_verify_is_loud() {
    let certs = tempfile::tempdir().unwrap();
    let (child, addr) = start_tls_bao(certs.path());
    let _bao = Background(child);
    let store = tempfile::tempdir().unwrap();
    let pem = |n: &str| certs.path().join(n).display().to_string();
    let base = |extra: &[(&str, &str)]| {
        let mut env: Vec<(String, String)> = vec![
            ("VAULT_ADDR".into(), addr.clone()),
            ("VAULT_TOKEN".into(), "tls-root".into()),
            ("REPLICATOR_STORE".into(), file_store(store.path())),
            ("REPLICATOR_ALLOW_PLAINTEXT".into(), "true".into()),
            ("REPLICATOR_ALLOW_UNSIGNED".into(), "true".into()),
        ];
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        env
    };
    let run = replicator(&["status"], &base(&[]));
    run.assert_code(1);
    assert!(
        run.last_error_line().contains("cannot reach Vault"),
        "{}",
        run.stderr
    );

    replicator(
        &["status"],
        &base(&[("VAULT_CACERT", &pem("vault-ca.pem"))]),
    )
    .assert_code(0);
    let capath = tempfile::tempdir().unwrap();
    std::fs::copy(pem("vault-ca.pem"), capath.path().join("ca.pem")).unwrap();
    std::fs::write(capath.path().join("README"), "not a certificate").unwrap();
    let capath = capath.path().display().to_string();
    replicator(&["status"], &base(&[("VAULT_CAPATH", &capath)])).assert_code(0);
    let with_client_cert = [
        ("VAULT_CACERT", pem("vault-ca.pem")),
        ("VAULT_CLIENT_CERT", pem("vault-cert.pem")),
        ("VAULT_CLIENT_KEY", pem("vault-key.pem")),
    ];
    let with_client_cert: Vec<(&str, &str)> = with_client_cert
        .iter()
        .map(|(k, v)| (*k, v.as_str()))
        .collect();
    replicator(&["export"], &base(&with_client_cert)).assert_code(0);
    let run = replicator(
        &["status"],
        &base(&[("VAULT_CLIENT_CERT", &pem("vault-cert.pem"))]),
    );
    run.assert_code(2);

    let run = replicator(&["status"], &base(&[("VAULT_SKIP_VERIFY", "true")]));
    run.assert_code(0);
    assert!(run.stderr.contains("NOT verified"), "{}", run.stderr);
}

#[test]
fn kubernetes_auth_logs_in_with_the_projected_service_account_token() {
    let src = Bao::start();
    seed(&src, false);
    shipped_policy(&src, "vault-replicator-exporter", "exporter.hcl");
    let api = KubeApi::start();
    api.configure(&src);
    role(
        &src,
        "replicator",
        &["vault-replicator"],
        "vault-replicator-exporter",
    );
    let dir = tempfile::tempdir().unwrap();
    let jwt = KubeApi::token("vault", "vault-replicator");
    let jwt_file = dir.path().join("token");
    std::fs::write(&jwt_file, &jwt).unwrap();

    let before = tokens(&src);
    let store = tempfile::tempdir().unwrap();
    let env = without_root(
        &src,
        store.path(),
        &[
            ("REPLICATOR_AUTH", "kubernetes"),
            ("REPLICATOR_AUTH_ROLE", "replicator"),
            (
                "REPLICATOR_KUBERNETES_TOKEN_FILE",
                jwt_file.to_str().unwrap(),
            ),
        ],
    );
    let run = replicator(&["export"], &env);
    run.assert_code(0);
    let reviews = api.reviews();
    assert!(
        reviews.contains("/apis/authentication.k8s.io/v1/tokenreviews system:serviceaccount:vault:vault-replicator"),
        "{reviews}"
    );
    assert_eq!(
        tokens(&src),
        before,
        "the login token must be revoked at exit"
    );
    assert!(!run.all().contains(&jwt));

    // A service account the role is not bound to is a one-line login error naming the path.
    std::fs::write(&jwt_file, KubeApi::token("vault", "someone-else")).unwrap();
    let run = replicator(&["export"], &env);
    run.assert_code(1);
    assert!(
        run.last_error_line().contains("auth/kubernetes/login"),
        "{}",
        run.stderr
    );
}
