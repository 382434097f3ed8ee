//! A stand-in for the RabbitMQ management API calls the rabbitmq secrets engine makes when it
//! issues credentials (create the user, set its permissions): it answers each with 204 and logs
//! the method, path and `Authorization` header, which tell what connection config the engine used.

use std::path::PathBuf;

use super::{Background, free_ports, python_stand_in};

const MANAGEMENT: &str = r#"
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
port, log = int(sys.argv[1]), sys.argv[2]
class Management(BaseHTTPRequestHandler):
    def answer(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with open(log, "a") as f:
            f.write("%s %s %s\n" % (self.command, self.path, self.headers.get("Authorization", "")))
        self.send_response(204)
        self.end_headers()
    do_PUT = do_POST = do_DELETE = answer
    def log_message(self, *args):
        pass
HTTPServer(("127.0.0.1", port), Management).serve_forever()
"#;

pub struct RabbitApi {
    _child: Background,
    pub url: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl RabbitApi {
    pub fn start() -> RabbitApi {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("calls.log");
        let port = free_ports(1);
        let child = python_stand_in(MANAGEMENT, port, &[log.to_str().unwrap()]);
        RabbitApi {
            _child: child,
            url: format!("http://127.0.0.1:{port}"),
            log,
            _dir: dir,
        }
    }

    /// One line per call: method, path and `Authorization` header.
    pub fn calls(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}
