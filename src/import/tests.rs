//! Unit tests of the reconciler against `MemoryVault`, no server: the planner walk, decide,
//! inherit and the executor in each `Mode`, over every kind.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::apply::Executor;
use super::inherit::Parents;
use super::pass::{Done, carry_out};
use super::plan::{Mode, Plan};
use super::planner::{Pass, Reading};
use super::summary::Summary;
use crate::config::{ImportOptions, MaxDelete, OnDrift};
use crate::lease::Gate;
use crate::model::Action;
use crate::objects::auth::NewUserPassword;
use crate::objects::{Kind, Object, Target};
use crate::snapshot::format::entry_name;
use crate::snapshot::reader::Scanned;
use crate::state::{Record, RecordKey, Records};
use crate::vault::{MemoryVault, VaultClient};

fn options(on_drift: OnDrift) -> ImportOptions {
    ImportOptions {
        prune: false,
        prune_mounts: false,
        max_delete: MaxDelete::Count(100),
        on_drift,
        state_mount: "replicator/".into(),
        lease_wait: Duration::ZERO,
        lease_ttl: Duration::from_secs(60),
        userpass: NewUserPassword::Random,
        database: Default::default(),
        full_check_every: 1,
        full_check: true,
        records_batch: 1000,
        max_delete_window: Duration::ZERO,
        map: Default::default(),
    }
}

fn object(v: Value) -> Object {
    serde_json::from_value(v).unwrap()
}

fn mount(table: &str, path: &str, kind: &str) -> Object {
    object(json!({"kind": "mount", "table": table, "path": path, "type": kind}))
}

fn policy(text: &str) -> Object {
    object(json!({"kind": "policy", "type": "acl", "name": "app", "policy": text}))
}

fn kv(mount: &str, path: &str) -> Object {
    object(
        json!({"kind": "kv_secret", "mount": mount, "path": path, "kv_version": 2,
        "data": {"k": "v"}}),
    )
}

/// The snapshot's entries for `objects`, each digested as `[n; 32]` (its place).
fn scanned(objects: &[Object]) -> Vec<Scanned> {
    let mut i = 0u8;
    objects
        .iter()
        .map(|o| {
            i += 1;
            Scanned {
                entry: entry_name(o),
                object: o.clone(),
                sha256: [i; 32],
            }
        })
        .collect()
}

/// Records saying the last import applied `objects[at]` as `scanned` digests it.
fn recorded(objects: &[Object], at: usize) -> Records {
    let mut records = Records::new(RecordKey::Plain);
    let s = &scanned(objects)[at];
    let o = &s.object;
    records.set(
        s.entry.clone(),
        Record::new(s.sha256, o.kind(), &o.path(), o.namespace(), None),
    );
    records
}

/// One run of `objects` in `mode` against `api`, through the client the mode gets.
async fn run(
    api: &Arc<MemoryVault>,
    mode: Mode,
    opts: &ImportOptions,
    objects: &[Object],
    records: &mut Records,
) -> crate::Result<Done> {
    let client: VaultClient = match mode {
        Mode::DryRun => api.client().read_only(),
        Mode::PlanThenApply | Mode::Streamed => api.client(),
    };
    let mut target = Target::load(client, &[], opts.userpass).await?;
    target.database = opts.database;
    let (parents, gate) = (Parents::default(), Gate::default());
    let pass = Pass {
        mode,
        exec: Executor {
            target: &target,
            parents: &parents,
            concurrency: 4,
            gate: &gate,
        },
        key: "test",
        entries: objects.len() as u64,
        opts,
        restore: None,
        saver: None,
        superseded: &[],
        claimed: &Default::default(),
        source: "file:///test",
    };
    let reading = Reading::Kept(scanned(objects));
    carry_out(&pass, reading, records, Vec::new(), Vec::new()).await
}

