//! The matrix's access kinds: an auth method's mount and tune, every auth method's items (the
//! seeds and views of `support::auth`), identity entities with aliases, and internal and external
//! identity groups.

use serde_json::{Value, json};

use crate::integration::support::matrix::{Shape, mount_row, mount_tune};
use crate::integration::support::{
    Bao, accessor, auth_defaults, auth_tuned, auth_view, data, group_view, id_of,
};

pub const AUTH_MOUNT: Shape = Shape {
    kind: "auth method mount",
    defaults: |b| {
        b.write("sys/auth/m-auth", json!({"type": "userpass"}));
    },
    tuned: |b| {
        b.write(
            "sys/auth/m-auth",
            json!({"type": "userpass", "description": "tuned auth"}),
        );
        b.write("sys/auth/m-auth/tune", auth_tune("1h", "7"));
    },
    change: |b| {
        b.write("sys/auth/m-auth/tune", auth_tune("2h", "3"));
    },
    view: |b| {
        let tune = data(b, "sys/auth/m-auth/tune");
        json!({"row": mount_row(b, "sys/auth", "m-auth/"), "tune": tune})
    },
    needs_namespaces: false,
};

fn auth_tune(ttl: &str, threshold: &str) -> Value {
    let mut tune = mount_tune(ttl, "unauth");
    tune["token_type"] = json!("batch");
    tune["user_lockout_config"] = json!({"lockout_threshold": threshold,
        "lockout_duration": "10m", "lockout_counter_reset_duration": "5m",
        "lockout_disable": false});
    tune
}

pub const AUTH_ITEMS: Shape = Shape {
    kind: "auth items (userpass, approle, kubernetes, jwt, oidc, cert, token roles)",
    defaults: auth_defaults,
    tuned: |b| {
        auth_defaults(b);
        for path in ["auth/approle/role/r", "auth/token/roles/t"] {
            b.delete(path);
        }
        auth_tuned(b, true);
    },
    change: |b| auth_tuned(b, false),
    view: auth_view,
    needs_namespaces: false,
};

/// An auth mount of the identity kinds' own, for their aliases.
fn identity_mount(b: &Bao) -> String {
    if data(b, "sys/auth")["m-id/"].is_null() {
        b.write("sys/auth/m-id", json!({"type": "userpass"}));
    }
    accessor(b, "m-id/")
}

pub const ENTITY: Shape = Shape {
    kind: "identity entity",
    defaults: |b| {
        b.write("identity/entity", json!({"name": "m-ent"}));
    },
    tuned: |b| {
        b.write(
            "identity/entity",
            json!({"name": "m-ent", "policies": ["p1", "p2"], "metadata": {"team": "ops"},
                   "disabled": true}),
        );
        entity_alias(b, "m-alias");
    },
    change: |b| {
        b.write(
            "identity/entity/name/m-ent",
            json!({"policies": ["p3"], "metadata": {"team": "dev"}, "disabled": true}),
        );
        entity_alias(b, "m-alias2");
    },
    view: |b| {
        let e = data(b, "identity/entity/name/m-ent");
        let aliases: Vec<Value> = e["aliases"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|a| json!([a["name"], a["mount_path"], a["custom_metadata"]]))
                    .collect()
            })
            .unwrap_or_default();
        // An entity never given metadata reads `null`; one written with none reads `{}`.
        let metadata = if e["metadata"].is_null() {
            json!({})
        } else {
            e["metadata"].clone()
        };
        json!({"policies": e["policies"], "metadata": metadata, "disabled": e["disabled"],
               "aliases": aliases})
    },
    needs_namespaces: false,
};

fn entity_alias(b: &Bao, name: &str) {
    let up = identity_mount(b);
    let id = id_of(b, "entity", "m-ent");
    b.write(
        "identity/entity-alias",
        json!({"name": name, "canonical_id": id, "mount_accessor": up,
               "custom_metadata": {"alias": name}}),
    );
}

pub const INTERNAL_GROUP: Shape = Shape {
    kind: "identity group (internal)",
    defaults: |b| {
        b.write("identity/group", json!({"name": "m-grp"}));
    },
    tuned: |b| {
        b.write("identity/entity", json!({"name": "m-member"}));
        b.write("identity/group", json!({"name": "m-sub"}));
        let (member, sub) = (id_of(b, "entity", "m-member"), id_of(b, "group", "m-sub"));
        b.write(
            "identity/group",
            json!({"name": "m-grp", "policies": ["p1"], "metadata": {"a": "b"},
                   "member_entity_ids": [member], "member_group_ids": [sub]}),
        );
    },
    change: |b| {
        b.write("identity/entity", json!({"name": "m-member"}));
        let member = id_of(b, "entity", "m-member");
        b.write(
            "identity/group/name/m-grp",
            json!({"policies": ["p2"], "metadata": {"c": "d"}, "member_entity_ids": [member]}),
        );
    },
    view: |b| group_view(b, "m-grp"),
    needs_namespaces: false,
};

pub const EXTERNAL_GROUP: Shape = Shape {
    kind: "identity group (external, with alias)",
    defaults: |b| {
        b.write(
            "identity/group",
            json!({"name": "m-ext", "type": "external"}),
        );
    },
    tuned: |b| {
        b.write(
            "identity/group",
            json!({"name": "m-ext", "type": "external", "policies": ["p1"],
                   "metadata": {"idp": "corp"}}),
        );
        group_alias(b, "m-ext-alias");
    },
    change: |b| {
        b.write(
            "identity/group/name/m-ext",
            json!({"policies": ["p2"], "metadata": {"idp": "other"}}),
        );
        group_alias(b, "m-ext-alias");
    },
    view: |b| group_view(b, "m-ext"),
    needs_namespaces: false,
};

fn group_alias(b: &Bao, name: &str) {
    let up = identity_mount(b);
    let id = id_of(b, "group", "m-ext");
    b.write(
        "identity/group-alias",
        json!({"name": name, "mount_accessor": up, "canonical_id": id}),
    );
}
