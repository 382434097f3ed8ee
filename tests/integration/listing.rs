//! KV-v2 folders listed through OpenBao's `detailed-metadata/` (keys with their metadata, in pages
//! of 1,000), the plain `metadata/` listing when the token may not use it, and an import into an
//! empty mount that reads nothing back: each way copies every secret and its metadata.

use serde_json::{Value, json};

use super::support::{Bao, Run, env_for, garage, replicator, repo_root};

/// More keys in one folder than one `detailed-metadata/` page holds.
const BIG: usize = 1003;

/// A key with URL metacharacters, so the `after=` of the second page must be escaped.
fn big_key(i: usize) -> String {
    format!("big/{i:04} &=+#?")
}

fn log_field(run: &Run, message: &str, field: &str) -> Value {
    run.stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.starts_with(message))
        })
        .map(|l| l[field].clone())
        .unwrap_or_else(|| panic!("no {message:?} line in:\n{}", run.stderr))
}

fn json_env(bao: &Bao, bucket: &str) -> Vec<(String, String)> {
    let mut env = env_for(bao, &format!("s3://{bucket}/dc"), &garage().env);
    env.push(("REPLICATOR_LOG_FORMAT".into(), "json".into()));
    env
}

fn with_metadata(bao: &Bao, key: &str) {
    bao.write(
        &format!("secret/metadata/{key}"),
        json!({"max_versions": 4, "custom_metadata": {"owner": "payments"}}),
    );
}

fn metadata(bao: &Bao, key: &str) -> (Value, Value) {
    let m = bao.read(&format!("secret/metadata/{key}")).unwrap();
    (
        m["data"]["max_versions"].clone(),
        m["data"]["custom_metadata"].clone(),
    )
}

fn assert_same_secrets(src: &Bao, dst: &Bao, with_meta: &str) {
    let keys = src.kv_keys("secret");
    assert_eq!(keys, dst.kv_keys("secret"));
    for key in &keys {
        assert_eq!(
            src.kv_get("secret", key),
            dst.kv_get("secret", key),
            "{key}"
        );
    }
    assert_eq!(metadata(src, with_meta), metadata(dst, with_meta));
}

#[test]
fn a_folder_over_one_listing_page_is_copied_whole_with_one_read_per_secret() {
    let (src, dst) = (Bao::start(), Bao::start());
    for i in 0..BIG {
        src.kv_put("secret", &big_key(i), json!({"v": format!("value-{i}")}));
    }
    src.kv_put("secret", "big/sub/leaf", json!({"v": "leaf"}));
    // On the second page.
    with_metadata(&src, &big_key(1001));

    let bucket = garage().bucket();
    let export = replicator(&["export"], &json_env(&src, &bucket));
    export.assert_code(0);
    let requests = log_field(&export, "export finished", "vault_requests");
    // One data read per secret plus a few listings; a metadata read per secret would double it.
    assert!(requests.as_u64().unwrap() < (BIG + 60) as u64, "{requests}");

    // `secret/` on the target is empty: nothing is read back before writing.
    let import = replicator(&["import", "--output", "json"], &json_env(&dst, &bucket));
    import.assert_code(0);
    let doc: Value = serde_json::from_str(&import.stdout).unwrap();
    assert!(doc["reads"].as_u64().unwrap() < 60, "{}", import.stdout);
    assert_eq!(doc["writes"].as_u64().unwrap(), (BIG + 1 + 1) as u64);
    assert_same_secrets(&src, &dst, &big_key(1001));
}

/// A token for `bao` whose policy is the shipped `file` with `denied` (a policy path) denied. The
/// policy is named after the file: the import copies the exporter's policies to the target.
fn token_denied(bao: &Bao, file: &str, denied: &str) -> String {
    let name = format!("no-detailed-{}", file.trim_end_matches(".hcl"));
    let hcl = std::fs::read_to_string(repo_root().join("docs/policies").join(file)).unwrap();
    let deny = format!("\npath \"{denied}\" {{\n  capabilities = [\"deny\"]\n}}\n");
    bao.write(
        &format!("sys/policies/acl/{name}"),
        json!({ "policy": format!("{hcl}{deny}") }),
    );
    bao.write(
        "auth/token/create",
        json!({"policies": [name], "no_default_policy": true, "ttl": "1h"}),
    )["auth"]["client_token"]
        .as_str()
        .unwrap()
        .to_string()
}

