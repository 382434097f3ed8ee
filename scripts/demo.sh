#!/usr/bin/env bash
# The whole flow on one machine: a "DC" and a "DR" OpenBao dev server and a Garage S3 server on
# loopback. Seeds sample data on DC, exports it to Garage, imports it on DR, compares the two,
# then imports again to show that a repeated import writes nothing.
set -euo pipefail
export PATH="$HOME/.cargo/bin:$HOME/.local/bin:$PATH"
here=$(cd "$(dirname "$0")" && pwd)
bin="$here/../target/release/vault-replicator"
work=$(mktemp -d /tmp/vault-replicator-demo.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The first of a run of free ports: bao -dev binds API+1 (cluster), Garage binds S3+1 and S3+2.
free_ports() {
  python3 - "$1" <<'PY'
import random, socket, sys
n = int(sys.argv[1])
for _ in range(1000):
    base = random.randrange(20000, 32000)
    try:
        socks = []
        for p in range(base, base + n):
            s = socket.socket(); s.bind(("127.0.0.1", p)); socks.append(s)
        print(base); break
    except OSError:
        pass
    finally:
        for s in socks: s.close()
PY
}
wait_healthy() {
  for _ in $(seq 1 100); do
    curl -fsS "$1/v1/sys/health" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "demo: $1 did not come up" >&2
  return 1
}
start_bao() { # name port
  bao server -dev -dev-no-store-token -dev-root-token-id="demo-root-$1" \
    -dev-listen-address="127.0.0.1:$2" >"$work/$1.log" 2>&1 &
  pids+=($!)
  wait_healthy "http://127.0.0.1:$2"
}

base=$(free_ports 7)
dc_port=$base; dr_port=$((base + 2)); s3_port=$((base + 4))
echo "== Starting DC (127.0.0.1:$dc_port) and DR (127.0.0.1:$dr_port) OpenBao dev servers, Garage S3 (127.0.0.1:$s3_port)"
start_bao dc "$dc_port"
start_bao dr "$dr_port"
bash "$here/garage.sh" config "$work/garage" "$s3_port"
garage -c "$work/garage/garage.toml" server >"$work/garage.log" 2>&1 &
pids+=($!)
bash "$here/garage.sh" setup "$work/garage"
bash "$here/garage.sh" bucket "$work/garage" vault-snapshots
set -a; eval "$(bash "$here/garage.sh" env "$work/garage")"; set +a

dc() { BAO_ADDR="http://127.0.0.1:$dc_port" BAO_TOKEN=demo-root-dc bao "$@"; }
echo "== Seeding DC: policies, a second KV-v2 mount, secrets with awkward names"
dc secrets enable -path=apps -version=2 kv >/dev/null
dc policy write app-read - >/dev/null <<'EOF'
path "apps/data/*" { capabilities = ["read"] }
EOF
dc policy write ops-admin - >/dev/null <<'EOF'
path "secret/*" { capabilities = ["create", "read", "update", "delete", "list"] }
EOF
dc kv put -mount=secret db/postgres username=app password=demo-pw-1 >/dev/null
dc kv put -mount=secret "team a/api key" value=demo-key-2 >/dev/null
dc kv put -mount=secret "ünïcødé/q?#%" value=demo-3 >/dev/null
dc kv put -mount=secret db value=a-key-that-is-also-a-folder >/dev/null
for i in $(seq 1 20); do dc kv put -mount=apps "svc-$i/config" port=$((8000 + i)) token="demo-tok-$i" >/dev/null; done

export REPLICATOR_STORE="s3://vault-snapshots/dc" REPLICATOR_LOG_FORMAT=text RUST_LOG=warn
echo "== Keys: an age identity (DR only) and a signing key pair (secret half on DC only)"
"$bin" keygen --dir "$work/keys"
# The exporter gets the public recipient and the signing key; the importer the identity and the
# verify key. Neither side holds the other's secret.
dc_keys=(REPLICATOR_AGE_RECIPIENTS="$(cat "$work/keys/age.pub")" REPLICATOR_SIGNING_KEY_FILE="$work/keys/signing.key")
dr_keys=(REPLICATOR_AGE_IDENTITY_FILE="$work/keys/age.key" REPLICATOR_VERIFY_KEY="$work/keys/signing.pub")
on_dc() { env "${dc_keys[@]}" VAULT_ADDR="http://127.0.0.1:$dc_port" VAULT_TOKEN=demo-root-dc "$bin" "$@"; }
on_dr() { env "${dr_keys[@]}" VAULT_ADDR="http://127.0.0.1:$dr_port" VAULT_TOKEN=demo-root-dr "$bin" "$@"; }
echo "== Export on DC (encrypted to DR's recipient, signed)"
on_dc export
"$bin" list
echo "== Verify the latest snapshot on DR (signature, decryption, every entry)"
on_dr verify
echo "== Import on DR (dry run first)"
on_dr import --dry-run | grep -v -E '^\+ create +kv_secret'
echo "   (one '+ create kv_secret' line per secret left out)"
echo "== Import on DR"
on_dr import
echo "== Comparing DC and DR through the API"
python3 "$here/compare.py" "http://127.0.0.1:$dc_port" demo-root-dc "http://127.0.0.1:$dr_port" demo-root-dr
echo "== Import on DR again: nothing to write"
on_dr import
