//! An issuer's escrowed `pem_bundle`, cut down to what crosses: the issuer's own certificate and
//! the one private key that derives that certificate's public key, re-encoded as a new bundle.
//! `issuers/import/bundle` makes an issuer of every certificate and a key of every private key it
//! is sent, and an import never prunes them, so nothing else of the escrow entry reaches DR:
//! other certificates (a chain file's) are left out, and another private key (a root key left in
//! the file), a key that is not the issuer's, or a block that is neither refuses the entry.
//! Reasons name blocks by position and PEM label, never their content.

use der::pem::LineEnding;
use zeroize::Zeroizing;

use crate::objects::escrow::Escrowed;
use crate::objects::keypair;

/// The escrowed field of an issuer: its certificate and private key, PEM.
pub const BUNDLE: &str = "pem_bundle";

/// The private key formats `issuers/import/bundle` takes.
const KEY_LABELS: &[&str] = &["RSA PRIVATE KEY", "EC PRIVATE KEY", "PRIVATE KEY"];

type Block = (String, Zeroizing<Vec<u8>>);

/// The PEM blocks of `text`, in order: (label, DER).
fn blocks(text: &str) -> Result<Vec<Block>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let n = out.len() + 1;
        let block = &rest[start..];
        // The end line is the next `-----END ...-----`: a block's label is checked when decoded.
        let len = block
            .find("-----END ")
            .and_then(|e| block[e + 9..].find("-----").map(|l| e + 9 + l + 5))
            .ok_or_else(|| format!("block {n} has no end line"))?;
        let decoded =
            keypair::decode_pem(&block[..len]).map_err(|e| format!("block {n} is {e}"))?;
        out.push(decoded);
        rest = &block[len..];
    }
    Ok(out)
}

/// The bundle that crosses for the issuer whose certificate is `certificate` (PEM): its
/// certificate and its key; why the escrowed `bundle` is refused otherwise.
pub fn issuer_pair(bundle: &str, certificate: &str) -> Result<String, String> {
    let cert = blocks(certificate)
        .ok()
        .and_then(|b| b.into_iter().find(|(l, _)| l == "CERTIFICATE"))
        .ok_or("the issuer's own certificate is not readable")?
        .1;
    let want = keypair::of_certificate(&cert).map_err(|e| format!("the issuer's key is {e}"))?;
    let (mut has_cert, mut key) = (false, None::<Block>);
    for (i, (label, der)) in blocks(bundle)?.into_iter().enumerate() {
        let n = i + 1;
        match label.as_str() {
            "CERTIFICATE" => has_cert |= der == cert,
            "EC PARAMETERS" => {}
            l if KEY_LABELS.contains(&l) => {
                let derived = keypair::of_private_der(l, &der)
                    .map_err(|e| format!("block {n} (`{l}`) is {e}"))?;
                if derived != want {
                    return Err(format!(
                        "block {n} is a private key (`{l}`) that is not this issuer's: escrow \
                         only the issuer's certificate and its own key"
                    ));
                }
                key.get_or_insert((label, der));
            }
            l => {
                return Err(format!(
                    "block {n} is a `{l}`, which an issuer's bundle does not carry"
                ));
            }
        }
    }
    if !has_cert {
        return Err("it does not hold this issuer's certificate".into());
    }
    let (label, der) = key.ok_or("it holds no private key")?;
    let pem = |label: &str, der: &[u8]| {
        der::pem::encode_string(label, LineEnding::LF, der)
            .map_err(|_| "it cannot be encoded again".to_string())
    };
    Ok(pem("CERTIFICATE", &cert)? + &pem(&label, &der)?)
}

/// What of an issuer's escrow entry crosses: its bundle cut down to the issuer's certificate and
/// key (`issuer_pair`); why the entry is refused otherwise.
pub fn escrowed_for(entry: &Escrowed, certificate: &str) -> Result<Escrowed, String> {
    entry.only(&[BUNDLE])?;
    let bundle = entry
        .0
        .get(BUNDLE)
        .and_then(|b| b.as_str())
        .ok_or("its `pem_bundle` is not text")?;
    let pair = issuer_pair(bundle, certificate)?;
    let mut kept = Escrowed::default();
    kept.0.insert(BUNDLE.into(), pair.into());
    Ok(kept)
}

#[cfg(test)]
mod tests;
