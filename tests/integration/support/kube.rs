//! A stand-in for the one Kubernetes API call Vault's Kubernetes auth makes (TokenReview), so
//! that the real OpenBao plugin can log pods in without a cluster; and service-account tokens
//! shaped as the kubelet projects them. It vouches for any token of that shape: the tests make
//! the tokens, the plugin still checks role bindings, namespaces and audiences itself.

use std::path::PathBuf;

use serde_json::json;

use super::{Background, Bao, free_ports, python_stand_in, repo_root};

const TOKEN_REVIEW: &str = r#"
import base64, json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
port, log = int(sys.argv[1]), sys.argv[2]
class Review(BaseHTTPRequestHandler):
    def do_POST(self):
        spec = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["spec"]
        payload = spec["token"].split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        k8s = claims["kubernetes.io"]
        user = "system:serviceaccount:%s:%s" % (k8s["namespace"], k8s["serviceaccount"]["name"])
        status = {"authenticated": True, "audiences": spec.get("audiences") or claims["aud"],
                  "user": {"username": user, "uid": k8s["serviceaccount"]["uid"],
                           "groups": ["system:serviceaccounts"]}}
        data = json.dumps({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                           "status": status}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        with open(log, "a") as f:
            f.write(self.path + " " + user + "\n")
    def log_message(self, *args):
        pass
HTTPServer(("127.0.0.1", port), Review).serve_forever()
"#;

pub struct KubeApi {
    _child: Background,
    pub url: String,
    /// One line per review answered: the path and the service account.
    pub log: PathBuf,
    _dir: tempfile::TempDir,
}

fn b64url(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

/// Some CA certificate: the plugin insists on one, though it talks plain HTTP to the stand-in.
fn any_ca_cert() -> String {
    let bundle = std::fs::read_to_string("/etc/ssl/certs/ca-certificates.crt").unwrap();
    let end = "-----END CERTIFICATE-----";
    let first = bundle
        .find(end)
        .expect("a certificate in the system bundle")
        + end.len();
    let start = bundle.find("-----BEGIN CERTIFICATE-----").unwrap();
    bundle[start..first].to_string()
}

impl KubeApi {
    pub fn start() -> KubeApi {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("reviews.log");
        let port = free_ports(1);
        let child = python_stand_in(TOKEN_REVIEW, port, &[log.to_str().unwrap()]);
        KubeApi {
            _child: child,
            url: format!("http://127.0.0.1:{port}"),
            log,
            _dir: dir,
        }
    }

    pub fn reviews(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A projected service-account token for `namespace/name` with audience `vault`.
    pub fn token(namespace: &str, name: &str) -> String {
        let claims = json!({
            "aud": ["vault"], "iss": "https://kubernetes.default.svc",
            "sub": format!("system:serviceaccount:{namespace}:{name}"),
            "kubernetes.io": {"namespace": namespace,
                              "serviceaccount": {"name": name, "uid": format!("uid-{name}")}},
            "exp": 4102444800u64, "iat": 1700000000u64, "nbf": 1700000000u64,
        });
        format!(
            "{}.{}.{}",
            b64url(br#"{"alg":"RS256","kid":"test"}"#),
            b64url(claims.to_string().as_bytes()),
            b64url(&[7u8; 256])
        )
    }

    /// Enables Kubernetes auth on `bao`, pointed at this stand-in.
    pub fn configure(&self, bao: &Bao) {
        bao.write("sys/auth/kubernetes", json!({"type": "kubernetes"}));
        bao.write(
            "auth/kubernetes/config",
            json!({"kubernetes_host": self.url, "disable_local_ca_jwt": true,
                   "kubernetes_ca_cert": any_ca_cert(), "token_reviewer_jwt": "reviewer"}),
        );
    }
}

/// Writes a shipped policy (`docs/policies/<file>`) to `bao` as `name`.
pub fn shipped_policy(bao: &Bao, name: &str, file: &str) {
    let hcl = std::fs::read_to_string(repo_root().join("docs/policies").join(file)).unwrap();
    bao.write(&format!("sys/policies/acl/{name}"), json!({"policy": hcl}));
}

/// A Kubernetes auth role for service accounts `names` in namespace `vault`, audience `vault`,
/// whose tokens carry only `policy`.
pub fn role(bao: &Bao, role: &str, names: &[&str], policy: &str) {
    bao.write(
        &format!("auth/kubernetes/role/{role}"),
        json!({"bound_service_account_names": names, "bound_service_account_namespaces": ["vault"],
               "audience": "vault", "token_policies": [policy], "token_no_default_policy": true,
               "token_ttl": "10m"}),
    );
}
