//! Migration as a logical copy (issue #18): a real, non-dev OpenBao on `postgresql` storage
//! (OpenBao 2.7 removed `file` storage), exported into a file store, imported into a freshly
//! initialised single-node `raft` cluster with Shamir keys of its own; everything arrives, a second import writes nothing, and applications log in
//! (userpass with a reset password, AppRole with the same role_id and a new secret_id) and read.

use serde_json::{Value, json};

use super::support::{
    Bao, Postgres, Storage, accessor, data, env_for, file_store, id_of, replicator, words, writes,
};

const ROLE_ID: &str = "ci-role-id-0451";
const KV_KEYS: [&str; 4] = ["db", "team/web", "team/a/b/deep", "team/a/c"];

/// What the source holds: KV-v2 (nested folders, several versions), KV-v1, policies, userpass
/// and AppRole with a fixed role_id, an entity aliased to the userpass user.
fn seed_source(src: &Bao) {
    src.mount_kv2("apps");
    for v in 1..=3 {
        src.kv_put(
            "apps",
            "db",
            json!({"user": "app", "pw": format!("db-v{v}")}),
        );
    }
    src.kv_put("apps", "team/web", json!({"url": "https://web.example"}));
    src.kv_put("apps", "team/a/b/deep", json!({"k": "deep-1"}));
    src.kv_put("apps", "team/a/b/deep", json!({"k": "deep-2"}));
    src.kv_put("apps", "team/a/c", json!({"k": "c"}));
    src.write(
        "apps/metadata/db",
        json!({"custom_metadata": {"owner": "ops"}, "max_versions": 5}),
    );
    src.write(
        "sys/mounts/legacy",
        json!({"type": "kv", "options": {"version": "1"}, "description": "old kv"}),
    );
    src.write("legacy/billing/key", json!({"k": "v1-data"}));
    src.write(
        "sys/policies/acl/app-read",
        json!({"policy": "path \"apps/data/*\" { capabilities = [\"read\"] }"}),
    );
    src.write(
        "sys/policies/acl/legacy-read",
        json!({"policy": "path \"legacy/*\" { capabilities = [\"read\"] }"}),
    );
    src.write(
        "sys/auth/people",
        json!({"type": "userpass", "description": "people"}),
    );
    src.write(
        "auth/people/users/alice",
        json!({"password": "dc-password", "token_policies": ["app-read"], "token_ttl": "1h"}),
    );
    src.write("sys/auth/approle", json!({"type": "approle"}));
    src.write(
        "auth/approle/role/ci",
        json!({"token_policies": ["app-read"], "token_ttl": "1h", "secret_id_ttl": "1h"}),
    );
    src.write("auth/approle/role/ci/role-id", json!({"role_id": ROLE_ID}));
    src.write(
        "identity/entity",
        json!({"name": "alice-e", "policies": ["legacy-read"], "metadata": {"team": "ops"}}),
    );
    let up = accessor(src, "people/");
    let eid = id_of(src, "entity", "alice-e");
    src.write(
        "identity/entity-alias",
        json!({"name": "alice", "canonical_id": eid, "mount_accessor": up}),
    );
}

/// A mount's settings as the tool carries them.
fn mount_view(bao: &Bao, table: &str, path: &str) -> Value {
    let m = &bao.read(table).unwrap()["data"][path];
    json!({"type": m["type"], "description": m["description"], "options": m["options"],
           "local": m["local"], "seal_wrap": m["seal_wrap"]})
}

/// The data of one version of a KV-v2 secret, through the stock CLI.
fn version(bao: &Bao, key: &str, v: u64) -> Value {
    let out = bao.cli(&[
        "kv",
        "get",
        "-format=json",
        &format!("-version={v}"),
        &format!("apps/{key}"),
    ]);
    assert!(out.status.success(), "kv get -version={v} apps/{key}");
    serde_json::from_slice::<Value>(&out.stdout).unwrap()["data"]["data"].clone()
}

