//! A rabbitmq engine's lease config (`<mount>config/lease`: the `ttl` and `max_ttl` of the
//! credentials it issues) as an object kind, written back whole. A write replaces both (one left
//! out is 0), an engine where it was never written answers 404 (nothing to copy), and the API
//! cannot delete it: it goes only with its mount.

use crate::objects::body::{BodySpec, body_kind};

body_kind!(RabbitmqLease, engine "rabbitmq", singleton "config/lease", "rabbitmq lease config", folder "rabbitmq/lease");

impl BodySpec for Spec {
    /// `DELETE <mount>config/lease` answers 405 "unsupported operation".
    const PRUNED: bool = false;
}
