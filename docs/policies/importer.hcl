# vault-replicator importer (runs on DR). It recreates policies, auth roles and mounts, so it is
# as powerful as the snapshots it accepts: keep its token for this job only, and keep signature
# checking on (REPLICATOR_VERIFY_KEY).
#
#   bao policy write vault-replicator-importer docs/policies/importer.hcl
# Child namespaces: add a copy of each rule per level with "+/" in front (see exporter.hcl).

# Secret engines: KV-v2/v1 writes and (with REPLICATOR_PRUNE) deletes, transit key restores and
# config (and reading a target key's backup, to check it is the same key before restoring over
# it), PKI issuers (<mount>issuers/import/bundle and import/cert, <mount>issuer/<id> and its
# revoke), roles and configs, and the importer's own bookkeeping mount (vault-replicator/, REPLICATOR_STATE_MOUNT).
path "+/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}
# The same rule covers database, kubernetes and rabbitmq engines' config/, roles/ and
# static-roles/ (rabbitmq's config/connection is written, never read; its config/lease is read
# and written).

# SSH engines (here ssh/; "+/*" above already covers them): roles written and (with
# REPLICATOR_PRUNE) deleted; the CA written with its escrowed key where DR has none, and read to
# compare (a CA DR holds is never replaced). Once written, DR proves it signs with the CA's key:
# a temporary role (roles/vault-replicator-check-*) signs a throwaway key (sign/*) and is deleted;
# a CA that fails the proof is removed again (issuer/<id> on OpenBao, config/ca on Vault).
path "ssh/roles/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}
path "ssh/sign/*" {
  capabilities = ["update"]
}
path "ssh/config/ca" {
  capabilities = ["create", "read", "update", "delete"]
}
path "ssh/issuer/*" {
  capabilities = ["delete"]
}

path "sys/*" {
  capabilities = ["deny"]
}
# Mounts: read the table, enable and tune missing ones (delete only with REPLICATOR_PRUNE_MOUNTS).
path "sys/mounts" {
  capabilities = ["read"]
}
path "sys/mounts/*" {
  capabilities = ["create", "read", "update", "delete"]
}
# Auth methods: enabling, tuning (and reading a method's tune) need sudo; listing does not.
path "sys/auth" {
  capabilities = ["read"]
}
path "sys/auth/*" {
  capabilities = ["create", "read", "update", "delete", "sudo"]
}
path "sys/policies/acl" {
  capabilities = ["list"]
}
path "sys/policies/acl/*" {
  capabilities = ["create", "read", "update", "delete"]
}
path "sys/policies/password" {
  capabilities = ["list"]
}
path "sys/policies/password/*" {
  capabilities = ["create", "read", "update", "delete"]
}
path "sys/namespaces" {
  capabilities = ["list"]
}
path "sys/namespaces/*" {
  capabilities = ["create", "read", "update", "delete"]
}

# Auth methods' configuration, roles and users.
path "auth/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}
# ...but never minting tokens.
path "auth/token/create*" {
  capabilities = ["deny"]
}

# Identity: entities, groups and their aliases.
path "identity/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}
