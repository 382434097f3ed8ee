//! Every auth method the tool carries, against real OpenBao: each item at its defaults, tuned,
//! and changed after the first copy, must arrive and converge; what a write cannot take back
//! is refused with the reason.

use serde_json::json;

use crate::integration::support::{
    Pair, assert_same_auth, auth_defaults, auth_tuned, replicator, some_cert,
};

// A default `cert` config read back with ocsp_cache_size 0, which the server refuses on write:
// every import of a cluster with cert auth ended partial. Every method at its defaults.
#[test]
fn every_auth_method_at_its_defaults_replicates_and_converges() {
    let p = Pair::new();
    auth_defaults(&p.src);
    let run = p.sync(&[], 0);
    assert!(!run.all().contains("dc-only"));
    assert_same_auth(&p);
    p.assert_converged();
}

#[test]
fn every_auth_method_tuned_replicates_and_converges() {
    let p = Pair::new();
    auth_defaults(&p.src);
    for path in ["auth/approle/role/r", "auth/token/roles/t"] {
        p.src.delete(path);
    }
    auth_tuned(&p.src, true);
    let run = p.sync(&[], 0);
    assert!(!run.all().contains("dc-reviewer-jwt"));
    assert!(
        run.all().contains("`token_reviewer_jwt` is write-only"),
        "{}",
        run.all()
    );
    assert_same_auth(&p);
    p.assert_converged();
}

// Changed on the source after the first copy: an update of an approle role sent back its
// create-only local_secret_ids and was refused; token roles never converged on `period`.
#[test]
fn every_auth_method_changed_after_the_first_copy_follows_and_converges() {
    let p = Pair::new();
    auth_defaults(&p.src);
    p.sync(&[], 0);
    auth_tuned(&p.src, false);
    p.sync(&[], 0);
    assert_same_auth(&p);
    p.assert_converged();
}

// Writing a kubernetes config without `token_reviewer_jwt` clears the one the target holds, so
// an update from the source silently broke DR's own reviewer JWT.
#[test]
fn a_kubernetes_config_change_that_would_clear_drs_reviewer_jwt_is_refused() {
    let p = Pair::new();
    p.src
        .write("sys/auth/kubernetes", json!({"type": "kubernetes"}));
    let config = |host: &str| json!({"kubernetes_host": host, "kubernetes_ca_cert": some_cert()});
    p.src
        .write("auth/kubernetes/config", config("https://dc:6443"));
    p.sync(&[], 0);
    let mut own = config("https://dc:6443");
    own["token_reviewer_jwt"] = json!("dr-own-reviewer-jwt");
    p.dst.write("auth/kubernetes/config", own);
    p.src
        .write("auth/kubernetes/config", config("https://dc2:6443"));
    let run = p.sync(&[], 3);
    assert!(
        run.all()
            .contains("would clear the target's own `token_reviewer_jwt`"),
        "{}",
        run.all()
    );
    let dr = p.dst.read("auth/kubernetes/config").unwrap()["data"].clone();
    assert_eq!(dr["token_reviewer_jwt_set"], json!(true));
    assert_eq!(dr["kubernetes_host"], json!("https://dc:6443"));
}

// An approle role recreated on the source with another local_secret_ids cannot be updated on
// DR: said so, with what to do, and the role's other fields are left alone.
#[test]
fn an_approle_role_whose_local_secret_ids_changed_is_refused_with_the_way_out() {
    let p = Pair::new();
    p.src.write("sys/auth/approle", json!({"type": "approle"}));
    p.src
        .write("auth/approle/role/r", json!({"token_ttl": "1h"}));
    p.sync(&[], 0);
    p.src.delete("auth/approle/role/r");
    p.src.write(
        "auth/approle/role/r",
        json!({"token_ttl": "2h", "local_secret_ids": true}),
    );
    let run = p.sync(&[], 3);
    assert!(
        run.all()
            .contains("`local_secret_ids` can only be set when it is created"),
        "{}",
        run.all()
    );
    p.dst.delete("auth/approle/role/r");
    replicator(&["import", "--full-check"], &p.env(&p.dst, &[])).assert_code(0);
    let role = p.dst.read("auth/approle/role/r").unwrap()["data"].clone();
    assert_eq!(role["local_secret_ids"], json!(true));
    p.assert_converged();
}
