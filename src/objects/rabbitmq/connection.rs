//! A rabbitmq engine's connection config (`<mount>config/connection`) as an object kind. The API
//! never reads it back, so it travels only when the escrow keeps its whole body (the endpoint's
//! own fields, nothing else), and is otherwise reported as not copied. Nothing on the target can
//! be compared with it: an import writes it unless the last one applied this very body. The
//! target is written with `verify_connection=false` unless the escrowed body says otherwise (DR
//! may not reach the broker while DC is alive). The engine cannot delete it on its own.

use serde_json::{Map, Value};

use crate::objects::body::{BodySpec, Found, body_kind};
use crate::objects::engine_item::EngineItem;
use crate::objects::fields::{Rule, Rules};
use crate::objects::target::Target;

body_kind!(RabbitmqConnection, engine "rabbitmq", singleton "config/connection", "rabbitmq connection", folder "rabbitmq/connection");

impl BodySpec for Spec {
    const READABLE: bool = false;
    const PRUNED: bool = false;
    /// Every field of `config/connection` (the engine has no read of it).
    const RULES: &'static Rules = &[
        ("connection_uri", Rule::WriteOnly(None)),
        ("username", Rule::WriteOnly(None)),
        ("password", Rule::WriteOnly(None)),
        ("verify_connection", Rule::WriteOnly(None)),
        ("password_policy", Rule::WriteOnly(None)),
        ("username_template", Rule::WriteOnly(None)),
    ];

    fn taken(found: Found<'_>, report: &mut dyn FnMut(String)) -> Option<EngineItem> {
        let Found {
            mut item, entry, ..
        } = found;
        item.escrowed = entry;
        let why = match Self::check_escrow(&item) {
            _ if item.escrowed.is_empty() => "the connection config is write-only and not \
                                              escrowed: not copied, DR cannot issue credentials \
                                              until it is set"
                .to_string(),
            Err(why) => format!("escrow entry not taken: {why}; not copied"),
            Ok(()) => return Some(item),
        };
        report(why);
        None
    }

    fn preset(body: &mut Map<String, Value>, _: &Target) {
        body.insert("verify_connection".into(), Value::Bool(false));
    }
}
