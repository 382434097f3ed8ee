//! Key pairs as an escrow carries them: the public key a private key derives, whatever the format
//! OpenBao takes it in (PEM PKCS#1, SEC1 and PKCS#8, and OpenSSH's own), and the public key of an
//! X.509 certificate, of an SSH public key line and of an SSH certificate's signer, all in one
//! comparable form. An escrowed key is proved to be an object's by deriving its public half,
//! never by trusting a public key written beside it: an EC or Ed25519 public key is computed from
//! the private scalar or seed; an RSA private key holds its modulus and exponent, which are read
//! from it. Errors name formats and algorithms only, never key material.

use std::fmt;

use der::Decode;
use der::asn1::ObjectIdentifier;
use pkcs8::PrivateKeyInfoRef;
use ssh_key::private::KeypairData;
use ssh_key::public::KeyData;
use zeroize::Zeroizing;

type Why = String;

const RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");

/// The curves a key may be on (those OpenBao's SSH CA and Go's x509 both take).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    P256,
    P384,
    P521,
}

/// A public key by its algorithm and numbers, comparable across encodings.
#[derive(Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// Modulus and exponent, big-endian, without leading zeros.
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// The point, SEC1 uncompressed.
    Ec(Curve, Vec<u8>),
    Ed25519([u8; 32]),
}

/// Public keys are not secret, but nothing gains from printing their numbers.
impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PublicKey::Rsa { n, .. } => write!(f, "RSA-{}", n.len() * 8),
            PublicKey::Ec(curve, _) => write!(f, "EC {curve:?}"),
            PublicKey::Ed25519(_) => write!(f, "Ed25519"),
        }
    }
}

/// The public key of the one private key `text` holds: PEM (`RSA PRIVATE KEY`, `EC PRIVATE KEY`,
/// `PRIVATE KEY`, `OPENSSH PRIVATE KEY`), unencrypted.
pub fn of_private_key(text: &str) -> Result<PublicKey, Why> {
    let (label, der) = decode_pem(text)?;
    of_private_der(&label, &der)
}

/// One PEM block, `-----BEGIN <label>-----` to `-----END <label>-----`, whatever the width of its
/// base64 lines (OpenSSH writes 70, most tools 64): (label, DER). A block with headers (a legacy
/// encrypted key's `Proc-Type`) or anything after it is refused.
pub fn decode_pem(block: &str) -> Result<(String, Zeroizing<Vec<u8>>), Why> {
    let not_one = || "not one PEM block".to_string();
    let mut lines = block.trim().lines().map(str::trim);
    let label = lines
        .next()
        .and_then(|l| l.strip_prefix("-----BEGIN "))
        .and_then(|l| l.strip_suffix("-----"))
        .filter(|l| {
            l.chars()
                .all(|c| c.is_ascii_uppercase() || " 0-9".contains(c))
        })
        .ok_or_else(not_one)?
        .to_string();
    let end = format!("-----END {label}-----");
    let mut body = Zeroizing::new(String::new());
    loop {
        match lines.next().ok_or_else(not_one)? {
            l if l == end => break,
            l if l.contains(':') => {
                return Err("an encrypted PEM key (with headers), which OpenBao cannot use".into());
            }
            l => body.push_str(l),
        }
    }
    if lines.any(|l| !l.is_empty()) {
        return Err(not_one());
    }
    let mut wrapped = Zeroizing::new(format!("-----BEGIN {label}-----\n"));
    for chunk in body.as_bytes().chunks(64) {
        wrapped.push_str(std::str::from_utf8(chunk).map_err(|_| not_one())?);
        wrapped.push('\n');
    }
    wrapped.push_str(&end);
    let (_, der) = der::pem::decode_vec(wrapped.as_bytes())
        .map_err(|_| format!("a `{label}` block that is not readable PEM"))?;
    Ok((label, Zeroizing::new(der)))
}

