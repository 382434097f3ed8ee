//! Unit tests of the registry and of planning against a stubbed target (`MemoryVault`): what each
//! kind reads, decides and writes, without a server.

use std::sync::Arc;

use serde_json::json;

use super::auth::{AuthItem, NewUserPassword};
use super::policies::{Policy, PolicyType};
use super::{Kind, Object, Stage, Target};
use crate::model::Action;
use crate::vault::{MemoryVault, VaultClient};

async fn target(api: &Arc<MemoryVault>, userpass: NewUserPassword) -> Target {
    let client = VaultClient::with_api(api.clone());
    Target::load(client, &[], userpass).await.unwrap()
}

fn policy(text: &str) -> Object {
    Object::Policy(Policy {
        namespace: String::new(),
        policy_type: PolicyType::Acl,
        name: "app".into(),
        policy: text.into(),
    })
}

fn user(name: &str) -> Object {
    Object::AuthItem(AuthItem {
        namespace: String::new(),
        mount: "userpass/".into(),
        method: "userpass".into(),
        item: format!("users/{name}"),
        data: json!({"token_ttl": 60}).as_object().cloned().unwrap(),
        escrowed: Default::default(),
    })
}

#[test]
fn every_kind_names_its_entries_in_its_own_folder_and_is_tagged_by_its_name() {
    let item = |name: &str| {
        let data = json!({"a": 1}).as_object().cloned().unwrap();
        super::engine_item::EngineItem::new("", "engine/", name, data)
    };
    let objects = [
        policy("p"),
        user("u"),
        Object::DatabaseConfig(super::database::DatabaseConfig::from(item("pg"))),
        Object::DatabaseStaticRole(super::database::DatabaseStaticRole::from(item("s"))),
        Object::KubernetesConfig(super::kubernetes::KubernetesConfig::from(item(""))),
        Object::RabbitmqConnection(super::rabbitmq::RabbitmqConnection::from(item(""))),
        Object::RabbitmqRole(super::rabbitmq::RabbitmqRole::from(item("r"))),
        Object::RabbitmqLease(super::rabbitmq::RabbitmqLease::from(item(""))),
    ];
    for obj in objects {
        let name = format!("{}.json", obj.entry());
        assert_eq!(Kind::of_entry(&name), Some(obj.kind()), "{name}");
        let tag = serde_json::to_value(&obj).unwrap()["kind"].clone();
        assert_eq!(tag, json!(obj.kind().as_str()));
        assert!(obj.validate().is_ok());
    }
    for kind in Kind::ALL {
        for folder in kind.folders() {
            let name = format!("{folder}/x.json");
            assert_eq!(Kind::of_entry(&name), Some(*kind), "{name}");
            assert_eq!(Kind::of_entry(&format!("ns/team%2F/{name}")), Some(*kind));
        }
    }
    assert_eq!(Kind::of_entry("etc/passwd"), None);
}

#[test]
fn stages_are_declared_by_the_kinds_and_containers_come_first_in_a_snapshot() {
    assert_eq!(Kind::Namespace.stage(), Stage::Containers);
    assert_eq!(Kind::Mount.stage(), Stage::Containers);
    assert_eq!(Kind::Group.stage(), Stage::Groups);
    let first_content = Kind::ALL
        .iter()
        .position(|k| k.stage() != Stage::Containers);
    let last_container = Kind::ALL
        .iter()
        .rposition(|k| k.stage() == Stage::Containers);
    assert!(last_container < first_content, "{:?}", Kind::ALL);
}

#[tokio::test]
async fn a_policy_is_read_decided_and_written_through_the_api() {
    let api = Arc::new(MemoryVault::new());
    api.put(
        "",
        "sys/policies/acl/app",
        json!({"data": {"policy": "old"}}),
    );
    let t = target(&api, NewUserPassword::Random).await;
    let obj = policy("new");
    let d = obj.plan(&t).await.unwrap();
    assert_eq!((d.action, d.drift), (Action::Update, false));
    assert_eq!(d.reason.as_deref(), Some("policy text differs"));
    obj.apply(&t, d.action, &d.ops).await.unwrap();
    let written = (
        "".into(),
        "sys/policies/acl/app".into(),
        json!({"policy": "new"}),
    );
    assert_eq!(api.writes(), vec![written]);
    assert_eq!(obj.plan(&t).await.unwrap().action, Action::Unchanged);
}

#[tokio::test]
async fn a_new_userpass_user_is_skipped_when_so_configured_and_nothing_is_written() {
    let api = Arc::new(MemoryVault::new());
    let t = target(&api, NewUserPassword::Skip).await;
    let d = user("alice").plan(&t).await.unwrap();
    assert_eq!(d.action, Action::Skipped);
    assert!(
        d.reason
            .unwrap()
            .contains("REPLICATOR_USERPASS_PASSWORD=skip")
    );
    assert_eq!(user("bob").under_new_parent(&t).action, Action::Skipped);
    let random = target(&api, NewUserPassword::Random).await;
    let d = user("alice").plan(&random).await.unwrap();
    assert_eq!(d.action, Action::Create);
    user("alice")
        .apply(&random, d.action, &d.ops)
        .await
        .unwrap();
    let writes = api.writes();
    assert_eq!(writes.len(), 1);
    // A random password goes with the new user; the snapshot never carried one.
    let password = writes[0].2["password"].as_str().unwrap_or_default();
    assert_eq!(password.len(), 32);
}

#[tokio::test]
async fn a_target_whose_mount_tables_cannot_be_read_is_an_error() {
    // No mount tables at all: an answer without a table is refused, not taken for an empty one.
    let api = Arc::new(MemoryVault::default());
    let client = VaultClient::with_api(api);
    assert!(
        Target::load(client, &[], NewUserPassword::Random)
            .await
            .is_err()
    );
}
