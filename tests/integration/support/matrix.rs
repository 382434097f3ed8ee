//! The round-trip matrix: every kind in a table of `Shape`s gets the same three cases by
//! construction (left at its defaults, every settable field tuned, changed on the source after
//! the first import), each against OpenBao directly and through the Vault-answering proxy. One
//! `Pair` per (case, backend) holds every kind's objects at once; a red cell names its kind and
//! where the target differs. Also the mount tune and mount view the mount shapes share.

use std::panic::{AssertUnwindSafe, catch_unwind};

use serde_json::{Value, json};

use super::{Bao, Pair, Run, data, replicator};

/// One kind, as the matrix seeds, changes and compares it. Each kind uses its own names (its own
/// mounts, policies, entities...), so that every kind's objects fit in one pair.
pub struct Shape {
    /// The kind's name, as a red cell and the README's table name it.
    pub kind: &'static str,
    /// Seeds the kind's objects with everything left at its defaults.
    pub defaults: fn(&Bao),
    /// Seeds the kind's objects with every settable field at a non-default value.
    pub tuned: fn(&Bao),
    /// Changes the objects `defaults` seeded, as an operator would after the first copy.
    pub change: fn(&Bao),
    /// The kind's objects as compared: the source and the target must read the same.
    pub view: fn(&Bao) -> Value,
    /// Only where the server has namespaces (not on HashiCorp Vault Community).
    pub needs_namespaces: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Case {
    Defaults,
    Tuned,
    Changed,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Backend {
    /// Straight against OpenBao.
    OpenBao,
    /// Both servers behind a proxy answering as HashiCorp Vault Community.
    VaultShaped,
}

/// Runs one case of every shape on one backend, and fails with every red kind and why.
/// `MATRIX_SHOW=1` prints each green kind's view and the re-import's dry run.
pub fn run(shapes: &[Shape], case: Case, backend: Backend) {
    let p = match backend {
        Backend::OpenBao => Pair::new(),
        Backend::VaultShaped => Pair::vault_shaped(json!({}), json!({})),
    };
    let shapes: Vec<&Shape> = shapes
        .iter()
        .filter(|s| {
            let skip = s.needs_namespaces && backend == Backend::VaultShaped;
            if skip {
                eprintln!("{}: n/a on Vault Community (no namespaces)", s.kind);
            }
            !skip
        })
        .collect();
    let mut red = Vec::new();
    let seed = |f: fn(&Shape) -> fn(&Bao), red: &mut Vec<String>| {
        for s in &shapes {
            if let Err(why) = attempt(|| f(s)(&p.src)) {
                red.push(format!("{}: seeding the source failed: {why}", s.kind));
            }
        }
    };
    match case {
        Case::Defaults => seed(|s| s.defaults, &mut red),
        Case::Tuned => seed(|s| s.tuned, &mut red),
        Case::Changed => {
            seed(|s| s.defaults, &mut red);
            check_import(&sync(&p), &mut red);
            let before: Vec<Option<Value>> = shapes.iter().map(|s| view(s, &p.src)).collect();
            seed(|s| s.change, &mut red);
            for (s, before) in shapes.iter().zip(before) {
                if before.is_some() && view(s, &p.src) == before {
                    red.push(format!(
                        "{}: the change left the source's view as it was",
                        s.kind
                    ));
                }
            }
        }
    }
    check_import(&sync(&p), &mut red);
    for s in &shapes {
        match (view(s, &p.src), view(s, &p.dst)) {
            (Some(src), Some(dst)) if src == dst => {
                if std::env::var("MATRIX_SHOW").is_ok() {
                    eprintln!("{}: {src}", s.kind);
                }
            }
            (Some(src), Some(dst)) => {
                let mut at = Vec::new();
                differences("", &src, &dst, &mut at);
                red.push(format!(
                    "{}: the target differs from the source at\n  {}",
                    s.kind,
                    at.join("\n  ")
                ));
            }
            _ => red.push(format!("{}: no view of one side (see above)", s.kind)),
        }
    }
    check_converged(&p, &mut red);
    assert!(
        red.is_empty(),
        "{case:?} × {backend:?}: {} red:\n{}",
        red.len(),
        red.join("\n")
    );
}

/// Where `dst` differs from `src`: each path, with both values.
fn differences(at: &str, src: &Value, dst: &Value, out: &mut Vec<String>) {
    match (src, dst) {
        (Value::Object(a), Value::Object(b)) => {
            let null = Value::Null;
            for k in a.keys().chain(b.keys().filter(|k| !a.contains_key(*k))) {
                let (x, y) = (a.get(k).unwrap_or(&null), b.get(k).unwrap_or(&null));
                differences(&format!("{at}/{k}"), x, y, out);
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                differences(&format!("{at}/{i}"), x, y, out);
            }
        }
        _ if src != dst => out.push(format!("{at}: source {src}, target {dst}")),
        _ => {}
    }
}

/// Runs `f`, turning a panic (a failed request, a missing object) into its message.
fn attempt(f: impl FnOnce()) -> Result<(), String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|e| {
        e.downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    })
}

