//! The matrix's SSH engine roles, `ca` and `otp` alike (the CA, which crosses only through the
//! escrow, has its own tests in `ssh.rs`).

use serde_json::{Value, json};

use crate::integration::support::matrix::Shape;
use crate::integration::support::{Bao, data, ssh_ca_role_tuned};

fn ssh_mount(b: &Bao) {
    b.write("sys/mounts/m-ssh", json!({"type": "ssh"}));
}

pub const SSH_ROLE: Shape = Shape {
    kind: "ssh role",
    defaults: |b| {
        ssh_mount(b);
        b.write(
            "m-ssh/roles/m-ca",
            json!({"key_type": "ca", "allow_user_certificates": true}),
        );
        b.write(
            "m-ssh/roles/m-otp",
            json!({"key_type": "otp", "default_user": "u"}),
        );
    },
    tuned: |b| {
        ssh_mount(b);
        b.write("m-ssh/roles/m-ca", ssh_ca_role_tuned());
        b.write("m-ssh/roles/m-otp", otp_tuned());
    },
    change: |b| {
        b.write(
            "m-ssh/roles/m-ca",
            json!({"key_type": "ca", "allow_host_certificates": true, "allowed_domains": "x.example",
                   "ttl": "30m"}),
        );
        b.write("m-ssh/roles/m-otp", otp_tuned());
    },
    view: |b| json!([data(b, "m-ssh/roles/m-ca"), data(b, "m-ssh/roles/m-otp")]),
    needs_namespaces: false,
};

fn otp_tuned() -> Value {
    json!({"key_type": "otp", "default_user": "u", "allowed_users": "u,v", "port": 2222,
           "cidr_list": "10.0.0.0/8,192.168.0.0/16", "exclude_cidr_list": "10.1.0.0/16"})
}
