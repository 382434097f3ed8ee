//! The rabbitmq secrets engine against real OpenBao: roles field by field; the connection config,
//! which the API never reads back, travels only through the escrow (DR then issues credentials
//! with it, through a stand-in management API) and is otherwise reported as not copied.

use base64::Engine as _;
use serde_json::json;

use super::support::{Bao, Pair, RabbitApi, data, words, writes};

const ESCROW: (&str, &str) = ("REPLICATOR_ESCROW_MOUNT", "escrow");

fn seed(bao: &Bao) {
    bao.write("sys/mounts/rmq", json!({"type": "rabbitmq"}));
    bao.write(
        "rmq/roles/app",
        json!({"tags": "management",
               "vhosts": r#"{"/": {"configure": ".*", "write": ".*", "read": ".*"}}"#,
               "vhost_topics": r#"{"/": {"amq.topic": {"write": ".*", "read": ".*"}}}"#}),
    );
    bao.write("rmq/roles/plain", json!({"tags": "monitoring"}));
}

#[track_caller]
fn assert_same(p: &Pair) {
    for path in ["rmq/roles/app", "rmq/roles/plain"] {
        let src = data(&p.src, path);
        assert!(!src.is_null(), "{path} missing on the source");
        assert_eq!(src, data(&p.dst, path), "{path}");
    }
}

fn basic(user: &str, pw: &str) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pw}"));
    format!("Basic {b64}")
}

#[test]
fn roles_are_copied_and_the_connection_only_through_the_escrow() {
    let api = RabbitApi::start();
    let p = Pair::new();
    seed(&p.src);
    let run = p.sync(&[], 0);
    let out = words(&run.stdout);
    assert!(
        out.contains(
            "not copied: rabbitmq_connection rmq/config/connection: the connection \
                      config is write-only and not escrowed"
        ),
        "{out}"
    );
    assert_same(&p);
    p.assert_converged();

    // Escrowed: written once, not again while the body is the same, again when it changes.
    p.src.mount_kv2("escrow");
    let conn = |pw: &str| {
        json!({"connection_uri": api.url, "username": "vault", "password": pw,
               "verify_connection": false})
    };
    p.src.write("rmq/config/connection", conn("dc-pw"));
    p.src
        .kv_put("escrow", "rmq/config/connection", conn("dc-pw"));
    let run = p.sync(&[ESCROW], 0);
    assert!(
        !run.stdout.contains("not copied: rabbitmq_connection"),
        "{}",
        run.stdout
    );
    p.dst.read("rmq/creds/app").unwrap();
    assert!(
        api.calls().contains(&basic("vault", "dc-pw")),
        "{}",
        api.calls()
    );
    p.assert_converged();

    p.src.write(
        "rmq/roles/app",
        json!({"tags": "", "vhosts": r#"{"/": {"read": ".*"}}"#}),
    );
    p.src
        .kv_put("escrow", "rmq/config/connection", conn("dc-pw-2"));
    let run = p.sync(&[ESCROW], 0);
    assert_eq!(
        writes(&run),
        3,
        "role, connection, escrow secret:\n{}",
        run.stdout
    );
    assert_same(&p);
    p.dst.read("rmq/creds/app").unwrap();
    assert!(
        api.calls().contains(&basic("vault", "dc-pw-2")),
        "{}",
        api.calls()
    );
    p.assert_converged();
}
