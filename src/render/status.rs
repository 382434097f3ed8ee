//! What `status` prints: the cluster's fence, last import and data age (each source's, when it
//! has several), and the store's latest snapshot.

use std::fmt::Write as _;

use super::json;
use crate::cli::Output;
use crate::commands::{Status, human_age};

/// `status`: the target's fence, last import and data age, the store's latest, and any
/// future-dated warning.
pub fn status(s: &Status, output: Output) -> String {
    if output == Output::Json {
        let mut doc = serde_json::to_value(s).unwrap_or_default();
        doc["future"] = s.future.as_ref().map(ToString::to_string).into();
        return json(&doc);
    }
    let mut out = String::new();
    if let Some(t) = &s.target {
        match &t.fence {
            Some(f) => {
                let _ = writeln!(
                    out,
                    "{}: PROMOTED since {} by {} (imports are refused)",
                    t.address,
                    f.promoted_at.format("%Y-%m-%dT%H:%M:%SZ"),
                    f.by
                );
            }
            None => {
                let _ = writeln!(out, "{}: not fenced (imports are accepted)", t.address);
            }
        }
        match &t.last_import {
            Some(m) => {
                let _ = writeln!(
                    out,
                    "last import: {} applied {} ago{}",
                    m.last_snapshot,
                    human_age(s.now, m.applied_at),
                    if m.complete { "" } else { " (partial)" }
                );
            }
            None => out.push_str("last import: none\n"),
        }
        if let Some(at) = t.data_exported_at {
            let _ = writeln!(
                out,
                "data age: {} (exported from the source at {})",
                human_age(s.now, at),
                at.format("%Y-%m-%dT%H:%M:%SZ")
            );
        }
        for src in &t.sources {
            let name = src
                .source
                .as_deref()
                .unwrap_or("(state from before sources)");
            let last = src.last_import.as_ref().map_or("none".to_string(), |m| {
                format!(
                    "{} applied {} ago",
                    m.last_snapshot,
                    human_age(s.now, m.applied_at)
                )
            });
            let fenced = if src.fence.is_some() {
                ", PROMOTED"
            } else {
                ""
            };
            let _ = writeln!(out, "source {name}: last import {last}{fenced}");
        }
    }
    if let Some(store) = &s.store {
        let _ = match &store.latest {
            Some(p) => writeln!(
                out,
                "store latest: {} created {} ago ({})",
                p.key,
                human_age(s.now, p.created_at),
                store.location
            ),
            None => writeln!(out, "store latest: none at {}", store.location),
        };
    }
    if let Some(e) = &s.future {
        let _ = writeln!(out, "{e}");
    }
    out
}
