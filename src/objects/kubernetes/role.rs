//! A kubernetes secrets engine role (`<mount>roles/<name>`) as an object kind: the fields its
//! read returns (less its echoed `name`), written back whole. A write keeps what it is not sent,
//! and an unset label, annotation or audience list reads as null (which the snapshot does not
//! carry): one the target has and the source does not is cleared with an explicit null.

use crate::objects::body::{BodySpec, body_kind};
use crate::objects::fields::{Rule, Rules};

body_kind!(KubernetesRole, engine "kubernetes", collection "roles", "kubernetes role", folder "kubernetes/roles");

impl BodySpec for Spec {
    const RULES: &'static Rules = &[
        // The echoed `name` is the path's.
        ("name", Rule::ReadOnly),
        // A label dropped on the source stayed on DR: a role write keeps what it is not sent.
        ("extra_labels", Rule::Nullable),
        ("extra_annotations", Rule::Nullable),
        ("token_default_audiences", Rule::Nullable),
    ];
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Action, Decision};
    use crate::objects::body::compare;
    use crate::objects::fields::carried;
    use serde_json::{Map, Value, json};

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    fn diff(want: &Map<String, Value>, cur: &Map<String, Value>) -> Decision<Vec<String>> {
        compare(Spec::RULES, want, Some(&carried(Spec::RULES, cur.clone())))
    }

    // A label dropped on the source stayed on DR: a role write keeps what it is not sent.
    #[test]
    fn labels_the_source_dropped_are_cleared_on_the_target() {
        let want = map(json!({"service_account_name": "sa"}));
        let dr = map(
            json!({"service_account_name": "sa", "extra_labels": {"team": "x"},
                            "token_default_audiences": [], "name": "r"}),
        );
        let d = diff(&want, &dr);
        assert_eq!(d.action, Action::Update);
        assert_eq!(d.ops, ["extra_labels"]);
        let same = map(json!({"service_account_name": "sa", "extra_labels": {},
                              "token_default_audiences": []}));
        assert_eq!(diff(&want, &same).action, Action::Unchanged);
    }
}