/// A streamed run of `objects` (the default mode), which must not fail as a whole.
async fn streamed(
    api: &Arc<MemoryVault>,
    on_drift: OnDrift,
    objects: &[Object],
    records: &mut Records,
) -> Summary {
    summary(
        run(api, Mode::Streamed, &options(on_drift), objects, records)
            .await
            .unwrap(),
    )
}

fn summary(done: Done) -> Summary {
    match done {
        Done::Applied(s) => s.unwrap(),
        Done::Planned(_, s) => s,
    }
}

fn plan(done: Done) -> Plan {
    match done {
        Done::Planned(p, _) => p,
        Done::Applied(_) => panic!("applied, not planned"),
    }
}

/// The secret engines `CONTENTS` live in, each mounted at its name (KV at `secret/`).
const ENGINES: &[&str] = &[
    "kv",
    "transit",
    "ssh",
    "totp",
    "pki",
    "database",
    "kubernetes",
    "rabbitmq",
];

/// One object of every kind but the containers, as a snapshot's entries carry them.
const CONTENTS: &[&str] = &[
    r#"{"kind": "policy", "type": "acl", "name": "app", "policy": "path \"x\" {}"}"#,
    r#"{"kind": "auth_item", "mount": "userpass/", "method": "userpass", "item": "users/alice",
        "data": {"token_ttl": 60}}"#,
    r#"{"kind": "kv_secret", "mount": "secret/", "path": "app", "kv_version": 2,
        "data": {"k": "v"}}"#,
    r#"{"kind": "transit_key", "mount": "transit/", "name": "k", "type": "aes256-gcm96",
        "latest_version": 1, "backup": "YmFja3Vw"}"#,
    r#"{"kind": "ssh_ca", "mount": "ssh/", "public_key":
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"}"#,
    r#"{"kind": "ssh_role", "mount": "ssh/", "name": "user", "data": {"key_type": "ca"}}"#,
    r#"{"kind": "totp_key", "mount": "totp/", "name": "k"}"#,
    r#"{"kind": "pki_issuer", "mount": "pki/", "name": "root", "source_id": "s1",
        "certificate": "-----BEGIN CERTIFICATE-----\nAB\n-----END CERTIFICATE-----\n",
        "settings": {"usage": "read-only"}}"#,
    r#"{"kind": "pki_config", "mount": "pki/", "item": "urls",
        "fields": {"issuing_certificates": ["http://x"]}}"#,
    r#"{"kind": "pki_role", "mount": "pki/", "name": "web", "fields": {"ttl": 60},
        "issuer": {"name": "root"}}"#,
    r#"{"kind": "database_config", "mount": "database/", "name": "pg",
        "data": {"plugin_name": "postgresql-database-plugin"}}"#,
    r#"{"kind": "database_role", "mount": "database/", "name": "ro", "data": {"db_name": "pg"}}"#,
    r#"{"kind": "database_static_role", "mount": "database/", "name": "st",
        "data": {"db_name": "pg", "username": "u"}}"#,
    r#"{"kind": "kubernetes_config", "mount": "kubernetes/",
        "data": {"kubernetes_host": "https://k"}}"#,
    r#"{"kind": "kubernetes_role", "mount": "kubernetes/", "name": "r",
        "data": {"allowed_kubernetes_namespaces": ["a"]}}"#,
    r#"{"kind": "rabbitmq_connection", "mount": "rabbitmq/",
        "data": {"connection_uri": "http://r"}}"#,
    r#"{"kind": "rabbitmq_role", "mount": "rabbitmq/", "name": "r", "data": {"vhosts": "{}"}}"#,
    r#"{"kind": "rabbitmq_lease", "mount": "rabbitmq/", "data": {"ttl": 3600, "max_ttl": 0}}"#,
    r#"{"kind": "entity", "name": "alice", "policies": ["app"], "metadata": {},
        "disabled": false, "aliases": []}"#,
    r#"{"kind": "group", "name": "g", "type": "internal", "policies": [], "metadata": {},
        "member_entities": [], "member_groups": []}"#,
];

