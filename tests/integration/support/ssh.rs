//! SSH engine roles as tests seed them: a `ca` role with every field an operator is likely to
//! tune (the matrix and the SSH tests share it).

use serde_json::{Value, json};

/// A `ca` role with every settable field away from its default.
pub fn ssh_ca_role_tuned() -> Value {
    json!({"key_type": "ca", "allow_user_certificates": true, "allow_host_certificates": true,
           "allowed_users": "alice,bob", "default_user": "alice", "allowed_domains": "example.com",
           "allow_subdomains": true, "allow_bare_domains": true, "ttl": "1h", "max_ttl": "24h",
           "allowed_extensions": "permit-pty,permit-port-forwarding",
           "default_extensions": {"permit-pty": ""}, "allowed_critical_options": "force-command",
           "default_critical_options": {"force-command": "/bin/true"},
           "allowed_user_key_lengths": {"rsa": [2048, 4096], "ed25519": 0},
           "algorithm_signer": "rsa-sha2-256", "key_id_format": "{{token_display_name}}",
           "not_before_duration": "60s", "allow_user_key_ids": true,
           "allowed_users_template": true, "allowed_domains_template": true,
           "default_extensions_template": true, "allow_wildcards_in_identity_templates": true,
           "allow_commas_in_identity_templates": true})
}