/// The public key of a private key PEM block, by its label.
pub fn of_private_der(label: &str, der: &[u8]) -> Result<PublicKey, Why> {
    match label {
        "RSA PRIVATE KEY" => of_pkcs1(der),
        "EC PRIVATE KEY" => of_sec1(der, None),
        "PRIVATE KEY" => of_pkcs8(der),
        "OPENSSH PRIVATE KEY" => of_openssh(der),
        "ENCRYPTED PRIVATE KEY" => Err("an encrypted key, which OpenBao cannot use".into()),
        other => Err(format!(
            "a `{other}` block is not a private key this tool reads"
        )),
    }
}

/// Whether a PEM label is a private key's.
pub fn is_private_key(label: &str) -> bool {
    label.ends_with("PRIVATE KEY")
}

fn of_pkcs1(der: &[u8]) -> Result<PublicKey, Why> {
    let key = pkcs1::RsaPrivateKeyRef::from_der(der).map_err(|_| bad("a PKCS#1 RSA key"))?;
    Ok(rsa(key.modulus.as_bytes(), key.public_exponent.as_bytes()))
}

fn of_sec1(der: &[u8], curve: Option<ObjectIdentifier>) -> Result<PublicKey, Why> {
    let key = sec1::EcPrivateKey::from_der(der).map_err(|_| bad("a SEC1 EC key"))?;
    let named = key.parameters.and_then(|p| p.named_curve());
    let oid = curve.or(named).ok_or("an EC key that names no curve")?;
    ec_of_secret(curve_of(oid)?, key.private_key)
}

fn of_pkcs8(der: &[u8]) -> Result<PublicKey, Why> {
    let info = PrivateKeyInfoRef::from_der(der).map_err(|_| bad("a PKCS#8 key"))?;
    let inner = info.private_key.as_bytes();
    match info.algorithm.oid {
        RSA => of_pkcs1(inner),
        EC => {
            let curve = info
                .algorithm
                .parameters
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
            of_sec1(inner, curve)
        }
        ED25519 => {
            let seed = <&der::asn1::OctetStringRef>::from_der(inner)
                .map_err(|_| bad("a PKCS#8 Ed25519 key"))?;
            ed25519_of_seed(seed.as_bytes())
        }
        oid => Err(format!(
            "a PKCS#8 key of algorithm {oid}, which is not RSA, EC or Ed25519"
        )),
    }
}

fn of_openssh(der: &[u8]) -> Result<PublicKey, Why> {
    let key = match ssh_key::PrivateKey::from_bytes(der) {
        Ok(key) => key,
        Err(_) => return openssh_ecdsa(der).ok_or_else(|| bad("an OpenSSH key"))?,
    };
    match key.key_data() {
        KeypairData::Ed25519(pair) => {
            let seed = Zeroizing::new(pair.private.to_bytes());
            ed25519_of_seed(&seed[..])
        }
        KeypairData::Ecdsa(pair) => {
            let curve = ssh_curve(pair.curve())?;
            ec_of_secret(curve, pair.private_key_bytes())
        }
        KeypairData::Rsa(pair) => Ok(rsa(
            pair.public.n.as_positive_bytes().unwrap_or_default(),
            pair.public.e.as_positive_bytes().unwrap_or_default(),
        )),
        KeypairData::Encrypted(_) => Err("an encrypted key, which OpenBao cannot use".into()),
        _ => Err("an OpenSSH key that is not RSA, ECDSA or Ed25519".into()),
    }
}

