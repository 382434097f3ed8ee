//! Everything the command line prints, in one place: the library's commands return values, and
//! this turns them into text or JSON (`--output json`: `import`, `status`, `list`, `verify`,
//! `diff`) for stdout; `render/diff.rs` spells the lines of `diff` and `verify --contents`,
//! `render/status.rs` those of `status`. Plans,
//! summaries, diffs and contents name objects by path and never show values.

mod diff;
mod status;

pub use status::status;

use std::fmt::Write as _;
use std::io::Write as _;

use serde::Serialize;

use crate::cli::Output;
use crate::commands::{Check, Listing, SnapshotKind, Verified, human_age, human_bytes};
use crate::export::ExportReport;
use crate::import::{ImportOutcome, Plan, Summary};
use crate::model::Action;
use crate::objects::Kind;

/// Writes command output to stdout. A closed pipe (`| head`) is not an error worth a word.
pub fn emit(text: &str) {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

/// Where an export went, and what retention deleted after it.
pub fn export(r: &ExportReport, output: Output) -> String {
    if output == Output::Json {
        return json(r);
    }
    let latest = match &r.newer_latest {
        None => "latest now points at it".to_string(),
        Some(k) => format!("latest stays at {k}, which is newer"),
    };
    let what = match &r.delta {
        Some(d) => format!(
            "a delta on {} ({} changed, {} removed; chain of {})",
            d.base, d.changed, d.removed, d.chain
        ),
        None => "a full snapshot".to_string(),
    };
    let mut out = format!(
        "exported {} to {} ({what}, {} bytes, {} not copied); {latest}\n",
        r.key, r.location, r.size, r.not_copied
    );
    for key in &r.pruned {
        let _ = writeln!(out, "deleted {key} (retention)");
    }
    out
}

/// A value as pretty JSON on its own line.
fn json(value: &impl Serialize) -> String {
    format!(
        "{}\n",
        serde_json::to_string_pretty(value).unwrap_or_default()
    )
}

/// `list`: one line per snapshot, newest first: size, age, objects, whether it was verified,
/// `latest` (and `chain` for the snapshots its chain holds), full or delta (with the delta's
/// base), and the counts per kind; then why any was refused or has no counts. A delta's objects
/// are what it writes (`+`, new or changed) and removes (`-`).
pub fn list(l: &Listing, output: Output) -> String {
    if output == Output::Json {
        return json(l);
    }
    let now = chrono::Utc::now();
    let mut out = format!(
        "{:<34} {:>10} {:>5} {:>8}  {:<10}  {:<6}  {:<25}  KINDS\n",
        "SNAPSHOT", "SIZE", "AGE", "OBJECTS", "VERIFIED", "LATEST", "KIND"
    );
    let mut notes = String::new();
    for s in &l.snapshots {
        let (objects, kinds) = match &s.counts {
            Some(c) => (objects(c, s.removed), kind_counts(c)),
            None => ("?".to_string(), String::new()),
        };
        let check = match s.check {
            Check::Unverified => "unverified",
            Check::Verified => "verified",
            Check::Refused => "REFUSED",
        };
        let mark = match (s.latest, s.in_latest_chain) {
            (true, _) => "latest",
            (false, true) => "chain",
            (false, false) => "",
        };
        let kind = match (s.kind, &s.base) {
            (SnapshotKind::Full, _) => "full".to_string(),
            (SnapshotKind::Delta, None) => "delta".to_string(),
            (SnapshotKind::Delta, Some(base)) => format!("delta on {}", snapshot_id(base)),
        };
        let line = format!(
            "{:<34} {:>10} {:>5} {:>8}  {:<10}  {:<6}  {:<25}  {kinds}",
            s.key,
            human_bytes(s.bytes),
            human_age(now, s.created_at),
            objects,
            check,
            mark,
            kind,
        );
        out.push_str(line.trim_end_matches(' '));
        out.push('\n');
        if let Some(reason) = &s.reason {
            let what = match s.check {
                Check::Refused => "refused",
                _ => "counts unknown",
            };
            let _ = writeln!(notes, "{what}: {}: {reason}", s.key);
        }
    }
    if l.snapshots.iter().any(|s| s.removed.is_some()) {
        out.push_str("a delta's OBJECTS: +new or changed since its base, -removed\n");
    }
    out + &notes
}

/// A snapshot's object count; a delta's as `+written -removed`.
fn objects(counts: &std::collections::BTreeMap<String, u64>, removed: Option<u64>) -> String {
    let written = counts.values().sum::<u64>();
    match removed {
        None => written.to_string(),
        Some(removed) => format!("+{written} -{removed}"),
    }
}

/// The ID a snapshot key names (`20261120T214500Z`), or the key when it names none.
fn snapshot_id(key: &str) -> &str {
    key.split_once('.').map_or(key, |(id, _)| id)
}

/// Counts per kind, as `kv_secret 10, mount 3`.
fn kind_counts(counts: &std::collections::BTreeMap<String, u64>) -> String {
    let counted: Vec<String> = counts
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    counted.join(", ")
}

/// `verify`: one line on the snapshot's seal and contents, then what it did not copy.
pub fn verify(v: &Verified, output: Output) -> String {
    if output == Output::Json {
        return json(v);
    }
    let signer = v
        .signature
        .as_ref()
        .map(|s| match (&s.cluster, &s.store, &s.prefix) {
            (Some(c), Some(store), _) => format!(
                "signed by key {} for cluster {c} under store `{store}`",
                s.key_id
            ),
            (Some(c), None, Some(p)) => format!(
                "signed by key {} for cluster {c} under prefix `{p}`",
                s.key_id
            ),
            _ => format!("signed by key {}", s.key_id),
        });
    let sealed = match (signer, v.encrypted) {
        (Some(s), true) => format!("{s}, encrypted"),
        (Some(s), false) => format!("{s}, NOT encrypted"),
        (None, true) => "NOT signed, encrypted".to_string(),
        (None, false) => "NOT signed, NOT encrypted".to_string(),
    };
    let counts: Vec<String> = v.counts.iter().map(|(k, n)| format!("{k}: {n}")).collect();
    let mut out = format!(
        "{} OK: {sealed}; format v{}, created {} by {} ({}), {} entries ({})\n",
        v.snapshot,
        v.format_version,
        v.created_at.format("%Y-%m-%dT%H:%M:%SZ"),
        v.source.address,
        v.source
            .cluster_name
            .as_deref()
            .unwrap_or("unnamed cluster"),
        v.entries,
        counts.join(", ")
    );
    if !v.chain.is_empty() {
        let _ = writeln!(
            out,
            "chain of {} verified: {}",
            v.chain.len(),
            v.chain.join(" <- ")
        );
    }
    for nc in &v.not_copied {
        let _ = writeln!(out, "not copied: {} {}: {}", nc.kind, nc.path, nc.reason);
    }
    if let Some(contents) = &v.contents {
        out.push_str(&diff::contents(contents));
    }
    out
}

/// `diff`: one line per object added, removed or changed (with the fields that changed), then a
/// count line.
pub fn diff(d: &crate::commands::Diff, output: Output) -> String {
    match output {
        Output::Json => json(d),
        Output::Text => diff::text(d),
    }
}

/// The plan (dry run) or the writes, then the summary, as text or JSON.
pub fn import(out: &ImportOutcome, dry_run: bool, output: Output) -> String {
    match output {
        Output::Json => {
            let doc = serde_json::json!({
                "snapshot": out.snapshot, "dry_run": dry_run, "writes": out.writes,
                "reads": out.reads, "only": out.only, "warning": out.warning,
                "chain": out.chain, "snapshot_bytes": out.snapshot_bytes, "plan": out.plan,
                "summary": out.summary,
            });
            format!(
                "{}\n",
                serde_json::to_string_pretty(&doc).unwrap_or_default()
            )
        }
        Output::Text => {
            let mut what = match &out.only {
                Some(only) => format!("{} (only {only})", out.snapshot),
                None => out.snapshot.clone(),
            };
            if out.chain.len() > 1 {
                let _ = write!(what, " through a chain of {}", out.chain.len());
            }
            let head = match (&out.plan, &out.only) {
                (Some(p), _) => format!("Dry run of {what}: nothing was written.\n{}", plan(p)),
                (None, Some(_)) => format!("Restored {what} ({} writes).\n", out.writes),
                (None, None) => format!("Imported {what} ({} writes).\n", out.writes),
            };
            let warning = match &out.warning {
                Some(w) => format!("WARNING: {w}\n"),
                None => String::new(),
            };
            warning + &head + &summary(&out.summary)
        }
    }
}

/// Human-readable plan, one line per change, like `terraform plan`.
pub fn plan(plan: &Plan) -> String {
    let mut out = String::new();
    for c in &plan.changes {
        let (sign, verb) = match c.action {
            Action::Create => ("+", "create"),
            Action::Update => ("~", "update"),
            Action::Delete => ("-", "delete"),
            Action::Refused => ("!", "refuse"),
            Action::Skipped => ("=", "skip"),
            Action::Failed => ("x", "fail"),
            Action::Unchanged => ("=", "keep"),
        };
        let _ = write!(out, "{sign} {verb:<7} {:<11} {}", c.kind.as_str(), c.path);
        if let Some(from) = &c.from {
            let _ = write!(out, "  <- {from}");
        }
        if let Some(r) = &c.reason {
            let _ = write!(out, "  ({r})");
        }
        out.push('\n');
        for told in &c.rewritten {
            let _ = writeln!(out, "      rewritten: {told}");
        }
    }
    let _ = writeln!(
        out,
        "Plan: {} to create, {} to update, {} to delete, {} unchanged, {} refused, {} skipped, {} failed.",
        plan.count(Action::Create),
        plan.count(Action::Update),
        plan.count(Action::Delete),
        plan.unchanged.values().sum::<u64>(),
        plan.count(Action::Refused),
        plan.count(Action::Skipped),
        plan.count(Action::Failed),
    );
    out
}

/// The summary as a table, then drift, failures and what was not copied, one line each.
pub fn summary(s: &Summary) -> String {
    let mut out = format!(
        "{:<20} {:>8} {:>8} {:>8} {:>10} {:>8} {:>8} {:>7}\n",
        "KIND", "CREATED", "UPDATED", "DELETED", "UNCHANGED", "REFUSED", "SKIPPED", "FAILED"
    );
    for kind in Kind::ALL {
        let Some(r) = s.kinds.get(kind) else {
            continue;
        };
        let _ = writeln!(
            out,
            "{:<20} {:>8} {:>8} {:>8} {:>10} {:>8} {:>8} {:>7}",
            kind.as_str(),
            r.created,
            r.updated,
            r.deleted,
            r.unchanged,
            r.refused,
            r.skipped,
            r.failed
        );
    }
    if s.drifted > 0 {
        let _ = writeln!(
            out,
            "drift: {} objects had changed on the target",
            s.drifted
        );
    }
    for k in &s.skipped {
        let _ = writeln!(out, "skipped: {} {}: {}", k.kind, k.path, k.reason);
    }
    for d in &s.left_alone {
        let _ = writeln!(out, "drift: {} {}: {}", d.kind, d.path, d.reason);
    }
    if s.interrupted {
        out.push_str("interrupted: the run stopped early; the next run continues from here\n");
    }
    for f in &s.failures {
        let _ = writeln!(out, "failed: {} {}: {}", f.kind, f.path, f.reason);
    }
    for n in &s.not_copied {
        let _ = writeln!(out, "not copied: {} {}: {}", n.kind, n.path, n.reason);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::plan::tests::create_a_refuse_z;

    #[test]
    fn list_shows_full_or_delta_its_base_and_latest_chain() {
        use crate::commands::Listed;
        let at = chrono::Utc::now();
        let (full, delta) = (
            "20261120T214000Z.tar.gz.age",
            "20261120T214500Z.delta.tar.gz.age",
        );
        let listed = |key: &str, kind, base: Option<&str>, removed| Listed {
            key: key.to_string(),
            bytes: 10,
            created_at: at,
            latest: key == delta,
            kind,
            in_latest_chain: true,
            base: base.map(str::to_string),
            counts: Some([("kv_secret".to_string(), 3)].into()),
            removed,
            check: Check::Unverified,
            reason: None,
        };
        let listing = Listing {
            location: "memory://".into(),
            latest: Some(delta.into()),
            latest_chain: vec![full.into(), delta.into()],
            snapshots: vec![
                listed(delta, SnapshotKind::Delta, Some(full), Some(1)),
                listed(full, SnapshotKind::Full, None, None),
            ],
        };
        let text = list(&listing, Output::Text);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[1].contains("+3 -1") && lines[1].contains("latest"),
            "{text}"
        );
        assert!(lines[1].contains("delta on 20261120T214000Z"), "{text}");
        assert!(
            lines[2].contains("chain   full") && lines[2].contains(" 3  "),
            "{text}"
        );
        let doc: serde_json::Value = serde_json::from_str(&list(&listing, Output::Json)).unwrap();
        let first = &doc["snapshots"][0];
        assert_eq!(
            (first["kind"].as_str(), first["base"].as_str()),
            (Some("delta"), Some(full))
        );
        assert_eq!(doc["snapshots"][1]["in_latest_chain"], true);
        assert_eq!(doc["latest_chain"][0], full);
    }

    #[test]
    fn a_plan_renders_one_line_per_change_and_a_count_line() {
        let text = plan(&create_a_refuse_z());
        assert!(
            text.contains("+ create  policy      sys/policies/acl/a"),
            "{text}"
        );
        assert!(
            text.contains("! refuse  policy      sys/policies/acl/z  (nope)"),
            "{text}"
        );
        assert!(
            text.contains("Plan: 1 to create, 0 to update, 0 to delete, 0 unchanged, 1 refused")
        );
    }
}