/// One object of each kind, inside containers a run creates first.
fn every_kind() -> Vec<Object> {
    let mut all = vec![object(json!({"kind": "namespace", "path": "team1/"}))];
    all.push(mount("auth", "userpass/", "userpass"));
    for engine in ENGINES {
        let path = match *engine {
            "kv" => "secret/".to_string(),
            e => format!("{e}/"),
        };
        all.push(mount("secret", &path, engine));
    }
    let contents = CONTENTS.iter().map(|s| serde_json::from_str(s).unwrap());
    all.extend(contents);
    all
}

/// What each kind comes to when created into an empty cluster: applied, or deliberately not.
fn expected(kind: Kind) -> Action {
    match kind.as_str() {
        // No escrowed private key: DR could not sign with the DC's CA.
        "ssh_ca" => Action::Skipped,
        // Seeds cannot be read back.
        "totp_key" => Action::Skipped,
        _ => Action::Create,
    }
}

/// A cluster whose PKI engine holds the issuer's certificate once imported (MemoryVault keeps
/// bodies, not an engine's effects).
fn cluster() -> Arc<MemoryVault> {
    let api = Arc::new(MemoryVault::new());
    let cert = "-----BEGIN CERTIFICATE-----\nAB\n-----END CERTIFICATE-----\n";
    api.put("", "pki/issuers/i1", json!({}));
    api.put(
        "",
        "pki/issuer/i1",
        json!({"data": {"issuer_id": "i1", "issuer_name": "", "certificate": cert, "key_id": ""}}),
    );
    api
}

#[tokio::test]
async fn every_kind_is_planned_and_applied_at_least_once() {
    let objects = every_kind();
    let kinds: Vec<Kind> = objects.iter().map(Object::kind).collect();
    for kind in Kind::ALL {
        assert!(
            kinds.contains(kind),
            "no case for {kind}: add one to every_kind()"
        );
    }
    let mut opts = options(OnDrift::Overwrite);
    opts.database.static_roles = true;
    let api = cluster();
    let mut records = Records::new(RecordKey::Plain);
    let done = run(&api, Mode::Streamed, &opts, &objects, &mut records).await;
    let s = summary(done.unwrap());
    assert!(s.failures.is_empty(), "{:#?}", s.failures);
    for kind in Kind::ALL {
        let row = &s.kinds[kind];
        let n = match expected(*kind) {
            Action::Create => row.created,
            _ => row.skipped,
        };
        assert!(n >= 1, "{kind}: {row:?}");
    }
    // Once more, through a dry run against what the first run left: every kind planned by
    // reading the target (its mounts exist now), and nothing written.
    let writes = api.writes().len();
    let done = run(&api, Mode::DryRun, &opts, &objects, &mut records).await;
    let plan = plan(done.unwrap());
    for kind in Kind::ALL {
        let planned =
            plan.changes.iter().any(|c| c.kind == *kind) || plan.unchanged.contains_key(kind);
        assert!(planned, "{kind} not planned");
    }
    assert_eq!(api.writes().len(), writes, "a dry run wrote");
}

#[tokio::test]
async fn a_dry_run_writes_nothing_and_its_plan_has_every_change() {
    let api = cluster();
    let opts = options(OnDrift::Overwrite);
    let mut records = Records::new(RecordKey::Plain);
    let done = run(&api, Mode::DryRun, &opts, &every_kind(), &mut records).await;
    let plan = plan(done.unwrap());
    assert!(
        plan.count(Action::Create) >= Kind::ALL.len() - 2,
        "{plan:?}"
    );
    assert!(
        plan.changes.iter().all(|c| c.object.is_none()),
        "a dry plan keeps no values"
    );
    assert!(api.writes().is_empty() && api.deletes().is_empty());
    assert_eq!(records.len(), 0, "a dry run records nothing");
}

