#!/usr/bin/env python3
"""`make bench`: vault-replicator against real OpenBao dev servers and Garage, on this machine.

Seeds BENCH_SECRETS (default 10000) KV-v2 secrets in folders of 10 on a DC server, measures the
server's raw GET and PUT ceiling with a concurrent keep-alive client (examples/ceiling.rs), then
times: export; import into an empty DR; a no-op re-import; export and import after 1 % of the
secrets changed; and a full-check import. For each step: wall time, Vault requests, requests per
secret, peak RSS, and the ratio to the ceiling (the time the server would need for the same
requests at its raw rate, divided by the time the step took). Export + import is also set against
the floor of one GET and one PUT per secret at the raw rates. Prints a table; changes nothing
outside a temporary directory.
"""
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target/release/vault-replicator")
CEILING = os.path.join(ROOT, "target/release/examples/ceiling")
N = int(os.environ.get("BENCH_SECRETS", "10000"))
CEILING_SECONDS = os.environ.get("BENCH_CEILING_SECONDS", "3")
CEILING_CONCURRENCY = os.environ.get("BENCH_CEILING_CONCURRENCY", "32")
procs = []


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
    procs.append(subprocess.Popen(
        ["bao", "server", "-dev", "-dev-no-store-token", f"-dev-root-token-id={token}",
         f"-dev-listen-address=127.0.0.1:{port}"], stdout=log, stderr=log))
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
    subprocess.run(["bash", script, "setup", d], check=True)
    subprocess.run(["bash", script, "bucket", d, "bench"], check=True)
    out = subprocess.run(["bash", script, "env", d], check=True, capture_output=True, text=True)
    return dict(line.split("=", 1) for line in out.stdout.split())


def measure(args, env):
    """Runs a command; returns (seconds, stdout, stderr)."""
    out_f, err_f = tempfile.TemporaryFile(), tempfile.TemporaryFile()
    start = time.monotonic()
    p = subprocess.Popen(args, env=env, stdout=out_f, stderr=err_f)
    _, status, _ = os.wait4(p.pid, 0)
    seconds = time.monotonic() - start
    p.returncode = os.waitstatus_to_exitcode(status)
    out_f.seek(0)
    err_f.seek(0)
    out, err = out_f.read().decode(), err_f.read().decode()
    if p.returncode != 0:
        sys.exit(f"bench: {' '.join(args)} exited {p.returncode}:\n{err[-3000:]}")
    return seconds, out, err


def log_field(stderr, message, field):
    for line in stderr.splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if doc.get("message", "").startswith(message):
            return doc.get(field)
    return None


def main():
    work = tempfile.mkdtemp(prefix="vault-replicator-bench.")
    try:
        run(work)
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()
        subprocess.run(["rm", "-rf", work])


def run(work):
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
    for k in ("REPLICATOR_CONCURRENCY",):
        if k in os.environ:
            base[k] = os.environ[k]
    on_dc = {**base, "VAULT_ADDR": dc, "VAULT_TOKEN": dc_token}
    on_dr = {**base, "VAULT_ADDR": dr, "VAULT_TOKEN": dr_token}

    t = time.monotonic()
    subprocess.run([CEILING, "seed", dc, dc_token, str(N), "1", "v1"], check=True)
    seed_s = time.monotonic() - t
    rate = {}
    for mode in ("get", "put"):
        out = subprocess.run([CEILING, mode, dc, dc_token, CEILING_SECONDS, CEILING_CONCURRENCY],
                             check=True, capture_output=True, text=True)
        rate[mode] = float(out.stdout.strip())

    rows = []

    def step(name, env, args, reads_writes):
        seconds, out, err = measure([BIN] + args, env)
        reads, writes = reads_writes(out, err)
        # The tool's own VmHWM: rusage would also count this Python process from before exec.
        rss = (log_field(err, "export finished", "peak_rss_kib")
               or log_field(err, "import finished", "peak_rss_kib") or 0) / 1024
        ideal = reads / rate["get"] + writes / rate["put"]
        rows.append((name, seconds, reads, writes, rss, ideal / seconds if seconds else 0))
        return seconds

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
    step("no-op re-import", on_dr, imp, import_counts)
    changed = max(1, N // 100)
    subprocess.run([CEILING, "seed", dc, dc_token, str(N), str(N // changed), "v2"], check=True)
    time.sleep(1.1)  # a new snapshot name (names are per second)
    step("export after 1% changed", on_dc, ["export"], export_counts)
    step("import after 1% changed", on_dr, imp, import_counts)
    step("full-check re-import", on_dr, imp + ["--full-check"], import_counts)

    cpu = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    print(f"\nvault-replicator benchmark: {N} KV-v2 secrets in {max(1, N // 10)} folders, "
          f"{changed} changed for the 1% steps; {cpu} CPUs; OpenBao "
          f"{subprocess.run(['bao', 'version'], capture_output=True, text=True).stdout.split()[1]} dev "
          f"server; Garage S3; seeding took {seed_s:.1f}s")
    print(f"raw ceiling (one path, {CEILING_CONCURRENCY} keep-alive clients, {CEILING_SECONDS}s): "
          f"{rate['get']:.0f} GET/s, {rate['put']:.0f} PUT/s\n")
    print(f"{'step':<26}{'seconds':>9}{'reads':>8}{'writes':>8}{'req/secret':>12}"
          f"{'peak RSS':>10}{'of ceiling':>12}")
    for name, seconds, reads, writes, rss, ratio in rows:
        print(f"{name:<26}{seconds:>9.2f}{reads:>8}{writes:>8}{(reads + writes) / N:>12.3f}"
              f"{rss:>8.1f}Mi{ratio:>11.0%}")
    total = rows[0][1] + rows[1][1]
    ideal = sum(r[5] * r[1] for r in rows[:2])
    # What no tool can beat: each secret read once and written once, at the server's raw rates.
    floor = N / rate["get"] + N / rate["put"]
    print(f"\nexport + import into empty DR: {total:.2f}s, {ideal / total:.0%} of the raw ceiling for "
          f"the requests made; snapshot {sizes[0] / 1048576:.1f} MiB (encrypted tar.gz)")
    print(f"floor (one GET and one PUT per secret at the raw rates): {floor:.2f}s; export + import "
          f"runs at {floor / total:.0%} of it")
    print("Requests count the objects' Vault requests; the importer's bookkeeping (records, lease) "
          "and S3 traffic are not included.")


if __name__ == "__main__":
    main()
