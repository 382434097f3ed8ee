//! What `diff` keeps of an object: its kind, the path it is shown at, and one sha256 per field
//! path (`data.password`, `metadata.custom_metadata.owner`, `versions.3`, `policy`), never a
//! value. Two fingerprints name the fields whose digests differ.

use std::collections::BTreeMap;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::objects::{Kind, Object};
use crate::select;

/// How deep field paths go below a top-level field (a mount's `config.default_lease_ttl`, an
/// entity's `metadata.team`); deeper values are digested whole.
const DEPTH: usize = 3;

/// One object as `diff` compares it.
#[derive(Debug, Clone, PartialEq)]
pub struct Fingerprint {
    pub kind: Kind,
    /// Where plans show it (`select::shown`).
    pub path: String,
    fields: BTreeMap<String, [u8; 32]>,
}

impl Fingerprint {
    pub fn of(object: &Object) -> Fingerprint {
        let kind = object.kind();
        let mut fields = BTreeMap::new();
        if let Ok(Value::Object(mut top)) = serde_json::to_value(object) {
            top.remove("kind");
            object.fingerprinted(&mut top);
            for (name, value) in &top {
                let depth = kind.field_depth(name).unwrap_or(DEPTH);
                flatten(name, value, depth, &mut fields);
            }
        }
        Fingerprint {
            kind,
            path: select::shown(object),
            fields,
        }
    }

    /// The field paths whose values differ, or that only one side has, in order.
    pub fn changed(&self, other: &Fingerprint) -> Vec<String> {
        let mut names: Vec<&String> = self.fields.keys().chain(other.fields.keys()).collect();
        names.sort_unstable();
        names.dedup();
        names
            .into_iter()
            .filter(|n| self.fields.get(*n) != other.fields.get(*n))
            .cloned()
            .collect()
    }
}

/// Records `value` under `path`: an object field by field, `depth` levels down (an empty one adds
/// nothing, so `{}` and one key name only that key); anything else as one digest.
fn flatten(path: &str, value: &Value, depth: usize, out: &mut BTreeMap<String, [u8; 32]>) {
    match value {
        Value::Object(map) if depth > 0 => {
            for (name, inner) in map {
                flatten(&format!("{path}.{name}"), inner, depth - 1, out);
            }
        }
        // serde_json's maps are sorted, so equal values serialise to equal bytes.
        _ => {
            let bytes = serde_json::to_vec(value).unwrap_or_default();
            out.insert(path.to_string(), Sha256::digest(&bytes).into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::kv::{Metadata, Secret, State, Version};
    use crate::objects::policies::{Policy, PolicyType};
    use serde_json::json;

    fn secret(data: Value, metadata: Metadata, history: Option<Vec<Version>>) -> Object {
        Object::KvSecret(Secret {
            namespace: String::new(),
            mount: "secret/".into(),
            path: "app/db".into(),
            kv_version: 2,
            data: data.as_object().cloned(),
            state: State::Live,
            metadata: Some(metadata),
            history,
        })
    }

    fn version(n: u64, v: &str) -> Version {
        Version {
            version: n,
            state: State::Live,
            data: json!({ "pw": v }).as_object().cloned(),
        }
    }

    #[test]
    fn a_changed_secret_names_its_keys_metadata_and_versions_never_values() {
        let meta = Metadata {
            max_versions: 3,
            ..Default::default()
        };
        let a = Fingerprint::of(&secret(
            json!({"password": "old-pw", "user": "u", "gone": 1, "deep": {"x": 1}}),
            meta.clone(),
            Some(vec![version(1, "a")]),
        ));
        let mut meta2 = meta.clone();
        meta2.max_versions = 5;
        meta2.custom_metadata.insert("owner".into(), "team".into());
        let b = Fingerprint::of(&secret(
            json!({"password": "new-pw", "user": "u", "added": 2, "deep": {"x": 2}}),
            meta2,
            Some(vec![version(1, "a"), version(2, "b")]),
        ));
        assert_eq!(a.path, "secret/app/db");
        assert_eq!(
            a.changed(&b),
            [
                "data.added",
                "data.deep",
                "data.gone",
                "data.password",
                "metadata.custom_metadata.owner",
                "metadata.max_versions",
                "versions.2",
            ]
        );
        assert!(a.changed(&a.clone()).is_empty());
        let shown = format!("{a:?}{:?}", a.changed(&b));
        assert!(
            !shown.contains("old-pw") && !shown.contains("new-pw"),
            "{shown}"
        );
    }

    #[test]
    fn other_kinds_name_their_fields() {
        let policy = |text: &str| {
            Fingerprint::of(&Object::Policy(Policy {
                namespace: String::new(),
                policy_type: PolicyType::Acl,
                name: "app".into(),
                policy: text.into(),
            }))
        };
        let (a, b) = (policy("path \"a\" {}"), policy("path \"b\" {}"));
        assert_eq!(a.path, "sys/policies/acl/app");
        assert_eq!(a.changed(&b), ["policy"]);
    }
}