#[tokio::test]
async fn an_apply_through_the_read_only_client_of_a_dry_run_sends_no_write() {
    // Even were a dry run to reach the executor, its client turns every write into an error.
    let api = cluster();
    let opts = options(OnDrift::Overwrite);
    let target = Target::load(api.client().read_only(), &[], opts.userpass)
        .await
        .unwrap();
    let change = super::plan::Change::new(policy("p"), Action::Create, None);
    let (parents, gate) = (Parents::default(), Gate::default());
    let exec = Executor {
        target: &target,
        parents: &parents,
        concurrency: 1,
        gate: &gate,
    };
    let Ok((_, result)) = exec.apply_one(change).await else {
        panic!("not started");
    };
    assert!(result.unwrap_err().contains("a dry run writes nothing"));
    assert!(api.writes().is_empty());
}

/// A mount whose creation the cluster refuses, what it holds, a namespace whose creation it
/// refuses with a mount and a secret inside, and a policy outside both.
fn failing_parents(api: &MemoryVault) -> Vec<Object> {
    api.refuse_writes("sys/mounts/secret");
    api.refuse_writes("sys/namespaces/team1");
    let mut inner = mount("secret", "inner/", "kv");
    let mut inner_kv = kv("inner/", "x");
    for o in [&mut inner, &mut inner_kv] {
        let mut v = serde_json::to_value(&*o).unwrap();
        v["namespace"] = json!("team1/");
        *o = object(v);
    }
    vec![
        object(json!({"kind": "namespace", "path": "team1/"})),
        mount("secret", "secret/", "kv"),
        inner,
        policy("path \"x\" {}"),
        kv("secret/", "a"),
        inner_kv,
    ]
}

#[tokio::test]
async fn a_parent_that_failed_refuses_its_children_whether_streamed_or_planned_first() {
    for mode in [Mode::Streamed, Mode::PlanThenApply] {
        let api = cluster();
        let objects = failing_parents(&api);
        let on_drift = match mode {
            Mode::PlanThenApply => OnDrift::Fail,
            _ => OnDrift::Overwrite,
        };
        let mut records = Records::new(RecordKey::Plain);
        let s = summary(
            run(&api, mode, &options(on_drift), &objects, &mut records)
                .await
                .unwrap(),
        );
        let reason = |path: &str| {
            let f = s.failures.iter().find(|f| f.path.contains(path));
            f.map(|f| f.reason.clone()).unwrap_or_default()
        };
        assert!(
            reason("secret/a").contains("its mount secret/ was not created"),
            "{mode:?}"
        );
        assert!(
            reason("inner/").contains("its namespace team1/ was not created"),
            "{mode:?}"
        );
        assert!(
            reason("inner/x").contains("not created"),
            "{mode:?}: {}",
            reason("inner/x")
        );
        assert_eq!(s.kinds[&Kind::Policy].created, 1, "{mode:?}");
        assert_eq!(s.kinds[&Kind::KvSecret].refused, 2, "{mode:?}");
        let written: Vec<String> = api.writes().into_iter().map(|(_, p, _)| p).collect();
        assert!(
            !written
                .iter()
                .any(|p| p.contains("secret/data") || p.contains("inner")),
            "{written:?}"
        );
        assert!(
            records.get("kv/secret/a.json").is_none_or(|r| r.unsettled),
            "{mode:?}"
        );
    }
}

#[tokio::test]
async fn the_state_mount_is_never_written_from_a_snapshot() {
    let api = cluster();
    let objects = [mount("secret", "replicator/", "kv"), kv("replicator/", "x")];
    let mut records = Records::new(RecordKey::Plain);
    let s = streamed(&api, OnDrift::Overwrite, &objects, &mut records).await;
    assert_eq!(
        (
            s.kinds[&Kind::Mount].refused,
            s.kinds[&Kind::KvSecret].refused
        ),
        (1, 1)
    );
    assert!(
        s.failures
            .iter()
            .all(|f| f.reason.contains("own state mount")),
        "{:?}",
        s.failures
    );
    assert!(api.writes().is_empty());
}

