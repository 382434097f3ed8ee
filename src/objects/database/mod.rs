//! The database secrets engine: connection configs (`config/<name>`), dynamic roles
//! (`roles/<name>`) and static roles (`static-roles/<name>`). A config's password (and a key-pair
//! `private_key`) is write-only: it travels only through the escrow, and a config write leaves
//! out what it is not sent, so an update never clears the password DR holds. The target's
//! configs are written with `verify_connection=false` unless configured otherwise (DR may not
//! reach the database while DC is alive). A static role rotates the database password when it is
//! created, which would lock DC out: static roles are written only when configured.

mod config;
mod fields;
mod role;
mod static_role;

pub use config::DatabaseConfig;
pub use role::DatabaseRole;
pub use static_role::DatabaseStaticRole;

/// What an import may do to a target's database engines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DatabaseOptions {
    /// Configs are written with `verify_connection=true` (`REPLICATOR_DATABASE_VERIFY_CONNECTION`).
    pub verify_connection: bool,
    /// Static roles are created and updated (`REPLICATOR_DATABASE_STATIC_ROLES`).
    pub static_roles: bool,
}
