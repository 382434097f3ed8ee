//! The kubernetes secrets engine (not the auth method) against real OpenBao: config and roles
//! field by field, the write-only `service_account_jwt` through the escrow (DR issues tokens with
//! it, through a stand-in Kubernetes API), never cleared when DR holds its own, and reported when
//! not escrowed.

use serde_json::json;

use super::support::{Bao, KubeTokens, Pair, data, words, writes};

const ESCROW: (&str, &str) = ("REPLICATOR_ESCROW_MOUNT", "escrow");

fn seed(bao: &Bao, host: &str) {
    bao.write("sys/mounts/k8s", json!({"type": "kubernetes"}));
    bao.write(
        "k8s/config",
        json!({"kubernetes_host": host, "disable_local_ca_jwt": true,
               "service_account_jwt": "dc-jwt"}),
    );
    bao.write(
        "k8s/roles/app",
        json!({"allowed_kubernetes_namespaces": ["app"], "service_account_name": "runner",
               "token_default_ttl": "1h", "token_max_ttl": "2h",
               "token_default_audiences": ["api"], "extra_labels": {"team": "payments"},
               "extra_annotations": {"owner": "dc"}}),
    );
    bao.write(
        "k8s/roles/plain",
        json!({"allowed_kubernetes_namespaces": ["*"],
        "service_account_name": "default"}),
    );
}

#[track_caller]
fn assert_same(p: &Pair) {
    for path in ["k8s/config", "k8s/roles/app", "k8s/roles/plain"] {
        let src = data(&p.src, path);
        assert!(!src.is_null(), "{path} missing on the source");
        assert_eq!(src, data(&p.dst, path), "{path}");
    }
}

#[test]
fn dr_issues_tokens_with_the_escrowed_jwt_and_a_reimport_writes_nothing() {
    let kube = KubeTokens::start();
    let p = Pair::new();
    seed(&p.src, &kube.url);
    p.src.mount_kv2("escrow");
    p.src.kv_put(
        "escrow",
        "k8s/config",
        json!({"service_account_jwt": "dc-jwt"}),
    );
    let run = p.sync(&[ESCROW], 0);
    assert!(
        !run.stdout.contains("service_account_jwt"),
        "{}",
        run.stdout
    );
    assert_same(&p);
    p.dst
        .write("k8s/creds/app", json!({"kubernetes_namespace": "app"}));
    assert!(
        kube.requests().contains("Bearer dc-jwt"),
        "{}",
        kube.requests()
    );
    p.assert_converged();

    // Changed on the source after the first copy.
    p.src.write(
        "k8s/config",
        json!({"kubernetes_host": format!("{}/", kube.url)}),
    );
    p.src.write(
        "k8s/roles/app",
        json!({"allowed_kubernetes_namespaces": ["app", "batch"], "service_account_name": "runner",
               "token_default_ttl": "30m", "extra_labels": {"team": "core"},
               "extra_annotations": null}),
    );
    p.sync(&[ESCROW], 0);
    assert_same(&p);
    assert!(data(&p.dst, "k8s/roles/app")["extra_annotations"].is_null());
    p.assert_converged();
}

#[test]
fn without_escrow_the_config_goes_without_its_jwt_and_drs_own_is_kept() {
    let kube = KubeTokens::start();
    let p = Pair::new();
    seed(&p.src, &kube.url);
    let run = p.sync(&[], 0);
    let out = words(&run.stdout);
    assert!(
        out.contains(
            "not copied: kubernetes_config k8s/config: `service_account_jwt` is \
                      write-only and not escrowed"
        ),
        "{out}"
    );
    assert_same(&p);
    // DR's operator sets DR's own JWT; a config update from the source keeps it.
    p.dst.write(
        "k8s/config",
        json!({"kubernetes_host": kube.url, "service_account_jwt": "dr-jwt"}),
    );
    p.src.write(
        "k8s/config",
        json!({"kubernetes_host": format!("{}/", kube.url)}),
    );
    let run = p.sync(&[], 0);
    assert_eq!(writes(&run), 1, "{}", run.stdout);
    assert_same(&p);
    p.dst
        .write("k8s/creds/app", json!({"kubernetes_namespace": "app"}));
    let log = kube.requests();
    assert!(
        log.contains("Bearer dr-jwt") && !log.contains("dc-jwt"),
        "{log}"
    );
    p.assert_converged();
}