fn view(s: &Shape, bao: &Bao) -> Option<Value> {
    let mut out = None;
    let read = attempt(|| out = Some((s.view)(bao)));
    if let Err(why) = read {
        eprintln!("{}: no view: {why}", s.kind);
    }
    out
}

/// Exports the source and imports it into the target, whatever the import's exit code.
fn sync(p: &Pair) -> Run {
    p.export();
    p.import(&[])
}

/// The import must exit 0; its failed lines name the objects, hence the kinds.
fn check_import(run: &Run, red: &mut Vec<String>) {
    if run.code != 0 {
        let failed: Vec<&str> = run
            .stdout
            .lines()
            .filter(|l| l.starts_with("failed: "))
            .collect();
        red.push(format!(
            "import exit {}:\n  {}\n{}",
            run.code,
            failed.join("\n  "),
            run.stderr
        ));
    }
}

/// A full-check re-import must write nothing; a dry run first names what it would write.
fn check_converged(p: &Pair, red: &mut Vec<String>) {
    let plan = p.import_args(&["import", "--full-check", "--dry-run"], &[]);
    let writes: Vec<&str> = plan
        .stdout
        .lines()
        .filter(|l| !l.starts_with("= ") && !l.starts_with("Plan: "))
        .filter(|l| l.len() > 2 && l.as_bytes()[1] == b' ')
        .collect();
    if std::env::var("MATRIX_SHOW").is_ok() {
        eprintln!("dry run:\n{}", plan.stdout);
    }
    let again = replicator(&["import", "--full-check"], &p.env(&p.dst, &[]));
    if again.code != 0 || !again.stdout.contains("(0 writes)") || !writes.is_empty() {
        red.push(format!(
            "a --full-check re-import is not idle (exit {}):\n  {}\n{}",
            again.code,
            writes.join("\n  "),
            again.stdout.lines().next().unwrap_or_default()
        ));
    }
}

/// Every tunable of a mount (a secret engine's; an auth method adds its own).
pub fn mount_tune(ttl: &str, visibility: &str) -> Value {
    json!({"description": format!("tuned {ttl}"), "default_lease_ttl": ttl, "max_lease_ttl": "24h",
           "listing_visibility": visibility, "audit_non_hmac_request_keys": ["user"],
           "audit_non_hmac_response_keys": ["lease"], "passthrough_request_headers": ["X-Req"],
           "allowed_response_headers": ["X-Resp"]})
}

/// A mount's row of `table`, but for what each server makes its own (accessor, UUID).
pub fn mount_row(b: &Bao, table: &str, path: &str) -> Value {
    let mut row = data(b, table)[path].clone();
    if let Some(o) = row.as_object_mut() {
        o.remove("accessor");
        o.remove("uuid");
    }
    row
}
