//! The matrix's transit keys and namespaces. A transit key crosses only when it can be backed
//! up (`exportable` and `allow_plaintext_backup`), so its "defaults" are those two and nothing
//! else; a namespace exists only on OpenBao (and Vault Enterprise), not on Vault Community.

use serde_json::{Value, json};

use crate::integration::support::matrix::Shape;
use crate::integration::support::{Bao, data};

fn transit_mount(b: &Bao) {
    b.write("sys/mounts/m-transit", json!({"type": "transit"}));
}

pub const TRANSIT_KEY: Shape = Shape {
    kind: "transit key",
    defaults: |b| {
        transit_mount(b);
        b.write(
            "m-transit/keys/m-key",
            json!({"exportable": true, "allow_plaintext_backup": true}),
        );
    },
    tuned: |b| {
        transit_mount(b);
        b.write(
            "m-transit/keys/m-key",
            json!({"type": "ecdsa-p256", "exportable": true, "allow_plaintext_backup": true,
                   "auto_rotate_period": "24h"}),
        );
        for _ in 0..2 {
            b.write("m-transit/keys/m-key/rotate", json!({}));
        }
        b.write("m-transit/keys/m-key/config", key_config(2));
        // Settings only a key's creation takes.
        b.write(
            "m-transit/keys/m-derived",
            json!({"type": "chacha20-poly1305", "derived": true, "convergent_encryption": true,
                   "exportable": true, "allow_plaintext_backup": true}),
        );
    },
    change: |b| {
        for _ in 0..2 {
            b.write("m-transit/keys/m-key/rotate", json!({}));
        }
        b.write("m-transit/keys/m-key/config", key_config(2));
    },
    view: |b| json!([key_view(b, "m-key"), key_view(b, "m-derived")]),
    needs_namespaces: false,
};

fn key_view(b: &Bao, name: &str) -> Value {
    let mut k = data(b, &format!("m-transit/keys/{name}"));
    if let Some(o) = k.as_object_mut() {
        // Held off on the target while it is DR (reported at export), by design.
        o.remove("auto_rotate_period");
        // When each side last backed it up or restored it (the import backs up the target's
        // key to compare it): each side's own.
        o.remove("backup_info");
        o.remove("restore_info");
    }
    k
}

fn key_config(min_decryption: u64) -> Value {
    json!({"deletion_allowed": true, "min_decryption_version": min_decryption,
           "min_encryption_version": min_decryption + 1})
}

pub const NAMESPACE: Shape = Shape {
    kind: "namespace",
    defaults: |b| {
        b.write("sys/namespaces/m-ns", json!({}));
        b.write("m-ns/sys/namespaces/child", json!({}));
    },
    tuned: |b| {
        b.write(
            "sys/namespaces/m-ns",
            json!({"custom_metadata": {"owner": "payments", "tier": "1"}}),
        );
        b.write(
            "m-ns/sys/namespaces/child",
            json!({"custom_metadata": {"owner": "child"}}),
        );
    },
    change: |b| {
        b.write(
            "sys/namespaces/m-ns",
            json!({"custom_metadata": {"owner": "billing"}}),
        );
        b.write(
            "m-ns/sys/namespaces/child",
            json!({"custom_metadata": {"added": "yes"}}),
        );
    },
    view: |b| {
        let ns = |path: &str| {
            let d = data(b, path);
            json!([d["path"], d["custom_metadata"]])
        };
        json!([ns("sys/namespaces/m-ns"), ns("m-ns/sys/namespaces/child")])
    },
    needs_namespaces: true,
};
