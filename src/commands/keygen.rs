//! `keygen`: writes a new age identity and minisign key pair and says which half goes where.

use crate::error::Result;
use crate::seal;

/// `keygen`: writes the key files and says which half goes where.
pub fn keygen(dir: &std::path::Path, force: bool) -> Result<String> {
    let g = seal::keygen(dir, force)?;
    let file = |name: &str| dir.join(name).display().to_string();
    Ok(format!(
        "Public halves (safe to share):\n\
         \x20 age recipient  {recipient}\n\
         \x20 verify key     {verify} (key ID {id})\n\
         \n\
         Exporter (DC): REPLICATOR_AGE_RECIPIENTS={recipient}\n\
         \x20              REPLICATOR_SIGNING_KEY_FILE={sk}   (secret)\n\
         Importer (DR): REPLICATOR_AGE_IDENTITY_FILE={ik}   (secret)\n\
         \x20              REPLICATOR_VERIFY_KEY={verify}\n\
         \n\
         Wrote {ik}, {rk}, {sk} and {vk} (mode 0600). Keep age.key on DR only: the DC cannot \
         decrypt snapshots without it.\n",
        recipient = g.recipient,
        verify = g.verify_key,
        id = g.verify_key_id,
        ik = file(seal::IDENTITY_FILE),
        rk = file(seal::RECIPIENT_FILE),
        sk = file(seal::SIGNING_FILE),
        vk = file(seal::VERIFY_FILE),
    ))
}