fn seed_folders(src: &Bao) {
    for i in 0..30 {
        src.kv_put("secret", &format!("f{}/k{i}", i % 3), json!({"v": i}));
    }
    with_metadata(src, "f1/k4");
}

#[test]
fn a_token_that_may_not_list_detailed_metadata_still_copies_everything() {
    let (src, dst) = (Bao::start(), Bao::start());
    seed_folders(&src);
    let bucket = garage().bucket();
    let mut env = json_env(&src, &bucket);
    env.push((
        "VAULT_TOKEN".into(),
        token_denied(&src, "exporter.hcl", "+/detailed-metadata/*"),
    ));
    let export = replicator(&["export"], &env);
    export.assert_code(0);
    // A metadata read and a data read per secret.
    let requests = log_field(&export, "export finished", "vault_requests");
    assert!(requests.as_u64().unwrap() >= 60, "{requests}");

    // The target holds one of the secrets already, so its mount is not empty; each secret is read.
    dst.kv_put("secret", "f0/k0", json!({"v": 0}));
    let mut env = json_env(&dst, &bucket);
    env.push((
        "VAULT_TOKEN".into(),
        token_denied(&dst, "importer.hcl", "+/detailed-metadata/*"),
    ));
    let import = replicator(&["import", "--output", "json"], &env);
    import.assert_code(0);
    let doc: Value = serde_json::from_str(&import.stdout).unwrap();
    assert!(doc["reads"].as_u64().unwrap() >= 30, "{}", import.stdout);
    assert_eq!(
        dst.kv_version("secret", "f0/k0"),
        1,
        "an equal secret is not rewritten"
    );
    assert_same_secrets(&src, &dst, "f1/k4");
}

#[test]
fn an_import_into_a_populated_mount_lists_each_folder_rather_than_reading_each_secret() {
    let (src, dst) = (Bao::start(), Bao::start());
    seed_folders(&src);
    // A folder whose name must be escaped in the LIST's URL.
    let awkward = "we ird/fo&l=d?er#/k";
    src.kv_put("secret", awkward, json!({"v": "awkward"}));
    let bucket = garage().bucket();
    replicator(&["export"], &json_env(&src, &bucket)).assert_code(0);
    dst.kv_put("secret", "f0/k0", json!({"v": 0}));
    dst.kv_put("secret", "f1/k1", json!({"v": "changed on DR"}));
    dst.kv_put("secret", awkward, json!({"v": "awkward"}));
    let import = replicator(&["import", "--output", "json"], &json_env(&dst, &bucket));
    import.assert_code(0);
    let doc: Value = serde_json::from_str(&import.stdout).unwrap();
    // Five folder listings and the data of the three secrets DR holds, not 2 reads per secret.
    assert!(doc["reads"].as_u64().unwrap() < 15, "{}", import.stdout);
    assert_eq!(
        doc["writes"].as_u64().unwrap(),
        28 + 1 + 1,
        "{}",
        import.stdout
    );
    assert_eq!(
        dst.kv_version("secret", "f0/k0"),
        1,
        "an equal secret is not rewritten"
    );
    assert_eq!(dst.kv_version("secret", "f1/k1"), 2);
    assert_eq!(
        dst.kv_version("secret", awkward),
        1,
        "found through its folder's listing"
    );
    assert_same_secrets(&src, &dst, "f1/k4");
}

#[test]
fn a_subtree_the_token_may_not_list_with_metadata_is_listed_plainly() {
    let (src, dst) = (Bao::start(), Bao::start());
    seed_folders(&src);
    let bucket = garage().bucket();
    let mut env = json_env(&src, &bucket);
    let subtree = "secret/detailed-metadata/f1/*";
    env.push((
        "VAULT_TOKEN".into(),
        token_denied(&src, "exporter.hcl", subtree),
    ));
    replicator(&["export"], &env).assert_code(0);

    dst.kv_put("secret", "f1/k1", json!({"v": 1}));
    dst.kv_put("secret", "f2/k2", json!({"v": 2}));
    let mut env = json_env(&dst, &bucket);
    env.push((
        "VAULT_TOKEN".into(),
        token_denied(&dst, "importer.hcl", subtree),
    ));
    let import = replicator(&["import", "--output", "json"], &env);
    import.assert_code(0);
    assert_eq!(
        dst.kv_version("secret", "f1/k1"),
        1,
        "found by a metadata read"
    );
    assert_eq!(
        dst.kv_version("secret", "f2/k2"),
        1,
        "found through its listing"
    );
    assert_same_secrets(&src, &dst, "f1/k4");
}
