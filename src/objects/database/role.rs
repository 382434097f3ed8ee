//! A database dynamic role (`<mount>roles/<name>`) as an object kind: every field its read
//! returns, written back whole. Creating one touches no database.

use crate::objects::body::{Body, BodySpec};

pub type DatabaseRole = Body<Spec>;

pub struct Spec;

impl BodySpec for Spec {
    const FOLDERS: &'static [&'static str] = &["database/roles"];
    const AT: &'static str = "roles";
    const WHAT: &'static str = "database role";
    const ENGINE: &'static str = "database";
}
