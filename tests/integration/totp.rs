//! TOTP engines: a key's seed cannot be read back, so each key is listed as not copied in the
//! import's summary (to enrol again on DR after promotion), and none is written.

use serde_json::json;

use super::support::Pair;

#[test]
fn each_totp_key_is_listed_as_not_copied_and_none_is_written() {
    let p = Pair::new();
    p.src.write("sys/mounts/totp", json!({"type": "totp"}));
    for name in ["alice", "bob"] {
        p.src.write(
            &format!("totp/keys/{name}"),
            json!({"generate": true, "issuer": "DC", "account_name": name}),
        );
    }
    let run = p.sync(&[], 0);
    for name in ["alice", "bob"] {
        let line = format!(
            "not copied: totp_key totp/keys/{name}: TOTP key seeds cannot be read back: \
             re-enrol it on DR after promotion"
        );
        assert!(run.stdout.contains(&line), "{}", run.stdout);
    }
    assert!(
        !run.stdout.contains("contents of `totp` engines"),
        "{}",
        run.stdout
    );
    assert!(p.dst.read("sys/mounts/totp").is_some());
    assert!(p.dst.list("totp/keys").is_empty());
    p.assert_converged();
}
