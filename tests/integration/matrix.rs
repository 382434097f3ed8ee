//! The round-trip matrix of issue #14: every kind the tool copies, (a) left at its defaults,
//! (b) with every settable field tuned, (c) changed on the source after the first import; each
//! against OpenBao directly and through a proxy answering as HashiCorp Vault Community. A kind
//! added later is one more entry in `SHAPES`; the runner is `support::matrix`.

mod access;
mod engines;
mod keys;
mod pki;
mod ssh;
mod stores;

use super::support::matrix::{Backend, Case, Shape, run};

/// Every kind, as the matrix seeds, changes and compares it.
const SHAPES: &[Shape] = &[
    stores::ACL_POLICY,
    stores::PASSWORD_POLICY,
    stores::KV2_SECRET,
    stores::KV2_CONFIG,
    stores::KV1_SECRET,
    stores::SECRET_MOUNT,
    access::AUTH_MOUNT,
    access::AUTH_ITEMS,
    access::ENTITY,
    access::INTERNAL_GROUP,
    access::EXTERNAL_GROUP,
    keys::TRANSIT_KEY,
    keys::NAMESPACE,
    ssh::SSH_ROLE,
    pki::PKI_ISSUER,
    pki::PKI_ROLE,
    pki::PKI_CONFIG,
    engines::DATABASE,
    engines::KUBERNETES,
    engines::RABBITMQ_ROLE,
    engines::RABBITMQ_LEASE,
    engines::IN_A_NAMESPACE,
];

#[test]
fn matrix_at_defaults_on_openbao() {
    run(SHAPES, Case::Defaults, Backend::OpenBao);
}

#[test]
fn matrix_at_defaults_as_vault_answers() {
    run(SHAPES, Case::Defaults, Backend::VaultShaped);
}

#[test]
fn matrix_tuned_on_openbao() {
    run(SHAPES, Case::Tuned, Backend::OpenBao);
}

#[test]
fn matrix_tuned_as_vault_answers() {
    run(SHAPES, Case::Tuned, Backend::VaultShaped);
}

#[test]
fn matrix_changed_after_the_first_copy_on_openbao() {
    run(SHAPES, Case::Changed, Backend::OpenBao);
}

#[test]
fn matrix_changed_after_the_first_copy_as_vault_answers() {
    run(SHAPES, Case::Changed, Backend::VaultShaped);
}
