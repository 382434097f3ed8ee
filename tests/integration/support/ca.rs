//! Certificate authorities made with the stock `openssl` CLI, as an operator would make a CA
//! whose key can be escrowed (`root/generate/internal` keeps the key inside Vault), and the PKI
//! helpers the tests share: a mount, an imported issuer, an issued certificate checked with
//! `openssl verify`.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use super::Bao;

/// A CA: its certificate and private key, PEM.
pub struct Ca {
    pub cert: String,
    pub key: String,
}

impl Ca {
    /// The PEM bundle Vault imports: certificate, then key.
    pub fn bundle(&self) -> String {
        format!("{}{}", self.cert, self.key)
    }
}

const EXT: &str = "[req]\ndistinguished_name=dn\n[dn]\n[v3_ca]\n\
basicConstraints=critical,CA:true\nkeyUsage=critical,keyCertSign,cRLSign,digitalSignature\n\
subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n";

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap()
}

/// A self-signed root CA (EC P-256).
pub fn root(cn: &str) -> Ca {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.cnf"), EXT).unwrap();
    let subj = format!("/CN={cn}");
    openssl(
        dir.path(),
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "3650",
            "-subj",
            &subj,
            "-config",
            "ca.cnf",
            "-extensions",
            "v3_ca",
        ],
    );
    Ca {
        cert: read(dir.path(), "ca.crt"),
        key: read(dir.path(), "ca.key"),
    }
}

/// An intermediate CA signed by `parent`.
pub fn intermediate(cn: &str, parent: &Ca) -> Ca {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::write(p.join("ca.cnf"), EXT).unwrap();
    std::fs::write(p.join("parent.crt"), &parent.cert).unwrap();
    std::fs::write(p.join("parent.key"), &parent.key).unwrap();
    let subj = format!("/CN={cn}");
    openssl(
        p,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "int.key",
            "-out",
            "int.csr",
            "-subj",
            &subj,
            "-config",
            "ca.cnf",
        ],
    );
    openssl(
        p,
        &[
            "x509",
            "-req",
            "-in",
            "int.csr",
            "-CA",
            "parent.crt",
            "-CAkey",
            "parent.key",
            "-CAcreateserial",
            "-out",
            "int.crt",
            "-days",
            "1825",
            "-extfile",
            "ca.cnf",
            "-extensions",
            "v3_ca",
        ],
    );
    Ca {
        cert: read(p, "int.crt"),
        key: read(p, "int.key"),
    }
}

/// Enables a PKI mount at `path` (`pki`) with a ten-year max lease TTL.
pub fn mount_pki(bao: &Bao, path: &str) {
    bao.write(
        &format!("sys/mounts/{path}"),
        json!({"type": "pki", "config": {"max_lease_ttl": "87600h"}}),
    );
}

/// Imports `pem` (`import/bundle` or `import/cert`) into `mount` and names the issuer; its ID.
pub fn import_issuer(bao: &Bao, mount: &str, how: &str, pem: &str, name: &str) -> String {
    let v = bao.write(
        &format!("{mount}/issuers/import/{how}"),
        json!({ "pem_bundle": pem }),
    );
    let d = &v["data"];
    let id = d["imported_issuers"][0]
        .as_str()
        .or_else(|| d["existing_issuers"][0].as_str())
        .unwrap()
        .to_string();
    bao.write(
        &format!("{mount}/issuer/{id}"),
        json!({"issuer_name": name, "usage": "read-only,issuing-certificates,crl-signing,ocsp-signing"}),
    );
    id
}

/// An issuer's read answer's `data`, by reference (name or ID).
pub fn issuer(bao: &Bao, mount: &str, r: &str) -> Value {
    bao.read(&format!("{mount}/issuer/{r}")).unwrap()["data"].clone()
}

/// Issues a certificate from role `role` and checks with `openssl verify` that it chains to
/// `root` (through `chain`, the intermediates); the answer's `data`.
pub fn issue_and_verify(bao: &Bao, mount: &str, role: &str, cn: &str, root: &str, chain: &str) {
    let v = bao.write(
        &format!("{mount}/issue/{role}"),
        json!({"common_name": cn, "ttl": "1h"}),
    );
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::write(
        p.join("leaf.crt"),
        v["data"]["certificate"].as_str().unwrap(),
    )
    .unwrap();
    std::fs::write(p.join("root.crt"), root).unwrap();
    std::fs::write(p.join("chain.crt"), chain).unwrap();
    let mut args = vec!["verify", "-CAfile", "root.crt"];
    if !chain.is_empty() {
        args.extend(["-untrusted", "chain.crt"]);
    }
    args.push("leaf.crt");
    openssl(p, &args);
}
