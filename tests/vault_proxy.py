# A loopback proxy in front of OpenBao that answers as HashiCorp Vault (Community) does where the
# two differ, for the integration tests (no Vault binary can be installed there):
# - a KV-v2 mount has no `detailed-metadata/`: Vault's versioned K/V answers any path it does not
#   know with 404 and a warning (vault-plugin-secrets-kv, pathInvalid);
# - there are no namespaces: `sys/namespaces` is an unsupported path (404). Vault Community ignores
#   an X-Vault-Namespace header and runs the request in the root namespace; the proxy answers 404
#   instead and records the request, so a test sees any request meant for a namespace;
# - read-backs carry Vault-only fields: INJECT maps an exact API path to fields set in `data` of
#   its GET answer, nested objects merged (e.g. Vault Enterprise 1.19's automated root rotation
#   settings, or a mount table row's Vault-only `config` settings).
# Every write it forwards (POST, PUT, PATCH, DELETE), every namespaced request and every request
# answered as Vault would (`vault404`) is recorded as one JSON line in LOG. Everything else is forwarded unchanged. Standard library only.
# Usage: vault_proxy.py PORT UPSTREAM ROOT_TOKEN LOG INJECT_JSON
import http.client
import json
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, upstream, root_token, log_path = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
inject = json.loads(sys.argv[5])
up = urllib.parse.urlsplit(upstream)
log_lock = threading.Lock()

UNSUPPORTED = {"errors": ["1 error occurred:\n\t* unsupported path\n\n"]}
KV_COMMAND = {"GET": "get", "LIST": "list", "POST": "put", "PUT": "put", "DELETE": "delete"}


def kv_invalid(method):
    warning = ("Invalid path for a versioned K/V secrets engine. See the API docs for the "
               "appropriate API endpoints to use. If using the Vault CLI, use 'vault kv %s' "
               "for this operation." % KV_COMMAND.get(method, "get"))
    return {"request_id": "00000000-0000-0000-0000-000000000000", "lease_id": "",
            "renewable": False, "lease_duration": 0, "data": None, "wrap_info": None,
            "warnings": [warning], "auth": None}


def merge(into, fields):
    """Sets `fields` in `into`, merging nested objects (a mount table row's `config`)."""
    for k, v in fields.items():
        if isinstance(v, dict) and isinstance(into.get(k), dict):
            merge(into[k], v)
        else:
            into[k] = v


def upstream_request(method, target, headers, body):
    conn = http.client.HTTPConnection(up.hostname, up.port, timeout=60)
    conn.request(method, target, body=body, headers=headers)
    return conn, conn.getresponse()


def kv2_mounts():
    conn, resp = upstream_request("GET", "/v1/sys/mounts", {"X-Vault-Token": root_token}, None)
    table = json.loads(resp.read() or b"{}").get("data") or {}
    conn.close()
    return {p for p, m in table.items()
            if m.get("type") == "kv" and (m.get("options") or {}).get("version") == "2"}


def is_detailed_metadata(path):
    """Whether `path` (below /v1/) is `<kv-v2 mount>detailed-metadata[/...]`."""
    if "detailed-metadata" not in path:
        return False
    for mount in kv2_mounts():
        rest = path[len(mount):] if path.startswith(mount) else None
        if rest is not None and (rest == "detailed-metadata" or rest.startswith("detailed-metadata/")):
            return True
    return False


class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def record(self, kind, path, body):
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        line = {"kind": kind, "method": self.command, "path": path, "body": parsed,
                "namespace": self.headers.get("X-Vault-Namespace", "")}
        with log_lock, open(log_path, "a") as f:
            f.write(json.dumps(line) + "\n")

    def answer(self, status, doc):
        data = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        split = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(split.path)[len("/v1/"):]
        query = urllib.parse.parse_qs(split.query)
        listing = self.command == "LIST" or (self.command == "GET" and query.get("list") == ["true"])
        method = "LIST" if listing else self.command
        namespace = self.headers.get("X-Vault-Namespace", "").strip("/")
        if namespace not in ("", "root"):
            self.record("namespace", path, body)
            return self.answer(404, UNSUPPORTED)
        if path == "sys/namespaces" or path.startswith("sys/namespaces/"):
            self.record("vault404", path, body)
            return self.answer(404, UNSUPPORTED)
        if is_detailed_metadata(path):
            self.record("vault404", path, body)
            return self.answer(404, kv_invalid(method))
        if self.command in ("POST", "PUT", "PATCH", "DELETE"):
            self.record("write", path, body)
        elif method == "GET":
            self.record("read", path, None)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        conn, resp = upstream_request(self.command, self.path, headers, body)
        data = resp.read()
        fields = inject.get(path) if method == "GET" and resp.status == 200 else None
        if fields:
            doc = json.loads(data)
            merge(doc.setdefault("data", {}), fields)
            data = json.dumps(doc).encode()
        conn.close()
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("content-length", "connection", "transfer-encoding", "date", "server"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_LIST = handle_any

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", port), Proxy).serve_forever()
