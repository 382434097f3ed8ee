//! SSH public keys as the CA endpoints carry them, and the check that an escrowed private key is
//! the CA's own: its `public_key` beside it, and the public half an OpenSSH private key holds in
//! the clear, must both be the CA's (the server does not check a pair it is given).

use base64::Engine as _;
use serde_json::Value;

use crate::objects::escrow::Escrowed;

const OPENSSH_BEGIN: &str = "-----BEGIN OPENSSH PRIVATE KEY-----";
const OPENSSH_END: &str = "-----END OPENSSH PRIVATE KEY-----";
const OPENSSH_MAGIC: &[u8] = b"openssh-key-v1\0";

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

/// The public key blob an OpenSSH private key (`ssh-keygen`'s format) holds in its clear header,
/// encrypted or not; `None` for other formats (PEM).
fn openssh_public_blob(private_key: &str) -> Option<Vec<u8>> {
    let body = private_key
        .trim()
        .strip_prefix(OPENSSH_BEGIN)?
        .strip_suffix(OPENSSH_END)?;
    let b64: String = body.split_whitespace().collect();
    let raw = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    let mut rest = raw.strip_prefix(OPENSSH_MAGIC)?;
    // cipher name, KDF name, KDF options, then the number of keys and the first public key.
    for _ in 0..3 {
        take_string(&mut rest)?;
    }
    let (count, after) = rest.split_at_checked(4)?;
    rest = after;
    (count != [0, 0, 0, 0]).then_some(())?;
    take_string(&mut rest).map(<[u8]>::to_vec)
}

/// One SSH wire-format string (a u32 length, then the bytes).
fn take_string<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    let (len, after) = rest.split_at_checked(4)?;
    let len = u32::from_be_bytes(len.try_into().ok()?) as usize;
    let (s, after) = after.split_at_checked(len)?;
    *rest = after;
    Some(s)
}

fn public_blob(public_key: &str) -> Option<Vec<u8>> {
    let b64 = public_key.split_whitespace().nth(1)?;
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}

/// Whether the escrowed `private_key` (with its `public_key`, when given) is the key of the CA
/// whose public key is `public_key`; why not otherwise (never a value).
pub fn escrow_matches(escrowed: &Escrowed, public_key: &str) -> Result<(), String> {
    let Some(private) = escrowed.0.get("private_key").and_then(Value::as_str) else {
        return Err("the escrow entry has no `private_key`".into());
    };
    let mut checked = false;
    if let Some(theirs) = escrowed.0.get("public_key") {
        if !theirs.as_str().is_some_and(|k| same_key(k, public_key)) {
            return Err(
                "the escrow entry's `public_key` is not the CA's (a CA set since the key was \
                 escrowed?): escrow the CA's key pair again"
                    .into(),
            );
        }
        checked = true;
    }
    if let Some(blob) = openssh_public_blob(private) {
        if Some(blob) != public_blob(public_key) {
            return Err(
                "the escrowed `private_key` is not the CA's key (its public half differs): \
                 escrow the CA's key pair again"
                    .into(),
            );
        }
        checked = true;
    }
    match checked {
        true => Ok(()),
        false => Err(
            "the escrowed `private_key` is not in OpenSSH format, so it cannot be matched to the \
             CA: add the CA's `public_key` to the escrow entry"
                .into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// An OpenSSH private key file around `public_key`'s blob, as `ssh-keygen` lays it out (the
    /// private section is filler: only the clear header is read).
    fn openssh(public_key: &str) -> String {
        let string = |b: &[u8]| [&(b.len() as u32).to_be_bytes()[..], b].concat();
        let raw = [
            OPENSSH_MAGIC.to_vec(),
            string(b"none"),
            string(b"none"),
            string(b""),
            1u32.to_be_bytes().to_vec(),
            string(&public_blob(public_key).unwrap()),
            string(&[0; 64]),
        ]
        .concat();
        let b64 = base64::engine::general_purpose::STANDARD.encode(raw);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(70)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!("{OPENSSH_BEGIN}\n{}\n{OPENSSH_END}\n", lines.join("\n"))
    }

    const PUBLIC: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHHliyoBttRIkrqyDuCTRAb/BwiNOLtyXf066TEOQpfp";
    const OTHER: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIITFHdXDOIfdYmLbfNAMfWOGwSnT1snEsVgsq5uN5NuA";

    fn escrowed(v: serde_json::Value) -> Escrowed {
        Escrowed(v.as_object().cloned().unwrap())
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

    #[test]
    fn an_openssh_private_key_says_its_public_half() {
        let private = openssh(PUBLIC);
        assert_eq!(openssh_public_blob(&private), public_blob(PUBLIC));
        assert_eq!(
            openssh_public_blob("-----BEGIN RSA PRIVATE KEY-----\n"),
            None
        );
        let cut = private.lines().take(2).collect::<Vec<_>>().join("\n");
        assert_eq!(openssh_public_blob(&format!("{cut}\n{OPENSSH_END}")), None);
    }

    // The server takes any pair it is given: a stale escrow would have DR sign with a key that
    // is not the CA everyone trusts.
    #[test]
    fn an_escrowed_key_that_is_not_the_cas_is_never_taken() {
        let private = openssh(PUBLIC);
        assert!(escrow_matches(&escrowed(json!({"private_key": private})), PUBLIC).is_ok());
        let both = json!({"private_key": private, "public_key": PUBLIC});
        assert!(escrow_matches(&escrowed(both), PUBLIC).is_ok());
        let why = escrow_matches(&escrowed(json!({"private_key": private})), OTHER).unwrap_err();
        assert!(why.contains("its public half differs"), "{why}");
        let stale = json!({"private_key": private, "public_key": OTHER});
        let why = escrow_matches(&escrowed(stale), PUBLIC).unwrap_err();
        assert!(why.contains("`public_key` is not the CA's"), "{why}");
        let pem = json!({"private_key": "-----BEGIN RSA PRIVATE KEY-----\n..."});
        let why = escrow_matches(&escrowed(pem.clone()), PUBLIC).unwrap_err();
        assert!(why.contains("add the CA's `public_key`"), "{why}");
        let mut pem_with_public = pem;
        pem_with_public["public_key"] = json!(PUBLIC);
        assert!(escrow_matches(&escrowed(pem_with_public), PUBLIC).is_ok());
        let none = escrow_matches(&escrowed(json!({"public_key": PUBLIC})), PUBLIC);
        assert!(none.unwrap_err().contains("no `private_key`"));
    }
}
