//! The matrix's database, kubernetes and rabbitmq engine objects. The database config needs no
//! database (`verify_connection=false`) and goes without its password (no escrow here; the
//! escrowed cases and static roles, which need a real database, are in `database.rs`,
//! `kubernetes.rs` and `rabbitmq.rs`).

use serde_json::{Value, json};

use crate::integration::support::matrix::Shape;
use crate::integration::support::{Bao, data};

const URL: &str = "postgresql://{{username}}:{{password}}@127.0.0.1:5/postgres";

fn mount(b: &Bao, path: &str, kind: &str) {
    b.write(&format!("sys/mounts/{path}"), json!({"type": kind}));
}

fn views(b: &Bao, paths: &[&str]) -> Value {
    Value::Array(paths.iter().map(|p| data(b, p)).collect())
}

pub const DATABASE: Shape = Shape {
    kind: "database config and role",
    defaults: |b| {
        mount(b, "m-db", "database");
        b.write(
            "m-db/config/pg",
            json!({"plugin_name": "postgresql-database-plugin", "connection_url": URL,
                   "verify_connection": false}),
        );
        b.write(
            "m-db/roles/app",
            json!({"db_name": "pg", "creation_statements": ["CREATE ROLE \"{{name}}\";"]}),
        );
    },
    tuned: |b| {
        mount(b, "m-db", "database");
        b.write(
            "m-db/config/pg",
            json!({"plugin_name": "postgresql-database-plugin", "connection_url": URL,
                   "username": "admin", "password": "not-carried", "verify_connection": false,
                   "allowed_roles": ["app", "ro"], "password_policy": "db-policy",
                   "root_rotation_statements": ["ALTER USER \"{{username}}\" PASSWORD '{{password}}';"],
                   "max_open_connections": 7, "max_idle_connections": 3,
                   "max_connection_lifetime": "90s", "username_template": "v-{{.RoleName}}",
                   "disable_escaping": true, "password_authentication": "scram-sha-256"}),
        );
        b.write(
            "m-db/roles/app",
            json!({"db_name": "pg", "creation_statements": ["CREATE ROLE \"{{name}}\";"],
                   "revocation_statements": ["DROP ROLE \"{{name}}\";"],
                   "rollback_statements": ["DROP ROLE IF EXISTS \"{{name}}\";"],
                   "renew_statements": ["SELECT 1;"], "default_ttl": "1h", "max_ttl": "24h"}),
        );
    },
    change: |b| {
        b.write(
            "m-db/config/pg",
            json!({"allowed_roles": ["app"], "max_open_connections": 9,
                   "verify_connection": false}),
        );
        b.write(
            "m-db/roles/app",
            json!({"db_name": "pg", "creation_statements": ["CREATE ROLE \"{{name}}\" LOGIN;"],
                   "default_ttl": "2h"}),
        );
    },
    view: |b| views(b, &["m-db/config/pg", "m-db/roles/app"]),
    needs_namespaces: false,
};

pub const KUBERNETES: Shape = Shape {
    kind: "kubernetes secrets config and role",
    defaults: |b| {
        mount(b, "m-k8s", "kubernetes");
        b.write(
            "m-k8s/config",
            json!({"kubernetes_host": "https://k8s.example:6443"}),
        );
        b.write(
            "m-k8s/roles/app",
            json!({"allowed_kubernetes_namespaces": ["app"], "service_account_name": "sa"}),
        );
    },
    tuned: |b| {
        mount(b, "m-k8s", "kubernetes");
        b.write(
            "m-k8s/config",
            json!({"kubernetes_host": "https://k8s.example:6443", "disable_local_ca_jwt": true,
                   "service_account_jwt": "not-carried", "kubernetes_ca_cert": "not-a-pem"}),
        );
        b.write(
            "m-k8s/roles/app",
            json!({"allowed_kubernetes_namespace_selector": r#"{"matchLabels":{"team":"a"}}"#,
                   "kubernetes_role_type": "ClusterRole",
                   "generated_role_rules": r#"{"rules":[{"apiGroups":[""],"resources":["pods"],"verbs":["list"]}]}"#,
                   "name_template": "v-{{.RoleName}}", "token_default_ttl": "1h",
                   "token_max_ttl": "2h", "token_default_audiences": ["api"],
                   "extra_labels": {"team": "a"}, "extra_annotations": {"owner": "dc"}}),
        );
    },
    change: |b| {
        b.write(
            "m-k8s/config",
            json!({"kubernetes_host": "https://k8s2.example:6443"}),
        );
        b.write(
            "m-k8s/roles/app",
            json!({"allowed_kubernetes_namespaces": ["app", "batch"],
                   "service_account_name": "sa2", "token_default_ttl": "30m"}),
        );
    },
    view: |b| views(b, &["m-k8s/config", "m-k8s/roles/app"]),
    needs_namespaces: false,
};

