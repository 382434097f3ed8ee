//! `verify --contents`: what a snapshot holds, object by object: kind and shown path, and for a KV
//! secret its versions and metadata. Never a value, and nothing of any other kind's fields (which
//! may be key material).

use serde::Serialize;

pub use crate::objects::kv::{KvContent, VersionInfo};
use crate::objects::{Kind, Object};
use crate::select;

#[derive(Debug, Clone, Serialize)]
pub struct Content {
    pub kind: Kind,
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kv: Option<KvContent>,
}

impl Content {
    pub fn of(object: &Object) -> Content {
        Content {
            kind: object.kind(),
            path: select::shown(object),
            kv: object.summary(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::kv::{Metadata, State};
    use crate::objects::kv::{Secret, Version};
    use serde_json::json;

    #[test]
    fn a_secret_is_described_by_its_versions_and_metadata_without_its_data() {
        let data = json!({"password": "hunter2"}).as_object().cloned();
        let secret = Object::KvSecret(Secret {
            namespace: "team/".into(),
            mount: "secret/".into(),
            path: "db".into(),
            kv_version: 2,
            data: data.clone(),
            state: State::Live,
            metadata: Some(Metadata {
                max_versions: 4,
                ..Default::default()
            }),
            history: Some(vec![
                Version {
                    version: 1,
                    state: State::Destroyed,
                    data: None,
                },
                Version {
                    version: 2,
                    state: State::Live,
                    data,
                },
            ]),
        });
        let c = Content::of(&secret);
        assert_eq!(c.path, "team/secret/db");
        let doc = serde_json::to_string(&c).unwrap();
        assert!(
            !doc.contains("hunter2") && !doc.contains("password"),
            "{doc}"
        );
        assert!(
            doc.contains(r#"{"version":1,"state":"destroyed"}"#),
            "{doc}"
        );
        assert!(doc.contains(r#""max_versions":4"#), "{doc}");
    }
}
