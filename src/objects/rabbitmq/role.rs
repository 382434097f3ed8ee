//! A rabbitmq role (`<mount>roles/<name>`) as an object kind. Its read returns `vhosts` and
//! `vhost_topics` as JSON objects, while a write takes them as JSON text: the snapshot keeps the
//! read form (which is what is compared) and the write encodes them. A write replaces the role.

use crate::objects::body::{BodySpec, body_kind};
use crate::objects::fields::{Rule, Rules};

body_kind!(RabbitmqRole, engine "rabbitmq", collection "roles", "rabbitmq role", folder "rabbitmq/roles");

impl BodySpec for Spec {
    /// OpenBao refuses a vhosts object on write ("expected type 'string'").
    const RULES: &'static Rules = &[("vhosts", Rule::AsText), ("vhost_topics", Rule::AsText)];
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::fields::encoded;
    use serde_json::json;

    // OpenBao refuses a vhosts object on write ("expected type 'string'").
    #[test]
    fn vhosts_are_written_as_json_text() {
        let read = json!({"tags": "a", "vhosts": {"/": {"write": ".*"}}, "vhost_topics": {}});
        let body = encoded(Spec::RULES, read.as_object().unwrap()).unwrap();
        assert_eq!(
            serde_json::Value::Object(body),
            json!({"tags": "a", "vhosts": "{\"/\":{\"write\":\".*\"}}", "vhost_topics": "{}"})
        );
    }
}
