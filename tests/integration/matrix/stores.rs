//! The matrix's storage kinds: ACL and password policies, KV-v2 secrets with their own metadata,
//! a KV-v2 mount's config, KV-v1 secrets, and a secret-engine mount with its tune.

use serde_json::{Value, json};

use crate::integration::support::matrix::{Shape, mount_row, mount_tune};
use crate::integration::support::{Bao, data};

pub const ACL_POLICY: Shape = Shape {
    kind: "ACL policy",
    defaults: |b| acl(b, r#"path "m/*" { capabilities = ["read"] }"#),
    tuned: |b| {
        let hcl = r#"
path "m/data/*" {
  capabilities = ["create", "read", "update", "patch", "delete", "list"]
  required_parameters = ["owner"]
  allowed_parameters = { "owner" = [], "tier" = ["1", "2"] }
  denied_parameters = { "admin" = [] }
  min_wrapping_ttl = "1m"
  max_wrapping_ttl = "1h"
}
path "sys/*" { capabilities = ["deny"] }
"#;
        acl(b, hcl)
    },
    change: |b| acl(b, r#"path "m/*" { capabilities = ["read", "list"] }"#),
    view: |b| data(b, "sys/policies/acl/m-acl")["policy"].clone(),
    needs_namespaces: false,
};

fn acl(b: &Bao, hcl: &str) {
    b.write("sys/policies/acl/m-acl", json!({ "policy": hcl }));
}

pub const PASSWORD_POLICY: Shape = Shape {
    kind: "password policy",
    defaults: |b| {
        pw(
            b,
            "length = 20\nrule \"charset\" {\n  charset = \"abc123\"\n}\n",
        )
    },
    tuned: |b| {
        pw(
            b,
            "length = 32\nrule \"charset\" {\n  charset = \"abcdefgh\"\n  min-chars = 2\n}\n\
             rule \"charset\" {\n  charset = \"0123456789\"\n  min-chars = 3\n}\n",
        )
    },
    change: |b| {
        pw(
            b,
            "length = 24\nrule \"charset\" {\n  charset = \"xyz789\"\n}\n",
        )
    },
    view: |b| data(b, "sys/policies/password/m-pw"),
    needs_namespaces: false,
};

fn pw(b: &Bao, policy: &str) {
    b.write("sys/policies/password/m-pw", json!({ "policy": policy }));
}

const KV2_KEYS: [&str; 2] = ["app", "team/app"];

pub const KV2_SECRET: Shape = Shape {
    kind: "KV-v2 secret",
    defaults: |b| {
        b.mount_kv2("m-kv2");
        for k in KV2_KEYS {
            b.kv_put("m-kv2", k, json!({"pw": "v1"}));
        }
    },
    tuned: |b| {
        b.mount_kv2("m-kv2");
        for k in KV2_KEYS {
            b.kv_put(
                "m-kv2",
                k,
                json!({"pw": "v1", "n": 1, "nested": {"a": [1, 2]}}),
            );
            b.write(&format!("m-kv2/metadata/{k}"), kv2_meta());
        }
    },
    change: |b| {
        for k in KV2_KEYS {
            b.kv_put("m-kv2", k, json!({"pw": "v2", "added": true}));
            b.write(&format!("m-kv2/metadata/{k}"), kv2_meta());
        }
    },
    view: |b| {
        let secrets = KV2_KEYS.map(|k| {
            let m = data(b, &format!("m-kv2/metadata/{k}"));
            json!({"data": b.kv_get("m-kv2", k), "max_versions": m["max_versions"],
                   "cas_required": m["cas_required"],
                   "delete_version_after": m["delete_version_after"],
                   "custom_metadata": m["custom_metadata"]})
        });
        json!(secrets)
    },
    needs_namespaces: false,
};

fn kv2_meta() -> Value {
    json!({"max_versions": 3, "cas_required": true, "delete_version_after": "1h",
           "custom_metadata": {"owner": "payments", "tier": "1"}})
}

pub const KV2_CONFIG: Shape = Shape {
    kind: "KV-v2 mount config",
    defaults: |b| b.mount_kv2("m-kvc"),
    tuned: |b| {
        b.mount_kv2("m-kvc");
        b.write(
            "m-kvc/config",
            json!({"max_versions": 5, "cas_required": true, "delete_version_after": "2h"}),
        );
    },
    change: |b| {
        b.write(
            "m-kvc/config",
            json!({"max_versions": 7, "delete_version_after": "30m"}),
        );
    },
    view: |b| data(b, "m-kvc/config"),
    needs_namespaces: false,
};

pub const KV1_SECRET: Shape = Shape {
    kind: "KV-v1 secret",
    defaults: |b| {
        b.write(
            "sys/mounts/m-kv1",
            json!({"type": "kv", "options": {"version": "1"}}),
        );
        b.write("m-kv1/item", json!({"k": "v1"}));
    },
    tuned: |b| {
        b.write(
            "sys/mounts/m-kv1",
            json!({"type": "kv", "options": {"version": "1"}}),
        );
        b.write(
            "m-kv1/item",
            json!({"k": "v1", "n": 2, "nested": {"a": [1]}}),
        );
        b.write("m-kv1/deep/er/item", json!({"x": "y"}));
    },
    change: |b| {
        b.write("m-kv1/item", json!({"k": "v2"}));
        b.write("m-kv1/deep/er/item", json!({"x": "new"}));
    },
    view: |b| json!([data(b, "m-kv1/item"), data(b, "m-kv1/deep/er/item")]),
    needs_namespaces: false,
};

pub const SECRET_MOUNT: Shape = Shape {
    kind: "secret-engine mount",
    defaults: |b| {
        b.write(
            "sys/mounts/m-mnt",
            json!({"type": "kv", "options": {"version": "2"}}),
        );
    },
    tuned: |b| {
        b.write(
            "sys/mounts/m-mnt",
            json!({"type": "kv", "options": {"version": "2"}, "description": "tuned mount",
                   "config": {"force_no_cache": true}, "seal_wrap": true,
                   "external_entropy_access": true}),
        );
        b.write("sys/mounts/m-mnt/tune", mount_tune("1h", "unauth"));
        // Pinned to the version it runs (enabling drops a built-in pin; a tune sets it).
        let running = data(b, "sys/mounts")["m-mnt/"]["running_plugin_version"].clone();
        b.write(
            "sys/mounts/m-mnt/tune",
            json!({ "plugin_version": running }),
        );
    },
    change: |b| {
        b.write("sys/mounts/m-mnt/tune", mount_tune("2h", "hidden"));
    },
    view: |b| mount_row(b, "sys/mounts", "m-mnt/"),
    needs_namespaces: false,
};
