//! SSH public keys as the CA endpoints carry them, and the check that an escrowed private key is
//! the CA's own: the public key it derives (`keypair`), whatever its format, must be the CA's,
//! and so must the `public_key` written beside it, when there is one (the server checks neither:
//! given another pair, DR would sign with a key no host trusts).

use serde_json::Value;

use crate::objects::escrow::Escrowed;
use crate::objects::keypair;

/// The fields an SSH CA's escrow entry may hold: its key pair.
pub const ESCROWED: &[&str] = &["private_key", "public_key"];

/// A public key's algorithm and key blob (`ssh-ed25519 AAAA...`), without comment or whitespace.
pub fn normalized(public_key: &str) -> Option<String> {
    let mut parts = public_key.split_whitespace();
    let (algo, blob) = (parts.next()?, parts.next()?);
    Some(format!("{algo} {blob}"))
}

/// Whether two public keys are the same key (comments and whitespace aside).
pub fn same_key(a: &str, b: &str) -> bool {
    normalized(a).is_some_and(|a| Some(a) == normalized(b))
}

/// Whether the escrowed `private_key` (with its `public_key`, when given) is the key of the CA
/// whose public key is `public_key`; why not otherwise (never a value).
pub fn escrow_matches(escrowed: &Escrowed, public_key: &str) -> Result<(), String> {
    escrowed.only(ESCROWED)?;
    let Some(private) = escrowed.0.get("private_key").and_then(Value::as_str) else {
        return Err("the escrow entry has no `private_key`".into());
    };
    if let Some(theirs) = escrowed.0.get("public_key")
        && !theirs.as_str().is_some_and(|k| same_key(k, public_key))
    {
        return Err(
            "the escrow entry's `public_key` is not the CA's (a CA set since the key was \
             escrowed?): escrow the CA's key pair again"
                .into(),
        );
    }
    let ca =
        keypair::of_ssh_public(public_key).map_err(|e| format!("the CA's public key is {e}"))?;
    let derived = keypair::of_private_key(private)
        .map_err(|e| format!("the escrowed `private_key` is {e}"))?;
    match derived == ca {
        true => Ok(()),
        false => Err(
            "the escrowed `private_key` is not the CA's key (the public key it derives differs): \
             escrow the CA's key pair again"
                .into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::path::Path;

    use crate::objects::test_tools::{SSH_OTHER as OTHER, SSH_PUBLIC as PUBLIC, ssh_keypair};

    fn escrowed(v: serde_json::Value) -> Escrowed {
        Escrowed(v.as_object().cloned().unwrap())
    }

    fn keypair(dir: &Path, name: &str, args: &[&str]) -> (String, String) {
        ssh_keypair(dir, name, args)
    }

    #[test]
    fn keys_compare_without_comments_or_whitespace() {
        assert!(same_key(
            &format!("{PUBLIC} \n"),
            &format!("{PUBLIC} ca@dc")
        ));
        assert!(!same_key(PUBLIC, OTHER));
        assert!(!same_key("", ""));
    }

    // The server takes any pair it is given: a stale escrow would have DR sign with a key that
    // is not the CA everyone trusts. Issue 25: a stale PEM key next to the CA's public key was
    // taken, since only the `public_key` beside it was compared.
    #[test]
    fn an_escrowed_key_that_is_not_the_cas_is_never_taken_whatever_its_format() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for (name, args) in [
            ("ed", &["-t", "ed25519"][..]),
            ("ec-pem", &["-t", "ecdsa", "-m", "PEM"][..]),
            ("rsa-pem", &["-t", "rsa", "-b", "2048", "-m", "PEM"][..]),
        ] {
            let (private, public) = keypair(d, name, args);
            let (_, other) = keypair(d, &format!("{name}-other"), args);
            let alone = json!({"private_key": private});
            assert!(
                escrow_matches(&escrowed(alone.clone()), &public).is_ok(),
                "{name}"
            );
            let both = json!({"private_key": private, "public_key": public});
            assert!(escrow_matches(&escrowed(both), &public).is_ok(), "{name}");
            // The reviewer's case: another key, with the CA's public key beside it.
            let stale = json!({"private_key": private, "public_key": other});
            let why = escrow_matches(&escrowed(stale), &other).unwrap_err();
            assert!(
                why.contains("the public key it derives differs"),
                "{name}: {why}"
            );
            let why = escrow_matches(&escrowed(alone), &other).unwrap_err();
            assert!(
                why.contains("the public key it derives differs"),
                "{name}: {why}"
            );
            let beside = json!({"private_key": private, "public_key": other});
            let why = escrow_matches(&escrowed(beside), &public).unwrap_err();
            assert!(
                why.contains("`public_key` is not the CA's"),
                "{name}: {why}"
            );
            assert!(!why.contains(private.lines().nth(1).unwrap()));
        }
        let none = escrow_matches(&escrowed(json!({"public_key": PUBLIC})), PUBLIC);
        assert!(none.unwrap_err().contains("no `private_key`"));
        let garbage = json!({"private_key": "-----BEGIN RSA PRIVATE KEY-----\n..."});
        let why = escrow_matches(&escrowed(garbage), PUBLIC).unwrap_err();
        assert!(why.contains("`private_key` is not one PEM block"), "{why}");
        let extra = json!({"private_key": "k", "key_type": "ed25519"});
        let why = escrow_matches(&escrowed(extra), PUBLIC).unwrap_err();
        assert!(why.contains("`key_type`"), "{why}");
    }
}