/// An unencrypted OpenSSH ECDSA key's public key, derived from its private scalar, read field by
/// field: ssh-key 0.6 refuses the key when the scalar's `mpint` is shorter than the curve's size
/// (a P-521 scalar below 2^520, one key in four), which OpenSSH writes as it should (RFC 4251).
/// `None` when it is not such a key.
fn openssh_ecdsa(der: &[u8]) -> Option<Result<PublicKey, Why>> {
    let mut r = der.strip_prefix(b"openssh-key-v1\0")?;
    let (cipher, kdf) = (field::<String>(&mut r)?, field::<String>(&mut r)?);
    let (_kdf_options, keys) = (field::<Vec<u8>>(&mut r)?, field::<u32>(&mut r)?);
    if cipher != "none" || kdf != "none" || keys != 1 {
        return None;
    }
    let _public = field::<Vec<u8>>(&mut r)?;
    let private = Zeroizing::new(field::<Vec<u8>>(&mut r)?);
    let mut p = &private[..];
    let (check1, check2) = (field::<u32>(&mut p)?, field::<u32>(&mut p)?);
    let algorithm = field::<String>(&mut p)?;
    let curve: ssh_key::EcdsaCurve = field::<String>(&mut p)?.parse().ok()?;
    let _point = field::<Vec<u8>>(&mut p)?;
    let scalar = Zeroizing::new(field::<Vec<u8>>(&mut p)?);
    if check1 != check2 || !algorithm.starts_with("ecdsa-sha2-") {
        return None;
    }
    // An mpint: a leading zero byte only keeps a high bit from reading as a sign.
    let scalar = scalar.strip_prefix(&[0]).unwrap_or(&scalar[..]);
    Some(ssh_curve(curve).and_then(|c| ec_of_secret(c, scalar)))
}

/// One field of an OpenSSH key's encoding (RFC 4251: `uint32`, `string`).
fn field<T: ssh_encoding::Decode>(r: &mut &[u8]) -> Option<T> {
    T::decode(r).ok()
}

/// The public key of an X.509 certificate (DER).
pub fn of_certificate(der: &[u8]) -> Result<PublicKey, Why> {
    let cert = x509_cert::Certificate::from_der(der).map_err(|_| bad("a certificate"))?;
    let spki = cert.tbs_certificate().subject_public_key_info();
    let bits = spki
        .subject_public_key
        .as_bytes()
        .ok_or("a certificate whose public key is not whole bytes")?;
    match spki.algorithm.oid {
        RSA => {
            let key = pkcs1::RsaPublicKeyRef::from_der(bits).map_err(|_| bad("an RSA key"))?;
            Ok(rsa(key.modulus.as_bytes(), key.public_exponent.as_bytes()))
        }
        EC => {
            let oid = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
                .ok_or("an EC certificate key that names no curve")?;
            ec_of_point(curve_of(oid)?, bits)
        }
        ED25519 => Ok(PublicKey::Ed25519(
            bits.try_into().map_err(|_| bad("an Ed25519 key"))?,
        )),
        oid => Err(format!(
            "a certificate key of algorithm {oid}, which is not RSA, EC or Ed25519"
        )),
    }
}

/// The public key of an SSH public key line (`ssh-ed25519 AAAA... comment`).
pub fn of_ssh_public(line: &str) -> Result<PublicKey, Why> {
    let key =
        ssh_key::PublicKey::from_openssh(line.trim()).map_err(|_| bad("an SSH public key"))?;
    of_ssh_key_data(key.key_data())
}

/// The key that signed an SSH certificate (`ssh-ed25519-cert-v01@openssh.com AAAA...`), as the
/// certificate names it.
pub fn ssh_certificate_signer(line: &str) -> Result<PublicKey, Why> {
    let cert =
        ssh_key::Certificate::from_openssh(line.trim()).map_err(|_| bad("an SSH certificate"))?;
    of_ssh_key_data(cert.signature_key())
}

fn of_ssh_key_data(key: &KeyData) -> Result<PublicKey, Why> {
    match key {
        KeyData::Ed25519(k) => Ok(PublicKey::Ed25519(k.0)),
        KeyData::Ecdsa(k) => ec_of_point(ssh_curve(k.curve())?, k.as_sec1_bytes()),
        KeyData::Rsa(k) => Ok(rsa(
            k.n.as_positive_bytes().unwrap_or_default(),
            k.e.as_positive_bytes().unwrap_or_default(),
        )),
        _ => Err("an SSH key that is not RSA, ECDSA or Ed25519".into()),
    }
}

