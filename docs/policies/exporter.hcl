# vault-replicator exporter (runs on the primary, DC). Reads everything it copies; writes nothing.
#
# Attach to the exporter's Kubernetes or AppRole role in the namespace the tool runs in:
#   bao policy write vault-replicator-exporter docs/policies/exporter.hcl
# Child namespaces are reached through this namespace's policy with their path in front, so for
# namespaces add a copy of each rule per level with "+/" in front (for example "+/sys/mounts").

# Secret engines: KV-v2 data, metadata and config, KV-v1 items, transit key backups, SSH roles
# and CA public keys (and OpenBao's SSH issuer list), TOTP key names (listed, to report them as
# not copied), PKI issuers, keys (listed), certs (listed, to report them), roles and configs, and
# the escrow mount (REPLICATOR_ESCROW_MOUNT). Mount names are the operator's own, hence the
# wildcard on the first segment. On OpenBao this includes listing <mount>/detailed-metadata/,
# which saves a metadata read per secret.
path "+/*" {
  capabilities = ["read", "list"]
}
# The same rule covers database, kubernetes and rabbitmq engines' config/, roles/ and
# static-roles/, and the escrow mount's data/ (REPLICATOR_ESCROW_MOUNT). It also lets the token
# read <mount>creds/* and static-creds/*, which issue credentials: the tool never reads them.

# The escrow (REPLICATOR_ESCROW_MOUNT, here replicator-escrow/): the write-only fields DR needs,
# read at <escrow>/data/<namespace><object API path>. "+/*" above already covers it (and its
# export as a KV-v2 mount); spelled out for a policy that narrows "+/*" to named mounts.
path "replicator-escrow/data/*" {
  capabilities = ["read"]
}
path "replicator-escrow/metadata/*" {
  capabilities = ["read", "list"]
}
# SSH engines (here ssh/): roles, the CA's public key, and OpenBao's issuers.
path "ssh/roles/*" {
  capabilities = ["read", "list"]
}
path "ssh/config/ca" {
  capabilities = ["read"]
}
path "ssh/issuers/*" {
  capabilities = ["list"]
}

# The system backend: nothing but what export reads. (More specific rules below win over this.)
path "sys/*" {
  capabilities = ["deny"]
}
path "sys/mounts" {
  capabilities = ["read"]
}
path "sys/auth" {
  capabilities = ["read"]
}
path "sys/policies/acl" {
  capabilities = ["list"]
}
path "sys/policies/acl/*" {
  capabilities = ["read"]
}
path "sys/policies/password" {
  capabilities = ["list"]
}
path "sys/policies/password/*" {
  capabilities = ["read"]
}
path "sys/namespaces" {
  capabilities = ["list"]
}
path "sys/namespaces/*" {
  capabilities = ["read"]
}

# Auth methods' configuration, roles and users (never their secrets: Vault does not return them).
path "auth/*" {
  capabilities = ["read", "list"]
}
# Keeping its own login token alive on long runs, and revoking it at the end.
path "auth/token/renew-self" {
  capabilities = ["update"]
}
path "auth/token/revoke-self" {
  capabilities = ["update"]
}
# Token creation and accessor lookups are not needed.
path "auth/token/create*" {
  capabilities = ["deny"]
}
path "auth/token/lookup-accessor" {
  capabilities = ["deny"]
}

# Identity: entities, groups and their aliases.
path "identity/*" {
  capabilities = ["read", "list"]
}
