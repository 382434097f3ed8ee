#!/usr/bin/env bash
# Single-node Garage (S3) on 127.0.0.1, for the demo, the benchmark and the integration tests.
#
#   garage.sh config DIR S3_PORT   write DIR/garage.toml (RPC on S3_PORT+1, admin on S3_PORT+2)
#   garage.sh setup DIR            wait for the server, apply a layout, import the access key
#   garage.sh bucket DIR NAME      create a bucket the key can read and write
#   garage.sh env DIR              print the AWS_* variables that reach it
#
# The server itself is started by the caller (`garage -c DIR/garage.toml server`), so that the
# caller owns the process and stops it. The access key is fixed and only ever used on loopback.
set -euo pipefail

KEY_ID=GK0123456789abcdef01234567
KEY_SECRET=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef

cmd=${1:?usage: garage.sh config|setup|bucket|env DIR ...}
dir=${2:?DIR missing}
cfg="$dir/garage.toml"
g() { garage -c "$cfg" "$@"; }

case "$cmd" in
config)
  port=${3:?S3_PORT missing}
  mkdir -p "$dir/meta" "$dir/data"
  cat >"$cfg" <<EOF
metadata_dir = "$dir/meta"
data_dir = "$dir/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:$((port + 1))"
rpc_public_addr = "127.0.0.1:$((port + 1))"
rpc_secret = "$(printf '%064d' 0 | tr 0 7)"

[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:$port"
root_domain = ".s3.garage.localhost"

[admin]
api_bind_addr = "127.0.0.1:$((port + 2))"
EOF
  echo "$port" >"$dir/s3_port"
  ;;
setup)
  for _ in $(seq 1 100); do
    g status >/dev/null 2>&1 && break
    sleep 0.1
  done
  node=$(g node id -q 2>/dev/null | cut -c1-64)
  g layout assign -z dc1 -c 1G "$node" >/dev/null
  g layout apply --version 1 >/dev/null
  g key import --yes -n replicator "$KEY_ID" "$KEY_SECRET" >/dev/null
  ;;
bucket)
  name=${3:?NAME missing}
  g bucket create "$name" >/dev/null
  g bucket allow --read --write --owner "$name" --key replicator >/dev/null
  ;;
env)
  echo "AWS_ENDPOINT_URL=http://127.0.0.1:$(cat "$dir/s3_port")"
  echo "AWS_REGION=garage"
  echo "AWS_ACCESS_KEY_ID=$KEY_ID"
  echo "AWS_SECRET_ACCESS_KEY=$KEY_SECRET"
  ;;
*)
  echo "garage.sh: unknown command $cmd" >&2
  exit 2
  ;;
esac
