//! Unit tests of the mount diff.

use super::*;

fn entry(kind: &str, version: &str) -> MountEntry {
    MountEntry {
        path: "secret/".into(),
        kind: kind.into(),
        options: [("version".to_string(), version.to_string())].into(),
        ..Default::default()
    }
}

fn kv2() -> Mount {
    Mount::from_entry("", Table::Secret, &entry("kv", "2"))
}

#[test]
fn missing_mount_is_created_matching_is_unchanged() {
    assert_eq!(diff(&kv2(), None, None).0, Action::Create);
    assert_eq!(
        diff(&kv2(), Some(&entry("kv", "2")), None).0,
        Action::Unchanged
    );
}

#[test]
fn type_mismatch_is_refused() {
    assert_eq!(
        diff(&kv2(), Some(&entry("kv", "1")), None).0,
        Action::Refused
    );
    assert_eq!(
        diff(&kv2(), Some(&entry("transit", "")), None).0,
        Action::Refused
    );
}

#[test]
fn local_target_mounts_are_refused() {
    let mut local = entry("kv", "2");
    local.local = true;
    assert_eq!(diff(&kv2(), Some(&local), None).0, Action::Refused);
}

#[test]
fn config_and_kv_config_differences_are_updates() {
    let mut desired = kv2();
    desired.config.default_lease_ttl = 3600;
    let (action, reason) = diff(&desired, Some(&entry("kv", "2")), None);
    assert_eq!(action, Action::Update);
    assert_eq!(reason.as_deref(), Some("config differ"));

    let mut desired = kv2();
    desired.kv_config = Some(KvConfig {
        max_versions: 5,
        cas_required: true,
        delete_version_after: "0s".into(),
    });
    let cur = KvConfig {
        max_versions: 0,
        cas_required: false,
        delete_version_after: "0s".into(),
    };
    assert_eq!(
        diff(&desired, Some(&entry("kv", "2")), Some(&cur)).0,
        Action::Update
    );
    let same = desired.kv_config.clone();
    assert_eq!(
        diff(&desired, Some(&entry("kv", "2")), same.as_ref()).0,
        Action::Unchanged
    );
}

#[test]
fn untunable_and_uncleared_settings_do_not_make_an_update_forever() {
    let mut target = entry("kv", "2");
    target.plugin_version = "v1.0.0".into();
    let lockout = json!({"user_lockout_threshold": 3, "user_lockout_duration": 60});
    target.config.insert("user_lockout_config".into(), lockout);
    // The source has none of them: nothing to write.
    assert_eq!(diff(&kv2(), Some(&target), None).0, Action::Unchanged);
    let mut pinned = kv2();
    pinned.plugin_version = "v2.0.0".into();
    assert_eq!(
        diff(&pinned, Some(&target), None).1.as_deref(),
        Some("plugin_version differ")
    );
    let mut locked = kv2();
    locked.config.user_lockout_config = Some(UserLockout {
        user_lockout_threshold: 7,
        ..Default::default()
    });
    assert_eq!(diff(&locked, Some(&target), None).0, Action::Update);
    let tune = locked
        .config
        .user_lockout_config
        .as_ref()
        .map(UserLockout::to_tune);
    assert_eq!(tune.unwrap()["lockout_threshold"], "7");
}

#[test]
fn kv_versions_are_told_apart() {
    let v2: BTreeMap<String, String> = [("version".to_string(), "2".to_string())].into();
    assert_eq!(kv_version("kv", &v2), Some(2));
    assert_eq!(kv_version("kv", &BTreeMap::new()), Some(1));
    assert_eq!(kv_version("generic", &BTreeMap::new()), Some(1));
    assert_eq!(kv_version("transit", &BTreeMap::new()), None);
}
