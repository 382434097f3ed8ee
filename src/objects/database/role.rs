//! A database dynamic role (`<mount>roles/<name>`) as an object kind: every field its read
//! returns, written back whole. Creating one touches no database.

use crate::objects::body::{BodySpec, body_kind};

body_kind!(DatabaseRole, engine "database", collection "roles", "database role", folder "database/roles");

impl BodySpec for Spec {}
