//! The Vault object kinds a snapshot carries. Each kind has its own module with the same small
//! surface: `export` it from a source, `current` reads it from a target, `diff` compares the two,
//! and `apply` writes the desired state.

pub mod kv;
pub mod mounts;
pub mod policies;

use serde::{Deserialize, Serialize};

/// The kinds, in the order an import applies them (a mount before the secrets inside it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Mount,
    Policy,
    KvSecret,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Mount, Kind::Policy, Kind::KvSecret];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Mount => "mount",
            Kind::Policy => "policy",
            Kind::KvSecret => "kv_secret",
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One object as it is stored in a snapshot entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Object {
    Mount(mounts::Mount),
    Policy(policies::Policy),
    KvSecret(kv::Secret),
}

impl Object {
    pub fn kind(&self) -> Kind {
        match self {
            Object::Mount(_) => Kind::Mount,
            Object::Policy(_) => Kind::Policy,
            Object::KvSecret(_) => Kind::KvSecret,
        }
    }

    /// The object's Vault-side path, for plans and error messages (never its value).
    pub fn path(&self) -> String {
        match self {
            Object::Mount(m) => m.path.clone(),
            Object::Policy(p) => p.name.clone(),
            Object::KvSecret(s) => s.full_path(),
        }
    }
}
