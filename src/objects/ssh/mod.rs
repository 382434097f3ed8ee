//! The SSH secrets engine: its roles (`ssh_role`, every readable field, `ca` and `otp` roles
//! alike) and its CA (`ssh_ca`: the default issuer's public key, plus its private key when the
//! escrow holds it). The private key cannot be read through the API: without escrow the CA is
//! reported as not copied and never written, and a CA DR already has is never replaced. An
//! escrowed key is taken only when it derives the CA's public key, and DR proves it signs with it
//! once it is written.

mod ca;
mod keys;
mod proof;
mod role;

pub use ca::SshCa;
pub use role::SshRole;

/// Whether `mount` is an SSH secrets engine.
pub fn is_ssh(mount: &crate::objects::mounts::Mount) -> bool {
    mount.is_engine("ssh")
}

#[cfg(test)]
mod tests;