/// An unauthenticated (login) or token-bearing request straight to the server: (status, body).
fn call(addr: &str, token: Option<&str>, method: &str, path: &str, body: Value) -> (u16, Value) {
    let http = reqwest::blocking::Client::new();
    let mut req = http.request(method.parse().unwrap(), format!("{addr}/v1/{path}"));
    if let Some(t) = token {
        req = req.header("X-Vault-Token", t);
    }
    if method != "GET" {
        req = req.json(&body);
    }
    let resp = req.send().expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().unwrap_or(Value::Null))
}

/// Logs in at `path`; the token and the auth block, or the HTTP status of a refusal.
fn login(bao: &Bao, path: &str, body: Value) -> Result<(String, Value), u16> {
    match call(&bao.addr, None, "POST", path, body) {
        (200, v) => Ok((
            v["auth"]["client_token"].as_str().unwrap().to_string(),
            v["auth"].clone(),
        )),
        (status, _) => Err(status),
    }
}

/// The two clusters are what a migration starts from: different storage, different seals.
fn assert_different_clusters(src: &Bao, dst: &Bao) {
    assert_eq!(src.unseal_keys.len(), 3);
    assert_eq!(dst.unseal_keys.len(), 3);
    assert!(
        src.unseal_keys.iter().all(|k| !dst.unseal_keys.contains(k)),
        "the clusters share an unseal key"
    );
    assert_ne!(src.token, dst.token);
    assert_eq!(dst.try_read("sys/storage/raft/configuration").0, 200);
    assert_ne!(src.try_read("sys/storage/raft/configuration").0, 200);
    let seal = |b: &Bao| b.read("sys/seal-status").unwrap();
    let (s, d) = (seal(src), seal(dst));
    assert_eq!(
        (&s["storage_type"], &s["type"]),
        (&json!("postgresql"), &json!("shamir"))
    );
    assert_eq!(
        (&d["storage_type"], &d["type"]),
        (&json!("raft"), &json!("shamir"))
    );
    assert_ne!(s["cluster_id"], d["cluster_id"]);
}

/// Everything seeded arrived: mounts, KV data (every version), KV-v1, policies, users, roles.
fn assert_everything_arrived(src: &Bao, dst: &Bao) {
    for m in ["apps/", "legacy/"] {
        assert_eq!(
            mount_view(src, "sys/mounts", m),
            mount_view(dst, "sys/mounts", m),
            "{m}"
        );
    }
    for m in ["people/", "approle/"] {
        assert_eq!(
            mount_view(src, "sys/auth", m),
            mount_view(dst, "sys/auth", m),
            "{m}"
        );
    }
    assert_eq!(dst.kv_keys("apps"), src.kv_keys("apps"));
    for key in KV_KEYS {
        assert_eq!(dst.kv_get("apps", key), src.kv_get("apps", key), "{key}");
        let current = src.kv_version("apps", key);
        assert_eq!(dst.kv_version("apps", key), current, "{key}");
        for v in 1..=current {
            assert_eq!(version(dst, key, v), version(src, key, v), "{key} v{v}");
        }
    }
    let meta = data(dst, "apps/metadata/db");
    assert_eq!(meta["custom_metadata"], json!({"owner": "ops"}));
    assert_eq!(meta["max_versions"], json!(5));
    assert_eq!(data(dst, "legacy/billing/key"), json!({"k": "v1-data"}));
    assert_eq!(dst.policies(), src.policies());
    assert_eq!(
        data(dst, "auth/people/users/alice"),
        data(src, "auth/people/users/alice")
    );
    assert_eq!(
        data(dst, "auth/approle/role/ci"),
        data(src, "auth/approle/role/ci")
    );
    assert_eq!(
        data(dst, "auth/approle/role/ci/role-id")["role_id"],
        json!(ROLE_ID)
    );
    let entity = |b: &Bao| {
        let e = data(b, "identity/entity/name/alice-e");
        json!({"policies": e["policies"], "metadata": e["metadata"],
               "alias": e["aliases"][0]["name"], "alias_mount": e["aliases"][0]["mount_path"]})
    };
    assert_eq!(entity(dst), entity(src));
}