/// A target where policy `app` changed since the last import wrote it, and a new policy.
fn drifted() -> (Arc<MemoryVault>, Vec<Object>, Records) {
    let api = cluster();
    api.put(
        "",
        "sys/policies/acl/app",
        json!({"data": {"policy": "changed on DR"}}),
    );
    let mut other = serde_json::to_value(policy("b")).unwrap();
    other["name"] = json!("other");
    let objects = vec![policy("path \"x\" {}"), object(other)];
    let records = recorded(&objects, 0);
    (api, objects, records)
}

fn written(api: &MemoryVault) -> Vec<String> {
    api.writes().into_iter().map(|(_, p, _)| p).collect()
}

#[tokio::test]
async fn drift_is_overwritten_when_so_configured() {
    let (api, objects, mut records) = drifted();
    let s = streamed(&api, OnDrift::Overwrite, &objects, &mut records).await;
    assert_eq!((s.drifted, s.kinds[&Kind::Policy].updated), (1, 1));
    assert_eq!(
        written(&api),
        ["sys/policies/acl/app", "sys/policies/acl/other"]
    );
}

#[tokio::test]
async fn drift_is_left_as_it_is_when_so_configured() {
    let (api, objects, mut records) = drifted();
    let s = streamed(&api, OnDrift::Skip, &objects, &mut records).await;
    assert_eq!((s.drifted, s.kinds[&Kind::Policy].skipped), (1, 1));
    assert_eq!(s.left_alone.len(), 1);
    assert!(!s.is_partial());
    assert_eq!(written(&api), ["sys/policies/acl/other"]);
}

#[tokio::test]
async fn drift_with_on_drift_fail_refuses_the_run_before_anything_is_written() {
    let (api, objects, mut records) = drifted();
    let mode = Mode::of(false, OnDrift::Fail);
    assert_eq!(mode, Mode::PlanThenApply);
    let e = match run(&api, mode, &options(OnDrift::Fail), &objects, &mut records).await {
        Err(e) => e.to_string(),
        Ok(_) => panic!("not refused"),
    };
    assert!(e.contains("REPLICATOR_ON_DRIFT=fail"), "{e}");
    assert!(api.writes().is_empty(), "{:?}", written(&api));
    // Without drift, the same mode applies exactly its plan.
    let (api, objects, _) = drifted();
    let mut fresh = Records::new(RecordKey::Plain);
    let s = summary(
        run(&api, mode, &options(OnDrift::Fail), &objects, &mut fresh)
            .await
            .unwrap(),
    );
    assert_eq!(
        s.kinds[&Kind::Policy].updated + s.kinds[&Kind::Policy].created,
        2
    );
    assert_eq!(fresh.len(), 2);
}

#[tokio::test]
async fn escrowed_fields_are_written_unless_the_last_import_applied_this_very_entry() {
    let api = cluster();
    api.put(
        "",
        "sys/auth",
        json!({"data": {"approle/": {"type": "approle"}}}),
    );
    api.put(
        "",
        "auth/approle/role/ci",
        json!({"data": {"token_ttl": 60}}),
    );
    let role = object(
        json!({"kind": "auth_item", "mount": "approle/", "method": "approle",
        "item": "role/ci", "data": {"token_ttl": 60}, "escrowed": {"secret_id": "s"}}),
    );
    let opts = options(OnDrift::Overwrite);
    let target = Target::load(api.client(), &[], opts.userpass)
        .await
        .unwrap();
    let plain = object(
        json!({"kind": "auth_item", "mount": "approle/", "method": "approle",
        "item": "role/ci", "data": {"token_ttl": 60}}),
    );
    let decide = async |o: &Object, applied| {
        super::decide::plan_one(&target, o.clone(), (applied, applied), &opts).await
    };
    assert_eq!(decide(&plain, None).await.action, Action::Unchanged);
    let c = decide(&role, None).await;
    assert_eq!(c.action, Action::Update);
    assert!(c.reason.unwrap_or_default().contains("escrowed fields"));
    assert_eq!(decide(&role, Some(true)).await.action, Action::Unchanged);
}
