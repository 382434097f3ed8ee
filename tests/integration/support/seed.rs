//! The seed of one of everything the tool copies (`seed`), and the views tests compare it through:
//! an object's `data`, a group by member names, an auth mount's accessor; plus `words`, for
//! output assertions that do not depend on column widths.

use serde_json::{Value, json};

use super::Bao;

pub fn accessor(bao: &Bao, mount: &str) -> String {
    bao.read("sys/auth").unwrap()["data"][mount]["accessor"]
        .as_str()
        .unwrap()
        .to_string()
}

pub fn id_of(bao: &Bao, what: &str, name: &str) -> String {
    bao.read(&format!("identity/{what}/name/{name}")).unwrap()["data"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Seeds one of everything the tool copies (namespaces only when asked), and returns a transit
/// ciphertext made with the exportable key.
pub fn seed(src: &Bao, namespaces: bool) -> String {
    // Secret mounts with tuned config; a cas_required KV-v2 mount; KV-v1; transit; totp; local.
    src.write(
        "sys/mounts/kvc",
        json!({"type": "kv", "description": "cas mount", "options": {"version": "2"},
               "config": {"default_lease_ttl": "1h", "listing_visibility": "unauth",
                          "audit_non_hmac_request_keys": ["user"]}}),
    );
    src.write(
        "kvc/config",
        json!({"cas_required": true, "max_versions": 5}),
    );
    src.write(
        "kvc/data/app",
        json!({"data": {"pw": "cas-v1"}, "options": {"cas": 0}}),
    );
    src.write(
        "sys/mounts/kv1",
        json!({"type": "kv", "options": {"version": "1"}}),
    );
    src.write("kv1/legacy/item", json!({"k": "v1-data"}));
    src.write("sys/mounts/transit", json!({"type": "transit"}));
    src.write(
        "transit/keys/exp",
        json!({"exportable": true, "allow_plaintext_backup": true}),
    );
    src.write("transit/keys/noexp", json!({}));
    src.write(
        "sys/mounts/totp",
        json!({"type": "totp", "description": "otp"}),
    );
    src.write(
        "sys/mounts/localkv",
        json!({"type": "kv", "options": {"version": "2"}, "local": true}),
    );
    src.kv_put("localkv", "only-here", json!({"x": "1"}));
    // KV-v2 state: three versions with custom metadata, and a soft-deleted latest.
    for i in 1..=3 {
        src.kv_put("secret", "three", json!({"v": i}));
    }
    src.write(
        "secret/metadata/three",
        json!({"custom_metadata": {"owner": "ops"}, "max_versions": 7}),
    );
    src.kv_put("secret", "gone", json!({"v": "x"}));
    src.delete("secret/data/gone");
    // Auth methods and what is inside them.
    src.write(
        "sys/auth/userpass",
        json!({"type": "userpass", "description": "people"}),
    );
    src.write(
        "auth/userpass/users/alice",
        json!({"password": "dc-only-password", "token_policies": ["app-read"], "token_ttl": "1h"}),
    );
    src.write("sys/auth/approle", json!({"type": "approle"}));
    src.write(
        "auth/approle/role/ci",
        json!({"token_policies": ["default"], "secret_id_ttl": "10m"}),
    );
    src.write(
        "auth/token/roles/r1",
        json!({"allowed_policies": ["default"], "orphan": true}),
    );
    // Policies.
    src.write(
        "sys/policies/acl/app-read",
        json!({"policy": "path \"secret/data/*\" { capabilities = [\"read\"] }"}),
    );
    src.write(
        "sys/policies/password/strong",
        json!({"policy": "length = 24\nrule \"charset\" {\n  charset = \"abcdefgh0123\"\n}\n"}),
    );
    // Identity: an entity with a userpass alias, nested internal groups, an external group.
    let up = accessor(src, "userpass/");
    src.write(
        "identity/entity",
        json!({"name": "alice-e", "policies": ["app-read"], "metadata": {"team": "ops"}}),
    );
    let eid = id_of(src, "entity", "alice-e");
    src.write(
        "identity/entity-alias",
        json!({"name": "alice", "canonical_id": eid, "mount_accessor": up}),
    );
    src.write(
        "identity/group",
        json!({"name": "g1", "policies": ["default"], "member_entity_ids": [eid], "metadata": {"a": "b"}}),
    );
    let g1 = id_of(src, "group", "g1");
    src.write(
        "identity/group",
        json!({"name": "g2", "member_group_ids": [g1]}),
    );
    src.write("identity/group", json!({"name": "ext", "type": "external"}));
    let ext = id_of(src, "group", "ext");
    src.write(
        "identity/group-alias",
        json!({"name": "ext-alias", "mount_accessor": up, "canonical_id": ext}),
    );
    // Namespaces, nested, with content.
    if namespaces {
        seed_namespaces(src);
    }
    // Something encrypted on the source that must decrypt on the target.
    src.write("transit/encrypt/exp", json!({"plaintext": "aGVsbG8="}))["data"]["ciphertext"]
        .as_str()
        .unwrap()
        .to_string()
}

fn seed_namespaces(src: &Bao) {
    src.write("sys/namespaces/team1", json!({}));
    src.write("team1/sys/namespaces/sub", json!({}));
    src.write(
        "team1/sub/sys/mounts/nskv",
        json!({"type": "kv", "options": {"version": "2"}}),
    );
    src.write(
        "team1/sub/nskv/data/s",
        json!({"data": {"k": "in-namespace"}}),
    );
    src.write(
        "team1/sub/sys/policies/acl/nspol",
        json!({"policy": "path \"nskv/*\" { capabilities = [\"read\"] }"}),
    );
}

pub fn data(bao: &Bao, path: &str) -> Value {
    bao.read(path)
        .map(|v| v["data"].clone())
        .unwrap_or(Value::Null)
}

pub fn group_view(bao: &Bao, name: &str) -> Value {
    let g = data(bao, &format!("identity/group/name/{name}"));
    let names = |ids: &Value, what: &str| -> Vec<String> {
        ids.as_array()
            .map(|a| {
                a.iter()
                    .map(|id| {
                        data(bao, &format!("identity/{what}/id/{}", id.as_str().unwrap()))["name"]
                            .as_str()
                            .unwrap()
                            .to_string()
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    // Vault shows an empty list or map as null on some groups and as empty on others.
    let or = |v: &Value, empty: Value| if v.is_null() { empty } else { v.clone() };
    json!({
        "type": g["type"], "policies": or(&g["policies"], json!([])),
        "metadata": or(&g["metadata"], json!({})),
        "members": names(&g["member_entity_ids"], "entity"),
        "member_groups": names(&g["member_group_ids"], "group"),
        "alias": g["alias"]["name"], "alias_mount": g["alias"]["mount_path"],
    })
}

/// Output with runs of spaces folded, so assertions do not depend on column widths.
pub fn words(s: &str) -> String {
    s.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}