/// Applications on the new cluster: userpass after a password reset, AppRole with the same
/// role_id and a new secret_id; their tokens carry the replicated policies.
fn assert_applications_work(dst: &Bao, old_secret_id: &str) {
    let alice = "auth/people/login/alice";
    assert!(login(dst, alice, json!({"password": "dc-password"})).is_err());
    dst.write(
        "auth/people/users/alice/password",
        json!({"password": "dr-password"}),
    );
    let (token, auth) = login(dst, alice, json!({"password": "dr-password"})).expect("userpass");
    assert!(
        auth["token_policies"].to_string().contains("app-read"),
        "{auth}"
    );
    // The entity policy arrives through the alias, re-pointed at the new mount's accessor.
    assert!(
        auth["identity_policies"]
            .to_string()
            .contains("legacy-read"),
        "{auth}"
    );
    let (status, v) = call(&dst.addr, Some(&token), "GET", "apps/data/db", Value::Null);
    assert_eq!((status, &v["data"]["data"]["pw"]), (200, &json!("db-v3")));
    let (status, v) = call(
        &dst.addr,
        Some(&token),
        "GET",
        "legacy/billing/key",
        Value::Null,
    );
    assert_eq!((status, &v["data"]["k"]), (200, &json!("v1-data")));

    let approle = "auth/approle/login";
    let old = json!({"role_id": ROLE_ID, "secret_id": old_secret_id});
    assert!(
        login(dst, approle, old).is_err(),
        "a source secret_id logged in"
    );
    let secret_id = dst.write("auth/approle/role/ci/secret-id", json!({}))["data"]["secret_id"]
        .as_str()
        .unwrap()
        .to_string();
    let new = json!({"role_id": ROLE_ID, "secret_id": secret_id});
    let (token, auth) = login(dst, approle, new).expect("approle");
    assert!(
        auth["token_policies"].to_string().contains("app-read"),
        "{auth}"
    );
    let (status, v) = call(
        &dst.addr,
        Some(&token),
        "GET",
        "apps/data/team/a/b/deep",
        Value::Null,
    );
    assert_eq!((status, &v["data"]["data"]), (200, &json!({"k": "deep-2"})));
    let (status, _) = call(
        &dst.addr,
        Some(&token),
        "GET",
        "legacy/billing/key",
        Value::Null,
    );
    assert_eq!(status, 403, "app-read alone must not read legacy/");
}

#[test]
fn a_postgresql_storage_cluster_moves_to_a_fresh_raft_cluster_with_its_own_seal() {
    assert!(
        Postgres::available(),
        "needs initdb, postgres and psql on the PATH"
    );
    let pg = Postgres::start();
    let src = Bao::start_real(&Storage::Postgresql(pg.storage_url()));
    let dst = Bao::start_real(&Storage::Raft);
    assert_different_clusters(&src, &dst);
    seed_source(&src);
    let old_secret_id = src.write("auth/approle/role/ci/secret-id", json!({}))["data"]["secret_id"]
        .as_str()
        .unwrap()
        .to_string();

    // An ad-hoc export of every KV version into a file store, as the runbook's recipe does.
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(dir.path());
    let history = [("REPLICATOR_KV_HISTORY".to_string(), "all".to_string())];
    replicator(&["export"], &env_for(&src, &store, &history)).assert_code(0);

    let env = env_for(&dst, &store, &[]);
    let plan = replicator(&["import", "--dry-run"], &env);
    plan.assert_code(0);
    assert!(
        dst.read("sys/mounts").unwrap()["data"]
            .get("apps/")
            .is_none()
    );
    let import = replicator(&["import"], &env);
    import.assert_code(0);
    let out = words(&import.stdout);
    assert!(writes(&import) > 0, "{out}");
    assert!(out.contains("`password` is write-only"), "{out}");
    assert_everything_arrived(&src, &dst);

    // A second import, and one that compares every object, find nothing to write.
    for args in [&["import"][..], &["import", "--full-check"]] {
        let again = replicator(args, &env);
        again.assert_code(0);
        assert_eq!(writes(&again), 0, "{args:?}: {}", again.stdout);
    }

    assert_applications_work(&dst, &old_secret_id);
}