pub const RABBITMQ_ROLE: Shape = Shape {
    kind: "rabbitmq role",
    defaults: |b| {
        mount(b, "m-rmq", "rabbitmq");
        b.write("m-rmq/roles/app", json!({"tags": "management"}));
    },
    tuned: |b| {
        mount(b, "m-rmq", "rabbitmq");
        b.write(
            "m-rmq/roles/app",
            json!({"tags": "management,policymaker",
                   "vhosts": r#"{"/": {"configure": ".*", "write": "w.*", "read": "r.*"}}"#,
                   "vhost_topics": r#"{"/": {"amq.topic": {"write": ".*", "read": ".*"}}}"#}),
        );
    },
    change: |b| {
        b.write(
            "m-rmq/roles/app",
            json!({"tags": "", "vhosts": r#"{"/app": {"read": ".*"}}"#}),
        );
    },
    view: |b| views(b, &["m-rmq/roles/app"]),
    needs_namespaces: false,
};

pub const RABBITMQ_LEASE: Shape = Shape {
    kind: "rabbitmq lease config",
    defaults: |b| mount(b, "m-rmq-lease", "rabbitmq"),
    tuned: |b| {
        mount(b, "m-rmq-lease", "rabbitmq");
        b.write(
            "m-rmq-lease/config/lease",
            json!({"ttl": "1h", "max_ttl": "24h"}),
        );
    },
    // A write replaces both: `max_ttl` left out goes back to 0.
    change: |b| {
        b.write("m-rmq-lease/config/lease", json!({"ttl": 600}));
    },
    view: |b| views(b, &["m-rmq-lease/config/lease"]),
    needs_namespaces: false,
};

pub const IN_A_NAMESPACE: Shape = Shape {
    kind: "database and kubernetes engines in a child namespace",
    defaults: |b| {
        b.write("sys/namespaces/m-eng", json!({}));
        b.write("m-eng/sys/mounts/db", json!({"type": "database"}));
        b.write(
            "m-eng/db/config/pg",
            json!({"plugin_name": "postgresql-database-plugin", "connection_url": URL,
                   "verify_connection": false, "allowed_roles": ["app"]}),
        );
        b.write(
            "m-eng/db/roles/app",
            json!({"db_name": "pg", "creation_statements": ["CREATE ROLE \"{{name}}\";"]}),
        );
        b.write("m-eng/sys/mounts/k8s", json!({"type": "kubernetes"}));
        b.write(
            "m-eng/k8s/config",
            json!({"kubernetes_host": "https://k8s.example"}),
        );
    },
    tuned: |b| {
        (IN_A_NAMESPACE.defaults)(b);
        b.write(
            "m-eng/db/roles/app",
            json!({"db_name": "pg", "creation_statements": ["CREATE ROLE \"{{name}}\";"],
                   "default_ttl": "1h", "max_ttl": "2h"}),
        );
    },
    change: |b| {
        b.write(
            "m-eng/db/config/pg",
            json!({"allowed_roles": ["app", "ro"], "verify_connection": false}),
        );
        b.write(
            "m-eng/k8s/config",
            json!({"kubernetes_host": "https://k8s2.example"}),
        );
    },
    view: |b| {
        views(
            b,
            &[
                "m-eng/db/config/pg",
                "m-eng/db/roles/app",
                "m-eng/k8s/config",
            ],
        )
    },
    needs_namespaces: true,
};
