//! A stand-in for the one Kubernetes API call the kubernetes secrets engine makes for a role
//! bound to an existing service account (TokenRequest), so that the real OpenBao plugin issues
//! tokens without a cluster. It logs the bearer token each call came with: which
//! `service_account_jwt` the engine used.

use std::path::PathBuf;

use super::{Background, free_ports, python_stand_in};

const TOKEN_REQUEST: &str = r#"
import base64, json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
port, log = int(sys.argv[1]), sys.argv[2]
class Tokens(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with open(log, "a") as f:
            f.write(self.path + " " + self.headers.get("Authorization", "") + "\n")
        part = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()
        token = part({"alg": "RS256"}) + "." + part({"exp": 4102444800, "iat": 1700000000}) + ".c2ln"
        data = json.dumps({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                           "status": {"token": token,
                                      "expirationTimestamp": "2099-01-01T00:00:00Z"}}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def log_message(self, *args):
        pass
HTTPServer(("127.0.0.1", port), Tokens).serve_forever()
"#;

pub struct KubeTokens {
    _child: Background,
    pub url: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl KubeTokens {
    pub fn start() -> KubeTokens {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("tokens.log");
        let port = free_ports(1);
        let child = python_stand_in(TOKEN_REQUEST, port, &[log.to_str().unwrap()]);
        KubeTokens {
            _child: child,
            url: format!("http://127.0.0.1:{port}"),
            log,
            _dir: dir,
        }
    }

    /// One line per token issued: the API path and the `Authorization` header.
    pub fn requests(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}
