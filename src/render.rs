//! Everything the command line prints, in one place: the library's commands return values, and
//! this turns them into text (or JSON) for stdout. Plans and summaries name objects by path and
//! never show values.

use std::fmt::Write as _;
use std::io::Write as _;

use crate::cli::Output;
use crate::export::ExportReport;
use crate::import::{ImportOutcome, Plan, Summary};
use crate::model::Action;
use crate::objects::Kind;

/// Writes command output to stdout. A closed pipe (`| head`) is not an error worth a word.
pub fn emit(text: &str) {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

/// Where an export went, and what retention deleted after it.
pub fn export(r: &ExportReport) -> String {
    let latest = match &r.newer_latest {
        None => "latest now points at it".to_string(),
        Some(k) => format!("latest stays at {k}, which is newer"),
    };
    let mut out = format!(
        "exported {} to {} ({} bytes, {} not copied); {latest}\n",
        r.key, r.location, r.size, r.not_copied
    );
    for key in &r.pruned {
        let _ = writeln!(out, "deleted {key} (retention)");
    }
    out
}

/// The plan (dry run) or the writes, then the summary, as text or JSON.
pub fn import(out: &ImportOutcome, dry_run: bool, output: Output) -> String {
    match output {
        Output::Json => {
            let doc = serde_json::json!({
                "snapshot": out.snapshot, "dry_run": dry_run, "writes": out.writes,
                "reads": out.reads,
                "plan": out.plan, "summary": out.summary,
            });
            format!(
                "{}\n",
                serde_json::to_string_pretty(&doc).unwrap_or_default()
            )
        }
        Output::Text => {
            let head = match &out.plan {
                Some(p) => format!(
                    "Dry run of {}: nothing was written.\n{}",
                    out.snapshot,
                    plan(p)
                ),
                None => format!("Imported {} ({} writes).\n", out.snapshot, out.writes),
            };
            head + &summary(&out.summary)
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
        if let Some(r) = &c.reason {
            let _ = write!(out, "  ({r})");
        }
        out.push('\n');
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
    use crate::import::Change;
    use crate::import::plan::tests::policy;

    #[test]
    fn a_plan_renders_one_line_per_change_and_a_count_line() {
        let mut p = Plan::default();
        p.push(Change::new(
            policy("z"),
            Action::Refused,
            Some("nope".into()),
        ));
        p.push(Change::new(policy("a"), Action::Create, None));
        p.sort();
        let text = plan(&p);
        assert!(text.contains("+ create  policy      a"), "{text}");
        assert!(text.contains("! refuse  policy      z  (nope)"), "{text}");
        assert!(
            text.contains("Plan: 1 to create, 0 to update, 0 to delete, 0 unchanged, 1 refused")
        );
    }
}