/// An SSH public key line for an Ed25519 public key.
pub fn ssh_ed25519_line(public: [u8; 32]) -> Result<String, Why> {
    let key = ssh_key::PublicKey::from(KeyData::Ed25519(ssh_key::public::Ed25519PublicKey(public)));
    key.to_openssh().map_err(|_| bad("an Ed25519 key"))
}

/// The public half of an Ed25519 seed.
pub fn ed25519_public(seed: &[u8; 32]) -> [u8; 32] {
    ed25519_dalek::SigningKey::from_bytes(seed)
        .verifying_key()
        .to_bytes()
}

fn ed25519_of_seed(seed: &[u8]) -> Result<PublicKey, Why> {
    let seed: &[u8; 32] = seed.try_into().map_err(|_| bad("an Ed25519 seed"))?;
    Ok(PublicKey::Ed25519(ed25519_public(seed)))
}

fn rsa(n: &[u8], e: &[u8]) -> PublicKey {
    let strip = |b: &[u8]| {
        let start = b.iter().position(|x| *x != 0).unwrap_or(b.len());
        b[start..].to_vec()
    };
    PublicKey::Rsa {
        n: strip(n),
        e: strip(e),
    }
}

fn curve_of(oid: ObjectIdentifier) -> Result<Curve, Why> {
    match oid {
        P256 => Ok(Curve::P256),
        P384 => Ok(Curve::P384),
        P521 => Ok(Curve::P521),
        other => Err(format!(
            "an EC key on curve {other}, which is not P-256, P-384 or P-521"
        )),
    }
}

fn ssh_curve(curve: ssh_key::EcdsaCurve) -> Result<Curve, Why> {
    match curve {
        ssh_key::EcdsaCurve::NistP256 => Ok(Curve::P256),
        ssh_key::EcdsaCurve::NistP384 => Ok(Curve::P384),
        ssh_key::EcdsaCurve::NistP521 => Ok(Curve::P521),
    }
}

/// The public point of an EC private scalar.
fn ec_of_secret(curve: Curve, secret: &[u8]) -> Result<PublicKey, Why> {
    let invalid = |_| bad("an EC private key");
    let point = match curve {
        Curve::P256 => p256::SecretKey::from_slice(secret)
            .map_err(invalid)?
            .public_key()
            .to_sec1_bytes(),
        Curve::P384 => p384::SecretKey::from_slice(secret)
            .map_err(invalid)?
            .public_key()
            .to_sec1_bytes(),
        Curve::P521 => p521::SecretKey::from_slice(secret)
            .map_err(invalid)?
            .public_key()
            .to_sec1_bytes(),
    };
    Ok(PublicKey::Ec(curve, point.into_vec()))
}

/// An EC public point in one encoding (uncompressed), checked to be on its curve.
fn ec_of_point(curve: Curve, sec1: &[u8]) -> Result<PublicKey, Why> {
    let invalid = |_| bad("an EC public key");
    let point = match curve {
        Curve::P256 => p256::PublicKey::from_sec1_bytes(sec1)
            .map_err(invalid)?
            .to_sec1_bytes(),
        Curve::P384 => p384::PublicKey::from_sec1_bytes(sec1)
            .map_err(invalid)?
            .to_sec1_bytes(),
        Curve::P521 => p521::PublicKey::from_sec1_bytes(sec1)
            .map_err(invalid)?
            .to_sec1_bytes(),
    };
    Ok(PublicKey::Ec(curve, point.into_vec()))
}

fn bad(what: &str) -> Why {
    format!("not readable as {what}")
}

#[cfg(test)]
mod tests;
